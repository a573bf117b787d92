"""FireflyHook against the emulator: test_connection messages, tokens, masking, async client."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Callable

import pytest

from airflow_provider_firefly.client.errors import FireflyAuthError, FireflyError
from airflow_provider_firefly.hooks.firefly import FireflyHook
from airflow_provider_firefly.testing import FireflyEmulator

SetConn = Callable[..., str]
DOWN = "http://127.0.0.1:9"  # discard port: connection refused


def test_connection_success(firefly_emulator: FireflyEmulator, set_conn: SetConn) -> None:
    emu = firefly_emulator
    ok, message = FireflyHook(set_conn("ff_ok", emu)).test_connection()
    assert ok, message
    assert message.startswith("Connected:")
    assert emu.client_secret not in message
    assert emu.counters()["ims_token_requests"] == 1


# (connection fields, phrase the one-sentence message must contain)
FAILURES = {
    "wrong secret": ({"password": "wrong-secret-value"}, "rejected the client secret"),
    "unknown client id": ({"login": "nobody-client"}, "does not know client id 'nobody-client'"),
    "scope refused by IMS": ({"scopes": "openid,no_such_scope"}, "refused the scopes"),
    "scope without Firefly access": (
        {"scopes": "openid,AdobeID"},
        "Firefly refused it",
    ),
    "IMS unreachable": (
        {"ims_url": DOWN, "max_attempts": 1, "connect_timeout": 2},
        f"Could not reach Adobe IMS at {DOWN}",
    ),
    "API unreachable": (
        {"api_url": DOWN, "max_attempts": 1, "connect_timeout": 2},
        f"Could not reach the Firefly API at {DOWN}",
    ),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_connection_failure_messages(
    firefly_emulator: FireflyEmulator, set_conn: SetConn, case: str
) -> None:
    emu = firefly_emulator
    fields, phrase = FAILURES[case]
    hook = FireflyHook(set_conn("ff_fail", emu, **fields))
    ok, message = hook.test_connection()
    assert not ok
    assert phrase in message
    assert "ff_fail" not in message  # the UI tests a copy under a random id
    assert "\n" not in message
    assert "Traceback" not in message
    secret = fields.get("password", emu.client_secret)
    assert secret not in message
    assert "Bearer" not in message
    if case == "scope without Firefly access":
        token = hook.get_access_token()  # IMS issued one; Firefly refused it
        assert token not in message


def test_wrong_secret_fails_once_without_a_retry_storm(
    firefly_emulator: FireflyEmulator, set_conn: SetConn
) -> None:
    emu = firefly_emulator
    hook = FireflyHook(set_conn("ff_wrong", emu, password="wrong-secret-value"))
    with pytest.raises(FireflyAuthError) as caught:
        hook.get_access_token()
    with pytest.raises(FireflyAuthError):
        hook.get_access_token()
    assert emu.counters()["ims_token_requests"] == 1
    text = f"{caught.value} {caught.value!r} {pickle.loads(pickle.dumps(caught.value))}"
    assert "wrong-secret-value" not in text
    assert caught.value.status == 400


def test_token_is_valid_cached_and_masked(
    firefly_emulator: FireflyEmulator, set_conn: SetConn
) -> None:
    from airflow.sdk._shared.secrets_masker import redact

    emu = firefly_emulator
    hook = FireflyHook(set_conn("ff_token", emu))
    token = hook.get_access_token()
    assert emu.state.authority.verify(token) is not None
    assert FireflyHook("ff_token").get_access_token() == token
    assert emu.counters()["ims_token_requests"] == 1
    # mask_secret saw the token and the client secret
    assert token not in str(redact(f"token={token}"))
    assert emu.client_secret not in str(redact(f"secret={emu.client_secret}"))
    for text in (repr(hook), repr(hook.client), repr(hook.config), str(hook.config)):
        assert token not in text
        assert emu.client_secret not in text
    assert repr(hook) == "FireflyHook(firefly_conn_id='ff_token')"


def test_api_errors_carry_no_secret(firefly_emulator: FireflyEmulator, set_conn: SetConn) -> None:
    emu = firefly_emulator
    hook = FireflyHook(set_conn("ff_errors", emu))
    token = hook.get_access_token()
    with pytest.raises(FireflyError) as caught:
        hook.get_status("urn:ff:jobs:emu:00000000-0000-0000-0000-000000000000")
    emu.revoke_tokens()
    emu.script("*", [{"status": 401}, {"status": 401}])
    with pytest.raises(FireflyError) as second:
        hook.get_status("urn:ff:jobs:emu:00000000-0000-0000-0000-000000000000")
    for error in (caught.value, second.value):
        text = f"{error} {error!r} {error.__dict__}"
        assert token not in text
        assert emu.client_secret not in text


def test_get_conn_is_the_client(firefly_emulator: FireflyEmulator, set_conn: SetConn) -> None:
    hook = FireflyHook(set_conn("ff_conn", firefly_emulator))
    assert hook.get_conn() is hook.client
    assert hook.client.http.api_url == firefly_emulator.url
    assert hook.client.user_agent.startswith("airflow-provider-firefly/")
    assert "apache-airflow/" in hook.client.user_agent


def test_async_client_reads_the_connection_without_blocking(
    firefly_emulator: FireflyEmulator, set_conn: SetConn
) -> None:
    emu = firefly_emulator
    emu.configure(job_duration=0)
    hook = FireflyHook(set_conn("ff_async", emu))

    async def run() -> str:
        async with await hook.aget_client() as client:
            job = await client.submit("generate_images", {"prompt": "a fox", "numVariations": 1})
            status = await client.get_status(job)
            return status.status

    assert asyncio.run(run()) in ("running", "pending", "succeeded")
    assert emu.counters()["jobs_submitted"] == 1


def test_list_custom_models(firefly_emulator: FireflyEmulator, set_conn: SetConn) -> None:
    hook = FireflyHook(set_conn("ff_models", firefly_emulator))
    models = list(hook.list_custom_models(page_size=1))
    assert isinstance(models, list)
