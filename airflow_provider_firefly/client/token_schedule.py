"""When a token is refreshed: the proactive window, the hard margin and this process's jitter.

A token is used until ``expires_at - hard_margin``. Inside ``refresh_window`` before expiry each
process refreshes proactively from a random point of its own (:data:`JITTER_SHARE` of the window,
drawn per process by :mod:`.token_registry`), so workers do not refresh together.
"""

from __future__ import annotations

from typing import Final

from airflow_provider_firefly.client.access_token import AccessToken
from airflow_provider_firefly.client.config import TokenCacheSettings
from airflow_provider_firefly.client.token_registry import process_jitter

__all__ = ["JITTER_SHARE", "RefreshSchedule"]

JITTER_SHARE: Final = 0.25
"""Each process refreshes at a random point of the first quarter of the proactive window (with
the defaults: between 60 and about 46 minutes before expiry), leaving time to retry."""


class RefreshSchedule:
    """The refresh point and hard deadline of tokens under one set of cache settings."""

    def __init__(self, settings: TokenCacheSettings) -> None:
        self._settings = settings
        # (token, jitter, refresh_at, hard_deadline) of the last token seen: saves the arithmetic
        self._last: tuple[AccessToken | None, float, float, float] = (None, 0.0, 0.0, 0.0)

    def deadlines(self, token: AccessToken) -> tuple[float, float]:
        """(refresh_at, hard_deadline) of a token for this process.

        For tokens shorter-lived than the settings assume, the hard margin is capped at a quarter
        and the window at half of the lifetime, so a short token is not refreshed on every call.
        """
        jitter = process_jitter()
        cached = self._last
        if cached[0] is token and cached[1] == jitter:
            return cached[2], cached[3]
        settings = self._settings
        lifetime = max(token.expires_at - token.issued_at, 0.0)
        margin = min(settings.hard_margin, lifetime * 0.25)
        window = max(margin, min(settings.refresh_window, lifetime * 0.5))
        hard = token.expires_at - margin
        refresh_at = token.expires_at - window + jitter * JITTER_SHARE * (window - margin)
        self._last = (token, jitter, refresh_at, hard)
        return refresh_at, hard

    def usable(self, token: AccessToken, now: float) -> bool:
        """Whether ``token`` may still be handed out (before its hard deadline)."""
        return now < self.deadlines(token)[1]

    def fresh(self, token: AccessToken, now: float) -> bool:
        """Whether ``token`` needs no refresh yet (before its refresh point)."""
        return now < self.deadlines(token)[0]
