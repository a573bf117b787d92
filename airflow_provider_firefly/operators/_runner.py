"""Submit a task's Firefly job, or resume the one an earlier try submitted: one unit.

The order is what keeps a task from paying twice: the intent record is written before the
request leaves and completed with the handle right after acceptance; an unanswered submission
(read timeout, dropped connection, gateway 502/504, an unreadable 2xx) leaves the intent, and the
next try refuses with :class:`FireflyUnansweredSubmissionError` unless told to resubmit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_firefly.client.errors import (
    FireflyAccessError,
    FireflyAuthError,
    FireflyConfigError,
    FireflyConnectionError,
    FireflyContentPolicyError,
    FireflyError,
    FireflyNotFoundError,
    FireflyRateLimitError,
    FireflyRequestError,
    FireflyServerError,
)
from airflow_provider_firefly.client.jobs import JobHandle, JobStatus
from airflow_provider_firefly.operators._resume import JobRecord

if TYPE_CHECKING:
    from airflow_provider_firefly.client.operations import Operation
    from airflow_provider_firefly.hooks.firefly import FireflyHook
    from airflow_provider_firefly.operators._inputs import ImageInputs
    from airflow_provider_firefly.operators.request import FireflyRequest

__all__ = [
    "FireflyUnansweredSubmissionError",
    "JobRunner",
    "JobStart",
    "resumed_from_record",
    "try_number_of",
    "unanswered_error",
]


class FireflyUnansweredSubmissionError(FireflyConnectionError):
    """A submission was sent but never answered: Firefly may have accepted (and billed) a job
    whose id is unknown. Raised by the try that lost the answer and by every later try, with
    the same text, until the record is deleted or ``resubmit_unanswered=True`` is set."""


@dataclass
class JobStart:
    """The job a try works on: its handle, its status if already known, and whether an earlier
    try submitted it."""

    handle: JobHandle
    status: JobStatus | None
    resumed: bool


def _certainly_not_accepted(error: BaseException) -> bool:
    """Errors after which Firefly certainly holds no job: a refusal, or nothing was sent."""
    if isinstance(error, FireflyConnectionError):
        return not error.request_sent
    if isinstance(error, FireflyServerError):
        return error.status not in (502, 504)  # gateways give up while Firefly may go on
    return isinstance(
        error,
        (
            FireflyRequestError,
            FireflyAuthError,
            FireflyAccessError,
            FireflyContentPolicyError,
            FireflyRateLimitError,
            FireflyConfigError,
        ),
    )


def try_number_of(context: Any) -> int | None:
    ti = context.get("ti") if context else None
    number = getattr(ti, "try_number", None)
    return number if isinstance(number, int) else None


def resumed_from_record(record: JobRecord, context: Any) -> bool:
    """Whether an earlier try submitted the recorded job (the record names the try)."""
    previous = record.read()
    submitted_by = previous.get("try_number") if previous else None
    return submitted_by is not None and submitted_by != try_number_of(context)


def unanswered_error(label: str, previous: dict[str, Any], key: str | None) -> Exception:
    """The one error of an unanswered submission, the same for the try that lost the answer
    and for every later try."""
    where = (
        f"delete the Variable {key} (or set resume_previous_job=False)"
        if key
        else "set resume_previous_job=False"
    )
    return FireflyUnansweredSubmissionError(
        f"{label}: the {previous.get('operation')} submission sent at "
        f"{previous.get('submitted_at')} (try {previous.get('try_number') or '?'}) was not "
        f"answered ({previous.get('reason') or 'connection lost'}): Firefly may have accepted "
        "and billed that job, whose id is unknown, so it is not submitted again. Check the "
        f"Firefly usage in the Adobe Admin Console, then {where} and clear the task, or set "
        "resubmit_unanswered=True to submit anyway (which may pay twice)",
        request_sent=True,
    )


@dataclass
class JobRunner:
    """Submit-or-resume for one task try (see the module docstring)."""

    label: str
    hook: FireflyHook
    record: JobRecord
    log: Any
    resume_previous_job: bool = True
    resubmit_unanswered: bool = False

    def start(
        self, context: Any, request: FireflyRequest, op: Operation, inputs: ImageInputs
    ) -> JobStart:
        previous = self.record.read() if self.resume_previous_job else None
        if previous is not None and previous.get("operation") != op.name:
            self.log.warning(
                "Ignoring the job record %s of another operation (%s)",
                self.record.key,
                previous.get("operation"),
            )
            previous = None
        if previous is not None and previous.get("job") is None:
            if not self.resubmit_unanswered:
                raise unanswered_error(self.label, previous, self.record.key)
            self.log.warning(
                "An earlier %s submission was never answered; submitting again because "
                "resubmit_unanswered=True (Firefly may bill both jobs)",
                op.name,
            )
        elif previous is not None:
            started = self._resume(JobHandle.from_dict(previous["job"]), previous)
            if started is not None:
                return started
        return JobStart(self._submit(context, request, op, inputs), None, resumed=False)

    def _resume(self, handle: JobHandle, previous: dict[str, Any]) -> JobStart | None:
        self.log.info(
            "Resuming Firefly job %s, submitted by an earlier try at %s: no new job is "
            "submitted (resume_previous_job=True)",
            handle.job_id,
            previous.get("submitted_at"),
        )
        try:
            status = self.hook.get_status(handle)
        except FireflyNotFoundError:
            self.log.warning("Firefly no longer knows job %s; submitting a new one", handle.job_id)
            self.record.delete()
            return None
        return JobStart(handle, status, resumed=True)

    def _submit(
        self, context: Any, request: FireflyRequest, op: Operation, inputs: ImageInputs
    ) -> JobHandle:
        if inputs.needs_upload:
            inputs.upload(self.hook, self.log)
        # A token first, so that an IMS outage is never mistaken for an unanswered submission.
        self.hook.get_access_token()
        try_number = try_number_of(context)
        self.record.write_intent(op.name, request.model_version, try_number)
        try:
            # The body was validated by the operator already.
            handle = self.hook.submit(
                op.name, request.body, model_version=request.model_version, validate=False
            )
        except BaseException as error:
            if _certainly_not_accepted(error):
                self.record.delete()  # nothing billed: a retry may submit
                raise
            reason = error.message if isinstance(error, FireflyError) else type(error).__name__
            fields = self.record.mark_unanswered(op.name, request.model_version, try_number, reason)
            if not isinstance(error, Exception):
                raise  # a kill or interrupt: the intent stays for the next try
            raise unanswered_error(self.label, fields, self.record.key) from error
        self.record.write(handle.to_dict(), op.name, request.model_version, try_number)
        # the client logs the acceptance ("<operation> accepted job <id>"): logged once
        return handle
