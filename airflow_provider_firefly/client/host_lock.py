"""One process per host mints at a time: an exclusive ``flock`` on a cache key's lock file.

The kernel drops the lock when its holder dies, so it never goes stale. Where locking is not
possible (no ``fcntl``, a file system without locks) the caller gets a no-op lock and goes on
unlocked, with one warning per process.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from types import ModuleType, TracebackType

from airflow_provider_firefly.client.host_folder import warn_once

fcntl: ModuleType | None
try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock, the caller goes on unlocked
    fcntl = None

__all__ = ["HostLock", "acquire_host_lock"]


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


def acquire_host_lock(path: Path, *, timeout: float, log: logging.Logger) -> HostLock | None:
    """Lock ``path`` (created 0600), waiting at most ``timeout`` seconds (0: try once).

    :returns: the held lock; a no-op lock when locking is unavailable, so the caller goes on
        unlocked; None when another process held it for the whole wait (with a warning when
        ``timeout`` > 0).
    """
    if fcntl is None:
        return HostLock(None)
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        warn_once(
            log,
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
            warn_once(
                log,
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
                log.warning(
                    "Waited %.1f s for the Firefly token cache lock %s, held by another "
                    "process; going on without it",
                    time.monotonic() - start,
                    path,
                )
            return None
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.05)
