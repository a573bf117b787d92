"""One task's share of the organisation's request budget: the per-task pacer.

Adobe counts requests per organisation, whoever sends them. No process of a cluster can see
the others, but the scheduler never runs more than ``slots`` tasks of one pool at once (deferred
tasks included when the pool has ``include_deferred``). So each task gets an equal, fixed share
of the budget, ``q = floor(requests_per_minute / slots)`` requests a minute, and spaces its
Firefly requests at least ``request_spacing(q)`` apart, **the first one too, counted from the
task's start** (an Airflow task's ``start_date``, else the pacer's creation; a trigger run's
creation). The tasks running one after another in one pool slot then never come closer than
that spacing either (a task starts after the one before it in the slot ended), so a sliding
minute sees at most ``q`` requests per slot and ``slots * q <= requests_per_minute`` in all,
without any shared counter (the proof is in ``docs/deployment.md``).

:class:`TaskPacer` holds the one rule (:meth:`TaskPacer.reserve`, :meth:`TaskPacer.sent`,
:meth:`TaskPacer.rate_limited`); :meth:`TaskPacer.call` and :meth:`TaskPacer.acall` only
sleep as it says, blocking or with ``asyncio``. A 429 pauses the pacer for its
``retry-after`` and the request is sent again when the pacer allows: a rate-limited request
was not accepted (a submission included), so it is retried until the pacer's deadline.

Nothing here imports Airflow.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from airflow_provider_firefly.client.errors import FireflyConfigError, FireflyRateLimitError
from airflow_provider_firefly.client.limits import DEFAULT_PAUSE_SECONDS, request_spacing
from airflow_provider_firefly.client.rate_limit_advice import exhausted_rate_limit

__all__ = [
    "DEFAULT_RATE_LIMIT_PATIENCE",
    "MAX_RATE_LIMIT_PAUSE",
    "TaskPacer",
    "share_per_slot",
]

T = TypeVar("T")

log = logging.getLogger("airflow_provider_firefly.client")

#: How long a pacer without a deadline keeps retrying 429s (the task's own timeout, when
#: shorter, ends it first).
DEFAULT_RATE_LIMIT_PATIENCE = 3600.0
#: Longest pause one ``retry-after`` may impose (a hostile or broken value must not park a
#: task for days).
MAX_RATE_LIMIT_PAUSE = 600.0


def share_per_slot(requests_per_minute: float, slots: int | None) -> int:
    """Requests a minute one task may send: ``floor(requests_per_minute / slots)``.

    ``slots`` None means one slot per request a minute (``floor(requests_per_minute)``
    slots: one request a minute per task), which is safe for any pool of at most that many
    slots. A share below one request a minute cannot be paced safely against a sliding
    minute, so ``slots`` may not exceed ``requests_per_minute``.
    """
    request_spacing(requests_per_minute)  # the one check of a rate
    if slots is None:
        return 1
    if isinstance(slots, bool) or not isinstance(slots, int) or slots < 1:
        raise FireflyConfigError(
            f"budget_slots must be a whole number of at least 1, got {slots!r}",
            field="budget_slots",
        )
    share = math.floor(requests_per_minute / slots)
    if share < 1:
        raise FireflyConfigError(
            f"budget_slots ({slots}) is more than requests_per_minute "
            f"({requests_per_minute:g}): each task of the pool needs at least one request a "
            "minute; make the pool (and budget_slots) smaller",
            field="budget_slots",
        )
    return share


class TaskPacer:
    """Spaces one task's Firefly requests by its share of the organisation's budget.

    :param spacing: the shortest gap between two requests, and between ``quiet_since`` and the
        first request (seconds; 0 disables pacing but keeps the 429 handling).
    :param quiet_since: a ``clock()`` time since which this task's pool slot has certainly sent
        nothing (the task's start: the task before it in the slot had ended); None: the
        pacer's creation. A later time is taken as the creation.
    :param deadline: a ``clock()`` time after which a 429 is raised instead of retried;
        None: :data:`DEFAULT_RATE_LIMIT_PATIENCE` from creation.
    :param clock: monotonic seconds; ``sleep`` and ``asleep`` wait on it (tests pass fakes).
    """

    def __init__(
        self,
        spacing: float,
        *,
        deadline: float | None = None,
        quiet_since: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        asleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        name: str = "",
    ) -> None:
        if not math.isfinite(spacing) or spacing < 0:
            raise ValueError(f"spacing must be a finite number >= 0, got {spacing!r}")
        self.spacing = float(spacing)
        self.clock = clock
        self.sleep = sleep
        self.asleep = asleep
        self.name = name
        self.started = clock()
        self.deadline = self.started + DEFAULT_RATE_LIMIT_PATIENCE if deadline is None else deadline
        # When the last request left (or was promised to leave): the slot's quiet start counts
        # as one, so the first request waits a spacing from it too.
        self._last = self.started
        if quiet_since is not None and math.isfinite(quiet_since):
            self._last = min(self.started, quiet_since)
        self._lock = threading.Lock()
        self.sent_count = 0
        self.rate_limited_count = 0

    @classmethod
    def for_budget(
        cls,
        requests_per_minute: float | None,
        slots: int | None = None,
        *,
        deadline: float | None = None,
        quiet_since: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        asleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        name: str = "",
    ) -> TaskPacer | None:
        """The pacer of one task of a pool of ``slots`` sharing ``requests_per_minute``;
        None without a budget."""
        if requests_per_minute is None:
            return None
        share = share_per_slot(requests_per_minute, slots)
        return cls(
            request_spacing(share),
            deadline=deadline,
            quiet_since=quiet_since,
            clock=clock,
            sleep=sleep,
            asleep=asleep,
            name=name,
        )

    def __repr__(self) -> str:
        return f"TaskPacer({self.name!r}, spacing={self.spacing:.2f}s, sent={self.sent_count})"

    def give_up_after(self, seconds: float) -> None:
        """Raise 429s instead of retrying them once ``seconds`` from now have passed (a
        caller's own deadline, e.g. a job wait's timeout), if that is sooner."""
        with self._lock:
            self.deadline = min(self.deadline, self.clock() + seconds)

    # -- the rule ------------------------------------------------------------------------------

    def reserve(self) -> float:
        """Claim the next send time; returns the seconds to wait before sending.

        Concurrent callers get successive slots, each a spacing after the one before.
        """
        with self._lock:
            now = self.clock()
            at = max(now, self._last + self.spacing)
            self._last = at
            return at - now

    def sent(self) -> None:
        """The request leaves now: a late sender (an overslept timer, a busy pool) moves the
        next slot back, so two requests are never closer than the spacing."""
        with self._lock:
            self._last = max(self._last, self.clock())
            self.sent_count += 1

    def rate_limited(self, error: FireflyRateLimitError) -> bool:
        """Record a 429: no request before its ``retry-after``; True to send it again,
        False once the deadline would pass (the caller raises)."""
        pause = error.retry_after
        if pause is None or not math.isfinite(pause) or pause < 0:
            pause = max(DEFAULT_PAUSE_SECONDS, self.spacing)
        pause = min(pause, MAX_RATE_LIMIT_PAUSE)
        with self._lock:
            self.rate_limited_count += 1
            now = self.clock()
            # The next request may leave a spacing after the refused one at the earliest, and
            # not before the server said.
            self._last = max(self._last, now + pause - self.spacing)
            retry_at = max(now + pause, self._last + self.spacing)
        if retry_at > self.deadline:
            return False
        log.warning(
            "Firefly request rate limited (HTTP 429); this task sends it again in %.1f s",
            retry_at - now,
        )
        return True

    # -- blocking and asyncio drivers of the rule ------------------------------------------------

    def call(self, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` when the pacer allows; a 429 waits and sends it again."""
        since, tries = self.clock(), 0
        while True:
            self.sleep(self.reserve())
            self.sent()
            tries += 1
            try:
                return attempt()
            except FireflyRateLimitError as error:
                if not self.rate_limited(error):
                    seconds = self.clock() - since
                    raise exhausted_rate_limit(error, tries=tries, seconds=seconds) from error

    async def acall(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """:meth:`call` for coroutines."""
        since, tries = self.clock(), 0
        while True:
            await self.asleep(self.reserve())
            self.sent()
            tries += 1
            try:
                return await attempt()
            except FireflyRateLimitError as error:
                if not self.rate_limited(error):
                    seconds = self.clock() - since
                    raise exhausted_rate_limit(error, tries=tries, seconds=seconds) from error
