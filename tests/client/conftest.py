"""Fixtures of the client tests: a fake clock, a fake minter, cache settings, a memory store
(isolation per test is the shared ``_isolated`` fixture of ``tests/fixtures``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from airflow_provider_firefly.client.config import FireflyCredentials, TokenCacheSettings
from airflow_provider_firefly.client.tokens import AccessToken


class FakeClock:
    """Epoch seconds that only move when told to."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeMinter:
    """Counts IMS calls; mints distinct tokens living ``lifetime`` seconds on ``clock``.

    Set ``fail`` to an exception to raise it instead, ``delay`` to slow each call down,
    ``result`` to return a given object.
    """

    def __init__(self, clock: Callable[[], float], lifetime: float = 86399.0) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.delay = 0.0
        self.fail: BaseException | None = None
        self.result: object = None
        self.calls = 0
        self.minted: list[AccessToken] = []
        self._lock = threading.Lock()

    def __call__(self) -> AccessToken:
        with self._lock:
            self.calls += 1
            number = self.calls
        if self.delay:
            time.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        if self.result is not None:
            return self.result  # type: ignore[return-value]
        now = self.clock()
        token = AccessToken(
            value=f"tok-{number}-{'x' * 40}", expires_at=now + self.lifetime, issued_at=now
        )
        self.minted.append(token)
        return token


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake_minter(fake_clock: FakeClock) -> FakeMinter:
    return FakeMinter(fake_clock)


@pytest.fixture
def credentials() -> FireflyCredentials:
    return FireflyCredentials(client_id="test-client", client_secret="s3cr3t-value-for-tests")


@pytest.fixture
def cache_settings(tmp_path: Path) -> TokenCacheSettings:
    """Host cache on, in a fresh folder of this test, short lock wait."""
    return TokenCacheSettings(cache_dir=tmp_path / "token-cache", lock_timeout=2.0)


@pytest.fixture
def memory_only() -> TokenCacheSettings:
    return TokenCacheSettings(host_cache=False)


class MemoryStore:
    """An in-memory :class:`SharedTokenStore` (L3) that can be told to fail."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.fail: Exception | None = None
        self.reads = 0
        self.writes = 0

    def read(self, key: str) -> str | None:
        self.reads += 1
        if self.fail:
            raise self.fail
        return self.data.get(key)

    def write(self, key: str, value: str) -> None:
        self.writes += 1
        if self.fail:
            raise self.fail
        self.data[key] = value

    def delete(self, key: str) -> None:
        if self.fail:
            raise self.fail
        self.data.pop(key, None)


@pytest.fixture
def memory_store() -> MemoryStore:
    return MemoryStore()
