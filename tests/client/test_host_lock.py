"""The host lock (host_lock): one process per host mints; waits are bounded, a dead holder frees
it, and a token written meanwhile by the holder is adopted."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from airflow_provider_firefly.client.access_token import AccessToken
from airflow_provider_firefly.client.config import TokenCacheSettings
from airflow_provider_firefly.client.token_cache import HostTokenCache
from airflow_provider_firefly.client.token_sealing import decrypt_token
from airflow_provider_firefly.client.tokens import TokenManager

pytestmark = pytest.mark.timeout(30)

LOGGER = "airflow_provider_firefly.client.tokens"
DAY = 86399.0


def _token(now: float, value: str, lifetime: float = DAY) -> AccessToken:
    return AccessToken(value=value, expires_at=now + lifetime, issued_at=now)


def _host(settings: TokenCacheSettings) -> HostTokenCache:
    assert settings.cache_dir is not None
    return HostTokenCache(settings.cache_dir)


HOLDER = r"""
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _hold_lock(path: Path, seconds: float) -> subprocess.Popen[str]:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_lock_held_by_another_process_bounded_wait_then_mint(
    credentials, fake_clock, fake_minter, tmp_path, caplog
):
    settings = TokenCacheSettings(cache_dir=tmp_path / "cache", lock_timeout=0.5)
    holder = _hold_lock(_host(settings).lock_path(credentials.cache_key), 20)
    try:
        manager = TokenManager(credentials, fake_minter, settings, clock=fake_clock)
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            token = manager.get_token()
        elapsed = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert 0.5 <= elapsed < 6  # bounded by lock_timeout (generous upper bound for busy CI)
    assert fake_minter.calls == 1
    assert "held by another process; going on without it" in caplog.text
    assert (
        decrypt_token(
            credentials,
            _host(settings).token_path(credentials.cache_key).read_bytes(),
            now=fake_clock(),
        )
        == token
    )


def test_a_killed_lock_holder_releases_the_lock(
    credentials, fake_clock, fake_minter, tmp_path, caplog
):
    settings = TokenCacheSettings(cache_dir=tmp_path / "cache", lock_timeout=10)
    holder = _hold_lock(_host(settings).lock_path(credentials.cache_key), 60)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        TokenManager(credentials, fake_minter, settings, clock=fake_clock).get_token()
    assert time.monotonic() - started < 5  # far below lock_timeout (10 s)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert fake_minter.calls == 1


def test_waiting_for_the_lock_then_reading_the_token_another_process_wrote(
    credentials, fake_minter, cache_settings
):
    fake_minter.clock = time.time
    other_process = _host(cache_settings)  # its own file descriptions: flock conflicts
    lock = other_process.acquire_lock(credentials.cache_key, timeout=0)
    assert lock is not None
    assert lock.held
    theirs = _token(time.time(), value="minted-by-another-process")

    def finish_refresh() -> None:
        time.sleep(0.3)
        other_process.write(credentials, theirs)
        lock.release()

    thread = threading.Thread(target=finish_refresh)
    thread.start()
    manager = TokenManager(credentials, fake_minter, cache_settings)
    assert manager.get_token() == theirs
    thread.join()
    assert fake_minter.calls == 0
    assert manager.stats["l2_hits"] == 1


def test_proactive_refresh_does_not_wait_for_another_refreshing_process(
    credentials, fake_clock, fake_minter, tmp_path
):
    cache_settings = TokenCacheSettings(cache_dir=tmp_path / "cache", lock_timeout=10)
    manager = TokenManager(credentials, fake_minter, cache_settings, clock=fake_clock)
    token = manager.get_token()
    fake_clock.now = token.expires_at - 2700  # inside every process's proactive window
    other_process = _host(cache_settings)
    lock = other_process.acquire_lock(credentials.cache_key, timeout=0)
    assert lock is not None
    try:
        started = time.monotonic()
        assert manager.get_token() is token
        assert time.monotonic() - started < 5  # a try-lock: never the 10 s lock_timeout
        assert fake_minter.calls == 1
        # the other process finishes: its token is adopted at the next look, without a mint
        theirs = _token(fake_clock(), value="refreshed-elsewhere")
        other_process.write(credentials, theirs)
    finally:
        lock.release()
    fake_clock.advance(2)
    assert manager.get_token() == theirs
    assert fake_minter.calls == 1


def test_a_refresh_found_in_the_host_file_is_adopted(
    credentials, fake_clock, fake_minter, cache_settings
):
    manager = TokenManager(credentials, fake_minter, cache_settings, clock=fake_clock)
    token = manager.get_token()
    fake_clock.now = token.expires_at - 2700
    newer = _token(fake_clock(), value="written-by-a-sibling")
    _host(cache_settings).write(credentials, newer)
    assert manager.get_token() == newer
    assert fake_minter.calls == 1
    assert manager.stats["l2_hits"] == 1
