"""The encrypted cache entry (token_sealing): key derivation, round trip and refusals."""

from __future__ import annotations

import time

import pytest
from cryptography.fernet import Fernet

from airflow_provider_firefly.client.access_token import AccessToken
from airflow_provider_firefly.client.config import FireflyCredentials
from airflow_provider_firefly.client.token_sealing import (
    TokenCacheError,
    decrypt_token,
    derive_cache_fernet_key,
    encrypt_token,
)

pytestmark = pytest.mark.timeout(30)

DAY = 86399.0


def _token(now: float, value: str = "eyJ.cached-token-SECRETPART", lifetime: float = DAY):
    return AccessToken(value=value, expires_at=now + lifetime, issued_at=now)


def test_key_derivation_depends_on_secret_and_credential(credentials):
    key = derive_cache_fernet_key(credentials)
    assert key == derive_cache_fernet_key(
        FireflyCredentials(credentials.client_id, credentials.client_secret)
    )
    Fernet(key)  # a valid Fernet key
    other_secret = FireflyCredentials(credentials.client_id, "another-secret")
    other_scopes = FireflyCredentials(
        credentials.client_id, credentials.client_secret, scopes=("firefly_api",)
    )
    assert {key, derive_cache_fernet_key(other_secret), derive_cache_fernet_key(other_scopes)}
    assert key != derive_cache_fernet_key(other_secret)
    assert key != derive_cache_fernet_key(other_scopes)
    assert credentials.client_secret.encode() not in key


def test_ciphertext_round_trip_and_refusals(credentials):
    token = _token(time.time())
    ciphertext = encrypt_token(credentials, token)
    assert isinstance(ciphertext, str)
    ciphertext.encode("ascii")
    assert "SECRETPART" not in ciphertext
    assert "access_token" not in ciphertext
    assert decrypt_token(credentials, ciphertext) == token
    assert decrypt_token(credentials, ciphertext.encode()) == token
    rotated = FireflyCredentials(credentials.client_id, "rotated-secret")
    with pytest.raises(TokenCacheError, match="cannot be decrypted"):
        decrypt_token(rotated, ciphertext)
    with pytest.raises(TokenCacheError, match="cannot be decrypted"):
        decrypt_token(credentials, ciphertext[:-10])
    with pytest.raises(TokenCacheError, match="empty"):
        decrypt_token(credentials, "")
    with pytest.raises(TokenCacheError, match="too large"):
        decrypt_token(credentials, "A" * 100_000)
