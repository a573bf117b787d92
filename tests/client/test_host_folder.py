"""The host cache's folder (host_folder): created private, tightened, or not used at all."""

from __future__ import annotations

import logging
import os
import stat

import pytest

from airflow_provider_firefly.client import tokens as tokens_module
from airflow_provider_firefly.client.config import TokenCacheSettings
from airflow_provider_firefly.client.tokens import TokenManager

pytestmark = pytest.mark.timeout(30)

LOGGER = "airflow_provider_firefly.client.tokens"
FOREIGN_UID = 12345


def test_an_unusable_folder_turns_the_host_cache_off(
    credentials, fake_clock, fake_minter, tmp_path, caplog
):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    settings = TokenCacheSettings(cache_dir=blocker / "tokens")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        token = TokenManager(credentials, fake_minter, settings, clock=fake_clock).get_token()
        tokens_module.clear_memory_cache()
        again = TokenManager(credentials, fake_minter, settings, clock=fake_clock).get_token()
    assert token != again  # no host level: each process mints
    assert fake_minter.calls == 2
    assert caplog.text.count("cannot be created") == 1  # warned once per process
    assert len(caplog.records) == 1


def test_folder_modes(credentials, fake_clock, fake_minter, tmp_path, caplog):
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    loose.chmod(0o755)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        TokenManager(
            credentials, fake_minter, TokenCacheSettings(cache_dir=loose), clock=fake_clock
        ).get_token()
    assert stat.S_IMODE(loose.stat().st_mode) == 0o700
    assert "tightened to 0700" in caplog.text
    assert (loose / f"{credentials.cache_key}.token").exists()

    tokens_module.clear_memory_cache()
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        TokenManager(
            credentials, fake_minter, TokenCacheSettings(cache_dir=shared), clock=fake_clock
        ).get_token()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777  # never chmod a shared folder
    assert "shared folder" in caplog.text
    assert not list(shared.iterdir())

    tokens_module.clear_memory_cache()
    nested = tmp_path / "new" / "deep" / "tokens"
    TokenManager(
        credentials, fake_minter, TokenCacheSettings(cache_dir=nested), clock=fake_clock
    ).get_token()
    assert stat.S_IMODE(nested.stat().st_mode) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")
def test_a_foreign_folder_is_not_used(credentials, fake_clock, fake_minter, tmp_path, caplog):
    foreign = tmp_path / "foreign"
    foreign.mkdir(mode=0o700)
    os.chown(foreign, FOREIGN_UID, FOREIGN_UID)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        TokenManager(
            credentials, fake_minter, TokenCacheSettings(cache_dir=foreign), clock=fake_clock
        ).get_token()
    assert f"belongs to uid {FOREIGN_UID}" in caplog.text
    assert not list(foreign.iterdir())
