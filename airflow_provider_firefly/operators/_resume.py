"""Never pay twice: the Firefly job of a task instance, recorded in an Airflow Variable.

The record is written as an *intent* before the submission leaves, completed with the job
handle (id, status and cancel URLs) once Firefly accepted it, and deleted when the task ends
with a result or a terminal job failure. A later try of the same task instance (same dag, task,
run and map index) that finds a completed record resumes that job; one that finds an intent
without a handle knows an earlier submission was never answered (it may have been billed).

Keys are injective: a readable prefix plus a digest of the exact identifiers. Records are
authenticated with an HMAC under a key derived from the connection's client secret, so a record
planted by whoever may edit Variables is ignored with a warning, never trusted and never able to
block a task. A record holds no token or secret.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import re
from typing import Any

__all__ = ["RECORD_PREFIX", "JobRecord", "record_key"]

RECORD_PREFIX = "firefly_job__"
RECORD_VERSION = 2
#: Fixed label of the MAC key derivation: the key belongs to job records and nothing else.
_MAC_LABEL = b"airflow-provider-firefly job record v2"
_READABLE = re.compile(r"[^A-Za-z0-9_.-]+")
_READABLE_MAX = 120
_MAX_RECORD_CHARS = 20_000
_JOB_KEYS = ("job_id", "status_url", "cancel_url")


def record_key(dag_id: str, task_id: str, run_id: str, map_index: int) -> str:
    """The Variable key of one task instance's record: readable prefix + identity digest.

    The readable part is only for people; the digest of the exact identifiers (JSON, so no
    separator can be forged) makes two different task instances never share a key.
    """
    identity = json.dumps([dag_id, task_id, run_id, map_index], ensure_ascii=False)
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:40]
    readable = _READABLE.sub("_", f"{dag_id}.{task_id}")[:_READABLE_MAX]
    return f"{RECORD_PREFIX}{readable}__{digest}"


def _mac_key(secret: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), _MAC_LABEL, hashlib.sha256).digest()


def _canonical(key: str, fields: dict[str, Any]) -> bytes:
    # The Variable key is part of what is signed: a record copied to another key is refused.
    return json.dumps([key, fields], sort_keys=True, separators=(",", ":")).encode("utf-8")


def _valid_job(job: Any) -> bool:
    if not isinstance(job, dict) or set(job) - set(_JOB_KEYS):
        return False
    return all(isinstance(job.get(k), str) and job[k] for k in ("job_id", "status_url")) and (
        job.get("cancel_url") is None or isinstance(job.get("cancel_url"), str)
    )


class JobRecord:
    """Read, write and delete the record of one task instance; storage failures only log.

    :param key: the Variable key (None: no task instance, nothing is recorded).
    :param secret: the connection's client secret; the MAC key is derived from it.
    """

    def __init__(self, key: str | None, log: Any, secret: str = "") -> None:
        self.key = key
        self.log = log
        self._mac_key = _mac_key(secret)

    @classmethod
    def for_context(cls, context: Any, log: Any, secret: str = "") -> JobRecord:
        ti = (context.get("ti") or context.get("task_instance")) if context else None
        if ti is None:
            return cls(None, log, secret)
        map_index = getattr(ti, "map_index", -1)
        key = record_key(
            str(ti.dag_id),
            str(ti.task_id),
            str(ti.run_id),
            map_index if isinstance(map_index, int) else -1,
        )
        return cls(key, log, secret)

    # -- authenticity -------------------------------------------------------------------------

    def _sign(self, fields: dict[str, Any]) -> str:
        assert self.key is not None
        return hmac.new(self._mac_key, _canonical(self.key, fields), hashlib.sha256).hexdigest()

    def _verified(self, raw: Any) -> dict[str, Any] | None:
        """The record's fields if this provider wrote them for this key, else None (+ warning)."""
        why = ""
        data: Any = None
        if not isinstance(raw, str) or len(raw) > _MAX_RECORD_CHARS:
            why = "not a short JSON text"
        else:
            try:
                data = json.loads(raw)
            except (ValueError, RecursionError):
                why = "not JSON"
        if not why:
            if not isinstance(data, dict) or not isinstance(data.get("mac"), str):
                why = "no signature (not written by this provider version)"
            else:
                mac = data.pop("mac")
                if not hmac.compare_digest(mac, self._sign(data)):
                    why = "its signature does not match this connection's secret"
                elif data.get("v") != RECORD_VERSION or not isinstance(data.get("operation"), str):
                    why = "unknown layout"
                elif data.get("job") is not None and not _valid_job(data.get("job")):
                    why = "a malformed job handle"
        if why:
            self.log.warning(
                "Ignoring the job record %s: %s. It is not trusted; this task proceeds as if "
                "there were none (the record is replaced by this try's own)",
                self.key,
                why,
            )
            return None
        return dict(data)

    # -- storage ------------------------------------------------------------------------------

    def read(self) -> dict[str, Any] | None:
        """The verified record, or None (none, unreadable, or not written by this provider).

        Fields: ``operation``, ``model_version``, ``try_number``, ``submitted_at``, ``job``
        (the handle dict, or None for an intent), ``uncertain`` (True for an intent) and
        ``reason`` (why an intent was left unanswered).
        """
        if self.key is None:
            return None
        from airflow.sdk import Variable

        try:
            raw = Variable.get(self.key, default=None)
        except Exception as error:
            self.log.warning("Could not read the job record %s: %s", self.key, error)
            return None
        if raw is None or raw == "":
            return None
        return self._verified(raw)

    def _store(self, fields: dict[str, Any], description: str) -> bool:
        if self.key is None:
            return False
        from airflow.sdk import Variable

        fields = {"v": RECORD_VERSION, **fields}
        value = json.dumps({**fields, "mac": self._sign(fields)})
        try:
            Variable.set(self.key, value, description=description)
        except Exception as error:
            self.log.warning(
                "Could not write the job record %s (%s): a retry of this task after a crash "
                "would not know this submission",
                self.key,
                error,
            )
            return False
        return True

    @staticmethod
    def _now() -> str:
        return datetime.datetime.now(datetime.timezone.utc).isoformat()

    def write_intent(
        self, operation: str, model_version: str | None, try_number: int | None
    ) -> None:
        """Before the submission leaves: if this process dies before the answer is recorded,
        the next try finds an intent without a handle and does not pay blindly again."""
        self._store(
            {
                "job": None,
                "uncertain": True,
                "operation": operation,
                "model_version": model_version,
                "try_number": try_number,
                "reason": "the worker stopped before the answer was recorded",
                "submitted_at": self._now(),
            },
            "Firefly submission in flight or unanswered (airflow-provider-firefly): delete it "
            "to allow a new submission",
        )

    def mark_unanswered(
        self, operation: str, model_version: str | None, try_number: int | None, reason: str
    ) -> dict[str, Any]:
        """The submission was sent but not answered: keep the intent, with the reason.

        Returns the fields as a later :meth:`read` would see them."""
        fields = {
            "job": None,
            "uncertain": True,
            "operation": operation,
            "model_version": model_version,
            "try_number": try_number,
            "reason": reason[:300],
            "submitted_at": self._now(),
        }
        self._store(
            fields,
            "Firefly submission without an answer (airflow-provider-firefly): delete it to "
            "allow a new submission",
        )
        return fields

    def write(
        self,
        job: dict[str, Any],
        operation: str,
        model_version: str | None,
        try_number: int | None = None,
    ) -> None:
        """Complete the record with the accepted job's handle."""
        self._store(
            {
                "job": {k: job.get(k) for k in _JOB_KEYS},
                "uncertain": False,
                "operation": operation,
                "model_version": model_version,
                "try_number": try_number,
                "reason": None,
                "submitted_at": self._now(),
            },
            "Firefly job of a running task (airflow-provider-firefly); deleted when the task ends",
        )

    def delete(self) -> None:
        if self.key is None:
            return
        from airflow.sdk import Variable

        try:
            Variable.delete(self.key)
        except Exception as error:
            self.log.warning("Could not delete the job record %s: %s", self.key, error)
