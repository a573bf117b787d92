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

from airflow_provider_firefly.connection import DEFAULT_CONN_ID
from airflow_provider_firefly.operators._errors import bad_param, body_errors
from airflow_provider_firefly.operators._lineage_methods import JobLineageMixin
from airflow_provider_firefly.operators.links import FireflyOutputLink

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_firefly.client.jobs import JobHandle, JobStatus
    from airflow_provider_firefly.hooks.firefly import FireflyHook
    from airflow_provider_firefly.operators._inputs import ImageInputs
    from airflow_provider_firefly.operators._resume import JobRecord

__all__ = ["FireflyJobOperator", "FireflyRequest"]

#: Seconds kept between our own deadline and ``execution_timeout``, to cancel the job first.
TIMEOUT_MARGIN = 5.0
#: Extra seconds the deferral may outlive the trigger's deadline (the trigger cancels first).
DEFER_GRACE = 120.0


def _default_deferrable() -> bool:
    from airflow_provider_firefly.compat import conf

    return bool(conf.getboolean("operators", "default_deferrable", fallback=False))


@dataclass
class FireflyRequest:
    """What a subclass asks for: an operation, its JSON body and ``x-model-version``."""

    operation: str
    body: dict[str, Any]
    model_version: str | None = None
    #: requested output media type (names the saved files' extension), if the operation has one.
    media_type: str | None = None
    field_map: dict[str, str] = field(default_factory=dict)


class FireflyJobOperator(JobLineageMixin, BaseOperator):
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
    :param resubmit_unanswered: when an earlier try sent its submission but never got the answer
        (timeout, dropped connection, gateway 502/504, worker killed), submit again instead of
        refusing with ``FireflyUnansweredSubmissionError``. Firefly may then bill BOTH jobs: the
        unanswered one may have been accepted. Default False.
    :param cancel_on_kill: cancel the running job when the task is killed or times out.
    :param deferrable: wait in the triggerer instead of a worker slot; default
        ``[operators] default_deferrable``.
    :param wait_for_completion: False: submit the job (with the job record, so a retry after a
        crash does not pay twice), return its handle (XCom ``kind`` ``firefly_job_handle``:
        ``job_id``, ``status_url``, ``cancel_url``, ``operation``, ``model_version``,
        ``media_type``, ``seeds``) and end the task; a ``FireflyJobSensor(job=...)`` waits for
        it and saves the outputs. ``output_dir`` is then only checked. Default True.

    ``outlets=[Asset(...)]``: each asset's event gets the job id, operation, model version,
    saved paths, output count and seeds as its ``extra``. With the OpenLineage provider
    installed, the task reports its image inputs, saved files and the Firefly job (see
    ``operators.lineage``).
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
        resubmit_unanswered: bool = False,
        cancel_on_kill: bool = True,
        deferrable: bool | None = None,
        wait_for_completion: bool = True,
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
        self.resubmit_unanswered = bool(resubmit_unanswered)
        self.cancel_on_kill = cancel_on_kill
        self.deferrable = _default_deferrable() if deferrable is None else bool(deferrable)
        self.wait_for_completion = bool(wait_for_completion)
        self._job: JobHandle | None = None
        # what the lineage methods report: the inputs, the request sent, the XCom value
        self._input_items: list[Any] = []
        self._sent: dict[str, Any] = {}
        self._result: dict[str, Any] | None = None
        self._record: JobRecord | None = None
        self._waiting = False
        self._check_timing()
        if isinstance(output_name, str) and "{{" not in output_name and "{%" not in output_name:
            from airflow_provider_firefly.operators._names import check_output_name

            check_output_name(self._label, output_name)

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
        """Every local check (parameters, inputs, body against the spec, the output folder
        takes files): no Firefly request.

        Returns the request, its image inputs (not yet uploaded) and the output directory.
        """
        from airflow_provider_firefly.operators._destination import preflight, resolve_output_dir
        from airflow_provider_firefly.operators._inputs import ImageInputs
        from airflow_provider_firefly.operators._names import check_output_name

        destination = resolve_output_dir(self._label, self.output_dir)
        if self.output_name is not None:
            check_output_name(self._label, self.output_name)  # as rendered
        inputs = ImageInputs(self._label, allowed_hosts=self._own_hosts())
        request = self.build_request(inputs)
        self.validate_body(request)
        preflight(self._label, destination)  # after the cheap checks, before anything is paid
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
        from airflow_provider_firefly.operators._runner import JobRunner

        started = time.monotonic()
        request, inputs, _ = self.prepare()
        op = self._operation(request.operation)
        runner = JobRunner(
            self._label,
            self.hook,
            self._job_record(context),
            self.log,
            resume_previous_job=self.resume_previous_job,
            resubmit_unanswered=self.resubmit_unanswered,
        )
        self._record = runner.record
        self._input_items = list(inputs.items)
        self._sent = self._info_of(request)
        job = runner.start(context, request, op, inputs)
        self._job = job.handle
        if not self.wait_for_completion:
            return self._submitted(job.handle, job.status, resumed=job.resumed)
        if job.status is not None and job.status.is_terminal:
            return self._finish(context, request, job.handle, job.status, resumed=job.resumed)
        timeout = self._timeout(started)
        if self.deferrable:
            self._defer(job.handle, request, op, timeout, job.resumed)
        status = self._wait(job.handle, op, timeout, runner.record)
        return self._finish(context, request, job.handle, status, resumed=job.resumed)

    def _job_record(self, context: Context) -> JobRecord:
        from airflow_provider_firefly.operators._resume import JobRecord

        secret = self.hook.config.credentials.client_secret
        return JobRecord.for_context(context, self.log, secret)

    def _poll_policy(self, op: Any) -> Any:
        from airflow_provider_firefly.client.api import PollPolicy

        low = float(self.poll_interval) if self.poll_interval else 2.0
        return PollPolicy(
            first_delay=self._expected(op),
            min_interval=max(low, 0.05),
            max_interval=max(float(self.max_poll_interval), low, 0.05),
            # the organisation's budget, as the trigger paces its polls
            requests_per_minute=self.hook.config.requests_per_minute,
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
            kwargs={"request": self._info_of(request), "resumed": resumed},
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
        from airflow_provider_firefly.triggers.events import raise_for_event

        record = self._record = self._job_record(context)
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
            from airflow_provider_firefly.operators._runner import try_number_of

            previous = record.read()
            submitted_by = previous.get("try_number") if previous else None
            resumed = submitted_by is not None and submitted_by != try_number_of(context)
        try:
            status = raise_for_event(event)
        except FireflyJobError:
            record.delete()
            raise
        info = request or self._request_info()
        self._sent = info
        seeds = info.get("seeds")
        req = FireflyRequest(
            operation=str(info.get("operation", "")),
            body={"seeds": seeds} if isinstance(seeds, list) else {},
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
        return self._info_of(request)

    @staticmethod
    def _info_of(request: FireflyRequest) -> dict[str, Any]:
        """What the result, a submit-only handle and lineage need of the request sent."""
        return {
            "operation": request.operation,
            "model_version": request.model_version,
            "media_type": request.media_type,
            "seeds": request.body.get("seeds"),
        }

    # -- results -------------------------------------------------------------------------------

    def _submitted(
        self, handle: JobHandle, status: JobStatus | None, *, resumed: bool
    ) -> dict[str, Any]:
        """``wait_for_completion=False``: the task ends with the job's handle."""
        from airflow_provider_firefly.operators._results import submitted_value

        return submitted_value(handle, status, self._sent, self._record, self.log, resumed=resumed)

    def _finish(
        self,
        context: Context,
        request: FireflyRequest,
        handle: JobHandle,
        status: JobStatus,
        *,
        resumed: bool,
    ) -> dict[str, Any]:
        from airflow_provider_firefly.operators._assets import attach_to_outlets
        from airflow_provider_firefly.operators._results import finish_job

        record = self._record
        try:
            result = finish_job(
                self.hook,
                label=self._label,
                context=context,
                task_id=self.task_id,
                handle=handle,
                status=status,
                request_info=self._info_of(request),
                output_dir=self.output_dir,
                output_name=self.output_name,
                resumed=resumed,
                log=self.log,
            )
        except Exception as error:
            from airflow_provider_firefly.client.errors import FireflyJobError

            # a failed job is over (a retry gets a new one); a failed download keeps the record
            # so that a retry downloads again without paying for a new job
            if record is not None and isinstance(error, FireflyJobError):
                record.delete()
            raise
        if record is not None:
            record.delete()
        self._result = result
        attach_to_outlets(self.outlets, context, result, self.log)
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
