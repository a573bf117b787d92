"""``FireflyJobOperator``: validate → upload inputs → submit (or resume) → wait or defer → save.

Subclasses only turn their typed parameters into a :class:`FireflyRequest`; everything else
(checks before any network call, the never-pay-twice record, polling, deferral, cancel on kill,
saving outputs, the XCom value) lives here once.

Importing this module imports ``airflow.sdk`` and the standard library only; the hook, the
client and ``jsonschema`` load when a task runs.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from airflow_provider_firefly.operators._errors import bad_param, body_errors
from airflow_provider_firefly.operators.links import FireflyOutputLink

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_firefly.client.jobs import JobHandle, JobStatus
    from airflow_provider_firefly.hooks.firefly import FireflyHook
    from airflow_provider_firefly.operators._inputs import ImageInputs
    from airflow_provider_firefly.operators._resume import JobRecord

__all__ = ["FireflyJobOperator", "FireflyRequest"]

DEFAULT_CONN_ID = "firefly_default"
#: Seconds kept between our own deadline and ``execution_timeout``, to cancel the job first.
TIMEOUT_MARGIN = 5.0
#: Extra seconds the deferral may outlive the trigger's deadline (the trigger cancels first).
DEFER_GRACE = 120.0


def _default_deferrable() -> bool:
    from airflow_provider_firefly.compat import conf

    return bool(conf.getboolean("operators", "default_deferrable", fallback=False))


def _try_number(context: Any) -> int | None:
    ti = context.get("ti") if context else None
    number = getattr(ti, "try_number", None)
    return number if isinstance(number, int) else None


def _maybe_accepted(error: Exception) -> bool:
    """Whether a failed submission may still have been accepted (and billed) by Firefly: the
    request was sent and the answer was lost (read timeout, dropped connection) or came from a
    gateway that gave up waiting for Firefly (502, 504)."""
    from airflow_provider_firefly.client.errors import FireflyConnectionError, FireflyServerError

    if isinstance(error, FireflyConnectionError):
        return error.request_sent
    return isinstance(error, FireflyServerError) and error.status in (502, 504)


@dataclass
class FireflyRequest:
    """What a subclass asks for: an operation, its JSON body and ``x-model-version``."""

    operation: str
    body: dict[str, Any]
    model_version: str | None = None
    #: requested output media type (names the saved files' extension), if the operation has one.
    media_type: str | None = None
    field_map: dict[str, str] = field(default_factory=dict)


class FireflyJobOperator(BaseOperator):
    """Base of the Firefly job operators: one billed Firefly job per task run, saved outputs.

    :param firefly_conn_id: the ``firefly`` connection.
    :param output_dir: where to save the outputs at once (their URLs expire after one hour): an
        ``ObjectStoragePath``, a storage URL (``s3://bucket/prefix``, ``file:///data``) or an
        absolute local path. None: nothing is saved (the XCom still lists the URLs). Templated.
    :param output_name: file name template; placeholders ``{task_id}``, ``{map_index}``,
        ``{index}`` (output number), ``{seed}``, ``{ext}``, ``{job_id}``, ``{run_id}``,
        ``{dag_id}``. Default ``{task_id}-{index}-{seed}.{ext}`` (``{task_id}-{map_index}-...``
        for mapped tasks). Templated.
    :param job_timeout: seconds to wait for the job (default one hour); at the deadline the job
        is cancelled. Also bounded by ``execution_timeout``, so a task timeout cancels the job.
    :param poll_interval: shortest seconds between two status polls (default 2).
    :param max_poll_interval: longest seconds between two polls (default 30).
    :param expected_seconds: when to poll first; default: the operation's typical duration.
    :param resume_previous_job: resume the job an earlier try of this task instance submitted,
        instead of submitting (and paying for) a new one (default True).
    :param cancel_on_kill: cancel the running job when the task is killed or times out.
    :param deferrable: wait in the triggerer instead of a worker slot; default
        ``[operators] default_deferrable``.
    """

    template_fields: Sequence[str] = ("output_dir", "output_name")
    template_ext: Sequence[str] = (".txt",)
    template_fields_renderers: ClassVar[dict[str, str]] = {}
    ui_color = "#fa0f00"
    ui_fgcolor = "#ffffff"
    operator_extra_links = (FireflyOutputLink(),)

    def __init__(
        self,
        *,
        firefly_conn_id: str = DEFAULT_CONN_ID,
        output_dir: Any = None,
        output_name: str | None = None,
        job_timeout: float = 3600.0,
        poll_interval: float | None = None,
        max_poll_interval: float = 30.0,
        expected_seconds: float | None = None,
        resume_previous_job: bool = True,
        cancel_on_kill: bool = True,
        deferrable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.firefly_conn_id = firefly_conn_id
        self.output_dir = output_dir
        self.output_name = output_name
        self.job_timeout = job_timeout
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.expected_seconds = expected_seconds
        self.resume_previous_job = resume_previous_job
        self.cancel_on_kill = cancel_on_kill
        self.deferrable = _default_deferrable() if deferrable is None else bool(deferrable)
        self._job: JobHandle | None = None
        self._record: JobRecord | None = None
        self._waiting = False
        self._check_timing()

    # -- subclass API --------------------------------------------------------------------------

    def build_request(self, inputs: ImageInputs) -> FireflyRequest:
        """The request from the (rendered) parameters; image inputs go through ``inputs.add``.

        Must not make network calls: raise ``bad_param(...)`` for a wrong value.
        """
        raise NotImplementedError

    # -- helpers -------------------------------------------------------------------------------

    @property
    def _label(self) -> str:
        return type(self).__name__

    def _bad(self, param: str, problem: str, fix: str = "") -> Exception:
        return bad_param(self._label, param, problem, fix)

    def _check_timing(self) -> None:
        for name in ("job_timeout", "max_poll_interval"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise self._bad(name, f"must be a number of seconds above 0, got {value!r}")
        for name in ("poll_interval", "expected_seconds"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0
            ):
                raise self._bad(name, f"must be a number of seconds, 0 or more, got {value!r}")
        if not isinstance(self.firefly_conn_id, str) or not self.firefly_conn_id.strip():
            raise self._bad("firefly_conn_id", "must be a connection id")

    @cached_property
    def hook(self) -> FireflyHook:
        from airflow_provider_firefly.hooks.firefly import FireflyHook

        return FireflyHook(firefly_conn_id=self.firefly_conn_id)

    def _operation(self, name: str) -> Any:
        from airflow_provider_firefly.client.operations import get_operation

        return get_operation(name)

    def prepare(self) -> tuple[FireflyRequest, ImageInputs, Any]:
        """Every local check (parameters, inputs, body against the spec): no Firefly request.

        Returns the request, its image inputs (not yet uploaded) and the output directory.
        """
        from airflow_provider_firefly.operators._inputs import ImageInputs
        from airflow_provider_firefly.operators._outputs import (
            check_output_name,
            resolve_output_dir,
        )

        destination = resolve_output_dir(self._label, self.output_dir)
        if self.output_name is not None:
            check_output_name(self._label, self.output_name)
        inputs = ImageInputs(self._label, allowed_hosts=self._own_hosts())
        request = self.build_request(inputs)
        self.validate_body(request)
        return request, inputs, destination

    def _own_hosts(self) -> frozenset[str]:
        """Hosts of the connection's API (the emulator, a gateway) also serve URL inputs."""
        try:
            return frozenset({self.hook.config.http.api_host.lower()})
        except Exception:  # a broken connection is reported by the first real call
            return frozenset()

    def validate_body(self, request: FireflyRequest) -> None:
        """Check the body and ``x-model-version`` against the shipped OpenAPI document."""
        from airflow_provider_firefly import schema

        op = self._operation(request.operation)
        try:
            op.check_model_version(request.model_version)
        except ValueError as error:
            raise self._bad("model_version", str(error)) from None
        errors = schema.validate_request(
            op.path,
            op.method,
            request.body,
            model_version=op.check_model_version(request.model_version),
            own_hosts=self._own_hosts(),
        )
        if errors:
            raise body_errors(self._label, errors, request.field_map)

    def _timeout(self, started: float) -> float:
        timeout = float(self.job_timeout)
        if self.execution_timeout is not None:
            left = self.execution_timeout.total_seconds() - (time.monotonic() - started)
            timeout = min(timeout, max(1.0, left - TIMEOUT_MARGIN))
        return timeout

    def _expected(self, op: Any) -> float:
        if self.expected_seconds is not None:
            return float(self.expected_seconds)
        return float(op.expected_seconds)

    # -- execute -------------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_firefly.client.errors import (
            FireflyConnectionError,
            FireflyNotFoundError,
            FireflyServerError,
        )
        from airflow_provider_firefly.client.jobs import JobHandle
        from airflow_provider_firefly.operators._resume import JobRecord

        started = time.monotonic()
        request, inputs, _ = self.prepare()
        op = self._operation(request.operation)
        hook = self.hook
        record = self._record = JobRecord.for_context(context, self.log)
        previous = record.read() if self.resume_previous_job else None
        handle: JobHandle | None = None
        resumed = False
        if (
            previous is not None
            and previous.get("uncertain")
            and previous.get("operation") == op.name
        ):
            raise self._unanswered_earlier(previous, record.key)
        if previous is not None and previous.get("operation") == op.name:
            handle = JobHandle.from_dict(previous["job"])
            self.log.info(
                "Resuming Firefly job %s, submitted by an earlier try at %s: no new job is "
                "submitted (resume_previous_job=True)",
                handle.job_id,
                previous.get("submitted_at"),
            )
            try:
                status = hook.get_status(handle)
            except FireflyNotFoundError:
                self.log.warning(
                    "Firefly no longer knows job %s; submitting a new one", handle.job_id
                )
                record.delete()
                handle = None
            else:
                resumed = True
                self._job = handle
                if status.is_terminal:
                    return self._finish(context, request, handle, status, resumed=True)
        elif previous is not None:
            self.log.warning(
                "Ignoring the job record %s of another operation (%s)",
                record.key,
                previous.get("operation"),
            )
            record.delete()
        if handle is None:
            if inputs.needs_upload:
                inputs.upload(hook, self.log)
            # A token first, so that an IMS outage is never mistaken for an unanswered submission.
            hook.get_access_token()
            try:
                handle = hook.submit(op.name, request.body, model_version=request.model_version)
            except (FireflyConnectionError, FireflyServerError) as error:
                if not _maybe_accepted(error):
                    raise  # certainly not accepted: nothing was billed, a retry may submit
                record.write_uncertain(
                    op.name, request.model_version, _try_number(context), error.message
                )
                error.message = (
                    f"{error.message}. The submission was sent but not answered: Firefly may "
                    "have accepted (and billed) the job, whose id is unknown, so it is not "
                    "submitted again"
                    + (
                        f"; a retry of this task stops at the record {record.key} until you "
                        "check Adobe's usage and delete it (or set resume_previous_job=False)"
                        if record.key
                        else ""
                    )
                )
                error.args = (error.message,)
                raise
            self._job = handle
            self.log.info("Firefly accepted job %s (%s)", handle.job_id, op.label)
            record.write(handle.to_dict(), op.name, request.model_version, _try_number(context))

        timeout = self._timeout(started)
        if self.deferrable:
            self._defer(handle, request, op, timeout, resumed)
        status = self._wait(handle, op, timeout, record)
        return self._finish(context, request, handle, status, resumed=resumed)

    def _unanswered_earlier(self, previous: dict[str, Any], key: str | None) -> Exception:
        """The error of a try that finds an earlier try's unanswered submission."""
        from airflow_provider_firefly.client.errors import FireflyConnectionError

        return FireflyConnectionError(
            f"{self._label}: an earlier try (try {previous.get('try_number') or '?'}) sent the "
            f"{previous.get('operation')} submission at {previous.get('submitted_at')} but got no "
            f"answer ({previous.get('reason') or 'connection lost'}): Firefly may have accepted "
            "and billed that job, whose id is unknown, so this try does not submit again. Check "
            f"the Firefly usage in the Adobe Admin Console, then delete the Variable {key} (or "
            "set resume_previous_job=False) and clear the task to submit a new job",
            request_sent=True,
        )

    def _poll_policy(self, op: Any) -> Any:
        from airflow_provider_firefly.client.api import PollPolicy

        low = float(self.poll_interval) if self.poll_interval else 2.0
        return PollPolicy(
            first_delay=self._expected(op),
            min_interval=max(low, 0.05),
            max_interval=max(float(self.max_poll_interval), low, 0.05),
        )

    def _wait(self, handle: JobHandle, op: Any, timeout: float, record: JobRecord) -> JobStatus:
        from airflow_provider_firefly.client.errors import FireflyJobError

        self._waiting = True
        try:
            return self.hook.wait(
                handle,
                timeout=timeout,
                poll=self._poll_policy(op),
                expected_seconds=self._expected(op),
            )
        except FireflyJobError:
            # failed, cancelled, timed out at Adobe, or our deadline (the client cancelled it):
            # the job is over, so a retry or a cleared task gets a new job.
            record.delete()
            raise
        finally:
            self._waiting = False

    def _defer(
        self, handle: JobHandle, request: FireflyRequest, op: Any, timeout: float, resumed: bool
    ) -> None:
        from airflow_provider_firefly.triggers.firefly import FireflyJobTrigger

        low = float(self.poll_interval) if self.poll_interval else 2.0
        deadline = time.time() + timeout
        self.log.info(
            "Deferring: the triggerer polls job %s until it ends or the deadline (%.0f s)",
            handle.job_id,
            timeout,
        )
        self.defer(
            trigger=FireflyJobTrigger(
                firefly_conn_id=self.firefly_conn_id,
                job=handle.to_dict(),
                expected_seconds=self._expected(op),
                poll_min_interval=low,
                poll_max_interval=max(float(self.max_poll_interval), low),
                deadline=deadline,
                cancel_on_deadline=True,
            ),
            method_name="execute_complete",
            kwargs={
                "request": {
                    "operation": request.operation,
                    "model_version": request.model_version,
                    "media_type": request.media_type,
                },
                "resumed": resumed,
            },
            timeout=datetime.timedelta(seconds=timeout + DEFER_GRACE),
        )

    def execute_complete(
        self,
        context: Context,
        event: dict[str, Any],
        request: dict[str, Any] | None = None,
        resumed: bool = False,
    ) -> dict[str, Any]:
        """Resume after the trigger: raise the typed error, or save the outputs and return."""
        from airflow_provider_firefly.client.errors import FireflyJobError
        from airflow_provider_firefly.client.jobs import JobHandle
        from airflow_provider_firefly.operators._resume import JobRecord
        from airflow_provider_firefly.triggers.firefly import raise_for_event

        record = self._record = JobRecord.for_context(context, self.log)
        handle = JobHandle.from_dict(event["job"])
        self._job = handle
        self.log.info(
            "Trigger reported job %s: %s %s",
            handle.job_id,
            event.get("status"),
            event.get("message") or "",
        )
        if not resumed:
            # dag.test() drops the deferral kwargs: tell from the record which try submitted.
            previous = record.read()
            submitted_by = previous.get("try_number") if previous else None
            resumed = submitted_by is not None and submitted_by != _try_number(context)
        try:
            status = raise_for_event(event)
        except FireflyJobError:
            record.delete()
            raise
        info = request or self._request_info()
        req = FireflyRequest(
            operation=str(info.get("operation", "")),
            body={},
            model_version=info.get("model_version"),
            media_type=info.get("media_type"),
        )
        return self._finish(context, req, handle, status, resumed=resumed)

    def _request_info(self) -> dict[str, Any]:
        """Operation, model version and media type, rebuilt from the parameters (no network).

        ``execute_complete`` normally gets them from the deferral's kwargs; ``dag.test()``
        passes only the event, so they are rebuilt here.
        """
        from airflow_provider_firefly.operators._inputs import ImageInputs

        try:
            request = self.build_request(ImageInputs(self._label))
        except Exception:
            return {}
        return {
            "operation": request.operation,
            "model_version": request.model_version,
            "media_type": request.media_type,
        }

    # -- results -------------------------------------------------------------------------------

    def _output_name(self, context: Context) -> str:
        if self.output_name:
            return self.output_name
        ti = context.get("ti") if context else None
        index = getattr(ti, "map_index", -1) if ti is not None else -1
        mapped = index is not None and index >= 0
        return (
            "{task_id}-{map_index}-{index}-{seed}.{ext}"
            if mapped
            else ("{task_id}-{index}-{seed}.{ext}")
        )

    def _finish(
        self,
        context: Context,
        request: FireflyRequest,
        handle: JobHandle,
        status: JobStatus,
        *,
        resumed: bool,
    ) -> dict[str, Any]:
        from airflow_provider_firefly.client.jobs import job_error
        from airflow_provider_firefly.operators._outputs import resolve_output_dir, save_outputs

        record = self._record
        error = job_error(status)
        if error is not None:
            if record is not None:
                record.delete()
            raise error
        destination = resolve_output_dir(self._label, self.output_dir)
        ti = context.get("ti") if context else None
        fields = {
            "task_id": self.task_id,
            "dag_id": getattr(ti, "dag_id", "") if ti is not None else "",
            "run_id": getattr(ti, "run_id", "") if ti is not None else "",
            "map_index": getattr(ti, "map_index", -1) if ti is not None else -1,
            "job_id": handle.job_id.rsplit(":", 1)[-1],
        }
        status, outputs = save_outputs(
            self.hook,
            job=handle,
            status=status,
            destination=destination,
            name_template=self._output_name(context),
            name_fields=fields,
            media_type=request.media_type,
            log=self.log,
        )
        if record is not None:
            record.delete()
        size = status.result.get("size") if isinstance(status.result, dict) else None
        result = {
            "job_id": handle.job_id,
            "status": status.status,
            "operation": request.operation,
            "model_version": request.model_version,
            "resumed": resumed,
            "seeds": [o["seed"] for o in outputs if o["seed"] is not None],
            "size": size if isinstance(size, dict) else None,
            "outputs": outputs,
            "saved_paths": [o["path"] for o in outputs if o["path"]],
        }
        self.log.info(
            "Firefly job %s succeeded: %d output(s)%s",
            handle.job_id,
            len(outputs),
            f", saved to {destination}" if destination is not None else "",
        )
        return result

    # -- cancel --------------------------------------------------------------------------------

    def on_kill(self) -> None:
        """Cancel the running Firefly job (task killed or ``execution_timeout``)."""
        job = self._job
        if job is None or not self._waiting or not self.cancel_on_kill:
            return
        try:
            cancelled = self.hook.cancel(job)
        except Exception as error:
            self.log.warning("on_kill: could not cancel Firefly job %s: %s", job.job_id, error)
            return
        self.log.warning(
            "on_kill: %s Firefly job %s",
            "cancelled" if cancelled else "no cancel needed for (already ended)",
            job.job_id,
        )
        if self._record is not None:
            self._record.delete()
