"""Per-organisation sliding-window rate limiter (Adobe default: 4 requests per minute)."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from email.utils import formatdate


class RateLimiter:
    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()

    def hit(self, org: str, limit: int, window: float) -> float | None:
        """Record a request; ``None`` if allowed, else seconds until a slot frees up."""
        if limit <= 0:
            return None
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(org, deque())
            while hits and now - hits[0] >= window:
                hits.popleft()
            if len(hits) >= limit:
                return max(0.0, window - (now - hits[0]))
            hits.append(now)
            return None


def retry_after_value(wait: float, fmt: str) -> str:
    seconds = max(1, math.ceil(wait))
    if fmt == "http-date":
        return formatdate(time.time() + seconds, usegmt=True)
    return str(seconds)
