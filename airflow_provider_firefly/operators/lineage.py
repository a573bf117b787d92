"""OpenLineage for the Firefly operators: inputs, saved outputs and the Firefly job's run facet.

Imported only by ``get_openlineage_facets_on_*`` (when the OpenLineage provider is installed
and enabled), never when a DAG file is parsed.

Datasets are named as the OpenLineage naming spec says: a local file is namespace ``file``,
name its absolute path; object storage is ``{scheme}://{bucket}`` and the key (``s3``, ``gs``,
``abfs``...); an https input is ``https://{host}`` and the URL's path, never its query string
(a presigned URL's signature lives there); an upload id is ``firefly://{api host}``,
``uploads/{id}``, the name the upload operator's output and a job's input share.

The run facet ``fireflyJob`` holds the job id, operation, model version, seeds, output count
and (when the client reports one) the submission's request id. Prompts are left out on
purpose: they are free text users also put briefs, names and unreleased product details in,
and lineage backends are read far more widely than task logs. No token, secret or presigned URL
is ever put in an event.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from attrs import define
from openlineage.client.facet_v2 import RunFacet

from airflow_provider_firefly.hooks.storage_paths import is_object_storage_path

__all__ = [
    "FireflyJobRunFacet",
    "dataset_for",
    "failure_lineage",
    "job_lineage",
    "upload_lineage",
]

_PRODUCER_SCHEMA = (
    "https://github.com/airflow-provider-firefly/airflow-provider-firefly/blob/main/docs/"
    "operators.md#openlineage"
)


@define
class FireflyJobRunFacet(RunFacet):
    """The Firefly job a task run submitted (or resumed).

    :param jobId: Firefly's job id (``urn:ff:jobs:...``).
    :param operation: the operation name, e.g. ``generate_images``.
    :param modelVersion: the ``x-model-version`` sent, if any.
    :param seeds: the seeds of the outputs (sent or reported).
    :param outputCount: how many outputs the job returned.
    :param status: the job's last known status.
    :param requestId: the submission's ``x-request-id``, when the client reports it.
    """

    jobId: str
    operation: str | None = None
    modelVersion: str | None = None
    seeds: list[int] | None = None
    outputCount: int | None = None
    status: str | None = None
    requestId: str | None = None

    # Nothing here is a secret; the provider's redaction must not mangle ids.
    _additional_skip_redact = ["jobId", "operation", "modelVersion", "requestId"]

    @staticmethod
    def _get_schema() -> str:
        return _PRODUCER_SCHEMA


def _dataset(namespace: str, name: str) -> Any:
    from airflow.providers.common.compat.openlineage.facet import Dataset

    return Dataset(namespace=namespace, name=name)


def _from_url(text: str) -> Any | None:
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    # userinfo (a connection id, or credentials) never goes in: only the host or bucket
    host = parts.netloc.rsplit("@", 1)[-1]
    if scheme in ("file", "local"):
        return _dataset("file", os.path.normpath("/" + (host + parts.path).lstrip("/")))
    if scheme in ("http", "https"):
        # host and path only: the query string of a presigned URL is its signature
        return _dataset(f"{scheme}://{(parts.hostname or '').lower()}{_port(parts)}", parts.path)
    if not host:
        return None
    return _dataset(f"{scheme}://{host}", parts.path.lstrip("/"))


def _port(parts: Any) -> str:
    try:
        port = parts.port
    except ValueError:
        return ""
    return f":{port}" if port else ""


def dataset_for(value: Any) -> Any | None:
    """The OpenLineage dataset of a local path, storage path or URL (None if not a file)."""
    if is_object_storage_path(value):
        return _from_url(str(value))
    if isinstance(value, os.PathLike):
        return _dataset("file", os.path.abspath(os.fspath(value)))
    if not isinstance(value, str) or not value:
        return None
    if "://" in value:
        return _from_url(value)
    return _dataset("file", os.path.abspath(os.path.expanduser(value)))


def upload_dataset(api_host: str, upload_id: str) -> Any:
    """An image in Firefly storage: what an upload produces and a job may read."""
    return _dataset(f"firefly://{api_host.lower()}", f"uploads/{upload_id}")


def input_datasets(items: Any, api_host: str) -> list[Any]:
    """One dataset per distinct image input (``ImageInput`` items)."""
    found: dict[tuple[str, str], Any] = {}
    for item in items:
        if item.kind == "upload_id":
            dataset = upload_dataset(api_host, str(item.value)) if api_host else None
        else:
            dataset = dataset_for(item.value)
        if dataset is not None:
            found.setdefault((dataset.namespace, dataset.name), dataset)
    return list(found.values())


def output_datasets(result: dict[str, Any] | None) -> list[Any]:
    """One dataset per saved file of a job's XCom value (unsaved outputs are only URLs)."""
    datasets = []
    for path in (result or {}).get("saved_paths") or []:
        dataset = dataset_for(path)
        if dataset is not None:
            datasets.append(dataset)
    return datasets


def run_facet(
    job: Any, request_info: dict[str, Any], result: dict[str, Any] | None
) -> FireflyJobRunFacet:
    """The ``fireflyJob`` run facet: ids and counts only."""
    seeds = (result or {}).get("seeds") or request_info.get("seeds")
    request_id = getattr(job, "request_id", None)
    return FireflyJobRunFacet(
        jobId=str(job.job_id),
        operation=(result or {}).get("operation") or request_info.get("operation"),
        modelVersion=(result or {}).get("model_version") or request_info.get("model_version"),
        seeds=[s for s in seeds if isinstance(s, int)] if isinstance(seeds, list) else None,
        outputCount=len(result["outputs"]) if result and "outputs" in result else None,
        status=(result or {}).get("status"),
        requestId=request_id if isinstance(request_id, str) else None,
    )


def job_lineage(
    job: Any,
    items: Any,
    api_host: str,
    request_info: dict[str, Any],
    result: dict[str, Any] | None,
) -> Any:
    """``OperatorLineage`` of a job task: its image inputs, saved files and the job facet."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    facets = {"fireflyJob": run_facet(job, request_info, result)} if job is not None else {}
    return OperatorLineage(
        inputs=input_datasets(items, api_host),
        outputs=output_datasets(result),
        run_facets=facets,
    )


def failure_lineage(job: Any, items: Any, api_host: str, request_info: dict[str, Any]) -> Any:
    """``OperatorLineage`` of a failed job task: the inputs, and the job if one was submitted."""
    return job_lineage(job, items, api_host, request_info, None)


def upload_lineage(image: Any, api_host: str, upload_id: str | None) -> Any:
    """``OperatorLineage`` of an upload: the photo in, the Firefly storage item out."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    source = dataset_for(image)
    outputs = [upload_dataset(api_host, upload_id)] if upload_id and api_host else []
    return OperatorLineage(inputs=[source] if source is not None else [], outputs=outputs)
