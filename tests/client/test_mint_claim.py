"""The mint claim in the shared store: hosts that miss the store together make one IMS request.

Real processes, each with its own host cache folder (a host each), share a file-backed store and
ask the emulator's IMS at the same moment; threads race the claim itself on a slow memory store;
an abandoned claim, garbage claims and store failures end in a mint, never a hang.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import airflow_provider_firefly
from airflow_provider_firefly.client import mint_claim as mint_claim_module
from airflow_provider_firefly.client.access_token import AccessToken
from airflow_provider_firefly.client.config import FireflyCredentials, TokenCacheSettings
from airflow_provider_firefly.client.mint_claim import ClaimTiming, MintClaim, claim_key
from airflow_provider_firefly.client.token_sealing import decrypt_token, encrypt_token
from airflow_provider_firefly.client.tokens import TokenManager
from airflow_provider_firefly.testing import FireflyEmulator

from .conftest import MemoryStore

LOGGER = "airflow_provider_firefly.client.tokens"


class SlowStore(MemoryStore):
    """A memory store whose every operation takes a few milliseconds, like a Variable."""

    def __init__(self, latency: float = 0.005) -> None:
        super().__init__()
        self.latency = latency
        self.claims: list[str] = []

    def read(self, key: str) -> str | None:
        time.sleep(self.latency)
        return super().read(key)

    def write(self, key: str, value: str) -> None:
        time.sleep(self.latency)
        if key.startswith("claim_"):
            self.claims.append(value)
        super().write(key, value)


def _short_wait(monkeypatch: pytest.MonkeyPatch, wait: float = 0.8) -> ClaimTiming:
    timing = ClaimTiming(settle=0.1, poll=0.05, wait=wait, fresh_for=15.0)
    monkeypatch.setattr(mint_claim_module, "DEFAULT_TIMING", timing)
    return timing


def _claim(owner: str, at: float) -> str:
    return json.dumps({"owner": owner, "at": at})


# -- the claim itself, raced by threads ------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("round_", range(5))
def test_threads_racing_the_claim_mint_once(round_, credentials, fake_clock, fake_minter):
    store = SlowStore()
    key = credentials.cache_key
    hosts = 6
    barrier = threading.Barrier(hosts)
    results: list[AccessToken] = []

    def read_token() -> AccessToken | None:
        text = store.read(key)
        return None if text is None else decrypt_token(credentials, text, now=fake_clock())

    def mint() -> AccessToken:
        token = fake_minter()
        store.write(key, encrypt_token(credentials, token))
        return token

    def host() -> None:
        claim = MintClaim(
            store,
            key,
            clock=fake_clock,
            logger=logging.getLogger(LOGGER),
            on_store_error=lambda action, exc: None,
        )
        barrier.wait()
        # every host has just missed the store, as at a cluster's cold start
        results.append(claim.obtain(read_token, mint))

    threads = [threading.Thread(target=host) for _ in range(hosts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == hosts
    assert fake_minter.calls == 1
    assert {token.fingerprint for token in results} == {fake_minter.minted[0].fingerprint}
    assert claim_key(key) not in store.data  # the winner released its claim
    assert len(store.claims) >= 1


# -- through the token manager ---------------------------------------------------------------


def test_the_loser_waits_and_uses_the_winners_token(
    credentials, fake_clock, fake_minter, memory_store, tmp_path
):
    # another host claimed a moment ago and is minting
    memory_store.data[claim_key(credentials.cache_key)] = _claim("other-host", fake_clock() - 1)
    winners = AccessToken("winner-token-" + "w" * 30, fake_clock() + 86399, fake_clock())

    def other_host_finishes() -> None:
        time.sleep(0.7)
        memory_store.data[credentials.cache_key] = encrypt_token(credentials, winners)
        memory_store.data.pop(claim_key(credentials.cache_key))

    finisher = threading.Thread(target=other_host_finishes)
    manager = TokenManager(
        credentials,
        fake_minter,
        TokenCacheSettings(cache_dir=tmp_path / "host-b"),
        shared_store=memory_store,
        clock=fake_clock,
    )
    started = time.monotonic()
    finisher.start()
    token = manager.get_token()
    finisher.join()
    assert token == winners
    assert 0.6 < time.monotonic() - started < 3.0
    assert fake_minter.calls == 0
    assert manager.stats["l3_hits"] == 1
    assert manager.host_cache is not None
    assert manager.host_cache.read(credentials) == winners  # filled the host file


def test_a_claim_whose_owner_died_ends_in_a_mint_after_the_wait(  # noqa: PLR0917
    credentials, fake_clock, fake_minter, memory_store, memory_only, monkeypatch, caplog
):
    timing = _short_wait(monkeypatch)
    memory_store.data[claim_key(credentials.cache_key)] = _claim("dead-host", fake_clock())
    manager = TokenManager(
        credentials, fake_minter, memory_only, shared_store=memory_store, clock=fake_clock
    )
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        token = manager.get_token()
    elapsed = time.monotonic() - started
    assert timing.wait <= elapsed < timing.wait + 2.0
    assert fake_minter.calls == 1
    assert (
        decrypt_token(credentials, memory_store.data[credentials.cache_key], now=fake_clock())
        == token
    )
    assert "for another host to mint the Firefly token" in caplog.text


def test_the_default_wait_is_bounded_and_shorter_than_a_claims_life() -> None:
    timing = mint_claim_module.DEFAULT_TIMING
    assert 0 < timing.poll < timing.settle < 1.0
    assert timing.wait <= 10.0
    assert timing.wait < timing.fresh_for  # the wait ends before a live claim is overwritten


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "[]",
        '{"owner": "x"}',
        '{"owner": 3, "at": 0}',
        '{"owner": "x", "at": NaN}',
        '{"owner": "x", "at": true}',
        "ABANDONED",
        "FUTURE",
        '{"owner": "x", "at": 0, "pad": "' + "p" * 300 + '"}',
    ],
)
def test_abandoned_or_unreadable_claims_do_not_delay_the_mint(  # noqa: PLR0917
    value, credentials, fake_clock, fake_minter, memory_store, memory_only, monkeypatch
):
    timing = _short_wait(monkeypatch, wait=5.0)
    if value == "ABANDONED":
        value = _claim("dead-long-ago", fake_clock() - timing.fresh_for - 1)
    elif value == "FUTURE":
        value = _claim("skewed-clock", fake_clock() + 3600)
    memory_store.data[claim_key(credentials.cache_key)] = value
    manager = TokenManager(
        credentials, fake_minter, memory_only, shared_store=memory_store, clock=fake_clock
    )
    started = time.monotonic()
    manager.get_token()
    assert time.monotonic() - started < 2.0  # settle, read back, mint: no wait
    assert fake_minter.calls == 1
    assert claim_key(credentials.cache_key) not in memory_store.data


def test_the_claim_holds_nothing_secret_and_is_released(
    credentials, fake_clock, fake_minter, tmp_path
):
    store = SlowStore(latency=0)
    manager = TokenManager(
        credentials,
        fake_minter,
        TokenCacheSettings(cache_dir=tmp_path / "host"),
        shared_store=store,
        clock=fake_clock,
    )
    token = manager.get_token()
    assert len(store.claims) == 1
    claim = json.loads(store.claims[0])
    assert set(claim) == {"owner", "at"}
    assert claim["at"] == fake_clock()
    for secret in (token.value, credentials.client_secret, credentials.client_id):
        assert secret not in store.claims[0]
    assert set(store.data) == {credentials.cache_key}
    # the claim key stays apart from the token key even where keys are cut to 32 characters
    assert claim_key(credentials.cache_key)[:32] != credentials.cache_key[:32]


def test_a_failed_mint_releases_the_claim_at_once(
    credentials, fake_clock, fake_minter, memory_store, memory_only
):
    fake_minter.fail = RuntimeError("IMS is down")
    manager = TokenManager(
        credentials, fake_minter, memory_only, shared_store=memory_store, clock=fake_clock
    )
    with pytest.raises(RuntimeError, match="IMS is down"):
        manager.get_token()
    assert fake_minter.calls == 1
    assert memory_store.data == {}  # other hosts do not wait for a mint that failed


def test_a_failing_store_never_blocks_the_mint(
    credentials, fake_clock, fake_minter, memory_only, monkeypatch
):
    class WriteFails(MemoryStore):
        def write(self, key: str, value: str) -> None:
            raise RuntimeError("Variable API unreachable")

    _short_wait(monkeypatch, wait=5.0)
    manager = TokenManager(
        credentials, fake_minter, memory_only, shared_store=WriteFails(), clock=fake_clock
    )
    started = time.monotonic()
    assert manager.get_token().value.startswith("tok-")
    assert time.monotonic() - started < 1.0
    assert manager.stats["store_errors"] >= 2  # the claim and the token could not be written


# -- real processes against the emulator's IMS -----------------------------------------------

HOST = r"""
import json, os, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from airflow_provider_firefly.client.config import (
    FireflyCredentials, HttpSettings, TokenCacheSettings,
)
from airflow_provider_firefly.client.ims import mint_token
from airflow_provider_firefly.client.retry import RetryPolicy
from airflow_provider_firefly.client.tokens import TokenManager
from airflow_provider_firefly.client.transport import SyncTransport

store_dir, cache_dir, ready, go = map(Path, sys.argv[2:6])
client_id, secret, ims_url = sys.argv[6:9]


class FileStore:
    # one file per key, replaced atomically: a shared store as seen by several hosts
    def read(self, key):
        try:
            return (store_dir / key).read_text()
        except FileNotFoundError:
            return None

    def write(self, key, value):
        tmp = store_dir / f".{key}.{os.getpid()}"
        tmp.write_text(value)
        os.replace(tmp, store_dir / key)

    def delete(self, key):
        (store_dir / key).unlink(missing_ok=True)


credentials = FireflyCredentials(client_id, secret, ims_url=ims_url)
http = HttpSettings(read_timeout=5.0, max_attempts=3)
transport = SyncTransport(http, user_agent="claim-test", policy=RetryPolicy.from_settings(http))
manager = TokenManager(
    credentials,
    lambda: mint_token(credentials, transport),
    TokenCacheSettings(cache_dir=cache_dir),
    shared_store=FileStore(),
)
ready.touch()
deadline = time.monotonic() + 30
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.002)
token = manager.get_token()
stats = manager.stats
print(json.dumps({"fingerprint": token.fingerprint, "mints": stats["mints"],
                  "l3_hits": stats["l3_hits"]}))
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize("round_", range(5))
def test_hosts_starting_together_make_one_ims_request(
    round_: int, firefly_emulator: FireflyEmulator, tmp_path: Path
) -> None:
    emu = firefly_emulator
    hosts = 4
    script = tmp_path / "host.py"
    script.write_text(HOST)
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    go = tmp_path / "go"
    root = str(Path(airflow_provider_firefly.__file__).resolve().parent.parent)
    procs = []
    for number in range(hosts):
        args = [
            sys.executable,
            str(script),
            root,
            str(store_dir),
            str(tmp_path / f"host-{number}"),
            str(tmp_path / f"ready-{number}"),
            str(go),
            emu.client_id,
            emu.client_secret,
            emu.ims_url,
        ]
        procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"ready-{n}").exists() for n in range(hosts)):
            assert time.monotonic() < deadline, "host processes did not start"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.01)
        go.touch()  # every host misses the store at the same moment
        outputs = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (_out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err.decode()[-2000:]
    results = [json.loads(out) for out, _ in outputs]
    assert emu.counters()["ims_token_requests"] == 1, results
    assert len({r["fingerprint"] for r in results}) == 1
    assert sorted((r["mints"], r["l3_hits"]) for r in results) == [(0, 1)] * (hosts - 1) + [(1, 0)]
    # nothing is left but the token: the winner released its claim
    key = FireflyCredentials(emu.client_id, emu.client_secret, ims_url=emu.ims_url).cache_key
    assert [path.name for path in store_dir.iterdir()] == [key]
