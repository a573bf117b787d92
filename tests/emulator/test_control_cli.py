"""Scripted faults, control routes, the pytest fixture and the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from airflow_provider_firefly.testing import FireflyEmulator

from .conftest import SpecClient, status_url_of

pytestmark = pytest.mark.timeout(60)
SMALL = {"prompt": "a", "size": {"width": 8, "height": 8}}
SUBMIT = "POST /v3/images/generate-async"


def test_scripted_status_headers_body_in_order(client: SpecClient) -> None:
    client.check = False  # scripted bodies are off-spec on purpose
    client.emu.script(
        SUBMIT,
        [
            {"status": 503, "headers": {"retry-after": "1"}, "body": {"error_code": "x"}},
            {"status": 500, "body": "plain text"},
        ],
    )
    r1 = client.submit("/v3/images/generate-async", SMALL)
    r2 = client.submit("/v3/images/generate-async", SMALL)
    r3 = client.submit("/v3/images/generate-async", SMALL)
    assert (r1.status_code, r1.headers["retry-after"], r1.json()) == (503, "1", {"error_code": "x"})
    assert (r2.status_code, r2.text) == (500, "plain text")
    assert r3.status_code == 202
    counters = client.emu.counters()
    assert counters["jobs_submitted"] == 1
    assert counters["requests_by_route"][SUBMIT] == 3
    assert counters["scripted_responses"] == 2


def test_script_over_http_and_wildcard(client: SpecClient) -> None:
    client.check = False
    url = client.emu.url
    assert client.token  # fetch before the wildcard script would catch the IMS call
    r = httpx.post(
        url + "/_emulator/script",
        json={"route": "GET /v3/status/{jobId}", "responses": [{"status": 429, "body": ""}]},
    )
    assert r.json()["queued"] == 1
    httpx.post(url + "/_emulator/script", json={"route": "*", "responses": [{"status": 502}]})
    sub = client.submit("/v3/images/generate-async", SMALL)
    assert sub.status_code == 502  # wildcard
    sub = client.submit("/v3/images/generate-async", SMALL)
    assert client.get(status_url_of(sub), headers=client.headers()).status_code == 429
    httpx.post(
        url + "/_emulator/script",
        json={"route": "POST /ims/token/v3", "responses": [{"status": 500}]},
    )
    assert httpx.post(client.emu.token_url, data={}).status_code == 500
    httpx.post(
        url + "/_emulator/script",
        json={"route": "GET /outputs/...", "responses": [{"status": 404}]},
    )
    out = client.wait(status_url_of(sub))["result"]["outputs"][0]["image"]["url"]
    assert httpx.get(out).status_code == 404
    assert httpx.get(out).status_code == 200


def test_delay_causes_client_timeout(client: SpecClient) -> None:
    client.emu.script(SUBMIT, [{"delay": 1.0, "status": 503}])
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            client.emu.url + "/v3/images/generate-async",
            json=SMALL,
            headers=client.headers(),
            timeout=0.3,
        )
    assert client.emu.counters()["jobs_submitted"] == 0


def test_drop_connection(client: SpecClient) -> None:
    client.emu.script(SUBMIT, [{"drop": True}])
    # A drop reads as a clean close or as a reset, depending on timing.
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.submit("/v3/images/generate-async", SMALL)
    assert client.submit("/v3/images/generate-async", SMALL).status_code == 202


def test_process_then_drop_means_job_was_accepted(client: SpecClient) -> None:
    client.emu.script(SUBMIT, [{"process": True, "drop": True}])
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.submit("/v3/images/generate-async", SMALL)
    assert client.emu.counters()["jobs_submitted"] == 1
    jobs = httpx.get(client.emu.url + "/_emulator/jobs").json()["jobs"]
    assert len(jobs) == 1


def test_process_then_delay(client: SpecClient) -> None:
    client.emu.script(SUBMIT, [{"process": True, "delay": 1.0}])
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            client.emu.url + "/v3/images/generate-async",
            json=SMALL,
            headers=client.headers(),
            timeout=0.3,
        )
    assert client.emu.counters()["jobs_submitted"] == 1


def test_config_reset_and_counters_routes(client: SpecClient) -> None:
    url = client.emu.url
    r = httpx.post(url + "/_emulator/config", json={"job_duration": 7, "rate_limit": 3})
    assert r.json()["job_duration"] == 7
    assert r.json()["client_secret"] == "***"
    assert httpx.post(url + "/_emulator/config", json={"nope": 1}).status_code == 400
    client.submit("/v3/images/generate-async", SMALL)
    assert httpx.get(url + "/_emulator/counters").json()["jobs_submitted"] == 1
    httpx.post(url + "/_emulator/reset")
    assert httpx.get(url + "/_emulator/config").json()["job_duration"] == 0
    counters = httpx.get(url + "/_emulator/counters").json()
    assert counters["jobs_submitted"] == 0
    assert httpx.get(url + "/_emulator/jobs").json()["jobs"] == []
    # the cached token survives a reset
    assert client.get("/v3/custom-models", headers=client.headers()).status_code == 200


def test_unknown_routes(client: SpecClient) -> None:
    assert httpx.get(client.emu.url + "/v9/nothing").status_code == 404
    assert httpx.get(client.emu.url + "/v3/images/generate-async").status_code == 405


@pytest.mark.firefly_emulator(job_duration=5)
def test_pytest_fixture_with_marker(firefly_emulator: FireflyEmulator) -> None:
    assert firefly_emulator.url.startswith("http://127.0.0.1:")
    assert firefly_emulator.state.config.job_duration == 5
    r = httpx.post(
        firefly_emulator.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": "firefly-emulator-client",
            "client_secret": "firefly-emulator-secret",
            "scope": "openid,AdobeID,firefly_api,ff_apis",
        },
    )
    assert r.status_code == 200


def test_python_api_attributes() -> None:
    with FireflyEmulator(client_id="cid", client_secret="sec", job_duration=0) as emu:
        assert emu.ims_url == emu.api_url == emu.url
        assert (emu.client_id, emu.client_secret) == ("cid", "sec")
        assert emu.running
    assert not emu.running
    with pytest.raises(TypeError):
        FireflyEmulator(no_such_option=1)


def test_cli_help_lists_options() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "airflow_provider_firefly.testing.emulator", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for flag in (
        "--host", "--port", "--client-id", "--client-secret", "--job-duration",
        "--token-lifetime", "--rate-limit", "--status-port", "--log-level",
        "--retry-after-format", "--blocked-words", "--output-url-expiry",
    ):  # fmt: skip
        assert flag in out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_and_stops_on_signal(sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "airflow_provider_firefly.testing.emulator",
            "--host", "127.0.0.1", "--port", "0", "--client-id", "cli-id",
            "--client-secret", "cli-secret", "--job-duration", "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        r = httpx.post(
            url + "/ims/token/v3",
            data={
                "grant_type": "client_credentials",
                "client_id": "cli-id",
                "client_secret": "cli-secret",
                "scope": "firefly_api",
            },
        )
        assert r.status_code == 200
        start = time.monotonic()
        os.kill(proc.pid, sig)
        assert proc.wait(10) == 0
        assert time.monotonic() - start < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for s in (proc.stdout, proc.stderr):
            if s:
                s.close()


def test_spawn_helper() -> None:
    spawned = FireflyEmulator.spawn("--job-duration", "0", "--rate-limit", "2")
    try:
        assert httpx.get(spawned.url + "/_emulator/health").json()["status"] == "ok"
        cfg = httpx.get(spawned.url + "/_emulator/config").json()
        assert cfg["rate_limit"] == 2
    finally:
        assert spawned.stop() == 0
