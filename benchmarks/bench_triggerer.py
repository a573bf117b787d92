"""One triggerer-like process polling N concurrent Firefly jobs on one event loop.

Side by side, on the same load (N jobs submitted to a spawned emulator, each finishing
``--job-duration`` seconds after its submission, polled on the same schedule):

* ``FireflyJobTrigger``: async end to end (``aget_connection``, httpx, ``asyncio.sleep``);
* a blocking trigger written like the OpenAI provider's ``OpenAIBatchTrigger``: ``run()`` builds
  a sync hook and calls its blocking (``requests``) ``get_status`` inside the event loop, with
  ``asyncio.sleep`` between polls.

Reported: jobs finished, wall time, polls per job, event-loop lateness (how late the loop wakes
a sleeper due every 0.1 s, as late as a poll due then leaves: p50/p99/max), CPU seconds and
peak RSS above the baseline, per job.
The emulator runs in its own process, so its CPU is not counted.

    .venv/bin/python benchmarks/bench_triggerer.py [--jobs 1000] [--job-duration 25]
        [--blocking-jobs 1000] [--blocking-timeout 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import tempfile
import time
from collections.abc import AsyncIterator
from typing import Any

from _common import connection_env, counters, machine, reset

CONN_ID = "ff_bench"


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as refs:  # resets VmHWM to the current RSS
        refs.write("5")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def submit_jobs(url: str, n: int) -> list[dict[str, Any]]:
    from airflow_provider_firefly.hooks.firefly import FireflyHook

    client = await FireflyHook(firefly_conn_id=CONN_ID).aget_client()
    gate = asyncio.Semaphore(32)

    async def one(i: int) -> dict[str, Any]:
        async with gate:
            handle = await client.submit("generate_images", {"prompt": f"benchmark {i}"})
            return handle.to_dict()

    try:
        return list(await asyncio.gather(*(one(i) for i in range(n))))
    finally:
        await client.aclose()


def make_triggers(jobs: list[dict[str, Any]], expected: float, blocking: bool) -> list[Any]:
    from airflow.triggers.base import BaseTrigger, TriggerEvent

    from airflow_provider_firefly.client.api import PollPolicy
    from airflow_provider_firefly.client.jobs import JobHandle
    from airflow_provider_firefly.triggers.firefly import FireflyJobTrigger

    class BlockingTrigger(BaseTrigger):
        """Like OpenAIBatchTrigger.run(): a sync hook polled inside the event loop."""

        def __init__(self, conn_id: str, job: dict[str, Any], expected_seconds: float) -> None:
            super().__init__()  # type: ignore[no-untyped-call]
            self.conn_id, self.job, self.expected_seconds = conn_id, job, expected_seconds

        def serialize(self) -> tuple[str, dict[str, Any]]:
            return ("bench.BlockingTrigger", {"conn_id": self.conn_id, "job": self.job})

        async def run(self) -> AsyncIterator[Any]:
            from airflow_provider_firefly.hooks.firefly import FireflyHook

            hook = FireflyHook(firefly_conn_id=self.conn_id)  # sync get_connection on first use
            handle = JobHandle.from_dict(self.job)
            policy = PollPolicy(first_delay=self.expected_seconds, min_interval=2.0)
            number = 0
            try:
                while True:
                    delay = policy.interval(number, self.expected_seconds)
                    await asyncio.sleep(delay)
                    status = hook.get_status(handle)  # blocking requests call in the loop
                    if status.is_terminal:
                        yield TriggerEvent({"status": status.status, "job": self.job})  # type: ignore[no-untyped-call]
                        return
                    number += 1
            finally:
                hook.client.close()

    if blocking:
        return [BlockingTrigger(CONN_ID, job, expected) for job in jobs]
    return [
        FireflyJobTrigger(
            firefly_conn_id=CONN_ID, job=job, expected_seconds=expected, poll_min_interval=2.0
        )
        for job in jobs
    ]


async def run_all(
    triggers: list[Any], timeout: float, lateness: list[float]
) -> tuple[list[Any], bool]:
    async def one(trigger: Any) -> Any:
        async for event in trigger.run():
            return event.payload
        return None

    async def probe() -> None:
        # How late the loop wakes a sleeper due every 0.1 s: a poll due then leaves that late.
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + 0.1
            await asyncio.sleep(0.1)
            lateness.append(loop.time() - due)

    prober = asyncio.ensure_future(probe())
    tasks = [asyncio.ensure_future(one(t)) for t in triggers]
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    prober.cancel()
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return [t.result() for t in done if not t.cancelled() and t.exception() is None], not pending


def child(url: str, side: str, n: int, job_duration: float, timeout: float) -> None:
    """One measured side, in its own process (so RSS and CPU are its own); prints JSON."""
    import json

    os.environ.update(connection_env(url, CONN_ID))
    os.environ["AIRFLOW_PROVIDER_FIREFLY_CACHE_DIR"] = tempfile.mkdtemp()
    import airflow.sdk  # noqa: F401 - import Airflow first, as a triggerer has

    jobs = asyncio.run(submit_jobs(url, n))
    lateness: list[float] = []
    triggers = make_triggers(jobs, expected=job_duration * 0.8, blocking=side == "blocking")
    _reset_peak()
    base_rss, cpu0, wall0 = _rss_kb("VmRSS"), _cpu(), time.perf_counter()
    events, all_done = asyncio.run(run_all(triggers, timeout, lateness))
    wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
    peak = _rss_kb("VmHWM")
    succeeded = sum(1 for e in events if e and e.get("status") == "succeeded")
    print(
        "RESULT "
        + json.dumps(
            {
                "jobs": n,
                "succeeded": succeeded,
                "all_done": all_done,
                "wall": wall,
                "late_p50": _pct(lateness, 0.5),
                "late_p99": _pct(lateness, 0.99),
                "late_max": max(lateness) if lateness else float("nan"),
                "cpu": cpu,
                "rss_mb": (peak - base_rss) / 1024,
            }
        )
    )


def measure(
    url: str, *, side: str, n: int, job_duration: float, latency: float, timeout: float
) -> dict[str, Any]:
    import json
    import subprocess
    import sys
    import urllib.request

    reset(url)
    if latency > 0:
        # Every status reply answers after `latency` seconds, like a real API round trip.
        body = json.dumps(
            {
                "route": "GET /v3/status/{jobId}",
                "responses": [{"process": True, "delay": latency}] * (n * 6),
            }
        ).encode()
        request = urllib.request.Request(f"{url}/_emulator/script", data=body, method="POST")
        request.add_header("Content-Type", "application/json")
        urllib.request.urlopen(request, timeout=30).close()
    env = {**os.environ, "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING"}
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            side,
            "--url",
            url,
            "--jobs",
            str(n),
            "--job-duration",
            str(job_duration),
            "--timeout",
            str(timeout),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{side} run failed:\n{done.stderr[-3000:]}")
    row: dict[str, Any] = json.loads(lines[-1][7:])
    row["polls"] = counters(url)["status_polls"]
    row["side"], row["latency"] = side, latency
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--job-duration", type=float, default=25.0)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--blocking-jobs", type=int, default=1000)
    parser.add_argument(
        "--latency",
        type=float,
        action="append",
        help="emulated status round trip, seconds (repeatable; default 0 and 0.1)",
    )
    parser.add_argument(
        "--blocking-jobs-slow",
        type=int,
        default=200,
        help="jobs for the blocking side when latency > 0 (it would take too long otherwise)",
    )
    parser.add_argument("--child", choices=("async", "blocking"))
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.child:
        child(args.url, args.child, args.jobs, args.job_duration, args.timeout)
        return

    from airflow_provider_firefly.testing import FireflyEmulator

    latencies = args.latency or [0.0, 0.1]
    rows = []
    with FireflyEmulator.spawn("--job-duration", str(args.job_duration)) as emu:
        for latency in latencies:
            rows.append(
                measure(
                    emu.url,
                    side="async",
                    n=args.jobs,
                    job_duration=args.job_duration,
                    latency=latency,
                    timeout=args.timeout,
                )
            )
            blocking_n = args.blocking_jobs if latency == 0 else args.blocking_jobs_slow
            if blocking_n:
                rows.append(
                    measure(
                        emu.url,
                        side="blocking",
                        n=blocking_n,
                        job_duration=args.job_duration,
                        latency=latency,
                        timeout=args.timeout,
                    )
                )

    print(
        f"\nN concurrent jobs on one event loop, job duration {args.job_duration:g} s, first poll "
        f"at 0.8x the duration then x1.5 from 2 s; emulator in its own process; {machine()}"
    )
    header = (
        f"{'trigger':<34}{'RTT':>6}{'jobs':>6}{'ok':>6}{'wall s':>8}{'polls/job':>10}"
        f"{'late p50':>10}{'late p99':>10}{'late max':>10}{'CPU s':>8}{'CPU ms/job':>11}"
        f"{'RSS MB':>8}{'KB/job':>8}"
    )
    print(header)
    print("-" * len(header))
    names = {"async": "FireflyJobTrigger (async)", "blocking": "blocking, OpenAI-style"}
    for r in rows:
        print(
            f"{names[r['side']]:<34}{1000 * r['latency']:>4.0f}ms{r['jobs']:>6}{r['succeeded']:>6}"
            f"{r['wall']:>8.1f}{r['polls'] / r['jobs']:>10.2f}{r['late_p50']:>9.3f}s"
            f"{r['late_p99']:>9.3f}s{r['late_max']:>9.3f}s{r['cpu']:>8.2f}"
            f"{1000 * r['cpu'] / r['jobs']:>11.2f}{r['rss_mb']:>8.1f}"
            f"{1024 * r['rss_mb'] / r['jobs']:>8.1f}"
            + ("" if r["all_done"] else "  (stopped at the time limit)")
        )
    print(
        "late = how late the event loop woke a sleeper due every 0.1 s (a poll due then "
        "leaves as late); RSS = peak above the RSS just before the triggers were created; "
        "CPU = the polling process only"
    )


if __name__ == "__main__":
    main()
