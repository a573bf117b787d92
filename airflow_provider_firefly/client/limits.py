"""Every bound the client puts on what a server may send, and the one request-rate rule.

A Firefly or IMS reply is untrusted: it may be huge, nested a million levels deep, trickle
one byte a second or never end. The numbers below are the limits; :class:`Deadline` and
:class:`BoundedBody` apply them while a body is read (by the sync and the async transport
alike), and :func:`decode_json` turns a body into JSON or a :class:`FireflyError`.
"""

from __future__ import annotations

import json
import math
import time
import zlib
from collections.abc import Iterator
from typing import Any

from airflow_provider_firefly.client.errors import FireflyError, FireflyTimeoutError

__all__ = [
    "ACCEPT_ENCODING",
    "ADOBE_DEFAULT_REQUESTS_PER_MINUTE",
    "DEFAULT_MAX_OUTPUT_BYTES",
    "DEFAULT_PAUSE_SECONDS",
    "DEFAULT_REQUEST_DEADLINE",
    "MAX_ERROR_BODY_BYTES",
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_MODEL_PAGES",
    "MAX_REDIRECTS",
    "MAX_UPLOAD_BYTES",
    "MAX_UPLOAD_TEXT",
    "SPACING_MARGIN",
    "BoundedBody",
    "Deadline",
    "Inflater",
    "decode_json",
    "is_positive_number",
    "is_real_number",
    "request_spacing",
    "upload_too_large_message",
]

#: Firefly's upload limit, "15 MB" as Adobe writes it: decimal megabytes, not MiB.
MAX_UPLOAD_BYTES = 15_000_000
#: The upload limit as every message writes it ("15 MB").
MAX_UPLOAD_TEXT = f"{MAX_UPLOAD_BYTES / 1e6:g} MB"
#: Largest JSON reply read into memory. Firefly's replies are a few KiB; a custom-model page
#: of 50 entries is well under 1 MiB.
MAX_JSON_BYTES = 16 * 1024 * 1024
#: An error body is only parsed for its first 64 KiB (see ``errors.parse_error_body``).
MAX_ERROR_BODY_BYTES = 64 * 1024
#: Deepest JSON nesting accepted. Firefly's deepest reply (a job result) is about 6 levels;
#: a bound far below the interpreter's recursion limit keeps every later ``asdict``, ``repr``
#: or ``json.dumps`` of a parsed value from overflowing the stack.
MAX_JSON_DEPTH = 64
#: Default cap of one saved output, counted on decoded bytes (a gzip bomb counts in full).
#: Firefly's largest outputs (videos, 4x upscales) are tens of MB.
DEFAULT_MAX_OUTPUT_BYTES = 2 * 1024**3
#: Redirects followed by one download; presigned URLs are not redirected in practice.
MAX_REDIRECTS = 3
#: Pages of custom models fetched at most (50 per page: 10,000 models).
MAX_MODEL_PAGES = 200
#: Default total seconds one request attempt may take, body included (``request_deadline``).
DEFAULT_REQUEST_DEADLINE = 300  # an int, so the connection form shows "300"
#: Pause of a request budget (or a synchronous wait) after a 429 without a usable
#: ``retry-after``.
DEFAULT_PAUSE_SECONDS = 10.0
#: An organisation's Firefly request budget unless Adobe raised it (the connection's
#: ``requests_per_minute`` when left empty for an Adobe endpoint).
ADOBE_DEFAULT_REQUESTS_PER_MINUTE = 4.0
#: Requests are spaced this much wider than ``60 / requests_per_minute`` so that network
#: jitter never lets ``requests_per_minute + 1`` requests land inside one sliding minute.
SPACING_MARGIN = 0.02


def is_real_number(value: object) -> bool:
    """An ``int`` or ``float`` that is not NaN; ``True``/``False`` are not numbers here."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return not math.isnan(value)


def is_positive_number(value: object) -> bool:
    """The package's one test of a positive setting (a rate, a timeout, an interval): a finite
    number above 0, ``bool`` excluded. Callers word their own error, naming their field."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) and value > 0


def request_spacing(requests_per_minute: float | None) -> float:
    """Seconds between two requests that keep under ``requests_per_minute`` (0: no limit).

    The one rate rule of the package: the trigger's shared budget and the synchronous poll
    schedule both space requests by it.
    """
    if requests_per_minute is None:
        return 0.0
    if not is_positive_number(requests_per_minute):
        raise ValueError(
            f"requests_per_minute must be a positive number, got {requests_per_minute!r}"
        )
    return 60.0 / float(requests_per_minute) * (1.0 + SPACING_MARGIN)


def upload_too_large_message(size: int, subject: str = "image") -> str:
    """The one wording of the upload limit, in Adobe's decimal MB."""
    return (
        f"{subject} is {size / 1e6:.1f} MB ({size:,} bytes); Firefly accepts uploads up to "
        f"{MAX_UPLOAD_TEXT} ({MAX_UPLOAD_BYTES:,} bytes)"
    )


class Deadline:
    """A total time limit for one request attempt, on the monotonic clock.

    :param seconds: the limit; None means no limit.
    :param subject: the request, for the error message.
    """

    def __init__(self, seconds: float | None, subject: str) -> None:
        self.seconds = seconds
        self.subject = subject
        self.expires_at = None if seconds is None else time.monotonic() + seconds

    def remaining(self) -> float | None:
        """Seconds left (never negative), or None without a limit."""
        if self.expires_at is None:
            return None
        return max(0.0, self.expires_at - time.monotonic())

    def expired_error(self) -> FireflyTimeoutError:
        return FireflyTimeoutError(
            f"{self.subject}: no complete response within {self.seconds or 0:g} s (the "
            "connection's request_deadline); the server is too slow or stalled"
        )

    def check(self) -> None:
        """Raise :class:`FireflyTimeoutError` once the deadline has passed."""
        if self.expires_at is not None and time.monotonic() >= self.expires_at:
            raise self.expired_error()


class BoundedBody:
    """Collects a reply body chunk by chunk, never holding more than ``limit`` bytes.

    The limit is checked as the bytes arrive, so a huge or endless reply costs at most
    ``limit`` bytes of memory; the deadline is checked after every chunk. Past the limit,
    :meth:`add` raises, or with ``truncate`` keeps the first ``limit`` bytes and returns False
    (an error body is only ever parsed for its beginning).
    """

    def __init__(self, limit: int, deadline: Deadline, subject: str, *, truncate: bool = False):
        self.limit = limit
        self.deadline = deadline
        self.subject = subject
        self.truncate = truncate
        self._parts: list[bytes] = []
        self.size = 0

    def add(self, chunk: bytes) -> bool:
        """Keep ``chunk``; False when the body is full and reading should stop."""
        if self.size + len(chunk) > self.limit:
            if not self.truncate:
                raise FireflyError(
                    f"{self.subject}: the reply is larger than {self.limit:,} bytes, far more "
                    "than any Firefly reply; refusing to read it (a broken proxy or a hostile "
                    "server?)"
                )
            self._parts.append(chunk[: self.limit - self.size])
            self.size = self.limit
            return False
        self.size += len(chunk)
        self._parts.append(chunk)
        self.deadline.check()
        return True

    def content(self) -> bytes:
        return b"".join(self._parts)


#: The content codings asked for, and the only ones :class:`Inflater` decodes.
ACCEPT_ENCODING = "gzip, deflate"
#: Most bytes one inflation step may produce: a gzip bomb expands a step at a time.
_INFLATE_STEP = 64 * 1024


class Inflater:
    """Decodes a ``Content-Encoding`` (gzip, deflate or none) in bounded steps.

    httpx decompresses each network chunk in one go (a 64 KiB chunk of a gzip bomb becomes
    64 MiB at once); here no step yields more than 64 KiB, so the caller's byte count stops a
    bomb before it is in memory.
    """

    def __init__(self, encoding: str | None, subject: str) -> None:
        coding = (encoding or "identity").strip().lower()
        self.subject = subject
        self._inflater: Any = None
        if coding in ("gzip", "x-gzip", "deflate"):
            # MAX_WBITS | 32: a gzip or a zlib header, whichever the server sent.
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)
        elif coding not in ("", "identity"):
            raise FireflyError(
                f"{subject}: the reply uses Content-Encoding {coding[:40]!r}, which was not asked "
                f"for ({ACCEPT_ENCODING})"
            )

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded bytes of ``data``, at most 64 KiB at a time."""
        if self._inflater is None:
            if data:
                yield data
            return
        pending = data
        while pending:
            try:
                out = self._inflater.decompress(pending, _INFLATE_STEP)
            except zlib.error:
                raise FireflyError(
                    f"{self.subject}: the reply's Content-Encoding could not be decoded"
                ) from None
            if out:
                yield out
            pending = self._inflater.unconsumed_tail


def _too_deep(value: Any) -> bool:
    # Iterative: a recursive walk would itself overflow on the documents it must refuse.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, (dict, list)))
    return False


def decode_json(
    content: bytes, *, subject: str, status: int | None = None, request_id: str | None = None
) -> Any:
    """``content`` as JSON, or a :class:`FireflyError` if it is not JSON or is nested deeper
    than :data:`MAX_JSON_DEPTH` (the parser's ``RecursionError`` included). Empty is None."""
    reason = "is not JSON"
    try:
        value = json.loads(content or b"null")
    except ValueError:
        value = None
    except RecursionError:
        reason = f"is nested deeper than {MAX_JSON_DEPTH} levels"
    else:
        if not _too_deep(value):
            return value
        reason = f"is nested deeper than {MAX_JSON_DEPTH} levels"
    shown = f"HTTP {status} with a body" if status is not None else "a body"
    raise FireflyError(
        f"{subject} answered {shown} that {reason}", status=status, request_id=request_id
    )
