"""What :class:`~airflow_provider_firefly.triggers.firefly.FireflyJobTrigger` does when its
deadline passes: cancel the job it owns (within :data:`CANCEL_TIMEOUT`), and tell a job that
ended meanwhile from one that was cut off."""

from __future__ import annotations

import asyncio
from typing import Protocol

from airflow_provider_firefly.client.async_api import AsyncFireflyClient
from airflow_provider_firefly.client.errors import FireflyError
from airflow_provider_firefly.client.jobs import JobHandle, JobStatus
from airflow_provider_firefly.client.request_budget import RequestBudget
from airflow_provider_firefly.triggers.payloads import (
    EventPayload,
    JobRecord,
    event_payload,
    terminal_payload,
)

__all__ = ["CANCEL_TIMEOUT", "cancel_timeout", "end_at_deadline"]


class Log(Protocol):
    """The trigger's logger (Airflow's or the standard library's)."""

    def info(self, msg: str, /, *args: object) -> object: ...
    def warning(self, msg: str, /, *args: object) -> object: ...


#: Seconds the cancel at the deadline (and the status read after it) may take.
CANCEL_TIMEOUT = 30.0


def cancel_timeout(client: AsyncFireflyClient) -> float:
    """A cancel's time limit: its own, plus the wait for this run's turn in the budget."""
    return CANCEL_TIMEOUT + (client.pacer.spacing if client.pacer is not None else 0.0)


async def end_at_deadline(
    client: AsyncFireflyClient,
    budget: RequestBudget,
    job: JobRecord,
    *,
    cancel: bool,
    last: JobStatus | None,
    log: Log,
) -> EventPayload:
    """The event once the deadline passed: ``deadline``, after cancelling the job if
    ``cancel``; the job's own terminal event if the cancel found it already ended."""
    job_id = job["job_id"]
    where = f"last status {last.status}" if last is not None else "not polled yet"
    if not cancel:
        log.warning("Firefly job %s: deadline passed (%s)", job_id, where)
        return event_payload(
            job,
            "deadline",
            last,
            f"Firefly job {job_id} did not finish before the deadline ({where})",
            "FireflyJobTimeoutError",
        )
    handle = JobHandle.from_dict(dict(job))
    log.warning(
        "Firefly job %s: deadline passed (%s); cancelling it at %s",
        job_id,
        where,
        handle.cancel_url or "its cancel URL",
    )
    outcome = "cancel requested"
    try:
        await budget.acquire()
        cancelled = await asyncio.wait_for(client.cancel(handle), timeout=cancel_timeout(client))
    except asyncio.TimeoutError:
        outcome = f"cancel unanswered after {cancel_timeout(client):.0f} s"
        log.warning("Firefly job %s: %s", job_id, outcome)
    except FireflyError as error:
        outcome = f"cancel failed: {error}"
        log.warning("Firefly job %s: %s", job_id, outcome)
    else:
        if cancelled:
            log.warning("Firefly job %s: cancel requested", job_id)
        else:
            # 409/410: the job ended meanwhile; report how it ended rather than a deadline.
            log.info("Firefly job %s: already ended; not cancelled", job_id)
            outcome = "the job had already ended"
            try:
                await budget.acquire()
                status = await asyncio.wait_for(
                    client.get_status(handle), timeout=cancel_timeout(client)
                )
            except (FireflyError, asyncio.TimeoutError):
                pass
            else:
                if status.is_terminal:
                    return terminal_payload(job, status)
    return event_payload(
        job,
        "deadline",
        last,
        f"Firefly job {job_id} did not finish before the deadline ({where}); {outcome}",
        "FireflyJobTimeoutError",
    )
