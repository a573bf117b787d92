"""Failures in real task runs: job failed, deadline → cancel, never pay twice (sync, deferred)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fixtures.connections import conn_json

from airflow_provider_firefly.testing import FireflyEmulator

from .test_dag_runs import load_dag, ti_states, xcoms

pytestmark = [pytest.mark.airflow, pytest.mark.slow]


def test_failures_deadlines_and_resume(  # noqa: PLR0917 (fixtures)
    airflow_db: str,
    firefly_emulator: FireflyEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    emu = firefly_emulator
    # "slow" jobs run 30 s (beyond the 1.5 s deadline); the others 0.5 s.
    emu.configure(job_duration=0.5, blocked_words=["forbidden"], content_policy_stage="poll-failed")
    monkeypatch.setenv("FF_OPS_WORKDIR", str(tmp_path))
    monkeypatch.setenv("AIRFLOW_CONN_FF_OPS", conn_json(emu))
    stop = threading.Event()

    def slow_down() -> None:
        # Make the "slow painting" jobs run 60 s, as soon as they are submitted.
        done: set[str] = set()
        while not stop.wait(0.02):
            for job in emu.jobs():
                if job["request"].get("prompt") == "a slow painting" and job["jobId"] not in done:
                    emu.set_job(job["jobId"], duration=60)
                    done.add(job["jobId"])

    watcher = threading.Thread(target=slow_down, daemon=True)
    watcher.start()
    try:
        dag_run = load_dag("operators_faults.py", "ff_ops_faults").test()
    finally:
        stop.set()
        watcher.join()
    states = ti_states(dag_run)
    out, err = capfd.readouterr()
    logs = out + err + caplog.text
    assert states[("failed_sync", -1)] == "failed", states
    assert states[("failed_deferred", -1)] == "failed", states
    assert "FireflyJobFailedError" in logs
    assert states[("crash_once_sync", -1)] == "success", states
    assert states[("crash_once_deferred", -1)] == "success", states

    jobs = emu.jobs()
    by_prompt: dict[str, list[dict]] = {}
    for job in jobs:
        by_prompt.setdefault(job["request"].get("prompt", ""), []).append(job)
    # Never pay twice: each crashing task (sync, deferred) submitted exactly one job.
    assert len(by_prompt["a phoenix"]) == 2
    assert logs.count("Resuming Firefly job") == 2
    values = xcoms("ff_ops_faults", dag_run.run_id)
    for mode in ("sync", "deferred"):
        value = values[(f"crash_once_{mode}", -1)]
        assert value["resumed"] is True
        assert value["job_id"] in {j["jobId"] for j in by_prompt["a phoenix"]}
        assert Path(value["saved_paths"][0].removeprefix("file://")).stat().st_size > 0

    # Deadline: both slow jobs cancelled at Adobe, and the tasks failed.
    assert states[("deadline_sync", -1)] == "failed", states
    assert states[("deadline_deferred", -1)] == "failed", states
    slow = by_prompt["a slow painting"]
    assert len(slow) == 2
    assert all(j["status"] in ("cancel_pending", "cancelled") for j in slow), slow
    assert emu.counters()["requests_by_route"].get("PUT /v3/cancel/{jobId}", 0) == 2

    # No record left behind: a cleared task starts a new job.
    from airflow.models import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        left = session.query(Variable).filter(Variable.key.like("firefly_job__%")).all()
        assert [v.key for v in left] == []
