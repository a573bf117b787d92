"""Typed errors: built from any response, raised by the client against the emulator, safe to
show and to pickle."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_firefly.client import (
    FireflyAccessError,
    FireflyAuthError,
    FireflyClient,
    FireflyConflictError,
    FireflyContentPolicyError,
    FireflyCredentials,
    FireflyError,
    FireflyNotFoundError,
    FireflyRateLimitError,
    FireflyRequestError,
    FireflyServerError,
    FireflyValidationError,
    HttpSettings,
    TokenCacheSettings,
)
from airflow_provider_firefly.client.errors import (
    error_from_response,
    parse_error_body,
    parse_retry_after,
)
from airflow_provider_firefly.testing import FireflyEmulator

pytestmark = pytest.mark.timeout(20)

GENERATE = "POST /v3/images/generate-async"
ACCESS_ERRORS = ["quota_exhausted", "user_non_entitled", "user_profile_denied", "invalid_ims_scope"]


# -- parsers and the mapping --------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (None, {}),
        (b"", {}),
        (b"   ", {}),
        (b"<html><body>502 Bad Gateway</body></html>", {}),
        (b"upstream connect error", {"message": "upstream connect error"}),
        (
            b'{"error_code":"401013","message":"Oauth token is not valid"}',
            {"error_code": "401013", "message": "Oauth token is not valid"},
        ),
        (
            b'{"error":"invalid_client","error_description":"invalid client_secret parameter"}',
            {"error_code": "invalid_client", "message": "invalid client_secret parameter"},
        ),
        (
            b'{"reason":"invalid_parameter","message":"bad sortBy"}',
            {"error_code": "invalid_parameter", "message": "bad sortBy"},
        ),
        (b'{"error_code": 10007}', {"error_code": "10007"}),
        (b'{"error_code": true, "message": 3}', {}),
        (b"[1, 2]", {}),
        (b'{"message": "trunc', {"message": '{"message": "trunc'}),
        (b"[" * 100_000, {"message": "[" * 497 + "..."}),
        (b"\xff\xfe\x00garbage", {"message": "\ufffd\ufffd\x00garbage"}),
    ],
)
def test_parse_error_body(body: bytes | None, expected: dict[str, Any]) -> None:
    assert parse_error_body(body) == expected


def test_parse_error_body_validation_errors() -> None:
    body = (
        b'{"error_code":"validation_error","validation_errors":[{"ctx":{},"loc":["body",'
        b'"contentClass"],"msg":"bad enum","type":"type_error.enum"},"junk",{"loc":"nope"}]}'
    )
    parsed = parse_error_body(body)
    assert parsed["validation_errors"] == [
        {"loc": ["body", "contentClass"], "msg": "bad enum", "type": "type_error.enum"},
        {"loc": [], "msg": "", "type": ""},
    ]


@pytest.mark.parametrize(
    ("value", "low", "high"),
    [
        ("1", 1, 1),
        (" 2.5 ", 2.5, 2.5),
        ("0", 0, 0),
        ("-5", 0, 0),
        ("99999999", 86400, 86400),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0, 0),
    ],
)
def test_parse_retry_after(value: str, low: float, high: float) -> None:
    result = parse_retry_after(value)
    assert result is not None
    assert low <= result <= high


def test_parse_retry_after_http_date_relative_to_now() -> None:
    now = 1_445_412_480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 +0000", now=now) == 30.0


@pytest.mark.parametrize("value", [None, "", "soon", "nan", "inf", "-inf", "x" * 100, "Wed, 99"])
def test_parse_retry_after_unreadable(value: str | None) -> None:
    assert parse_retry_after(value) is None


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, FireflyRequestError),
        (401, FireflyAuthError),
        (403, FireflyAccessError),
        (404, FireflyNotFoundError),
        (409, FireflyConflictError),
        (410, FireflyConflictError),
        (413, FireflyRequestError),
        (415, FireflyRequestError),
        (422, FireflyValidationError),
        (429, FireflyRateLimitError),
        (451, FireflyContentPolicyError),
        (408, FireflyServerError),
        (500, FireflyServerError),
        (503, FireflyServerError),
    ],
)
def test_error_from_response_types(status: int, error_type: type[FireflyError]) -> None:
    body = b'{"error_code":"validation_error","message":"m"}' if status == 422 else b""
    error = error_from_response(status, {"X-Request-Id": "rid-9"}, body, subject="POST /v3/x")
    assert type(error) is error_type
    assert error.status == status
    assert error.request_id == "rid-9"
    assert str(error).startswith("POST /v3/x")
    assert f"HTTP {status}" in str(error)
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is error_type
    assert str(clone) == str(error)


def test_413_html_gets_a_hint() -> None:
    error = error_from_response(413, {}, b"<html><title>413</title></html>", subject="POST /v2/x")
    assert "15 MB" in str(error)


# -- against the emulator -----------------------------------------------------------------


@pytest.fixture
def emu(firefly_emulator: FireflyEmulator) -> FireflyEmulator:
    firefly_emulator.configure(job_duration=0)
    return firefly_emulator


def make_client(emu: FireflyEmulator, tmp_path: Path, **creds: Any) -> FireflyClient:
    credentials = FireflyCredentials(emu.client_id, emu.client_secret, ims_url=emu.ims_url, **creds)
    return FireflyClient(
        credentials,
        HttpSettings(api_url=emu.api_url, read_timeout=2.0, max_attempts=2, max_retry_wait=0.05),
        TokenCacheSettings(cache_dir=tmp_path / "tok"),
    )


def check_safe(error: FireflyError, client: FireflyClient) -> None:
    token = client.get_access_token()
    for text in (str(error), repr(error), str(error.__dict__)):
        assert token not in text
        assert client.credentials.client_secret not in text


@pytest.mark.parametrize("access_error", ACCESS_ERRORS)
def test_403_access_errors(emu: FireflyEmulator, tmp_path: Path, access_error: str) -> None:
    emu.script(
        GENERATE,
        [
            {
                "status": 403,
                "headers": {"x-access-error": access_error, "x-request-id": "rid-403"},
                "body": {"error_code": "access_error", "message": "Access denied"},
            }
        ],
    )
    with make_client(emu, tmp_path) as client:
        with pytest.raises(FireflyAccessError) as info:
            client.generate_images({"prompt": "a"})
        check_safe(info.value, client)
    assert info.value.access_error == access_error
    assert info.value.error_code == "access_error"
    assert info.value.request_id == "rid-403"
    assert access_error in str(info.value)
    assert emu.counters()["requests_by_route"][GENERATE] == 1  # no retry, no refresh


def test_403_real_missing_scope(emu: FireflyEmulator, tmp_path: Path) -> None:
    with (
        make_client(emu, tmp_path, scopes=("openid", "AdobeID")) as client,
        pytest.raises(FireflyAccessError) as info,
    ):
        client.generate_images({"prompt": "a"})
    assert info.value.access_error == "invalid_ims_scope"
    assert info.value.status == 403


def test_422_validation_error_fields(emu: FireflyEmulator, tmp_path: Path) -> None:
    with make_client(emu, tmp_path) as client:
        with pytest.raises(FireflyValidationError) as info:
            client.generate_images({"prompt": "a", "numVariations": 99, "contentClass": "x"})
        check_safe(info.value, client)
    error = info.value
    assert error.status == 422
    assert error.error_code == "validation_error"
    assert error.request_id
    assert error.errors
    assert all({"loc", "msg", "type"} <= set(e) for e in error.errors)
    assert "body.numVariations" in error.fields or "body.contentClass" in error.fields
    assert "was rejected" in str(error)
    assert emu.counters()["jobs_submitted"] == 0


def test_local_validation_before_any_request(emu: FireflyEmulator, tmp_path: Path) -> None:
    with make_client(emu, tmp_path) as client:
        with pytest.raises(FireflyValidationError) as info:
            client.generate_images({})
        assert info.value.fields == ["body"]
    assert emu.counters()["requests_by_route"] == {}


def test_451_content_policy(emu: FireflyEmulator, tmp_path: Path) -> None:
    emu.configure(blocked_words=("forbidden",))
    with make_client(emu, tmp_path) as client:
        with pytest.raises(FireflyContentPolicyError) as info:
            client.generate_images({"prompt": "something forbidden"})
        check_safe(info.value, client)
    assert info.value.status == 451
    assert info.value.error_code == "prompt_unsafe"
    assert info.value.request_id
    assert emu.counters()["requests_by_route"][GENERATE] == 1


def test_451_at_poll(emu: FireflyEmulator, tmp_path: Path) -> None:
    emu.configure(blocked_words=("forbidden",), content_policy_stage="poll-451")
    with make_client(emu, tmp_path) as client:
        handle = client.generate_images({"prompt": "something forbidden"})
        with pytest.raises(FireflyContentPolicyError):
            client.get_status(handle)


def test_gateway_403_bad_api_key(emu: FireflyEmulator, tmp_path: Path) -> None:
    with make_client(emu, tmp_path) as client:
        client.transport.session.headers["x-api-key"] = "x"  # ignored: ours wins
        assert client.generate_images({"prompt": "a"}).job_id
    emu.script(
        GENERATE,
        [{"status": 403, "body": {"error_code": "403003", "message": "Api Key is invalid"}}],
    )
    with make_client(emu, tmp_path) as client, pytest.raises(FireflyAccessError) as info:
        client.generate_images({"prompt": "a"})
    assert info.value.error_code == "403003"
    assert info.value.access_error is None
