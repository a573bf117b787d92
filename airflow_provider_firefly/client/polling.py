"""When to poll a job, and the blocking wait loop built on it.

Adobe's default budget is a few requests per minute per organisation, status polls included:
a schedule here never polls faster than :attr:`PollPolicy.requests_per_minute` allows (spaced
by :func:`~.limits.request_spacing`, the rule the trigger's shared budget uses too), and a 429
on a status poll is waited out (``retry-after``) until the caller's own deadline, never
turned into an early failure.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from airflow_provider_firefly.client.errors import (
    FireflyConfigError,
    FireflyJobTimeoutError,
    FireflyRateLimitError,
)
from airflow_provider_firefly.client.jobs import JobStatus, job_error
from airflow_provider_firefly.client.limits import (
    DEFAULT_PAUSE_SECONDS,
    is_positive_number,
    request_spacing,
)

__all__ = ["PollPolicy", "describe_job", "wait_for_job"]

log = logging.getLogger("airflow_provider_firefly.client")

J = TypeVar("J")


@dataclass(frozen=True)
class PollPolicy:
    """When to poll a job: few requests, as Adobe's budget is a few per minute.

    The first poll comes near the job's expected duration, then intervals grow by ``factor`` up
    to ``max_interval``, with ±``jitter`` so that many jobs do not poll in step. No interval is
    shorter than ``requests_per_minute`` allows (None: no budget).
    """

    first_delay: float | None = None
    factor: float = 1.5
    min_interval: float = 1.0
    max_interval: float = 30.0
    jitter: float = 0.1
    requests_per_minute: float | None = None

    def __post_init__(self) -> None:
        for name in ("min_interval", "max_interval", "factor"):
            value = getattr(self, name)
            if not is_positive_number(value):
                raise FireflyConfigError(f"{name} must be above 0, got {value!r}", field=name)
        if self.first_delay is not None and self.first_delay < 0:
            raise FireflyConfigError("first_delay must not be negative", field="first_delay")
        try:
            request_spacing(self.requests_per_minute)
        except ValueError as error:
            raise FireflyConfigError(str(error), field="requests_per_minute") from None

    @property
    def spacing(self) -> float:
        """The shortest gap between two polls the request budget allows."""
        return request_spacing(self.requests_per_minute)

    def interval(self, poll_number: int, expected_seconds: float) -> float:
        """Seconds to wait before poll ``poll_number`` (0 is the first poll)."""
        if poll_number == 0:
            base = self.first_delay if self.first_delay is not None else expected_seconds
            return max(0.0, base, self.spacing)
        base = min(self.max_interval, self.min_interval * self.factor ** (poll_number - 1))
        base = max(base, self.min_interval)
        spread = base * self.jitter
        jittered = base + random.uniform(-spread, spread)  # noqa: S311
        return max(self.min_interval, self.spacing, jittered)


def wait_for_job(
    job: J,
    get_status: Callable[[J], JobStatus],
    *,
    job_id: str,
    timeout: float | None,
    poll: PollPolicy,
    expected_seconds: float,
    on_status: Callable[[JobStatus], None] | None,
    on_timeout: Callable[[J], None] | None,
    sleep: Callable[[float], None],
) -> JobStatus:
    """Poll ``get_status(job)`` until the job ends; raise the typed error unless it succeeded.

    A rate-limited poll (HTTP 429 that outlasted the transport's retries) waits the
    ``retry-after`` and polls again: only the deadline ends the wait. At the deadline
    ``on_timeout(job)`` runs (the client cancels there) and :class:`FireflyJobTimeoutError` is
    raised.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    number = 0
    last: JobStatus | None = None
    delay = poll.interval(0, expected_seconds)
    while True:
        if deadline is not None:
            delay = max(0.0, min(delay, deadline - time.monotonic()))
        sleep(delay)
        try:
            status = get_status(job)
        except FireflyRateLimitError as error:
            delay = max(
                error.retry_after if error.retry_after is not None else DEFAULT_PAUSE_SECONDS,
                poll.spacing,
            )
            log.warning(
                "Firefly job %s: status poll rate limited (HTTP 429); polling again in %.1f s",
                job_id,
                delay,
            )
        else:
            last = status
            if on_status is not None:
                on_status(status)
            if status.is_terminal:
                failure = job_error(status)
                if failure is not None:
                    raise failure
                return status
            number += 1
            delay = poll.interval(number, expected_seconds)
        if deadline is not None and time.monotonic() >= deadline:
            if on_timeout is not None:
                on_timeout(job)
            shown = last.job_id if last is not None and last.job_id else job_id
            raise FireflyJobTimeoutError(
                f"Firefly job {shown} did not finish within {timeout:g} s (last status "
                f"{last.status if last is not None else 'unknown: every poll was rate limited'})",
                job_id=shown,
                job_status=last.status if last is not None else None,
            )


def describe_job(job: object) -> str:
    """A job handle's or id's job id, for messages."""
    job_id = getattr(job, "job_id", job)
    return str(job_id)
