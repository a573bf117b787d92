"""Response helpers shared by the route handlers."""

from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

JSON = "application/json"
UNSAFE_MESSAGE = "The prompt did not pass content policy checks."


def request_id() -> str:
    return str(uuid.uuid4())


def request_media_type(request: Request) -> str:
    """The request's ``Content-Type`` without parameters, lower-case (``""`` when absent)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    return Response(data, status_code=status, headers=headers, media_type=JSON)


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response(status, {"error_code": code, "message": message}, headers)


def html_413() -> Response:
    body = (
        "<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n"
        "<center><h1>413 Request Entity Too Large</h1></center>\r\n</body>\r\n</html>\r\n"
    )
    return Response(body, status_code=413, media_type="text/html")


def gateway_401() -> Response:
    return json_response(401, {"error_code": "401013", "message": "Oauth token is not valid"})
