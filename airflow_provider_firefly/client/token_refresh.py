"""Mint coordination: who refreshes a token, when, and what happens when IMS says no.

:class:`TokenRefresher` runs the two refresh paths of the token manager. *Proactive* (a usable
token is due): take the locks without waiting; the winner mints, the others keep the current
token; a failed proactive refresh keeps it and waits :data:`PROACTIVE_BACKOFF`. *Mandatory* (no
usable token): wait for the thread lock, then the host lock (both bounded), look in every level
again, then mint, with a shared store only after winning its mint claim
(:mod:`.mint_claim`); failures propagate. Credential errors from IMS are remembered for
:data:`AUTH_ERROR_TTL`, in memory and (encrypted) in the host cache, so a bad secret makes one
IMS call per minute per host, not one per call or per task.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Final

from airflow_provider_firefly.client.access_token import AccessToken, check_minted_token
from airflow_provider_firefly.client.config import FireflyCredentials, TokenCacheSettings
from airflow_provider_firefly.client.errors import FireflyAuthError
from airflow_provider_firefly.client.mint_claim import MintClaim
from airflow_provider_firefly.client.token_levels import TokenLevels, describe_error
from airflow_provider_firefly.client.token_registry import KeyState
from airflow_provider_firefly.client.token_schedule import RefreshSchedule

__all__ = ["AUTH_ERROR_TTL", "PROACTIVE_BACKOFF", "Minter", "TokenRefresher"]

Minter = Callable[[], AccessToken]
"""Makes the IMS call. Raises ``FireflyAuthError`` for credential errors (never retried) and
another ``FireflyError`` for outages."""

AUTH_ERROR_TTL: Final = 60.0
"""How long a credential error from IMS is remembered (and re-raised) per key."""

PROACTIVE_BACKOFF: Final = 60.0
"""After a failed proactive refresh, keep the current token this long before trying again."""

_LOSER_RECHECK: Final = 1.0
"""A process that finds another one refreshing looks again after this long."""

_L1_EXTRA_WAIT: Final = 120.0
"""Threads wait for a mint in progress up to ``lock_timeout`` plus this (the minter is bounded by
its own HTTP timeouts and retry budget)."""


class TokenRefresher:
    """Refreshes one credential's token through the levels (see the module documentation).

    :param credentials: whose token.
    :param mint: makes the IMS call.
    :param settings: the lock timeout.
    :param levels: the levels below memory, counters and report.
    :param schedule: when a token is due or no longer usable.
    :param logger: where to log (never a token or a secret).
    :param clock: epoch seconds.
    """

    def __init__(
        self,
        credentials: FireflyCredentials,
        mint: Minter,
        settings: TokenCacheSettings,
        levels: TokenLevels,
        schedule: RefreshSchedule,
        *,
        logger: logging.Logger,
        clock: Callable[[], float],
    ) -> None:
        self._credentials = credentials
        self._key = credentials.cache_key
        self._mint = mint
        self._settings = settings
        self._levels = levels
        self._schedule = schedule
        self._log = logger
        self._clock = clock

    def _check_negative_cache(self, state: KeyState) -> None:
        error = state.auth_error
        if error is not None and self._clock() < state.auth_error_until:
            self._levels.count("negative_cache_hits")
            raise copy.copy(error) from None

    def _check_host_negative_cache(self, state: KeyState) -> None:
        """Raise the credential error another process of this host got from IMS, if recent."""
        remembered = self._levels.remembered_auth_error()
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
        self._levels.count("negative_cache_hits")
        raise copy.copy(error) from None

    def mandatory(self, state: KeyState) -> AccessToken:
        """No usable token in memory: wait for the locks, look everywhere, then mint."""
        levels = self._levels
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
                and self._schedule.usable(token, self._clock())
                and token.fingerprint not in state.rejected
            ):
                levels.count("l1_hits")
                levels.report(token)
                return token
            self._check_negative_cache(state)
            token = levels.read_lower(state, proactive=False)
            if token is not None:
                return token
            host_lock = (
                levels.host.acquire_lock(self._key, timeout=self._settings.lock_timeout)
                if levels.host is not None
                else None
            )
            try:
                if levels.host is not None:
                    # another process may have refreshed, or been refused, while we waited
                    token = levels.read_lower(state, proactive=False)
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

    def proactive(self, state: KeyState, current: AccessToken) -> AccessToken:
        """A usable token is due for refresh: refresh if nobody else is, else keep it."""
        levels = self._levels
        if not state.lock.acquire(blocking=False):
            return current  # another thread of this process is refreshing
        try:
            now = self._clock()
            token = state.token
            if token is not None and token is not current and self._schedule.fresh(token, now):
                levels.report(token)
                return token
            if now < state.retry_after:
                return current
            token = levels.read_lower(state, proactive=True)
            if token is not None:
                return token
            host_lock = None
            if levels.host is not None:
                host_lock = levels.host.acquire_lock(self._key, timeout=0)
                if host_lock is None:  # another process of this host is refreshing
                    state.retry_after = now + _LOSER_RECHECK
                    return current
            try:
                if host_lock is not None and host_lock.held:
                    token = levels.read_lower(state, proactive=True)
                    if token is not None:
                        return token
                try:
                    token = self._mint_and_store(state)
                except Exception as exc:
                    state.retry_after = self._clock() + PROACTIVE_BACKOFF
                    self._log.warning(
                        "Proactive refresh of the Firefly access token failed (%s); keeping "
                        "token %s, valid for %.0f more minutes; next attempt in %.0f s",
                        describe_error(exc),
                        current.fingerprint,
                        current.expires_in(self._clock()) / 60,
                        PROACTIVE_BACKOFF,
                    )
                    levels.report(current)
                    return current
                levels.count("proactive_refreshes")
                return token
            finally:
                if host_lock is not None:
                    host_lock.release()
        finally:
            state.lock.release()

    def _mint_claimed(self, state: KeyState) -> AccessToken:
        """Mint, but with a shared store only after winning its mint claim: hosts that miss the
        store together make one IMS request, the others take the winner's token."""
        shared = self._levels.shared
        if shared is None:
            return self._mint_and_store(state)
        claim = MintClaim(
            shared.store,
            self._key,
            clock=self._clock,
            logger=self._log,
            on_store_error=self._levels.store_error,
        )
        return claim.obtain(
            lambda: self._levels.read_shared(state, proactive=False),
            lambda: self._mint_and_store(state),
        )

    def _mint_and_store(self, state: KeyState) -> AccessToken:
        levels = self._levels
        started = self._clock()
        try:
            token = self._mint()
            check_minted_token(token, self._clock())
        except FireflyAuthError as exc:
            state.auth_error = exc
            state.auth_error_until = self._clock() + AUTH_ERROR_TTL
            levels.count("auth_failures")
            levels.remember_auth_error(exc, state.auth_error_until)
            self._log.warning(
                "IMS refused to issue a Firefly access token (%s); not asking again for %.0f s",
                describe_error(exc),
                AUTH_ERROR_TTL,
            )
            raise
        except Exception:
            levels.count("refresh_failures")
            raise
        levels.report(token)
        levels.count("mints")
        self._log.info(
            "Minted Firefly access token %s (valid %.1f h, IMS call took %.2f s)",
            token.fingerprint,
            token.expires_in(self._clock()) / 3600,
            max(self._clock() - started, 0.0),
        )
        levels.store_minted(state, token)
        return token
