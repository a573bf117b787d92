"""The host cache (L2): encrypted token files shared by the processes of one host.

:class:`HostTokenCache` keeps one file per cache key in a private folder (0700,
:mod:`.host_folder`): the file is written to a ``mkstemp`` file (0600), ``fsync``-ed and renamed
over the old one, so readers never see a torn file and need no lock. A lock file
(:mod:`.host_lock`) makes one process per host mint at a time. Files hold the ciphertext of
:mod:`.token_sealing`. Anything wrong with a file (foreign owner, group/world permissions,
corrupt, truncated, undecryptable, written by a host whose clock runs ahead) is a miss with a
warning, never a crash, and the next write replaces it. A folder that cannot be created or
written turns the level off with a warning.

The same folder remembers credential errors from IMS (:class:`RememberedError`), so a bad secret
makes one IMS call per host, not one per process. Nothing here imports Airflow.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from airflow_provider_firefly.client.access_token import AccessToken
from airflow_provider_firefly.client.config import FireflyCredentials
from airflow_provider_firefly.client.host_folder import prepare_private_folder, warn_once
from airflow_provider_firefly.client.host_lock import HostLock, acquire_host_lock
from airflow_provider_firefly.client.token_sealing import (
    MAX_CIPHERTEXT,
    TokenCacheError,
    decrypt_token,
    encrypt_token,
    number_field,
    seal,
    unseal,
)

__all__ = ["HostTokenCache", "RememberedError"]

_default_logger = logging.getLogger("airflow_provider_firefly.client.tokens")


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
        warn_once(
            self._log,
            self.directory,
            "disabled",
            "Firefly token host cache %s turned off for this process: %s",
            self.directory,
            reason,
        )

    def _prepare(self) -> bool:
        return prepare_private_folder(self.directory, self._log)

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
        if len(data) > MAX_CIPHERTEXT:
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
        while size <= MAX_CIPHERTEXT:
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
        blob = seal(
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
            payload = unseal(credentials, data)
            until = number_field(payload, "until")
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
        if not self.available:
            return HostLock(None)
        return acquire_host_lock(self.lock_path(cache_key), timeout=timeout, log=self._log)
