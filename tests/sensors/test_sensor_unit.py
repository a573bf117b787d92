"""FireflyJobSensor without a DAG run: poke results, the deferral it asks for, its resume."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from airflow.sdk.bases.sensor import PokeReturnValue
from airflow.sdk.exceptions import AirflowSensorTimeout, TaskDeferred

from airflow_provider_firefly.client.errors import FireflyJobFailedError, FireflyNotFoundError
from airflow_provider_firefly.client.tokens import clear_memory_cache
from airflow_provider_firefly.sensors.firefly import FireflyJobSensor
from airflow_provider_firefly.testing import FireflyEmulator
from airflow_provider_firefly.triggers.firefly import FireflyJobTrigger

STATUS_URL = "https://firefly-api.adobe.io/v3/status/urn:ff:jobs:x:1"


@pytest.fixture
def conn(firefly_emulator: FireflyEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> str:
    monkeypatch.setenv("AIRFLOW_PROVIDER_FIREFLY_CACHE_DIR", str(tmp_path / "tokens"))
    clear_memory_cache()
    emu = firefly_emulator
    for conn_id, extra in (("ff_sensor_unit", {}), ("ff_sensor_once", {"max_attempts": 1})):
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_id.upper()}",
            json.dumps(
                {
                    "conn_type": "firefly",
                    "login": emu.client_id,
                    "password": emu.client_secret,
                    "extra": {"api_url": emu.api_url, "ims_url": emu.ims_url, **extra},
                }
            ),
        )
    return "ff_sensor_unit"


def _submit(conn: str) -> Any:
    from airflow_provider_firefly.hooks.firefly import FireflyHook

    return FireflyHook(firefly_conn_id=conn).submit("generate_images", {"prompt": "x"})


def test_needs_a_job() -> None:
    with pytest.raises(ValueError, match="job_id or status_url"):
        FireflyJobSensor(task_id="s")


def test_poke(firefly_emulator: FireflyEmulator, conn: str) -> None:
    emu = firefly_emulator
    emu.configure(job_duration=60)
    job = _submit(conn)
    by_id = FireflyJobSensor(task_id="a", job_id=job.job_id, firefly_conn_id=conn)
    by_url = FireflyJobSensor(task_id="b", status_url=job.status_url, firefly_conn_id=conn)
    assert by_id.poke({}) is False
    emu.set_job(job.job_id, status="succeeded")
    done = by_url.poke({})
    assert isinstance(done, PokeReturnValue)
    assert done.is_done
    assert done.xcom_value is not None
    assert done.xcom_value["status"] == "succeeded"
    assert done.xcom_value["job_id"] == job.job_id
    emu.script("GET /v3/status/{jobId}", [{"status": 429, "headers": {"retry-after": "0"}}] * 5)
    sensor = FireflyJobSensor(task_id="c", job_id=job.job_id, firefly_conn_id="ff_sensor_once")
    assert sensor.poke({}) is False  # rate limited: not yet, no failure
    emu.clear_scripts()
    emu.set_job(job.job_id, status="failed", error_code="runtime_error")
    with pytest.raises(FireflyJobFailedError):
        by_id.poke({})
    unknown = FireflyJobSensor(
        task_id="d",
        job_id="urn:ff:jobs:emu:00000000-0000-0000-0000-000000000000",
        firefly_conn_id=conn,
    )
    with pytest.raises(FireflyNotFoundError):
        unknown.poke({})


def test_deferrable_defers_to_a_non_cancelling_trigger() -> None:
    sensor = FireflyJobSensor(
        task_id="s", status_url=STATUS_URL, deferrable=True, timeout=600, firefly_conn_id="ffx"
    )
    with pytest.raises(TaskDeferred) as info:
        sensor.execute({})
    trigger = info.value.trigger
    assert isinstance(trigger, FireflyJobTrigger)
    _, kwargs = trigger.serialize()
    assert kwargs["job"] == {
        "job_id": "urn:ff:jobs:x:1",
        "status_url": STATUS_URL,
        "cancel_url": None,
    }
    assert kwargs["cancel_on_deadline"] is False
    assert kwargs["firefly_conn_id"] == "ffx"
    assert abs(kwargs["deadline"] - (time.time() + 600)) < 5
    assert info.value.method_name == "execute_complete"
    assert info.value.timeout is not None
    assert info.value.timeout.total_seconds() > 600


def test_execute_complete() -> None:
    sensor = FireflyJobSensor(task_id="s", status_url=STATUS_URL)
    job = {"job_id": "urn:ff:jobs:x:1", "status_url": STATUS_URL, "cancel_url": None}
    status: dict[str, Any] = {
        "job_id": "urn:ff:jobs:x:1",
        "status": "succeeded",
        "progress": None,
        "outputs": [{"url": "https://o/1.png", "kind": "image", "seed": 3, "id": None}],
        "error_code": None,
        "message": None,
        "result": {},
    }
    base = {"job": job, "message": "m", "error_type": None}
    result = sensor.execute_complete({}, {**base, "status": "succeeded", "job_status": status})
    assert result == status
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute_complete({}, {**base, "status": "deadline", "job_status": None})
    with pytest.raises(FireflyJobFailedError):
        sensor.execute_complete(
            {}, {**base, "status": "failed", "job_status": {**status, "status": "failed"}}
        )


@pytest.mark.parametrize("setting", ["true", "false"])
def test_deferrable_default_is_read_when_the_task_is_made(
    monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    """Operators and sensor take ``[operators] default_deferrable`` the same way, when the task
    is created (a setting made after the modules were imported counts)."""
    from airflow_provider_firefly.operators import FireflyGenerateImagesOperator

    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", setting)
    expected = setting == "true"
    sensor = FireflyJobSensor(task_id="wait", job_id="urn:ff:jobs:x:1")
    operator = FireflyGenerateImagesOperator(task_id="make", prompt="a cat")
    assert sensor.deferrable is expected
    assert operator.deferrable is expected
    explicit = FireflyJobSensor(task_id="w2", job_id="urn:ff:jobs:x:1", deferrable=not expected)
    assert explicit.deferrable is (not expected)
