"""Firefly operators under a real scheduler (LocalExecutor, parallelism 4) and triggerer.

One session runs four DAGs at once (``tests/e2e/dags/ff_e2e_dags.py``) in the deployment of
``conftest.py``, triggered through the REST API like a user would:

* ``ff_e2e_mapped_sync``: 20 mapped text-to-image tasks waiting in the worker;
* ``ff_e2e_mapped_deferred``: the same 20 waiting in the real ``airflow triggerer``;
* ``ff_e2e_cluster_cache``: 1 + 6 tasks on another client whose connections each have their
  own host cache folder (or none) and ``shared_cache`` on;
* ``ff_e2e_cluster_cold``: 4 tasks of a third client, no host cache, starting together on a
  cold Variable (the last-writer-wins window: at most one token each, none may fail).

Token counts are per client, from the tokens the in-process emulator issued, so the DAGs can
share one emulator and run together. The scheduler's ``--skip-serve-logs`` and the triggerer's
keep their log servers (which bind every interface) off; the API server reads the local files.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import (
    CLUSTER,
    COLD,
    DEFERRED,
    N_CLUSTER,
    N_COLD,
    N_TASKS,
    PARALLELISM,
    SYNC,
    Deployment,
    E2EEmulator,
    Runs,
    max_concurrency,
    per_client,
    token_client,
)

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(900)]


def _summary(tis: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for ti in tis:
        out[str(ti["state"])] = out.get(str(ti["state"]), 0) + 1
    return out


def _return_values(dep: Deployment, dag_id: str, run_id: str) -> dict[tuple[str, int], Any]:
    rows = dep.sql(
        "SELECT task_id, map_index, value FROM xcom "
        "WHERE dag_id = ? AND run_id = ? AND key = 'return_value'",
        (dag_id, run_id),
    )
    out = {}
    for row in rows:
        value = row["value"]
        out[(row["task_id"], row["map_index"])] = json.loads(value) if value else None
    return out


def _check_outputs(dep: Deployment, dag_id: str, run_id: str, task_id: str, n: int) -> None:
    values = _return_values(dep, dag_id, run_id)
    mapped = {k: v for k, v in values.items() if k[0] == task_id}
    assert sorted(i for _, i in mapped) == list(range(n)), sorted(mapped)
    for (_, index), value in mapped.items():
        assert value["status"] == "succeeded", value
        (path,) = value["saved_paths"]
        assert path.startswith(f"file://{dep.work}/out/{dag_id}/{task_id}-{index}-0-"), path
        data = Path(path.removeprefix("file://")).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(data) == value["outputs"][0]["bytes"]
    files = sorted((dep.work / "out" / dag_id).glob(f"{task_id}-*.png"))
    assert len(files) == n


def test_mapped_sync_dag_under_the_scheduler(runs: Runs, deployment: Deployment) -> None:
    tis = runs.tis[SYNC]
    assert runs.states[SYNC] == "success", _summary(tis)
    assert len(tis) == N_TASKS
    assert _summary(tis) == {"success": N_TASKS}
    assert {ti["try_number"] for ti in tis} == {1}
    assert {ti["hostname"] for ti in tis}  # run by an executor worker, not in-process
    # Parallel: more than one task at a time, never more than the executor's parallelism.
    assert 2 <= max_concurrency(tis) <= PARALLELISM
    _check_outputs(deployment, SYNC, runs.run_ids[SYNC], "generate", N_TASKS)


def test_mapped_deferrable_dag_went_through_the_triggerer(
    runs: Runs, deployment: Deployment
) -> None:
    tis = runs.tis[DEFERRED]
    assert runs.states[DEFERRED] == "success", _summary(tis)
    assert _summary(tis) == {"success": N_TASKS}
    _check_outputs(deployment, DEFERRED, runs.run_ids[DEFERRED], "generate", N_TASKS)

    # Trigger rows were created (seen while in flight), by our trigger, taken by a triggerer.
    ours = [
        row
        for row in deployment.trigger_rows.values()
        if row["classpath"] == "airflow_provider_firefly.triggers.firefly.FireflyJobTrigger"
    ]
    assert ours, "no FireflyJobTrigger row was ever seen in the trigger table"
    assert any(row["triggerer_id"] is not None for row in ours)

    # Every task instance has a trigger log written by the triggerer, with the event it fired,
    # and its task log shows the two halves: deferral and resumption.
    run_dir = next((deployment.home / "logs" / f"dag_id={DEFERRED}").glob("run_id=*"))
    for index in range(N_TASKS):
        folder = run_dir / "task_id=generate" / f"map_index={index}"
        trigger_logs = list(folder.glob("attempt=1.log.trigger.*.log"))
        assert trigger_logs, f"map_index={index}: no trigger log in {folder}"
        text = "\n".join(p.read_text() for p in trigger_logs)
        assert "Trigger fired event" in text
        assert "'status': 'succeeded'" in text
        task_log = (folder / "attempt=1.log").read_text()
        assert "Pausing task as DEFERRED" in task_log
        assert "Trigger reported job" in task_log
    trigger_ids = {
        match
        for path in run_dir.glob("task_id=generate/map_index=*/attempt=1.log.trigger.*.log")
        for match in re.findall(r"\(ID (\d+)\) starting", path.read_text())
    }
    assert len(trigger_ids) == N_TASKS, trigger_ids  # one trigger per task instance
    triggerers = deployment.sql("SELECT id FROM job WHERE job_type = 'TriggererJob'")
    assert {row["triggerer_id"] for row in ours} <= {row["id"] for row in triggerers}


def test_one_ims_token_request_for_all_mapped_tasks(
    runs: Runs, deployment: Deployment, e2e_emulator: E2EEmulator
) -> None:
    """40 task processes, 4 at a time, plus the triggerer: one IMS call (the host cache)."""
    tokens = per_client(e2e_emulator)
    assert tokens.get(e2e_emulator.main.client_id) == 1, tokens
    # Every IMS request of the session issued a token (none refused or retried).
    assert runs.ims_requests == len(e2e_emulator.issued), tokens
    # And the bearer token never went to the (presigned-style) output URLs.
    assert e2e_emulator.emu.counters()["authorization_sent_to_outputs"] == 0
    cache_files = [p for p in (deployment.root / "host-token-cache").rglob("*") if p.is_file()]
    assert cache_files, "the host cache folder of the connection holds no token file"
    for path in cache_files:
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"


def test_cluster_wide_cache_across_separate_host_caches(
    runs: Runs, deployment: Deployment, e2e_emulator: E2EEmulator
) -> None:
    """Seven tasks, seven connections, no shared host cache: one IMS call, via the Variable."""
    from airflow_provider_firefly.client import decrypt_token
    from airflow_provider_firefly.client.config import FireflyCredentials
    from airflow_provider_firefly.hooks.token_store import VARIABLE_PREFIX

    tis = runs.tis[CLUSTER]
    assert runs.states[CLUSTER] == "success", _summary(tis)
    assert _summary(tis) == {"success": N_CLUSTER + 1}
    values = _return_values(deployment, CLUSTER, runs.run_ids[CLUSTER])
    assert values[("first", -1)]["status"] == "succeeded"
    assert all(values[("fan_out", i)]["status"] == "succeeded" for i in range(N_CLUSTER))

    cw = e2e_emulator.cluster
    tokens = per_client(e2e_emulator)
    assert tokens.get(cw.client_id) == 1, tokens
    (token,) = [t for t in e2e_emulator.issued if token_client(t) == cw.client_id]

    # The Variable holds the token encrypted with the client secret (and Fernet on top).
    creds = FireflyCredentials(cw.client_id, cw.client_secret, ims_url=e2e_emulator.emu.ims_url)
    key = f"{VARIABLE_PREFIX}{creds.cache_key[:32]}"
    rows = deployment.sql("SELECT val, is_encrypted FROM variable WHERE key = ?", (key,))
    assert rows, f"Variable {key} was not written"
    stored = rows[0]["val"]
    if rows[0]["is_encrypted"]:
        stored = deployment.fernet().decrypt(stored.encode()).decode()
    assert token not in stored
    assert decrypt_token(creds, stored).value == token

    # Separate host caches: the first task minted under its folder's lock; every other folder
    # got the token from the Variable (one file each, never a lock: nobody minted there), and
    # the connection without a host cache wrote no file anywhere.
    minted = deployment.root / "cw-cache-0"
    assert sorted(p.suffix for p in minted.iterdir()) == [".lock", ".token"]
    for i in range(1, N_CLUSTER):
        files = sorted(p.name for p in (deployment.root / f"cw-cache-{i}").iterdir())
        assert [Path(f).suffix for f in files] == [".token"], (i, files)
    default = deployment.root / "default-token-cache"
    assert not default.exists() or not any(default.iterdir()), list(default.rglob("*"))


def test_cold_cluster_cache_is_last_writer_wins(
    runs: Runs, deployment: Deployment, e2e_emulator: E2EEmulator
) -> None:
    """Tasks with no host cache that start before any token exists: each may mint (documented
    trade-off), none fails, and the Variable ends up holding one of the minted tokens."""
    from airflow_provider_firefly.client import decrypt_token
    from airflow_provider_firefly.client.config import FireflyCredentials
    from airflow_provider_firefly.hooks.token_store import VARIABLE_PREFIX

    tis = runs.tis[COLD]
    assert runs.states[COLD] == "success", _summary(tis)
    assert _summary(tis) == {"success": N_COLD}
    cold = e2e_emulator.cold
    minted = [t for t in e2e_emulator.issued if token_client(t) == cold.client_id]
    assert 1 <= len(minted) <= N_COLD, len(minted)
    creds = FireflyCredentials(cold.client_id, cold.client_secret, ims_url=e2e_emulator.emu.ims_url)
    key = f"{VARIABLE_PREFIX}{creds.cache_key[:32]}"
    (row,) = deployment.sql("SELECT val, is_encrypted FROM variable WHERE key = ?", (key,))
    stored = row["val"]
    if row["is_encrypted"]:
        stored = deployment.fernet().decrypt(stored.encode()).decode()
    assert decrypt_token(creds, stored).value in minted
