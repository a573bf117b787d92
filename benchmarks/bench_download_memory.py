"""Peak memory while saving a 500 MB Firefly output to a local file.

The emulator (its own process) pads one PNG output to about 500 MB (``--output-padding-bytes``,
streamed, never held in its memory). Each way of saving it runs in a fresh child process that
first imports what it needs, then resets its peak RSS (``/proc/self/clear_refs``), downloads,
and reports ``VmHWM`` minus the RSS just before the download:

* ``FireflyClient.download(output, path)`` (streamed, atomic rename);
* ``FireflyHook.download(output, path)`` (the same through the hook and an Airflow connection);
* ``FireflyHook.download(output, ObjectStoragePath("file://..."))``;
* naive: ``open(path, "wb").write(requests.get(url).content)``.

Goal: under 64 MB above the baseline.

    .venv/bin/python benchmarks/bench_download_memory.py [--mb 500]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, connection_env, machine

CONN_ID = "ff_download_bench"

CHILD = r"""
import json, os, sys, time
def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
way, url, path = sys.argv[1:4]
if way == "client":
    from airflow_provider_firefly.client import FireflyClient, FireflyCredentials, HttpSettings
    from airflow_provider_firefly.testing.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
    api = os.environ["FF_API_URL"]
    creds = FireflyCredentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, ims_url=api)
    client = FireflyClient(creds, HttpSettings(api_url=api))
    save = lambda: client.download(url, path)
elif way in ("hook", "hook_osp"):
    from airflow.sdk import ObjectStoragePath
    from airflow_provider_firefly.hooks.firefly import FireflyHook
    hook = FireflyHook(firefly_conn_id=os.environ["FF_CONN_ID"])
    hook.client  # connection read and client built before the measurement
    target = ObjectStoragePath("file://" + path) if way == "hook_osp" else path
    save = lambda: hook.download(url, target)
else:
    import requests
    def save():
        with open(path, "wb") as handle:
            handle.write(requests.get(url, timeout=600).content)
import gc; gc.collect()
open("/proc/self/clear_refs", "w").write("5")
base = rss("VmRSS")
start = time.perf_counter()
save()
wall = time.perf_counter() - start
print("RESULT " + json.dumps({"base_kb": base, "peak_kb": rss("VmHWM"), "wall": wall,
                              "size": os.path.getsize(path)}))
"""

WAYS = [
    ("client", "FireflyClient.download -> path"),
    ("hook", "FireflyHook.download -> path"),
    ("hook_osp", "FireflyHook.download -> ObjectStoragePath"),
    ("naive", "requests.get(url).content -> file"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=500, help="padding, in MB (10^6 bytes)")
    args = parser.parse_args()

    from airflow_provider_firefly.client import FireflyClient, FireflyCredentials, HttpSettings
    from airflow_provider_firefly.testing import FireflyEmulator
    from airflow_provider_firefly.testing.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

    cache = tempfile.mkdtemp()
    os.environ["AIRFLOW_PROVIDER_FIREFLY_CACHE_DIR"] = cache
    padding = str(args.mb * 1_000_000)
    rows = []
    with FireflyEmulator.spawn("--job-duration", "0", "--output-padding-bytes", padding) as emu:
        client = FireflyClient(
            FireflyCredentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, ims_url=emu.url),
            HttpSettings(api_url=emu.url),
        )
        job = client.submit(
            "generate_images", {"prompt": "a big one", "size": {"width": 64, "height": 64}}
        )
        status = client.wait(job, timeout=60, expected_seconds=0)
        url = status.outputs[0].url
        env = {
            **os.environ,
            **connection_env(emu.url, CONN_ID),
            "FF_CONN_ID": CONN_ID,
            "FF_API_URL": emu.url,
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        }
        with tempfile.TemporaryDirectory() as work:
            for way, label in WAYS:
                path = str(Path(work) / f"{way}.png")
                done = subprocess.run(
                    [sys.executable, "-c", CHILD, way, url, path],
                    env=env,
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    check=False,
                    timeout=900,
                )
                lines = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
                if done.returncode != 0 or not lines:
                    raise RuntimeError(f"{way} failed:\n{done.stderr[-3000:]}")
                result = json.loads(lines[-1][7:])
                result["label"] = label
                rows.append(result)
                os.unlink(path)
                time.sleep(0.5)
        client.close()

    print(f"\nSaving one {args.mb} MB output (emulator padding), fresh process each; {machine()}")
    header = f"{'way':<44}{'file MB':>9}{'base RSS MB':>13}{'peak above base MB':>20}{'wall s':>8}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['label']:<44}{r['size'] / 1e6:>9.1f}{r['base_kb'] / 1024:>13.1f}"
            f"{(r['peak_kb'] - r['base_kb']) / 1024:>20.1f}{r['wall']:>8.1f}"
        )
    print("goal: under 64 MB above the baseline")


if __name__ == "__main__":
    main()
