"""``FireflyBaseOperator``: validate → upload inputs → submit (or resume) → wait or defer → save.

Subclasses only turn their typed parameters into a :class:`FireflyRequest`; everything else
(checks before any network call, the never-pay-twice record, polling, deferral, cancel on kill,
saving outputs, the XCom value) lives here once, told as the job's story in :meth:`execute`.

Imports: this module is loaded whenever a DAG file is parsed, so it imports ``airflow.sdk`` and
light modules only. What a running task needs (the hook, the trigger, the schema, the runner)
is named under ``TYPE_CHECKING`` for the signatures and loaded when the task runs: the hook and
the trigger through :mod:`.runtime`, the task-time steps (``_preflight``, ``_runner``,
``_waiting``, ``_results``) at the top of the method that first needs them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from airflow_provider_firefly.connection import DEFAULT_CONN_ID
from airflow_provider_firefly.operators._errors import bad_param
from airflow_provider_firefly.operators._lineage_methods import JobLineageMixin
from airflow_provider_firefly.operators._names import check_output_name
from airflow_provider_firefly.operators._params import check_timing
from airflow_provider_firefly.operators.links import FireflyOutputLink
from airflow_provider_firefly.operators.request import FireflyRequest, info_after_deferral
from airflow_provider_firefly.operators.runtime import (
    FireflyHookMixin,
    default_deferrable,
    task_started_at,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_firefly.client.jobs import JobHandle, JobStatus
    from airflow_provider_firefly.client.operations import Operation
    from airflow_provider_firefly.operators._inputs import ImageInputs
    from airflow_provider_firefly.operators._resume import JobRecord
    from airflow_provider_firefly.operators._runner import JobRunner

__all__ = ["FireflyBaseOperator", "FireflyRequest"]


class FireflyBaseOperator(FireflyHookMixin, JobLineageMixin, BaseOperator):
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
        self.deferrable = default_deferrable() if deferrable is None else bool(deferrable)
        self.wait_for_completion = bool(wait_for_completion)
        self._job: JobHandle | None = None
        # what the lineage methods report: the inputs, the request sent, the XCom value
        self._input_items: list[Any] = []
        self._sent: dict[str, Any] = {}
        self._result: dict[str, Any] | None = None
        self._record: JobRecord | None = None
        self._waiting = False
        check_timing(
            self._label,
            job_timeout=job_timeout,
            max_poll_interval=max_poll_interval,
            poll_interval=poll_interval,
            expected_seconds=expected_seconds,
            firefly_conn_id=firefly_conn_id,
        )
        if isinstance(output_name, str) and "{{" not in output_name and "{%" not in output_name:
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

    def _operation(self, name: str) -> Operation:
        from airflow_provider_firefly.client.operations import get_operation

        return get_operation(name)

    def _own_hosts(self) -> frozenset[str]:
        """Hosts of the connection's API (the emulator, a gateway) also serve URL inputs."""
        try:
            return frozenset({self.hook.config.http.api_host.lower()})
        except Exception:  # a broken connection is reported by the first real call
            return frozenset()

    def _timeout(self, started: float) -> float:
        from airflow_provider_firefly.operators._waiting import task_timeout

        return task_timeout(self.job_timeout, self.execution_timeout, started)

    def _expected(self, op: Operation) -> float:
        if self.expected_seconds is not None:
            return float(self.expected_seconds)
        return float(op.expected_seconds)

    def _job_record(self, context: Context) -> JobRecord:
        from airflow_provider_firefly.operators._resume import JobRecord

        secret = self.hook.config.credentials.client_secret
        return JobRecord.for_context(context, self.log, secret)

    # -- execute -------------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        """Check everything locally, submit the job (or resume an earlier try's), wait for it
        here or in the triggerer, save its outputs and return the XCom value."""
        started = time.monotonic()
        self.hook.quiet_since = task_started_at(context)  # the pool slot's budget share
        request, inputs, op = self._prepare()
        runner = self._job_runner(context)
        self._record, self._input_items = runner.record, list(inputs.items)
        self._sent = request.info()
        job = runner.start(context, request, op, inputs)
        self._job = job.handle
        if not self.wait_for_completion:
            return self._submitted(job.handle, job.status, resumed=job.resumed)
        status = job.status
        if status is None or not status.is_terminal:
            timeout = self._timeout(started)
            if self.deferrable:
                self._defer(job.handle, request, op, timeout, job.resumed)
            status = self._wait(job.handle, op, timeout, runner.record)
        return self._finish(context, self._sent, job.handle, status, resumed=job.resumed)

    def _prepare(self) -> tuple[FireflyRequest, ImageInputs, Operation]:
        """Every local check (parameters, inputs, body, output folder): no Firefly request."""
        from airflow_provider_firefly.operators._preflight import prepare

        return prepare(
            self._label,
            self.build_request,
            output_dir=self.output_dir,
            output_name=self.output_name,
            own_hosts=self._own_hosts(),
        )

    def _job_runner(self, context: Context) -> JobRunner:
        from airflow_provider_firefly.operators._runner import JobRunner

        return JobRunner(
            self._label,
            self.hook,
            self._job_record(context),
            self.log,
            resume_previous_job=self.resume_previous_job,
            resubmit_unanswered=self.resubmit_unanswered,
        )

    def _wait(
        self, handle: JobHandle, op: Operation, timeout: float, record: JobRecord
    ) -> JobStatus:
        from airflow_provider_firefly.client.errors import FireflyJobError
        from airflow_provider_firefly.operators._waiting import poll_policy

        policy = poll_policy(
            self._expected(op),
            self.poll_interval,
            self.max_poll_interval,
            self.hook.config.requests_per_minute,
        )
        self._waiting = True
        try:
            return self.hook.wait(
                handle, timeout=timeout, poll=policy, expected_seconds=self._expected(op)
            )
        except FireflyJobError:
            # failed, cancelled, timed out at Adobe, or our deadline (the client cancelled it):
            # the job is over, so a retry or a cleared task gets a new job.
            record.delete()
            raise
        finally:
            self._waiting = False

    def _defer(
        self,
        handle: JobHandle,
        request: FireflyRequest,
        op: Operation,
        timeout: float,
        resumed: bool,
    ) -> None:
        from airflow_provider_firefly.operators._waiting import defer_timeout, job_trigger

        self.log.info(
            "Deferring: the triggerer polls job %s until it ends or the deadline (%.0f s)",
            handle.job_id,
            timeout,
        )
        self.defer(
            trigger=job_trigger(
                self.firefly_conn_id,
                handle,
                expected=self._expected(op),
                poll_interval=self.poll_interval,
                max_poll_interval=self.max_poll_interval,
                timeout=timeout,
            ),
            method_name="execute_complete",
            kwargs={"request": request.info(), "resumed": resumed},
            timeout=defer_timeout(timeout),
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
        from airflow_provider_firefly.operators._runner import resumed_from_record
        from airflow_provider_firefly.triggers.events import raise_for_event

        record = self._record = self._job_record(context)
        handle = self._job = JobHandle.from_dict(event["job"])
        self.log.info(
            "Trigger reported job %s: %s %s",
            handle.job_id,
            event.get("status"),
            event.get("message") or "",
        )
        # dag.test() drops the deferral kwargs: then the record tells which try submitted, and
        # the kept part of the request is rebuilt from the parameters.
        resumed = resumed or resumed_from_record(record, context)
        try:
            status = raise_for_event(event)
        except FireflyJobError:
            record.delete()
            raise
        self._sent = request or self._request_info()
        return self._finish(
            context, info_after_deferral(self._sent), handle, status, resumed=resumed
        )

    def _request_info(self) -> dict[str, Any]:
        """The kept part of the request, rebuilt from the parameters (no network, no upload)."""
        from airflow_provider_firefly.operators._inputs import ImageInputs

        try:
            return self.build_request(ImageInputs(self._label)).info()
        except Exception:
            return {}

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
        request_info: dict[str, Any],
        handle: JobHandle,
        status: JobStatus,
        *,
        resumed: bool,
    ) -> dict[str, Any]:
        from airflow_provider_firefly.client.errors import FireflyJobError
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
                request_info=request_info,
                output_dir=self.output_dir,
                output_name=self.output_name,
                resumed=resumed,
                log=self.log,
            )
        except FireflyJobError:
            # a failed job is over (a retry gets a new one); a failed download keeps the record
            # so that a retry downloads again without paying for a new job
            if record is not None:
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
