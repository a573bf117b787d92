"""The request log: the recent requests as the emulator saw them, secrets fingerprinted."""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from collections.abc import Iterable
from typing import Any

#: How many requests are kept (oldest dropped first).
REQUEST_LOG_SIZE = 2000

#: Headers whose values are never stored: they become ``fp:<sha256 prefix>``.
SECRET_HEADERS = frozenset({"authorization", "cookie", "x-user-token", "x-api-key"})


def header_fingerprint(value: str) -> str:
    """``"fp:" + sha256(value)[:12]``: lets a test compare values without storing them."""
    return "fp:" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:12]


class RequestLog:
    """A bounded, thread-safe log of ``{"method", "path", "query", "headers", "route"}``."""

    def __init__(self, size: int = REQUEST_LOG_SIZE) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)
        self._lock = threading.Lock()

    def record(
        self,
        method: str,
        path: str,
        query: bytes | str,
        headers: Iterable[tuple[str, str]],
        route: str | None,
    ) -> None:
        seen: dict[str, str] = {}
        for name, value in headers:
            lname = name.lower()
            # Repeated headers are joined as HTTP allows, before fingerprinting.
            seen[lname] = f"{seen[lname]}, {value}" if lname in seen else value
        for lname in SECRET_HEADERS & seen.keys():
            seen[lname] = header_fingerprint(seen[lname])
        entry = {
            "method": method,
            "path": path,
            "query": bool(query),
            "headers": seen,
            "route": route,
        }
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        """Oldest first; copies, so callers may keep or change them."""
        with self._lock:
            return [dict(e, headers=dict(e["headers"])) for e in self._entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
