"""The shared store (L3): ciphertext only, serves other hosts; failures and garbage are misses."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_firefly.client import tokens as tokens_module
from airflow_provider_firefly.client.config import TokenCacheSettings
from airflow_provider_firefly.client.shared_store import SharedTokenStore
from airflow_provider_firefly.client.token_cache import HostTokenCache
from airflow_provider_firefly.client.token_sealing import decrypt_token
from airflow_provider_firefly.client.tokens import TokenManager

pytestmark = pytest.mark.timeout(30)

LOGGER = "airflow_provider_firefly.client.tokens"


def test_memory_store_satisfies_the_protocol(memory_store):
    assert isinstance(memory_store, SharedTokenStore)


def test_shared_store_holds_ciphertext_and_serves_other_hosts(
    credentials, fake_clock, fake_minter, memory_store, tmp_path
):
    host_a = TokenCacheSettings(cache_dir=tmp_path / "host-a")
    manager = TokenManager(
        credentials, fake_minter, host_a, shared_store=memory_store, clock=fake_clock
    )
    token = manager.get_token()
    stored = memory_store.data[credentials.cache_key]
    assert token.value not in stored
    assert decrypt_token(credentials, stored, now=fake_clock()) == token
    # another host: empty memory and folder, same store
    tokens_module.clear_memory_cache()
    host_b = TokenCacheSettings(cache_dir=tmp_path / "host-b")
    other = TokenManager(
        credentials, fake_minter, host_b, shared_store=memory_store, clock=fake_clock
    )
    assert other.get_token() == token
    assert fake_minter.calls == 1
    assert other.stats["l3_hits"] == 1
    # ... which filled its host file
    file_b = HostTokenCache(tmp_path / "host-b").token_path(credentials.cache_key)
    assert decrypt_token(credentials, file_b.read_bytes(), now=fake_clock()) == token


def test_shared_store_errors_are_warnings(  # noqa: PLR0917
    credentials, fake_clock, fake_minter, memory_store, memory_only, caplog
):
    memory_store.fail = RuntimeError("Variable API unreachable")
    manager = TokenManager(
        credentials, fake_minter, memory_only, shared_store=memory_store, clock=fake_clock
    )
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        token = manager.get_token()
        manager.invalidate(token.value)
    assert token.value.startswith("tok-")
    assert "shared token store read failed (RuntimeError: Variable API unreachable)" in caplog.text
    assert "shared token store write failed" in caplog.text
    assert manager.stats["store_errors"] >= 2


def test_garbage_in_the_shared_store_is_a_miss(  # noqa: PLR0917
    credentials, fake_clock, fake_minter, memory_store, memory_only, caplog
):
    memory_store.data[credentials.cache_key] = "not-a-ciphertext"
    manager = TokenManager(
        credentials, fake_minter, memory_only, shared_store=memory_store, clock=fake_clock
    )
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        token = manager.get_token()
    assert "Ignoring the Firefly token in the shared store" in caplog.text
    assert (
        decrypt_token(credentials, memory_store.data[credentials.cache_key], now=fake_clock())
        == token
    )
