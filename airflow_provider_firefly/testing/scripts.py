"""Scripted responses: what a test queues for a route, and the per-route queues.

Pure data (no web framework): :mod:`.scripted_reply` turns a :class:`ScriptedResponse` into
bytes on the wire.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

#: Upper bound of ``filler_bytes`` (the filler is streamed; this only stops typos like 1e15).
MAX_FILLER_BYTES = 64 * 1024**3

_FIELDS = frozenset(
    {
        "status",
        "headers",
        "body",
        "body_base64",
        "filler_bytes",
        "gzip",
        "drip",
        "drip_bytes",
        "delay",
        "drop",
        "process",
        "repeat",
        "merge_patch",
    }
)


@dataclass
class ScriptedResponse:
    """One queued reply. See ``docs/emulator.md`` ("Scripted responses") for every field."""

    #: ``None`` = 200 for a pure scripted reply, the real status for a processed one.
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: JSON value, or text; ignored when ``body_base64`` is set.
    body: Any = None
    #: Raw body bytes (decoded from the ``body_base64`` field).
    raw_body: bytes | None = None
    #: ASCII spaces streamed after the body.
    filler_bytes: int = 0
    #: Compress (body + filler) on the fly and send ``Content-Encoding: gzip``.
    gzip: bool = False
    #: Seconds to sleep between chunks of ``drip_bytes`` bytes of the (encoded) body.
    drip: float = 0.0
    drip_bytes: int = 1
    delay: float = 0.0
    drop: bool = False
    #: Handle the request normally (e.g. accept the job), then apply the other fields.
    process: bool = False
    #: Answer every matching request until the route's scripts are cleared.
    repeat: bool = False
    #: RFC 7386 merge patch applied to the JSON reply of the normal handler.
    merge_patch: Any = None

    @property
    def processed(self) -> bool:
        """Whether the normal handler runs first (``process``, or any ``merge_patch``)."""
        return self.process or self.merge_patch is not None

    @property
    def streams(self) -> bool:
        """Whether the body needs the streaming path (filler, gzip or drip)."""
        return self.filler_bytes > 0 or self.gzip or self.drip > 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScriptedResponse:
        """Build from a JSON object; unknown or ill-typed fields raise ``ValueError``."""
        if not isinstance(data, dict):
            raise ValueError("a scripted response must be a JSON object")
        unknown = set(data) - _FIELDS
        if unknown:
            raise ValueError(f"unknown scripted-response field(s): {sorted(unknown)}")
        raw_body = None
        if data.get("body_base64") is not None:
            try:
                raw_body = base64.b64decode(str(data["body_base64"]), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ValueError(f"body_base64 is not valid base64: {exc}") from None
        status = data.get("status")
        filler = int(data.get("filler_bytes", 0))
        if not 0 <= filler <= MAX_FILLER_BYTES:
            raise ValueError(f"filler_bytes must be 0..{MAX_FILLER_BYTES}")
        drip_bytes = int(data.get("drip_bytes", 1))
        if drip_bytes < 1:
            raise ValueError("drip_bytes must be at least 1")
        patch = data.get("merge_patch")
        if patch is not None and not isinstance(patch, dict):
            raise ValueError("merge_patch must be a JSON object")
        return cls(
            status=None if status is None else int(status),
            headers={str(k): str(v) for k, v in (data.get("headers") or {}).items()},
            body=data.get("body"),
            raw_body=raw_body,
            filler_bytes=filler,
            gzip=bool(data.get("gzip", False)),
            drip=max(0.0, float(data.get("drip", 0.0))),
            drip_bytes=drip_bytes,
            delay=float(data.get("delay", 0.0)),
            drop=bool(data.get("drop", False)),
            process=bool(data.get("process", False)),
            repeat=bool(data.get("repeat", False)),
            merge_patch=patch,
        )


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON Merge Patch: ``null`` deletes a key, objects merge, the rest replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


ROUTE_ALIASES = {
    "GET /outputs/...": "GET /outputs/{outputId}",
    "GET /outputs/*": "GET /outputs/{outputId}",
    "GET /outputs": "GET /outputs/{outputId}",
}


def normalise_route(route: str) -> str:
    route = " ".join(route.split())
    if route == "*":
        return route
    method, _, path = route.partition(" ")
    route = f"{method.upper()} {path}"
    return ROUTE_ALIASES.get(route, route)


class ScriptBook:
    """Per-route FIFO queues; a ``repeat`` response stays at the head until cleared."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[ScriptedResponse]] = {}
        self._lock = threading.Lock()

    def add(self, route: str, responses: list[ScriptedResponse]) -> int:
        route = normalise_route(route)
        with self._lock:
            queue = self._queues.setdefault(route, deque())
            queue.extend(responses)
            return len(queue)

    def take(self, route: str) -> ScriptedResponse | None:
        with self._lock:
            for key in (route, "*"):
                queue = self._queues.get(key)
                if queue:
                    return queue[0] if queue[0].repeat else queue.popleft()
        return None

    def pending(self) -> dict[str, int]:
        with self._lock:
            return {k: len(v) for k, v in self._queues.items() if v}

    def clear(self, route: str | None = None) -> None:
        with self._lock:
            if route is None:
                self._queues.clear()
            else:
                self._queues.pop(normalise_route(route), None)
