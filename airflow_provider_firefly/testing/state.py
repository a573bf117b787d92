"""Shared mutable state of one emulator: config, tokens, jobs, uploads, counters, scripts."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from .config import EmulatorConfig
from .ims import TokenAuthority, fingerprint
from .jobs import JobStore
from .outputs import OutputStore
from .ratelimit import RateLimiter

#: Headers whose values are secrets: replaced by a fingerprint in counters.
_SECRET_HEADERS = {"authorization", "x-user-token", "cookie"}


@dataclass
class Upload:
    upload_id: str
    client_id: str
    content_type: str
    size: int
    dimensions: tuple[int, int] | None
    created: float


@dataclass
class ScriptedResponse:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0
    drop: bool = False
    #: Handle the request normally (e.g. accept the job), then apply ``delay``/``drop``.
    process: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScriptedResponse:
        allowed = {"status", "headers", "body", "delay", "drop", "process"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown scripted-response field(s): {sorted(unknown)}")
        return cls(
            status=int(data.get("status", 200)),
            headers={str(k): str(v) for k, v in (data.get("headers") or {}).items()},
            body=data.get("body"),
            delay=float(data.get("delay", 0.0)),
            drop=bool(data.get("drop", False)),
            process=bool(data.get("process", False)),
        )


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
                    return queue.popleft()
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


class Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with getattr(self, "_lock", threading.Lock()):
            self.values: Counter[str] = Counter()
            self.by_route: Counter[str] = Counter()
            self.by_route_status: dict[str, Counter[str]] = {}
            self.last_headers: dict[str, dict[str, str]] = {}

    def request(self, route: str, headers: list[tuple[str, str]]) -> None:
        seen: dict[str, str] = {}
        for name, raw in headers:
            lname = name.lower()
            value = raw
            if lname in _SECRET_HEADERS:
                scheme, _, token = raw.partition(" ")
                value = f"{scheme} {fingerprint(token)}" if token else fingerprint(raw)
            seen[lname] = value
        with self._lock:
            self.by_route[route] += 1
            self.last_headers[route] = seen

    def response(self, route: str, status: int) -> None:
        with self._lock:
            self.by_route_status.setdefault(route, Counter())[str(status)] += 1

    def inc(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.values[name] += n

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            names = (
                "ims_token_requests",
                "ims_tokens_issued",
                "jobs_submitted",
                "jobs_cancelled",
                "status_polls",
                "output_requests",
                "output_downloads",
                "authorization_sent_to_outputs",
                "rate_limited",
                "uploads",
                "scripted_responses",
                "dropped_connections",
                "validation_errors",
                "content_policy_rejections",
            )
            out: dict[str, Any] = {name: self.values.get(name, 0) for name in names}
            out.update({k: v for k, v in self.values.items() if k not in out})
            out["requests_by_route"] = dict(self.by_route)
            out["responses_by_route"] = {k: dict(v) for k, v in self.by_route_status.items()}
            out["last_headers"] = {k: dict(v) for k, v in self.last_headers.items()}
            return out


class EmulatorState:
    def __init__(self, config: EmulatorConfig) -> None:
        self.initial_config = config.copy()
        self.config = config
        self.authority = TokenAuthority()
        self.jobs = JobStore()
        self.outputs = OutputStore()
        self.ratelimiter = RateLimiter()
        self.scripts = ScriptBook()
        self.counters = Counters()
        self.uploads: dict[str, Upload] = {}
        self.lock = threading.Lock()
        #: Set by the server once the sockets are bound.
        self.base_url = ""
        self.status_listener_url: str | None = None
        self.own_hosts: set[str] = {"127.0.0.1", "localhost"}

    # URLs ------------------------------------------------------------------------------------
    @property
    def status_base(self) -> str:
        return self.config.status_base_url or self.status_listener_url or self.base_url

    @property
    def output_base(self) -> str:
        return self.config.output_base_url or self.base_url

    # uploads ---------------------------------------------------------------------------------
    def upload_exists(self, upload_id: str) -> bool:
        with self.lock:
            up = self.uploads.get(upload_id)
        return up is not None and time.time() - up.created < 7 * 86400

    def reset(self) -> None:
        """Forget jobs, uploads, outputs, counters, scripts and rate-limit windows, and put the
        options back to their values at construction. Tokens and revocations are kept, so a
        client's cached token stays valid across a reset."""
        self.config.update(**vars(self.initial_config.copy()))
        self.jobs.clear()
        self.outputs.clear()
        self.ratelimiter.clear()
        self.scripts.clear()
        self.counters.reset()
        with self.lock:
            self.uploads.clear()
