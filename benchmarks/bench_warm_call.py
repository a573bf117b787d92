"""Warm-cache authenticated call vs a raw ``requests.Session`` call to the same emulator route.

Both sides send ``GET /v3/status/{jobId}`` with the same headers over a kept-alive connection to
one emulator process. The client side adds token lookup (in-process cache hit), the retry
policy, error mapping and response parsing. Rounds alternate the two sides to cancel drift.
Goal: provider / raw <= 1.10.

    .venv/bin/python benchmarks/bench_warm_call.py [--calls 2000] [--rounds 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import requests
from _common import machine, median_us

from airflow_provider_firefly.client import (
    FireflyClient,
    FireflyCredentials,
    HttpSettings,
    TokenCacheSettings,
)
from airflow_provider_firefly.testing import FireflyEmulator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()

    with FireflyEmulator.spawn("--job-duration", "3600") as emu:
        from _common import reset

        reset(emu.url)
        from airflow_provider_firefly.testing.config import (
            DEFAULT_CLIENT_ID,
            DEFAULT_CLIENT_SECRET,
        )

        credentials = FireflyCredentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, ims_url=emu.url)
        client = FireflyClient(
            credentials,
            HttpSettings(api_url=emu.url),
            TokenCacheSettings(cache_dir=tempfile.mkdtemp()),
        )
        job = client.generate_images({"prompt": "benchmark"})
        token = client.get_access_token()
        raw = requests.Session()
        lean = requests.Session()
        lean.trust_env = False  # what the provider's transport does: no proxy/netrc lookups
        raw_headers = {
            "Authorization": f"Bearer {token}",
            "x-api-key": DEFAULT_CLIENT_ID,
            "Accept": "application/json",
            "User-Agent": client.user_agent,
        }

        def provider_call() -> None:
            client.get_status(job)

        def raw_call() -> None:
            response = raw.get(job.status_url, headers=raw_headers, timeout=(10, 60))
            response.raise_for_status()
            response.json()

        def lean_call() -> None:
            response = lean.get(job.status_url, headers=raw_headers, timeout=(10, 60))
            response.raise_for_status()
            response.json()

        sides = (
            ("provider", "FireflyClient.get_status (warm)", provider_call),
            ("raw", "raw requests.Session.get", raw_call),
            ("lean", "raw Session.get, trust_env=False", lean_call),
        )
        for _, _, call in sides:  # warm every connection
            for _ in range(50):
                call()

        wall: dict[str, list[float]] = {name: [] for name, _, _ in sides}
        cpu: dict[str, list[float]] = {name: [] for name, _, _ in sides}
        per_round = max(1, args.calls // args.rounds)
        for _ in range(args.rounds):
            for name, _, call in sides:
                start, start_cpu = time.perf_counter(), time.process_time()
                for _ in range(per_round):
                    call()
                wall[name].append((time.perf_counter() - start) / per_round)
                cpu[name].append((time.process_time() - start_cpu) / per_round)

        print(f"warm authenticated call, {per_round * args.rounds} calls per side, {machine()}")
        print(f"{'side':<36}{'wall per call':>15}{'client CPU per call':>22}")
        for name, label, _ in sides:
            print(f"{label:<36}{median_us(wall[name]):>12.0f} us{median_us(cpu[name]):>19.0f} us")
        for other in ("raw", "lean"):
            wall_ratio = median_us(wall["provider"]) / median_us(wall[other])
            cpu_ratio = median_us(cpu["provider"]) / median_us(cpu[other])
            print(
                f"ratio provider/{other}: wall {wall_ratio:.3f}, client CPU {cpu_ratio:.3f}"
                "  (goal: wall <= 1.10)"
            )
        client.close()


if __name__ == "__main__":
    main()
