"""Never pay twice: the accepted job of a task instance, recorded in an Airflow Variable.

The record is written right after Firefly accepts a submission and deleted when the task ends
with a result or a terminal job failure. A later try of the same task instance (same dag, task,
run and map index) that finds it resumes that job instead of submitting a new one. It holds the
job handle (id, status and cancel URLs), the operation and the time; no token or secret.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from typing import Any

__all__ = ["RECORD_PREFIX", "JobRecord"]

RECORD_PREFIX = "firefly_job__"
_MAX_KEY = 250
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:+-]")


class JobRecord:
    """Read, write and delete the record of one task instance; failures only log."""

    def __init__(self, key: str | None, log: Any) -> None:
        self.key = key
        self.log = log

    @classmethod
    def for_context(cls, context: Any, log: Any) -> JobRecord:
        ti = context.get("ti") or context.get("task_instance") if context else None
        if ti is None:
            return cls(None, log)
        map_index = getattr(ti, "map_index", -1)
        parts = [str(ti.dag_id), str(ti.task_id), str(ti.run_id), str(map_index)]
        key = RECORD_PREFIX + "__".join(_UNSAFE.sub("_", p) for p in parts)
        if len(key) > _MAX_KEY:
            digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]
            key = f"{RECORD_PREFIX}{_UNSAFE.sub('_', parts[1])[:150]}__{digest}"
        return cls(key, log)

    def read(self) -> dict[str, Any] | None:
        if self.key is None:
            return None
        from airflow.sdk import Variable

        try:
            raw = Variable.get(self.key, default=None)
        except Exception as error:
            self.log.warning("Could not read the job record %s: %s", self.key, error)
            return None
        if not raw:
            return None
        try:
            data = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            self.log.warning("Ignoring an unreadable job record %s", self.key)
            return None
        if not isinstance(data, dict):
            return None
        if data.get("uncertain") is True or isinstance(data.get("job"), dict):
            return data
        return None

    def write(
        self,
        job: dict[str, Any],
        operation: str,
        model_version: str | None,
        try_number: int | None = None,
    ) -> None:
        if self.key is None:
            return
        from airflow.sdk import Variable

        value = {
            "job": job,
            "operation": operation,
            "model_version": model_version,
            "try_number": try_number,
            "submitted_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        }
        try:
            Variable.set(
                self.key,
                json.dumps(value),
                description="Firefly job of a running task (airflow-provider-firefly); "
                "deleted when the task ends",
            )
        except Exception as error:
            self.log.warning(
                "Could not record job %s in Variable %s (%s): a retry of this task after a "
                "crash would submit a new job",
                job.get("job_id"),
                self.key,
                error,
            )

    def write_uncertain(
        self, operation: str, model_version: str | None, try_number: int | None, reason: str
    ) -> None:
        """Record a submission that was sent but not answered: Firefly may have accepted (and
        billed) a job whose id is unknown, so a later try must not submit blindly."""
        if self.key is None:
            return
        from airflow.sdk import Variable

        value = {
            "uncertain": True,
            "operation": operation,
            "model_version": model_version,
            "try_number": try_number,
            "reason": reason[:300],
            "submitted_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        }
        try:
            Variable.set(
                self.key,
                json.dumps(value),
                description="Firefly submission without an answer (airflow-provider-firefly): "
                "delete to allow a new submission",
            )
        except Exception as error:
            self.log.warning(
                "Could not record the unanswered %s submission in Variable %s (%s): a retry of "
                "this task would submit again",
                operation,
                self.key,
                error,
            )

    def delete(self) -> None:
        if self.key is None:
            return
        from airflow.sdk import Variable

        try:
            Variable.delete(self.key)
        except Exception as error:
            self.log.warning("Could not delete the job record %s: %s", self.key, error)
