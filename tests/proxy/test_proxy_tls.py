"""Proxies and private CAs: the emulator serves HTTPS with a certificate of
a CA made in the test, under a host name only the test proxy can resolve
(``firefly.emulator.invalid``), so every request that succeeds went through the proxy; TLS is
verified (a wrong CA fails clearly, before anything is sent); ``.netrc`` is never read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_firefly.client.api import AsyncFireflyClient, FireflyClient, PollPolicy
from airflow_provider_firefly.client.async_transport import SharedAsyncTransport
from airflow_provider_firefly.client.config import HttpSettings, TokenCacheSettings
from airflow_provider_firefly.client.errors import (
    FireflyConfigError,
    FireflyConnectionError,
    FireflyDownloadRefusedError,
    FireflyTLSError,
)
from airflow_provider_firefly.client.tokens import clear_memory_cache
from airflow_provider_firefly.connection import parse_connection
from airflow_provider_firefly.testing import FireflyEmulator
from airflow_provider_firefly.testing.tls import make_private_ca

from .forward_proxy import ForwardProxy

pytestmark = pytest.mark.timeout(60)

HOST = "firefly.emulator.invalid"
FAST = PollPolicy(first_delay=0, min_interval=0.05, max_interval=0.1)
OUTPUT = "GET /outputs/{outputId}"
ENV = (
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "https_proxy",
    "http_proxy",
    "all_proxy",
    "no_proxy",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_private_ca(tmp_path_factory.mktemp("ca"), hosts=(HOST, "127.0.0.1"))


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_private_ca(tmp_path_factory.mktemp("other-ca")).ca_cert


@pytest.fixture(scope="module")
def tls_emulator(tls: Any) -> Iterator[FireflyEmulator]:
    with FireflyEmulator(tls_cert=tls.cert, tls_key=tls.key) as emu:
        yield emu


@pytest.fixture
def emu(tls_emulator: FireflyEmulator) -> FireflyEmulator:
    """The TLS emulator, reset, naming itself ``https://firefly.emulator.invalid:PORT``."""
    tls_emulator.reset()
    port = tls_emulator.url.rsplit(":", 1)[1]
    base = f"https://{HOST}:{port}"
    tls_emulator.configure(job_duration=0, status_base_url=base, output_base_url=base)
    return tls_emulator


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    # A .netrc with credentials for every host used here: it must never be read.
    home = tmp_path / "home"
    home.mkdir()
    netrc = home / ".netrc"
    netrc.write_text(
        f"machine {HOST} login netrc-user password netrc-password\n"
        "machine 127.0.0.1 login netrc-user password netrc-password\n"
    )
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("NETRC", str(netrc))
    clear_memory_cache()
    yield
    clear_memory_cache()


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    with ForwardProxy() as running:
        yield running


@dataclass
class Net:
    """Everything a case needs: the TLS emulator under its .invalid name, a proxy, the CAs."""

    emu: FireflyEmulator
    base_url: str
    proxy: ForwardProxy
    ca: Path
    other_ca: Path
    tmp_path: Path
    monkeypatch: pytest.MonkeyPatch


@pytest.fixture
def net(
    emu: FireflyEmulator,
    proxy: ForwardProxy,
    tls: Any,
    other_ca: Path,
    request: pytest.FixtureRequest,
) -> Net:
    return Net(
        emu,
        f"https://{HOST}:{emu.url.rsplit(':', 1)[1]}",
        proxy,
        tls.ca_cert,
        other_ca,
        request.getfixturevalue("tmp_path"),
        request.getfixturevalue("monkeypatch"),
    )


def client_for(emu: FireflyEmulator, base: str, tmp_path: Path, **http: Any) -> FireflyClient:
    config = parse_connection(
        "proxy_test",
        login=emu.client_id,
        password=emu.client_secret,
        extra={
            "api_url": base,
            "ims_url": base,
            "allow_custom_endpoints": True,
            # Not loopback: Adobe's default budget (4/min) applies; the emulator has none.
            "requests_per_minute": 6000,
            "budget_slots": 1,
            "max_attempts": 1,
            "cache_dir": str(tmp_path / "tok"),
            **http,
        },
    )
    return FireflyClient(config.credentials, config.http, config.token_cache)


def no_credentials_but_ours(emu: FireflyEmulator) -> None:
    for entry in emu.requests():
        if entry["path"].startswith(("/ims/", "/outputs/")):
            assert "authorization" not in entry["headers"], entry["path"]


def run_job(client: FireflyClient, tmp_path: Path) -> int:
    status = client.run("generate_images", {"prompt": "a harbour"}, poll=FAST)
    result = client.download(status.outputs[0], tmp_path / "out.png")
    return result.bytes_written


@pytest.mark.parametrize("ca_variable", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
def test_sync_client_through_the_environment_proxy_and_ca(net: Net, ca_variable: str) -> None:
    emu = net.emu
    base_url = net.base_url
    proxy = net.proxy
    tmp_path = net.tmp_path
    monkeypatch = net.monkeypatch
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv(ca_variable, str(net.ca))
    with client_for(emu, base_url, tmp_path) as client:
        assert run_job(client, tmp_path) > 0
    assert proxy.tunnels
    assert set(proxy.tunnels) == {f"{HOST}:{base_url.rsplit(':', 1)[1]}"}
    routes = {e["path"].split("/")[1] for e in emu.requests()}
    assert {"ims", "v3", "outputs"} <= routes
    no_credentials_but_ours(emu)


def test_async_client_through_the_environment_proxy_and_ca(net: Net) -> None:
    emu = net.emu
    base_url = net.base_url
    proxy = net.proxy
    tmp_path = net.tmp_path
    monkeypatch = net.monkeypatch
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(net.ca))
    with client_for(emu, base_url, tmp_path) as sync_client:
        handle = sync_client.generate_images({"prompt": "x"})
        settings = sync_client.http
        credentials = sync_client.credentials

    async def poll() -> list[str]:
        found = []
        for shared in (False, True):
            client = AsyncFireflyClient(
                credentials, settings, TokenCacheSettings(cache_dir=tmp_path / "atok")
            )
            if shared:
                client = client.budgeted(None)
                assert isinstance(client.transport, SharedAsyncTransport)
            async with client:
                found.append((await client.get_status(handle)).status)
        return found

    before = len(proxy.tunnels)
    assert asyncio.run(poll()) == ["succeeded", "succeeded"]
    assert len(proxy.tunnels) > before


def test_connection_extras_override_the_environment(net: Net) -> None:
    emu = net.emu
    base_url = net.base_url
    other_ca = net.other_ca
    tmp_path = net.tmp_path
    monkeypatch = net.monkeypatch
    # The environment points at a dead proxy and a CA that does not sign the emulator.
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other_ca))
    with ForwardProxy(user="squid", password="pr0xy-pa55word") as authed:
        extras = {"proxy_url": authed.url_with_auth(), "ca_bundle": str(net.ca)}
        with client_for(emu, base_url, tmp_path, **extras) as client:
            assert "pr0xy-pa55word" not in repr(client.http)
            assert run_job(client, tmp_path) > 0

        async def status() -> str:
            config = parse_connection(
                "p",
                login=emu.client_id,
                password=emu.client_secret,
                extra={
                    "api_url": base_url,
                    "ims_url": base_url,
                    "allow_custom_endpoints": True,
                    # Not loopback: Adobe's default budget (4/min) applies; the emulator has none.
                    "requests_per_minute": 6000,
                    "cache_dir": str(tmp_path / "tok"),
                    **extras,
                },
            )
            async with AsyncFireflyClient(
                config.credentials, config.http, config.token_cache
            ) as client:
                job = await client.submit("generate_images", {"prompt": "y"})
                return (await client.get_status(job)).status

        assert asyncio.run(status()) == "succeeded"
        assert authed.tunnels
        assert authed.refused == []
    # A wrong proxy password: a clear error that neither quotes the password nor pays.
    clear_memory_cache()
    with ForwardProxy(user="squid", password="right-one") as strict:
        bad = strict.url_with_auth().replace("right-one", "wrong-one")
        with (
            client_for(
                emu, base_url, tmp_path / "b", proxy_url=bad, ca_bundle=str(net.ca)
            ) as client,
            pytest.raises(FireflyConnectionError, match="proxy") as caught,
        ):
            client.get_access_token()
        assert "wrong-one" not in str(caught.value)
        assert strict.refused


def test_no_proxy_sends_matching_hosts_direct(net: Net) -> None:
    emu = net.emu
    proxy = net.proxy
    tmp_path = net.tmp_path
    monkeypatch = net.monkeypatch
    emu.configure(status_base_url=emu.url, output_base_url=emu.url)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(net.ca))
    with client_for(emu, emu.url, tmp_path) as client:
        assert run_job(client, tmp_path) > 0
        handle = client.generate_images({"prompt": "y"})

    async def status() -> str:
        async with AsyncFireflyClient(client.credentials, client.http) as aclient:
            return (await aclient.get_status(handle)).status

    assert asyncio.run(status()) == "succeeded"
    assert proxy.tunnels == []
    # The control: without NO_PROXY the same client goes through the proxy.
    monkeypatch.delenv("NO_PROXY")
    assert asyncio.run(status()) == "succeeded"
    assert proxy.tunnels == [f"127.0.0.1:{emu.url.rsplit(':', 1)[1]}"]


def test_wrong_ca_fails_clearly_and_sends_nothing(net: Net) -> None:
    emu = net.emu
    base_url = net.base_url
    proxy = net.proxy
    other_ca = net.other_ca
    tmp_path = net.tmp_path
    monkeypatch = net.monkeypatch
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    with (
        client_for(emu, base_url, tmp_path, ca_bundle=str(other_ca)) as client,
        pytest.raises(FireflyTLSError) as caught,
    ):
        client.get_access_token()
    error = caught.value
    assert error.host == HOST
    assert HOST in str(error)
    assert "ca_bundle" in str(error)
    assert "REQUESTS_CA_BUNDLE" in str(error)
    assert error.request_sent is False
    assert len(proxy.tunnels) == 1  # not retried
    assert emu.requests() == []  # nothing reached the server: no job can have been paid

    async def status() -> None:
        config = parse_connection(
            "p",
            login=emu.client_id,
            password=emu.client_secret,
            extra={
                "api_url": base_url,
                "ims_url": base_url,
                "allow_custom_endpoints": True,
                # Not loopback: Adobe's default budget (4/min) applies; the emulator has none.
                "requests_per_minute": 6000,
                "ca_bundle": str(other_ca),
            },
        )
        async with AsyncFireflyClient(config.credentials, config.http) as client:
            await client.transport.request("GET", f"{base_url}/v3/status/urn:ff:jobs:x")

    with pytest.raises(FireflyTLSError, match=HOST):
        asyncio.run(status())
    assert emu.requests() == []


def test_ca_bundle_must_exist(tmp_path: Path) -> None:
    with pytest.raises(FireflyConfigError, match="ca_bundle") as caught:
        parse_connection(
            "p", login="id", password="pw", extra={"ca_bundle": str(tmp_path / "missing.pem")}
        )
    assert caught.value.field == "ca_bundle"
    for bad in ("socks5://proxy:1080", "proxy:3128", "http://proxy:port", "http://p:1/path"):
        with pytest.raises(FireflyConfigError, match="proxy_url"):
            HttpSettings(proxy_url=bad)


def test_redirects_to_https_are_followed_at_most_three_times(net: Net) -> None:
    emu = net.emu
    base_url = net.base_url
    proxy = net.proxy
    tmp_path = net.tmp_path
    monkeypatch = net.monkeypatch
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(net.ca))
    with client_for(emu, base_url, tmp_path) as client:
        status = client.run("generate_images", {"prompt": "x"}, poll=FAST)
        output = status.outputs[0]
        target = output.url
        emu.script(OUTPUT, [{"status": 302, "headers": {"Location": target}}] * 3)
        assert client.download(output, tmp_path / "a.png").bytes_written > 0
        emu.script(OUTPUT, [{"status": 307, "headers": {"Location": target}}] * 4)
        with pytest.raises(FireflyDownloadRefusedError, match="more than 3 redirects"):
            client.download(output, tmp_path / "b.png", job_id=status.job_id)
        emu.clear_scripts(OUTPUT)
        assert not (tmp_path / "b.png").exists()
    no_credentials_but_ours(emu)


def test_hook_and_deferrable_trigger_through_the_connection_proxy(net: Net) -> None:
    """The Airflow path: a connection with proxy_url and ca_bundle, the hook's sync calls and
    download, then the trigger polling through the shared async transport."""
    from airflow_provider_firefly.client.request_budget import clear_budgets
    from airflow_provider_firefly.hooks.firefly import FireflyHook
    from airflow_provider_firefly.triggers.firefly import FireflyJobTrigger

    emu, tmp_path = net.emu, net.tmp_path
    net.monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # overridden by proxy_url
    with ForwardProxy() as connection_proxy:
        conn = emu.airflow_connection(
            api_url=net.base_url,
            ims_url=net.base_url,
            allow_custom_endpoints=True,
            # Not loopback: Adobe's default budget (4/min, one request a minute per task)
            # would apply; the emulator has none.
            requests_per_minute=6000,
            budget_slots=1,
            proxy_url=connection_proxy.url,
            ca_bundle=str(net.ca),
            host_cache=False,
        )
        net.monkeypatch.setenv("AIRFLOW_CONN_FF_PROXY", conn)
        hook = FireflyHook("ff_proxy")
        handle = hook.submit("generate_images", {"prompt": "a harbour"})
        sync_tunnels = len(connection_proxy.tunnels)
        trigger = FireflyJobTrigger(
            firefly_conn_id="ff_proxy",
            job=handle.to_dict(),
            expected_seconds=0,
            poll_min_interval=0.05,
            poll_max_interval=0.1,
            deadline=None,
        )

        async def first_event() -> Any:
            clear_budgets()
            async for event in trigger.run():
                return event.payload
            return None

        payload = asyncio.run(first_event())
        assert payload["status"] == "succeeded", payload
        assert len(connection_proxy.tunnels) > sync_tunnels  # the trigger's polls
        status = hook.get_status(handle)
        assert hook.download(status.outputs[0], tmp_path / "out.png").bytes_written > 0
    assert sync_tunnels >= 1
    no_credentials_but_ours(emu)
