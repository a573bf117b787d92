"""The Firefly/IMS emulator of the cluster tests, in the test process, one organisation per
connection, counting what its own counters cannot tell apart: IMS tokens and Firefly requests
(and their 429 answers) per organisation."""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Client", "ClusterEmulator", "organisation_emulator"]


@dataclass
class Client:
    conn_id: str
    client_id: str
    client_secret: str


@dataclass
class ClusterEmulator:
    """The in-process emulator, one client (organisation) per connection id, and every token
    it issued (to count IMS tokens per organisation)."""

    emu: Any
    clients: dict[str, Client]
    issued: list[tuple[str, float]] = field(default_factory=list)  # (client id, time)
    #: Firefly requests (every route the organisation's rate limit counts) and 429 answers,
    #: per client id: the emulator's own counters mix every organisation.
    requests: Counter[str] = field(default_factory=Counter)
    limited: Counter[str] = field(default_factory=Counter)

    def requests_for(self, conn_id: str) -> tuple[int, int]:
        """(requests, of which answered 429) of one organisation so far."""
        cid = self.clients[conn_id].client_id
        return self.requests[cid], self.limited[cid]

    def tokens_for(self, conn_id: str) -> list[float]:
        cid = self.clients[conn_id].client_id
        return [t for c, t in self.issued if c == cid]

    def jobs_for(self, conn_id: str) -> list[dict[str, Any]]:
        cid = self.clients[conn_id].client_id
        return [j for j in self.emu.jobs() if j.get("clientId") == cid]


@contextlib.contextmanager
def organisation_emulator(
    connections: tuple[str, ...], **options: Any
) -> Iterator[ClusterEmulator]:
    """The emulator, started, with one client (organisation) per connection id."""
    from airflow_provider_firefly.testing import FireflyEmulator

    tag = secrets.token_hex(4)
    clients = {
        conn: Client(conn, f"{conn}-{tag}", f"secret-{secrets.token_urlsafe(18)}")
        for conn in connections
    }
    first, *rest = clients.values()
    emu = FireflyEmulator(
        first.client_id,
        first.client_secret,
        extra_clients={c.client_id: c.client_secret for c in rest},
        **options,
    )
    state = ClusterEmulator(emu, clients)
    authority = emu.state.authority
    original_issue = authority.issue
    lock = threading.Lock()

    def recording_issue(*args: Any, **kwargs: Any) -> str:
        token = original_issue(*args, **kwargs)
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        with lock:
            state.issued.append((str(claims["client_id"]), time.time()))
        return token

    authority.issue = recording_issue  # this emulator only
    limiter = emu.state.ratelimiter
    original_hit = limiter.hit

    def counting_hit(org: str, limit: int, window: float) -> float | None:
        wait: float | None = original_hit(org, limit, window)
        with lock:
            state.requests[org] += 1
            if wait is not None:
                state.limited[org] += 1
        return wait

    limiter.hit = counting_hit
    emu.start()
    try:
        yield state
    finally:
        emu.stop()
