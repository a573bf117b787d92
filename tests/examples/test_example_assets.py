"""The asset pair: ``firefly_asset_producer`` saves images under an asset (an operator that waits,
and a submit-only operator whose job a ``FireflyJobSensor`` waits for and saves), and
``firefly_asset_consumer``, run with those asset events, reads the events' extra."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

from .conftest import DagRun

pytestmark = [pytest.mark.airflow, pytest.mark.slow]


def asset_events(run: DagRun) -> dict[str, dict]:
    with sqlite3.connect(run.home / "airflow.db") as db:
        rows = db.execute(
            "select e.source_task_id, e.extra, a.name from asset_event e "
            "join asset a on a.id = e.asset_id where e.source_dag_id = ?",
            (run.dag_id,),
        ).fetchall()
    assert {name for _, _, name in rows} == {"firefly_campaign_images"}, rows
    return {task: json.loads(extra) for task, extra, _ in rows}


def test_producer_saves_and_announces(example_runs: dict[str, DagRun]) -> None:
    run = example_runs["firefly_asset_producer"]
    assert run.returncode == 0, run.explain()
    assert run.states == {
        ("hero", -1): "success",
        ("submit_variants", -1): "success",
        ("variants", -1): "success",
    }, run.explain()
    hero, handle, variants = (run.xcoms[(t, -1)] for t in ("hero", "submit_variants", "variants"))

    # submit-only: the handle, no wait, no download; the sensor saved the outputs
    assert handle["kind"] == "firefly_job_handle"
    assert handle["status"] == "submitted"
    assert handle["status_url"].endswith(handle["job_id"])
    assert handle["seeds"] == [21]
    assert set(handle) >= {"job_id", "status_url", "cancel_url", "operation", "model_version"}
    assert variants["job_id"] == handle["job_id"]
    # the sensor's XCom has the operators' shape
    assert set(variants) == set(hero), (sorted(variants), sorted(hero))
    assert variants["seeds"] == [21]
    assert [p.rsplit("/", 1)[-1] for p in variants["saved_paths"]] == ["variant-0-21.png"]
    assert [p.rsplit("/", 1)[-1] for p in hero["saved_paths"]] == ["hero-0-7.png", "hero-1-8.png"]
    assert sorted(p.name for p in run.files("*.png")) == [
        "hero-0-7.png",
        "hero-1-8.png",
        "variant-0-21.png",
    ]
    assert run.counters["jobs_submitted"] == 2
    # each submission is logged once (by the client), with its job id
    for job_id in (hero["job_id"], handle["job_id"]):
        assert len(re.findall(rf"accepted job {re.escape(job_id)}\b", run.log)) == 1, job_id

    events = asset_events(run)
    assert set(events) == {"hero", "variants"}
    for task, result in (("hero", hero), ("variants", variants)):
        assert events[task] == {
            "firefly_job_ids": [result["job_id"]],
            "operation": "generate_images",
            "model_version": "image3",
            "saved_paths": result["saved_paths"],
            "count": len(result["saved_paths"]),
            "seeds": result["seeds"],
        }
    assert "X-Amz" not in json.dumps(events)  # no presigned URL in a stored event


def test_consumer_reads_the_events_extra(example_runs: dict[str, DagRun]) -> None:
    producer = example_runs["firefly_asset_producer"]
    run = example_runs["firefly_asset_consumer"]
    assert run.returncode == 0, run.explain()
    assert "CONSUMER_RUN_EVENTS 2" in run.log, run.explain()
    assert run.states == {("collect", -1): "success"}, run.explain()
    manifest = run.xcoms[("collect", -1)]
    hero, variants = (producer.xcoms[(t, -1)] for t in ("hero", "variants"))
    assert sorted(manifest["job_ids"]) == sorted([hero["job_id"], variants["job_id"]])
    assert sorted(manifest["saved_paths"]) == sorted(
        [*hero["saved_paths"], *variants["saved_paths"]]
    )
    assert manifest["count"] == 3
