"""IMS token requests made by 100 task processes, 8 at a time, on one host.

Each process is what an Airflow task is: a fresh interpreter that builds ``FireflyHook`` from an
``AIRFLOW_CONN_FIREFLY_DEFAULT`` connection and asks for a token. Side by side:

* provider: the default levels (in-process + encrypted host cache): goal 1 IMS request;
* per-instance cache, as other providers have (host cache switched off): one per process.

The emulator (a separate process) counts the IMS requests.

    .venv/bin/python benchmarks/bench_token_processes.py [--processes 100] [--parallel 8]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from _common import ROOT, connection_env, counters, machine, reset

from airflow_provider_firefly.testing import FireflyEmulator

TASK = (
    "from airflow_provider_firefly.hooks.firefly import FireflyHook\n"
    "import hashlib\n"
    "token = FireflyHook().get_access_token()\n"
    "print(hashlib.sha256(token.encode()).hexdigest()[:12])\n"
)


def run_processes(env: dict[str, str], processes: int, parallel: int) -> tuple[set[str], float]:
    def one(_: int) -> str:
        done = subprocess.run(
            [sys.executable, "-c", TASK],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
            timeout=300,
        )
        if done.returncode != 0:
            raise RuntimeError(f"task process failed:\n{done.stderr[-3000:]}")
        return done.stdout.strip().splitlines()[-1]

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        fingerprints = set(pool.map(one, range(processes)))
    return fingerprints, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=100)
    parser.add_argument("--parallel", type=int, default=8)
    args = parser.parse_args()

    rows = []
    with FireflyEmulator.spawn() as emu:
        for label, extra in (
            ("provider (in-process + host cache)", {}),
            ("per-instance cache (host cache off)", {"host_cache": False}),
        ):
            reset(emu.url)
            env = {
                **os.environ,
                **connection_env(emu.url, **extra),
                "AIRFLOW_PROVIDER_FIREFLY_CACHE_DIR": tempfile.mkdtemp(prefix="ff-bench-"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            }
            fingerprints, seconds = run_processes(env, args.processes, args.parallel)
            ims = counters(emu.url)["ims_token_requests"]
            rows.append((label, ims, len(fingerprints), seconds))

    print(
        f"IMS token requests, {args.processes} task processes, {args.parallel} at a time, "
        f"one host ({machine()})"
    )
    print(f"{'cache':<38}{'IMS requests':>13}{'distinct tokens':>17}{'wall':>9}")
    for label, ims, distinct, seconds in rows:
        print(f"{label:<38}{ims:>13}{distinct:>17}{seconds:>8.1f}s")
    print(f"ratio per-instance/provider IMS requests: {rows[1][1] / max(rows[0][1], 1):.0f}x")


if __name__ == "__main__":
    main()
