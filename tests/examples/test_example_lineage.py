"""OpenLineage events of the example runs (the OpenLineage provider's file transport):

every Firefly job task reports its saved files as outputs and its Firefly job in the
``fireflyJob`` run facet; the upload task reports the photo as its input and the Firefly
storage item as its output, which the job reading that upload id reports as its input; no event
holds a token, the client secret, a presigned URL's signature or a prompt.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import CONSUMERS, DAG_IDS, EXAMPLE_DAGS, DagRun

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

# The OpenLineage provider is the `lineage` extra (in `dev`), not in the older minors' locks.
pytest.importorskip("airflow.providers.openlineage")

PRODUCT = str((EXAMPLE_DAGS / "assets" / "product.png").resolve())
PRODUCERS = [d for d in DAG_IDS if d not in CONSUMERS]


def completes(run: DagRun, task_id: str) -> list[dict[str, Any]]:
    name = f"{run.dag_id}.{task_id}"
    return [e for e in run.lineage if e["eventType"] == "COMPLETE" and e["job"]["name"] == name]


def names(datasets: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(d["namespace"], d["name"]) for d in datasets}


def file_dataset(path: str) -> tuple[str, str]:
    """The OpenLineage name of a saved local file: namespace ``file``, its absolute path."""
    assert path.startswith("file://"), path
    return ("file", str(Path(path.removeprefix("file://"))))


def job_results(run: DagRun) -> dict[tuple[str, int], dict[str, Any]]:
    return {
        key: value
        for key, value in run.xcoms.items()
        if isinstance(value, dict) and isinstance(value.get("job_id"), str)
    }


@pytest.mark.parametrize("dag_id", PRODUCERS)
def test_every_job_task_reports_its_job_and_outputs(
    example_runs: dict[str, DagRun], dag_id: str
) -> None:
    run = example_runs[dag_id]
    assert run.returncode == 0, run.explain()
    results = job_results(run)
    assert results, f"{dag_id}: no job task XCom"
    for (task_id, map_index), result in results.items():
        events = completes(run, task_id)
        by_job = {
            e["run"]["facets"]["fireflyJob"]["jobId"]: e
            for e in events
            if "fireflyJob" in e["run"]["facets"]
        }
        assert result["job_id"] in by_job, (task_id, map_index, list(by_job))
        event = by_job[result["job_id"]]
        facet = event["run"]["facets"]["fireflyJob"]
        if result.get("kind") == "firefly_job_handle":  # submit-only: no outputs yet
            assert facet["operation"] == result["operation"]
            # Under `airflow dags test` Airflow's own file-write tracking carries the files of
            # tasks that ran earlier in the same process into later events: the submit-only
            # task may list those, never a file of its own.
            earlier = {
                file_dataset(p)
                for key, other in results.items()
                if key != (task_id, map_index)
                for p in other.get("saved_paths") or []
            }
            assert names(event["outputs"]) <= earlier, (task_id, event["outputs"])
            continue
        assert facet["operation"] == result["operation"]
        assert facet.get("modelVersion") == result["model_version"]  # None is left out
        assert facet["seeds"] == result["seeds"]
        assert facet["outputCount"] == len(result["outputs"])
        assert facet["status"] == "succeeded"
        assert result["saved_paths"], (task_id, result)
        saved = {file_dataset(p) for p in result["saved_paths"]}
        assert saved <= names(event["outputs"]), (task_id, event["outputs"])


def test_upload_photo_is_an_input_and_the_upload_feeds_the_job(
    example_runs: dict[str, DagRun],
) -> None:
    for dag_id in ("firefly_product_banner", "firefly_product_placement"):
        run = example_runs[dag_id]
        (event,) = completes(run, "upload")
        assert names(event["inputs"]) == {("file", PRODUCT)}, event["inputs"]
        upload_id = run.xcoms[("upload", -1)]
        ((namespace, name),) = names(event["outputs"])
        assert re.fullmatch(r"firefly://127\.0\.0\.1", namespace), namespace
        assert name == f"uploads/{upload_id}"
    banner = example_runs["firefly_product_banner"]
    (expand,) = completes(banner, "expand")
    assert (namespace, f"uploads/{banner.xcoms[('upload', -1)]}") in names(expand["inputs"])


def test_url_inputs_by_host_and_path_and_local_files(example_runs: dict[str, DagRun]) -> None:
    run = example_runs["firefly_product_banner"]
    (fill,) = completes(run, "fill")
    expand_url = run.xcoms[("expand", -1)]["outputs"][0]["url"]
    assert "?" in expand_url  # a presigned URL: its query is the signature
    host, path = re.fullmatch(r"(http://[^/]+)(/[^?]+)\?.*", expand_url).groups()  # type: ignore[union-attr]
    inputs = names(fill["inputs"])
    assert (host, path) in inputs, inputs
    mask = str((EXAMPLE_DAGS / "assets" / "banner_mask.png").resolve())
    assert ("file", mask) in inputs


def test_no_secret_token_signature_or_prompt_in_any_event(
    example_runs: dict[str, DagRun],
) -> None:
    prompts = ("lighthouse on a cliff", "kitchen counter", "lemon tree", "potted succulent")
    for dag_id, run in example_runs.items():
        text = run.lineage_text
        assert run.lineage, f"{dag_id}: no OpenLineage event"
        for event in run.lineage:
            json.dumps(event)  # one JSON object a line
        assert run.client_secret
        for needle in (
            run.client_secret,
            "X-Amz-",
            "Signature",
            "Bearer",
            "access_token",
            "eyJ",  # any JWT (IMS tokens are JWTs)
            "status_url",
            "/v3/status/",
            *prompts,
        ):
            assert needle not in text, (dag_id, needle)


def test_the_consumer_run_has_events_too(example_runs: dict[str, DagRun]) -> None:
    run = example_runs["firefly_asset_consumer"]
    assert any(e["eventType"] == "COMPLETE" for e in run.lineage), run.explain()
