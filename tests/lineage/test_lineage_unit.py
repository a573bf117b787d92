"""``operators.lineage``: dataset names as the OpenLineage naming spec says, the run facet, and
that a DAG file importing the operators and the sensor loads no OpenLineage code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("airflow.providers.openlineage")

from airflow.sdk import ObjectStoragePath

from airflow_provider_firefly.client.jobs import JobHandle
from airflow_provider_firefly.operators import lineage
from airflow_provider_firefly.operators._inputs import ImageInput

S3_HOST = "pre-signed-firefly-prod.s3-accelerate.amazonaws.com"
PRESIGNED = (
    f"https://{S3_HOST}/images/a%20b.png"
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA&X-Amz-Signature=deadbeef"
)


def pair(dataset: object) -> tuple[str, str]:
    return (dataset.namespace, dataset.name)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/data/in/photo.png", ("file", "/data/in/photo.png")),
        (Path("/data/in/photo.png"), ("file", "/data/in/photo.png")),
        ("file:///data/out/a.png", ("file", "/data/out/a.png")),
        (ObjectStoragePath("file:///data/out/a.png"), ("file", "/data/out/a.png")),
        ("s3://bucket/campaign/a.png", ("s3://bucket", "campaign/a.png")),
        (ObjectStoragePath("s3://bucket/campaign/a.png"), ("s3://bucket", "campaign/a.png")),
        ("s3://aws_default@bucket/k/a.png", ("s3://bucket", "k/a.png")),  # no connection id
        ("gs://bkt/x/y.png", ("gs://bkt", "x/y.png")),
        (PRESIGNED, (f"https://{S3_HOST}", "/images/a%20b.png")),
        ("https://user:pw@example.com:8443/p.png?sig=1#f", ("https://example.com:8443", "/p.png")),
    ],
)
def test_dataset_names(value: object, expected: tuple[str, str]) -> None:
    assert pair(lineage.dataset_for(value)) == expected


def test_inputs_dedupe_and_upload_ids() -> None:
    items = [
        ImageInput("image", "local", Path("/data/p.png")),
        ImageInput("mask", "local", Path("/data/p.png")),
        ImageInput("style_reference", "upload_id", "0f8e2a3c-1b2d-4e5f-8a9b-0c1d2e3f4a5b"),
        ImageInput("structure_reference", "url", PRESIGNED),
    ]
    got = [pair(d) for d in lineage.input_datasets(items, "Firefly-API.adobe.io")]
    assert got == [
        ("file", "/data/p.png"),
        ("firefly://firefly-api.adobe.io", "uploads/0f8e2a3c-1b2d-4e5f-8a9b-0c1d2e3f4a5b"),
        ("https://pre-signed-firefly-prod.s3-accelerate.amazonaws.com", "/images/a%20b.png"),
    ]


def test_job_lineage_facet_and_outputs_hold_no_url() -> None:
    from openlineage.client.serde import Serde

    job = JobHandle("urn:ff:jobs:abc", "https://firefly-api.adobe.io/v3/status/urn:ff:jobs:abc")
    result = {
        "job_id": job.job_id,
        "status": "succeeded",
        "operation": "generate_images",
        "model_version": "image4_standard",
        "seeds": [11, 22],
        "outputs": [
            {"url": PRESIGNED, "path": "s3://b/o/0-11.png"},
            {"url": PRESIGNED, "path": None},
        ],
        "saved_paths": ["s3://b/o/0-11.png"],
    }
    sent = {"operation": "generate_images", "model_version": "image4_standard", "seeds": [11, 22]}
    got = lineage.job_lineage(job, [], "firefly-api.adobe.io", sent, result)
    assert [pair(d) for d in got.outputs] == [("s3://b", "o/0-11.png")]
    facet = json.loads(Serde.to_json(got.run_facets["fireflyJob"]))
    assert facet["jobId"] == "urn:ff:jobs:abc"
    assert facet["operation"] == "generate_images"
    assert facet["modelVersion"] == "image4_standard"
    assert facet["seeds"] == [11, 22]
    assert facet["outputCount"] == 2
    text = Serde.to_json(got.run_facets["fireflyJob"]) + repr(got.outputs)
    assert "X-Amz" not in text
    assert "/v3/status" not in text
    failed = lineage.failure_lineage(job, [], "firefly-api.adobe.io", sent)
    assert failed.outputs == []
    assert failed.run_facets["fireflyJob"].jobId == "urn:ff:jobs:abc"


def test_no_job_no_facet() -> None:
    got = lineage.failure_lineage(None, [], "", {})
    assert got.run_facets == {}


def test_dag_files_load_no_openlineage_code() -> None:
    code = (
        "import sys, airflow.sdk; before = set(sys.modules);"
        "from airflow_provider_firefly.operators import FireflyGenerateImagesOperator,"
        " FireflyUploadImageOperator, FireflyJobSensor;"
        "from airflow_provider_firefly.sensors import FireflyJobSensor as S;"
        "new = set(sys.modules) - before;"
        "print(sorted(m for m in new if 'openlineage' in m or m.endswith('.lineage')"
        " or m.split('.')[0] in ('httpx', 'jsonschema')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr
