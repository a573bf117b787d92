"""The IMS token manager: one token per credential for every thread, process and worker.

:class:`TokenManager` hands out a valid :class:`AccessToken`, looking in three levels before it
asks IMS for a new one:

* **L1, in process** (always on): a module-level registry keyed by the credential's cache key,
  shared by every manager in the process, with one refresh at a time per key (a lock and a
  double-check: 50 threads on a cold cache make one IMS call). Locks are rebuilt after ``fork``.
* **L2, on the host** (``TokenCacheSettings.host_cache``, on by default): encrypted files under
  a ``flock`` (:class:`~airflow_provider_firefly.client.token_cache.HostTokenCache`), so the
  task processes of one host share one token.
* **L3, cluster-wide** (opt-in): any :class:`SharedTokenStore`, e.g. an Airflow Variable, holding
  the same ciphertext.

Reads go L1 → L2 → L3 → IMS and a hit fills the levels above it; a mint writes L3, L2, then L1.
With L3 on, a host that must mint first wins a mint claim in the store
(:mod:`~airflow_provider_firefly.client.mint_claim`), so hosts starting together mint once.

Refresh: a token is used until ``expires_at - hard_margin``. Inside ``refresh_window`` before
expiry each process refreshes proactively from a random point of its own (jitter, so workers do
not refresh together), taking the locks without waiting: the winner mints, the others keep the
current token; a failed proactive refresh keeps the current token and waits
:data:`PROACTIVE_BACKOFF` before trying again. Past the hard margin a caller waits for the locks
(bounded), looks in every level again, then mints, and failures propagate. Credential errors from
IMS are remembered for :data:`AUTH_ERROR_TTL`, in memory and (encrypted) in the host cache, so
that a bad secret makes one IMS call per minute per host, not one per call or per task.

Nothing here imports Airflow, and nothing here logs a token or a secret: only fingerprints.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable
from typing import Final

from airflow_provider_firefly.client.config import FireflyCredentials, TokenCacheSettings
from airflow_provider_firefly.client.errors import FireflyAuthError
from airflow_provider_firefly.client.mint_claim import MintClaim
from airflow_provider_firefly.client.token_cache import (
    MAX_CLOCK_SKEW,
    MAX_TOKEN_LIFETIME,
    AccessToken,
    HostTokenCache,
    RememberedError,
    SharedTokenStore,
    TokenCacheError,
    decrypt_token,
    encrypt_token,
    token_fingerprint,
)

__all__ = [
    "AUTH_ERROR_TTL",
    "PROACTIVE_BACKOFF",
    "AccessToken",
    "Minter",
    "SharedTokenStore",
    "TokenManager",
    "clear_memory_cache",
]

Minter = Callable[[], AccessToken]
"""Makes the IMS call. Raises ``FireflyAuthError`` for credential errors (never retried) and
another ``FireflyError`` for outages."""

AUTH_ERROR_TTL: Final = 60.0
"""How long a credential error from IMS is remembered (and re-raised) per key."""

PROACTIVE_BACKOFF: Final = 60.0
"""After a failed proactive refresh, keep the current token this long before trying again."""

JITTER_SHARE: Final = 0.25
"""Each process refreshes at a random point of the first quarter of the proactive window (with
the defaults: between 60 and about 46 minutes before expiry), leaving time to retry."""

_LOSER_RECHECK: Final = 1.0
"""A process that finds another one refreshing looks again after this long."""

_L1_EXTRA_WAIT: Final = 120.0
"""Threads wait for a mint in progress up to ``lock_timeout`` plus this (the minter is bounded by
its own HTTP timeouts and retry budget)."""

_FORCE_GRACE: Final = 30.0
"""``get_token(force_refresh=True)`` within this many seconds of ``invalidate()`` trusts a token
installed meanwhile (by the first of several threads that saw the same 401)."""

_REJECTED_MAX: Final = 16
_STAT_NAMES: Final = (
    "mints",
    "l1_hits",
    "l2_hits",
    "l3_hits",
    "proactive_refreshes",
    "refresh_failures",
    "auth_failures",
    "negative_cache_hits",
    "invalidations",
    "store_errors",
)

_default_logger = logging.getLogger("airflow_provider_firefly.client.tokens")


class _KeyState:
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
        if fingerprint not in self.rejected:
            self.rejected = (*self.rejected[-(_REJECTED_MAX - 1) :], fingerprint)

    def reset_locks(self) -> None:
        self.lock = threading.Lock()


_registry: dict[str, _KeyState] = {}
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


def _state_for(key: str) -> _KeyState:
    if os.getpid() != _registry_pid:  # a fork that bypassed os.fork's hooks
        _after_fork()
    state = _registry.get(key)
    if state is None:
        with _registry_lock:
            state = _registry.setdefault(key, _KeyState())
    return state


def clear_memory_cache() -> None:
    """Forget every token and remembered error of this process (L1); for tests."""
    with _registry_lock:
        _registry.clear()


class TokenManager:
    """Hands out IMS access tokens, cached at three levels (see the module documentation).

    :param credentials: whose tokens; their ``cache_key`` names the cache entries.
    :param mint: makes the IMS call (see :data:`Minter`).
    :param settings: host cache folder, lock timeout, refresh window and hard margin.
    :param shared_store: the cluster-wide level (L3), when wanted.
    :param on_token: called with every token value obtained (minted or read from a cache), e.g.
        Airflow's ``mask_secret``.
    :param logger: where to log (never a token or a secret).
    :param clock: epoch seconds; tests pass a fake clock.
    """

    def __init__(
        self,
        credentials: FireflyCredentials,
        mint: Minter,
        settings: TokenCacheSettings = TokenCacheSettings(),  # noqa: B008 - frozen, immutable
        *,
        shared_store: SharedTokenStore | None = None,
        on_token: Callable[[str], None] | None = None,
        logger: logging.Logger | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credentials = credentials
        self._key = credentials.cache_key
        self._mint = mint
        self._settings = settings
        self._shared = shared_store
        self._on_token = on_token
        self._log = logger or _default_logger
        self._clock = clock
        self._host: HostTokenCache | None = (
            HostTokenCache(settings.resolved_cache_dir, logger=self._log, clock=clock)
            if settings.host_cache
            else None
        )
        self._stats_lock = threading.Lock()
        self._stats: dict[str, int] = dict.fromkeys(_STAT_NAMES, 0)
        self._reported: AccessToken | None = None
        # (token, jitter, refresh_at, hard_deadline) of the last token seen: saves the arithmetic
        self._deadlines: tuple[AccessToken | None, float, float, float] = (None, 0.0, 0.0, 0.0)

    def __repr__(self) -> str:
        levels = ["memory"]
        if self._host is not None:
            levels.append(f"host:{self._host.directory}")
        if self._shared is not None:
            levels.append(f"shared:{type(self._shared).__name__}")
        return (
            f"TokenManager(client_id={self._credentials.client_id!r}, "
            f"key={self._key[:12]}, levels={'+'.join(levels)})"
        )

    # -- public API ------------------------------------------------------------------------

    @property
    def credentials(self) -> FireflyCredentials:
        return self._credentials

    @property
    def settings(self) -> TokenCacheSettings:
        return self._settings

    @property
    def host_cache(self) -> HostTokenCache | None:
        """The host cache (L2), or None when turned off."""
        return self._host

    @property
    def stats(self) -> dict[str, int]:
        """Counters of this manager: mints, hits per level, refreshes, failures..."""
        with self._stats_lock:
            return dict(self._stats)

    def get_token(self, *, force_refresh: bool = False) -> AccessToken:
        """A token usable for at least ``hard_margin`` seconds.

        :param force_refresh: skip the caches for the suspect token (after a 401) and wait for a
            new one. The suspect is the token given to :meth:`invalidate` when that was called
            in the last 30 s (the 401 flow: ``invalidate(value)`` then
            ``get_token(force_refresh=True)``, so many threads seeing the same 401 make one
            refresh), otherwise the token held now. A different token stored meanwhile by
            another thread or process is accepted; otherwise one is minted.
        :raises FireflyAuthError: IMS refused the credentials (remembered for
            :data:`AUTH_ERROR_TTL`) or returned an unusable token.
        :raises FireflyError: IMS could not be reached and no usable token was cached.
        """
        if not force_refresh:
            token = self._hot()
            if token is not None:
                return token
        return self._obtain(force_refresh)

    async def aget_token(self, *, force_refresh: bool = False) -> AccessToken:
        """:meth:`get_token` for async code: a hot in-memory hit is served inline, anything else
        runs the same code in a worker thread, so the event loop never blocks."""
        if not force_refresh:
            token = self._hot()
            if token is not None:
                return token
        return await asyncio.to_thread(self._obtain, force_refresh)

    def invalidate(self, token_value: str) -> None:
        """Drop ``token_value`` from every level, but only where it is still the stored token.

        A newer token written meanwhile by another thread or worker survives. This process also
        refuses the token if a cache offers it again.
        """
        fingerprint = token_fingerprint(token_value)
        state = _state_for(self._key)
        state.reject(fingerprint)
        state.invalidated_at = time.monotonic()
        current = state.token
        if current is not None and current.fingerprint == fingerprint:
            state.token = None
        self._count("invalidations")
        self._log.info("Invalidating Firefly access token %s", fingerprint)
        if self._host is not None:
            lock = self._host.acquire_lock(self._key, timeout=min(self._settings.lock_timeout, 2.0))
            if lock is not None:
                with lock:
                    self._host.delete_if_same(self._credentials, fingerprint)
        if self._shared is not None:
            stored = self._read_shared()
            if stored is not None and stored.fingerprint == fingerprint:
                try:
                    self._shared.delete(self._key)
                except Exception as exc:
                    self._store_error("delete", exc)

    # -- policy ----------------------------------------------------------------------------

    def _deadlines_of(self, token: AccessToken) -> tuple[float, float]:
        """(refresh_at, hard_deadline) of a token for this process.

        For tokens shorter-lived than the settings assume, the hard margin is capped at a quarter
        and the window at half of the lifetime, so a short token is not refreshed on every call.
        """
        cached = self._deadlines
        if cached[0] is token and cached[1] == _jitter:
            return cached[2], cached[3]
        settings = self._settings
        lifetime = max(token.expires_at - token.issued_at, 0.0)
        margin = min(settings.hard_margin, lifetime * 0.25)
        window = max(margin, min(settings.refresh_window, lifetime * 0.5))
        hard = token.expires_at - margin
        refresh_at = token.expires_at - window + _jitter * JITTER_SHARE * (window - margin)
        self._deadlines = (token, _jitter, refresh_at, hard)
        return refresh_at, hard

    def _usable(self, token: AccessToken, now: float) -> bool:
        return now < self._deadlines_of(token)[1]

    def _fresh(self, token: AccessToken, now: float) -> bool:
        return now < self._deadlines_of(token)[0]

    # -- paths -----------------------------------------------------------------------------

    def _hot(self) -> AccessToken | None:
        """The in-memory token when no refresh is due (the common case), else None."""
        state = _state_for(self._key)
        token = state.token
        if token is None:
            return None
        refresh_at, hard = self._deadlines_of(token)
        now = self._clock()
        if now < hard and (now < refresh_at or now < state.retry_after):
            self._count("l1_hits")
            self._report(token)
            return token
        return None

    def _obtain(self, force_refresh: bool) -> AccessToken:
        state = _state_for(self._key)
        current = state.token
        if force_refresh:
            # After invalidate(bad), a different token installed since (by another thread that
            # saw the same 401 first) is trusted; otherwise the token held now is the suspect.
            recent = time.monotonic() - state.invalidated_at < _FORCE_GRACE
            if current is not None and not recent:
                state.reject(current.fingerprint)
                if state.token is current:
                    state.token = None
            return self._mandatory(state)
        if current is not None and self._usable(current, self._clock()):
            return self._proactive(state, current)
        return self._mandatory(state)

    def _check_negative_cache(self, state: _KeyState) -> None:
        error = state.auth_error
        if error is not None and self._clock() < state.auth_error_until:
            self._count("negative_cache_hits")
            raise copy.copy(error) from None

    def _check_host_negative_cache(self, state: _KeyState) -> None:
        """Raise the credential error another process of this host got from IMS, if recent."""
        assert self._host is not None
        remembered = self._host.read_error(self._credentials)
        if remembered is None:
            return
        error = FireflyAuthError(
            remembered.message,
            status=remembered.status,
            error_code=remembered.error_code,
            request_id=remembered.request_id,
        )
        state.auth_error = error
        state.auth_error_until = min(remembered.until, self._clock() + AUTH_ERROR_TTL)
        self._count("negative_cache_hits")
        raise copy.copy(error) from None

    def _mandatory(self, state: _KeyState) -> AccessToken:
        """No usable token in memory: wait for the locks, look everywhere, then mint."""
        self._check_negative_cache(state)
        wait = self._settings.lock_timeout + _L1_EXTRA_WAIT
        locked = state.lock.acquire(timeout=wait)
        if not locked:
            self._log.warning(
                "Waited %.0f s for another thread refreshing the Firefly token; going on", wait
            )
        try:
            # another thread may have refreshed, or failed, while we waited
            token = state.token
            if (
                token is not None
                and self._usable(token, self._clock())
                and token.fingerprint not in state.rejected
            ):
                self._count("l1_hits")
                self._report(token)
                return token
            self._check_negative_cache(state)
            token = self._read_lower(state, proactive=False)
            if token is not None:
                return token
            host_lock = (
                self._host.acquire_lock(self._key, timeout=self._settings.lock_timeout)
                if self._host is not None
                else None
            )
            try:
                if self._host is not None:
                    # another process may have refreshed, or been refused, while we waited
                    token = self._read_lower(state, proactive=False)
                    if token is not None:
                        return token
                    self._check_host_negative_cache(state)
                return self._mint_claimed(state)
            finally:
                if host_lock is not None:
                    host_lock.release()
        finally:
            if locked:
                state.lock.release()

    def _proactive(self, state: _KeyState, current: AccessToken) -> AccessToken:
        """A usable token is due for refresh: refresh if nobody else is, else keep it."""
        if not state.lock.acquire(blocking=False):
            return current  # another thread of this process is refreshing
        try:
            now = self._clock()
            token = state.token
            if token is not None and token is not current and self._fresh(token, now):
                self._report(token)
                return token
            if now < state.retry_after:
                return current
            token = self._read_lower(state, proactive=True)
            if token is not None:
                return token
            host_lock = None
            if self._host is not None:
                host_lock = self._host.acquire_lock(self._key, timeout=0)
                if host_lock is None:  # another process of this host is refreshing
                    state.retry_after = now + _LOSER_RECHECK
                    return current
            try:
                if host_lock is not None and host_lock.held:
                    token = self._read_lower(state, proactive=True)
                    if token is not None:
                        return token
                try:
                    token = self._mint_and_store(state)
                except Exception as exc:
                    state.retry_after = self._clock() + PROACTIVE_BACKOFF
                    self._log.warning(
                        "Proactive refresh of the Firefly access token failed (%s); keeping "
                        "token %s, valid for %.0f more minutes; next attempt in %.0f s",
                        _describe(exc),
                        current.fingerprint,
                        current.expires_in(self._clock()) / 60,
                        PROACTIVE_BACKOFF,
                    )
                    self._report(current)
                    return current
                self._count("proactive_refreshes")
                return token
            finally:
                if host_lock is not None:
                    host_lock.release()
        finally:
            state.lock.release()

    # -- levels ----------------------------------------------------------------------------

    def _acceptable(self, state: _KeyState, token: AccessToken, proactive: bool) -> bool:
        now = self._clock()
        if token.fingerprint in state.rejected:
            return False
        return self._fresh(token, now) if proactive else self._usable(token, now)

    def _read_lower(self, state: _KeyState, *, proactive: bool) -> AccessToken | None:
        """A token from L2 or L3 that will do (fresh when refreshing proactively), filling the
        levels above."""
        if self._host is not None:
            token = self._host.read(self._credentials)
            if token is not None and self._acceptable(state, token, proactive):
                self._count("l2_hits")
                self._log.debug(
                    "Firefly access token %s read from the host cache", token.fingerprint
                )
                self._install(state, token)
                return token
        if self._shared is not None:
            return self._read_shared_level(state, proactive=proactive)
        return None

    def _read_shared_level(self, state: _KeyState, *, proactive: bool) -> AccessToken | None:
        """A token from L3 that will do, filling the levels above."""
        token = self._read_shared()
        if token is None or not self._acceptable(state, token, proactive):
            return None
        self._count("l3_hits")
        self._log.debug("Firefly access token %s read from the shared store", token.fingerprint)
        if self._host is not None:
            self._host.write(self._credentials, token)
        self._install(state, token)
        return token

    def _read_shared(self) -> AccessToken | None:
        assert self._shared is not None
        try:
            stored = self._shared.read(self._key)
        except Exception as exc:
            self._store_error("read", exc)
            return None
        if stored is None:
            return None
        try:
            return decrypt_token(self._credentials, stored, now=self._clock())
        except TokenCacheError as exc:
            self._log.warning("Ignoring the Firefly token in the shared store: %s", exc)
            return None

    def _store_error(self, action: str, exc: Exception) -> None:
        self._count("store_errors")
        self._log.warning(
            "Firefly shared token store %s failed (%s); going on without it", action, _describe(exc)
        )

    def _install(self, state: _KeyState, token: AccessToken) -> None:
        self._report(token)
        state.token = token
        state.retry_after = 0.0
        state.auth_error = None

    def _mint_claimed(self, state: _KeyState) -> AccessToken:
        """Mint, but with a shared store only after winning its mint claim: hosts that miss the
        store together make one IMS request, the others take the winner's token."""
        if self._shared is None:
            return self._mint_and_store(state)
        claim = MintClaim(
            self._shared,
            self._key,
            clock=self._clock,
            logger=self._log,
            on_store_error=self._store_error,
        )
        return claim.obtain(
            lambda: self._read_shared_level(state, proactive=False),
            lambda: self._mint_and_store(state),
        )

    def _mint_and_store(self, state: _KeyState) -> AccessToken:
        started = self._clock()
        try:
            token = self._mint()
            self._validate(token)
        except FireflyAuthError as exc:
            state.auth_error = exc
            state.auth_error_until = self._clock() + AUTH_ERROR_TTL
            self._count("auth_failures")
            if self._host is not None:
                self._host.write_error(
                    self._credentials,
                    RememberedError(
                        message=exc.message,
                        until=state.auth_error_until,
                        status=exc.status,
                        error_code=exc.error_code,
                        request_id=exc.request_id,
                    ),
                )
            self._log.warning(
                "IMS refused to issue a Firefly access token (%s); not asking again for %.0f s",
                _describe(exc),
                AUTH_ERROR_TTL,
            )
            raise
        except Exception:
            self._count("refresh_failures")
            raise
        self._report(token)
        self._count("mints")
        self._log.info(
            "Minted Firefly access token %s (valid %.1f h, IMS call took %.2f s)",
            token.fingerprint,
            token.expires_in(self._clock()) / 3600,
            max(self._clock() - started, 0.0),
        )
        if self._shared is not None:
            try:
                self._shared.write(self._key, encrypt_token(self._credentials, token))
            except Exception as exc:
                self._store_error("write", exc)
        if self._host is not None:
            self._host.write(self._credentials, token)
            self._host.clear_error(self._key)
        self._install(state, token)
        return token

    def _validate(self, token: object) -> None:
        """Refuse what no caller could use; the message never contains the token."""
        if not isinstance(token, AccessToken):
            raise FireflyAuthError(
                f"the IMS minter returned {type(token).__name__}, not an AccessToken"
            )
        value = token.value
        if not isinstance(value, str) or not value.strip():
            raise FireflyAuthError("IMS returned an empty access token")
        if not value.isprintable() or any(c.isspace() for c in value):
            raise FireflyAuthError(
                "IMS returned a malformed access token (whitespace or control characters)"
            )
        now = self._clock()
        for name in ("expires_at", "issued_at"):
            number = getattr(token, name)
            if (
                isinstance(number, bool)
                or not isinstance(number, (int, float))
                or not math.isfinite(number)
            ):
                raise FireflyAuthError(f"IMS returned an access token without a valid {name}")
        if token.expires_at <= now:
            raise FireflyAuthError(
                "IMS returned an access token that is already expired (check expires_in and "
                "this host's clock)"
            )
        if token.expires_at - now > MAX_TOKEN_LIFETIME:
            raise FireflyAuthError(
                f"IMS returned an access token valid for {(token.expires_at - now) / 3600:.0f} h, "
                f"more than the {MAX_TOKEN_LIFETIME / 3600:.0f} h any IMS token lives"
            )
        if token.issued_at > now + MAX_CLOCK_SKEW or token.issued_at >= token.expires_at:
            raise FireflyAuthError("IMS returned an access token with an inconsistent issue time")

    # -- helpers ---------------------------------------------------------------------------

    def _report(self, token: AccessToken) -> None:
        if self._on_token is None or token is self._reported:
            return
        try:
            self._on_token(token.value)
        except Exception as exc:
            self._log.warning("on_token callback failed: %s", type(exc).__name__)
            return
        self._reported = token

    def _count(self, name: str) -> None:
        with self._stats_lock:
            self._stats[name] += 1


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
