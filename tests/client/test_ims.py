"""IMS over HTTP against the emulator: credential errors fail once and clearly, outages are
retried, unusable replies are refused, and the secret never shows."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_firefly.client import (
    FireflyAuthError,
    FireflyClient,
    FireflyCredentials,
    FireflyServerError,
    HttpSettings,
    TokenCacheSettings,
)
from airflow_provider_firefly.client.ims import mint_token, validate_token_reply
from airflow_provider_firefly.client.retry import RetryPolicy
from airflow_provider_firefly.client.transport import SyncTransport
from airflow_provider_firefly.testing import FireflyEmulator

pytestmark = pytest.mark.timeout(20)

IMS = "POST /ims/token/v3"
SECRET = "wrong-secret-Zq81xK2p"


def transport() -> SyncTransport:
    settings = HttpSettings(read_timeout=2.0, max_attempts=4)
    return SyncTransport(
        settings, user_agent="t", policy=RetryPolicy.from_settings(settings, backoff_base=0.01)
    )


def client_for(emu: FireflyEmulator, tmp_path: Path, **creds: Any) -> FireflyClient:
    values: dict[str, Any] = {
        "client_id": emu.client_id,
        "client_secret": emu.client_secret,
        "ims_url": emu.ims_url,
    }
    values.update(creds)
    return FireflyClient(
        FireflyCredentials(**values),
        HttpSettings(api_url=emu.api_url, max_attempts=3, max_retry_wait=0.05),
        TokenCacheSettings(cache_dir=tmp_path / "tok"),
    )


def ims_requests(emu: FireflyEmulator) -> int:
    # Not counters()["ims_token_requests"]: the emulator counts only the requests its IMS
    # handler answers, not scripted replies.
    return int(emu.counters()["requests_by_route"].get(IMS, 0))


def test_mint_token(firefly_emulator: FireflyEmulator) -> None:
    emu = firefly_emulator
    creds = FireflyCredentials(emu.client_id, emu.client_secret, ims_url=emu.ims_url)
    before = time.time()
    token = mint_token(creds, transport())
    assert token.value.count(".") == 2
    assert before + 86000 < token.expires_at < time.time() + 86400
    assert ims_requests(emu) == 1
    headers = emu.counters()["last_headers"][IMS]
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    assert "authorization" not in headers
    assert "x-api-key" not in headers


@pytest.mark.parametrize(
    ("creds", "hint"),
    [
        ({"client_secret": SECRET}, "client secret"),
        ({"client_id": "no-such-client"}, "does not know client id 'no-such-client'"),
        ({"client_secret": SECRET, "scopes": ("openid", "bogus_scope")}, "client secret"),
        ({"scopes": ("openid", "bogus_scope")}, "refused the scopes"),
    ],
)
def test_credential_errors_fail_once_and_clearly(
    firefly_emulator: FireflyEmulator, tmp_path: Path, creds: dict[str, Any], hint: str
) -> None:
    emu = firefly_emulator
    with client_for(emu, tmp_path, **creds) as client:
        with pytest.raises(FireflyAuthError) as info:
            client.generate_images({"prompt": "a"})
        # A second call does not hit IMS again (no retry storm).
        with pytest.raises(FireflyAuthError):
            client.get_access_token()
    error = info.value
    assert hint in str(error)
    assert "Developer Console" in str(error)
    assert error.status == 400
    assert error.error_code in ("invalid_client", "invalid_scope")
    for text in (str(error), repr(error), str(error.__dict__)):
        assert SECRET not in text
        assert emu.client_secret not in text
    assert error.__cause__ is None
    assert error.__suppress_context__
    assert ims_requests(emu) == 1
    assert emu.counters()["requests_by_route"] == {IMS: 1}


def test_ims_5xx_burst_recovers(firefly_emulator: FireflyEmulator, tmp_path: Path) -> None:
    emu = firefly_emulator
    emu.script(IMS, [{"status": 503}, {"status": 502, "body": "<html>bad gateway</html>"}])
    with client_for(emu, tmp_path) as client:
        assert client.generate_images({"prompt": "a"}).job_id
    assert ims_requests(emu) == 3
    assert emu.counters()["ims_tokens_issued"] == 1


def test_ims_outage_longer_than_budget(firefly_emulator: FireflyEmulator, tmp_path: Path) -> None:
    emu = firefly_emulator
    emu.script(IMS, [{"status": 500}] * 3)
    with client_for(emu, tmp_path) as client, pytest.raises(FireflyServerError):
        client.get_access_token()
    assert ims_requests(emu) == 3


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({"token_type": "bearer", "expires_in": 86399}, "without an access_token"),
        ({"access_token": "", "expires_in": 86399}, "without an access_token"),
        ({"access_token": "   ", "expires_in": 86399}, "without an access_token"),
        ({"access_token": 42, "expires_in": 86399}, "without an access_token"),
        ({"access_token": "a.b.c"}, "unusable expires_in"),
        ({"access_token": "a.b.c", "expires_in": "soon"}, "unusable expires_in"),
        ({"access_token": "a.b.c", "expires_in": -5}, "unusable expires_in"),
        ({"access_token": "a.b.c", "expires_in": 0}, "unusable expires_in"),
        ({"access_token": "a.b.c", "expires_in": 10**9}, "unusable expires_in"),
        ({"access_token": "a.b.c", "expires_in": True}, "unusable expires_in"),
        ({"access_token": "a.b.c", "expires_in": 60, "token_type": "mac"}, "unsupported type"),
        (["not", "an", "object"], "JSON object"),
        ("not json", "not JSON"),
    ],
)
def test_unusable_200_replies(
    firefly_emulator: FireflyEmulator, tmp_path: Path, body: Any, match: str
) -> None:
    emu = firefly_emulator
    emu.script(IMS, [{"status": 200, "body": body}])
    with client_for(emu, tmp_path) as client, pytest.raises(FireflyAuthError, match=match) as info:
        client.get_access_token()
    assert "a.b.c" not in str(info.value)
    assert ims_requests(emu) == 1
    assert emu.counters()["jobs_submitted"] == 0


def test_validate_token_reply_accepts_string_lifetime() -> None:
    token = validate_token_reply(
        {"access_token": "t.o.k", "expires_in": "3600", "token_type": "Bearer"}, requested_at=100.0
    )
    assert token.expires_at == 3700.0
    assert token.value == "t.o.k"
