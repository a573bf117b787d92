"""Saving a finished job's outputs before their one-hour URLs expire, and the XCom value."""

from __future__ import annotations

import datetime
import os
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from airflow_provider_firefly.hooks.storage_paths import is_object_storage_path
from airflow_provider_firefly.operators._destination import target_in
from airflow_provider_firefly.operators._names import render_name

if TYPE_CHECKING:
    from airflow_provider_firefly.client.jobs import JobHandle, JobOutput, JobStatus
    from airflow_provider_firefly.hooks.firefly import FireflyHook

__all__ = ["output_expiry", "save_outputs"]

_EXT = {"image": "png", "video": "mp4", "file": "png"}
_MEDIA_EXT = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "image/jxl": "jxl",
    "image/tiff": "tiff",
    "video/mp4": "mp4",
}
OUTPUT_URL_LIFETIME = 3600


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


def _sent_seed(sent_seeds: Any, index: int) -> int | None:
    if isinstance(sent_seeds, list) and index < len(sent_seeds):
        value = sent_seeds[index]
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _served_ext(content_type: str | None) -> str | None:
    """The extension of what the server actually sent, when it is a known media type."""
    if not content_type:
        return None
    return _MEDIA_EXT.get(content_type.split(";")[0].strip().lower())


def _rename(target: Any, new: Any) -> None:
    if is_object_storage_path(target):
        target.rename(new)
    else:
        os.replace(target, new)


def save_outputs(
    hook: FireflyHook,
    *,
    operator: str,
    job: JobHandle,
    status: JobStatus,
    destination: Any,
    name_template: str,
    name_fields: dict[str, Any],
    media_type: str | None,
    log: Any,
    sent_seeds: Any = None,
) -> tuple[JobStatus, list[dict[str, Any]]]:
    """Stream each output to ``destination`` at once; an expired URL is refreshed once.

    Every name is built from safe components and checked to lie inside ``destination``; a file
    whose served ``Content-Type`` disagrees with the requested type gets the served extension.
    An output the server reports without a seed (upscale) carries the seed that was sent for
    it. Returns the (possibly refreshed) status and one entry per output for the XCom value.
    """
    entries: list[dict[str, Any]] = []
    refreshed = False
    for index in range(len(status.outputs)):
        output = status.outputs[index]
        seed = output.seed if output.seed is not None else _sent_seed(sent_seeds, index)
        entry: dict[str, Any] = {
            "url": output.url,
            "expires_at": output_expiry(output.url),
            "seed": seed,
            "kind": output.kind,
            "id": output.id,
            "path": None,
            "bytes": None,
        }
        if destination is not None:
            fields = {
                **name_fields,
                "index": index,
                "seed": seed if seed is not None else index,
            }
            ext = _ext(output, media_type)
            target = target_in(
                operator, destination, render_name(operator, name_template, {**fields, "ext": ext})
            )
            where = f"Firefly job {job.job_id}: output {index} (seed {seed})"
            status, output, result, refreshed = _download(
                hook,
                job=job,
                status=status,
                index=index,
                output=output,
                target=target,
                refreshed=refreshed,
                where=where,
                log=log,
            )
            entry["url"] = output.url
            entry["expires_at"] = output_expiry(output.url)
            served = _served_ext(result.content_type)
            if served and served != ext:
                name = render_name(operator, name_template, {**fields, "ext": served})
                final = target_in(operator, destination, name)
                _rename(target, final)
                log.warning(
                    "%s: asked for .%s but the server sent %s; saved as %s",
                    where,
                    ext,
                    result.content_type,
                    name,
                )
                target = final
            entry["path"] = str(target)
            entry["bytes"] = result.bytes_written
            log.info(
                "Saved output %d (seed %s, %d bytes) to %s",
                index,
                seed,
                result.bytes_written,
                target,
            )
        entries.append(entry)
    return status, entries


def _download(
    hook: FireflyHook,
    *,
    job: JobHandle,
    status: JobStatus,
    index: int,
    output: JobOutput,
    target: Any,
    refreshed: bool,
    where: str,
    log: Any,
) -> tuple[JobStatus, JobOutput, Any, bool]:
    """One download; an expired URL is re-read from a new status poll once per task try."""
    from airflow_provider_firefly.client.errors import (
        FireflyDownloadRefusedError,
        FireflyError,
        FireflyOutputExpiredError,
    )

    try:
        try:
            return status, output, hook.download(output, target), refreshed
        except FireflyOutputExpiredError:
            if refreshed:
                raise
            log.warning("%s: URL expired; fetching the job status again", where)
            status = hook.get_status(job)
            refreshed = True
            if index >= len(status.outputs):
                raise
            output = status.outputs[index]
            return status, output, hook.download(output, target), refreshed
    except FireflyOutputExpiredError as error:
        raise FireflyOutputExpiredError(
            f"{where}: its URL is still refused as expired after polling the job again "
            f"({error.message}). Nothing was submitted again; a retry of this task resumes "
            "the same job while Firefly keeps its outputs"
        ) from error
    except FireflyDownloadRefusedError as error:
        if error.job_id:
            raise
        raise FireflyDownloadRefusedError(
            error.reason, output=error.output, job_id=job.job_id
        ) from error
    except FireflyError as error:
        log.error("%s could not be saved to %s: %s", where, target, error)
        raise
