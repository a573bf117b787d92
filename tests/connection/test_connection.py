"""The ``firefly`` connection from every source, and bad configurations refused before any
network call (the emulator counts no request)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from airflow_provider_firefly.client.config import DEFAULT_SCOPES
from airflow_provider_firefly.client.errors import FireflyConfigError
from airflow_provider_firefly.connection import EXTRA_FIELDS
from airflow_provider_firefly.hooks.firefly import FireflyHook
from airflow_provider_firefly.testing import FireflyEmulator

SetConn = Callable[..., str]


def _no_requests(emu: FireflyEmulator) -> None:
    counters = emu.counters()
    assert counters["ims_token_requests"] == 0
    assert counters["requests_by_route"] == {}


def test_json_env_connection_with_defaults(set_conn: SetConn) -> None:
    set_conn("ff_defaults", None)
    config = FireflyHook("ff_defaults").config
    assert config.conn_id == "ff_defaults"
    assert config.credentials.client_id == "client-id"
    assert config.credentials.scopes == DEFAULT_SCOPES
    assert config.credentials.ims_url == EXTRA_FIELDS["ims_url"].default
    assert config.http.api_url == EXTRA_FIELDS["api_url"].default
    assert config.http.connect_timeout == EXTRA_FIELDS["connect_timeout"].default
    assert config.http.read_timeout == EXTRA_FIELDS["read_timeout"].default
    assert config.http.max_attempts == EXTRA_FIELDS["max_attempts"].default
    assert config.http.request_deadline == EXTRA_FIELDS["request_deadline"].default == 300
    assert config.http.max_output_bytes == EXTRA_FIELDS["max_output_bytes"].default == 2**31
    assert config.http.allow_custom_endpoints is False
    assert config.token_cache.host_cache is True
    assert config.shared_token_cache is False
    # Adobe's default organisation budget, one request a minute per task (4 slots).
    assert config.requests_per_minute == 4
    assert config.budget_slots is None
    pacer = config.task_pacer()
    assert pacer is not None
    assert 60 <= pacer.spacing <= 62


def test_loopback_endpoints_have_no_default_budget(set_conn: SetConn) -> None:
    """The emulator (loopback) enforces no organisation budget unless told to."""
    set_conn("ff_local", None, api_url="http://127.0.0.1:9", ims_url="http://127.0.0.1:9")
    config = FireflyHook("ff_local").config
    assert config.requests_per_minute is None
    assert config.task_pacer() is None


def test_json_env_connection_with_every_field(set_conn: SetConn, tmp_path: Path) -> None:
    set_conn(
        "ff_full",
        None,
        scopes="openid, AdobeID firefly_api,ff_apis",
        ims_url="https://ims-na1.adobelogin.com/",
        api_url="https://firefly-api.adobe.io",
        host_cache=False,
        cache_dir=str(tmp_path),
        shared_cache=True,
        connect_timeout=2.5,
        read_timeout=30,
        max_attempts=2,
        requests_per_minute=60,
        request_deadline=45,
        max_output_bytes=10_000_000,
        allow_custom_endpoints=True,
    )
    config = FireflyHook("ff_full").config
    assert config.http.request_deadline == 45.0
    assert config.http.max_output_bytes == 10_000_000
    assert config.http.allow_custom_endpoints is True
    assert config.credentials.allow_custom_endpoints is True
    assert config.credentials.scopes == ("openid", "AdobeID", "firefly_api", "ff_apis")
    assert config.credentials.ims_url == "https://ims-na1.adobelogin.com"
    assert config.http.connect_timeout == 2.5
    assert config.http.read_timeout == 30.0
    assert config.http.max_attempts == 2
    assert config.token_cache.host_cache is False
    assert config.token_cache.cache_dir == tmp_path
    assert config.shared_token_cache is True
    assert config.requests_per_minute == 60.0


def test_legacy_prefixed_extra_keys(set_conn: SetConn) -> None:
    """The Airflow 2 form stored ``extra__firefly__<field>``, empty strings included."""
    set_conn(
        "ff_legacy",
        None,
        extra__firefly__scopes="openid,firefly_api",
        extra__firefly__max_attempts="3",
        extra__firefly__shared_cache="true",
        extra__firefly__cache_dir="",
    )
    config = FireflyHook("ff_legacy").config
    assert config.credentials.scopes == ("openid", "firefly_api")
    assert config.http.max_attempts == 3
    assert config.shared_token_cache is True
    assert config.token_cache.cache_dir is None


def test_uri_env_connection_with_query_extras(
    firefly_emulator: FireflyEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Query parameters of a URI become string extras; booleans and numbers are parsed."""
    emu = firefly_emulator
    url = quote(emu.url, safe="")
    monkeypatch.setenv(
        "AIRFLOW_CONN_FF_URI",
        f"firefly://{emu.client_id}:{quote(emu.client_secret, safe='')}@/"
        f"?api_url={url}&ims_url={url}&host_cache=false&max_attempts=2&connect_timeout=3.5",
    )
    hook = FireflyHook("ff_uri")
    config = hook.config
    assert config.credentials.client_secret == emu.client_secret
    assert config.http.api_url == emu.url
    assert config.credentials.ims_url == emu.url
    assert config.token_cache.host_cache is False
    assert config.http.max_attempts == 2
    assert config.http.connect_timeout == 3.5
    assert hook.test_connection()[0]


def test_uri_round_trip_of_get_uri(
    firefly_emulator: FireflyEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Connection.get_uri()`` (what ``airflow connections get`` prints) keeps typed extras
    (``__extra__``) and odd characters in the id and secret."""
    from airflow.sdk import Connection

    emu = firefly_emulator
    secret = "p@ss/w:rd?#%&+ x"
    emu.configure(extra_clients={"client+odd@id:1": secret})
    extra = {"api_url": emu.url, "ims_url": emu.url, "max_attempts": 2, "shared_cache": False}
    conn = Connection(
        conn_id="x",
        conn_type="firefly",
        login="client+odd@id:1",
        password=secret,
        extra=json.dumps(extra),
    )
    uri = conn.get_uri()
    assert "__extra__" in uri
    monkeypatch.setenv("AIRFLOW_CONN_FF_ROUND", uri)
    hook = FireflyHook("ff_round")
    assert hook.config.credentials.client_id == "client+odd@id:1"
    assert hook.config.credentials.client_secret == secret
    assert hook.config.http.max_attempts == 2
    ok, message = hook.test_connection()
    assert ok, message
    assert secret not in message


def _bad(field: str, **fields: Any) -> Any:
    return pytest.param(fields, field, id=f"{field}-{next(iter(fields.values()))!r}"[:60])


BAD_CONFIGS = [
    _bad("client_id", login=None),
    _bad("client_id", login="  "),
    _bad("client_id", login="two words"),
    _bad("client_secret", password=None),
    _bad("client_secret", password=""),
    _bad("scopes", scopes="openid;AdobeID"),
    _bad("scopes", scopes="openid,firefly api?"),
    _bad("scopes", scopes=["openid", "AdobeID"]),
    _bad("scopes", scopes=42),
    _bad("ims_url", ims_url="ims-na1.adobelogin.com"),
    _bad("ims_url", ims_url="ftp://ims.example.com"),
    _bad("ims_url", ims_url="http://ims-na1.adobelogin.com"),
    _bad("api_url", api_url="http://firefly-api.adobe.io"),
    _bad("api_url", api_url="https://firefly-api.adobe.io/?x=1"),
    _bad("api_url", api_url="https://user:pw@firefly-api.adobe.io"),
    _bad("api_url", api_url="https://firefly-api.adobe.io:notaport"),
    _bad("api_url", api_url=True),
    _bad("scope", scope="openid"),
    _bad("api_host", api_host="firefly-api.adobe.io"),
    _bad("extra__firefly__scope", extra__firefly__scope="openid"),
    _bad("shared_token_cache", shared_token_cache=True),
    _bad("host_cache", host_cache="yes"),
    _bad("host_cache", host_cache=1.5),
    _bad("shared_cache", shared_cache="maybe"),
    _bad("connect_timeout", connect_timeout="fast"),
    _bad("connect_timeout", connect_timeout=-1),
    _bad("connect_timeout", connect_timeout=True),
    _bad("read_timeout", read_timeout="nan"),
    _bad("read_timeout", read_timeout=10**9),
    _bad("max_attempts", max_attempts="5.5"),
    _bad("max_attempts", max_attempts=0),
    _bad("max_attempts", max_attempts=False),
    _bad("max_attempts", max_attempts=[3]),
    _bad("cache_dir", cache_dir=["/tmp"]),
    _bad("requests_per_minute", requests_per_minute=0),
    _bad("requests_per_minute", requests_per_minute="lots"),
    _bad("request_deadline", request_deadline=0),
    _bad("request_deadline", request_deadline="soon"),
    _bad("request_deadline", request_deadline=10**6),
    _bad("max_output_bytes", max_output_bytes=0),
    _bad("max_output_bytes", max_output_bytes="2GB"),
    _bad("max_output_bytes", max_output_bytes=2**50),
    _bad("allow_custom_endpoints", allow_custom_endpoints="perhaps"),
    _bad("ims_url", ims_url="https://ims.attacker.example"),
    _bad("api_url", api_url="https://firefly-api.adobe.io.attacker.example"),
    _bad("api_url", api_url="https://adobe.io-gw.example", allow_custom_endpoints=False),
]


@pytest.mark.parametrize(("fields", "field"), BAD_CONFIGS)
def test_bad_configuration_is_refused_before_any_request(
    firefly_emulator: FireflyEmulator, set_conn: SetConn, fields: dict[str, Any], field: str
) -> None:
    emu = firefly_emulator
    conn_id = set_conn("ff_bad_config", emu, **fields)
    hook = FireflyHook(conn_id)
    with pytest.raises(FireflyConfigError) as caught:
        _ = hook.config
    error = caught.value
    assert error.field == field
    assert "'ff_bad_config'" in error.message
    assert field in error.message
    assert emu.client_secret not in str(error)
    with pytest.raises(FireflyConfigError):
        hook.get_access_token()
    ok, message = hook.test_connection()
    assert not ok
    assert field in message  # no connection id: the UI tests a copy under a random id
    _no_requests(emu)


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ("{not json", "not valid JSON"),
        ('["scopes", "openid"]', "must be a JSON object"),
        ('"openid"', "must be a JSON object"),
        ("42", "must be a JSON object"),
    ],
)
def test_extra_that_is_not_a_json_object(
    firefly_emulator: FireflyEmulator,
    monkeypatch: pytest.MonkeyPatch,
    extra: str,
    problem: str,
) -> None:
    emu = firefly_emulator
    monkeypatch.setenv(
        "AIRFLOW_CONN_FF_BAD_EXTRA",
        json.dumps({"conn_type": "firefly", "login": "id", "password": "secret-value"})[:-1]
        + f', "extra": {json.dumps(extra)}}}',
    )
    hook = FireflyHook("ff_bad_extra")
    with pytest.raises(FireflyConfigError) as caught:
        _ = hook.config
    assert caught.value.field == "extra"
    assert "'ff_bad_extra'" in caught.value.message
    assert problem in caught.value.message
    ok, message = hook.test_connection()
    assert not ok
    assert problem in message
    _no_requests(emu)


def test_unknown_connection_id() -> None:
    from airflow.sdk.exceptions import AirflowNotFoundException

    with pytest.raises(AirflowNotFoundException):
        _ = FireflyHook("ff_does_not_exist").config
