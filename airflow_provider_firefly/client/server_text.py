"""Reading what servers write: error bodies, ``retry-after`` and any text shown to users.

Everything here accepts any input (an empty 429 body, HTML from a proxy, truncated or absurdly
nested JSON, control characters) and never raises; every text that leaves is folded, clipped
and has token-shaped values redacted, since a server or proxy may echo a secret back.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

__all__ = [
    "MAX_FIELD",
    "MAX_MESSAGE",
    "clip_server_text",
    "header_value",
    "parse_error_body",
    "parse_retry_after",
    "redact",
]

#: Longest server-supplied message kept.
MAX_MESSAGE = 500
#: Longest server-supplied code or id kept in an error (``error_code``, ``request_id``...).
MAX_FIELD = 120


# What must never reach a message even if a server or proxy echoes it back: JWT-shaped strings
# (IMS access tokens), the value after "Bearer", and client_secret=... form fields.
_SECRET_PATTERNS = re.compile(
    r"eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*"
    r"|(?<=[Bb]earer )[^\s\"',;]{8,}"
    r"|(?<=client_secret=)[^\s&\"',;]+"
)


def redact(text: str) -> str:
    """``text`` with token-shaped values replaced by ``***`` (for texts that servers sent)."""
    return _SECRET_PATTERNS.sub("***", text)


def _clip(text: str) -> str:
    text = redact(" ".join(text.split()))
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def clip_server_text(value: object, limit: int = MAX_MESSAGE) -> str | None:
    """A server-supplied text made safe to show: whitespace and control characters folded,
    token-shaped values redacted, clipped to ``limit`` characters. None stays None."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    text = "".join(c if c.isprintable() else " " for c in text[: limit * 4])
    text = redact(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _location(value: Any) -> list[Any]:
    """A validation error's ``loc``: at most 10 parts, each an int or a clipped text."""
    if not isinstance(value, list):
        return []
    return [
        p if isinstance(p, int) and not isinstance(p, bool) else clip_server_text(p, 60)
        for p in value[:10]
    ]


def parse_error_body(body: bytes | str | None) -> dict[str, Any]:
    """Extract ``error_code``, ``message`` and ``validation_errors`` from any error body.

    Understands Firefly's ``{"error_code", "message"}``, IMS's ``{"error",
    "error_description"}``, custom models' ``{"reason", "message"}`` and gateway bodies; an empty,
    non-JSON or malformed body gives ``{}`` or just a clipped text message. Never raises.
    """
    if body is None:
        return {}
    if isinstance(body, bytes):
        text = body[:65536].decode("utf-8", errors="replace")
    else:
        text = body[:65536]
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        # RecursionError: deeply nested JSON (``[[[[...``) from a hostile or broken proxy.
        if text.lstrip().startswith("<"):
            return {}
        return {"message": _clip(text)}
    if not isinstance(data, dict):
        return {}
    result: dict[str, Any] = {}
    code = data.get("error_code", data.get("error", data.get("reason")))
    if isinstance(code, (str, int)) and not isinstance(code, bool):
        result["error_code"] = clip_server_text(code, MAX_FIELD)
    message = data.get("message", data.get("error_description"))
    if isinstance(message, str) and message:
        result["message"] = _clip(message)
    errors = data.get("validation_errors")
    if isinstance(errors, list):
        result["validation_errors"] = [
            {
                "loc": _location(e.get("loc")),
                "msg": _clip(str(e.get("msg", ""))),
                "type": clip_server_text(e.get("type", ""), MAX_FIELD) or "",
            }
            for e in errors[:100]
            if isinstance(e, dict)
        ]
    return result


_MAX_RETRY_AFTER = 24 * 3600.0


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``retry-after`` header in seconds or as an HTTP-date.

    Adobe's spec calls it a date and its older docs a number of seconds; both are seen. Returns
    None for an absent or unreadable value, 0 for a date in the past. Never raises.
    """
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > 64:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            return None
        return min(max(seconds, 0.0), _MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    try:
        delta = when.timestamp() - (time.time() if now is None else now)
    except (OverflowError, OSError, ValueError):
        return None
    return min(max(delta, 0.0), _MAX_RETRY_AFTER)


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for key, item in headers.items():
            if key.lower() == lowered:
                return item
    return value
