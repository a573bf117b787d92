"""The IMS token manager: one token per credential for every thread, process and worker.

:class:`TokenManager` is the front (sync and async) that hands out a valid
:class:`~.access_token.AccessToken`, looking in three levels before it asks IMS for a new one:

* **L1, in process** (always on, :mod:`.token_registry`): a registry keyed by the credential's
  cache key, shared by every manager in the process, with one refresh at a time per key (a lock
  and a double-check: 50 threads on a cold cache make one IMS call).
* **L2, on the host** (``TokenCacheSettings.host_cache``, on by default): encrypted files under
  a ``flock`` (:class:`~.token_cache.HostTokenCache`), so the task processes of one host share
  one token.
* **L3, cluster-wide** (opt-in): any :class:`~.shared_store.SharedTokenStore`, e.g. an Airflow
  Variable, holding the same ciphertext.

Reads go L1 → L2 → L3 → IMS and a hit fills the levels above it; a mint writes L3, L2, then L1
(:mod:`.token_levels`). When to refresh is :mod:`.token_schedule`'s rule; who refreshes, and
how IMS refusals are remembered, is :mod:`.token_refresh`'s.

Nothing here imports Airflow, and nothing here logs a token or a secret: only fingerprints.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Final

from airflow_provider_firefly.client.access_token import AccessToken, token_fingerprint
from airflow_provider_firefly.client.config import FireflyCredentials, TokenCacheSettings
from airflow_provider_firefly.client.shared_store import SharedTokenStore
from airflow_provider_firefly.client.token_cache import HostTokenCache
from airflow_provider_firefly.client.token_levels import TokenLevels
from airflow_provider_firefly.client.token_refresh import (
    AUTH_ERROR_TTL,
    PROACTIVE_BACKOFF,
    Minter,
    TokenRefresher,
)
from airflow_provider_firefly.client.token_registry import clear_memory_cache, state_for
from airflow_provider_firefly.client.token_schedule import RefreshSchedule

# The token layer's front door: what a caller of the manager needs comes from here.
__all__ = [
    "AUTH_ERROR_TTL",
    "PROACTIVE_BACKOFF",
    "AccessToken",
    "Minter",
    "SharedTokenStore",
    "TokenManager",
    "clear_memory_cache",
]

_FORCE_GRACE: Final = 30.0
"""``get_token(force_refresh=True)`` within this many seconds of ``invalidate()`` trusts a token
installed meanwhile (by the first of several threads that saw the same 401)."""

_default_logger = logging.getLogger("airflow_provider_firefly.client.tokens")


class TokenManager:
    """Hands out IMS access tokens, cached at three levels (see the module documentation).

    :param credentials: whose tokens; their ``cache_key`` names the cache entries.
    :param mint: makes the IMS call (see :data:`~.token_refresh.Minter`).
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
        self._settings = settings
        self._log = logger or _default_logger
        self._clock = clock
        self._schedule = RefreshSchedule(settings)
        self._levels = TokenLevels(
            credentials,
            settings,
            self._schedule,
            shared_store=shared_store,
            on_token=on_token,
            logger=self._log,
            clock=clock,
        )
        self._refresher = TokenRefresher(
            credentials, mint, settings, self._levels, self._schedule, logger=self._log, clock=clock
        )

    def __repr__(self) -> str:
        levels = ["memory"]
        if self._levels.host is not None:
            levels.append(f"host:{self._levels.host.directory}")
        if self._levels.shared is not None:
            levels.append(f"shared:{type(self._levels.shared.store).__name__}")
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
        return self._levels.host

    @property
    def stats(self) -> dict[str, int]:
        """Counters of this manager: mints, hits per level, refreshes, failures..."""
        return self._levels.stats

    def get_token(self, *, force_refresh: bool = False) -> AccessToken:
        """A token usable for at least ``hard_margin`` seconds.

        :param force_refresh: skip the caches for the suspect token (after a 401) and wait for a
            new one. The suspect is the token given to :meth:`invalidate` when that was called
            in the last 30 s (the 401 flow: ``invalidate(value)`` then
            ``get_token(force_refresh=True)``, so many threads seeing the same 401 make one
            refresh), otherwise the token held now. A different token stored meanwhile by
            another thread or process is accepted; otherwise one is minted.
        :raises FireflyAuthError: IMS refused the credentials (remembered for
            :data:`~.token_refresh.AUTH_ERROR_TTL`) or returned an unusable token.
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
        state = state_for(self._key)
        state.reject(fingerprint)
        state.invalidated_at = time.monotonic()
        current = state.token
        if current is not None and current.fingerprint == fingerprint:
            state.token = None
        self._levels.count("invalidations")
        self._log.info("Invalidating Firefly access token %s", fingerprint)
        self._levels.forget(fingerprint, lock_timeout=min(self._settings.lock_timeout, 2.0))

    # -- paths -----------------------------------------------------------------------------

    def _hot(self) -> AccessToken | None:
        """The in-memory token when no refresh is due (the common case), else None."""
        state = state_for(self._key)
        token = state.token
        if token is None:
            return None
        refresh_at, hard = self._schedule.deadlines(token)
        now = self._clock()
        if now < hard and (now < refresh_at or now < state.retry_after):
            self._levels.count("l1_hits")
            self._levels.report(token)
            return token
        return None

    def _obtain(self, force_refresh: bool) -> AccessToken:
        state = state_for(self._key)
        current = state.token
        if force_refresh:
            # After invalidate(bad), a different token installed since (by another thread that
            # saw the same 401 first) is trusted; otherwise the token held now is the suspect.
            recent = time.monotonic() - state.invalidated_at < _FORCE_GRACE
            if current is not None and not recent:
                state.reject(current.fingerprint)
                if state.token is current:
                    state.token = None
            return self._refresher.mandatory(state)
        if current is not None and self._schedule.usable(current, self._clock()):
            return self._refresher.proactive(state, current)
        return self._refresher.mandatory(state)
