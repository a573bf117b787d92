"""``POST /v2/storage/image``: raw-body uploads, kept 7 days."""

from __future__ import annotations

import time
import uuid

from starlette.requests import Request
from starlette.responses import Response

from .ims import TokenInfo
from .media import png_dimensions
from .responses import error, html_413, json_response, request_media_type
from .state import EmulatorState, Upload

UPLOAD_CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp", "image/tiff", "image/jxl")


async def upload(state: EmulatorState, request: Request, token: TokenInfo) -> Response:
    mtype = request_media_type(request)
    if mtype not in UPLOAD_CONTENT_TYPES:
        return error(
            415,
            "invalid_content_type",
            f"Content-Type must be one of {', '.join(UPLOAD_CONTENT_TYPES)}; "
            f"got {mtype or 'none'}.",
        )
    limit = state.config.upload_max_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return html_413()
    size = 0
    head = b""
    async for chunk in request.stream():
        size += len(chunk)
        if len(head) < 64:
            head += chunk[: 64 - len(head)]
        if size > limit:
            return html_413()
    if size == 0:
        return json_response(
            400, {"error_code": "empty_input_body", "message": "Request body is empty."}
        )
    up = Upload(str(uuid.uuid4()), token.client_id, mtype, size, png_dimensions(head), time.time())
    with state.lock:
        state.uploads[up.upload_id] = up
    state.counters.inc("uploads")
    return json_response(200, {"images": [{"id": up.upload_id}]})
