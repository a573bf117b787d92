"""Property tests: no input crashes or hangs the parsers of ``retry-after``, error bodies, job
status payloads and connection extras. The first three are explored in depth by
``tests/client/test_parsers_hypothesis.py``; these re-checks add hostile shapes and a time bound,
and connection extras are new here."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_firefly.client.errors import (
    FireflyConfigError,
    FireflyError,
    error_from_response,
    parse_error_body,
    parse_retry_after,
)
from airflow_provider_firefly.client.jobs import parse_job_status
from airflow_provider_firefly.connection import EXTRA_FIELDS, parse_connection

from . import _ledger

pytestmark = pytest.mark.timeout(120)

FAST = settings(max_examples=300, deadline=1000, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


def _timed(name: str, examples: list[float]) -> None:
    _ledger.record(
        "properties",
        parser=name,
        examples=len(examples),
        slowest_ms=round(max(examples) * 1000, 2) if examples else 0,
    )


RETRY_AFTER = st.one_of(
    st.none(),
    st.text(max_size=80),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats().map(str),
    st.datetimes().map(lambda d: d.strftime("%a, %d %b %Y %H:%M:%S GMT")),
    st.sampled_from(["1e309", "-0", "NaN", "inf", "Fri, 31 Dec 9999 23:59:59 GMT", "0x10"]),
)


def test_retry_after() -> None:
    seen: list[float] = []

    @FAST
    @given(RETRY_AFTER)
    def check(value: str | None) -> None:
        started = time.perf_counter()
        result = parse_retry_after(value)
        seen.append(time.perf_counter() - started)
        assert result is None or 0.0 <= result <= 24 * 3600

    check()
    _timed("retry-after", seen)


BODIES = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300),
    json_values.map(json.dumps),
    st.integers(min_value=1, max_value=5000).map(lambda n: "[" * n + "]" * (n // 2)),
    st.integers(min_value=1, max_value=3000).map(lambda n: '{"a":' * n),
    st.just("<html><body>502 Bad Gateway</body></html>"),
)


def test_error_bodies() -> None:
    seen: list[float] = []

    @FAST
    @given(BODIES, st.sampled_from([400, 401, 403, 404, 409, 413, 422, 429, 451, 500, 503, 504]))
    def check(body: bytes | str, status: int) -> None:
        started = time.perf_counter()
        parsed = parse_error_body(body)
        error = error_from_response(status, {"retry-after": "5"}, body, subject="POST /x")
        seen.append(time.perf_counter() - started)
        assert isinstance(parsed, dict)
        assert isinstance(error, FireflyError)
        assert len(str(error)) < 2000

    check()
    _timed("error bodies", seen)


STATUS_PAYLOADS = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {
            "status": st.sampled_from(
                ["pending", "running", "succeeded", "failed", "cancelled", "timeout", "odd", 3]
            ),
        },
        optional={
            "jobId": json_values,
            "progress": json_values,
            "result": json_values,
            "outputs": json_values,
            "error_code": json_values,
            "message": json_values,
        },
    ),
)


def test_job_status_payloads() -> None:
    seen: list[float] = []

    @FAST
    @given(STATUS_PAYLOADS)
    def check(payload: Any) -> None:
        started = time.perf_counter()
        try:
            status = parse_job_status(payload, job_id="urn:ff:jobs:x:1")
        except FireflyError:
            pass  # a clean error for an unusable payload
        else:
            assert isinstance(status.status, str)
            for output in status.outputs:
                assert isinstance(output.url, str)
        seen.append(time.perf_counter() - started)

    check()
    _timed("job status payloads", seen)


KNOWN = sorted(EXTRA_FIELDS)
EXTRAS = st.one_of(
    st.dictionaries(
        st.sampled_from([*KNOWN, *(f"extra__firefly__{k}" for k in KNOWN), "other", ""]),
        json_values,
        max_size=6,
    ),
    json_values,
).map(json.dumps)


def test_connection_extras() -> None:
    seen: list[float] = []
    outcomes = {"ok": 0, "config_error": 0}

    @FAST
    @given(
        EXTRAS | st.text(max_size=60),
        st.one_of(st.none(), st.text(max_size=20)),
        st.one_of(st.none(), st.text(max_size=20)),
    )
    def check(extra: str, login: str | None, password: str | None) -> None:
        started = time.perf_counter()
        try:
            config = parse_connection("ff_prop", login=login, password=password, extra=extra)
        except FireflyConfigError as error:
            outcomes["config_error"] += 1
            assert error.field is not None  # noqa: PT017
            assert "'ff_prop'" in str(error)  # noqa: PT017
            if password and len(password) >= 8:
                assert password not in str(error)  # noqa: PT017
        else:
            outcomes["ok"] += 1
            assert config.credentials.client_id
        seen.append(time.perf_counter() - started)

    check()
    _timed("connection extras", seen)
    assert outcomes["config_error"] > 0


EDGE_EXTRAS: dict[str, str | dict[str, Any]] = {
    "dict: 5000-digit max_attempts": {"max_attempts": 10**5000},
    "dict: huge read_timeout": {"read_timeout": 10**400},
    "dict: float max_attempts": {"max_attempts": 2.5},
    "dict: bytes scopes": {"scopes": b"openid"},
    "huge read_timeout": '{"read_timeout": 1' + "0" * 400 + "}",
    "huge negative connect_timeout": '{"connect_timeout": -1' + "0" * 400 + "}",
    "huge requests_per_minute": '{"requests_per_minute": 1' + "0" * 400 + "}",
    "5000-digit max_attempts": '{"max_attempts": ' + "9" * 5000 + "}",
    "read_timeout 1e999": '{"read_timeout": 1e999}',
    "read_timeout '1e999'": '{"read_timeout": "1e999"}',
    "NaN literal": '{"read_timeout": NaN}',
    "NUL in cache_dir": json.dumps({"cache_dir": "\x00"}),
    "100k scopes": json.dumps({"scopes": "a" * 100_000}),
    "deep nesting": '{"scopes": ' + "[" * 5000 + "]" * 5000 + "}",
}


@pytest.mark.parametrize("name", list(EDGE_EXTRAS))
def test_connection_extras_edge_cases(name: str) -> None:
    started = time.perf_counter()
    try:
        parse_connection("ff_prop", login="id", password="secret-value", extra=EDGE_EXTRAS[name])
    except FireflyConfigError as error:
        assert error.field  # noqa: PT017
    assert time.perf_counter() - started < 2
