"""Test DAG of tests/operators/test_dag_faults.py: failures, deadlines and never-pay-twice.

- ``failed_sync`` / ``failed_deferred``: the emulator fails the job (content policy at poll
  time) → the task fails with ``FireflyJobFailedError``.
- ``deadline_sync`` / ``deadline_deferred``: a job longer than ``job_timeout`` → the job is
  cancelled (``PUT /v3/cancel``) and the task fails.
- ``crash_once_sync`` / ``crash_once_deferred``: the first try "crashes" right after Firefly
  accepted the job (the job record is written); the retry must resume that job, not submit
  another one.
"""

from __future__ import annotations

import datetime
import os
from typing import Any

from airflow.sdk import DAG

from airflow_provider_firefly.operators import FireflyGenerateImagesOperator

WORK = os.environ.get("FF_OPS_WORKDIR", "/tmp/ff-ops-work")


class CrashOnceAfterSubmit(FireflyGenerateImagesOperator):
    """Fails its first try just after the submission was accepted and recorded."""

    def _crash(self, context: Any) -> None:
        if context["ti"].try_number == 1:
            raise RuntimeError("simulated worker crash after the submission")

    def execute(self, context: Any) -> Any:
        self._crash_context = context
        return super().execute(context)

    def _wait(self, handle: Any, op: Any, timeout: float, record: Any) -> Any:
        self._crash(self._crash_context)
        return super()._wait(handle, op, timeout, record)

    def _defer(self, *args: Any, **kwargs: Any) -> None:
        self._crash(self._crash_context)
        super()._defer(*args, **kwargs)


with DAG(
    dag_id="ff_ops_faults",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1),
    catchup=False,
    tags=["firefly-tests"],
    default_args={
        "firefly_conn_id": "ff_ops",
        "expected_seconds": 0.2,
        "poll_interval": 0.2,
        "max_poll_interval": 0.5,
        "size": (32, 32),
        "output_dir": f"file://{WORK}/faults",
    },
) as ff_ops_faults:
    for mode in ("sync", "deferred"):
        deferrable = mode == "deferred"
        FireflyGenerateImagesOperator(
            task_id=f"failed_{mode}", prompt="a forbidden thing", deferrable=deferrable
        )
        FireflyGenerateImagesOperator(
            task_id=f"deadline_{mode}",
            prompt="a slow painting",
            deferrable=deferrable,
            job_timeout=1.5,
        )
        CrashOnceAfterSubmit(
            task_id=f"crash_once_{mode}",
            prompt="a phoenix",
            deferrable=deferrable,
            retries=1,
            retry_delay=datetime.timedelta(seconds=0),
        )
