"""The in-process token level (L1): what this process knows about each credential's token.

Owns the module-level registry shared by every :class:`~.tokens.TokenManager` of the process
(keyed by the credential's cache key), the per-key lock that lets one thread refresh at a time,
and this process's refresh jitter. Locks and jitter are renewed after ``fork``, since a parent
thread may have held a lock at the moment of the fork.
"""

from __future__ import annotations

import math
import os
import random
import threading
from typing import Final

from airflow_provider_firefly.client.access_token import AccessToken
from airflow_provider_firefly.client.errors import FireflyAuthError

__all__ = ["KeyState", "clear_memory_cache", "process_jitter", "state_for"]

_REJECTED_MAX: Final = 16


class KeyState:
    """What the process knows about one cache key (L1)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # one refresh at a time
        self.token: AccessToken | None = None
        self.retry_after = 0.0  # no proactive refresh before this (epoch, manager clock)
        self.auth_error: FireflyAuthError | None = None
        self.auth_error_until = 0.0
        self.invalidated_at = -math.inf  # time.monotonic() of the last invalidate()
        self.rejected: tuple[str, ...] = ()  # fingerprints refused here; replaced, never mutated

    def reject(self, fingerprint: str) -> None:
        """Refuse the token with this fingerprint from now on (the last few are kept)."""
        if fingerprint not in self.rejected:
            self.rejected = (*self.rejected[-(_REJECTED_MAX - 1) :], fingerprint)

    def reset_locks(self) -> None:
        """A fresh lock (after a fork)."""
        self.lock = threading.Lock()


_registry: dict[str, KeyState] = {}
_registry_lock = threading.Lock()
_registry_pid = os.getpid()
_jitter = random.random()  # noqa: S311 - spreads refreshes, not a secret


def _after_fork() -> None:
    """In a forked child: fresh locks (a parent thread may have held one) and a new jitter."""
    global _registry_lock, _registry_pid, _jitter  # noqa: PLW0603
    _registry_lock = threading.Lock()
    for state in list(_registry.values()):
        state.reset_locks()
    _registry_pid = os.getpid()
    _jitter = random.random()  # noqa: S311


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def process_jitter() -> float:
    """This process's random point in [0, 1): where in the jitter share it refreshes."""
    return _jitter


def state_for(key: str) -> KeyState:
    """The state of a cache key, created on first use."""
    if os.getpid() != _registry_pid:  # a fork that bypassed os.fork's hooks
        _after_fork()
    state = _registry.get(key)
    if state is None:
        with _registry_lock:
            state = _registry.setdefault(key, KeyState())
    return state


def clear_memory_cache() -> None:
    """Forget every token and remembered error of this process (L1); for tests."""
    with _registry_lock:
        _registry.clear()
