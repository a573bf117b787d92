"""Concurrency of the token caches over real processes and the emulator's IMS.

* 64 processes start cold at the same instant on one host: one IMS call, 64 valid tokens.
* Readers (processes x threads) hammer ``get_token()`` across several refresh points of a
  4-second token: no reader is ever handed an expired (or refused) token.
* A process killed while holding the host lock in the middle of a refresh: the next process is
  not blocked and the host cache file is still readable.

Drivers run in a fresh interpreter that imports only the client (no Airflow), then fork, so that
no child inherits the emulator's threads. Children report fingerprints, never tokens.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from airflow_provider_firefly.client import (
    FireflyClient,
    FireflyCredentials,
    HttpSettings,
    TokenCacheSettings,
)
from airflow_provider_firefly.client.tokens import clear_memory_cache
from airflow_provider_firefly.testing import FireflyEmulator

from . import _ledger

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

IMS = "POST /ims/token/v3"
PROBE = "/v3/status/urn:ff:jobs:emu:00000000-0000-4000-8000-000000000000"

COMMON = textwrap.dedent(
    """
    import json, os, sys, time, threading, base64
    import requests
    from airflow_provider_firefly.client import (
        FireflyClient, FireflyCredentials, HttpSettings, TokenCacheSettings)
    from airflow_provider_firefly.client import token_fingerprint

    cfg = json.loads(sys.argv[1])

    def client():
        creds = FireflyCredentials(cfg["client_id"], cfg["secret"], ims_url=cfg["url"])
        return FireflyClient(creds, HttpSettings(api_url=cfg["url"], read_timeout=30),
                             TokenCacheSettings(cache_dir=cfg["cache"], lock_timeout=30))

    def probe(token):
        # one raw call, no retry and no refresh: 404 = the API took the token, 401 = refused
        r = requests.get(cfg["url"] + cfg["probe"], timeout=30,
                         headers={"Authorization": "Bearer " + token,
                                  "x-api-key": cfg["client_id"]})
        return r.status_code

    def claims(token):
        part = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        return (int(data["created_at"]) + int(data["expires_in"])) / 1000.0
    """
)

COLD_START = COMMON + textwrap.dedent(
    """
    n, out, go = int(sys.argv[2]), sys.argv[3], sys.argv[4]
    pids = []
    for index in range(n):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                while not os.path.exists(go):
                    time.sleep(0.005)
                c = client()
                token = c.get_access_token()
                with open(os.path.join(out, f"{index}.json"), "w") as fh:
                    json.dump({"pid": os.getpid(), "fingerprint": token_fingerprint(token),
                               "status": probe(token),
                               "mints": c.token_manager.stats["mints"]}, fh)
            except BaseException as exc:
                print(f"child {index}: {type(exc).__name__}: {exc}", file=sys.stderr)
                code = 1
            os._exit(code)
        pids.append(pid)
    open(go + ".forked", "w").close()
    codes = [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids]
    sys.exit(1 if any(codes) else 0)
    """
)


def _cfg(emu: FireflyEmulator, cache: Path) -> str:
    return json.dumps(
        {
            "client_id": emu.client_id,
            "secret": emu.client_secret,
            "url": emu.url,
            "cache": str(cache),
            "probe": PROBE,
        }
    )


def test_64_cold_processes_make_one_ims_call(
    firefly_emulator: FireflyEmulator, tmp_path: Path
) -> None:
    emu = firefly_emulator
    out = tmp_path / "out"
    out.mkdir()
    go = tmp_path / "go"
    # A slow IMS (0.5 s) keeps the race window wide open: everyone starts inside it.
    emu.script(IMS, [{"process": True, "delay": 0.5}])
    driver = subprocess.Popen(
        [sys.executable, "-c", COLD_START, _cfg(emu, tmp_path / "cache"), "64", str(out), str(go)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not Path(str(go) + ".forked").exists():
        assert driver.poll() is None, driver.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    go.touch()  # all 64 are forked and spinning: release them at once
    _, err = driver.communicate(timeout=180)
    assert driver.returncode == 0, err[-3000:]
    reports = [json.loads(p.read_text()) for p in out.glob("*.json")]
    assert len(reports) == 64
    assert len({r["pid"] for r in reports}) == 64
    counters = emu.counters()
    _ledger.record(
        "concurrency",
        case="64 cold processes",
        processes=64,
        ims_calls=counters["ims_token_requests"],
        invalid=sum(r["status"] != 404 for r in reports),
    )
    assert counters["ims_token_requests"] == 1
    assert sum(r["mints"] for r in reports) == 1
    assert len({r["fingerprint"] for r in reports}) == 1
    assert all(r["status"] == 404 for r in reports), reports  # every token accepted
    assert emu.client_secret not in err


RACE = COMMON + textwrap.dedent(
    """
    procs, threads = int(sys.argv[2]), int(sys.argv[3])
    seconds, out = float(sys.argv[4]), sys.argv[5]

    def reader(c, stats, lock, end):
        while time.time() < end:
            token = c.token_manager.get_token()
            now = time.time()
            remaining = claims(token.value) - now
            status = probe(token.value)
            with lock:
                stats["reads"] += 1
                stats["fingerprints"].add(token.fingerprint)
                stats["min_remaining"] = min(stats["min_remaining"], remaining)
                if remaining <= 0:
                    stats["expired"] += 1
                if status != 404:
                    stats["refused"] += 1
            time.sleep(0.01)

    pids = []
    for index in range(procs):
        pid = os.fork()
        if pid == 0:
            c = client()
            stats = {"reads": 0, "expired": 0, "refused": 0, "min_remaining": 1e9,
                     "fingerprints": set()}
            lock = threading.Lock()
            end = time.time() + seconds
            workers = [threading.Thread(target=reader, args=(c, stats, lock, end))
                       for _ in range(threads)]
            for w in workers: w.start()
            for w in workers: w.join()
            stats["fingerprints"] = sorted(stats["fingerprints"])
            stats["mints"] = c.token_manager.stats["mints"]
            with open(os.path.join(out, f"{index}.json"), "w") as fh:
                json.dump(stats, fh)
            os._exit(0)
        pids.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids]
    sys.exit(1 if any(codes) else 0)
    """
)


def test_refresh_racing_readers_never_get_an_expired_token(
    firefly_emulator: FireflyEmulator, tmp_path: Path
) -> None:
    emu = firefly_emulator
    emu.configure(token_lifetime=4.0)
    out = tmp_path / "out"
    out.mkdir()
    seconds = 10.0
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            RACE,
            _cfg(emu, tmp_path / "cache"),
            "4",
            "6",
            str(seconds),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    reports = [json.loads(p.read_text()) for p in out.glob("*.json")]
    assert len(reports) == 4
    reads = sum(r["reads"] for r in reports)
    expired = sum(r["expired"] for r in reports)
    refused = sum(r["refused"] for r in reports)
    tokens = {f for r in reports for f in r["fingerprints"]}
    ims = emu.counters()["ims_token_requests"]
    _ledger.record(
        "concurrency",
        case="refresh race (4 processes x 6 threads, 4 s tokens, 10 s)",
        reads=reads,
        tokens=len(tokens),
        ims_calls=ims,
        expired=expired,
        refused=refused,
        min_remaining=round(min(r["min_remaining"] for r in reports), 2),
    )
    assert reads > 200
    assert len(tokens) >= 3  # the readers crossed at least two refresh points
    assert expired == 0
    assert refused == 0
    # processes share refreshes through the host cache: far fewer mints than processes x points
    assert ims <= len(tokens) + 4


HOLDER = COMMON + textwrap.dedent(
    """
    c = client()
    print("refreshing", flush=True)
    c.token_manager.get_token()  # cold: takes the host lock, then waits on IMS
    print("unexpected: refresh finished", flush=True)
    """
)


def test_process_killed_while_holding_the_lock(
    firefly_emulator: FireflyEmulator, tmp_path: Path
) -> None:
    emu = firefly_emulator
    cache = tmp_path / "cache"
    settings = TokenCacheSettings(cache_dir=cache, lock_timeout=30)
    credentials = FireflyCredentials(emu.client_id, emu.client_secret, ims_url=emu.ims_url)
    # The holder starts cold, takes the host lock to mint, and its IMS call hangs: it is
    # SIGKILLed mid-refresh with the lock held.
    emu.script(IMS, [{"delay": 60}])
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, _cfg(emu, cache)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while emu.counters()["ims_token_requests"] < 1:
        assert holder.poll() is None, holder.communicate()
        assert time.monotonic() < deadline, "the holder never reached IMS"
        time.sleep(0.02)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(30)
    holder.communicate()
    emu.clear_scripts()
    clear_memory_cache()  # the next process on the same host
    started = time.monotonic()
    second = FireflyClient(credentials, HttpSettings(api_url=emu.api_url), settings)
    token = second.get_access_token()
    waited = time.monotonic() - started
    second.close()
    clear_memory_cache()  # and one more: it must find the token in the host cache
    third = FireflyClient(credentials, HttpSettings(api_url=emu.api_url), settings)
    assert third.get_access_token() == token
    stats = third.token_manager.stats
    third.close()
    _ledger.record("concurrency", case="lock holder killed mid-refresh", waited=round(waited, 2))
    assert waited < 5  # not the 30 s lock timeout
    assert stats["l2_hits"] == 1
    assert stats["mints"] == 0
    assert emu.counters()["ims_token_requests"] == 2  # the killed one + one mint
