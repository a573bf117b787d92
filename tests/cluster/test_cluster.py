"""The provider on a real distributed deployment: CeleryExecutor, two workers, two triggerers.

The cluster of ``conftest.py`` (PostgreSQL, Redis, four simulated hosts) runs the DAGs of
``dags/ff_cluster_dags.py``, triggered through the REST API. Figures come from the emulator (per
organisation: each DAG has its own client) and from the metadata database.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from .cluster import BUDGET_POOL, BUDGET_RPM, TRIGGERERS, WORKERS, Cluster, ClusterEmulator

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.cluster, pytest.mark.timeout(900)]


def _states(tis: list[dict[str, Any]]) -> dict[str, int]:
    return dict(Counter(str(ti["state"]) for ti in tis))


def _record(cluster: Cluster, name: str, figures: dict[str, Any]) -> None:
    """Keep a test's figures next to the run's logs (``figures-<name>.json``)."""
    (cluster.root / f"figures-{name}.json").write_text(json.dumps(figures, indent=2))


def _wait_for(subject: str, check: Any, timeout: float, cluster: Cluster) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        cluster.procs.check_alive(["api-server", "scheduler", "postgres", "redis"])
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {subject}")


def test_mapped_tasks_on_both_workers_share_one_token(
    cluster: Cluster, emulator: ClusterEmulator
) -> None:
    """40 mapped tasks (20 sync, 20 deferrable): all succeed on both workers, one IMS token
    request for the whole cluster (four hosts, each with its own token cache), 40 jobs."""
    dag_id, conn = "ff_cluster_mapped", "ff_cl_mapped"
    t0 = time.monotonic()
    run_id = cluster.trigger(dag_id)
    state = cluster.wait_run(dag_id, run_id, timeout=600)
    wall = time.monotonic() - t0
    tis = cluster.task_instances(dag_id, run_id)
    jobs = emulator.jobs_for(conn)
    tokens = emulator.tokens_for(conn)
    hosts = Counter(str(ti["hostname"]) for ti in tis)
    _record(
        cluster,
        "mapped",
        {
            "wall_seconds": round(wall, 1),
            "startup_seconds": {k: round(v, 1) for k, v in cluster.timings.items()},
            "states": _states(tis),
            "ims_token_requests": len(tokens),
            "token_times": tokens,
            "jobs_accepted": len(jobs),
            "hosts": dict(hosts),
        },
    )
    assert state == "success", _states(tis)
    assert _states(tis) == {"success": 40}
    assert len(jobs) == 40
    # One IMS request for the cluster: each host's lock serialises its own processes, and the
    # mint claim in the shared store (a Variable) lets one host of a cold start mint.
    assert len(tokens) == 1, tokens
    assert set(hosts) == set(WORKERS), hosts
    for task_id in ("sync", "deferred"):
        per_host = Counter(str(ti["hostname"]) for ti in tis if ti["task_id"] == task_id)
        assert sum(per_host.values()) == 20
    # Every worker host cached the token in its own folder (below its own HOME).
    for worker in WORKERS:
        files = list(cluster.token_cache_dir(worker).glob("*.token"))
        assert files, f"{worker} has no token file in {cluster.token_cache_dir(worker)}"


def _xcom_values(cluster: Cluster, dag_id: str, run_id: str) -> dict[int, dict[str, Any]]:
    rows = cluster.sql(
        "SELECT map_index, value FROM xcom WHERE dag_id = %s AND run_id = %s "
        "AND key = 'return_value'",
        (dag_id, run_id),
    )
    out = {}
    for row in rows:
        value = row["value"]
        out[int(row["map_index"])] = json.loads(value) if isinstance(value, str) else value
    return out


def test_killed_worker_task_resumes_its_job_on_the_other_worker(
    cluster: Cluster, emulator: ClusterEmulator
) -> None:
    """SIGKILL a worker host while its task waits on a job: after the heartbeat timeout the
    scheduler retries the task, the other worker runs the retry, which resumes the same job."""
    dag_id, conn = "ff_cluster_worker_kill", "ff_cl_worker_kill"
    # Longer than the kill: the retry (heartbeat timeout 20 s later) resumes a running or
    # finished job; either way it must not submit a new one.
    emulator.emu.configure(job_duration=20.0)
    run_id = cluster.trigger(dag_id)

    def both_waiting() -> list[dict[str, Any]] | None:
        tis = cluster.task_instances(dag_id, run_id)
        running = [ti for ti in tis if ti["state"] == "running" and ti["hostname"]]
        if len(running) == len(tis) == 2 and len(emulator.jobs_for(conn)) == 2:
            return running
        return None

    running = _wait_for("both tasks waiting on accepted jobs", both_waiting, 240, cluster)
    time.sleep(2)  # a poll or two: the task is waiting, its job record written
    victim = str(running[0]["hostname"])
    (survivor,) = set(WORKERS) - {victim}
    on_victim = {int(ti["map_index"]) for ti in running if ti["hostname"] == victim}
    killed_at = time.monotonic()
    stray = cluster.kill_host(victim)
    try:
        state = cluster.wait_run(dag_id, run_id, timeout=300)
        recovery = time.monotonic() - killed_at
        tries = cluster.tries(dag_id, run_id)
        jobs = emulator.jobs_for(conn)
        values = _xcom_values(cluster, dag_id, run_id)
        _record(
            cluster,
            "worker-kill",
            {
                "victim": victim,
                "tasks_on_victim": sorted(on_victim),
                "stray_pids_killed": len(stray),
                "seconds_from_kill_to_run_end": round(recovery, 1),
                "tries": tries,
                "jobs_accepted": len(jobs),
                "resumed": {i: v.get("resumed") for i, v in values.items()},
            },
        )
    finally:
        cluster.restart(victim)
    assert state == "success", tries
    assert len(jobs) == 2, "a retry paid a second job"
    for index in range(2):
        mine = sorted((t for t in tries if t["map_index"] == index), key=lambda t: t["try_number"])
        if index in on_victim:
            assert [t["try_number"] for t in mine] == [1, 2], mine
            assert mine[0]["hostname"] == victim, mine
            assert mine[0]["state"] != "success", mine
            assert mine[1]["hostname"] == survivor, mine
            assert mine[1]["state"] == "success", mine
            assert values[index]["resumed"] is True
        else:
            assert [t["state"] for t in mine] == ["success"], mine
            assert values[index]["resumed"] is False
    assert {v["job_id"] for v in values.values()} == {j["jobId"] for j in jobs}


def _trigger_rows(cluster: Cluster, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    return cluster.sql(
        "SELECT t.id, t.triggerer_id FROM trigger t JOIN task_instance ti "
        "ON ti.trigger_id = t.id WHERE ti.dag_id = %s AND ti.run_id = %s",
        (dag_id, run_id),
    )


def _polling_triggers(
    cluster: Cluster, emulator: ClusterEmulator, conn: str, dag_id: str, run_id: str, *, n: int
) -> tuple[Counter[str], dict[str, int]]:
    """Wait until the run's ``n`` triggers are assigned and have polled; their owners by host."""
    requests0, _ = emulator.requests_for(conn)

    def polling() -> list[dict[str, Any]] | None:
        rows = _trigger_rows(cluster, dag_id, run_id)
        # n submissions, then at least n status polls
        sent = emulator.requests_for(conn)[0] - requests0
        if len(rows) == n and all(r["triggerer_id"] for r in rows) and sent >= 2 * n:
            return rows
        return None

    rows = _wait_for(f"{n} triggers assigned and polling", polling, 240, cluster)
    ids = cluster.triggerer_ids()
    by_id = {v: k for k, v in ids.items()}
    return Counter(by_id.get(int(r["triggerer_id"]), "?") for r in rows), ids


def test_killed_triggerer_hands_its_triggers_to_the_other(
    cluster: Cluster, emulator: ClusterEmulator
) -> None:
    """SIGKILL a triggerer host while it polls: the other triggerer takes its triggers after
    the health-check threshold, every job finishes, none is submitted twice."""
    dag_id, conn = "ff_cluster_triggerer_kill", "ff_cl_triggerer_kill"
    emulator.emu.configure(job_duration=35.0)
    run_id = cluster.trigger(dag_id)
    owners, ids = _polling_triggers(cluster, emulator, conn, dag_id, run_id, n=6)
    victim = owners.most_common(1)[0][0]
    (survivor,) = set(TRIGGERERS) - {victim}
    killed_at = time.monotonic()
    cluster.kill_host(victim)
    requests_at_kill, _ = emulator.requests_for(conn)
    taken_over = None
    try:

        def tick() -> None:
            nonlocal taken_over
            if taken_over is None:
                now = _trigger_rows(cluster, dag_id, run_id)
                if now and all(r["triggerer_id"] == ids[survivor] for r in now):
                    taken_over = time.monotonic() - killed_at

        state = cluster.wait_run(dag_id, run_id, timeout=300, tick=tick)
        tis = cluster.task_instances(dag_id, run_id)
        jobs = emulator.jobs_for(conn)
        polls_after = emulator.requests_for(conn)[0] - requests_at_kill
        _record(
            cluster,
            "triggerer-kill",
            {
                "owners_before_kill": dict(owners),
                "victim": victim,
                "seconds_to_take_over": None if taken_over is None else round(taken_over, 1),
                "seconds_from_kill_to_run_end": round(time.monotonic() - killed_at, 1),
                "polls_after_kill": polls_after,
                "states": _states(tis),
                "jobs_accepted": len(jobs),
            },
        )
    finally:
        cluster.restart(victim)
    assert state == "success", _states(tis)
    assert _states(tis) == {"success": 6}
    assert len(jobs) == 6, "a job was submitted twice"
    assert polls_after > 0
    assert taken_over is not None or owners[survivor] == 6, "the survivor never took over"


def test_frozen_triggerer_does_not_cancel_the_jobs_it_lost(
    cluster: Cluster, emulator: ClusterEmulator
) -> None:
    """A triggerer freezes (SIGSTOP) past the health-check threshold, the other takes its
    triggers, then it comes back (SIGCONT): it must drop them without cancelling the jobs."""
    dag_id, conn = "ff_cluster_triggerer_pause", "ff_cl_triggerer_pause"
    # Jobs that outlast the whole episode; shortened once the frozen triggerer is back.
    emulator.emu.configure(job_duration=600.0)
    run_id = cluster.trigger(dag_id)
    owners, ids = _polling_triggers(cluster, emulator, conn, dag_id, run_id, n=4)
    victim = owners.most_common(1)[0][0]
    (survivor,) = set(TRIGGERERS) - {victim}

    def finish_jobs() -> None:
        for job in emulator.jobs_for(conn):
            emulator.emu.set_job(job["jobId"], duration=time.time() - float(job["created"]) + 1)

    try:
        cluster.procs.pause(victim)
        try:
            _wait_for(
                "the survivor to own every trigger",
                lambda: all(
                    r["triggerer_id"] == ids[survivor]
                    for r in _trigger_rows(cluster, dag_id, run_id)
                ),
                120,
                cluster,
            )
        finally:
            cluster.procs.resume(victim)
        resumed = datetime.now(timezone.utc)

        def heartbeats_after_resume() -> bool:
            (row,) = cluster.sql("SELECT latest_heartbeat FROM job WHERE id = %s", (ids[victim],))
            return bool(row["latest_heartbeat"] > resumed + timedelta(seconds=4))

        # The thawed triggerer has run its loop (heartbeat, then its trigger list) a few times.
        _wait_for("the thawed triggerer to heartbeat again", heartbeats_after_resume, 90, cluster)
        time.sleep(3)
    finally:
        finish_jobs()  # whatever happened, nothing of this test keeps polling
    state = cluster.wait_run(dag_id, run_id, timeout=300)
    tis = cluster.task_instances(dag_id, run_id)
    jobs = emulator.jobs_for(conn)
    cancelled = sum(1 for j in jobs if j["status"] in ("cancel_pending", "cancelled"))
    _record(
        cluster,
        "triggerer-pause",
        {
            "owners_before_pause": dict(owners),
            "victim": victim,
            "jobs_cancelled": cancelled,
            "job_statuses": dict(Counter(str(j["status"]) for j in jobs)),
            "states": _states(tis),
            "jobs_accepted": len(jobs),
        },
    )
    cluster.procs.check_alive([victim])
    assert len(jobs) == 4, "a job was submitted twice"
    assert cancelled == 0, f"{cancelled} job(s) cancelled by the triggerer that lost them"
    assert _states(tis) == {"success": 4}
    assert state == "success"


def test_one_organisation_budget_across_the_cluster(
    cluster: Cluster, emulator: ClusterEmulator
) -> None:
    """Emulator: 30 requests/min for the organisation; connection: requests_per_minute 30.
    40 jobs (20 deferred through two triggerers, 20 sync on two workers), all in one 10-slot
    pool that counts deferred tasks: goal 0 failed tasks and at most 1 % of the requests
    answered 429."""
    dag_id, conn = "ff_cluster_budget", "ff_cl_budget"
    cluster.wait_idle()  # the figures are this organisation's, the CPU should be too
    emulator.emu.configure(job_duration=10.0, rate_limit=BUDGET_RPM, rate_limit_window=60.0)
    total0, limited0 = emulator.requests_for(conn)
    t0 = time.monotonic()
    run_id = cluster.trigger(dag_id)
    state = cluster.wait_run(dag_id, run_id, timeout=720)
    wall = time.monotonic() - t0
    tis = cluster.task_instances(dag_id, run_id)
    total1, limited1 = emulator.requests_for(conn)
    total, limited = total1 - total0, limited1 - limited0
    jobs = emulator.jobs_for(conn)
    failed = [ti for ti in tis if ti["state"] != "success"]
    figures = {
        "wall_seconds": round(wall, 1),
        "states": _states(tis),
        "states_by_kind": {
            k: _states([ti for ti in tis if ti["task_id"] == k]) for k in ("sync", "deferred")
        },
        "firefly_requests": total,
        "answered_429": limited,
        "share_429": round(limited / total, 4) if total else None,
        "jobs_accepted": len(jobs),
        "ims_token_requests": len(emulator.tokens_for(conn)),
        "jobs_per_minute": round(len(jobs) / wall * 60, 2),
        "physical_limit_jobs_per_minute": BUDGET_RPM / 2,
        "pool": {"name": BUDGET_POOL[0], "slots": BUDGET_POOL[1], "include_deferred": True},
    }
    _record(cluster, "budget", figures)
    assert not failed, figures
    assert state == "success", figures
    assert limited <= 0.01 * total, figures
