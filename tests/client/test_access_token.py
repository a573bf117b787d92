"""The token record and the limits every token keeps, wherever it comes from (access_token)."""

from __future__ import annotations

import math

import pytest

from airflow_provider_firefly.client import MAX_TOKEN_LIFETIME as EXPORTED_LIFETIME
from airflow_provider_firefly.client.access_token import (
    MAX_TOKEN_LIFETIME,
    AccessToken,
    finite_number,
)
from airflow_provider_firefly.client.config import FireflyCredentials
from airflow_provider_firefly.client.errors import FireflyAuthError
from airflow_provider_firefly.client.ims import validate_token_reply
from airflow_provider_firefly.client.token_sealing import (
    TokenCacheError,
    decrypt_token,
    encrypt_token,
)

pytestmark = pytest.mark.timeout(30)


def test_access_token_repr_hides_the_value() -> None:
    token = AccessToken(value="eyJhbGciOiJSUzI1NiJ9.secret-part", expires_at=2e9, issued_at=1.9e9)
    for text in (repr(token), str(token), f"{token}", repr([token])):
        assert "secret-part" not in text
        assert token.fingerprint in text
        assert "2033-05-18T03:33:20Z" in text
    assert len(token.fingerprint) == 12
    assert token.fingerprint == AccessToken("eyJhbGciOiJSUzI1NiJ9.secret-part", 0, 0).fingerprint
    assert token.expires_in(now=2e9 - 10) == 10


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, 3.0),
        (2.5, 2.5),
        (-1, -1.0),
        (True, None),
        ("3", None),
        (None, None),
        (math.nan, None),
        (math.inf, None),
        (10**400, None),  # JSON allows it; float() overflows
    ],
)
def test_finite_number(value, expected) -> None:
    assert finite_number(value) == expected


def test_one_lifetime_limit_for_ims_replies_and_cache_entries() -> None:
    assert EXPORTED_LIFETIME is MAX_TOKEN_LIFETIME
    assert MAX_TOKEN_LIFETIME == 48 * 3600
    now = 1.9e9
    longest = validate_token_reply(
        {"access_token": "a.b.c", "expires_in": MAX_TOKEN_LIFETIME}, requested_at=now
    )
    assert longest.expires_at == now + MAX_TOKEN_LIFETIME
    with pytest.raises(FireflyAuthError, match=r"expected seconds between 1 and 172800$"):
        validate_token_reply(
            {"access_token": "a.b.c", "expires_in": MAX_TOKEN_LIFETIME + 1}, requested_at=now
        )
    credentials = FireflyCredentials("client", "secret-value")
    assert decrypt_token(credentials, encrypt_token(credentials, longest), now=now) == longest
    too_long = AccessToken("a.b.c", expires_at=now + MAX_TOKEN_LIFETIME + 1, issued_at=now)
    with pytest.raises(TokenCacheError, match="too far"):
        decrypt_token(credentials, encrypt_token(credentials, too_long), now=now)
