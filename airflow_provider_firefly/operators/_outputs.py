"""Saving a finished job's outputs before their one-hour URLs expire, and the XCom value."""

from __future__ import annotations

import datetime
import os
import string
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from airflow_provider_firefly.operators._errors import bad_param

if TYPE_CHECKING:
    from airflow_provider_firefly.client.jobs import JobHandle, JobOutput, JobStatus
    from airflow_provider_firefly.hooks.firefly import FireflyHook

__all__ = [
    "NAME_FIELDS",
    "check_output_name",
    "output_expiry",
    "resolve_output_dir",
    "save_outputs",
]

#: Placeholders ``output_name`` may use.
NAME_FIELDS = ("task_id", "map_index", "index", "seed", "ext", "job_id", "run_id", "dag_id")
_EXT = {"image": "png", "video": "mp4", "file": "png"}
_MEDIA_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/jxl": "jxl"}
OUTPUT_URL_LIFETIME = 3600


def check_output_name(operator: str, template: str) -> None:
    """Reject an ``output_name`` with unknown placeholders or path separators, before any call."""
    if not isinstance(template, str) or not template.strip():
        raise bad_param(operator, "output_name", "must be a non-empty string")
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as error:
        raise bad_param(
            operator, "output_name", f"is not a valid format string ({error})"
        ) from None
    unknown = sorted({f for f in fields if f.split(".")[0].split("[")[0] not in NAME_FIELDS})
    if unknown:
        raise bad_param(
            operator,
            "output_name",
            f"uses unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}",
            f"use {', '.join('{' + n + '}' for n in NAME_FIELDS)}",
        )
    if "{seed" not in template and "{index" not in template:
        raise bad_param(
            operator,
            "output_name",
            "must contain {seed} or {index}, or several outputs would overwrite each other",
        )


def resolve_output_dir(operator: str, value: Any) -> Any:
    """``output_dir`` as an ``ObjectStoragePath`` or an absolute ``Path`` (None: no save)."""
    if value is None:
        return None
    if hasattr(value, "protocol") and hasattr(value, "open"):
        return value
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip():
        raise bad_param(
            operator,
            "output_dir",
            f"must be an ObjectStoragePath, a storage URL or an absolute path, got {value!r}",
        )
    text = value.strip()
    if "://" in text:
        from airflow.sdk import ObjectStoragePath

        try:
            return ObjectStoragePath(text)
        except (ValueError, ImportError) as error:
            raise bad_param(
                operator,
                "output_dir",
                f"is an unsupported storage URL {text!r} ({error})",
                "use file://, s3://, gs://... with the matching Airflow provider installed",
            ) from None
    path = Path(text).expanduser()
    if not path.is_absolute():
        raise bad_param(
            operator,
            "output_dir",
            f"is a relative path {text!r}; a worker's working directory is not stable",
            "give an absolute path or a storage URL such as file:///data/out or s3://bucket/out",
        )
    if path.exists() and not path.is_dir():
        raise bad_param(operator, "output_dir", f"names a file, not a directory: {text!r}")
    return path


def output_expiry(url: str, now: datetime.datetime | None = None) -> str:
    """When a presigned URL expires (ISO 8601, UTC): X-Amz-Date + X-Amz-Expires, else now + 1 h."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    query = parse_qs(urlsplit(url).query)
    try:
        signed = datetime.datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc
        )
        expires = signed + datetime.timedelta(seconds=int(query["X-Amz-Expires"][0]))
    except (KeyError, IndexError, ValueError, OverflowError):
        expires = now + datetime.timedelta(seconds=OUTPUT_URL_LIFETIME)
    return expires.isoformat().replace("+00:00", "Z")


def _ext(output: JobOutput, media_type: str | None) -> str:
    if media_type and output.kind != "video":
        return _MEDIA_EXT.get(media_type, "png")
    return _EXT.get(output.kind, "bin")


def save_outputs(
    hook: FireflyHook,
    *,
    job: JobHandle,
    status: JobStatus,
    destination: Any,
    name_template: str,
    name_fields: dict[str, Any],
    media_type: str | None,
    log: Any,
) -> tuple[JobStatus, list[dict[str, Any]]]:
    """Stream each output to ``destination`` at once; an expired URL is refreshed once.

    Returns the (possibly refreshed) status and one entry per output for the XCom value.
    """
    from airflow_provider_firefly.client.errors import FireflyOutputExpiredError

    entries: list[dict[str, Any]] = []
    refreshed = False
    for index in range(len(status.outputs)):
        output = status.outputs[index]
        entry: dict[str, Any] = {
            "url": output.url,
            "expires_at": output_expiry(output.url),
            "seed": output.seed,
            "kind": output.kind,
            "id": output.id,
            "path": None,
            "bytes": None,
        }
        if destination is not None:
            name = name_template.format(
                **name_fields,
                index=index,
                seed=output.seed if output.seed is not None else index,
                ext=_ext(output, media_type),
            )
            target = destination / name
            try:
                result = hook.download(output, target)
            except FireflyOutputExpiredError:
                if refreshed:
                    raise
                log.warning("Output URL of %s expired; fetching the job status again", job.job_id)
                status = hook.get_status(job)
                refreshed = True
                if index >= len(status.outputs):
                    raise
                output = status.outputs[index]
                entry["url"] = output.url
                entry["expires_at"] = output_expiry(output.url)
                result = hook.download(output, target)
            entry["path"] = str(target)
            entry["bytes"] = result.bytes_written
            log.info(
                "Saved output %d (seed %s, %d bytes) to %s",
                index,
                output.seed,
                result.bytes_written,
                target,
            )
        entries.append(entry)
    return status, entries
