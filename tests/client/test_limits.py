"""The bounds of :mod:`.limits`, job-id checks, clipped server texts and endpoint rules, with no
server: every value here is what a hostile reply or a careless connection editor could send."""

from __future__ import annotations

import logging
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_firefly.client.config import (
    FireflyCredentials,
    HttpSettings,
    check_endpoint,
    is_loopback_host,
)
from airflow_provider_firefly.client.errors import (
    FireflyConfigError,
    FireflyDownloadRefusedError,
    FireflyError,
    FireflyRateLimitError,
    FireflyTimeoutError,
    clip_server_text,
    error_from_response,
)
from airflow_provider_firefly.client.jobs import (
    check_job_id,
    is_safe_job_id,
    parse_job_status,
    parse_submit_response,
)
from airflow_provider_firefly.client.limits import (
    MAX_JSON_DEPTH,
    SPACING_MARGIN,
    BoundedBody,
    Deadline,
    decode_json,
    request_spacing,
    upload_too_large_message,
)
from airflow_provider_firefly.client.polling import PollPolicy

API = "https://firefly-api.adobe.io"


@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH + 1, 5_000, 1_000_000])
def test_too_deep_json_is_a_firefly_error(levels: int) -> None:
    for doc in (b"[" * levels + b"]" * levels, b'{"a":' * levels + b"1" + b"}" * levels):
        with pytest.raises(FireflyError, match="nested deeper"):
            decode_json(doc, subject="x")


def test_json_at_the_depth_limit_and_odd_bodies() -> None:
    levels = MAX_JSON_DEPTH
    assert decode_json(b"[" * levels + b"]" * levels, subject="x") is not None
    assert decode_json(b"", subject="x") is None
    with pytest.raises(FireflyError, match="not JSON") as caught:
        decode_json(b"<html>", subject="GET /v3/status", status=502, request_id="r1")
    assert caught.value.status == 502
    assert caught.value.request_id == "r1"


def test_bounded_body_refuses_or_truncates() -> None:
    deadline = Deadline(None, "x")
    body = BoundedBody(10, deadline, "GET /x")
    assert body.add(b"12345")
    with pytest.raises(FireflyError, match="larger than 10 bytes"):
        body.add(b"678901")
    cut = BoundedBody(10, deadline, "GET /x", truncate=True)
    assert cut.add(b"12345")
    assert not cut.add(b"6789012345")
    assert cut.content() == b"1234567890"


def test_deadline() -> None:
    deadline = Deadline(0.05, "GET /v3/status")
    deadline.check()
    time.sleep(0.06)
    assert deadline.remaining() == 0
    with pytest.raises(FireflyTimeoutError, match="request_deadline"):
        deadline.check()
    assert Deadline(None, "x").remaining() is None


def test_one_rate_rule() -> None:
    assert request_spacing(None) == 0
    assert request_spacing(60) == pytest.approx(1 + SPACING_MARGIN)
    for bad in (0, -1, float("nan"), float("inf"), True):
        with pytest.raises(ValueError, match="requests_per_minute"):
            request_spacing(bad)
    policy = PollPolicy(first_delay=0, min_interval=0.1, max_interval=1, requests_per_minute=30)
    assert all(policy.interval(n, 0) >= 2.0 for n in range(30))
    assert PollPolicy(first_delay=0).interval(0, 0) == 0  # no budget: no floor


def test_upload_message_says_mb() -> None:
    text = upload_too_large_message(15_000_001)
    assert "15.0 MB" in text
    assert "15 MB" in text
    assert "MiB" not in text


@pytest.mark.parametrize(
    "value",
    [
        "urn:ff:jobs:emu851211:7d98e007-d9c2-4420-a473-4eb405213cca",
        "7d98e007-d9c2-4420-a473-4eb405213cca",
        "a",
        "job_1.v2",
    ],
)
def test_safe_job_ids(value: str) -> None:
    assert check_job_id(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "..",
        "a/../b",
        "/tmp/x",
        "a\\b",
        "urn:ff:jobs:../../x",
        "a\x00b",
        "a\nb",
        ".hidden",
        "x" * 257,
        "é",
        42,
        None,
    ],
)
def test_unsafe_job_ids(value: object) -> None:
    assert not is_safe_job_id(value)
    with pytest.raises(FireflyError, match="invalid job id"):
        check_job_id(value)


@given(st.text(max_size=300))
def test_job_id_check_never_lets_a_path_through(value: str) -> None:
    if is_safe_job_id(value):
        assert "/" not in value
        assert "\\" not in value
        assert ".." not in value
        assert value.isprintable()
        assert not value.startswith(".")


def test_submit_reply_shapes() -> None:
    handle = parse_submit_response({"jobId": "urn:ff:jobs:1"}, subject="x", api_url=API)
    assert handle.status_url == f"{API}/v3/status/urn:ff:jobs:1"
    assert handle.cancel_url == f"{API}/v3/cancel/urn:ff:jobs:1"
    with pytest.raises(FireflyError, match="without a status URL or a job id"):
        parse_submit_response({"jobId": "urn:ff:jobs:1"}, subject="x")
    with pytest.raises(FireflyError, match="invalid job id"):
        parse_submit_response({"statusUrl": f"{API}/v3/status/%2E%2E%2Fx"}, subject="x")
    links = {"links": {"result": {"href": f"{API}/v3/status/abc-1"}}}
    assert parse_submit_response(links, subject="x").job_id == "abc-1"


def test_status_reply_fields_are_clipped_and_unsafe_ids_ignored() -> None:
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    status = parse_job_status(
        {
            "jobId": "../x",
            "status": "failed",
            "error_code": jwt + "\x1b[31m" + "c" * 500,
            "message": f"Bearer {jwt} " + "m" * 2000,
        },
        job_id="urn:ff:jobs:1",
    )
    assert status.job_id == "urn:ff:jobs:1"
    assert jwt not in (status.error_code or "") + (status.message or "")
    assert len(status.error_code or "") <= 120
    assert "\x1b" not in (status.error_code or "")
    assert len(status.message or "") <= 500


def test_server_codes_and_ids_are_clipped_and_redacted() -> None:
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    error = error_from_response(
        429,
        {"x-request-id": "r\n" + jwt, "x-access-rate-limit-level": "org" * 100},
        b'{"error_code": "' + jwt.encode() + b'", "message": "slow"}',
        subject="GET /v3/status",
    )
    assert isinstance(error, FireflyRateLimitError)
    shown = str(error) + repr(error)
    assert jwt not in shown
    assert "\n" not in (error.request_id or "")
    assert len(error.limit_level or "") <= 120
    assert clip_server_text(None) is None
    assert clip_server_text("a" * 50, 10) == "aaaaaaa..."


def test_download_refusal_names_output_and_job() -> None:
    error = FireflyDownloadRefusedError("too big", output="h/outputs/1", job_id="urn:ff:jobs:9")
    assert "h/outputs/1" in str(error)
    assert "urn:ff:jobs:9" in str(error)
    assert error.reason == "too big"
    plain = FireflyDownloadRefusedError("too big", output="h/outputs/1")
    assert "job" not in str(plain)


@pytest.mark.parametrize(
    "host",
    ["localhost", "127.0.0.1", "127.8.9.10", "::1", "[::1]", "LOCALHOST."],
)
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize("host", ["", None, "10.0.0.1", "localhost.example", "0.0.0.0", "::"])
def test_not_loopback_hosts(host: str | None) -> None:
    assert not is_loopback_host(host)


@pytest.mark.parametrize(
    "url",
    [
        "https://ims-na1.adobelogin.com",
        "https://ims-na1-stg1.adobelogin.com",
        "https://firefly-api.adobe.io",
        "https://firefly-epo854211.adobe.io",
        "http://127.0.0.1:8080",
        "https://localhost:8443",
    ],
)
def test_adobe_and_loopback_endpoints_pass(url: str) -> None:
    check_endpoint(url, field_name="api_url", allow_custom=False)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example",
        "https://adobe.io.evil.example",
        "https://evil-adobe.io",
        "https://adobelogin.com.evil.example",
        "https://10.0.0.5",
    ],
)
def test_other_endpoints_need_the_extra(url: str, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(FireflyConfigError, match="allow_custom_endpoints") as caught:
        HttpSettings(api_url=url)
    assert caught.value.field == "api_url"
    with pytest.raises(FireflyConfigError, match="ims_url"):
        FireflyCredentials("id", "secret", ims_url=url)
    with caplog.at_level(logging.WARNING, logger="airflow_provider_firefly.client"):
        HttpSettings(api_url=url, allow_custom_endpoints=True)
        FireflyCredentials("id", "secret", ims_url=url, allow_custom_endpoints=True)
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 2
    assert all("allow_custom_endpoints" in m for m in warned)


def test_new_http_settings_are_validated() -> None:
    for bad in (0, -1, float("nan"), 10**6):
        with pytest.raises(FireflyConfigError, match="request_deadline"):
            HttpSettings(request_deadline=bad)
    for bad_size in (0, -1, 1.5, True, 1 << 41):
        with pytest.raises(FireflyConfigError, match="max_output_bytes"):
            HttpSettings(max_output_bytes=bad_size)  # type: ignore[arg-type]
