"""What both transports share: the response and result types, the one way a request is
prepared, and the body bounds of a reply (see :mod:`.limits`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_firefly.client.errors import error_from_response
from airflow_provider_firefly.client.limits import (
    ACCEPT_ENCODING,
    MAX_ERROR_BODY_BYTES,
    MAX_JSON_BYTES,
    BoundedBody,
    Deadline,
    decode_json,
)

__all__ = [
    "HttpResponse",
    "Outgoing",
    "StreamResult",
    "body_for",
    "check_response",
    "describe_url",
    "outgoing",
]


def describe_url(url: str) -> str:
    """``host[:port]/path`` without scheme, query or fragment: safe to log."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return f"{netloc}{parts.path}"


@dataclass(frozen=True)
class HttpResponse:
    """A finished response, independent of the HTTP library that fetched it."""

    status: int
    headers: Mapping[str, str]
    content: bytes
    url: str

    def json(self) -> Any:
        """The body as JSON; a :class:`FireflyError` (never a ``ValueError`` or
        ``RecursionError``) if it is not JSON or is nested absurdly deep."""
        return decode_json(
            self.content,
            subject=describe_url(self.url),
            status=self.status,
            request_id=self.headers.get("x-request-id"),
        )

    @property
    def request_id(self) -> str | None:
        return self.headers.get("x-request-id")


@dataclass(frozen=True)
class StreamResult:
    """What a streamed download wrote."""

    bytes_written: int
    content_type: str | None


def check_response(status: int, headers: Mapping[str, str], body: bytes, subject: str) -> None:
    """Raise the typed error for a 4xx/5xx status."""
    if status >= 400:
        raise error_from_response(status, headers, body, subject=subject)


@dataclass(frozen=True)
class Outgoing:
    """A request as both transports send it: label, headers and body bytes."""

    subject: str
    headers: dict[str, str]
    data: bytes | None


def outgoing(
    user_agent: str,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None,
    json_body: Any,
    content: bytes | None,
    subject: str | None,
) -> Outgoing:
    sent = {
        "User-Agent": user_agent,
        "Accept": "application/json",
        "Accept-Encoding": ACCEPT_ENCODING,
    }
    sent.update(headers or {})
    data = content
    if json_body is not None:
        sent.setdefault("Content-Type", "application/json")
        data = json.dumps(json_body, separators=(",", ":")).encode()
    return Outgoing(subject or f"{method} {describe_url(url)}", sent, data)


def body_for(status: int, deadline: Deadline, subject: str) -> BoundedBody:
    """JSON replies are kept up to the JSON cap; an error body is cut to what is parsed."""
    if status >= 400:
        return BoundedBody(MAX_ERROR_BODY_BYTES, deadline, subject, truncate=True)
    return BoundedBody(MAX_JSON_BYTES, deadline, subject)
