"""Sustained jobs per minute through a Celery cluster under one organisation budget.

Starts the cluster of ``tests/cluster`` (Redis, PostgreSQL, api-server, scheduler, dag-processor,
two triggerers, two Celery workers on four simulated hosts; needs ``redis-server`` and the
PostgreSQL 15 server binaries) against an in-process emulator that enforces ``30`` requests per
sliding minute for the organisation (status polls and submissions count; IMS and output
downloads do not). Runs the ``ff_cluster_budget`` DAG (20 sync + 20 deferrable text-to-image
tasks, the provider's default polling, the connection's ``requests_per_minute`` = 30, one
10-slot pool counting deferred tasks), ``--dag-runs`` runs of it at once, ``--runs`` times, and
prints per run:

* jobs per minute: succeeded jobs over the time from the first task start to the last task end;
* sustained jobs per minute: from the first job's end to the last's (the first cycle, in which
  every lane of the pool waits its first spacing at once, left out);
* the physical limit: the budget divided by the fewest requests a job can take (one submission,
  one poll): 15 jobs/min for 30 requests/min, and the ratio of the two;
* Firefly requests of the organisation (every request its rate limit counts), 429 answers,
  failed tasks, IMS token requests, and jobs paid twice
  (accepted jobs minus the task instances that got one).

    .venv/bin/python benchmarks/bench_cluster.py [--runs 1] [--dag-runs 2] [--job-duration 10]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from typing import Any

from _common import ROOT, machine

from tests.cluster.cluster import BUDGET_RPM, cluster_emulator, running_cluster

DAG_ID, CONN = "ff_cluster_budget", "ff_cl_budget"


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def one_run(cluster: Any, emu: Any, job_duration: float, dag_runs: int) -> dict[str, Any]:
    cluster.wait_idle()
    emu.emu.configure(job_duration=job_duration, rate_limit=BUDGET_RPM, rate_limit_window=60.0)
    # A fresh organisation window: wait out the previous run's requests.
    time.sleep(61 if emu.jobs_for(CONN) else 0)
    total0, limited0 = emu.requests_for(CONN)
    jobs_before = {j["jobId"] for j in emu.jobs_for(CONN)}
    tokens_before = len(emu.tokens_for(CONN))
    t0 = time.monotonic()
    # Several runs at once all go through the one budget pool: more jobs per lane, so the
    # first cycle (every lane starts at once) weighs less in the sustained rate.
    run_ids = [cluster.trigger(DAG_ID) for _ in range(dag_runs)]
    states = [cluster.wait_run(DAG_ID, run_id, timeout=3600) for run_id in run_ids]
    wall = time.monotonic() - t0
    total1, limited1 = emu.requests_for(CONN)
    tis = [ti for run_id in run_ids for ti in cluster.task_instances(DAG_ID, run_id)]
    jobs = [j for j in emu.jobs_for(CONN) if j["jobId"] not in jobs_before]
    done = [ti for ti in tis if ti["state"] == "success"]
    starts = [_ts(ti["start_date"]) for ti in tis if ti.get("start_date")]
    ends = sorted(_ts(ti["end_date"]) for ti in done if ti.get("end_date"))
    span = max(ends) - min(starts) if starts and ends else wall
    limit = BUDGET_RPM / 2
    overall = len(done) / span * 60 if span > 0 else 0.0
    # Sustained: from the first job's end to the last's, the rate at which lanes turn over once
    # they all run (the first cycle, in which every lane waits its first spacing, left out).
    steady_span = ends[-1] - ends[0] if len(ends) > 1 else 0.0
    sustained = (len(ends) - 1) / steady_span * 60 if steady_span > 0 else 0.0
    total, limited = total1 - total0, limited1 - limited0
    return {
        "state": "success" if set(states) == {"success"} else ",".join(states),
        "dag_runs": dag_runs,
        "tasks": len(tis),
        "succeeded": len(done),
        "failed": len(tis) - len(done),
        "wall_seconds": round(wall, 1),
        "busy_seconds": round(span, 1),
        "jobs_per_minute": round(overall, 2),
        "sustained_jobs_per_minute": round(sustained, 2),
        "physical_limit_jobs_per_minute": limit,
        "ratio_to_limit": round(overall / limit, 3),
        "sustained_ratio_to_limit": round(sustained / limit, 3),
        "firefly_requests": total,
        "requests_per_job": round(total / max(1, len(jobs)), 2),
        "answered_429": limited,
        "share_429": round(limited / total, 4) if total else None,
        "jobs_accepted": len(jobs),
        # every task instance submits one job; more jobs than task instances were paid twice
        "jobs_paid_twice": max(0, len(jobs) - len(tis)),
        "ims_token_requests": len(emu.tokens_for(CONN)) - tokens_before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--job-duration", type=float, default=10.0)
    parser.add_argument(
        "--dag-runs", type=int, default=2, help="runs of the 40-task DAG at once, in one pool"
    )
    args = parser.parse_args()
    results = []
    with (
        cluster_emulator(job_duration=args.job_duration, rate_limit=1000) as emu,
        running_cluster(emu) as cluster,
    ):
        print(f"cluster ready in {cluster.timings['ready']:.0f} s ({cluster.root})", flush=True)
        for i in range(args.runs):
            result = one_run(cluster, emu, args.job_duration, args.dag_runs)
            results.append(result)
            print(f"run {i + 1}: {json.dumps(result)}", flush=True)
    print(f"\n{machine()}; budget {BUDGET_RPM} requests/min; job duration {args.job_duration} s")
    print(f"{'run':>4} {'jobs':>5} {'jobs/min':>9} {'sustained':>10} {'limit':>6} {'ratio':>6} "
          f"{'sust. ratio':>11} {'429s':>5} {'requests':>9} {'failed':>7} {'IMS':>4} "
          f"{'paid twice':>10}")  # fmt: skip
    for i, r in enumerate(results, 1):
        print(
            f"{i:>4} {r['jobs_accepted']:>5} {r['jobs_per_minute']:>9.2f} "
            f"{r['sustained_jobs_per_minute']:>10.2f} {r['physical_limit_jobs_per_minute']:>6.1f} "
            f"{r['ratio_to_limit']:>6.2f} {r['sustained_ratio_to_limit']:>11.2f} "
            f"{r['answered_429']:>5} {r['firefly_requests']:>9} {r['failed']:>7} "
            f"{r['ims_token_requests']:>4} {r['jobs_paid_twice']:>10}"
        )
    out = ROOT / "test-artifacts" / "cluster" / "bench_cluster.json"
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
