"""``FireflyJobSensor``: wait for a Firefly job started elsewhere (another task, another system).

Three ways to wait, as every Airflow sensor:

* ``mode="poke"`` holds a worker slot and asks for the status every ``poke_interval``;
* ``mode="reschedule"`` frees the slot between pokes;
* ``deferrable=True`` hands the wait to :class:`FireflyJobTrigger` in the triggerer (no slot,
  few requests, a request budget shared with every other job of the connection).

Each poke is one status request. Given ``job`` (the handle a job operator returns with
``wait_for_completion=False``) or ``output_dir``, the sensor saves the outputs with the
operators' own code and returns the operators' XCom value (``job_id``, ``outputs``,
``saved_paths``...); otherwise it returns the final ``JobStatus.to_dict()``. It raises the typed
error of a job that failed, was cancelled or timed out at Adobe, and never cancels the job: it
does not own it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from airflow.sdk import BaseSensorOperator
from airflow.sdk.bases.sensor import PokeReturnValue

from airflow_provider_firefly.client.errors import (
    FireflyConfigError,
    FireflyConnectionError,
    FireflyRateLimitError,
    FireflyServerError,
)
from airflow_provider_firefly.client.jobs import JobHandle, JobStatus, job_error
from airflow_provider_firefly.connection import DEFAULT_CONN_ID
from airflow_provider_firefly.operators.runtime import (
    FireflyHookMixin,
    default_deferrable,
    job_trigger_class,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_firefly.hooks.firefly import FireflyHook

__all__ = ["FireflyJobSensor"]

#: The triggerer's own deadline fires this long before Airflow's defer timeout, so the sensor
#: ends with a clear message instead of a bare ``TaskDeferralTimeout``.
_DEFER_TIMEOUT_MARGIN = 60.0


def _job_id_from_status_url(url: str) -> str:
    return unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])


class FireflyJobSensor(FireflyHookMixin, BaseSensorOperator):
    """Wait until a Firefly job succeeds.

    :param job_id: the job id (``urn:ff:jobs:...``); its status URL is built from the
        connection's API URL. Templated.
    :param status_url: the ``statusUrl`` Firefly returned, polled as is (preferred when known,
        e.g. a v4 job). Templated. Give ``job_id``, ``status_url`` or both.
    :param firefly_conn_id: the ``firefly`` connection.
    :param deferrable: wait in the triggerer; defaults to ``[operators] default_deferrable``.
    :param expected_seconds: deferrable mode: when the trigger polls first.
    :param poll_max_interval: deferrable mode: longest interval between polls.
    :param requests_per_minute: deferrable mode: overrides the connection's request budget in the
        triggerer (shared with every job it polls through that connection).
    :param job: the handle a job operator returned with ``wait_for_completion=False`` (its
        ``.output``, or that dict or its JSON text); gives the job id, the status URL and what
        the outputs are named and typed by. Templated.
    :param output_dir: where to save the outputs when the job succeeds, as the operators'
        ``output_dir``. Templated.
    :param output_name: the file-name template, as the operators' ``output_name``. Templated.

    With ``job`` or ``output_dir``, the asset events of ``outlets=[Asset(...)]`` get the same
    ``extra`` as a job operator's (job ids, saved paths, count, seeds).

    Other arguments (``poke_interval``, ``timeout``, ``mode``, ``soft_fail``...) are those of
    every sensor. In deferrable mode ``timeout`` becomes the trigger's deadline; the job is
    not cancelled when it passes.
    """

    template_fields: Sequence[str] = ("job_id", "status_url", "job", "output_dir", "output_name")
    ui_color = "#ffd6e7"

    def __init__(
        self,
        *,
        job_id: str | None = None,
        status_url: str | None = None,
        firefly_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool | None = None,
        expected_seconds: float = 0.0,
        poll_max_interval: float = 30.0,
        requests_per_minute: float | None = None,
        job: Any = None,
        output_dir: Any = None,
        output_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not job_id and not status_url and job is None:
            raise ValueError(
                "FireflyJobSensor needs job (a submit-only operator's .output), job_id or "
                "status_url"
            )
        self.job = job
        self.output_dir = output_dir
        self.output_name = output_name
        self._lineage: tuple[JobHandle, dict[str, Any], dict[str, Any]] | None = None
        self.job_id = job_id
        self.status_url = status_url
        self.firefly_conn_id = firefly_conn_id
        self.deferrable = default_deferrable() if deferrable is None else bool(deferrable)
        self.expected_seconds = expected_seconds
        self.poll_max_interval = poll_max_interval
        self.requests_per_minute = requests_per_minute

    def _job_value(self) -> dict[str, Any] | None:
        """The rendered ``job`` as a dict (it may come as JSON text from a template)."""
        value = self.job
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = None
        if not isinstance(value, dict) or not all(
            isinstance(value.get(k), str) and value[k] for k in ("job_id", "status_url")
        ):
            raise FireflyConfigError(
                "FireflyJobSensor: job must be the handle a job operator returned with "
                "wait_for_completion=False (a dict with job_id and status_url), e.g. "
                "job=generate.output",
                field="job",
            )
        return value

    def _handle(self, hook: FireflyHook) -> JobHandle:
        """The job to poll: ``job``'s handle, the status URL as given, else one built from the
        job id."""
        job = self._job_value()
        if job is not None:
            cancel = job.get("cancel_url")
            return JobHandle(
                job["job_id"], job["status_url"], cancel if isinstance(cancel, str) else None
            )
        job_id = (self.job_id or "").strip()
        status_url = (self.status_url or "").strip()
        if status_url:
            return JobHandle(job_id or _job_id_from_status_url(status_url), status_url, None)
        if not job_id:
            raise FireflyConfigError("FireflyJobSensor: job_id rendered empty", field="job_id")
        return JobHandle.for_job_id(hook.config.http.api_url, job_id)

    # -- poke / reschedule ---------------------------------------------------------------------

    def poke(self, context: Context) -> bool | PokeReturnValue:
        hook = self.hook
        handle = self._handle(hook)
        try:
            status = hook.get_status(handle)
        except (FireflyRateLimitError, FireflyServerError, FireflyConnectionError) as error:
            # The client already retried; a busy or flaky API is no reason to fail the wait.
            self.log.warning("Firefly job %s: status unavailable (%s)", handle.job_id, error)
            return False
        progress = "" if status.progress is None else f" ({status.progress:.0f}%)"
        self.log.info("Firefly job %s: %s%s", handle.job_id, status.status, progress)
        if not status.is_terminal:
            return False
        failure = job_error(status)
        if failure is not None:
            raise failure
        return PokeReturnValue(is_done=True, xcom_value=self._result(context, handle, status))

    def _result(self, context: Context, handle: JobHandle, status: JobStatus) -> dict[str, Any]:
        """The operators' XCom value (outputs saved to ``output_dir``) when given ``job`` or
        ``output_dir``; else the final status."""
        job = self._job_value()
        if job is None and self.output_dir is None:
            return status.to_dict()
        from airflow_provider_firefly.operators._assets import attach_to_outlets
        from airflow_provider_firefly.operators._results import finish_job, request_info_of

        result = finish_job(
            self.hook,
            label=type(self).__name__,
            context=context,
            task_id=self.task_id,
            handle=handle,
            status=status,
            request_info=request_info_of(job),
            output_dir=self.output_dir,
            output_name=self.output_name,
            resumed=bool(job and job.get("resumed") is True),
            log=self.log,
        )
        attach_to_outlets(self.outlets, context, result, self.log)
        self._lineage = (handle, request_info_of(job), result)
        return result

    # -- OpenLineage ---------------------------------------------------------------------------

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The saved files and the ``fireflyJob`` run facet, when this sensor saved outputs."""
        from airflow_provider_firefly.operators import lineage

        if self._lineage is None:
            return None
        handle, info, result = self._lineage
        return lineage.job_lineage(handle, [], "", info, result)

    # -- deferrable ----------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        handle = self._handle(self.hook)
        self.log.info(
            "Deferring: the triggerer polls Firefly job %s at %s", handle.job_id, handle.status_url
        )
        trigger = job_trigger_class()(
            firefly_conn_id=self.firefly_conn_id,
            job=handle.to_dict(),
            expected_seconds=self.expected_seconds,
            poll_min_interval=min(2.0, self.poll_max_interval),
            poll_max_interval=self.poll_max_interval,
            deadline=time.time() + self.timeout,
            cancel_on_deadline=False,
            requests_per_minute=self.requests_per_minute,
        )
        self.defer(
            trigger=trigger,
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout + _DEFER_TIMEOUT_MARGIN),
        )
        return None  # pragma: no cover - defer() raises

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after the trigger: the final status, or the typed error."""
        from airflow_provider_firefly.compat import AirflowSensorTimeout
        from airflow_provider_firefly.triggers.events import raise_for_event

        if isinstance(event, dict) and event.get("status") == "deadline":
            raise AirflowSensorTimeout(str(event.get("message") or "sensor timed out"))
        status = raise_for_event(event)
        self.log.info("Firefly job %s: %s", status.job_id, status.status)
        job = event.get("job") if isinstance(event, dict) else None
        try:
            handle = JobHandle.from_dict(job) if isinstance(job, dict) else self._handle(self.hook)
        except (KeyError, TypeError):
            handle = self._handle(self.hook)
        return self._result(context, handle, status)
