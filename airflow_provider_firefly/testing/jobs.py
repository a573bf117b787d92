"""Job store and lifecycle: pending -> running -> succeeded, or failed / timeout / cancelled.

Status is computed lazily from the clock on every poll (no background threads).
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .outputs import StoredOutput

TERMINAL = frozenset({"succeeded", "failed", "cancelled", "timeout"})
FORCEABLE = frozenset({"succeeded", "failed", "timeout", "cancelled", "running", "pending"})

#: Spellings of the cancelled state a server may send (``EmulatorConfig.cancelled_spelling``).
CANCELLED_SPELLINGS = ("cancelled", "canceled")

DEFAULT_ERRORS: dict[str, tuple[str, str]] = {
    "failed": ("runtime_error", "The job failed."),
    "timeout": ("timeout_error", "The job timed out."),
    "cancelled": ("job_cancelled", "The job was cancelled."),
    "cancel_pending": ("job_cancelled", "The job is being cancelled."),
}


@dataclass
class OutputPlan:
    """What one output of a job will be."""

    kind: str  # "image" | "video"
    width: int
    height: int
    seed: int
    #: What the download serves (``image/png``, ``image/jpeg``, ``image/webp``, ``video/mp4``).
    media_type: str = "image/png"


@dataclass
class Job:
    job_id: str
    route: str  # e.g. "POST /v3/images/generate-async"
    client_id: str
    created: float
    duration: float
    pending_fraction: float
    outputs: list[OutputPlan]
    request: dict[str, Any]
    model_version: str | None = None
    forced: str | None = None
    error_code: str | None = None
    message: str | None = None
    cancel_requested: float | None = None
    cancel_delay: float = 0.2
    unsafe_at_poll: str | None = None  # "poll-failed" | "poll-451"
    result: dict[str, Any] | None = None
    #: The output objects, created when the job is first seen succeeded.
    stored: list[StoredOutput] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def status(self, now: float | None = None) -> tuple[str, float]:
        """``(status, progress percent)`` at ``now``."""
        now = time.time() if now is None else now
        if self.forced in ("succeeded", "failed", "timeout", "cancelled"):
            return self.forced, 100.0 if self.forced == "succeeded" else 0.0
        if self.cancel_requested is not None:
            if now - self.cancel_requested < self.cancel_delay:
                return "cancel_pending", 0.0
            return "cancelled", 0.0
        elapsed = now - self.created
        if (
            self.unsafe_at_poll == "poll-failed"
            and elapsed >= self.duration * self.pending_fraction
        ):
            return "failed", 0.0
        if self.forced == "pending":
            return "pending", 0.0
        if self.forced == "running":
            return "running", min(99.0, round(100.0 * elapsed / max(self.duration, 1e-9), 1))
        if elapsed >= self.duration:
            return "succeeded", 100.0
        if elapsed < self.duration * self.pending_fraction:
            return "pending", 0.0
        return "running", min(99.0, round(100.0 * elapsed / self.duration, 1))


def spelled(status: str, cancelled_spelling: str) -> str:
    """``status`` as sent on the wire: ``cancelled`` may be spelled ``canceled``."""
    return cancelled_spelling if status == "cancelled" else status


class JobStore:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    @staticmethod
    def new_id(tag: str) -> str:
        return f"urn:ff:jobs:{tag}:{uuid.uuid4()}"

    def add(self, job: Job) -> None:
        with self._lock:
            self._jobs[job.job_id] = job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def all(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def clear(self) -> None:
        with self._lock:
            self._jobs.clear()

    def force(
        self,
        job_id: str,
        *,
        status: str | None = None,
        error_code: str | None = None,
        message: str | None = None,
        duration: float | None = None,
    ) -> Job | None:
        if status == "canceled":
            status = "cancelled"
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            if duration is not None:
                job.duration = float(duration)
            if status in ("cancel", "cancel_pending"):
                job.cancel_requested = time.time()
                job.forced = None
            elif status is not None:
                if status not in FORCEABLE:
                    raise ValueError(f"cannot force status {status!r}")
                job.forced = status
                default = DEFAULT_ERRORS.get(status)
                if default:
                    job.error_code = error_code or default[0]
                    job.message = message or default[1]
            return job
