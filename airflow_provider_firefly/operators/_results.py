"""A finished job's XCom value, in one place for the operators and ``FireflyJobSensor``.

Saving the outputs (``output_dir`` / ``output_name``), the file-name fields and the shape of the
result are the same whether the operator waited for its job or a sensor waited for a job an
operator submitted with ``wait_for_completion=False``. The submit-only handle is built here too,
so that what the sensor reads is exactly what the operator wrote.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_firefly.client.jobs import JobHandle, JobStatus

__all__ = [
    "HANDLE_KIND",
    "default_output_name",
    "finish_job",
    "job_handle_value",
    "request_info_of",
    "submitted_value",
]

#: ``kind`` of the XCom a submit-only operator returns: a handle the sensor can wait for.
HANDLE_KIND = "firefly_job_handle"
_REQUEST_KEYS = ("operation", "model_version", "media_type", "seeds")


def default_output_name(context: Any) -> str:
    """``{task_id}-{index}-{seed}.{ext}``; mapped tasks get ``{map_index}`` too."""
    ti = context.get("ti") if context else None
    index = getattr(ti, "map_index", -1) if ti is not None else -1
    if isinstance(index, int) and index >= 0:
        return "{task_id}-{map_index}-{index}-{seed}.{ext}"
    return "{task_id}-{index}-{seed}.{ext}"


def request_info_of(value: Any) -> dict[str, Any]:
    """Operation, model version, media type and seeds from a handle or deferral kwargs.

    The value comes from an XCom or trigger kwargs, so only plain values of the right type
    are kept."""
    info: dict[str, Any] = {}
    if not isinstance(value, dict):
        return info
    for key in ("operation", "model_version", "media_type"):
        if isinstance(value.get(key), str):
            info[key] = value[key]
    seeds = value.get("seeds")
    if isinstance(seeds, list) and all(
        isinstance(s, int) and not isinstance(s, bool) for s in seeds
    ):
        info["seeds"] = seeds
    return info


def job_handle_value(
    handle: JobHandle, request_info: dict[str, Any], *, status: str, resumed: bool
) -> dict[str, Any]:
    """What a submit-only operator returns: enough for ``FireflyJobSensor(job=...)``."""
    return {
        "kind": HANDLE_KIND,
        **handle.to_dict(),
        "status": status,
        "resumed": resumed,
        **{key: request_info.get(key) for key in _REQUEST_KEYS},
    }


def finish_job(
    hook: Any,
    *,
    label: str,
    context: Any,
    task_id: str,
    handle: JobHandle,
    status: JobStatus,
    request_info: dict[str, Any],
    output_dir: Any,
    output_name: str | None,
    resumed: bool,
    log: Any,
) -> dict[str, Any]:
    """Raise the job's typed error, or save its outputs and return the XCom value.

    :param hook: the ``FireflyHook`` the outputs are downloaded with.
    :param label: the operator or sensor class name, for error messages.
    :param context: the task context (file-name fields).
    :param task_id: the ``{task_id}`` of file names.
    :param handle: the finished job.
    :param status: its terminal status.
    :param request_info: ``operation``, ``model_version``, ``media_type`` and ``seeds`` sent.
    :param output_dir: where to save (None: nothing is saved, the URLs are listed).
    :param output_name: the file-name template (None: :func:`default_output_name`).
    :param resumed: whether an earlier try submitted the job.
    :param log: the task's logger.
    """
    from airflow_provider_firefly.client.jobs import job_error
    from airflow_provider_firefly.operators._destination import resolve_output_dir
    from airflow_provider_firefly.operators._outputs import save_outputs

    error = job_error(status)
    if error is not None:
        raise error
    destination = resolve_output_dir(label, output_dir)
    ti = context.get("ti") if context else None
    fields = {
        "task_id": task_id,
        "dag_id": getattr(ti, "dag_id", "") if ti is not None else "",
        "run_id": getattr(ti, "run_id", "") if ti is not None else "",
        "map_index": getattr(ti, "map_index", -1) if ti is not None else -1,
        "job_id": handle.job_id.rsplit(":", 1)[-1],
    }
    status, outputs = save_outputs(
        hook,
        operator=label,
        job=handle,
        status=status,
        destination=destination,
        name_template=output_name or default_output_name(context),
        name_fields=fields,
        media_type=request_info.get("media_type"),
        sent_seeds=request_info.get("seeds"),
        log=log,
    )
    size = status.result.get("size") if isinstance(status.result, dict) else None
    log.info(
        "Firefly job %s succeeded: %d output(s)%s",
        handle.job_id,
        len(outputs),
        f", saved to {destination}" if destination is not None else "",
    )
    return {
        "job_id": handle.job_id,
        "status": status.status,
        "operation": request_info.get("operation"),
        "model_version": request_info.get("model_version"),
        "resumed": resumed,
        "seeds": [o["seed"] for o in outputs if o["seed"] is not None],
        "size": size if isinstance(size, dict) else None,
        "outputs": outputs,
        "saved_paths": [o["path"] for o in outputs if o["path"]],
    }


def submitted_value(
    handle: JobHandle,
    status: JobStatus | None,
    request_info: dict[str, Any],
    record: Any,
    log: Any,
    *,
    resumed: bool,
) -> dict[str, Any]:
    """End a submit-only task: delete its job record (the task is over: a cleared task submits a
    new job), raise if a resumed job already failed, else return :func:`job_handle_value`."""
    from airflow_provider_firefly.client.jobs import job_error

    error = job_error(status) if status is not None and status.is_terminal else None
    if record is not None:
        record.delete()
    if error is not None:
        raise error
    log.info(
        "wait_for_completion=False: job %s handed to XCom (a FireflyJobSensor waits for it)",
        handle.job_id,
    )
    return job_handle_value(
        handle,
        request_info,
        status=status.status if status is not None else "submitted",
        resumed=resumed,
    )
