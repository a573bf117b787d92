"""Job handles, statuses and outputs, parsed from whatever shape Firefly answers with.

Submissions answer ``{jobId, statusUrl, cancelUrl}`` (v3) or ``{links: {result, cancel}}``
(v4 and upscale); statuses are ``pending``, ``running``, ``succeeded``, ``failed``,
``cancel_pending``, ``cancelled`` (also spelt ``canceled``) and ``timeout``; outputs are images,
videos or upscale storage items. Everything here is JSON-serialisable, for XCom and triggers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, TypeGuard
from urllib.parse import quote, unquote, urlsplit

from airflow_provider_firefly.client.errors import (
    FireflyError,
    FireflyJobCancelledError,
    FireflyJobFailedError,
    FireflyJobTimeoutError,
    clip_server_text,
)
from airflow_provider_firefly.client.server_text import MAX_FIELD, header_value

__all__ = [
    "IN_PROGRESS_STATUSES",
    "TERMINAL_STATUSES",
    "JobHandle",
    "JobOutput",
    "JobStatus",
    "check_job_id",
    "is_safe_job_id",
    "job_error",
    "parse_job_status",
    "parse_submit_response",
    "status_url_for",
]

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled", "canceled", "timeout"})
IN_PROGRESS_STATUSES = frozenset({"pending", "running", "cancel_pending"})


#: A job id as Firefly writes them (a UUID or ``urn:ff:jobs:...``): letters, digits and
#: ``: . _ - @ + =``, no path separator, no control character, at most 256 characters.
_SAFE_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._@+=-]{0,255}")


def is_safe_job_id(value: object) -> TypeGuard[str]:
    """Whether ``value`` can be a job id: safe in a URL path and as part of a file name."""
    return (
        isinstance(value, str) and _SAFE_JOB_ID.fullmatch(value) is not None and ".." not in value
    )


def check_job_id(value: object, *, subject: str = "the server") -> str:
    """``value`` if it is a safe job id, else a :class:`FireflyError` (``/``, ``\\``, ``..``,
    control characters or an absurd length: never used to build a URL or a file name)."""
    if not is_safe_job_id(value):
        shown = clip_server_text(value, 60) if isinstance(value, str) else type(value).__name__
        raise FireflyError(
            f"{subject} gave an invalid job id {shown!r}: a job id is a UUID or urn:ff:jobs:... "
            "(letters, digits and : . _ - only)"
        )
    return value


def status_url_for(api_url: str, job_id: str) -> str:
    """The status URL of a job id (URN colons kept, everything else path-quoted)."""
    return f"{api_url.rstrip('/')}/v3/status/{quote(job_id, safe=':')}"


def _cancel_url_for(api_url: str, job_id: str) -> str:
    return f"{api_url.rstrip('/')}/v3/cancel/{quote(job_id, safe=':')}"


def _job_id_from_url(url: str, subject: str) -> str:
    # The last path segment, percent-decoded: ``%2F..%2F`` must not become a path.
    return check_job_id(unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]), subject=subject)


@dataclass(frozen=True)
class JobHandle:
    """Where to poll and cancel an accepted job; serialisable with :meth:`to_dict`.

    :param job_id: Firefly's job id.
    :param status_url: the URL to poll, as the submission's reply gave it.
    :param cancel_url: the URL to cancel the job, when the reply gave one.
    :param request_id: the submission reply's ``x-request-id``, worth quoting to Adobe support.
    """

    job_id: str
    status_url: str
    cancel_url: str | None = None
    request_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (XCom, trigger kwargs); ``request_id`` only when known."""
        data = asdict(self)
        if self.request_id is None:
            del data["request_id"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobHandle:
        """The handle :meth:`to_dict` wrote (dicts written before ``request_id`` load too)."""
        return cls(
            str(data["job_id"]),
            str(data["status_url"]),
            data.get("cancel_url"),
            clip_server_text(data.get("request_id"), MAX_FIELD),
        )

    @classmethod
    def for_job_id(cls, api_url: str, job_id: str) -> JobHandle:
        return cls(job_id, status_url_for(api_url, job_id), _cancel_url_for(api_url, job_id))


def _href(links: Any, name: str) -> str | None:
    if isinstance(links, dict):
        entry = links.get(name)
        if isinstance(entry, dict) and isinstance(entry.get("href"), str):
            return str(entry["href"])
    return None


def parse_submit_response(
    data: Any,
    *,
    subject: str,
    api_url: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JobHandle:
    """A :class:`JobHandle` from a submission's reply (either documented shape).

    The spec requires no field: without a status URL, one is built from ``jobId`` on
    ``api_url`` (``{api_url}/v3/status/{jobId}``, the v3 status route every operation's jobs
    are polled on). A job id is always checked to be safe (see :func:`check_job_id`).

    :param data: the reply's JSON body.
    :param subject: the request, for error messages.
    :param api_url: the API's base URL, to build a status URL from a bare job id.
    :param headers: the reply's headers; their ``x-request-id`` becomes the handle's
        ``request_id`` (clipped and redacted like any server text).
    """
    handle = _handle_from_body(data, subject=subject, api_url=api_url)
    request_id = header_value(headers or {}, "x-request-id")
    if request_id is None:
        return handle
    return replace(handle, request_id=clip_server_text(request_id, MAX_FIELD))


def _handle_from_body(data: Any, *, subject: str, api_url: str | None) -> JobHandle:
    if not isinstance(data, dict):
        raise FireflyError(f"{subject} answered without a JSON object describing the job")
    job_id = data.get("jobId")
    status_url = data.get("statusUrl") or _href(data.get("links"), "result")
    cancel_url = data.get("cancelUrl") or _href(data.get("links"), "cancel")
    if job_id is not None and job_id != "":
        job_id = check_job_id(job_id, subject=subject)
    if not isinstance(status_url, str) or not status_url:
        if not job_id or api_url is None:
            raise FireflyError(f"{subject} answered without a status URL or a job id for the job")
        return JobHandle.for_job_id(api_url, job_id)
    if not job_id:
        job_id = _job_id_from_url(status_url, subject)
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
        # An unsafe id from the server is ignored: the caller's own id is known to be good.
        job_id=reported_id if is_safe_job_id(reported_id) else (job_id or ""),
        status=clip_server_text(status, 40) or "",
        progress=progress_value,
        outputs=_outputs(result),
        error_code=clip_server_text(error_code, 120) if isinstance(error_code, str) else None,
        message=clip_server_text(message, 500) if isinstance(message, str) else None,
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
