"""The host cache's folder: private to this user, or not used at all.

Owns the checks that make a folder safe to hold token files (created 0700, owned by this user,
not shared, writable) and the warn-once rule for lasting conditions, so that a folder which
cannot be used turns the host cache off with one warning per process, never a crash.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from pathlib import Path
from types import ModuleType

fcntl: ModuleType | None
try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock, the host cache turns itself off
    fcntl = None

__all__ = ["prepare_private_folder", "warn_once"]

_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def warn_once(log: logging.Logger, path: Path, reason: str, message: str, *args: object) -> None:
    """Warn about a lasting condition (unusable folder) once per process."""
    with _warned_lock:
        if (str(path), reason) in _warned:
            log.debug(message, *args)
            return
        _warned.add((str(path), reason))
    log.warning(message, *args)


def prepare_private_folder(directory: Path, log: logging.Logger) -> bool:
    """Create ``directory`` (0700) or check it is private to this user; False, warned once, when
    it cannot be used."""
    if fcntl is None:  # pragma: no cover - Windows
        warn_once(log, directory, "fcntl", "Firefly token host cache needs fcntl")
        return False
    created = False
    try:
        if not directory.is_dir():
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            created = True
        info = os.stat(directory)
    except OSError as exc:
        warn_once(
            log,
            directory,
            "create",
            "Firefly token host cache %s cannot be created (%s); going on without it: each "
            "process will mint its own token",
            directory,
            exc.strerror or type(exc).__name__,
        )
        return False
    if not stat.S_ISDIR(info.st_mode):
        warn_once(
            log,
            directory,
            "notdir",
            "Firefly token host cache %s is not a folder; going on without it",
            directory,
        )
        return False
    uid = os.geteuid()
    if info.st_uid != uid:
        warn_once(
            log,
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
            warn_once(
                log,
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
            warn_once(
                log,
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
            log.warning(
                "Firefly token host cache %s had mode %o; tightened to 0700", directory, mode
            )
    if not os.access(directory, os.W_OK | os.X_OK):
        warn_once(
            log,
            directory,
            "readonly",
            "Firefly token host cache %s is not writable (read-only file system?); going on "
            "without it",
            directory,
        )
        return False
    return True
