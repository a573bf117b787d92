"""``GET``/``HEAD /outputs/{outputId}``: presigned-style output downloads (S3 look-alike)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .flat_images import JPEG, WEBP, JpegImage, WebpImage
from .media import PngImage, mp4_video
from .outputs import s3_error_xml
from .responses import request_id
from .state import EmulatorState


class EncodedImage(Protocol):
    """What every image encoder offers: the exact size up front, then the bytes in pieces."""

    @property
    def size(self) -> int: ...

    def iter_bytes(self, chunk_size: int = ...) -> Iterator[bytes]: ...


#: Streamable image encoders by served media type; PNG for anything else.
IMAGE_ENCODERS: dict[str, Callable[[int, int, int, int], EncodedImage]] = {
    JPEG: JpegImage,
    WEBP: WebpImage,
}


async def output(state: EmulatorState, request: Request, name: str) -> Response:
    state.counters.inc("output_requests")
    if request.headers.get("authorization") or request.headers.get("x-api-key"):
        state.counters.inc("authorization_sent_to_outputs")
    rid = request_id()
    path = request.url.path
    problem = state.outputs.check(path, dict(request.query_params))
    xml = "application/xml"
    if problem is not None:
        code, _, detail = problem.partition(":")
        if detail == "expired":
            msg = "Request has expired"
            extra = {"X-Amz-Expires": request.query_params.get("X-Amz-Expires", "")}
        elif code == "SignatureDoesNotMatch":
            msg = "The request signature we calculated does not match the signature you provided."
            extra = {}
        else:
            msg = "Access Denied"
            extra = {}
        return Response(s3_error_xml(code, msg, rid, extra), status_code=403, media_type=xml)
    output_id = name.rsplit(".", 1)[0]
    stored = state.outputs.get(output_id)
    if stored is None:
        return Response(
            s3_error_xml("NoSuchKey", "The specified key does not exist.", rid), 404, media_type=xml
        )
    state.counters.inc("output_downloads")
    plan = stored.plan
    headers = {"x-amz-request-id": rid, "etag": f'"{output_id}"', "accept-ranges": "none"}
    if plan.kind == "video":
        data = await anyio.to_thread.run_sync(
            mp4_video, plan.width, plan.height, plan.seed, stored.video_seconds
        )
        headers["content-length"] = str(len(data))
        if request.method == "HEAD":
            return Response(b"", 200, headers=headers, media_type=stored.media_type)
        return Response(data, 200, headers=headers, media_type=stored.media_type)
    encoder: Callable[[int, int, int, int], EncodedImage] = IMAGE_ENCODERS.get(
        plan.media_type, PngImage
    )
    image = await anyio.to_thread.run_sync(
        encoder, plan.width, plan.height, plan.seed, stored.padding
    )
    headers["content-length"] = str(image.size)
    if request.method == "HEAD":
        return Response(b"", 200, headers=headers, media_type=stored.media_type)
    return StreamingResponse(image.iter_bytes(), 200, headers=headers, media_type=stored.media_type)
