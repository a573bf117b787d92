"""Host token cache hygiene: every damaged, foreign or unreadable cache file is a miss (one new
IMS call, a valid token), never a crash; a rotated secret misses; no cache file ever holds a
token or the secret in plain text. The cases are proven in depth in
``tests/client/test_token_cache.py``; these re-checks go through the emulator's real IMS."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from airflow_provider_firefly.client import (
    FireflyClient,
    FireflyCredentials,
    FireflyNotFoundError,
    HostTokenCache,
    HttpSettings,
    TokenCacheSettings,
    encrypt_token,
)
from airflow_provider_firefly.client.tokens import AccessToken, clear_memory_cache
from airflow_provider_firefly.testing import FireflyEmulator

from . import _ledger

pytestmark = pytest.mark.timeout(60)

PROBE = "urn:ff:jobs:emu:00000000-0000-4000-8000-000000000000"


def _client(emu: FireflyEmulator, cache: Path, secret: str | None = None) -> FireflyClient:
    credentials = FireflyCredentials(
        emu.client_id, secret or emu.client_secret, ims_url=emu.ims_url
    )
    return FireflyClient(
        credentials, HttpSettings(api_url=emu.api_url), TokenCacheSettings(cache_dir=cache)
    )


def _valid(client: FireflyClient) -> bool:
    try:
        client.get_status(PROBE)
    except FireflyNotFoundError:
        return True  # the API took the token and answered for the job
    return False


def _corrupt(path: Path, emu: FireflyEmulator) -> None:
    path.write_bytes(os.urandom(300))


def _truncated(path: Path, emu: FireflyEmulator) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def _empty(path: Path, emu: FireflyEmulator) -> None:
    path.write_bytes(b"")


def _foreign(path: Path, emu: FireflyEmulator) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give the file away (proven in tests/client/test_token_cache.py)")
    os.chown(path, 65534, 65534)


def _world_readable(path: Path, emu: FireflyEmulator) -> None:
    path.chmod(0o644)


def _undecryptable(path: Path, emu: FireflyEmulator) -> None:
    # A well-formed file sealed with another secret's key, at this credential's path.
    other = FireflyCredentials(emu.client_id, "another-secret-entirely", ims_url=emu.ims_url)
    now = time.time()
    forged = AccessToken(value="forged.token.value", expires_at=now + 3600, issued_at=now)
    path.write_text(encrypt_token(other, forged))


def _symlink(path: Path, emu: FireflyEmulator) -> None:
    target = path.with_name("elsewhere")
    target.write_bytes(path.read_bytes())
    target.chmod(0o600)
    path.unlink()
    path.symlink_to(target)


def _fifo(path: Path, emu: FireflyEmulator) -> None:
    path.unlink()
    os.mkfifo(path, 0o600)


DAMAGE: dict[str, Callable[[Path, FireflyEmulator], None]] = {
    "corrupt": _corrupt,
    "truncated": _truncated,
    "empty": _empty,
    "foreign-owned": _foreign,
    "world-readable": _world_readable,
    "undecryptable": _undecryptable,
    "symlink": _symlink,
    "fifo": _fifo,
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_bad_cache_file_is_a_miss(
    damage: str, firefly_emulator: FireflyEmulator, tmp_path: Path
) -> None:
    emu = firefly_emulator
    cache = tmp_path / "cache"
    with _client(emu, cache) as first:
        original = first.get_access_token()
        path = HostTokenCache(cache).token_path(first.credentials.cache_key)
    assert path.is_file()
    DAMAGE[damage](path, emu)
    clear_memory_cache()  # a new process
    with _client(emu, cache) as second:
        token = second.get_access_token()  # never raises
        valid = _valid(second)
    ims = emu.counters()["ims_token_requests"]
    _ledger.record("hygiene", case=damage, miss=ims == 2, valid=valid)
    assert valid
    assert ims == 2  # a miss: minted again
    assert token != "forged.token.value"
    assert token != original or damage == "symlink"
    if damage in ("corrupt", "truncated", "empty", "world-readable", "undecryptable"):
        assert path.stat().st_mode & 0o077 == 0  # replaced by a private file


def test_a_rotated_secret_misses(firefly_emulator: FireflyEmulator, tmp_path: Path) -> None:
    emu = firefly_emulator
    cache = tmp_path / "cache"
    with _client(emu, cache) as old:
        old_token = old.get_access_token()
    # Rotation at Adobe: both secrets valid for a while, the connection gets the new one.
    emu.configure(secondary_client_secret="rotated-secret-value")
    clear_memory_cache()
    with _client(emu, cache, secret="rotated-secret-value") as new:
        token = new.get_access_token()
        valid = _valid(new)
    _ledger.record("hygiene", case="rotated secret", miss=token != old_token, valid=valid)
    assert token != old_token
    assert valid
    assert emu.counters()["ims_token_requests"] == 2


def _needles(values: list[str]) -> list[bytes]:
    needles = []
    for value in values:
        needles.append(value.encode())
        needles.append(base64.b64encode(value.encode()))
        needles.append(base64.urlsafe_b64encode(value.encode()).rstrip(b"="))
        for part in value.split("."):
            if len(part) >= 16:
                needles.append(part.encode())  # any JWT segment alone
    return needles


def test_the_cache_never_holds_a_token_or_the_secret_in_plain_text(
    firefly_emulator: FireflyEmulator, tmp_path: Path
) -> None:
    emu = firefly_emulator
    cache = tmp_path / "cache"
    tokens = []
    with _client(emu, cache) as client:
        tokens.append(client.get_access_token())
        client.token_manager.invalidate(tokens[0])
        tokens.append(client.token_manager.get_token(force_refresh=True).value)
        assert _valid(client)
    files = [p for p in cache.rglob("*") if p.is_file()]
    assert any(p.suffix == ".token" for p in files)
    found = 0
    for path in files:
        data = path.read_bytes()
        found += sum(needle in data for needle in _needles([*tokens, emu.client_secret]))
    _ledger.record("secrets", where="host cache files", found=found, checked=len(files))
    assert found == 0
    assert cache.stat().st_mode & 0o077 == 0
