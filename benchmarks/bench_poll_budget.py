"""Requests per job and 429s with 50 concurrent jobs under a 60-requests-per-minute budget.

The emulator (its own process) enforces 60 requests per sliding 60 s for the organisation,
status polls included. The 50 jobs are submitted *before* the limit is switched on, so the
figures count polling only (in Airflow, submissions come from workers, rationed by the pool the
docs recommend). Side by side, each on a fresh emulator state:

* ``FireflyJobTrigger`` x 50 in one event loop sharing the connection's budget
  (``requests_per_minute=60``), with an accurate ``expected_seconds`` and with the default (15 s);
* naive polling as in Adobe's sample: every job asks for its status every second; a job fails
  when a poll fails for good. Once through ``AsyncFireflyClient.get_status`` with its retry
  policy (which honours ``retry-after``), once with retries off (``max_attempts=1``), which is
  what Adobe's sample does.

    .venv/bin/python benchmarks/bench_poll_budget.py [--jobs 50] [--job-duration 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import urllib.request
from typing import Any

from _common import connection_env, counters, machine, reset

CONN_ID = "ff_budget_bench"
NO_RETRY_CONN_ID = "ff_budget_bench_no_retry"
STATUS = "GET /v3/status/{jobId}"


def configure(url: str, **options: Any) -> None:
    request = urllib.request.Request(
        f"{url}/_emulator/config", data=json.dumps(options).encode(), method="POST"
    )
    request.add_header("Content-Type", "application/json")
    urllib.request.urlopen(request, timeout=10).close()


async def submit_jobs(n: int) -> list[dict[str, Any]]:
    from airflow_provider_firefly.hooks.firefly import FireflyHook

    client = await FireflyHook(firefly_conn_id=CONN_ID).aget_client()
    try:
        return [
            (await client.submit("generate_images", {"prompt": f"budget {i}"})).to_dict()
            for i in range(n)
        ]
    finally:
        await client.aclose()


async def run_triggers(jobs: list[dict[str, Any]], expected: float, timeout: float) -> list[str]:
    from airflow_provider_firefly.triggers.firefly import FireflyJobTrigger

    async def one(job: dict[str, Any]) -> str:
        trigger = FireflyJobTrigger(
            firefly_conn_id=CONN_ID,
            job=job,
            expected_seconds=expected,
            requests_per_minute=60,
        )
        async for event in trigger.run():
            return str(event.payload["status"])
        return "no event"

    return await _bounded([one(job) for job in jobs], timeout)


async def run_naive(
    jobs: list[dict[str, Any]], timeout: float, conn_id: str = CONN_ID
) -> list[str]:
    from airflow_provider_firefly.client.errors import FireflyError
    from airflow_provider_firefly.client.jobs import JobHandle
    from airflow_provider_firefly.hooks.firefly import FireflyHook

    async def one(job: dict[str, Any]) -> str:
        client = await FireflyHook(firefly_conn_id=conn_id).aget_client()
        handle = JobHandle.from_dict(job)
        try:
            while True:
                await asyncio.sleep(1.0)
                try:
                    status = await client.get_status(handle)
                except FireflyError as error:
                    return f"failed: {type(error).__name__}"
                if status.is_terminal:
                    return status.status
        finally:
            await client.aclose()

    return await _bounded([one(job) for job in jobs], timeout)


async def _bounded(coros: list[Any], timeout: float) -> list[str]:
    tasks = [asyncio.ensure_future(c) for c in coros]
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return [t.result() for t in done] + ["unfinished at the time limit"] * len(pending)


def scenario(url: str, name: str, n: int, runner: Any) -> dict[str, Any]:
    reset(url)
    jobs = asyncio.run(submit_jobs(n))
    configure(url, rate_limit=60, rate_limit_window=60)
    start = time.perf_counter()
    outcomes = asyncio.run(runner(jobs))
    wall = time.perf_counter() - start
    c = counters(url)
    requests = int(c["requests_by_route"].get(STATUS, 0))
    return {
        "name": name,
        "jobs": n,
        "ok": sum(1 for o in outcomes if o == "succeeded"),
        "failed": sum(1 for o in outcomes if o != "succeeded"),
        "why": sorted({o for o in outcomes if o != "succeeded"}),
        "requests": requests,
        "served": requests - int(c["rate_limited"]),
        "r429": int(c["rate_limited"]),
        "wall": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--job-duration", type=float, default=20.0)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--naive-timeout", type=float, default=180.0)
    args = parser.parse_args()
    # Keep the per-job INFO lines out of the report (429 warnings still show).
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")

    from airflow_provider_firefly.testing import FireflyEmulator

    d = args.job_duration
    with FireflyEmulator.spawn("--job-duration", str(d)) as emu:
        os.environ.update(connection_env(emu.url, CONN_ID))
        os.environ.update(connection_env(emu.url, NO_RETRY_CONN_ID, max_attempts=1))
        os.environ["AIRFLOW_PROVIDER_FIREFLY_CACHE_DIR"] = tempfile.mkdtemp()
        rows = [
            scenario(
                emu.url,
                f"triggers, budget 60/min, expected {d:g} s",
                args.jobs,
                lambda jobs: run_triggers(jobs, d, args.timeout),
            ),
            scenario(
                emu.url,
                "triggers, budget 60/min, expected 15 s",
                args.jobs,
                lambda jobs: run_triggers(jobs, 15.0, args.timeout),
            ),
            scenario(
                emu.url,
                "naive 1-second polling, client retries",
                args.jobs,
                lambda jobs: run_naive(jobs, args.naive_timeout),
            ),
            scenario(
                emu.url,
                "naive 1-second polling, no retry",
                args.jobs,
                lambda jobs: run_naive(jobs, args.naive_timeout, NO_RETRY_CONN_ID),
            ),
        ]

    print(
        f"\n{args.jobs} concurrent jobs of {d:g} s, emulator limit 60 requests / 60 s per org "
        f"(polls counted; submissions made before the limit was on); {machine()}"
    )
    header = (
        f"{'polling':<44}{'jobs':>6}{'ok':>5}{'failed':>8}{'status req':>12}{'req/job':>9}"
        f"{'429s':>6}{'wall s':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['name']:<44}{r['jobs']:>6}{r['ok']:>5}{r['failed']:>8}{r['requests']:>12}"
            f"{r['requests'] / r['jobs']:>9.2f}{r['r429']:>6}{r['wall']:>8.1f}"
            + (f"  {', '.join(r['why'])}" if r["why"] else "")
        )
    print("status req = every status request the emulator received, 429s included")


if __name__ == "__main__":
    main()
