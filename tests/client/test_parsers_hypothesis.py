"""Property tests: the parsers of untrusted replies never crash nor hang, whatever they get."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_firefly.client.errors import (
    FireflyError,
    error_from_response,
    parse_error_body,
    parse_retry_after,
)
from airflow_provider_firefly.client.jobs import (
    JobStatus,
    job_error,
    parse_job_status,
    parse_submit_response,
)

pytestmark = pytest.mark.timeout(60)

FAST = settings(max_examples=300, deadline=500, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**308, max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=30,
)
keys = st.sampled_from(
    [
        "jobId",
        "statusUrl",
        "cancelUrl",
        "links",
        "status",
        "progress",
        "result",
        "outputs",
        "image",
        "video",
        "url",
        "seed",
        "id",
        "presignedUrl",
        "error_code",
        "message",
        "error",
        "error_description",
        "reason",
        "validation_errors",
        "loc",
        "msg",
        "type",
        "result",
        "cancel",
        "href",
    ]
)
shaped = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=6),
    max_leaves=40,
)
anything = json_values | shaped


@FAST
@given(
    st.one_of(
        st.none(), st.text(max_size=80), st.binary(max_size=80).map(lambda b: b.decode("latin-1"))
    )
)
def test_parse_retry_after_never_raises(value: str | None) -> None:
    result = parse_retry_after(value)
    assert result is None or 0.0 <= result <= 86400.0


@FAST
@given(st.datetimes(timezones=st.timezones()) if hasattr(st, "timezones") else st.datetimes())
def test_parse_retry_after_any_http_date(when: Any) -> None:
    from email.utils import format_datetime

    try:
        text = format_datetime(when)
    except (ValueError, OverflowError):
        return
    result = parse_retry_after(text)
    assert result is None or 0.0 <= result <= 86400.0


@FAST
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300), anything.map(json.dumps)))
def test_parse_error_body_never_raises(body: bytes | str) -> None:
    parsed = parse_error_body(body)
    assert set(parsed) <= {"error_code", "message", "validation_errors"}
    assert len(parsed.get("message", "")) <= 500


@FAST
@given(
    st.integers(min_value=400, max_value=599),
    st.dictionaries(
        st.sampled_from(["retry-after", "x-request-id", "x-access-error", "X-Access-Error"]),
        st.text(max_size=40),
    ),
    anything.map(json.dumps) | st.binary(max_size=100),
)
def test_error_from_response_always_a_firefly_error(
    status: int, headers: dict[str, str], body: str | bytes
) -> None:
    error = error_from_response(status, headers, body, subject="GET /x")
    assert isinstance(error, FireflyError)
    assert error.status == status
    str(error)
    repr(error)


@FAST
@given(anything, st.one_of(st.none(), st.text(max_size=20)))
def test_parse_job_status_never_crashes(data: Any, job_id: str | None) -> None:
    try:
        status = parse_job_status(data, job_id=job_id)
    except FireflyError:
        return
    assert isinstance(status, JobStatus)
    json.dumps(status.to_dict(), allow_nan=True)
    error = job_error(status)
    assert error is None or isinstance(error, FireflyError)


@FAST
@given(anything)
def test_parse_submit_response_never_crashes(data: Any) -> None:
    try:
        handle = parse_submit_response(data, subject="POST /v3/x")
    except FireflyError:
        return
    assert handle.status_url
    assert isinstance(handle.job_id, str)
    assert type(handle).from_dict(handle.to_dict()) == handle


def test_hostile_bodies_stay_fast() -> None:
    for body in (b"[" * 200_000, b'{"a":' * 100_000, b"x" * 10_000_000, b"\x00" * 100_000):
        parse_error_body(body)
        error_from_response(500, {}, body, subject="GET /x")


@pytest.mark.parametrize("progress", [10**400, -(10**400), float("nan"), float("inf"), True, "50"])
def test_odd_progress_values(progress: Any) -> None:
    status = parse_job_status({"status": "running", "progress": progress})
    assert status.progress is None


def test_non_string_output_id_dropped() -> None:
    status = parse_job_status(
        {"status": "succeeded", "result": {"outputs": [{"image": {"url": "u", "id": {"x": 1}}}]}}
    )
    assert status.outputs[0].id is None
