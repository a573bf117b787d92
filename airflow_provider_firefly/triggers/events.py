"""Trigger events of :class:`~airflow_provider_firefly.triggers.firefly.FireflyJobTrigger`,
turned back into a job status or the typed error (for ``execute_complete``); they are built in
``triggers.payloads``."""

from __future__ import annotations

from typing import Any

from airflow_provider_firefly.client import errors
from airflow_provider_firefly.client.errors import FireflyError
from airflow_provider_firefly.client.jobs import JobStatus

__all__ = ["EVENT_STATUSES", "raise_for_event"]

EVENT_STATUSES = ("succeeded", "failed", "cancelled", "timeout", "deadline", "error")


def raise_for_event(event: dict[str, Any]) -> JobStatus:
    """For ``execute_complete``: the :class:`JobStatus` of a ``succeeded`` event, else raise.

    ``failed`` → :class:`FireflyJobFailedError`, ``cancelled`` → :class:`FireflyJobCancelledError`,
    ``timeout``/``deadline`` → :class:`FireflyJobTimeoutError`, ``error`` → the
    :class:`FireflyError` subclass named by ``error_type`` (else :class:`FireflyError`). Every
    error carries the job id and the event's message.
    """
    if not isinstance(event, dict):
        raise FireflyError(f"unexpected trigger event: {event!r}")
    status = event.get("status")
    job_data = event.get("job")
    job: dict[str, Any] = job_data if isinstance(job_data, dict) else {}
    job_status_data = event.get("job_status")
    job_status = JobStatus.from_dict(job_status_data) if isinstance(job_status_data, dict) else None
    job_id = (job_status.job_id if job_status else "") or str(job.get("job_id") or "")
    message = str(event.get("message") or f"Firefly job {job_id} ended with status {status}")
    if job_id and job_id not in message:
        message = f"Firefly job {job_id}: {message}"
    common: dict[str, Any] = {
        "job_id": job_id or None,
        "job_status": job_status.status if job_status else None,
        "error_code": job_status.error_code if job_status else None,
    }
    if status == "succeeded":
        if job_status is None:
            raise FireflyError(f"{message}: the event has no job status", job_id=job_id or None)
        return job_status
    if status == "failed":
        raise errors.FireflyJobFailedError(message, **common)
    if status == "cancelled":
        raise errors.FireflyJobCancelledError(message, **common)
    if status in ("timeout", "deadline"):
        if status == "deadline":
            common["job_status"] = common["job_status"] or "deadline"
        raise errors.FireflyJobTimeoutError(message, **common)
    error_type = event.get("error_type")
    cls = _EVENT_ERRORS.get(error_type, FireflyError) if isinstance(error_type, str) else None
    raise _build_error(cls or FireflyError, message, common)


#: The error classes an ``error`` event may name (the trigger names the class it caught).
_EVENT_ERRORS: dict[str, type[FireflyError]] = {
    cls.__name__: cls
    for cls in (
        FireflyError,
        errors.FireflyConnectionError,
        errors.FireflyServerError,
        errors.FireflyRateLimitError,
        errors.FireflyJobFailedError,
        errors.FireflyJobCancelledError,
        errors.FireflyJobTimeoutError,
        errors.FireflyAuthError,
        errors.FireflyAccessError,
        errors.FireflyNotFoundError,
        errors.FireflyContentPolicyError,
        errors.FireflyConfigError,
        errors.FireflyValidationError,
        errors.FireflyTimeoutError,
        errors.FireflyOutputExpiredError,
    )
}


def _build_error(cls: type[FireflyError], message: str, common: dict[str, Any]) -> FireflyError:
    """An instance of ``cls`` (job errors also take the job id and status)."""
    if issubclass(cls, errors.FireflyJobError):
        return cls(message, **common)
    if issubclass(cls, errors.FireflyConfigError):  # takes no error code or job id
        return cls(message)
    return cls(message, error_code=common.get("error_code"), job_id=common.get("job_id"))
