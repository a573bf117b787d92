"""The cluster-wide token level (L3): the store contract, and reading and writing through it.

Owns :class:`SharedTokenStore` (implemented with an Airflow Variable by the hook layer) and
:class:`SharedTokenLevel`, which keeps the store's rules in one place: it holds only the
ciphertext of :mod:`.token_sealing`, a store failure is a warning (never fatal), and an entry
that does not decrypt is ignored. Nothing here imports Airflow.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from airflow_provider_firefly.client.access_token import AccessToken
from airflow_provider_firefly.client.config import FireflyCredentials
from airflow_provider_firefly.client.token_sealing import (
    TokenCacheError,
    decrypt_token,
    encrypt_token,
)

__all__ = ["SharedTokenLevel", "SharedTokenStore"]


@runtime_checkable
class SharedTokenStore(Protocol):
    """A cluster-wide store of token ciphertexts (L3), e.g. an Airflow Variable.

    Values are the text produced by :func:`~.token_sealing.encrypt_token` (a Fernet token), never
    a raw token, except under mint-claim keys (``claim_<cache key>``,
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


class SharedTokenLevel:
    """One credential's token in a :class:`SharedTokenStore`; never raises on store failures.

    :param store: the store.
    :param credentials: whose token (their cache key is the store key).
    :param clock: epoch seconds, for the future-``issued_at`` check.
    :param logger: where warnings go.
    :param on_store_error: called with (action, exception) when the store fails.
    """

    def __init__(
        self,
        store: SharedTokenStore,
        credentials: FireflyCredentials,
        *,
        clock: Callable[[], float],
        logger: logging.Logger,
        on_store_error: Callable[[str, Exception], None],
    ) -> None:
        self.store = store
        self._credentials = credentials
        self._key = credentials.cache_key
        self._clock = clock
        self._log = logger
        self._on_store_error = on_store_error

    def read(self) -> AccessToken | None:
        """The stored token (possibly expired), or None when absent, unreadable or unusable."""
        try:
            stored = self.store.read(self._key)
        except Exception as exc:
            self._on_store_error("read", exc)
            return None
        if stored is None:
            return None
        try:
            return decrypt_token(self._credentials, stored, now=self._clock())
        except TokenCacheError as exc:
            self._log.warning("Ignoring the Firefly token in the shared store: %s", exc)
            return None

    def write(self, token: AccessToken) -> None:
        """Store ``token`` encrypted (last writer wins)."""
        try:
            self.store.write(self._key, encrypt_token(self._credentials, token))
        except Exception as exc:
            self._on_store_error("write", exc)

    def delete_if_same(self, fingerprint: str) -> None:
        """Remove the stored token only if it is still the one with this fingerprint."""
        stored = self.read()
        if stored is None or stored.fingerprint != fingerprint:
            return
        try:
            self.store.delete(self._key)
        except Exception as exc:
            self._on_store_error("delete", exc)
