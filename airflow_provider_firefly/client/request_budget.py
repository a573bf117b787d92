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

The client's retries draw from the same bucket through
:class:`~airflow_provider_firefly.client.retry.BudgetedRetryPolicy`, and
:meth:`~airflow_provider_firefly.client.async_api.AsyncFireflyClient.budgeted` builds a client
that does both. Nothing here imports Airflow.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import weakref

from airflow_provider_firefly.client.limits import DEFAULT_PAUSE_SECONDS, request_spacing

__all__ = ["RequestBudget", "budget_for", "clear_budgets"]

log = logging.getLogger("airflow_provider_firefly.client.budget")

#: Longest pause one ``retry-after`` may impose on a whole connection.
_MAX_PAUSE = 3600.0


class RequestBudget:
    """A FIFO token bucket with a shared pause, for one connection in one event loop.

    :param requests_per_minute: the rate; None means no pacing (the shared pause still works).
    :param burst: grants allowed back to back before pacing applies (1 = evenly spaced).
    :param name: for logs (the connection id).
    """

    def __init__(
        self,
        requests_per_minute: float | None = None,
        *,
        burst: int = 1,
        name: str = "",
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
        self.pauses = 0

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
        return now - started


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
