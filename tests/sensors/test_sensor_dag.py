"""FireflyJobSensor in a real Airflow run (one ``dag.test()``, ~30 s): poke, reschedule and
deferrable modes (the trigger runs inline), a failed job, and a deferrable timeout."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_firefly.client.tokens import clear_memory_cache
from airflow_provider_firefly.client.transport import AsyncTransport, SyncTransport
from airflow_provider_firefly.testing import FireflyEmulator

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

DAG_ID = "sensor_firefly"


def _load_dag() -> Any:
    path = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{DAG_ID}.py"
    spec = importlib.util.spec_from_file_location(DAG_ID, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.the_dag


def _run_rows(run_id: str) -> tuple[dict[str, Any], dict[str, str], dict[str, int]]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        xcoms = {
            row.task_id: XComModel.deserialize_value(row)
            for row in session.query(XComModel).filter(
                XComModel.dag_id == DAG_ID, XComModel.run_id == run_id
            )
            if row.key == "return_value"
        }
        tis = session.query(TaskInstance).filter(
            TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == run_id
        )
        states = {ti.task_id: str(ti.state) for ti in tis}
        reschedules: dict[str, int] = {}
        for ti in tis:
            count = session.query(TaskReschedule).filter(TaskReschedule.ti_id == ti.id).count()
            reschedules[ti.task_id] = count
    return xcoms, states, reschedules


def test_sensor_modes_in_a_real_dag_run(
    airflow_db: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AIRFLOW_PROVIDER_FIREFLY_CACHE_DIR", str(tmp_path / "tokens"))
    clear_memory_cache()
    sent: list[str] = []
    sync_request, async_request = SyncTransport.request, AsyncTransport.request

    def record_sync(self: SyncTransport, method: str, url: str, **kwargs: Any) -> Any:
        sent.append(url)
        return sync_request(self, method, url, **kwargs)

    async def record_async(self: AsyncTransport, method: str, url: str, **kwargs: Any) -> Any:
        sent.append(url)
        return await async_request(self, method, url, **kwargs)

    monkeypatch.setattr(SyncTransport, "request", record_sync)
    monkeypatch.setattr(AsyncTransport, "request", record_async)

    # statusUrl/cancelUrl on a second listener: the sensors given a status URL must poll it.
    with FireflyEmulator(status_port=0, job_duration=10) as emu:
        monkeypatch.setenv(
            "AIRFLOW_CONN_FF_SENSOR",
            json.dumps(
                {
                    "conn_type": "firefly",
                    "login": emu.client_id,
                    "password": emu.client_secret,
                    "extra": {"api_url": emu.api_url, "ims_url": emu.ims_url},
                }
            ),
        )
        from airflow_provider_firefly.hooks.firefly import FireflyHook

        hook = FireflyHook(firefly_conn_id="ff_sensor")
        jobs = {
            name: hook.submit("generate_images", {"prompt": f"{name} lighthouse"})
            for name in ("poke", "reschedule", "deferrable", "failed", "slow")
        }
        emu.set_job(jobs["failed"].job_id, status="failed", error_code="runtime_error")
        emu.set_job(jobs["slow"].job_id, duration=600)
        emu.set_job(jobs["reschedule"].job_id, duration=18)
        conf = {
            "poke_job_id": jobs["poke"].job_id,
            "reschedule_status_url": jobs["reschedule"].status_url,
            "deferrable_status_url": jobs["deferrable"].status_url,
            "failed_job_id": jobs["failed"].job_id,
            "slow_status_url": jobs["slow"].status_url,
        }
        dag_run = _load_dag().test(run_conf=conf)
        out, err = capfd.readouterr()
        counters = emu.counters()

    xcoms, states, reschedules = _run_rows(dag_run.run_id)
    assert states == {
        "poke": "success",
        "reschedule": "success",
        "deferrable": "success",
        "failed_job": "failed",
        "deferrable_timeout": "failed",
    }, (states, out[-3000:], err[-3000:])
    for task_id, job in (
        ("poke", jobs["poke"]),
        ("reschedule", jobs["reschedule"]),
        ("deferrable", jobs["deferrable"]),
    ):
        assert xcoms[task_id]["status"] == "succeeded"
        assert xcoms[task_id]["job_id"] == job.job_id
        assert xcoms[task_id]["outputs"][0]["url"].startswith("http")
    assert reschedules["reschedule"] >= 1  # really went through reschedule mode
    assert "FireflyJobFailedError" in out + err
    assert "AirflowSensorTimeout" in out + err
    # Sensors never cancel a job, not even at their timeout.
    assert counters["jobs_cancelled"] == 0
    assert counters["requests_by_route"].get("PUT /v3/cancel/{jobId}", 0) == 0
    # The status URLs given were polled exactly as returned (second listener).
    for name in ("reschedule", "deferrable", "slow"):
        assert jobs[name].status_url in sent, name
    polled = {url for url in sent if "/v3/status/" in url}
    assert polled <= {
        jobs["reschedule"].status_url,
        jobs["deferrable"].status_url,
        jobs["slow"].status_url,
        f"{emu.api_url}/v3/status/{jobs['poke'].job_id}",
        f"{emu.api_url}/v3/status/{jobs['failed'].job_id}",
    }, polled
