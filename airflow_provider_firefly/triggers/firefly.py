"""``FireflyJobTrigger``: wait for a Firefly job in the triggerer, without holding a worker slot.

The trigger polls the job's ``statusUrl`` exactly as Firefly returned it, asynchronously end to
end (``aget_connection``, ``httpx``, ``asyncio.sleep``), and ends with exactly one event:

====================  ==================================================================
``status``            when
====================  ==================================================================
``succeeded``         the job succeeded (``job_status`` holds its outputs)
``failed``            the job failed (or succeeded without any output)
``cancelled``         the job was cancelled (``cancelled`` or ``canceled``)
``timeout``           Firefly timed the job out
``deadline``          the trigger's ``deadline`` passed; the job was cancelled first if
                      ``cancel_on_deadline``
``error``             polling failed for good: 404 (unknown job), 451 (content policy),
                      401/403, a bad connection, or repeated 5xx/network errors
====================  ==================================================================

Polls are few: the first near ``expected_seconds``, then x1.5 from ``poll_min_interval`` up
to ``poll_max_interval``, with jitter. All triggers of one connection in one triggerer share a
request budget (``requests_per_minute``); a 429 pauses that whole budget for its
``retry-after`` and never fails a job. A triggerer restart rebuilds the trigger from its
kwargs and keeps polling the same job: nothing is resubmitted, and a shutdown never cancels the
remote job (only the deadline and a user's kill do).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_firefly.client.async_api import AsyncFireflyClient
from airflow_provider_firefly.client.errors import (
    FireflyConnectionError,
    FireflyError,
    FireflyRateLimitError,
    FireflyServerError,
    FireflyTLSError,
)
from airflow_provider_firefly.client.jobs import JobHandle, JobStatus
from airflow_provider_firefly.client.limits import is_positive_number
from airflow_provider_firefly.client.pacing import TaskPacer
from airflow_provider_firefly.client.polling import PollPolicy
from airflow_provider_firefly.client.request_budget import RequestBudget, budget_for
from airflow_provider_firefly.hooks.firefly import FireflyHook
from airflow_provider_firefly.triggers.deadline import cancel_timeout, end_at_deadline
from airflow_provider_firefly.triggers.events import EVENT_STATUSES, raise_for_event
from airflow_provider_firefly.triggers.ownership import task_still_deferred
from airflow_provider_firefly.triggers.payloads import (
    EventPayload,
    error_payload,
    event_payload,
    terminal_payload,
)

__all__ = ["EVENT_STATUSES", "FireflyJobTrigger", "raise_for_event"]

CLASSPATH = "airflow_provider_firefly.triggers.firefly.FireflyJobTrigger"
#: Consecutive polls that may fail with a 5xx or a network error (each after the client's own
#: bounded retries) before the trigger gives up with an ``error`` event.
MAX_TRANSIENT_FAILURES = 3
_JOB_KEYS = ("job_id", "status_url", "cancel_url")


def _positive(name: str, value: Any) -> float:
    if not is_positive_number(value):
        raise ValueError(f"FireflyJobTrigger: {name} must be a positive number, got {value!r}")
    return float(value)


def _clean_job(job: Any) -> dict[str, str | None]:
    if isinstance(job, JobHandle):
        job = job.to_dict()
    if not isinstance(job, dict):
        raise TypeError("FireflyJobTrigger: job must be JobHandle.to_dict()")
    clean = {key: job.get(key) for key in _JOB_KEYS}
    for key in ("job_id", "status_url"):
        if not isinstance(clean[key], str) or not clean[key]:
            raise ValueError(f"FireflyJobTrigger: job[{key!r}] is missing")
    if clean["cancel_url"] is not None and not isinstance(clean["cancel_url"], str):
        raise ValueError("FireflyJobTrigger: job['cancel_url'] must be a string or None")
    if isinstance(job.get("request_id"), str):  # the submission's, for the event and lineage
        clean["request_id"] = JobHandle.from_dict(job).request_id
    return clean


class FireflyJobTrigger(BaseTrigger):
    """Poll one Firefly job until it ends or a deadline passes; fire exactly one event.

    :param firefly_conn_id: the ``firefly`` connection (read asynchronously in the triggerer;
        no token or secret is ever part of the trigger's kwargs).
    :param job: ``JobHandle.to_dict()``: ``job_id``, ``status_url`` (polled as is) and
        ``cancel_url``.
    :param expected_seconds: when to poll first (seconds after the trigger starts).
    :param poll_min_interval: first interval after that; grows x1.5 per poll.
    :param poll_max_interval: cap of the interval.
    :param deadline: epoch seconds; at the deadline the job is cancelled (if
        ``cancel_on_deadline``) and a ``deadline`` event ends the trigger.
    :param cancel_on_deadline: cancel the remote job at the deadline and when a user kills the
        deferred task (False for a sensor, which does not own the job).
    :param requests_per_minute: the connection's request budget in this triggerer, shared by
        every trigger polling through it (the lowest rate asked wins); None = no local pacing
        (a 429 still pauses every trigger of the connection).
    """

    def __init__(
        self,
        *,
        firefly_conn_id: str,
        job: dict[str, Any],
        expected_seconds: float = 15.0,
        poll_min_interval: float = 2.0,
        poll_max_interval: float = 30.0,
        deadline: float | None = None,
        cancel_on_deadline: bool = True,
        requests_per_minute: float | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        if not isinstance(firefly_conn_id, str) or not firefly_conn_id:
            raise ValueError("FireflyJobTrigger: firefly_conn_id must be a connection id")
        self.firefly_conn_id = firefly_conn_id
        self.job = _clean_job(job)
        if (
            isinstance(expected_seconds, bool)
            or not isinstance(expected_seconds, (int, float))
            or not math.isfinite(expected_seconds)
            or expected_seconds < 0
        ):
            raise ValueError(
                f"FireflyJobTrigger: expected_seconds must be >= 0, got {expected_seconds!r}"
            )
        self.expected_seconds = float(expected_seconds)
        self.poll_min_interval = _positive("poll_min_interval", poll_min_interval)
        self.poll_max_interval = _positive("poll_max_interval", poll_max_interval)
        if self.poll_max_interval < self.poll_min_interval:
            raise ValueError("FireflyJobTrigger: poll_max_interval is below poll_min_interval")
        self._poll_policy = PollPolicy(
            first_delay=self.expected_seconds,
            factor=1.5,
            min_interval=self.poll_min_interval,
            max_interval=self.poll_max_interval,
            jitter=0.1,
        )
        self.deadline = None if deadline is None else float(deadline)
        self.cancel_on_deadline = bool(cancel_on_deadline)
        self.requests_per_minute = (
            None
            if requests_per_minute is None
            else _positive("requests_per_minute", requests_per_minute)
        )
        self._last_report: tuple[str, int | None] | None = None
        self._connection_budget: float | None = None  # read from the connection in run()
        self._pacer: TaskPacer | None = None  # this run's share of the budget, from run()

    # -- serialisation -----------------------------------------------------------------------

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and JSON-safe kwargs: ids, URLs and numbers only, never a credential."""
        return (
            CLASSPATH,
            {
                "firefly_conn_id": self.firefly_conn_id,
                "job": dict(self.job),
                "expected_seconds": self.expected_seconds,
                "poll_min_interval": self.poll_min_interval,
                "poll_max_interval": self.poll_max_interval,
                "deadline": self.deadline,
                "cancel_on_deadline": self.cancel_on_deadline,
                "requests_per_minute": self.requests_per_minute,
            },
        )

    # -- the loop ----------------------------------------------------------------------------

    @property
    def job_id(self) -> str:
        return str(self.job["job_id"])

    @staticmethod
    def _delay(policy: PollPolicy, number: int) -> float:
        delay = policy.interval(number, 0.0)
        if number == 0 and delay > 0:
            # PollPolicy does not jitter the first poll; many jobs deferred together must not
            # all poll in the same instant.
            delay *= 1.0 + random.uniform(-policy.jitter, policy.jitter)  # noqa: S311
        return delay

    def _remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.time()

    async def _connection_client(self) -> AsyncFireflyClient:
        """The connection's client, unused: its :meth:`~AsyncFireflyClient.budgeted` copies
        send this run's requests."""
        hook = FireflyHook(firefly_conn_id=self.firefly_conn_id)
        # The hook's client carries a new pacer (this trigger run's share of the organisation's
        # budget, see client/pacing.py) that starts now: the first poll waits one spacing
        # whatever triggerer runs it. Later clients of this run keep that pacer.
        connection = await hook.aget_client()
        if self._pacer is None:
            self._pacer = connection.pacer
        # The connection's own budget applies when the kwargs name none.
        self._connection_budget = hook.config.requests_per_minute
        return connection

    def _report(self, status: JobStatus) -> None:
        progress = None if status.progress is None else int(status.progress)
        key = (status.status, progress)
        if key != self._last_report:
            self._last_report = key
            shown = "" if progress is None else f" ({progress}%)"
            self.log.info("Firefly job %s: %s%s", self.job_id, status.status, shown)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until the job ends or the deadline passes; yield exactly one event."""
        client: AsyncFireflyClient | None = None
        try:
            try:
                connection = await self._connection_client()
                budget = budget_for(
                    self.firefly_conn_id,
                    self.requests_per_minute or self._connection_budget,
                )
                client = connection.budgeted(budget, pacer=self._pacer)
                payload = await self._poll(client, budget)
            except asyncio.CancelledError:
                self.log.info(
                    "Trigger for Firefly job %s stopped (triggerer shutdown or task no longer "
                    "deferred); the job keeps running at Adobe and is not cancelled",
                    self.job_id,
                )
                raise
            except FireflyError as error:
                payload = self._error_payload(error, None)
            except Exception as error:  # e.g. the connection does not exist
                self.log.exception("Trigger for Firefly job %s failed", self.job_id)
                payload = event_payload(
                    self.job,
                    "error",
                    None,
                    f"{type(error).__name__}: {error}",
                    type(error).__name__,
                )
        finally:
            if client is not None:
                try:
                    await client.aclose()
                except Exception:  # pragma: no cover - closing must not hide the event
                    self.log.debug("closing the Firefly client failed", exc_info=True)
        yield TriggerEvent(payload)  # type: ignore[no-untyped-call]

    async def _poll(self, client: AsyncFireflyClient, budget: RequestBudget) -> EventPayload:
        loop = asyncio.get_running_loop()
        handle = JobHandle.from_dict(self.job)
        policy = self._poll_policy
        number = 0
        transient = 0
        last: JobStatus | None = None
        due = loop.time() + self._delay(policy, 0)
        self.log.info(
            "Polling Firefly job %s at %s (first poll in %.0f s%s)",
            self.job_id,
            handle.status_url,
            max(0.0, due - loop.time()),
            "" if self.deadline is None else f", deadline in {self._remaining():.0f} s",
        )
        while True:
            remaining = self._remaining()
            wait = due - loop.time()
            if remaining is not None and remaining <= wait:
                await asyncio.sleep(max(0.0, remaining))
                return await self._at_deadline(client, budget, last)
            if wait > 0:
                await asyncio.sleep(wait)
            await budget.acquire()
            if (remaining := self._remaining()) is not None and remaining <= 0:
                return await self._at_deadline(client, budget, last)
            try:
                # A poll that hangs (a server dripping one byte a second) must not hold the
                # trigger past its own deadline.
                status = await asyncio.wait_for(client.get_status(handle), timeout=remaining)
            except asyncio.TimeoutError:
                self.log.warning(
                    "Firefly job %s: a status poll was still unanswered at the deadline",
                    self.job_id,
                )
                return await self._at_deadline(client, budget, last)
            except FireflyRateLimitError as error:
                paused = budget.pause(error.retry_after)
                self.log.warning(
                    "Firefly job %s: status poll rate limited (HTTP 429); all polls of "
                    "connection %r wait %.1f s",
                    self.job_id,
                    self.firefly_conn_id,
                    paused,
                )
                due = loop.time()  # the budget's pause delays the next poll
                continue
            except FireflyTLSError as error:
                # an untrusted certificate stays untrusted: no point polling again
                return self._error_payload(error, last)
            except (FireflyServerError, FireflyConnectionError) as error:
                transient += 1
                if transient >= MAX_TRANSIENT_FAILURES:
                    return self._error_payload(error, last)
                self.log.warning(
                    "Firefly job %s: status poll failed (%s); trying again later (%d of %d)",
                    self.job_id,
                    error,
                    transient,
                    MAX_TRANSIENT_FAILURES,
                )
            else:
                transient = 0
                last = status
                self._report(status)
                if status.is_terminal:
                    return terminal_payload(self.job, status)
            number += 1
            due = loop.time() + self._delay(policy, number)

    async def _at_deadline(
        self, client: AsyncFireflyClient, budget: RequestBudget, last: JobStatus | None
    ) -> EventPayload:
        return await end_at_deadline(
            client, budget, self.job, cancel=self.cancel_on_deadline, last=last, log=self.log
        )

    async def on_kill(self) -> None:
        """A user killed the deferred task (mark failed, clear...): cancel the job we own.

        Not called on triggerer shutdown. Airflow 3.3 also calls it when a triggerer finds
        its trigger handed to another triggerer (apache/airflow#73454): the task is then still
        deferred and the other triggerer polls the job, so it is left alone. Jobs a sensor
        merely watches (``cancel_on_deadline=False``) are left alone too.
        """
        if not self.cancel_on_deadline:
            return
        if await task_still_deferred(getattr(self, "task_instance", None)):
            self.log.warning(
                "Trigger for Firefly job %s stopped here but its task is still deferred "
                "(another triggerer took the trigger over); the job is not cancelled",
                self.job_id,
            )
            return
        try:
            connection = await self._connection_client()
            # this run's pacer: the cancel waits its turn
            async with connection.budgeted(None, pacer=self._pacer) as client:
                cancelled = await asyncio.wait_for(
                    client.cancel(JobHandle.from_dict(self.job)), timeout=cancel_timeout(client)
                )
            self.log.warning(
                "Task killed: Firefly job %s %s",
                self.job_id,
                "cancel requested" if cancelled else "had already ended",
            )
        except Exception as error:
            self.log.warning(
                "Task killed: cancelling Firefly job %s failed: %s", self.job_id, error
            )

    # -- events ------------------------------------------------------------------------------

    def _error_payload(self, error: FireflyError, last: JobStatus | None) -> EventPayload:
        self.log.error("Firefly job %s: polling failed: %s", self.job_id, error)
        return error_payload(self.job, error, last)
