"""The levels below memory (host files, shared store) and what the manager tells the outside.

:class:`TokenLevels` reads a usable token from the host cache (L2) or the shared store (L3),
filling the levels above on a hit; stores a minted token in every level; drops an invalidated
token only where it is still the stored one; and keeps the manager's counters and its
``on_token`` report (e.g. Airflow's ``mask_secret``). Nothing here logs a token: only
fingerprints.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Final

from airflow_provider_firefly.client.access_token import AccessToken
from airflow_provider_firefly.client.config import FireflyCredentials, TokenCacheSettings
from airflow_provider_firefly.client.errors import FireflyAuthError
from airflow_provider_firefly.client.shared_store import SharedTokenLevel, SharedTokenStore
from airflow_provider_firefly.client.token_cache import HostTokenCache, RememberedError
from airflow_provider_firefly.client.token_registry import KeyState
from airflow_provider_firefly.client.token_schedule import RefreshSchedule

__all__ = ["STAT_NAMES", "TokenLevels", "describe_error"]

STAT_NAMES: Final = (
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
"""The counters of :attr:`TokenLevels.stats`."""


def describe_error(exc: BaseException) -> str:
    """``Type: message`` of an error for a log line (just the type when it has no message)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class TokenLevels:
    """L2 and L3 of one credential, with the counters and the ``on_token`` report.

    :param credentials: whose tokens.
    :param settings: whether there is a host cache, and where.
    :param schedule: decides whether a cached token will do.
    :param shared_store: the cluster-wide level (L3), when wanted.
    :param on_token: called with every token value handed out (once per token).
    :param logger: where to log.
    :param clock: epoch seconds.
    """

    def __init__(
        self,
        credentials: FireflyCredentials,
        settings: TokenCacheSettings,
        schedule: RefreshSchedule,
        *,
        shared_store: SharedTokenStore | None,
        on_token: Callable[[str], None] | None,
        logger: logging.Logger,
        clock: Callable[[], float],
    ) -> None:
        self._credentials = credentials
        self._key = credentials.cache_key
        self._schedule = schedule
        self._on_token = on_token
        self._log = logger
        self._clock = clock
        self.host: HostTokenCache | None = (
            HostTokenCache(settings.resolved_cache_dir, logger=logger, clock=clock)
            if settings.host_cache
            else None
        )
        self.shared: SharedTokenLevel | None = (
            SharedTokenLevel(
                shared_store,
                credentials,
                clock=clock,
                logger=logger,
                on_store_error=self.store_error,
            )
            if shared_store is not None
            else None
        )
        self._stats_lock = threading.Lock()
        self._stats: dict[str, int] = dict.fromkeys(STAT_NAMES, 0)
        self._reported: AccessToken | None = None

    # -- bookkeeping -----------------------------------------------------------------------

    @property
    def stats(self) -> dict[str, int]:
        """A copy of the counters."""
        with self._stats_lock:
            return dict(self._stats)

    def count(self, name: str) -> None:
        """Add one to a counter of :data:`STAT_NAMES`."""
        with self._stats_lock:
            self._stats[name] += 1

    def report(self, token: AccessToken) -> None:
        """Tell ``on_token`` about a token handed out (once per token; its failure is logged)."""
        if self._on_token is None or token is self._reported:
            return
        try:
            self._on_token(token.value)
        except Exception as exc:
            self._log.warning("on_token callback failed: %s", type(exc).__name__)
            return
        self._reported = token

    def install(self, state: KeyState, token: AccessToken) -> None:
        """Make ``token`` the process's token (L1) after a hit below or a mint."""
        self.report(token)
        state.token = token
        state.retry_after = 0.0
        state.auth_error = None

    def store_error(self, action: str, exc: Exception) -> None:
        """Count and log a failure of the shared store; never fatal."""
        self.count("store_errors")
        self._log.warning(
            "Firefly shared token store %s failed (%s); going on without it",
            action,
            describe_error(exc),
        )

    # -- reading ---------------------------------------------------------------------------

    def _acceptable(self, state: KeyState, token: AccessToken, proactive: bool) -> bool:
        now = self._clock()
        if token.fingerprint in state.rejected:
            return False
        schedule = self._schedule
        return schedule.fresh(token, now) if proactive else schedule.usable(token, now)

    def read_lower(self, state: KeyState, *, proactive: bool) -> AccessToken | None:
        """A token from L2 or L3 that will do (fresh when refreshing proactively), filling the
        levels above."""
        if self.host is not None:
            token = self.host.read(self._credentials)
            if token is not None and self._acceptable(state, token, proactive):
                self.count("l2_hits")
                self._log.debug(
                    "Firefly access token %s read from the host cache", token.fingerprint
                )
                self.install(state, token)
                return token
        if self.shared is not None:
            return self.read_shared(state, proactive=proactive)
        return None

    def read_shared(self, state: KeyState, *, proactive: bool) -> AccessToken | None:
        """A token from L3 that will do, filling the levels above."""
        if self.shared is None:
            return None
        token = self.shared.read()
        if token is None or not self._acceptable(state, token, proactive):
            return None
        self.count("l3_hits")
        self._log.debug("Firefly access token %s read from the shared store", token.fingerprint)
        if self.host is not None:
            self.host.write(self._credentials, token)
        self.install(state, token)
        return token

    # -- writing ---------------------------------------------------------------------------

    def store_minted(self, state: KeyState, token: AccessToken) -> None:
        """Store a freshly minted token in L3, L2, then L1; a host's remembered error goes."""
        if self.shared is not None:
            self.shared.write(token)
        if self.host is not None:
            self.host.write(self._credentials, token)
            self.host.clear_error(self._key)
        self.install(state, token)

    def remember_auth_error(self, error: FireflyAuthError, until: float) -> None:
        """Share a credential error with the other processes of the host until ``until``."""
        if self.host is None:
            return
        self.host.write_error(
            self._credentials,
            RememberedError(
                message=error.message,
                until=until,
                status=error.status,
                error_code=error.error_code,
                request_id=error.request_id,
            ),
        )

    def remembered_auth_error(self) -> RememberedError | None:
        """The credential error another process of this host got from IMS, if it still holds."""
        if self.host is None:
            return None
        return self.host.read_error(self._credentials)

    def forget(self, fingerprint: str, *, lock_timeout: float) -> None:
        """Drop the token with this fingerprint from L2 and L3 where it is still the stored one."""
        if self.host is not None:
            lock = self.host.acquire_lock(self._key, timeout=lock_timeout)
            if lock is not None:
                with lock:
                    self.host.delete_if_same(self._credentials, fingerprint)
        if self.shared is not None:
            self.shared.delete_if_same(fingerprint)
