"""TokenManager: in-process cache (L1), single flight, refresh policy, invalidation, errors."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time

import pytest

from airflow_provider_firefly.client import token_registry, token_schedule
from airflow_provider_firefly.client import tokens as tokens_module
from airflow_provider_firefly.client.config import FireflyCredentials, TokenCacheSettings
from airflow_provider_firefly.client.errors import FireflyAuthError, FireflyServerError
from airflow_provider_firefly.client.tokens import AccessToken, TokenManager

pytestmark = pytest.mark.timeout(30)

DAY = 86399.0


@pytest.mark.parametrize("host_cache", [False, True])
def test_50_threads_on_a_cold_cache_make_one_mint(
    host_cache, credentials, fake_minter, cache_settings, memory_only
):
    settings = cache_settings if host_cache else memory_only
    fake_minter.clock = time.time
    fake_minter.delay = 0.2
    manager = TokenManager(credentials, fake_minter, settings)
    barrier = threading.Barrier(50)
    results: list[AccessToken] = []
    errors: list[BaseException] = []

    def worker() -> None:
        barrier.wait()
        try:
            results.append(manager.get_token())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not errors
    assert fake_minter.calls == 1
    assert len(results) == 50
    assert {t.value for t in results} == {fake_minter.minted[0].value}
    assert manager.stats["mints"] == 1


def test_memory_level_is_shared_by_managers_of_one_credential(
    credentials, fake_clock, fake_minter, memory_only
):
    first = TokenManager(credentials, fake_minter, memory_only, clock=fake_clock)
    token = first.get_token()
    other_minter_calls: list[int] = []

    def other_minter() -> AccessToken:
        other_minter_calls.append(1)
        return fake_minter()

    second = TokenManager(credentials, other_minter, memory_only, clock=fake_clock)
    assert second.get_token() is token
    assert not other_minter_calls
    assert second.stats["l1_hits"] == 1
    rotated = FireflyCredentials(credentials.client_id, "a-rotated-secret")
    third = TokenManager(rotated, other_minter, memory_only, clock=fake_clock)
    assert third.get_token() != token
    assert len(other_minter_calls) == 1


def test_a_token_is_reused_until_the_refresh_window(
    credentials, fake_clock, fake_minter, memory_only
):
    manager = TokenManager(credentials, fake_minter, memory_only, clock=fake_clock)
    token = manager.get_token()
    for _ in range(20):
        fake_clock.advance((DAY - 3601) / 20)
        assert manager.get_token() is token
    assert fake_minter.calls == 1
    assert manager.stats["l1_hits"] == 20


@pytest.mark.parametrize(
    ("jitter", "quiet_until", "refreshed_at"),
    [
        (0.0, 3601, 3599),  # refreshes right at the start of the window
        (0.999, 2790, 2770),  # refreshes at the end of the jitter share: 3600 - 0.25 * 3300
    ],
)
def test_proactive_refresh_point_is_jittered_inside_the_window(  # noqa: PLR0917
    monkeypatch,
    credentials,
    fake_clock,
    fake_minter,
    memory_only,
    jitter,
    quiet_until,
    refreshed_at,
):
    monkeypatch.setattr(token_registry, "_jitter", jitter)
    manager = TokenManager(credentials, fake_minter, memory_only, clock=fake_clock)
    token = manager.get_token()
    fake_clock.now = token.expires_at - quiet_until
    assert manager.get_token() is token
    fake_clock.now = token.expires_at - refreshed_at
    fresh = manager.get_token()
    assert fresh != token
    assert fake_minter.calls == 2
    assert manager.stats["proactive_refreshes"] == 1


def test_jitter_is_drawn_per_process_within_bounds() -> None:
    assert 0.0 <= token_registry.process_jitter() < 1.0
    assert token_schedule.JITTER_SHARE == 0.25


def test_failed_proactive_refresh_keeps_the_token_and_backs_off(
    credentials, fake_clock, fake_minter, memory_only, caplog
):
    manager = TokenManager(credentials, fake_minter, memory_only, clock=fake_clock)
    token = manager.get_token()
    fake_clock.now = token.expires_at - 2700  # past every process's refresh point
    fake_minter.fail = FireflyServerError("IMS is down", status=503)
    with caplog.at_level(logging.WARNING, logger="airflow_provider_firefly.client.tokens"):
        assert manager.get_token() is token
    assert fake_minter.calls == 2
    assert "Proactive refresh" in caplog.text
    assert "IMS is down" in caplog.text
    assert token.fingerprint in caplog.text
    assert manager.stats["refresh_failures"] == 1
    # backing off: no IMS call for a minute
    for _ in range(5):
        fake_clock.advance(10)
        assert manager.get_token() is token
    assert fake_minter.calls == 2
    fake_clock.advance(11)
    assert manager.get_token() is token
    assert fake_minter.calls == 3
    fake_minter.fail = None
    fake_clock.advance(61)
    fresh = manager.get_token()
    assert fresh != token
    assert fake_minter.calls == 4


def test_the_hard_margin_is_never_crossed(credentials, fake_clock, fake_minter, memory_only):
    manager = TokenManager(credentials, fake_minter, memory_only, clock=fake_clock)
    first = manager.get_token()
    fake_minter.fail = FireflyServerError("IMS is down", status=503)
    served_after_margin = 0
    failures = 0
    while fake_clock.now < first.expires_at + 600:
        fake_clock.advance(37)
        try:
            token = manager.get_token()
        except FireflyServerError:
            failures += 1
            assert fake_clock.now >= first.expires_at - 300
            continue
        assert fake_clock.now < token.expires_at - 300
        served_after_margin += fake_clock.now >= first.expires_at - 300
    assert served_after_margin == 0
    assert failures > 0
    fake_minter.fail = None
    recovered = manager.get_token()
    assert fake_clock.now < recovered.expires_at - 300


def test_short_lived_tokens_are_not_refreshed_on_every_call(
    credentials, fake_clock, fake_minter, memory_only
):
    fake_minter.lifetime = 600  # margins shrink to a quarter / half of the lifetime
    manager = TokenManager(credentials, fake_minter, memory_only, clock=fake_clock)
    token = manager.get_token()
    for _ in range(10):
        fake_clock.advance(25)
        assert manager.get_token() is token
    assert fake_minter.calls == 1
    fake_clock.now = token.expires_at - 149  # inside the capped hard margin (150 s)
    assert manager.get_token() != token


def test_invalidate_only_drops_the_same_token(credentials, fake_clock, fake_minter, memory_only):
    manager = TokenManager(credentials, fake_minter, memory_only, clock=fake_clock)
    token = manager.get_token()
    manager.invalidate("some-older-token")
    assert manager.get_token() is token
    assert fake_minter.calls == 1
    manager.invalidate(token.value)
    fresh = manager.get_token()
    assert fresh != token
    assert fake_minter.calls == 2
    manager.invalidate(token.value)  # a late 401 on the old token keeps the new one
    assert manager.get_token() is fresh
    assert manager.stats["invalidations"] == 3


def test_force_refresh_skips_the_held_token(credentials, fake_clock, fake_minter, memory_only):
    manager = TokenManager(credentials, fake_minter, memory_only, clock=fake_clock)
    token = manager.get_token()
    fresh = manager.get_token(force_refresh=True)
    assert fresh != token
    assert fake_minter.calls == 2
    assert manager.get_token() is fresh


def test_many_threads_seeing_the_same_401_refresh_once(credentials, fake_minter, memory_only):
    fake_minter.clock = time.time
    manager = TokenManager(credentials, fake_minter, memory_only)
    stale = manager.get_token()
    fake_minter.delay = 0.1
    barrier = threading.Barrier(20)
    results: list[AccessToken] = []

    def on_401() -> None:
        barrier.wait()
        manager.invalidate(stale.value)
        results.append(manager.get_token(force_refresh=True))

    threads = [threading.Thread(target=on_401) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert fake_minter.calls == 2
    assert len(results) == 20
    assert {t.value for t in results} == {fake_minter.minted[1].value}


def test_credential_errors_are_remembered_for_a_minute(
    credentials, fake_clock, fake_minter, memory_only
):
    manager = TokenManager(credentials, fake_minter, memory_only, clock=fake_clock)
    fake_minter.fail = FireflyAuthError(
        "IMS rejected the client secret of connection 'firefly_default'",
        status=401,
        error_code="invalid_client",
    )
    with pytest.raises(FireflyAuthError) as first:
        manager.get_token()
    assert fake_minter.calls == 1
    for _ in range(5):
        fake_clock.advance(10)
        with pytest.raises(FireflyAuthError) as again:
            manager.get_token()
        assert str(again.value) == str(first.value)
        assert again.value.error_code == "invalid_client"
    threads_errors: list[BaseException] = []

    def worker() -> None:
        try:
            manager.get_token()
        except BaseException as exc:
            threads_errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert len(threads_errors) == 20
    assert all(isinstance(e, FireflyAuthError) for e in threads_errors)
    assert fake_minter.calls == 1
    assert manager.stats["negative_cache_hits"] == 25
    fake_clock.advance(11)  # 61 s after the failure
    with pytest.raises(FireflyAuthError):
        manager.get_token()
    assert fake_minter.calls == 2
    fake_minter.fail = None
    fake_clock.advance(61)
    assert manager.get_token().value.startswith("tok-")


def test_outages_are_not_remembered(credentials, fake_clock, fake_minter, memory_only):
    manager = TokenManager(credentials, fake_minter, memory_only, clock=fake_clock)
    fake_minter.fail = FireflyServerError("IMS is down", status=503)
    for _ in range(3):
        with pytest.raises(FireflyServerError):
            manager.get_token()
    assert fake_minter.calls == 3
    assert manager.stats["refresh_failures"] == 3


NOW = 1_800_000_000.0
BAD_TOKENS = {
    "empty": (AccessToken("", NOW + 3600, NOW), "empty"),
    "blank": (AccessToken("   ", NOW + 3600, NOW), "empty"),
    "whitespace": (AccessToken("abc def-SECRETPART", NOW + 3600, NOW), "malformed"),
    "newline": (AccessToken("abc\r\nX-Evil: SECRETPART", NOW + 3600, NOW), "malformed"),
    "expired": (AccessToken("SECRETPART-expired", NOW - 1, NOW - 100), "already expired"),
    "too-long": (AccessToken("SECRETPART-long", NOW + 49 * 3600, NOW), "more than the 48 h"),
    "nan": (AccessToken("SECRETPART-nan", float("nan"), NOW), "valid expires_at"),
    "future-issue": (AccessToken("SECRETPART-future", NOW + 7200, NOW + 3600), "issue time"),
    "not-a-token": ("SECRETPART-raw-string", "not an AccessToken"),
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_unusable_minted_tokens_are_refused(case, credentials, fake_clock, fake_minter, tmp_path):
    result, message = BAD_TOKENS[case]
    fake_clock.now = NOW
    fake_minter.result = result
    settings = TokenCacheSettings(cache_dir=tmp_path / "cache")
    manager = TokenManager(credentials, fake_minter, settings, clock=fake_clock)
    with pytest.raises(FireflyAuthError, match=message) as caught:
        manager.get_token()
    assert "SECRETPART" not in str(caught.value)
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").glob("*.token"))
    with pytest.raises(FireflyAuthError):  # remembered: no storm
        manager.get_token()
    assert fake_minter.calls == 1


def test_aget_token_concurrent_tasks_make_one_mint_without_blocking_the_loop(
    credentials, fake_minter, cache_settings
):
    fake_minter.clock = time.time
    fake_minter.delay = 0.3
    manager = TokenManager(credentials, fake_minter, cache_settings)

    async def scenario() -> tuple[list[AccessToken], int]:
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        tick_task = asyncio.create_task(ticker())
        results = await asyncio.gather(*(manager.aget_token() for _ in range(30)))
        done.set()
        await tick_task
        return list(results), ticks

    results, ticks = asyncio.run(scenario())
    assert fake_minter.calls == 1
    assert {t.value for t in results} == {fake_minter.minted[0].value}
    assert ticks >= 5  # the loop kept running during the 0.3 s mint


def test_aget_token_serves_a_warm_token_inline(monkeypatch, credentials, fake_minter, memory_only):
    fake_minter.clock = time.time
    manager = TokenManager(credentials, fake_minter, memory_only)
    token = manager.get_token()
    offloaded: list[object] = []
    real_to_thread = asyncio.to_thread

    async def counting_to_thread(func, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        offloaded.append(func)
        return await real_to_thread(func, *args, **kwargs)

    monkeypatch.setattr(tokens_module.asyncio, "to_thread", counting_to_thread)

    async def scenario() -> tuple[AccessToken, AccessToken]:
        warm = await manager.aget_token()
        forced = await manager.aget_token(force_refresh=True)
        return warm, forced

    warm, forced = asyncio.run(scenario())
    assert warm is token
    assert forced != token
    assert len(offloaded) == 1  # only the forced refresh went to a thread


def test_on_token_sees_every_token_obtained(credentials, fake_clock, fake_minter, cache_settings):
    seen: list[str] = []
    manager = TokenManager(
        credentials, fake_minter, cache_settings, on_token=seen.append, clock=fake_clock
    )
    first = manager.get_token()
    manager.get_token()
    assert seen == [first.value]
    tokens_module.clear_memory_cache()  # a new task process: the token comes from the host file
    other_seen: list[str] = []
    other = TokenManager(
        credentials, fake_minter, cache_settings, on_token=other_seen.append, clock=fake_clock
    )
    assert other.get_token() == first
    assert other_seen == [first.value]
    assert other.stats["l2_hits"] == 1
    second = other.get_token(force_refresh=True)
    assert other_seen == [first.value, second.value]


def test_on_token_failures_do_not_break_token_delivery(
    credentials, fake_clock, fake_minter, memory_only, caplog
):
    def broken(value: str) -> None:
        raise RuntimeError(f"cannot mask {value}")

    manager = TokenManager(credentials, fake_minter, memory_only, on_token=broken, clock=fake_clock)
    with caplog.at_level(logging.WARNING):
        token = manager.get_token()
    assert "on_token callback failed: RuntimeError" in caplog.text
    assert token.value not in caplog.text


def _wait_child(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail("the forked child hung (a lock inherited from the parent?)")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_while_another_thread_is_minting(credentials, memory_only):
    started = threading.Event()
    release = threading.Event()

    def slow_mint() -> AccessToken:
        started.set()
        release.wait(10)
        now = time.time()
        return AccessToken("parent-token", now + DAY, now)

    parent = TokenManager(credentials, slow_mint, memory_only)
    thread = threading.Thread(target=parent.get_token)
    thread.start()
    assert started.wait(5)
    pid = os.fork()
    if pid == 0:  # child: the parent's refresh lock was held at fork time
        code = 1
        try:
            now = time.time()
            child = TokenManager(
                credentials, lambda: AccessToken("child-token", now + DAY, now), memory_only
            )
            code = 0 if child.get_token().value == "child-token" else 2
        finally:
            os._exit(code)
    try:
        assert _wait_child(pid, 10) == 0
    finally:
        release.set()
        thread.join(5)
    assert parent.get_token().value == "parent-token"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_reuses_the_parents_token(credentials, fake_minter, memory_only):
    fake_minter.clock = time.time
    manager = TokenManager(credentials, fake_minter, memory_only)
    token = manager.get_token()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if manager.get_token() == token and fake_minter.calls == 1 else 3
        finally:
            os._exit(code)
    assert _wait_child(pid, 10) == 0
