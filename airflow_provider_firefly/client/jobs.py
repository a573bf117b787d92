"""Job handles, statuses and outputs, parsed from whatever shape Firefly answers with.

Submissions answer ``{jobId, statusUrl, cancelUrl}`` (v3) or ``{links: {result, cancel}}``
(v4 and upscale); statuses are ``pending``, ``running``, ``succeeded``, ``failed``,
``cancel_pending``, ``cancelled`` (also spelt ``canceled``) and ``timeout``; outputs are images,
videos or upscale storage items. Everything here is JSON-serialisable, for XCom and triggers.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from airflow_provider_firefly.client.errors import (
    FireflyError,
    FireflyJobCancelledError,
    FireflyJobFailedError,
    FireflyJobTimeoutError,
)

__all__ = [
    "IN_PROGRESS_STATUSES",
    "TERMINAL_STATUSES",
    "JobHandle",
    "JobOutput",
    "JobStatus",
    "job_error",
    "parse_job_status",
    "parse_submit_response",
    "status_url_for",
]

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled", "canceled", "timeout"})
IN_PROGRESS_STATUSES = frozenset({"pending", "running", "cancel_pending"})


def status_url_for(api_url: str, job_id: str) -> str:
    """The status URL of a job id (URN colons kept, everything else path-quoted)."""
    return f"{api_url.rstrip('/')}/v3/status/{quote(job_id, safe=':')}"


def _cancel_url_for(api_url: str, job_id: str) -> str:
    return f"{api_url.rstrip('/')}/v3/cancel/{quote(job_id, safe=':')}"


def _job_id_from_url(url: str) -> str:
    return unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])


@dataclass(frozen=True)
class JobHandle:
    """Where to poll and cancel an accepted job; serialisable with :meth:`to_dict`."""

    job_id: str
    status_url: str
    cancel_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobHandle:
        return cls(str(data["job_id"]), str(data["status_url"]), data.get("cancel_url"))

    @classmethod
    def for_job_id(cls, api_url: str, job_id: str) -> JobHandle:
        return cls(job_id, status_url_for(api_url, job_id), _cancel_url_for(api_url, job_id))


def _href(links: Any, name: str) -> str | None:
    if isinstance(links, dict):
        entry = links.get(name)
        if isinstance(entry, dict) and isinstance(entry.get("href"), str):
            return str(entry["href"])
    return None


def parse_submit_response(data: Any, *, what: str) -> JobHandle:
    """A :class:`JobHandle` from a submission's reply (either documented shape)."""
    if not isinstance(data, dict):
        raise FireflyError(f"{what} answered without a JSON object describing the job")
    job_id = data.get("jobId")
    status_url = data.get("statusUrl") or _href(data.get("links"), "result")
    cancel_url = data.get("cancelUrl") or _href(data.get("links"), "cancel")
    if not isinstance(status_url, str) or not status_url:
        raise FireflyError(f"{what} answered without a status URL for the job")
    if not isinstance(job_id, str) or not job_id:
        job_id = _job_id_from_url(status_url)
    return JobHandle(job_id, status_url, cancel_url if isinstance(cancel_url, str) else None)


@dataclass(frozen=True)
class JobOutput:
    """One output file of a finished job.

    :param url: presigned download URL (valid about one hour).
    :param kind: ``image``, ``video`` or ``file`` (upscale storage items).
    :param seed: the seed that produced it, when Firefly reports one.
    :param id: a storage id (upscale outputs), usable as an input of later calls.
    """

    url: str
    kind: str = "image"
    seed: int | None = None
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobOutput:
        seed = data.get("seed")
        storage_id = data.get("id")
        return cls(
            url=str(data["url"]),
            kind=str(data.get("kind") or "image"),
            seed=_seed(seed),
            id=storage_id if isinstance(storage_id, str) else None,
        )


@dataclass(frozen=True)
class JobStatus:
    """A job's status as last polled."""

    job_id: str
    status: str
    progress: float | None = None
    outputs: tuple[JobOutput, ...] = ()
    error_code: str | None = None
    message: str | None = None
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["outputs"] = [o.to_dict() for o in self.outputs]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobStatus:
        """Rebuild from :meth:`to_dict` output (an XCom value, a trigger event)."""
        outputs = tuple(
            JobOutput.from_dict(o)
            for o in data.get("outputs") or ()
            if isinstance(o, dict) and isinstance(o.get("url"), str)
        )
        progress = data.get("progress")
        error_code, message = data.get("error_code"), data.get("message")
        result = data.get("result")
        return cls(
            job_id=str(data.get("job_id") or ""),
            status=str(data.get("status") or ""),
            progress=(
                float(progress)
                if isinstance(progress, (int, float)) and not isinstance(progress, bool)
                else None
            ),
            outputs=outputs,
            error_code=error_code if isinstance(error_code, str) else None,
            message=message if isinstance(message, str) else None,
            result=dict(result) if isinstance(result, dict) else {},
        )


def _finite(value: Any) -> float | None:
    """A finite float, or None (``progress`` may be any JSON, even a 400-digit integer)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _seed(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _outputs(result: Any) -> tuple[JobOutput, ...]:
    if not isinstance(result, dict) or not isinstance(result.get("outputs"), list):
        return ()
    found: list[JobOutput] = []
    for item in result["outputs"]:
        if not isinstance(item, dict):
            continue
        seed = _seed(item.get("seed"))
        for kind in ("image", "video"):
            media = item.get(kind)
            if isinstance(media, dict) and isinstance(media.get("url"), str):
                media_id = media.get("id")
                found.append(
                    JobOutput(
                        media["url"], kind, seed, media_id if isinstance(media_id, str) else None
                    )
                )
                break
        else:
            url = item.get("presignedUrl") or item.get("url")
            if isinstance(url, str):
                storage_id = item.get("id")
                found.append(
                    JobOutput(
                        url, "file", seed, storage_id if isinstance(storage_id, str) else None
                    )
                )
    return tuple(found)


def parse_job_status(data: Any, *, job_id: str | None = None) -> JobStatus:
    """A :class:`JobStatus` from a status reply; tolerant of missing or odd fields."""
    if not isinstance(data, dict):
        raise FireflyError("the job status reply is not a JSON object")
    status = data.get("status")
    if not isinstance(status, str) or not status:
        raise FireflyError("the job status reply has no status")
    status = status.strip().lower()
    progress_value = _finite(data.get("progress"))
    result = data.get("result") if isinstance(data.get("result"), dict) else {}
    reported_id = data.get("jobId")
    error_code = data.get("error_code")
    message = data.get("message")
    return JobStatus(
        job_id=reported_id if isinstance(reported_id, str) and reported_id else (job_id or ""),
        status=status,
        progress=progress_value,
        outputs=_outputs(result),
        error_code=error_code if isinstance(error_code, str) else None,
        message=message[:500] if isinstance(message, str) else None,
        result=result or {},
    )


def job_error(status: JobStatus) -> FireflyError | None:
    """The typed error for a job that ended without success, else None."""
    detail = status.message or status.error_code or "no details given"
    common: dict[str, Any] = {
        "job_id": status.job_id,
        "job_status": status.status,
        "error_code": status.error_code,
    }
    if status.status == "failed":
        return FireflyJobFailedError(f"Firefly job {status.job_id} failed: {detail}", **common)
    if status.status in ("cancelled", "canceled"):
        return FireflyJobCancelledError(f"Firefly job {status.job_id} was cancelled", **common)
    if status.status == "timeout":
        return FireflyJobTimeoutError(
            f"Firefly job {status.job_id} timed out at Adobe: {detail}", **common
        )
    if status.succeeded and not status.outputs:
        return FireflyJobFailedError(
            f"Firefly job {status.job_id} succeeded but listed no outputs", **common
        )
    return None
