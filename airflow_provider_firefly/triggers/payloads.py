"""The payloads of :class:`~airflow_provider_firefly.triggers.firefly.FireflyJobTrigger`'s
events, built from a job's status or a polling error (read back by ``triggers.events``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from airflow_provider_firefly.client.errors import FireflyError
from airflow_provider_firefly.client.jobs import JobStatus, job_error

__all__ = ["EventPayload", "JobRecord", "error_payload", "event_payload", "terminal_payload"]

#: The job a trigger polls: ``job_id``, ``status_url``, ``cancel_url`` (and ``request_id``).
JobRecord = Mapping[str, str | None]


class EventPayload(TypedDict):
    """What a trigger event carries (JSON-safe: it is stored in Airflow's database)."""

    status: str  # one of triggers.events.EVENT_STATUSES
    job: dict[str, str | None]
    job_status: dict[str, Any] | None  # JobStatus.to_dict()
    message: str
    error_type: str | None  # the name of the error class, if any


#: The event of each terminal job status.
_TERMINAL_EVENT = {
    "succeeded": "succeeded",
    "failed": "failed",
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "timeout": "timeout",
}


def event_payload(
    job: JobRecord,
    status: str,
    job_status: JobStatus | None,
    message: str,
    error_type: str | None,
) -> EventPayload:
    """The payload of one event: ``status`` (one of ``triggers.events.EVENT_STATUSES``), the job's
    handle, its last status, a message and the name of the error class, if any."""
    return {
        "status": status,
        "job": dict(job),
        "job_status": None if job_status is None else job_status.to_dict(),
        "message": message,
        "error_type": error_type,
    }


def terminal_payload(job: JobRecord, status: JobStatus) -> EventPayload:
    """The event of a job that ended (a success without outputs is ``failed``)."""
    error = job_error(status)
    event = _TERMINAL_EVENT.get(status.status, "failed")
    if status.succeeded and error is not None:
        event = "failed"  # succeeded without outputs
    message = (
        f"Firefly job {job['job_id']} succeeded with {len(status.outputs)} output(s)"
        if error is None
        else error.message
    )
    return event_payload(
        job, event, status, message, None if error is None else type(error).__name__
    )


def error_payload(job: JobRecord, error: FireflyError, last: JobStatus | None) -> EventPayload:
    """The ``error`` event of polling that failed for good."""
    message = f"Firefly job {job['job_id']}: polling failed: {error}"
    return event_payload(job, "error", last, message, type(error).__name__)
