"""Turn a :class:`~.scripts.ScriptedResponse` into an HTTP reply.

Huge or slow bodies (``filler_bytes``, ``gzip``, ``drip``) are generated while they are sent,
never held in memory: 64 MiB of filler compressed on the fly costs a 1 MiB buffer. Streaming
replies go through Starlette's ``StreamingResponse``, which stops the generator (and so a
drip's sleep) as soon as the client disconnects.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any

from starlette.responses import Response, StreamingResponse

from .scripts import ScriptedResponse, merge_patch

#: Size of the filler pieces handed to the socket (and to the compressor).
FILLER_CHUNK = 1024 * 1024
_SPACES = b" " * FILLER_CHUNK
#: zlib ``wbits`` for a gzip container (header + trailer) rather than raw deflate.
_GZIP_WBITS = 16 + zlib.MAX_WBITS

Headers = list[tuple[str, str]]
Body = bytes | AsyncIterable[str | bytes | memoryview]


def _override(base: Headers, extra: dict[str, str]) -> Headers:
    """``base`` with every header named in ``extra`` replaced by ``extra``'s value."""
    names = {k.lower() for k in extra}
    return [(k, v) for k, v in base if k.lower() not in names] + list(extra.items())


def _without(headers: Headers, *names: str) -> Headers:
    return [(k, v) for k, v in headers if k.lower() not in names]


def _header(headers: Headers, name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


def _pure_body(script: ScriptedResponse) -> tuple[bytes, Headers]:
    """Body bytes and default content type of a reply that never reached a handler."""
    if script.raw_body is not None:
        return script.raw_body, [("content-type", "application/octet-stream")]
    body = script.body
    if body is None:
        return b"", []
    if isinstance(body, (bytes, str)):
        data = body.encode() if isinstance(body, str) else body
        return data, [("content-type", "text/plain; charset=utf-8")]
    return json.dumps(body).encode(), [("content-type", "application/json")]


def _processed_body(response: Response, script: ScriptedResponse) -> tuple[Body, Headers]:
    """Body and headers of the handler's reply, merge-patched when it is JSON."""
    headers = _raw(response)
    if isinstance(response, StreamingResponse):
        return response.body_iterator, headers
    body = bytes(response.body)
    ctype = (_header(headers, "content-type") or "").split(";")[0].strip().lower()
    if script.merge_patch is not None and ctype.endswith("json") and body:
        try:
            document: Any = json.loads(body)
        except ValueError:
            return body, headers  # not JSON after all: nothing to patch
        body = json.dumps(merge_patch(document, script.merge_patch)).encode()
    return body, _without(headers, "content-length")


async def _chunks(head: Body, filler: int) -> AsyncIterator[bytes]:
    if isinstance(head, bytes):
        if head:
            yield head
    else:
        async for chunk in head:
            yield chunk.encode() if isinstance(chunk, str) else bytes(chunk)
    left = filler
    while left > 0:
        n = min(left, FILLER_CHUNK)
        yield _SPACES if n == FILLER_CHUNK else _SPACES[:n]
        left -= n


async def _gzipped(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    comp = zlib.compressobj(9, zlib.DEFLATED, _GZIP_WBITS)
    async for chunk in stream:
        out = comp.compress(chunk)
        if out:
            yield out
    yield comp.flush()


async def _dripped(
    stream: AsyncIterator[bytes], pause: float, size: int, on_abort: Callable[[], None]
) -> AsyncIterator[bytes]:
    first = True
    try:
        async for chunk in stream:
            view = memoryview(chunk)
            for start in range(0, len(view), size):
                if not first:
                    await asyncio.sleep(pause)
                first = False
                yield bytes(view[start : start + size])
    except asyncio.CancelledError:
        # Starlette cancels the stream when the client goes away (or the server stops).
        on_abort()
        raise


def _length(head: Body, headers: Headers, filler: int) -> str | None:
    """Content-Length of (head + filler) when it is known before sending."""
    if isinstance(head, bytes):
        return str(len(head) + filler)
    declared = _header(headers, "content-length")
    if declared is not None and declared.isdigit():
        return str(int(declared) + filler)
    return None


def build_reply(
    script: ScriptedResponse,
    processed: Response | None = None,
    method: str = "GET",
    on_abort: Callable[[], None] = lambda: None,
) -> Response:
    """The reply for ``script``; ``processed`` is the handler's own reply (``process`` or
    ``merge_patch``), whose status and headers are kept unless the script names them.
    ``on_abort`` runs when a dripping body is cut short (client gone, server stopping)."""
    body: Body
    if processed is None:
        body, headers = _pure_body(script)
        status = 200 if script.status is None else script.status
    elif method == "HEAD":  # headers only: the handler already declared the length
        processed.status_code = processed.status_code if script.status is None else script.status
        return _response(processed, _override(_raw(processed), script.headers))
    else:
        body, headers = _processed_body(processed, script)
        status = processed.status_code if script.status is None else script.status
    if not script.streams and isinstance(body, bytes):
        if _may_have_body(status):
            headers = [*_without(headers, "content-length"), ("content-length", str(len(body)))]
        return _response(Response(body, status_code=status), _override(headers, script.headers))
    length = None if script.gzip else _length(body, headers, script.filler_bytes)
    headers = _without(headers, "content-length", "content-encoding")
    if length is not None and _may_have_body(status):
        headers.append(("content-length", length))
    stream = _chunks(body, script.filler_bytes)
    if script.gzip:
        stream = _gzipped(stream)
        headers.append(("content-encoding", "gzip"))
    if script.drip > 0:
        stream = _dripped(stream, script.drip, script.drip_bytes, on_abort)
    return _response(StreamingResponse(stream, status), _override(headers, script.headers))


def _may_have_body(status: int) -> bool:
    return status >= 200 and status not in (204, 304)


def _raw(response: Response) -> Headers:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers]


def _encode(headers: Headers) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]


def _response(response: Response, headers: Headers) -> Response:
    response.raw_headers = _encode(headers)
    return response
