"""A request budget shared by every job polled through one connection in one event loop.

Adobe's default budget is 4 requests per minute per organisation, status polls most likely
included. A triggerer that polls hundreds of jobs therefore has to ration requests *per
connection*, not per job. :func:`budget_for` returns one :class:`RequestBudget` per
``(event loop, key)`` (the key is the connection id), so every trigger of a triggerer process
that polls through the same connection draws from the same bucket:

* **Pacing.** A token bucket (GCRA form): at most ``requests_per_minute`` grants per minute,
  evenly spaced (``burst=1`` by default, which also fits Adobe's sliding window), granted in
  FIFO order so that no job starves.
* **Shared back-off.** A 429 seen by any one job calls :meth:`RequestBudget.pause` with its
  ``retry-after``; every job of the bucket then waits, instead of each one hammering the API
  on its own schedule.

:class:`BudgetedRetryPolicy` plugs a budget into the client's retry policy: each retry of a
5xx/network error draws from the budget too, and a 429 is *not* retried inside the client but
handed back to the caller (who pauses the bucket and polls again later).

:class:`SharedAsyncTransport` shares one ``httpx.AsyncClient`` (one connection pool, one TLS
context, one gate of :data:`MAX_IN_FLIGHT` requests) between every job polled through one
*connection* (API host and client id) in an event loop: building an ``httpx.AsyncClient``
costs about 27 ms of CPU and 0.9 MB (its TLS context), which a triggerer polling 1,000 jobs
must not pay 1,000 times, while a connection whose server hangs must not hold the slots that
the polls of other connections need.

Nothing here imports Airflow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from tenacity import AsyncRetrying, RetryCallState

from airflow_provider_firefly.client.config import HttpSettings
from airflow_provider_firefly.client.errors import FireflyServerError
from airflow_provider_firefly.client.http_clients import network_fingerprint, new_async_client
from airflow_provider_firefly.client.limits import (
    DEFAULT_PAUSE_SECONDS,
    SPACING_MARGIN,
    request_spacing,
)
from airflow_provider_firefly.client.pacing import TaskPacer
from airflow_provider_firefly.client.retry import RetryPolicy
from airflow_provider_firefly.client.transport import AsyncTransport

__all__ = [
    "DEFAULT_PAUSE_SECONDS",
    "MAX_IN_FLIGHT",
    "SPACING_MARGIN",
    "BudgetedRetryPolicy",
    "RequestBudget",
    "SharedAsyncTransport",
    "budget_for",
    "clear_budgets",
    "connection_key",
]

log = logging.getLogger("airflow_provider_firefly.client.budget")

_MAX_PAUSE = 3600.0


class RequestBudget:
    """A FIFO token bucket with a shared pause, for one connection in one event loop.

    :param requests_per_minute: the rate; None means no pacing (the shared pause still works).
    :param burst: grants allowed back to back before pacing applies (1 = evenly spaced).
    :param name: for logs (the connection id).
    :param history: how many recent grant times to keep (see :attr:`grants`), for tests and
        benchmarks.
    """

    def __init__(
        self,
        requests_per_minute: float | None = None,
        *,
        burst: int = 1,
        name: str = "",
        history: int = 4096,
    ) -> None:
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.name = name
        self.burst = burst
        self._rpm: float | None = None
        self._interval = 0.0
        self.set_rate(requests_per_minute)
        self._lock = asyncio.Lock()
        self._tat = 0.0  # theoretical arrival time of the next grant (loop clock)
        self._paused_until = 0.0  # loop clock
        self.granted = 0
        self.waited_seconds = 0.0
        self.pauses = 0
        self.grants: deque[float] = deque(maxlen=history)  # loop clock of each grant

    def __repr__(self) -> str:
        rate = "unlimited" if self._rpm is None else f"{self._rpm:g}/min"
        return f"RequestBudget({self.name!r}, {rate}, granted={self.granted}, pauses={self.pauses})"

    @property
    def requests_per_minute(self) -> float | None:
        return self._rpm

    def set_rate(self, requests_per_minute: float | None) -> None:
        """Change the rate; None removes pacing."""
        self._interval = request_spacing(requests_per_minute)  # raises on a bad rate
        self._rpm = None if requests_per_minute is None else float(requests_per_minute)

    def tighten(self, requests_per_minute: float | None) -> None:
        """Adopt ``requests_per_minute`` if it is stricter than the current rate.

        Triggers of one connection may ask for different rates (different DAGs); the bucket
        keeps the lowest, which is the only one safe for all of them.
        """
        if requests_per_minute is None:
            return
        if self._rpm is None or requests_per_minute < self._rpm:
            self.set_rate(requests_per_minute)

    @property
    def paused_for(self) -> float:
        """Seconds left of the current pause (0 when not paused)."""
        try:
            now = asyncio.get_running_loop().time()
        except RuntimeError:
            now = time.monotonic()
        return max(0.0, self._paused_until - now)

    def pause(self, seconds: float | None) -> float:
        """Stop granting for ``seconds`` (a 429's ``retry-after``), for every user of the bucket.

        A shorter pause never cuts a longer one. Returns the pause applied.
        """
        if seconds is None or not math.isfinite(seconds) or seconds < 0:
            seconds = max(DEFAULT_PAUSE_SECONDS, self._interval)
        seconds = min(float(seconds), _MAX_PAUSE)
        now = asyncio.get_running_loop().time()
        until = now + seconds
        if until > self._paused_until:
            self._paused_until = until
            self.pauses += 1
            log.warning(
                "Firefly request budget %r paused for %.1f s (rate limited by Adobe)",
                self.name,
                seconds,
            )
        return seconds

    async def acquire(self) -> float:
        """Wait for a grant (FIFO); returns the seconds waited."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with self._lock:
            while True:
                now = loop.time()
                allowed_at = self._tat - (self.burst - 1) * self._interval
                wait = max(allowed_at - now, self._paused_until - now)
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            self._tat = max(self._tat, now) + self._interval
            self.granted += 1
            self.grants.append(now)
        waited = now - started
        self.waited_seconds += waited
        return waited


_BUDGETS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, RequestBudget]] = (
    weakref.WeakKeyDictionary()
)


def budget_for(key: str, requests_per_minute: float | None = None) -> RequestBudget:
    """The budget of ``key`` (a connection id) in the running event loop, created on first use.

    Every caller in the same loop with the same key gets the same object; the rate is the
    lowest any caller asked for (None = no pacing).
    """
    loop = asyncio.get_running_loop()
    budgets = _BUDGETS.get(loop)
    if budgets is None:
        budgets = _BUDGETS[loop] = {}
    budget = budgets.get(key)
    if budget is None:
        budget = budgets[key] = RequestBudget(requests_per_minute, name=key)
    else:
        budget.tighten(requests_per_minute)
    return budget


def clear_budgets() -> None:
    """Forget every budget (tests)."""
    _BUDGETS.clear()


@dataclass(frozen=True)
class BudgetedRetryPolicy(RetryPolicy):
    """The client's retry policy, drawing every *retry* from a :class:`RequestBudget`.

    The caller draws the first attempt itself (so it can tell when the request really left).
    A 429 is not retried here: it is raised at once, for the caller to pause the whole bucket
    and try again later, so a rate-limited job waits instead of failing. A 503 with
    ``retry-after`` pauses the bucket as well before it is retried.
    """

    budget: RequestBudget | None = field(default=None, compare=False, repr=False)

    @classmethod
    def wrap(cls, policy: RetryPolicy, budget: RequestBudget) -> BudgetedRetryPolicy:
        return cls(
            max_attempts=policy.max_attempts,
            max_retry_time=policy.max_retry_time,
            max_wait=policy.max_wait,
            backoff_base=policy.backoff_base,
            backoff_max=policy.backoff_max,
            logger=policy.logger,
            # A 429 goes back to the caller, who pauses the whole budget and polls later.
            hand_back_rate_limits=True,
            budget=budget,
        )

    def before_retry(self, error: BaseException | None, sleep: float) -> None:
        super().before_retry(error, sleep)
        if (
            self.budget is not None
            and isinstance(error, FireflyServerError)
            and error.retry_after is not None
        ):
            self.budget.pause(error.retry_after)

    def async_retrying(
        self, what: str, *, idempotent: bool = True, started_at: float | None = None
    ) -> AsyncRetrying:
        retrying = super().async_retrying(what, idempotent=idempotent, started_at=started_at)
        budget = self.budget
        if budget is None:
            return retrying

        async def before(state: RetryCallState) -> None:
            # Attempt 1 is the caller's (drawn by the caller); every retry draws here.
            if state.attempt_number > 1:
                await budget.acquire()

        return retrying.copy(before=before)


# -- one httpx client per connection per event loop --------------------------------------------

#: Requests in flight at once on one shared client. Beyond its pool size httpx queues requests
#: inside its connection pool, whose bookkeeping grows with the queue (1,000 queued polls cost
#: seconds of CPU); waiting on a semaphore instead costs nothing.
MAX_IN_FLIGHT = 64

#: (connection key, connect timeout, read timeout, (proxy, CA))
_PoolKey = tuple[str, float, float, tuple[str, str]]


class _Pool:
    """An ``httpx.AsyncClient``, the gate of its ``limit`` slots, and how many use it."""

    def __init__(self, client: Any, limit: int) -> None:
        self.client = client
        self.gate = asyncio.Semaphore(limit)
        self.users = 0


_POOLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_PoolKey, _Pool]] = (
    weakref.WeakKeyDictionary()
)


def connection_key(settings: HttpSettings, client_id: str | None) -> str:
    """What one pool and one gate are shared by: the API host and the client id."""
    return f"{settings.api_url}|{client_id or ''}"


def _pool_key(settings: HttpSettings, key: str) -> _PoolKey:
    return (key, settings.connect_timeout, settings.read_timeout, network_fingerprint(settings))


def _lease(settings: HttpSettings, key: str) -> _Pool:
    loop = asyncio.get_running_loop()
    pools = _POOLS.get(loop)
    if pools is None:
        pools = _POOLS[loop] = {}
    pool_key = _pool_key(settings, key)
    pool = pools.get(pool_key)
    if pool is None or pool.client.is_closed:
        client = new_async_client(settings, max_connections=MAX_IN_FLIGHT)
        pool = pools[pool_key] = _Pool(client, MAX_IN_FLIGHT)
    pool.users += 1
    return pool


async def _release(settings: HttpSettings, key: str, pool: _Pool) -> None:
    loop = asyncio.get_running_loop()
    pools = _POOLS.get(loop, {})
    pool_key = _pool_key(settings, key)
    if pools.get(pool_key) is not pool:
        await pool.client.aclose()
        return
    pool.users -= 1
    if pool.users <= 0:
        del pools[pool_key]
        await pool.client.aclose()


class SharedAsyncTransport(AsyncTransport):
    """:class:`AsyncTransport` on an ``httpx.AsyncClient`` shared in the event loop by every
    transport of the same connection.

    :param pool_key: what the pool is shared by, normally :func:`connection_key` (API host
        and client id); by default the API URL alone. :meth:`AsyncFireflyClient.use_transport`
        fills in the client id when none was given.

    The shared client is closed when its last user closes its transport. Headers (token,
    user agent) are per request and no cookie is kept, so sharing the pool shares no
    credential.
    """

    def __init__(
        self,
        settings: HttpSettings,
        *,
        user_agent: str,
        policy: RetryPolicy | None = None,
        pool_key: str | None = None,
        pacer: TaskPacer | None = None,
    ) -> None:
        super().__init__(settings, user_agent=user_agent, policy=policy, pacer=pacer)
        self.pool_key = pool_key
        self._pool: _Pool | None = None
        self._leased_key = ""

    def bind_connection(self, client_id: str) -> None:
        """Share the pool with this client id's other transports only; before first use."""
        if self._pool is None and self.pool_key is None:
            self.pool_key = connection_key(self.settings, client_id)

    def _http(self) -> Any:
        if self._pool is None:
            self._leased_key = self.pool_key or connection_key(self.settings, None)
            self._pool = _lease(self.settings, self._leased_key)
            self._client = self._pool.client
        return self._client

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        pool = self._pool
        if pool is None:
            yield
            return
        async with pool.gate:
            yield

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        self._client = None
        if pool is not None:
            await _release(self.settings, self._leased_key, pool)
