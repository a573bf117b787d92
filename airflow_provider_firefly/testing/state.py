"""Shared mutable state of one emulator: config, tokens, jobs, uploads, counters, scripts."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .config import EmulatorConfig
from .ims import TokenAuthority, fingerprint
from .jobs import JobStore
from .outputs import OutputStore
from .ratelimit import RateLimiter
from .requestlog import RequestLog
from .scripts import ScriptBook, ScriptedResponse, normalise_route

__all__ = [
    "Counters",
    "EmulatorState",
    "ScriptBook",
    "ScriptedResponse",
    "Upload",
    "normalise_route",
]

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
        self.requests = RequestLog()
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
        """Forget jobs, uploads, outputs, counters, the request log, scripts and rate-limit
        windows, and put the options back to their values at construction. Tokens and
        revocations are kept, so a client's cached token stays valid across a reset."""
        self.config.update(**vars(self.initial_config.copy()))
        self.jobs.clear()
        self.outputs.clear()
        self.ratelimiter.clear()
        self.scripts.clear()
        self.counters.reset()
        self.requests.clear()
        with self.lock:
            self.uploads.clear()
