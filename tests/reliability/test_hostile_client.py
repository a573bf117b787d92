"""A hostile server against the client layer: replies, redirects, sizes, deadlines, cookies.

Every case talks HTTP to the emulator with scripted replies (redirects, gzip bombs, huge and
trickling bodies, endless pagination, cookies, echoed secrets, rewritten job ids) and counts
what the client did: fetches of refused redirect targets, bytes kept, requests sent, seconds
spent. The counts go to :data:`FIGURES`; ``pytest -s`` prints them at the end
(:func:`hostile_figures` returns them) for ``docs/reliability.md``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http.server
import io
import logging
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_firefly.client import api as api_module
from airflow_provider_firefly.client import async_transport as budget_module
from airflow_provider_firefly.client.api import AsyncFireflyClient, FireflyClient, PollPolicy
from airflow_provider_firefly.client.async_transport import SharedAsyncTransport, connection_key
from airflow_provider_firefly.client.config import (
    FireflyCredentials,
    HttpSettings,
    TokenCacheSettings,
)
from airflow_provider_firefly.client.errors import (
    FireflyAuthError,
    FireflyConfigError,
    FireflyDownloadRefusedError,
    FireflyError,
    FireflyJobFailedError,
    FireflyJobTimeoutError,
    FireflyTimeoutError,
    FireflyValidationError,
)
from airflow_provider_firefly.client.limits import (
    MAX_JSON_BYTES,
    MAX_JSON_DEPTH,
    MAX_UPLOAD_BYTES,
    request_spacing,
)
from airflow_provider_firefly.client.retry import RetryPolicy
from airflow_provider_firefly.client.tokens import clear_memory_cache
from airflow_provider_firefly.client.transport import AsyncTransport, SyncTransport
from airflow_provider_firefly.connection import parse_connection
from airflow_provider_firefly.testing import FireflyEmulator

from . import _ledger

pytestmark = pytest.mark.timeout(60)

STATUS = "GET /v3/status/{jobId}"
GENERATE = "POST /v3/images/generate-async"
OUTPUT = "GET /outputs/{outputId}"
IMS = "POST /ims/token/v3"
MODELS = "GET /v3/custom-models"
FAST = PollPolicy(first_delay=0, min_interval=0.05, max_interval=0.1)

#: What the suite measured, by item; printed by the last test.
FIGURES: dict[str, Any] = {}


def hostile_figures() -> dict[str, Any]:
    """The figures of the cases run so far (for docs/reliability.md)."""
    return dict(FIGURES)


def figure(name: str, value: Any) -> None:
    FIGURES[name] = value
    _ledger.record("hostile_client", figure=name, value=value)


def settings_for(emu: FireflyEmulator, **http: Any) -> HttpSettings:
    options: dict[str, Any] = {"connect_timeout": 1.0, "read_timeout": 5.0, "max_attempts": 1}
    options.update(http)
    return HttpSettings(api_url=emu.api_url, **options)


def credentials_for(emu: FireflyEmulator) -> FireflyCredentials:
    return FireflyCredentials(emu.client_id, emu.client_secret, ims_url=emu.ims_url)


def make_client(emu: FireflyEmulator, tmp_path: Path, **http: Any) -> FireflyClient:
    settings = settings_for(emu, **http)
    client = FireflyClient(
        credentials_for(emu), settings, TokenCacheSettings(cache_dir=tmp_path / "tok")
    )
    policy = RetryPolicy.from_settings(settings, backoff_base=0.01, backoff_max=0.05)
    for name in ("transport", "_token_transport"):
        client.__dict__[name] = SyncTransport(settings, user_agent=client.user_agent, policy=policy)
    return client


def make_async_client(emu: FireflyEmulator, tmp_path: Path, **http: Any) -> AsyncFireflyClient:
    return AsyncFireflyClient(
        credentials_for(emu),
        settings_for(emu, **http),
        TokenCacheSettings(cache_dir=tmp_path / "tok"),
    )


@pytest.fixture
def emu(firefly_emulator: FireflyEmulator) -> FireflyEmulator:
    firefly_emulator.configure(job_duration=0)
    return firefly_emulator


@pytest.fixture
def client(emu: FireflyEmulator, tmp_path: Path) -> Iterator[FireflyClient]:
    with make_client(emu, tmp_path) as c:
        yield c


class _Counting(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def counting_server() -> Iterator[tuple[str, list[str]]]:
    """A plain-http server on loopback that counts the requests it gets (a redirect target)."""
    _Counting.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Counting.hits
    server.shutdown()
    server.server_close()


def finished_output(client: FireflyClient) -> tuple[str, Any]:
    status = client.run("generate_images", {"prompt": "a harbour"}, poll=FAST)
    return status.job_id, status.outputs[0]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


# -- item 2: downloads ------------------------------------------------------------------------


def test_redirects_to_other_schemes_are_never_fetched(
    emu: FireflyEmulator,
    client: FireflyClient,
    tmp_path: Path,
    counting_server: tuple[str, list[str]],
) -> None:
    base, hits = counting_server
    job_id, output = finished_output(client)
    targets = [
        f"{base}/internal-metadata",  # plain http (on loopback, even in emulator mode)
        "file:///etc/passwd",
        "ftp://127.0.0.1/x",
        "gopher://127.0.0.1:70/x",
    ]
    refused = 0
    out = tmp_path / "out"
    for target in targets:
        emu.script(OUTPUT, [{"status": 302, "headers": {"Location": target}}])
        with pytest.raises(FireflyDownloadRefusedError) as caught:
            client.download(output, out / "a.png", job_id=job_id)
        error = caught.value
        assert error.job_id == job_id
        assert job_id in str(error)
        assert "/outputs/" in error.output
        assert "?" not in error.output
        assert "only redirects to https" in str(error)
        refused += 1
    assert hits == []
    assert leftovers(out) == []
    figure("non-https redirect targets fetched", len(hits))
    figure("redirects to other schemes refused", f"{refused} of {len(targets)}")


def test_output_urls_that_are_not_https_are_refused_before_any_request(
    emu: FireflyEmulator, client: FireflyClient, tmp_path: Path
) -> None:
    before = len(emu.requests())
    for url in (
        "http://files.example.net/out.png?sig=1",  # plain http off loopback
        "ftp://files.example.net/out.png",
        "file:///etc/passwd",
        "//files.example.net/x.png",
    ):
        with pytest.raises(FireflyDownloadRefusedError, match="only https outputs"):
            client.download(url, tmp_path / "x.png", job_id="urn:ff:jobs:1")
    assert len(emu.requests()) == before
    assert not (tmp_path / "x.png").exists()
    # An https API URL (production) allows no plain http output at all, not even loopback.
    prod = HttpSettings(api_url="https://firefly-api.adobe.io")
    assert not prod.plain_http_allowed
    assert settings_for(emu).plain_http_allowed


def test_a_gzip_bomb_is_cut_at_max_output_bytes_on_decoded_bytes(
    emu: FireflyEmulator, tmp_path: Path
) -> None:
    limit = 4 * 1024 * 1024
    with make_client(emu, tmp_path, max_output_bytes=limit) as client:
        job_id, output = finished_output(client)
        emu.script(
            OUTPUT,
            [
                {
                    "status": 200,
                    "headers": {"Content-Type": "image/png"},
                    "filler_bytes": 64 << 20,
                    "gzip": True,
                }
            ],
        )
        kept = io.BytesIO()
        discarded: list[bool] = []
        with pytest.raises(FireflyDownloadRefusedError, match="max_output_bytes") as caught:
            client.download(
                output,
                lambda: contextlib.nullcontext(kept),
                job_id=job_id,
                discard=lambda: discarded.append(True),
            )
        assert caught.value.job_id == job_id
        assert len(kept.getvalue()) <= limit
        assert discarded == [True]
        # To a path: nothing, not even the temporary file, is left.
        emu.script(OUTPUT, [{"status": 200, "filler_bytes": 64 << 20, "gzip": True}])
        with pytest.raises(FireflyDownloadRefusedError):
            client.download(output, tmp_path / "out" / "bomb.png", job_id=job_id)
        assert leftovers(tmp_path / "out") == []
        # A declared length above the cap is refused before the body is read.
        emu.script(OUTPUT, [{"status": 200, "filler_bytes": limit + 1}])
        with pytest.raises(FireflyDownloadRefusedError):
            client.download(output, tmp_path / "out" / "big.png")
    figure("gzip bomb (64 KiB -> 64 MiB): bytes kept with a 4 MiB cap", len(kept.getvalue()))
    figure("partial files left after refused downloads", len(leftovers(tmp_path / "out")))


def test_max_output_bytes_is_a_validated_connection_extra(emu: FireflyEmulator) -> None:
    config = parse_connection(
        "c", login="id", password="pw-123456", extra={"max_output_bytes": 1000}
    )
    assert config.http.max_output_bytes == 1000
    assert parse_connection("c", login="id", password="pw", extra={}).http.max_output_bytes == (
        2 * 1024**3
    )
    for bad in (0, -5, "lots", 1 << 50):
        with pytest.raises(FireflyConfigError, match="max_output_bytes"):
            parse_connection("c", login="id", password="pw", extra={"max_output_bytes": bad})


# -- item 3: bounded API replies ---------------------------------------------------------------


def deep(levels: int) -> str:
    return base64.b64encode(b"[" * levels + b"]" * levels).decode()


def test_too_deep_json_is_a_firefly_error_on_every_path(
    emu: FireflyEmulator, tmp_path: Path
) -> None:
    paths = 0
    for levels in (MAX_JSON_DEPTH + 1, 100_000):
        body = {
            "status": 200,
            "headers": {"Content-Type": "application/json"},
            "body_base64": deep(levels),
        }
        clear_memory_cache()  # no token minted by the previous round
        with make_client(emu, tmp_path / f"ims{levels}") as client:
            emu.script(IMS, [body])
            with pytest.raises(FireflyAuthError, match=r"nested deeper|not JSON"):
                client.get_access_token()
            paths += 1
        clear_memory_cache()  # the refusal is cached for 60 s
        with make_client(emu, tmp_path / str(levels)) as client:
            handle = client.generate_images({"prompt": "x"})
            for route, call in (
                (STATUS, lambda c=client, h=handle: c.get_status(h)),
                (GENERATE, lambda c=client: c.generate_images({"prompt": "x"})),
                (MODELS, lambda c=client: list(c.list_custom_models())),
            ):
                emu.script(route, [body])
                with pytest.raises(FireflyError, match=r"nested deeper|not JSON"):
                    call()
                paths += 1

        async def status_async(folder: Path, reply: dict[str, Any], job: Any) -> None:
            async with make_async_client(emu, folder) as aclient:
                emu.script(STATUS, [reply])
                await aclient.get_status(job)

        with pytest.raises(FireflyError, match=r"nested deeper|not JSON"):
            asyncio.run(status_async(tmp_path / f"a{levels}", body, handle))
        paths += 1
    figure("too-deep JSON replies mapped to FireflyError (paths x depths)", paths)


def test_huge_json_replies_are_refused_while_reading(
    emu: FireflyEmulator, client: FireflyClient, tmp_path: Path
) -> None:
    handle = client.generate_images({"prompt": "x"})
    huge = {
        "status": 200,
        "headers": {"Content-Type": "application/json"},
        "body": {},
        "filler_bytes": 200 << 20,
    }
    emu.script(STATUS, [huge])
    started = time.monotonic()
    with pytest.raises(FireflyError, match="larger than"):
        client.get_status(handle)
    sync_seconds = time.monotonic() - started
    # The same document gzip-compressed (about 200 KiB on the wire) is counted decoded, and
    # inflated in bounded steps: memory stays near the 16 MiB cap, sync and async.
    calls = {
        "sync": lambda: client.get_status(handle),
        "async": lambda: asyncio.run(_async_status(emu, tmp_path, handle)),
    }
    peaks = {}
    for mode, call in calls.items():
        emu.script(STATUS, [{**huge, "gzip": True}])
        tracemalloc.start()
        try:
            with pytest.raises(FireflyError, match="larger than"):
                call()
            peaks[mode] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert max(peaks.values()) < 3 * MAX_JSON_BYTES
    figure("JSON reply cap (bytes)", MAX_JSON_BYTES)
    figure("200 MiB status reply refused after (s)", round(sync_seconds, 2))
    figure(
        "200 MiB gzip status reply: peak memory sync / async (MiB)",
        f"{peaks['sync'] / 2**20:.0f} / {peaks['async'] / 2**20:.0f}",
    )


async def _async_status(emu: FireflyEmulator, tmp_path: Path, handle: Any) -> None:
    async with make_async_client(emu, tmp_path) as aclient:
        await aclient.get_status(handle)


def test_custom_model_pagination_is_bounded(
    emu: FireflyEmulator, client: FireflyClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = {"assetId": "urn:aaid:sc:x", "displayName": "m", "publishedState": "published"}
    client.get_access_token()
    # 1. the same _links.next for ever
    emu.script(
        MODELS,
        [
            {
                "status": 200,
                "repeat": True,
                "body": {
                    "custom_models": [model],
                    "_links": {"next": {"href": "/v3/custom-models?start=1"}},
                },
            }
        ],
    )
    with pytest.raises(FireflyError, match="same next page"):
        list(client.list_custom_models())
    cycle_requests = sum(1 for r in emu.requests() if r["path"] == "/v3/custom-models")
    emu.clear_scripts(MODELS)
    # 2. a total_count that never ends, without any link
    monkeypatch.setattr(api_module, "MAX_MODEL_PAGES", 7)
    emu.reset()
    client.get_access_token()
    emu.script(
        MODELS,
        [{"status": 200, "repeat": True, "body": {"custom_models": [model], "total_count": 10**9}}],
    )
    with pytest.raises(FireflyError, match="more than 7 pages"):
        list(client.list_custom_models())
    page_requests = sum(1 for r in emu.requests() if r["path"] == "/v3/custom-models")
    emu.clear_scripts(MODELS)
    assert cycle_requests == 2
    assert page_requests == 7
    figure("endless _links.next: pages fetched before stopping", cycle_requests)


# -- item 4: deadlines and per-connection gates ------------------------------------------------


def test_a_dripping_server_fails_the_attempt_at_the_deadline_sync_and_async(
    emu: FireflyEmulator, tmp_path: Path
) -> None:
    drip = {
        "status": 200,
        "headers": {"Content-Type": "application/json"},
        "body": {"status": "running", "padding": "x" * 200},
        "drip": 0.25,
    }
    with make_client(emu, tmp_path, request_deadline=1.5, read_timeout=5.0) as client:
        handle = client.generate_images({"prompt": "x"})
        emu.script(STATUS, [drip])
        started = time.monotonic()
        with pytest.raises(FireflyTimeoutError, match="request_deadline"):
            client.get_status(handle)
        sync_seconds = time.monotonic() - started
        # A download trickling its body is cut off the same way.
        job_id, output = finished_output(client)
        emu.script(
            OUTPUT,
            [{"status": 200, "body_base64": base64.b64encode(b"x" * 200).decode(), "drip": 0.25}],
        )
        with pytest.raises(FireflyTimeoutError):
            client.download(output, tmp_path / "out" / "slow.png", job_id=job_id)
        assert leftovers(tmp_path / "out") == []

    async def status_async() -> float:
        async with make_async_client(
            emu, tmp_path, request_deadline=1.5, read_timeout=5.0, max_attempts=1
        ) as aclient:
            await aclient.get_access_token()
            emu.script(STATUS, [drip])
            started = time.monotonic()
            with pytest.raises(FireflyTimeoutError, match="request_deadline"):
                await aclient.get_status(handle)
            return time.monotonic() - started

    async_seconds = asyncio.run(status_async())
    assert 1.4 <= sync_seconds < 3.0
    assert 1.4 <= async_seconds < 3.0
    figure(
        "1 byte / 0.25 s reply, deadline 1.5 s: sync attempt ended after (s)",
        round(sync_seconds, 2),
    )
    figure("same, async (s)", round(async_seconds, 2))


@pytest.fixture
def header_dripper() -> Iterator[str]:
    """A server that sends its status line, then one header byte every 0.2 s for ever.

    The emulator drips bodies only; this case needs a raw socket.
    """
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def drip(conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while not stop.wait(0.2):
                conn.sendall(b"x")

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=drip, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    server.close()


def test_dripping_headers_are_cut_at_the_deadline_too(
    emu: FireflyEmulator, header_dripper: str, tmp_path: Path
) -> None:
    settings = HttpSettings(
        api_url=header_dripper, request_deadline=1.0, read_timeout=5.0, max_attempts=1
    )
    transport = SyncTransport(settings, user_agent="t")
    seconds = {}
    started = time.monotonic()
    with pytest.raises(FireflyTimeoutError, match="request_deadline"):
        transport.request("GET", f"{header_dripper}/v3/status/x")
    seconds["sync"] = time.monotonic() - started

    async def status_async() -> None:
        async with AsyncTransport(settings, user_agent="t") as atransport:
            await atransport.request("GET", f"{header_dripper}/v3/status/x")

    started = time.monotonic()
    with pytest.raises(FireflyTimeoutError, match="request_deadline"):
        asyncio.run(status_async())
    seconds["async"] = time.monotonic() - started
    # The session is still sound afterwards (a download of a real output through it).
    with make_client(emu, tmp_path) as client:
        client.__dict__["transport"].session = transport.session
        job_id, output = finished_output(client)
        assert client.download(output, tmp_path / "ok.png", job_id=job_id).bytes_written > 0
    assert all(1.0 <= value < 2.0 for value in seconds.values()), seconds
    figure(
        "1 header byte / 0.2 s, deadline 1 s: attempt ended after (s) sync / async",
        f"{seconds['sync']:.2f} / {seconds['async']:.2f}",
    )


def test_one_slow_connection_does_not_starve_the_polls_of_another(
    emu: FireflyEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(budget_module, "MAX_IN_FLIGHT", 2)
    settings = settings_for(emu, read_timeout=10.0)
    url = f"{emu.api_url}/v3/status/urn:ff:jobs:x"

    async def scenario(slow_key: str, fast_key: str) -> float:
        slow = SharedAsyncTransport(settings, user_agent="t", pool_key=slow_key)
        fast = SharedAsyncTransport(settings, user_agent="t", pool_key=fast_key)
        # The slow connection's server holds its two requests 2 s each (all of its slots).
        emu.script(STATUS, [{"status": 200, "body": {}, "delay": 2.0}] * 2)
        hogs = [asyncio.create_task(slow.request("GET", url)) for _ in range(2)]
        await asyncio.sleep(0.3)
        started = time.monotonic()
        with contextlib.suppress(FireflyError):  # 401 without a token: answered at once
            await fast.request("GET", url)
        waited = time.monotonic() - started
        await asyncio.gather(*hogs, return_exceptions=True)
        await slow.aclose()
        await fast.aclose()
        return waited

    separate = asyncio.run(
        scenario(connection_key(settings, "org-a"), connection_key(settings, "org-b"))
    )
    shared = asyncio.run(scenario("same", "same"))
    assert separate < 0.5
    assert shared > 1.0  # the control: one gate for both makes the fast poll wait
    figure("poll of connection B while A's server hangs: waited (s), own gate", round(separate, 2))
    figure("same, if both shared one gate (s)", round(shared, 2))


def test_a_budgeted_client_binds_the_pool_to_the_client_id(
    emu: FireflyEmulator, tmp_path: Path
) -> None:
    aclient = make_async_client(emu, tmp_path)
    transport = aclient.budgeted(None).transport
    assert isinstance(transport, SharedAsyncTransport)
    assert transport.pool_key == connection_key(aclient.http, emu.client_id)


# -- item 5: no cookie crosses connections -----------------------------------------------------


def test_no_cookie_is_kept_sync_or_async(
    emu: FireflyEmulator, client: FireflyClient, tmp_path: Path
) -> None:
    cookie = {"headers": {"Set-Cookie": "org=a; Path=/"}, "merge_patch": {}}
    handle = client.generate_images({"prompt": "x"})
    emu.script(STATUS, [cookie])
    client.get_status(handle)
    client.get_status(handle)
    client.generate_images({"prompt": "y"})

    async def shared_pool() -> None:
        settings = settings_for(emu)
        first = AsyncFireflyClient(
            credentials_for(emu), settings, TokenCacheSettings(cache_dir=tmp_path / "t1")
        ).budgeted(None)
        second = AsyncFireflyClient(
            credentials_for(emu), settings, TokenCacheSettings(cache_dir=tmp_path / "t2")
        ).budgeted(None)
        assert isinstance(first.transport, SharedAsyncTransport)
        assert isinstance(second.transport, SharedAsyncTransport)
        assert first.transport.pool_key == second.transport.pool_key  # one pool for both
        emu.script(STATUS, [cookie])
        await first.get_status(handle)
        await second.get_status(handle)
        await first.aclose()
        await second.aclose()

    asyncio.run(shared_pool())
    log = emu.requests()
    set_cookies = 2 - emu.state.scripts.pending().get(STATUS, 0)
    sent = [r for r in log if "cookie" in r["headers"]]
    assert sent == []
    figure("requests carrying a cookie after Set-Cookie (sync + shared async)", len(sent))
    figure("Set-Cookie replies served", set_cookies)


# -- item 6: echoed secrets --------------------------------------------------------------------


def test_secrets_echoed_by_ims_never_reach_the_error(
    emu: FireflyEmulator, client: FireflyClient, tmp_path: Path
) -> None:
    secret = emu.client_secret
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl"
    emu.script(
        IMS,
        [
            {
                "status": 401,
                "headers": {"x-request-id": f"rid Bearer {jwt}"},
                "body": {
                    "error": f"invalid_client {secret} {jwt}" + "x" * 400,
                    "error_description": f"secret {secret} token {jwt}",
                },
            }
        ],
    )
    with pytest.raises(FireflyAuthError) as caught:
        client.get_access_token()
    error = caught.value
    clear_memory_cache()  # the refusal is cached for 60 s
    shown = " ".join([str(error), repr(error), error.error_code or "", error.request_id or ""])
    assert secret not in shown
    assert jwt not in shown
    assert len(error.error_code or "") <= 120
    # The same for a job that fails with a token in its message.
    client = make_client(emu, tmp_path / "second")
    handle = client.generate_images({"prompt": "x"})
    emu.script(
        STATUS,
        [
            {
                "merge_patch": {
                    "status": "failed",
                    "error_code": f"e {jwt}",
                    "message": f"boom Bearer {jwt}",
                }
            }
        ],
    )
    with pytest.raises(FireflyJobFailedError) as failed:
        client.wait(handle, poll=FAST, timeout=5)
    job_texts = str(failed.value) + repr(failed.value) + (failed.value.error_code or "")
    assert jwt not in job_texts
    leaks = sum(text.count(value) for text in (shown, job_texts) for value in (secret, jwt))
    figure("secrets/tokens in error texts after echoing IMS and status replies", leaks)


# -- item 7: endpoints -------------------------------------------------------------------------


def test_endpoints_outside_adobe_need_an_explicit_extra(
    caplog: pytest.LogCaptureFixture,
) -> None:
    refused = 0
    for name in ("ims_url", "api_url"):
        for url in (
            "https://attacker.example",
            "https://adobe.io.attacker.example",
            "https://ims-na1.adobelogin.com.evil.example",
        ):
            with pytest.raises(FireflyConfigError) as caught:
                parse_connection("c", login="id", password="pw", extra={name: url})
            assert name in str(caught.value)
            assert "allow_custom_endpoints" in str(caught.value)
            refused += 1
    for url in (
        "https://ims-na1.adobelogin.com",
        "https://firefly-api.adobe.io",
        "http://127.0.0.1:9",
        "https://localhost:8443",
        "http://[::1]:80",
    ):
        parse_connection("c", login="id", password="pw", extra={"api_url": url, "ims_url": url})
    with caplog.at_level(logging.WARNING, logger="airflow_provider_firefly.client"):
        config = parse_connection(
            "c",
            login="id",
            password="pw",
            extra={"api_url": "https://gw.corp.example", "allow_custom_endpoints": True},
        )
    assert config.http.api_url == "https://gw.corp.example"
    assert any("gw.corp.example" in r.getMessage() for r in caplog.records)
    figure("non-Adobe endpoints refused without allow_custom_endpoints", refused)


# -- item 14: the request budget of synchronous waits ------------------------------------------


def test_poll_schedule_respects_requests_per_minute() -> None:
    policy = PollPolicy(first_delay=0, min_interval=2, max_interval=30, requests_per_minute=4)
    intervals = [policy.interval(n, 0.0) for n in range(20)]
    assert min(intervals) >= request_spacing(4) == pytest.approx(15.3)
    elapsed, polls = 0.0, 0
    for gap in intervals:
        elapsed += gap
        if elapsed <= 60:
            polls += 1
    assert polls <= 4
    with pytest.raises(FireflyConfigError, match="requests_per_minute"):
        PollPolicy(requests_per_minute=0)
    figure("sync polls in the first minute at 4 requests/min (was 7)", polls)


def test_wait_rides_out_429s_until_its_own_deadline(
    emu: FireflyEmulator, client: FireflyClient, tmp_path: Path
) -> None:
    handle = client.generate_images({"prompt": "x"})
    limited = {
        "status": 429,
        "headers": {"Retry-After": "0.1"},
        "body": {"error_code": "429050", "message": "Too many requests"},
    }
    emu.script(STATUS, [limited] * 4)  # more than max_attempts (1) of the transport
    status = client.wait(handle, poll=FAST, timeout=20)
    assert status.succeeded
    served_429 = 4 - emu.state.scripts.pending().get(STATUS, 0)
    # Endless 429s: the wait ends at its own deadline, with the timeout error.
    handle = client.generate_images({"prompt": "y"})
    emu.script(STATUS, [{**limited, "repeat": True}])
    started = time.monotonic()
    with pytest.raises(FireflyJobTimeoutError, match=r"did not finish within 1\.5 s"):
        client.wait(handle, poll=FAST, timeout=1.5, cancel_on_timeout=False)
    waited = time.monotonic() - started
    emu.clear_scripts(STATUS)
    assert waited >= 1.5
    # A long retry-after is cut at the wait's deadline, even with transport retries allowed.
    with make_client(emu, tmp_path, max_attempts=5) as patient:
        handle = patient.generate_images({"prompt": "z"})
        emu.script(STATUS, [{**limited, "headers": {"Retry-After": "30"}, "repeat": True}])
        started = time.monotonic()
        with pytest.raises(FireflyJobTimeoutError):
            patient.wait(handle, poll=FAST, timeout=1.0, cancel_on_timeout=False)
        overshoot = time.monotonic() - started - 1.0
        emu.clear_scripts(STATUS)
    assert overshoot < 1.0
    figure("retry-after 30 s, timeout 1 s: wait ended late by (s)", round(overshoot, 2))
    figure("429s ridden out by one wait before success", served_429)
    figure("endless 429s, timeout 1.5 s: wait failed after (s)", round(waited, 2))


# -- item 15: submissions without statusUrl, unsafe job ids ------------------------------------


def test_submit_reply_without_status_url_uses_the_job_id(
    emu: FireflyEmulator, client: FireflyClient
) -> None:
    emu.script(GENERATE, [{"merge_patch": {"statusUrl": None, "cancelUrl": None}}])
    handle = client.generate_images({"prompt": "x"})
    assert handle.status_url == f"{emu.api_url}/v3/status/{handle.job_id}"
    assert client.wait(handle, poll=FAST, timeout=10).succeeded


@pytest.mark.parametrize(
    "patch",
    [
        {"jobId": "urn:ff:jobs:../../x", "statusUrl": None},
        {"jobId": "/tmp/x", "statusUrl": None},
        {"jobId": "a\\b", "statusUrl": None},
        {"jobId": "a\x00b"},
        {"jobId": "x" * 1000, "statusUrl": None},
        {"jobId": None, "statusUrl": "{api}/v3/status/..%2F..%2Fetc%2Fpasswd"},
        {"jobId": None, "statusUrl": "{api}/v3/status/%2Ftmp%2Fx"},
    ],
)
def test_unsafe_job_ids_are_refused(
    emu: FireflyEmulator, client: FireflyClient, patch: dict[str, Any]
) -> None:
    patch = {
        k: v.replace("{api}", emu.api_url) if isinstance(v, str) else v for k, v in patch.items()
    }
    emu.script(GENERATE, [{"merge_patch": patch}])
    with pytest.raises(FireflyError, match="invalid job id"):
        client.generate_images({"prompt": "x"})
    FIGURES["unsafe job ids refused"] = FIGURES.get("unsafe job ids refused", 0) + 1


# -- item 17: the upload limit -----------------------------------------------------------------


def test_upload_limit_is_15_mb_as_adobe_counts_it(
    emu: FireflyEmulator, client: FireflyClient
) -> None:
    assert MAX_UPLOAD_BYTES == 15_000_000
    assert api_module.MAX_UPLOAD_BYTES == MAX_UPLOAD_BYTES
    client.get_access_token()
    before = len(emu.requests())
    with pytest.raises(FireflyValidationError, match=r"15 MB") as caught:
        client.upload_image(b"\x89PNG\r\n\x1a\n" + b"\0" * (MAX_UPLOAD_BYTES - 7))
    assert "MiB" not in str(caught.value)
    assert len(emu.requests()) == before


def test_zz_print_figures() -> None:
    """Print the figures (``pytest -s``) for docs/reliability.md."""
    print("\nHostile server, client layer:")
    for name, value in FIGURES.items():
        print(f"  {name}: {value}")
