"""``FireflyJobSensor``: wait for a Firefly job started elsewhere (another task, another system).

Three ways to wait, as every Airflow sensor:

* ``mode="poke"`` holds a worker slot and asks for the status every ``poke_interval``;
* ``mode="reschedule"`` frees the slot between pokes;
* ``deferrable=True`` hands the wait to :class:`FireflyJobTrigger` in the triggerer (no slot,
  few requests, a request budget shared with every other job of the connection).

Each poke is one status request. The sensor returns (XCom ``return_value``) the final
``JobStatus.to_dict()`` of a succeeded job, and raises the typed error of a job that failed,
was cancelled or timed out at Adobe. It never cancels the job: it does not own it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
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
from airflow_provider_firefly.client.jobs import JobHandle, job_error
from airflow_provider_firefly.compat import conf
from airflow_provider_firefly.connection import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_firefly.hooks.firefly import FireflyHook

__all__ = ["FireflyJobSensor"]

#: The triggerer's own deadline fires this long before Airflow's defer timeout, so the sensor
#: ends with a clear message instead of a bare ``TaskDeferralTimeout``.
_DEFER_TIMEOUT_MARGIN = 60.0


def _job_id_from_status_url(url: str) -> str:
    return unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])


class FireflyJobSensor(BaseSensorOperator):
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

    Other arguments (``poke_interval``, ``timeout``, ``mode``, ``soft_fail``...) are those of
    every sensor. In deferrable mode ``timeout`` becomes the trigger's deadline; the job is
    not cancelled when it passes.
    """

    template_fields: Sequence[str] = ("job_id", "status_url")
    ui_color = "#ffd6e7"

    def __init__(
        self,
        *,
        job_id: str | None = None,
        status_url: str | None = None,
        firefly_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        expected_seconds: float = 0.0,
        poll_max_interval: float = 30.0,
        requests_per_minute: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not job_id and not status_url:
            raise ValueError("FireflyJobSensor needs job_id or status_url")
        self.job_id = job_id
        self.status_url = status_url
        self.firefly_conn_id = firefly_conn_id
        self.deferrable = deferrable
        self.expected_seconds = expected_seconds
        self.poll_max_interval = poll_max_interval
        self.requests_per_minute = requests_per_minute

    @cached_property
    def hook(self) -> FireflyHook:
        # Imported here: DAG files that only declare the sensor do not pay for the hook.
        from airflow_provider_firefly.hooks.firefly import FireflyHook

        return FireflyHook(firefly_conn_id=self.firefly_conn_id)

    def _handle(self, hook: FireflyHook) -> JobHandle:
        """The job to poll: the status URL as given, else one built from the job id."""
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
        return PokeReturnValue(is_done=True, xcom_value=status.to_dict())

    # -- deferrable ----------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        from airflow_provider_firefly.triggers.firefly import FireflyJobTrigger

        handle = self._handle(self.hook)
        self.log.info(
            "Deferring: the triggerer polls Firefly job %s at %s", handle.job_id, handle.status_url
        )
        trigger = FireflyJobTrigger(
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
        from airflow_provider_firefly.triggers.firefly import raise_for_event

        if isinstance(event, dict) and event.get("status") == "deadline":
            raise AirflowSensorTimeout(str(event.get("message") or "sensor timed out"))
        status = raise_for_event(event)
        self.log.info("Firefly job %s: %s", status.job_id, status.status)
        return status.to_dict()
