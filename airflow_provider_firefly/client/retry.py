"""One retry policy, used by the sync and the async transports alike.

Which failures are retried, how long to wait and when to give up are decided here once; the
transports only turn their library's exceptions and responses into the typed errors of
:mod:`airflow_provider_firefly.client.errors` and hand the attempt to tenacity.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_any,
)
from tenacity.stop import stop_base

from airflow_provider_firefly.client.config import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_RETRY_TIME,
    DEFAULT_MAX_RETRY_WAIT,
    HttpSettings,
)
from airflow_provider_firefly.client.errors import (
    FireflyConnectionError,
    FireflyRateLimitError,
    FireflyServerError,
    FireflyTLSError,
)
from airflow_provider_firefly.client.rate_limit_advice import exhausted_rate_limit

if TYPE_CHECKING:
    from airflow_provider_firefly.client.request_budget import RequestBudget

__all__ = ["BudgetedRetryPolicy", "RetryPolicy", "is_retryable", "retry_reason"]

T = TypeVar("T")

log = logging.getLogger("airflow_provider_firefly.client")


def is_retryable(error: BaseException, *, idempotent: bool) -> bool:
    """Whether another attempt may cure ``error``.

    A non-idempotent request (a job submission, which Adobe bills) is retried only when it was
    certainly not accepted: refused or unreachable before sending, 429, or 503. Timeouts, dropped
    connections and other 5xx may hide an accepted job, so they are retried only for idempotent
    requests (status polls, cancels, downloads, token requests).
    """
    if isinstance(error, FireflyRateLimitError):
        return error.tries is None  # a final 429 (the pacer's patience used up) stays final
    if isinstance(error, FireflyServerError):
        return error.status == 503 or idempotent
    if isinstance(error, FireflyTLSError):
        return False  # an untrusted certificate stays untrusted
    if isinstance(error, FireflyConnectionError):
        return idempotent or not error.request_sent
    return False


def retry_reason(error: BaseException | None) -> str:
    """A short, secret-free description of why an attempt failed, for logs."""
    if error is None:
        return "unknown error"
    if isinstance(error, FireflyRateLimitError):
        level = f", level {error.limit_level}" if error.limit_level else ""
        return f"rate limited (HTTP 429{level})"
    status = getattr(error, "status", None)
    if status is not None:
        return f"HTTP {status}"
    return getattr(error, "message", None) or type(error).__name__


class _StopBeforeTotal(stop_base):
    """Like ``stop_before_delay``, but counted from a given start: the first attempt runs
    before tenacity takes over (see :meth:`RetryPolicy.call`) and its time counts too."""

    def __init__(self, max_seconds: float, started: float) -> None:
        self.max_seconds = max_seconds
        self.started = started

    def __call__(self, retry_state: RetryCallState) -> bool:
        upcoming = float(retry_state.upcoming_sleep or 0.0)
        return time.monotonic() - self.started + upcoming >= self.max_seconds


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with ``retry-after`` honoured and jittered exponential backoff.

    :param max_attempts: attempts per request, the first included.
    :param max_retry_time: no retry starts a wait that would end past this many seconds.
    :param max_wait: cap on any single wait, ``retry-after`` included.
    :param backoff_base: first backoff step in seconds; doubled on each retry.
    :param backoff_max: cap of the exponential backoff (not of ``retry-after``).
    :param hand_back_rate_limits: raise a 429 at once instead of waiting it out, for callers
        that keep their own schedule and deadline (a wait loop, the trigger's budget).
    """

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    max_retry_time: float = DEFAULT_MAX_RETRY_TIME
    max_wait: float = DEFAULT_MAX_RETRY_WAIT
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    logger: logging.Logger = field(default=log, repr=False, compare=False)
    hand_back_rate_limits: bool = False

    @classmethod
    def from_settings(cls, settings: HttpSettings, **overrides: Any) -> RetryPolicy:
        values: dict[str, Any] = {
            "max_attempts": settings.max_attempts,
            "max_retry_time": settings.max_retry_time,
            "max_wait": settings.max_retry_wait,
        }
        values.update(overrides)
        return cls(**values)

    def wait_seconds(self, error: BaseException | None, attempt: int) -> float:
        """Seconds before attempt ``attempt + 1``: ``retry-after`` if given, else backoff."""
        retry_after = getattr(error, "retry_after", None)
        if isinstance(retry_after, (int, float)) and retry_after >= 0:
            # A little jitter so that many waiting clients do not return in the same instant.
            return min(float(retry_after) + random.uniform(0, 0.25), self.max_wait)  # noqa: S311
        step = min(self.backoff_max, self.backoff_base * 2.0 ** max(attempt - 1, 0))
        return min(step / 2 + random.uniform(0, step / 2), self.max_wait)  # noqa: S311

    def should_retry(self, error: BaseException, *, idempotent: bool) -> bool:
        """Whether to retry after ``error``; subclasses may narrow it."""
        if self.hand_back_rate_limits and isinstance(error, FireflyRateLimitError):
            return False
        return is_retryable(error, idempotent=idempotent)

    def before_retry(self, error: BaseException | None, sleep: float) -> None:
        """Called before each wait; subclasses may act on it (e.g. pause a shared budget)."""

    def _tenacity_kwargs(
        self, subject: str, idempotent: bool, started_at: float | None = None
    ) -> dict[str, Any]:
        started = time.monotonic() if started_at is None else started_at

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            return self.wait_seconds(error, state.attempt_number)

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            sleep = float(state.next_action.sleep) if state.next_action else 0.0
            self.before_retry(error, sleep)
            self.logger.warning(
                "%s: %s; retrying in %.1f s (attempt %d of %d)",
                subject,
                retry_reason(error),
                sleep,
                state.attempt_number + 1,
                self.max_attempts,
            )

        def give_up(state: RetryCallState) -> Any:
            error = state.outcome.exception() if state.outcome else None
            if isinstance(error, FireflyRateLimitError) and error.tries is None:
                tries, seconds = state.attempt_number, time.monotonic() - started
                raise exhausted_rate_limit(error, tries=tries, seconds=seconds) from error
            if error is not None:
                raise error
            return state.outcome.result() if state.outcome else None

        return {
            "stop": stop_any(
                stop_after_attempt(self.max_attempts),
                _StopBeforeTotal(self.max_retry_time, started),
            ),
            "wait": wait,
            "retry": retry_if_exception(lambda e: self.should_retry(e, idempotent=idempotent)),
            "before_sleep": before_sleep,
            # Called only when the stop condition ends the retries: a 429 then gets the advice.
            "retry_error_callback": give_up,
            "reraise": True,
        }

    def retrying(
        self, subject: str, *, idempotent: bool = True, started_at: float | None = None
    ) -> Retrying:
        """A tenacity controller for blocking code."""
        return Retrying(**self._tenacity_kwargs(subject, idempotent, started_at))

    def async_retrying(
        self, subject: str, *, idempotent: bool = True, started_at: float | None = None
    ) -> AsyncRetrying:
        """The same controller for asyncio code (sleeps with ``asyncio.sleep``)."""
        return AsyncRetrying(**self._tenacity_kwargs(subject, idempotent, started_at))

    def call(self, attempt: Callable[[], T], subject: str, *, idempotent: bool = True) -> T:
        """Run ``attempt`` under the policy.

        The first try runs bare: tenacity's bookkeeping costs more than a warm loopback call,
        and most calls succeed at once. Only a retryable failure hands over to tenacity, which
        counts that failure as the first attempt.
        """
        started = time.monotonic()
        try:
            return attempt()
        except Exception as error:
            if self.max_attempts <= 1 or not self.should_retry(error, idempotent=idempotent):
                raise
            first: Exception = error
        replayed = False

        def again() -> T:
            nonlocal replayed
            if not replayed:
                replayed = True
                raise first
            return attempt()

        return self.retrying(subject, idempotent=idempotent, started_at=started)(again)

    async def acall(
        self, attempt: Callable[[], Awaitable[T]], subject: str, *, idempotent: bool = True
    ) -> T:
        """:meth:`call` for coroutines."""
        started = time.monotonic()
        try:
            return await attempt()
        except Exception as error:
            if self.max_attempts <= 1 or not self.should_retry(error, idempotent=idempotent):
                raise
            first: Exception = error
        replayed = False

        async def again() -> T:
            nonlocal replayed
            if not replayed:
                replayed = True
                raise first
            return await attempt()

        retrying = self.async_retrying(subject, idempotent=idempotent, started_at=started)
        return await retrying(again)


@dataclass(frozen=True)
class BudgetedRetryPolicy(RetryPolicy):
    """The retry policy, drawing every *retry* from a shared
    :class:`~airflow_provider_firefly.client.request_budget.RequestBudget`.

    The caller draws the first attempt itself (so it can tell when the request really left).
    A 429 is not retried here: it is raised at once, for the caller to pause the whole bucket
    and try again later, so a rate-limited job waits instead of failing. A 503 with
    ``retry-after`` pauses the bucket as well before it is retried.
    """

    # A 429 goes back to the caller, who pauses the whole budget and polls later.
    hand_back_rate_limits: bool = True
    budget: RequestBudget | None = field(default=None, compare=False, repr=False)

    def before_retry(self, error: BaseException | None, sleep: float) -> None:
        super().before_retry(error, sleep)
        if (
            self.budget is not None
            and isinstance(error, FireflyServerError)
            and error.retry_after is not None
        ):
            self.budget.pause(error.retry_after)

    def async_retrying(
        self, subject: str, *, idempotent: bool = True, started_at: float | None = None
    ) -> AsyncRetrying:
        retrying = super().async_retrying(subject, idempotent=idempotent, started_at=started_at)
        budget = self.budget
        if budget is None:
            return retrying

        async def before(state: RetryCallState) -> None:
            # Attempt 1 is the caller's (drawn by the caller); every retry draws here.
            if state.attempt_number > 1:
                await budget.acquire()

        return retrying.copy(before=before)
