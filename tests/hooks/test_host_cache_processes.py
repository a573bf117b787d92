"""The host token cache across real processes: 100 task processes, 8 at a time, one IMS call.

A driver process imports Airflow and the provider once, then forks each task process, as
Airflow's supervisor and the LocalExecutor do (a fresh interpreter per process would cost
~2.5 s of imports each). Every child builds ``FireflyHook`` from ``AIRFLOW_CONN_FF_PROCS``,
gets a token through the shared cache folder, proves it valid with one authenticated call,
and reports the token's fingerprint (never the token).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fixtures.connections import conn_json

from airflow_provider_firefly.testing import FireflyEmulator

pytestmark = pytest.mark.slow

DRIVER = textwrap.dedent(
    """
    import json, os, sys
    from airflow_provider_firefly.hooks.firefly import FireflyHook
    from airflow_provider_firefly.client.errors import FireflyNotFoundError
    from airflow_provider_firefly.client import token_fingerprint

    total, parallel, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    PROBE = "urn:ff:jobs:emu:00000000-0000-0000-0000-000000000000"

    def child(index):
        hook = FireflyHook(firefly_conn_id="ff_procs")
        token = hook.get_access_token()
        try:
            hook.get_status(PROBE)
            valid = False
        except FireflyNotFoundError:
            valid = True  # the API accepted the token and said the job does not exist
        stats = hook.client.token_manager.stats
        with open(os.path.join(out, f"{index}.json"), "w") as fh:
            json.dump({"pid": os.getpid(), "fingerprint": token_fingerprint(token),
                       "valid": valid, "mints": stats["mints"], "l2_hits": stats["l2_hits"]}, fh)

    running, codes, started = set(), [], 0
    while started < total or running:
        while started < total and len(running) < parallel:
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    child(started)
                except BaseException as exc:
                    print(f"child {started}: {type(exc).__name__}: {exc}", file=sys.stderr)
                    code = 1
                os._exit(code)
            running.add(pid)
            started += 1
        pid, status = os.wait()
        running.discard(pid)
        codes.append(os.waitstatus_to_exitcode(status))
    sys.exit(1 if any(codes) else 0)
    """
)


def test_100_processes_make_one_ims_call(firefly_emulator: FireflyEmulator, tmp_path: Path) -> None:
    emu = firefly_emulator
    out = tmp_path / "results"
    out.mkdir()
    cache = tmp_path / "host-cache"
    env = {
        **os.environ,
        "AIRFLOW_CONN_FF_PROCS": conn_json(emu),
        "AIRFLOW_PROVIDER_FIREFLY_CACHE_DIR": str(cache),
    }
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, "100", "8", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    reports = [json.loads(path.read_text()) for path in out.glob("*.json")]
    assert len(reports) == 100
    assert len({r["pid"] for r in reports}) == 100
    assert emu.counters()["ims_token_requests"] == 1
    assert len({r["fingerprint"] for r in reports}) == 1
    assert all(r["valid"] for r in reports)
    assert sum(r["mints"] for r in reports) == 1
    assert sum(r["l2_hits"] for r in reports) == 99
    # the cache folder is private and holds ciphertext only
    assert cache.stat().st_mode & 0o077 == 0
    files = [p for p in cache.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert path.stat().st_mode & 0o077 == 0
        assert emu.client_secret.encode() not in path.read_bytes()
    assert emu.client_secret not in result.stdout + result.stderr
