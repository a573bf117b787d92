"""Operator behaviour with ``execute`` called directly against the emulator (no DAG run):
terminal states, deadlines, 429 while polling, expired output URLs, ``on_kill``, resuming a
recorded job (never pay twice), ``execute_complete`` for every trigger event, XCom and links."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_firefly.client.errors import (
    FireflyError,
    FireflyJobCancelledError,
    FireflyJobFailedError,
    FireflyJobTimeoutError,
    FireflyServerError,
)
from airflow_provider_firefly.operators import (
    FireflyGenerateImagesOperator,
    FireflyListCustomModelsOperator,
    FireflyUploadImageOperator,
)
from airflow_provider_firefly.operators._outputs import output_expiry
from airflow_provider_firefly.operators._resume import JobRecord
from airflow_provider_firefly.operators.links import console_url
from airflow_provider_firefly.testing import FireflyEmulator

from .conftest import CONN_ID, context_for

STATUS = "GET /v3/status/{jobId}"


def gen(tmp_path: Path | None = None, **kw: Any) -> FireflyGenerateImagesOperator:
    kw.setdefault("prompt", "a cat")
    kw.setdefault("size", (32, 32))
    kw.setdefault("expected_seconds", 0)
    kw.setdefault("poll_interval", 0.1)
    kw.setdefault("max_poll_interval", 0.2)
    if tmp_path is not None:
        kw.setdefault("output_dir", str(tmp_path / "out"))
    return FireflyGenerateImagesOperator(task_id="t", firefly_conn_id=CONN_ID, **kw)


def plant(emu: FireflyEmulator, context: dict[str, Any], job: dict[str, Any]) -> str:
    """A record as an earlier try of the task would have written it (signed with the secret)."""
    record = JobRecord.for_context(context, logging.getLogger("test"), emu.client_secret)
    record.write(job, "generate_images", None, 1)
    return record.key or ""


def test_success_xcom_shape(emu: FireflyEmulator, tmp_path: Path, records: dict) -> None:
    value = gen(tmp_path, num_variations=2, seeds=[4, 5]).execute(context_for(with_ti=True))
    assert set(value) == {
        "job_id",
        "status",
        "operation",
        "model_version",
        "resumed",
        "seeds",
        "size",
        "outputs",
        "saved_paths",
    }
    assert value["status"] == "succeeded"
    assert value["seeds"] == [4, 5]
    assert value["size"] == {"width": 32, "height": 32}
    assert set(value["outputs"][0]) == {"url", "expires_at", "seed", "kind", "id", "path", "bytes"}
    assert [Path(p).name for p in value["saved_paths"]] == ["t-0-4.png", "t-1-5.png"]
    assert all(Path(p).read_bytes()[:4] == b"\x89PNG" for p in value["saved_paths"])
    text = json.dumps(value)
    assert emu.client_secret not in text
    assert "Bearer" not in text
    assert records == {}  # the record was written, then deleted at the end
    assert emu.counters()["jobs_submitted"] == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [
        ("failed", FireflyJobFailedError),
        ("cancelled", FireflyJobCancelledError),
        ("canceled", FireflyJobCancelledError),
        ("timeout", FireflyJobTimeoutError),
    ],
)
def test_terminal_states(
    status: str, error: type, emu: FireflyEmulator, tmp_path: Path, records: dict
) -> None:
    emu.configure(job_duration=30)
    body = {"jobId": "x", "status": status, "error_code": status, "message": f"job {status}"}
    emu.script(STATUS, [{"status": 200, "body": body}])
    with pytest.raises(error):
        gen(tmp_path).execute(context_for(with_ti=True))
    assert records == {}  # a terminal failure ends the record: a retry submits a new job
    assert not list((tmp_path / "out").iterdir())  # preflight made it; no file saved


def test_deadline_cancels_the_job(emu: FireflyEmulator, tmp_path: Path, records: dict) -> None:
    emu.configure(job_duration=30)
    started = time.monotonic()
    with pytest.raises(FireflyJobTimeoutError):
        gen(tmp_path, job_timeout=0.5).execute(context_for(with_ti=True))
    assert time.monotonic() - started < 5
    (job,) = emu.jobs()
    assert job["status"] in ("cancel_pending", "cancelled")
    assert emu.counters()["requests_by_route"]["PUT /v3/cancel/{jobId}"] == 1
    assert records == {}


def test_execution_timeout_bounds_the_wait(emu: FireflyEmulator) -> None:
    import datetime

    operator = gen(job_timeout=3600, execution_timeout=datetime.timedelta(seconds=7))
    assert operator._timeout(time.monotonic()) == pytest.approx(2.0, abs=0.1)


def test_rate_limited_while_polling(emu: FireflyEmulator, tmp_path: Path) -> None:
    emu.configure(job_duration=0.3)
    limited = {
        "status": 429,
        "headers": {"retry-after": "1"},
        "body": {"error_code": "rate_limited", "message": "Too many requests"},
    }
    emu.script(STATUS, [limited, limited])
    value = gen(tmp_path).execute({})
    assert value["status"] == "succeeded"
    counters = emu.counters()
    assert counters["jobs_submitted"] == 1
    assert counters["responses_by_route"][STATUS].get("429") == 2


def test_expired_output_url_is_refreshed_once(emu: FireflyEmulator, tmp_path: Path) -> None:
    expired = {
        "status": 403,
        "headers": {"content-type": "application/xml"},
        "body": "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
    }
    emu.script("GET /outputs/{outputId}", [expired])
    value = gen(tmp_path).execute({})
    assert Path(value["saved_paths"][0]).read_bytes()[:4] == b"\x89PNG"
    assert emu.counters()["requests_by_route"][STATUS] == 2  # the wait + the refresh


def test_on_kill_cancels_the_running_job(emu: FireflyEmulator, tmp_path: Path) -> None:
    emu.configure(job_duration=30, cancel_delay=0.1)
    operator = gen(tmp_path, job_timeout=20)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            operator.execute({})
        except BaseException as error:
            errors.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 10
    while not operator._waiting and time.monotonic() < deadline:
        time.sleep(0.02)
    operator.on_kill()
    worker.join(15)
    assert not worker.is_alive()
    assert isinstance(errors[0], FireflyJobCancelledError)
    assert emu.counters()["requests_by_route"]["PUT /v3/cancel/{jobId}"] == 1


def _submit(emu: FireflyEmulator, **body: Any) -> dict[str, Any]:
    from airflow_provider_firefly.hooks.firefly import FireflyHook

    hook = FireflyHook(firefly_conn_id=CONN_ID)
    return hook.submit("generate_images", {"prompt": "earlier", **body}).to_dict()


def test_resumes_the_recorded_job(emu: FireflyEmulator, tmp_path: Path, records: dict) -> None:
    emu.configure(job_duration=0.5)
    context = context_for(with_ti=True)
    key = plant(emu, context, _submit(emu))
    assert key.startswith("firefly_job__ff_direct.t__")
    value = gen(tmp_path).execute(context)
    assert value["resumed"] is True
    assert emu.counters()["jobs_submitted"] == 1  # the earlier one only
    assert value["job_id"] == emu.jobs()[0]["jobId"]
    assert records == {}


def test_resumed_job_already_finished_is_just_downloaded(
    emu: FireflyEmulator, tmp_path: Path, records: dict
) -> None:
    context = context_for(with_ti=True)
    plant(emu, context, _submit(emu))
    value = gen(tmp_path).execute(context)
    assert value["resumed"] is True
    assert value["saved_paths"]
    assert emu.counters()["jobs_submitted"] == 1
    assert emu.counters()["requests_by_route"][STATUS] == 1


def test_resumed_job_that_failed_raises_and_clears(
    emu: FireflyEmulator, tmp_path: Path, records: dict
) -> None:
    context = context_for(with_ti=True)
    job = _submit(emu)
    emu.set_job(job["job_id"], status="failed", error_code="runtime_error", message="boom")
    plant(emu, context, job)
    with pytest.raises(FireflyJobFailedError):
        gen(tmp_path).execute(context)
    assert records == {}
    assert emu.counters()["jobs_submitted"] == 1


def test_unknown_recorded_job_submits_a_new_one(
    emu: FireflyEmulator, tmp_path: Path, records: dict
) -> None:
    context = context_for(with_ti=True)
    job = _submit(emu)
    emu.reset()
    emu.configure(job_duration=0)
    plant(emu, context, job)
    value = gen(tmp_path).execute(context)
    assert value["resumed"] is False
    assert emu.counters()["jobs_submitted"] == 1


def test_mapped_records_are_distinct() -> None:
    keys = {
        JobRecord.for_context(context_for(map_index=i, with_ti=True), None).key
        for i in range(-1, 3)
    }
    assert len(keys) == 4
    long = {"ti": SimpleNamespace(dag_id="d" * 200, task_id="t", run_id="r" * 200, map_index=0)}
    key = JobRecord.for_context(long, None).key or ""
    assert len(key) <= 250
    assert key.startswith("firefly_job__ddd")


def _event(
    status: str,
    job: dict[str, Any],
    job_status: dict[str, Any] | None = None,
    error_type: str | None = None,
) -> dict[str, Any]:
    return {
        "status": status,
        "job": job,
        "job_status": job_status,
        "message": f"it {status}",
        "error_type": error_type,
    }


@pytest.mark.parametrize(
    ("status", "error", "record_kept"),
    [
        ("failed", FireflyJobFailedError, False),
        ("cancelled", FireflyJobCancelledError, False),
        ("timeout", FireflyJobTimeoutError, False),
        ("deadline", FireflyJobTimeoutError, False),
        ("error", FireflyServerError, True),
    ],
)
def test_execute_complete_errors(
    status: str, error: type, record_kept: bool, records: dict, emu: FireflyEmulator
) -> None:
    context = context_for(with_ti=True)
    job = {
        "job_id": "urn:ff:jobs:x:1",
        "status_url": emu.api_url + "/v3/status/urn:ff:jobs:x:1",
        "cancel_url": None,
    }
    key = plant(emu, context, job)
    event = _event(status, job, error_type="FireflyServerError" if status == "error" else None)
    with pytest.raises(error):
        gen().execute_complete(context, event)
    assert (key in records) is record_kept


def test_execute_complete_success_saves(emu: FireflyEmulator, tmp_path: Path) -> None:
    from airflow_provider_firefly.hooks.firefly import FireflyHook

    hook = FireflyHook(firefly_conn_id=CONN_ID)
    job = _submit(emu)
    status = hook.get_status(job["job_id"])
    value = gen(tmp_path).execute_complete(
        {},
        _event("succeeded", job, status.to_dict()),
        request={"operation": "generate_images", "model_version": None, "media_type": None},
    )
    assert value["operation"] == "generate_images"
    assert Path(value["saved_paths"][0]).stat().st_size > 0
    with pytest.raises(FireflyError):
        gen().execute_complete({}, {"status": "succeeded", "job": job, "job_status": None})


def test_upload_and_list_custom_models(emu: FireflyEmulator, images: SimpleNamespace) -> None:
    upload_id = FireflyUploadImageOperator(
        task_id="u", image=f"file://{images.png}", firefly_conn_id=CONN_ID
    ).execute({})
    assert len(upload_id) == 36
    assert emu.counters()["uploads"] == 1
    models = FireflyListCustomModelsOperator(
        task_id="m", firefly_conn_id=CONN_ID, published_state="all", page_size=1, limit=2
    ).execute({})
    assert len(models) == 2
    assert all("assetId" in m for m in models)


def test_output_expiry_and_console_links() -> None:
    url = "https://x.s3.amazonaws.com/o.png?X-Amz-Date=20260102T030405Z&X-Amz-Expires=3600&s=1"
    assert output_expiry(url) == "2026-01-02T04:04:05Z"
    assert output_expiry("https://x/y.png").endswith("Z")
    assert console_url("s3://bucket/a/b") == (
        "https://s3.console.aws.amazon.com/s3/buckets/bucket?prefix=a/b/"
    )
    assert console_url("s3://aws_default@bucket/p").startswith(
        "https://s3.console.aws.amazon.com/s3/buckets/bucket?"
    )
    assert console_url("gs://b/p") == "https://console.cloud.google.com/storage/browser/b/p"
    assert console_url("file:///tmp/x") == ""
    assert console_url("/tmp/x") == ""
    assert console_url(None) == ""


def test_importing_operators_is_light() -> None:
    code = (
        "import sys, airflow.sdk; before = set(sys.modules);"
        "from airflow_provider_firefly.operators import FireflyGenerateImagesOperator,"
        " FireflyOperator, FireflyGenerateVideoOperator, FireflyPreciseCompositeOperator;"
        "new = set(sys.modules) - before;"
        "bad = [m for m in new if m.split('.')[0] in ('httpx', 'jsonschema', 'requests',"
        " 'cryptography', 'referencing') or m in ('airflow_provider_firefly.hooks.firefly',"
        " 'airflow_provider_firefly.schema', 'airflow_provider_firefly.client.api')];"
        "print(sorted(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr
