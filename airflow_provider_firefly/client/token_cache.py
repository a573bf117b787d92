"""Where IMS tokens live between processes: the encrypted host cache (L2) and the shared store (L3).

The token is never stored in plain text. Both levels hold the same ciphertext: a Fernet token
(text-safe, URL-safe base64) of a small JSON document, under a key derived from the client secret
with HKDF-SHA256, the credential's cache key as salt. So a cache entry

* is useless to anyone who does not hold the client secret (no Airflow fernet key needed);
* cannot be moved to another credential (the salt differs, and the payload names its key);
* misses by itself once the secret is rotated (new cache key, new file, new encryption key).

:class:`HostTokenCache` keeps one file per cache key in a private folder (0700): the file is
written to a ``mkstemp`` file (0600), ``fsync``-ed and renamed over the old one, so readers never
see a torn file and need no lock. A separate lock file taken with ``fcntl.flock`` makes one process
per host mint at a time; the kernel drops the lock when its holder dies, so it never goes stale.
Anything wrong with a file (foreign owner, group/world permissions, corrupt, truncated,
undecryptable, written by a host whose clock runs ahead) is a miss with a warning, never a crash,
and the next write replaces it. A folder that cannot be created or written turns the level off
with a warning.

Nothing here imports Airflow; the Airflow layer implements :class:`SharedTokenStore` with a
Variable.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import json
import logging
import math
import os
import stat
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, Protocol, runtime_checkable

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from airflow_provider_firefly.client.config import FireflyCredentials

fcntl: ModuleType | None
try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock, the host cache turns itself off
    fcntl = None

__all__ = [
    "CACHE_FORMAT_VERSION",
    "MAX_CLOCK_SKEW",
    "MAX_TOKEN_LIFETIME",
    "AccessToken",
    "HostLock",
    "HostTokenCache",
    "RememberedError",
    "SharedTokenStore",
    "TokenCacheError",
    "decrypt_token",
    "derive_cache_fernet_key",
    "encrypt_token",
    "token_fingerprint",
]

_default_logger = logging.getLogger("airflow_provider_firefly.client.tokens")

CACHE_FORMAT_VERSION = 1
"""Version of the JSON payload inside the ciphertext."""

MAX_CLOCK_SKEW = 300.0
"""A cached token whose ``issued_at`` lies further than this in the future is refused."""

MAX_TOKEN_LIFETIME = 48 * 3600.0
"""No IMS token lives longer than this (they live 24 h); anything longer is refused."""

_MAX_CIPHERTEXT = 64 * 1024
_HKDF_INFO = b"airflow-provider-firefly token cache v1"
_FINGERPRINT_LENGTH = 12


def token_fingerprint(value: str) -> str:
    """A short SHA-256 prefix of a token: tells tokens apart in logs without revealing them."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:_FINGERPRINT_LENGTH]


def _iso(epoch: float) -> str:
    try:
        return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return repr(epoch)


@dataclass(frozen=True)
class AccessToken:
    """An IMS access token and when it expires.

    :param value: the bearer token; never shown by ``repr``: log :attr:`fingerprint` instead.
    :param expires_at: expiry, epoch seconds (computed from a timestamp taken *before* the IMS
        request, so latency errs on the safe side).
    :param issued_at: when it was minted, epoch seconds.
    """

    value: str = field(repr=False)
    expires_at: float
    issued_at: float

    @property
    def fingerprint(self) -> str:
        """A short hash of the token, safe to log."""
        return token_fingerprint(self.value)

    def expires_in(self, now: float | None = None) -> float:
        """Seconds left before expiry (negative once expired)."""
        return self.expires_at - (time.time() if now is None else now)

    def __repr__(self) -> str:
        return (
            f"AccessToken(fingerprint={self.fingerprint!r}, expires_at={_iso(self.expires_at)}, "
            f"issued_at={_iso(self.issued_at)})"
        )

    __str__ = __repr__


@runtime_checkable
class SharedTokenStore(Protocol):
    """A cluster-wide store of token ciphertexts (L3), e.g. an Airflow Variable.

    Values are the text produced by :func:`encrypt_token` (a Fernet token), never a raw token,
    except under mint-claim keys (``claim_<cache key>``,
    :mod:`~airflow_provider_firefly.client.mint_claim`): a small JSON of a random owner id and a
    time, nothing secret.
    Errors raised by these methods are logged as warnings by the token manager, never fatal.
    """

    def read(self, key: str) -> str | None:
        """The stored ciphertext for ``key``, or None."""
        ...

    def write(self, key: str, value: str) -> None:
        """Store ``value`` under ``key`` (last writer wins)."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""
        ...


class TokenCacheError(ValueError):
    """A cache entry cannot be used; the message says why and never contains the token."""


def derive_cache_fernet_key(credentials: FireflyCredentials) -> bytes:
    """The Fernet key that encrypts this credential's cache entries.

    HKDF-SHA256 over the client secret, salted with the credential's cache key: only a holder of
    the secret can derive it, and every credential (IMS, client id, scopes, secret) gets its own.
    """
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=credentials.cache_key.encode("ascii"),
        info=_HKDF_INFO,
    )
    return base64.urlsafe_b64encode(hkdf.derive(credentials.client_secret.encode("utf-8")))


def _seal(credentials: FireflyCredentials, payload: dict[str, Any]) -> str:
    body = {"v": CACHE_FORMAT_VERSION, "key": credentials.cache_key, **payload}
    plaintext = json.dumps(body, separators=(",", ":")).encode("utf-8")
    return Fernet(derive_cache_fernet_key(credentials)).encrypt(plaintext).decode("ascii")


def _unseal(credentials: FireflyCredentials, ciphertext: str | bytes) -> dict[str, Any]:
    if isinstance(ciphertext, str):
        try:
            data = ciphertext.strip().encode("ascii")
        except UnicodeEncodeError:
            raise TokenCacheError("not a ciphertext (non-ASCII text)") from None
    elif isinstance(ciphertext, (bytes, bytearray)):
        data = bytes(ciphertext).strip()
    else:
        raise TokenCacheError(f"not a ciphertext ({type(ciphertext).__name__})")
    if not data:
        raise TokenCacheError("empty")
    if len(data) > _MAX_CIPHERTEXT:
        raise TokenCacheError(f"too large ({len(data)} bytes)")
    try:
        plaintext = Fernet(derive_cache_fernet_key(credentials)).decrypt(data)
    except (InvalidToken, ValueError, TypeError):
        raise TokenCacheError(
            "cannot be decrypted with these credentials (written with another secret, "
            "truncated or corrupt)"
        ) from None
    try:
        payload = json.loads(plaintext)
    except ValueError:
        raise TokenCacheError("decrypted content is not valid JSON") from None
    if not isinstance(payload, dict):
        raise TokenCacheError("decrypted content is not a JSON object")
    if payload.get("v") != CACHE_FORMAT_VERSION:
        raise TokenCacheError(f"unknown format version {payload.get('v')!r}")
    if payload.get("key") != credentials.cache_key:
        raise TokenCacheError("entry belongs to another credential")
    return payload


def encrypt_token(
    credentials: FireflyCredentials, token: AccessToken, *, now: float | None = None
) -> str:
    """The ciphertext stored in the host file and in the shared store (a Fernet token string).

    The plaintext is JSON ``{"v", "key", "access_token", "token_type", "expires_at",
    "issued_at", "written_at"}``.
    """
    return _seal(
        credentials,
        {
            "access_token": token.value,
            "token_type": "bearer",
            "expires_at": token.expires_at,
            "issued_at": token.issued_at,
            "written_at": time.time() if now is None else now,
        },
    )


def _number(payload: dict[str, Any], name: str) -> float:
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TokenCacheError(f"field {name!r} is missing or not a number")
    return float(value)


def decrypt_token(
    credentials: FireflyCredentials, ciphertext: str | bytes, *, now: float | None = None
) -> AccessToken:
    """Decrypt and check a cache entry written by :func:`encrypt_token`.

    :raises TokenCacheError: the entry is too large, corrupt, truncated, encrypted with other
        credentials, not a token of this credential, or issued in the future beyond
        :data:`MAX_CLOCK_SKEW`. An *expired* token is returned: the caller decides.
    """
    payload = _unseal(credentials, ciphertext)
    value = payload.get("access_token")
    if not isinstance(value, str) or not value:
        raise TokenCacheError("field 'access_token' is missing or empty")
    expires_at = _number(payload, "expires_at")
    issued_at = _number(payload, "issued_at")
    if expires_at <= issued_at or expires_at - issued_at > MAX_TOKEN_LIFETIME:
        raise TokenCacheError("expiry is not after issue or too far from it")
    current = time.time() if now is None else now
    if issued_at > current + MAX_CLOCK_SKEW:
        raise TokenCacheError(
            f"issued {issued_at - current:.0f} s in the future (the writer's clock is ahead "
            f"by more than {MAX_CLOCK_SKEW:.0f} s)"
        )
    return AccessToken(value=value, expires_at=expires_at, issued_at=issued_at)


@dataclass(frozen=True)
class RememberedError:
    """A credential error from IMS, shared by the processes of a host until ``until``.

    Holds only what the error showed (message, status, IMS error code, request id): no secret.
    """

    message: str
    until: float
    status: int | None = None
    error_code: str | None = None
    request_id: str | None = None


_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def _warn_once(log: logging.Logger, path: Path, reason: str, message: str, *args: object) -> None:
    """Warn about a lasting condition (unusable folder) once per process."""
    with _warned_lock:
        if (str(path), reason) in _warned:
            log.debug(message, *args)
            return
        _warned.add((str(path), reason))
    log.warning(message, *args)


class HostLock:
    """An exclusive ``flock`` on a cache key's lock file; a no-op when locking is unavailable.

    Release it with :meth:`release` or use it as a context manager.
    """

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    @property
    def held(self) -> bool:
        """True when a real lock is held (False for the no-op lock)."""
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> HostLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class HostTokenCache:
    """Encrypted token files shared by the processes of one host (L2).

    :param directory: the cache folder, created 0700 on first use.
    :param logger: where warnings go.
    :param clock: epoch seconds, for the future-``issued_at`` check.
    """

    TOKEN_SUFFIX = ".token"  # noqa: S105 - a file name suffix
    LOCK_SUFFIX = ".lock"
    ERROR_SUFFIX = ".error"

    def __init__(
        self,
        directory: Path,
        *,
        logger: logging.Logger | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = Path(directory)
        self._log = logger or _default_logger
        self._clock = clock
        self._ready: bool | None = None
        self._ready_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"HostTokenCache({str(self.directory)!r})"

    # -- paths -----------------------------------------------------------------------------

    def token_path(self, cache_key: str) -> Path:
        """The token file of a cache key (the key is a hash and reveals nothing)."""
        return self.directory / f"{self._name(cache_key)}{self.TOKEN_SUFFIX}"

    def lock_path(self, cache_key: str) -> Path:
        """The lock file of a cache key (never deleted: deleting ``flock`` files races)."""
        return self.directory / f"{self._name(cache_key)}{self.LOCK_SUFFIX}"

    @staticmethod
    def _name(cache_key: str) -> str:
        if not cache_key or not all(c in "0123456789abcdef" for c in cache_key):
            raise ValueError("cache_key must be a lowercase hex digest")
        return cache_key

    # -- folder ----------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        """Whether the folder is usable; checked (and created) on first use, then remembered."""
        ready = self._ready
        if ready is None:
            with self._ready_lock:
                if self._ready is None:
                    self._ready = self._prepare()
                ready = self._ready
        return ready

    def disable(self, reason: str) -> None:
        """Stop using the host cache in this instance (e.g. after a failed write)."""
        self._ready = False
        _warn_once(
            self._log,
            self.directory,
            "disabled",
            "Firefly token host cache %s turned off for this process: %s",
            self.directory,
            reason,
        )

    def _prepare(self) -> bool:
        directory = self.directory
        if fcntl is None:  # pragma: no cover - Windows
            _warn_once(self._log, directory, "fcntl", "Firefly token host cache needs fcntl")
            return False
        created = False
        try:
            if not directory.is_dir():
                directory.mkdir(mode=0o700, parents=True, exist_ok=True)
                created = True
            info = os.stat(directory)
        except OSError as exc:
            _warn_once(
                self._log,
                directory,
                "create",
                "Firefly token host cache %s cannot be created (%s); going on without it: each "
                "process will mint its own token",
                directory,
                exc.strerror or type(exc).__name__,
            )
            return False
        if not stat.S_ISDIR(info.st_mode):
            _warn_once(
                self._log,
                directory,
                "notdir",
                "Firefly token host cache %s is not a folder; going on without it",
                directory,
            )
            return False
        uid = os.geteuid()
        if info.st_uid != uid:
            _warn_once(
                self._log,
                directory,
                "owner",
                "Firefly token host cache %s belongs to uid %d, not to this process (uid %d); "
                "going on without it. Point cache_dir at a folder of this user",
                directory,
                info.st_uid,
                uid,
            )
            return False
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            if not created and mode & (stat.S_ISVTX | 0o002):
                _warn_once(
                    self._log,
                    directory,
                    "shared",
                    "Firefly token host cache %s is a shared folder (mode %o); going on without "
                    "it. Point cache_dir at a private folder",
                    directory,
                    mode,
                )
                return False
            try:
                os.chmod(directory, 0o700)
            except OSError as exc:
                _warn_once(
                    self._log,
                    directory,
                    "chmod",
                    "Firefly token host cache %s has mode %o and cannot be made private (%s); "
                    "going on without it",
                    directory,
                    mode,
                    exc.strerror,
                )
                return False
            if not created:
                self._log.warning(
                    "Firefly token host cache %s had mode %o; tightened to 0700", directory, mode
                )
        if not os.access(directory, os.W_OK | os.X_OK):
            _warn_once(
                self._log,
                directory,
                "readonly",
                "Firefly token host cache %s is not writable (read-only file system?); going on "
                "without it",
                directory,
            )
            return False
        return True

    # -- entries ---------------------------------------------------------------------------

    def read(self, credentials: FireflyCredentials) -> AccessToken | None:
        """The cached token, or None on a miss. Never raises; a bad file is a miss with a warning.

        An expired token is returned as is: the caller decides whether it is still usable.
        """
        path = self.token_path(credentials.cache_key)
        data = self._read_file(path)
        if data is None:
            return None
        try:
            return decrypt_token(credentials, data, now=self._clock())
        except TokenCacheError as exc:
            self._log.warning(
                "Ignoring Firefly token cache file %s: %s; it will be replaced", path, exc
            )
            return None

    def _read_file(self, path: Path) -> bytes | None:
        if not self.available:
            return None
        flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
        flags |= getattr(os, "O_NONBLOCK", 0)  # a planted FIFO must not hang us
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            return None
        except OSError as exc:
            reason = "it is a symbolic link" if exc.errno == errno.ELOOP else exc.strerror
            self._log.warning("Ignoring Firefly token cache file %s: %s", path, reason)
            return None
        try:
            info = os.fstat(fd)
            problem = self._check_file(info)
            if problem:
                self._log.warning("Ignoring Firefly token cache file %s: %s", path, problem)
                return None
            data = self._read_all(fd)
        except OSError as exc:
            self._log.warning("Ignoring Firefly token cache file %s: %s", path, exc.strerror)
            return None
        finally:
            os.close(fd)
        if len(data) > _MAX_CIPHERTEXT:
            self._log.warning("Ignoring Firefly token cache file %s: too large", path)
            return None
        return data

    @staticmethod
    def _check_file(info: os.stat_result) -> str | None:
        if not stat.S_ISREG(info.st_mode):
            return "not a regular file"
        uid = os.geteuid()
        if info.st_uid != uid:
            return f"owned by uid {info.st_uid}, not by this process (uid {uid})"
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            return f"group/world accessible (mode {mode:o}; expected 600)"
        return None

    @staticmethod
    def _read_all(fd: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while size <= _MAX_CIPHERTEXT:
            chunk = os.read(fd, 16384)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)

    def write(self, credentials: FireflyCredentials, token: AccessToken) -> bool:
        """Store the token (encrypted) atomically; False, with a warning, when it cannot."""
        if not self.available:
            return False
        blob = encrypt_token(credentials, token, now=self._clock())
        return self._write_file(self.token_path(credentials.cache_key), blob)

    def _write_file(self, path: Path, text: str) -> bool:
        blob = text.encode("ascii")
        tmp: str | None = None
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.stem[:16]}.", suffix=".tmp", dir=path.parent)
            try:
                view = memoryview(blob)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
            tmp = None
            self._fsync_directory()
        except OSError as exc:
            self.disable(f"cannot write {path.name} ({exc.strerror or type(exc).__name__})")
            return False
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        return True

    # -- remembered credential errors ------------------------------------------------------

    def error_path(self, cache_key: str) -> Path:
        """Where a credential error is remembered for the other processes of the host."""
        return self.directory / f"{self._name(cache_key)}{self.ERROR_SUFFIX}"

    def write_error(self, credentials: FireflyCredentials, error: RememberedError) -> bool:
        """Remember a credential error (encrypted, atomically) until ``error.until``."""
        if not self.available:
            return False
        blob = _seal(
            credentials,
            {
                "error": {
                    "message": error.message,
                    "status": error.status,
                    "error_code": error.error_code,
                    "request_id": error.request_id,
                },
                "until": error.until,
            },
        )
        return self._write_file(self.error_path(credentials.cache_key), blob)

    def read_error(self, credentials: FireflyCredentials) -> RememberedError | None:
        """The remembered credential error if it still holds, else None. Never raises."""
        path = self.error_path(credentials.cache_key)
        data = self._read_file(path)
        if data is None:
            return None
        try:
            payload = _unseal(credentials, data)
            until = _number(payload, "until")
            details = payload.get("error")
            if not isinstance(details, dict) or not isinstance(details.get("message"), str):
                raise TokenCacheError("field 'error' is missing")
        except TokenCacheError as exc:
            self._log.warning("Ignoring Firefly token cache file %s: %s", path, exc)
            return None
        if until <= self._clock():
            return None
        status = details.get("status")
        code = details.get("error_code")
        request_id = details.get("request_id")
        return RememberedError(
            message=details["message"],
            until=until,
            status=status if isinstance(status, int) and not isinstance(status, bool) else None,
            error_code=code if isinstance(code, str) else None,
            request_id=request_id if isinstance(request_id, str) else None,
        )

    def clear_error(self, cache_key: str) -> None:
        """Forget a remembered credential error (after a successful mint)."""
        self._unlink(self.error_path(cache_key))

    def _fsync_directory(self) -> None:
        try:
            dfd = os.open(self.directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError:
            return
        try:
            os.fsync(dfd)
        except OSError:
            pass
        finally:
            os.close(dfd)

    def delete(self, cache_key: str) -> None:
        """Remove a key's token file (a missing file is fine)."""
        self._unlink(self.token_path(cache_key))

    def _unlink(self, path: Path) -> None:
        if not self.available:
            return
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            self._log.warning("Cannot remove Firefly token cache file %s: %s", path, exc.strerror)

    def delete_if_same(self, credentials: FireflyCredentials, fingerprint: str) -> bool:
        """Remove the file only if it still holds the token with this fingerprint.

        Call it while holding :meth:`acquire_lock`, so a token another process is writing survives.
        """
        if not self.available:
            return False
        current = self.read(credentials)
        if current is None or current.fingerprint != fingerprint:
            return False
        self.delete(credentials.cache_key)
        return True

    # -- lock ------------------------------------------------------------------------------

    def acquire_lock(self, cache_key: str, *, timeout: float) -> HostLock | None:
        """Take the key's lock, waiting at most ``timeout`` seconds (0: try once).

        :returns: the held lock; a no-op lock when locking is unavailable (no folder, no
            ``flock``), so the caller goes on unlocked; None when another process held it for
            the whole wait (with a warning when ``timeout`` > 0).
        """
        if not self.available or fcntl is None:
            return HostLock(None)
        path = self.lock_path(cache_key)
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        flags |= getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(path, flags, 0o600)
        except OSError as exc:
            _warn_once(
                self._log,
                path,
                "lock",
                "Cannot open Firefly token cache lock %s (%s); going on without the lock",
                path,
                exc.strerror,
            )
            return HostLock(None)
        start = time.monotonic()
        deadline = start + max(timeout, 0.0)
        delay = 0.002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass
            except OSError as exc:  # e.g. ENOLCK on some network file systems
                os.close(fd)
                _warn_once(
                    self._log,
                    path,
                    "flock",
                    "Cannot lock Firefly token cache lock %s (%s); going on without the lock",
                    path,
                    exc.strerror,
                )
                return HostLock(None)
            else:
                return HostLock(fd)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                os.close(fd)
                if timeout > 0:
                    self._log.warning(
                        "Waited %.1f s for the Firefly token cache lock %s, held by another "
                        "process; going on without it",
                        time.monotonic() - start,
                        path,
                    )
                return None
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.05)
