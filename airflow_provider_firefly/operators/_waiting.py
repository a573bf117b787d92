"""How a job operator waits for its job: the deadline, the poll pacing, the trigger.

One place for the numbers, whether the task waits in its worker slot (the hook polls) or in the
triggerer (:class:`FireflyJobTrigger` polls). Loaded when a task runs.
"""

from __future__ import annotations

import datetime
import time
from typing import TYPE_CHECKING

from airflow_provider_firefly.client.polling import PollPolicy
from airflow_provider_firefly.operators.runtime import job_trigger_class

if TYPE_CHECKING:
    from airflow_provider_firefly.client.jobs import JobHandle
    from airflow_provider_firefly.triggers.firefly import FireflyJobTrigger

__all__ = [
    "DEFER_GRACE",
    "TIMEOUT_MARGIN",
    "defer_timeout",
    "job_trigger",
    "poll_policy",
    "task_timeout",
]

#: Seconds kept between our own deadline and ``execution_timeout``, to cancel the job first.
TIMEOUT_MARGIN = 5.0
#: Extra seconds the deferral may outlive the trigger's deadline (the trigger cancels first).
DEFER_GRACE = 120.0
#: Shortest seconds between two polls when ``poll_interval`` is not given.
DEFAULT_POLL_INTERVAL = 2.0


def task_timeout(
    job_timeout: float, execution_timeout: datetime.timedelta | None, started: float
) -> float:
    """Seconds the job may still take: ``job_timeout``, cut to end before ``execution_timeout``
    (measured from ``started``, a ``time.monotonic()``) so the task cancels the job first."""
    timeout = float(job_timeout)
    if execution_timeout is not None:
        left = execution_timeout.total_seconds() - (time.monotonic() - started)
        timeout = min(timeout, max(1.0, left - TIMEOUT_MARGIN))
    return timeout


def _shortest(poll_interval: float | None) -> float:
    return float(poll_interval) if poll_interval else DEFAULT_POLL_INTERVAL


def poll_policy(
    expected: float,
    poll_interval: float | None,
    max_poll_interval: float,
    requests_per_minute: float | None,
) -> PollPolicy:
    """Polling in the worker: first near the expected duration, then growing intervals."""
    low = _shortest(poll_interval)
    return PollPolicy(
        first_delay=expected,
        min_interval=max(low, 0.05),
        max_interval=max(float(max_poll_interval), low, 0.05),
        # the organisation's budget, as the trigger paces its polls
        requests_per_minute=requests_per_minute,
    )


def job_trigger(
    firefly_conn_id: str,
    handle: JobHandle,
    *,
    expected: float,
    poll_interval: float | None,
    max_poll_interval: float,
    timeout: float,
) -> FireflyJobTrigger:
    """Polling in the triggerer, cancelling the job at the deadline."""
    low = _shortest(poll_interval)
    return job_trigger_class()(
        firefly_conn_id=firefly_conn_id,
        job=handle.to_dict(),
        expected_seconds=expected,
        poll_min_interval=low,
        poll_max_interval=max(float(max_poll_interval), low),
        deadline=time.time() + timeout,
        cancel_on_deadline=True,
    )


def defer_timeout(timeout: float) -> datetime.timedelta:
    """Airflow's limit on the deferral: past the trigger's own deadline, so it cancels first."""
    return datetime.timedelta(seconds=timeout + DEFER_GRACE)
