"""``wait_for_completion=False``: the operator submits (with the job record), returns the handle
and ends; ``FireflyJobSensor(job=...)`` waits for that job and saves its outputs with the
operators' code, returning the operators' XCom shape. Against the emulator, no DAG run."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import Asset
from airflow.sdk.bases.sensor import PokeReturnValue

from airflow_provider_firefly.client.errors import FireflyConfigError, FireflyJobFailedError
from airflow_provider_firefly.operators import FireflyGenerateImagesOperator, FireflyJobSensor
from airflow_provider_firefly.operators._assets import attach_to_outlets
from airflow_provider_firefly.testing import FireflyEmulator

from .conftest import CONN_ID, context_for
from .test_execute import gen, plant

log = logging.getLogger("test")


def submit(tmp_path: Path, records: dict[str, str], **kw: Any) -> dict[str, Any]:
    operator = gen(tmp_path, wait_for_completion=False, seeds=[5, 6], num_variations=2, **kw)
    value: dict[str, Any] = operator.execute(context_for(with_ti=True))
    return value


def test_submit_only_returns_the_handle_and_waits_for_nothing(
    emu: FireflyEmulator, tmp_path: Path, records: dict[str, str]
) -> None:
    emu.configure(job_duration=60)
    value = submit(tmp_path, records)
    assert value["kind"] == "firefly_job_handle"
    assert value["status"] == "submitted"
    assert value["operation"] == "generate_images"
    assert value["model_version"] == "image3"
    assert value["seeds"] == [5, 6]
    assert value["status_url"].endswith(value["job_id"])
    assert value["cancel_url"]
    assert records == {}  # the task ended: its record is gone (a cleared task submits anew)
    routes = emu.counters()["requests_by_route"]
    assert not any(route.startswith("GET /v3/status") for route in routes), routes
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    json.dumps(value)  # an XCom value
    assert "token" not in json.dumps(value).lower()


def test_sensor_saves_with_the_operators_shape(
    emu: FireflyEmulator, tmp_path: Path, records: dict[str, str]
) -> None:
    emu.configure(job_duration=60)
    handle = submit(tmp_path, records)
    out = tmp_path / "sensed"
    sensor = FireflyJobSensor(
        task_id="wait",
        job=handle,
        output_dir=str(out),
        output_name="{task_id}-{index}-{seed}.{ext}",
        firefly_conn_id=CONN_ID,
    )
    assert sensor.poke({}) is False
    emu.set_job(handle["job_id"], status="succeeded")
    done = sensor.poke(context_for("wait", with_ti=True))
    assert isinstance(done, PokeReturnValue)
    assert done.is_done
    value = done.xcom_value
    assert sorted(p.name for p in out.iterdir()) == ["wait-0-5.png", "wait-1-6.png"]
    # the same keys as a waiting operator's value
    emu.configure(job_duration=0)
    waited = gen(tmp_path, seeds=[1]).execute({})
    assert set(value) == set(waited)
    assert value["job_id"] == handle["job_id"]
    assert value["seeds"] == [5, 6]
    assert value["operation"] == "generate_images"
    assert value["saved_paths"] == [str(out / "wait-0-5.png"), str(out / "wait-1-6.png")]
    assert [o["bytes"] for o in value["outputs"]] == [
        (out / "wait-0-5.png").stat().st_size,
        (out / "wait-1-6.png").stat().st_size,
    ]


def test_sensor_takes_the_handle_as_json_text_and_without_output_dir(
    emu: FireflyEmulator, tmp_path: Path, records: dict[str, str]
) -> None:
    handle = submit(tmp_path, records)
    sensor = FireflyJobSensor(task_id="wait", job=json.dumps(handle), firefly_conn_id=CONN_ID)
    done = sensor.poke({})
    assert isinstance(done, PokeReturnValue)
    value = done.xcom_value
    assert value["saved_paths"] == []
    assert [o["path"] for o in value["outputs"]] == [None, None]
    assert [o["seed"] for o in value["outputs"]] == [5, 6]


def test_sensor_deferred_resume_saves(
    emu: FireflyEmulator, tmp_path: Path, records: dict[str, str]
) -> None:
    handle = submit(tmp_path, records)
    from airflow_provider_firefly.hooks.firefly import FireflyHook

    status = FireflyHook(firefly_conn_id=CONN_ID).get_status(
        FireflyJobSensor(task_id="x", job=handle)._handle(FireflyHook(firefly_conn_id=CONN_ID))
    )
    assert status.status == "succeeded"
    sensor = FireflyJobSensor(
        task_id="wait", job=handle, output_dir=str(tmp_path / "d"), firefly_conn_id=CONN_ID
    )
    job = {k: handle[k] for k in ("job_id", "status_url", "cancel_url")}
    event = {"status": "succeeded", "job": job, "job_status": status.to_dict(), "message": ""}
    value = sensor.execute_complete({}, event)
    assert len(value["saved_paths"]) == 2
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["wait-0-5.png", "wait-1-6.png"]


def test_sensor_raises_the_jobs_error(
    emu: FireflyEmulator, tmp_path: Path, records: dict[str, str]
) -> None:
    emu.configure(job_duration=60)
    handle = submit(tmp_path, records)
    emu.set_job(handle["job_id"], status="failed", error_code="runtime_error")
    sensor = FireflyJobSensor(
        task_id="wait", job=handle, output_dir=str(tmp_path / "o"), firefly_conn_id=CONN_ID
    )
    with pytest.raises(FireflyJobFailedError):
        sensor.poke({})


@pytest.mark.parametrize(
    "bad", ["not json", {"job_id": "x"}, {"status_url": "https://a/b"}, ["x"], "[1]"]
)
def test_sensor_refuses_a_value_that_is_no_handle(bad: Any) -> None:
    sensor = FireflyJobSensor(task_id="wait", job=bad, firefly_conn_id=CONN_ID)
    with pytest.raises(FireflyConfigError, match="wait_for_completion=False") as info:
        sensor.poke({})
    assert info.value.field == "job"


def test_resumed_job_that_failed_fails_the_submit_only_task(
    emu: FireflyEmulator, tmp_path: Path, records: dict[str, str]
) -> None:
    emu.configure(job_duration=60)
    from airflow_provider_firefly.hooks.firefly import FireflyHook

    job = FireflyHook(firefly_conn_id=CONN_ID).submit("generate_images", {"prompt": "a cat"})
    emu.set_job(job.job_id, status="failed", error_code="runtime_error")
    context = context_for(with_ti=True)
    plant(emu, context, job.to_dict())
    operator = FireflyGenerateImagesOperator(
        task_id="t", prompt="a cat", firefly_conn_id=CONN_ID, wait_for_completion=False
    )
    with pytest.raises(FireflyJobFailedError):
        operator.execute(context)
    assert records == {}


def test_asset_extra_goes_to_asset_outlets_only() -> None:
    class Event:
        def __init__(self) -> None:
            self.extra: dict[str, Any] = {}

    events: dict[Any, Event] = {}

    class Accessors(dict):  # type: ignore[type-arg]
        def __getitem__(self, key: Any) -> Event:
            return events.setdefault(key, Event())

    asset = Asset("campaign")
    result = {
        "job_id": "urn:ff:jobs:1",
        "operation": "generate_images",
        "model_version": "image3",
        "seeds": [1],
        "outputs": [{"url": "https://x/y.png?X-Amz-Signature=s", "path": "/o/a.png"}],
        "saved_paths": ["/o/a.png"],
    }
    count = attach_to_outlets([asset, "not an asset"], {"outlet_events": Accessors()}, result, log)
    assert count == 1
    assert events[asset].extra == {
        "firefly_job_ids": ["urn:ff:jobs:1"],
        "operation": "generate_images",
        "model_version": "image3",
        "saved_paths": ["/o/a.png"],
        "count": 1,
        "seeds": [1],
    }
    assert attach_to_outlets([asset], {}, result, log) == 0
