"""Host file cache (L2): private files, bad entries, real processes sharing one token, every
level's invalidation and what reaches the logs. Elsewhere: the ciphertext format in
test_token_sealing.py, the folder in test_host_folder.py, the lock in test_host_lock.py, the
shared store (L3) in test_shared_store.py."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

import airflow_provider_firefly
from airflow_provider_firefly.client import token_cache as token_cache_module
from airflow_provider_firefly.client import tokens as tokens_module
from airflow_provider_firefly.client.access_token import AccessToken
from airflow_provider_firefly.client.config import FireflyCredentials, TokenCacheSettings
from airflow_provider_firefly.client.errors import FireflyAuthError, FireflyServerError
from airflow_provider_firefly.client.token_cache import HostTokenCache
from airflow_provider_firefly.client.token_sealing import (
    decrypt_token,
    derive_cache_fernet_key,
    encrypt_token,
)
from airflow_provider_firefly.client.tokens import TokenManager

pytestmark = pytest.mark.timeout(30)

LOGGER = "airflow_provider_firefly.client.tokens"
DAY = 86399.0
FOREIGN_UID = 12345


def _token(now: float, value: str = "eyJ.cached-token-SECRETPART", lifetime: float = DAY):
    return AccessToken(value=value, expires_at=now + lifetime, issued_at=now)


def _host(settings: TokenCacheSettings) -> HostTokenCache:
    assert settings.cache_dir is not None
    return HostTokenCache(settings.cache_dir)


def _encrypt_payload(credentials: FireflyCredentials, payload: object) -> bytes:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return Fernet(derive_cache_fernet_key(credentials)).encrypt(raw)


# -- host cache: files ---------------------------------------------------------------------


def test_host_file_is_private_encrypted_and_replaced_atomically(
    credentials, fake_clock, fake_minter, cache_settings
):
    manager = TokenManager(credentials, fake_minter, cache_settings, clock=fake_clock)
    token = manager.get_token()
    host = manager.host_cache
    assert host is not None
    path = host.token_path(credentials.cache_key)
    directory = cache_settings.resolved_cache_dir
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.name == f"{credentials.cache_key}.token"
    content = path.read_bytes()
    assert token.value.encode() not in content
    assert b"tok-" not in content
    assert credentials.client_secret.encode() not in content
    assert decrypt_token(credentials, content, now=fake_clock()) == token
    inode = path.stat().st_ino
    fresh = manager.get_token(force_refresh=True)
    assert path.stat().st_ino != inode  # a new file renamed over the old one
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert decrypt_token(credentials, path.read_bytes(), now=fake_clock()) == fresh
    leftovers = sorted(p.name for p in directory.iterdir())
    assert leftovers == [f"{credentials.cache_key}.lock", f"{credentials.cache_key}.token"]


def test_a_new_process_reads_the_host_file(credentials, fake_clock, fake_minter, cache_settings):
    first = TokenManager(credentials, fake_minter, cache_settings, clock=fake_clock)
    token = first.get_token()
    tokens_module.clear_memory_cache()
    second = TokenManager(credentials, fake_minter, cache_settings, clock=fake_clock)
    assert second.get_token() == token
    assert second.get_token() == token
    assert fake_minter.calls == 1
    assert second.stats["l2_hits"] == 1
    assert second.stats["l1_hits"] == 1


def test_failed_write_keeps_the_old_file_and_goes_on(  # noqa: PLR0917
    monkeypatch, credentials, fake_clock, fake_minter, cache_settings, caplog
):
    manager = TokenManager(credentials, fake_minter, cache_settings, clock=fake_clock)
    token = manager.get_token()
    host = manager.host_cache
    assert host is not None
    path = host.token_path(credentials.cache_key)
    before = path.read_bytes()

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(token_cache_module.os, "replace", refuse)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        fresh = manager.get_token(force_refresh=True)
    assert fresh != token
    assert path.read_bytes() == before
    assert "Read-only file system" in caplog.text
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def _write_entry(host: HostTokenCache, credentials: FireflyCredentials, data: bytes) -> Path:
    path = host.token_path(credentials.cache_key)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, data)
    os.close(fd)
    return path


BAD_FILES = {
    "garbage": (lambda c, now: b"this is not a fernet token", "cannot be decrypted"),
    "binary": (lambda c, now: bytes(range(256)) * 4, "cannot be decrypted"),
    "empty": (lambda c, now: b"", "empty"),
    "truncated": (
        lambda c, now: encrypt_token(c, _token(now)).encode()[:60],
        "cannot be decrypted",
    ),
    "other-secret": (
        lambda c, now: encrypt_token(FireflyCredentials(c.client_id, "old"), _token(now)).encode(),
        "cannot be decrypted",
    ),
    "invalid-json": (lambda c, now: _encrypt_payload(c, b"{not json"), "not valid JSON"),
    "json-list": (lambda c, now: _encrypt_payload(c, [1, 2]), "not a JSON object"),
    "wrong-version": (
        lambda c, now: _encrypt_payload(c, {"v": 99, "key": c.cache_key}),
        "unknown format version",
    ),
    "other-key": (
        lambda c, now: _encrypt_payload(
            c, {"v": 1, "key": "0" * 64, "access_token": "x", "expires_at": 1, "issued_at": 0}
        ),
        "another credential",
    ),
    "no-expiry": (
        lambda c, now: _encrypt_payload(
            c, {"v": 1, "key": c.cache_key, "access_token": "x", "issued_at": now}
        ),
        "'expires_at' is missing",
    ),
    "future-issue": (
        lambda c, now: encrypt_token(c, _token(now + 3600)).encode(),
        "in the future",
    ),
    "huge": (lambda c, now: b"A" * 100_000, "too large"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_host_files_are_misses_with_a_warning_then_replaced(  # noqa: PLR0917
    case, credentials, fake_clock, fake_minter, cache_settings, caplog
):
    make, reason = BAD_FILES[case]
    path = _write_entry(_host(cache_settings), credentials, make(credentials, fake_clock()))
    manager = TokenManager(credentials, fake_minter, cache_settings, clock=fake_clock)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        token = manager.get_token()
    assert fake_minter.calls == 1
    assert "Ignoring Firefly token cache file" in caplog.text
    assert reason in caplog.text
    assert "SECRETPART" not in caplog.text
    assert decrypt_token(credentials, path.read_bytes(), now=fake_clock()) == token


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda p: os.chown(p, FOREIGN_UID, FOREIGN_UID), f"owned by uid {FOREIGN_UID}"),
        (lambda p: os.chmod(p, 0o644), "group/world accessible (mode 644"),
        (lambda p: os.chmod(p, 0o660), "group/world accessible (mode 660"),
    ],
    ids=["foreign-owner", "world-readable", "group-writable"],
)
def test_foreign_or_open_host_files_are_misses(  # noqa: PLR0917
    tamper, reason, credentials, fake_clock, fake_minter, cache_settings, caplog
):
    if os.geteuid() != 0 and "owner" in reason:
        pytest.skip("chown to another uid needs root")
    host = _host(cache_settings)
    planted = _token(fake_clock(), value="planted-SECRETPART")
    path = _write_entry(host, credentials, encrypt_token(credentials, planted).encode())
    tamper(path)
    manager = TokenManager(credentials, fake_minter, cache_settings, clock=fake_clock)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        token = manager.get_token()
    assert token != planted
    assert fake_minter.calls == 1
    assert reason in caplog.text
    info = path.stat()
    assert info.st_uid == os.geteuid()
    assert stat.S_IMODE(info.st_mode) == 0o600


def test_a_symlinked_host_file_is_a_miss(  # noqa: PLR0917
    credentials, fake_clock, fake_minter, cache_settings, tmp_path, caplog
):
    elsewhere = tmp_path / "elsewhere.token"
    elsewhere.write_bytes(encrypt_token(credentials, _token(fake_clock())).encode())
    elsewhere.chmod(0o600)
    path = _host(cache_settings).token_path(credentials.cache_key)
    path.parent.mkdir(mode=0o700, parents=True)
    path.symlink_to(elsewhere)
    manager = TokenManager(credentials, fake_minter, cache_settings, clock=fake_clock)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        manager.get_token()
    assert fake_minter.calls == 1
    assert "symbolic link" in caplog.text
    assert not path.is_symlink()


def test_an_expired_host_file_is_a_quiet_miss(
    credentials, fake_clock, fake_minter, cache_settings, caplog
):
    old = _token(fake_clock() - DAY - 10)
    _write_entry(_host(cache_settings), credentials, encrypt_token(credentials, old).encode())
    manager = TokenManager(credentials, fake_minter, cache_settings, clock=fake_clock)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        token = manager.get_token()
    assert token != old
    assert fake_minter.calls == 1
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_rotated_secret_misses(credentials, fake_clock, fake_minter, cache_settings, caplog):
    manager = TokenManager(credentials, fake_minter, cache_settings, clock=fake_clock)
    token = manager.get_token()
    rotated = FireflyCredentials(credentials.client_id, "the-new-secret")
    tokens_module.clear_memory_cache()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        other = TokenManager(rotated, fake_minter, cache_settings, clock=fake_clock).get_token()
    assert other != token
    assert fake_minter.calls == 2
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # a plain miss
    host = _host(cache_settings)
    assert host.token_path(rotated.cache_key) != host.token_path(credentials.cache_key)
    # even the old file under the new key's name cannot be read with the new secret
    host.token_path(rotated.cache_key).write_bytes(
        host.token_path(credentials.cache_key).read_bytes()
    )
    tokens_module.clear_memory_cache()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        TokenManager(rotated, fake_minter, cache_settings, clock=fake_clock).get_token()
    assert fake_minter.calls == 3
    assert "cannot be decrypted" in caplog.text


# -- real processes ------------------------------------------------------------------------

WORKER = r"""
import os, sys, time, types
from pathlib import Path

root, cache_dir, log_path = sys.argv[1:4]
sys.path.insert(0, root)
# Load only the token layer: skip the client package's __init__ and its HTTP stack (faster).
import airflow_provider_firefly
package = types.ModuleType("airflow_provider_firefly.client")
package.__path__ = [os.path.join(root, "airflow_provider_firefly", "client")]
sys.modules["airflow_provider_firefly.client"] = package
from airflow_provider_firefly.client.config import FireflyCredentials, TokenCacheSettings
from airflow_provider_firefly.client.errors import FireflyAuthError
from airflow_provider_firefly.client.tokens import AccessToken, TokenManager

bad_secret = len(sys.argv) > 4 and sys.argv[4] == "bad-secret"


def mint():
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.write(fd, f"{os.getpid()}\n".encode())
    os.close(fd)
    time.sleep(0.3)
    if bad_secret:
        raise FireflyAuthError(
            "IMS rejected the client secret", status=400, error_code="invalid_client"
        )
    now = time.time()
    return AccessToken(f"process-token-{os.getpid()}", now + 86399, now)


credentials = FireflyCredentials("process-client", "process-secret")
settings = TokenCacheSettings(cache_dir=Path(cache_dir), lock_timeout=30)
manager = TokenManager(credentials, mint, settings)
try:
    token = manager.get_token()
except FireflyAuthError as error:
    print("refused", manager.stats["auth_failures"], manager.stats["negative_cache_hits"], error)
else:
    print(token.fingerprint, manager.stats["mints"], manager.stats["l2_hits"])
"""


@pytest.mark.timeout(60)
def test_100_processes_8_at_a_time_make_one_mint(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    log = tmp_path / "mints.log"
    root = str(Path(airflow_provider_firefly.__file__).resolve().parent.parent)
    cache_dir = tmp_path / "shared-cache"

    def run(_: int) -> str:
        done = subprocess.run(
            [sys.executable, str(script), root, str(cache_dir), str(log)],
            capture_output=True,
            text=True,
            timeout=45,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    with ThreadPoolExecutor(max_workers=8) as pool:
        outputs = list(pool.map(run, range(100)))
    assert len(log.read_text().splitlines()) == 1
    fingerprints = {line.split()[0] for line in outputs}
    assert len(fingerprints) == 1
    counts = [tuple(map(int, line.split()[1:])) for line in outputs]
    assert counts.count((1, 0)) == 1  # one process minted, 99 read the host file
    assert counts.count((0, 1)) == 99


@pytest.mark.timeout(60)
def test_a_bad_secret_makes_one_ims_call_per_host(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    log = tmp_path / "mints.log"
    root = str(Path(airflow_provider_firefly.__file__).resolve().parent.parent)
    cache_dir = tmp_path / "shared-cache"

    def run(_: int) -> str:
        done = subprocess.run(
            [sys.executable, str(script), root, str(cache_dir), str(log), "bad-secret"],
            capture_output=True,
            text=True,
            timeout=45,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    with ThreadPoolExecutor(max_workers=8) as pool:
        outputs = list(pool.map(run, range(24)))
    assert len(log.read_text().splitlines()) == 1
    assert all(line.startswith("refused ") for line in outputs)
    assert all(
        line.endswith("IMS rejected the client secret (HTTP 400, error_code=invalid_client)")
        for line in outputs
    )
    assert sorted(line.split()[1:3] for line in outputs).count(["1", "0"]) == 1


def test_credential_errors_are_shared_through_the_host_cache(
    credentials, fake_clock, fake_minter, cache_settings
):
    fake_minter.fail = FireflyAuthError(
        "IMS rejected the client secret", status=400, error_code="invalid_client"
    )
    first = TokenManager(credentials, fake_minter, cache_settings, clock=fake_clock)
    with pytest.raises(FireflyAuthError):
        first.get_token()
    host = _host(cache_settings)
    error_file = host.error_path(credentials.cache_key)
    assert stat.S_IMODE(error_file.stat().st_mode) == 0o600
    assert b"IMS rejected" not in error_file.read_bytes()
    tokens_module.clear_memory_cache()  # another task process
    second = TokenManager(credentials, fake_minter, cache_settings, clock=fake_clock)
    with pytest.raises(FireflyAuthError, match="IMS rejected the client secret") as caught:
        second.get_token()
    assert caught.value.error_code == "invalid_client"
    assert caught.value.status == 400
    assert fake_minter.calls == 1
    assert second.stats["negative_cache_hits"] == 1
    fake_clock.advance(61)
    tokens_module.clear_memory_cache()
    fake_minter.fail = None
    third = TokenManager(credentials, fake_minter, cache_settings, clock=fake_clock)
    assert third.get_token().value.startswith("tok-")
    assert fake_minter.calls == 2
    assert not error_file.exists()


def test_invalidate_if_same_at_every_level(
    credentials, fake_clock, fake_minter, memory_store, cache_settings
):
    manager = TokenManager(
        credentials, fake_minter, cache_settings, shared_store=memory_store, clock=fake_clock
    )
    stale = manager.get_token()
    host = _host(cache_settings)
    path = host.token_path(credentials.cache_key)
    # another worker already replaced the token everywhere but in our memory
    newer = _token(fake_clock(), value="newer-from-another-worker")
    memory_store.data[credentials.cache_key] = encrypt_token(credentials, newer)
    host.write(credentials, newer)
    manager.invalidate(stale.value)
    stored = memory_store.data[credentials.cache_key]
    assert decrypt_token(credentials, stored, now=fake_clock()) == newer
    assert decrypt_token(credentials, path.read_bytes(), now=fake_clock()) == newer
    assert manager.get_token() == newer  # read from the host file
    assert fake_minter.calls == 1
    manager.invalidate(newer.value)
    assert credentials.cache_key not in memory_store.data
    assert not path.exists()
    fresh = manager.get_token()
    assert fresh not in (stale, newer)
    assert fake_minter.calls == 2


def test_an_invalidated_token_offered_again_by_a_cache_is_refused(
    credentials, fake_clock, fake_minter, memory_store, memory_only
):
    manager = TokenManager(
        credentials, fake_minter, memory_only, shared_store=memory_store, clock=fake_clock
    )
    stale = manager.get_token()
    manager.invalidate(stale.value)
    # a slow worker writes the revoked token back
    memory_store.data[credentials.cache_key] = encrypt_token(credentials, stale)
    fresh = manager.get_token()
    assert fresh != stale
    assert fake_minter.calls == 2


# -- secrecy -------------------------------------------------------------------------------


def test_no_token_or_secret_in_any_log(  # noqa: PLR0917
    credentials, fake_clock, fake_minter, cache_settings, memory_store, caplog
):
    with caplog.at_level(logging.DEBUG):
        manager = TokenManager(
            credentials, fake_minter, cache_settings, shared_store=memory_store, clock=fake_clock
        )
        first = manager.get_token()
        tokens_module.clear_memory_cache()
        manager.get_token()
        fake_clock.now = first.expires_at - 2700
        fake_minter.fail = FireflyServerError("IMS is down", status=503)
        manager.get_token()
        fake_minter.fail = None
        fake_clock.advance(61)
        second = manager.get_token()
        manager.invalidate(second.value)
        _write_entry(_host(cache_settings), credentials, b"garbage")
        third = manager.get_token()
        repr(manager)
    text = caplog.text + repr(manager) + repr(third)
    assert caplog.records
    assert first.fingerprint in text
    for secret in (credentials.client_secret, first.value, second.value, third.value, "tok-"):
        assert secret not in text
