"""The encrypted form of a cached token: what the host cache and the shared store both hold.

The token is never stored in plain text. Both levels hold the same ciphertext: a Fernet token
(text-safe, URL-safe base64) of a small JSON document, under a key derived from the client secret
with HKDF-SHA256, the credential's cache key as salt. So a cache entry

* is useless to anyone who does not hold the client secret (no Airflow fernet key needed);
* cannot be moved to another credential (the salt differs, and the payload names its key);
* misses by itself once the secret is rotated (new cache key, new file, new encryption key).

This module owns that format: the key derivation, sealing and unsealing a JSON payload, and the
token payload (:func:`encrypt_token`, :func:`decrypt_token`). Where the ciphertext is kept is the
business of :mod:`.token_cache` (host files) and :mod:`.shared_store` (cluster-wide).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from typing import Final

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from airflow_provider_firefly.client.access_token import (
    MAX_CLOCK_SKEW,
    MAX_TOKEN_LIFETIME,
    AccessToken,
    finite_number,
    issued_in_the_future,
)
from airflow_provider_firefly.client.config import FireflyCredentials

__all__ = [
    "CACHE_FORMAT_VERSION",
    "MAX_CIPHERTEXT",
    "TokenCacheError",
    "decrypt_token",
    "derive_cache_fernet_key",
    "encrypt_token",
    "number_field",
    "seal",
    "unseal",
]

CACHE_FORMAT_VERSION: Final = 1
"""Version of the JSON payload inside the ciphertext."""

MAX_CIPHERTEXT: Final = 64 * 1024
"""Larger entries are refused unread: no real entry comes near it."""

_HKDF_INFO = b"airflow-provider-firefly token cache v1"


class TokenCacheError(ValueError):
    """A cache entry cannot be used; the message says why and never contains the token."""


def derive_cache_fernet_key(credentials: FireflyCredentials) -> bytes:
    """The Fernet key that encrypts this credential's cache entries.

    HKDF-SHA256 over the client secret, salted with the credential's cache key: only a holder of
    the secret can derive it, and every credential (IMS, client id, scopes, secret) gets its own.
    """
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=credentials.cache_key.encode("ascii"),
        info=_HKDF_INFO,
    )
    return base64.urlsafe_b64encode(hkdf.derive(credentials.client_secret.encode("utf-8")))


def seal(credentials: FireflyCredentials, payload: Mapping[str, object]) -> str:
    """Encrypt ``payload`` for this credential, stamped with the format version and cache key."""
    body = {"v": CACHE_FORMAT_VERSION, "key": credentials.cache_key, **payload}
    plaintext = json.dumps(body, separators=(",", ":")).encode("utf-8")
    return Fernet(derive_cache_fernet_key(credentials)).encrypt(plaintext).decode("ascii")


def unseal(credentials: FireflyCredentials, ciphertext: str | bytes) -> dict[str, object]:
    """The payload :func:`seal` encrypted for this credential.

    :raises TokenCacheError: not a ciphertext, too large, undecryptable with these credentials,
        not a JSON object, another format version, or another credential's entry.
    """
    if isinstance(ciphertext, str):
        try:
            data = ciphertext.strip().encode("ascii")
        except UnicodeEncodeError:
            raise TokenCacheError("not a ciphertext (non-ASCII text)") from None
    elif isinstance(ciphertext, (bytes, bytearray)):
        data = bytes(ciphertext).strip()
    else:
        raise TokenCacheError(f"not a ciphertext ({type(ciphertext).__name__})")
    if not data:
        raise TokenCacheError("empty")
    if len(data) > MAX_CIPHERTEXT:
        raise TokenCacheError(f"too large ({len(data)} bytes)")
    try:
        plaintext = Fernet(derive_cache_fernet_key(credentials)).decrypt(data)
    except (InvalidToken, ValueError, TypeError):
        raise TokenCacheError(
            "cannot be decrypted with these credentials (written with another secret, "
            "truncated or corrupt)"
        ) from None
    try:
        payload = json.loads(plaintext)
    except ValueError:
        raise TokenCacheError("decrypted content is not valid JSON") from None
    if not isinstance(payload, dict):
        raise TokenCacheError("decrypted content is not a JSON object")
    if payload.get("v") != CACHE_FORMAT_VERSION:
        raise TokenCacheError(f"unknown format version {payload.get('v')!r}")
    if payload.get("key") != credentials.cache_key:
        raise TokenCacheError("entry belongs to another credential")
    return payload


def number_field(payload: Mapping[str, object], name: str) -> float:
    """A finite number field of an unsealed payload.

    :raises TokenCacheError: the field is missing or not a finite number.
    """
    number = finite_number(payload.get(name))
    if number is None:
        raise TokenCacheError(f"field {name!r} is missing or not a number")
    return number


def encrypt_token(
    credentials: FireflyCredentials, token: AccessToken, *, now: float | None = None
) -> str:
    """The ciphertext stored in the host file and in the shared store (a Fernet token string).

    The plaintext is JSON ``{"v", "key", "access_token", "token_type", "expires_at",
    "issued_at", "written_at"}``.
    """
    return seal(
        credentials,
        {
            "access_token": token.value,
            "token_type": "bearer",
            "expires_at": token.expires_at,
            "issued_at": token.issued_at,
            "written_at": time.time() if now is None else now,
        },
    )


def decrypt_token(
    credentials: FireflyCredentials, ciphertext: str | bytes, *, now: float | None = None
) -> AccessToken:
    """Decrypt and check a cache entry written by :func:`encrypt_token`.

    :raises TokenCacheError: the entry is too large, corrupt, truncated, encrypted with other
        credentials, not a token of this credential, or issued in the future beyond
        :data:`MAX_CLOCK_SKEW`. An *expired* token is returned: the caller decides.
    """
    payload = unseal(credentials, ciphertext)
    value = payload.get("access_token")
    if not isinstance(value, str) or not value:
        raise TokenCacheError("field 'access_token' is missing or empty")
    expires_at = number_field(payload, "expires_at")
    issued_at = number_field(payload, "issued_at")
    if expires_at <= issued_at or expires_at - issued_at > MAX_TOKEN_LIFETIME:
        raise TokenCacheError("expiry is not after issue or too far from it")
    current = time.time() if now is None else now
    if issued_in_the_future(issued_at, current):
        raise TokenCacheError(
            f"issued {issued_at - current:.0f} s in the future (the writer's clock is ahead "
            f"by more than {MAX_CLOCK_SKEW:.0f} s)"
        )
    return AccessToken(value=value, expires_at=expires_at, issued_at=issued_at)
