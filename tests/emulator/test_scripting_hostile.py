"""Scripted hostile replies: raw and huge bodies, gzip bombs, dripping
servers, endless repeats, merge-patched real replies, and the request log. Every case goes over
HTTP to a running emulator."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import ssl
import time
import tracemalloc
import zlib
from pathlib import Path

import httpx
import pytest

from airflow_provider_firefly.testing import FireflyEmulator, SpawnedEmulator
from airflow_provider_firefly.testing.requestlog import REQUEST_LOG_SIZE

from .conftest import SpecClient, status_url_of

pytestmark = pytest.mark.timeout(120)
SMALL = {"prompt": "a", "size": {"width": 8, "height": 8}}
SUBMIT = "POST /v3/images/generate-async"
STATUS = "GET /v3/status/{jobId}"
IMS = "POST /ims/token/v3"
MODELS = "GET /v3/custom-models"
OUTPUT = "GET /outputs/{outputId}"


def _fp(value: str) -> str:
    return "fp:" + hashlib.sha256(value.encode()).hexdigest()[:12]


def _output_url(client: SpecClient) -> str:
    sub = client.submit("/v3/images/generate-async", SMALL)
    url: str = client.wait(status_url_of(sub))["result"]["outputs"][0]["image"]["url"]
    return url


def _wait_for(predicate: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(0.02)
    return False


# --- body_base64 ---------------------------------------------------------------------------


def test_body_base64_sends_exact_bytes(client: SpecClient) -> None:
    client.check = False
    raw = bytes(range(256)) + b"\x00\xff not utf-8 \xc3\x28"
    client.emu.script(STATUS, [{"status": 200, "body_base64": base64.b64encode(raw).decode()}])
    sub = client.submit("/v3/images/generate-async", SMALL)
    r = client.get(status_url_of(sub), headers=client.headers())
    assert r.content == raw
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-length"] == str(len(raw))


def test_body_base64_replaces_body_and_keeps_given_content_type(emu: FireflyEmulator) -> None:
    emu.script(
        IMS,
        [
            {
                "body": {"ignored": True},
                "body_base64": base64.b64encode(b'{"access_token": 1').decode(),
                "headers": {"Content-Type": "application/json"},
            }
        ],
    )
    r = httpx.post(emu.token_url, data={"grant_type": "client_credentials"})
    assert (r.status_code, r.content) == (200, b'{"access_token": 1')
    assert r.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("response", "fragment"),
    [
        ({"body_base64": "not base64!"}, "body_base64"),
        ({"filler_bytes": -1}, "filler_bytes"),
        ({"drip_bytes": 0}, "drip_bytes"),
        ({"merge_patch": [1, 2]}, "merge_patch"),
        ({"gzip_level": 9}, "unknown"),
    ],
)
def test_bad_script_fields_are_refused(
    emu: FireflyEmulator, response: dict[str, object], fragment: str
) -> None:
    r = httpx.post(emu.url + "/_emulator/script", json={"route": IMS, "responses": [response]})
    assert r.status_code == 400
    assert fragment in r.json()["message"]
    with pytest.raises(ValueError, match=fragment):
        emu.script(IMS, [response])
    assert emu.state.scripts.pending() == {}


# --- filler_bytes and gzip -----------------------------------------------------------------


def test_filler_makes_a_huge_valid_json_document(client: SpecClient) -> None:
    client.check = False
    n = 5_000_000
    client.emu.script(MODELS, [{"body": {"custom_models": []}, "filler_bytes": n}])
    r = client.get("/v3/custom-models", headers=client.headers())
    expected = len(json.dumps({"custom_models": []})) + n
    assert int(r.headers["content-length"]) == expected == len(r.content)
    assert r.json() == {"custom_models": []}
    assert r.content.endswith(b" " * 1000)


def test_filler_alone_is_spaces(emu: FireflyEmulator) -> None:
    emu.script(IMS, [{"status": 200, "filler_bytes": 3}])
    r = httpx.post(emu.token_url)
    assert r.content == b"   "


def test_gzip_bomb_is_small_on_the_wire_and_streamed(client: SpecClient) -> None:
    """64 KiB on the wire expand to 64 MiB; the emulator never holds the 64 MiB."""
    client.check = False
    url = _output_url(client)
    n = 64 * 1024 * 1024
    client.emu.script(OUTPUT, [{"filler_bytes": n, "gzip": True}])
    tracemalloc.start()
    try:
        wire = 0
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        expanded = 0
        with httpx.stream("GET", url) as r:
            assert r.headers["content-encoding"] == "gzip"
            assert "content-length" not in r.headers
            for chunk in r.iter_raw():
                wire += len(chunk)
                expanded += len(decoder.decompress(chunk, 1024 * 1024))
                while decoder.unconsumed_tail:
                    expanded += len(decoder.decompress(decoder.unconsumed_tail, 1024 * 1024))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert expanded == n
    assert wire < 100 * 1024, wire
    # Server (same process) and client together: far below the 64 MiB a buffered body needs.
    assert peak < 16 * 1024 * 1024, peak


def test_gzip_json_body_decodes(emu: FireflyEmulator) -> None:
    emu.script(IMS, [{"body": {"access_token": "x"}, "filler_bytes": 10, "gzip": True}])
    r = httpx.post(emu.token_url)
    assert r.headers["content-encoding"] == "gzip"
    assert r.json() == {"access_token": "x"}


# --- drip ----------------------------------------------------------------------------------


def test_drip_sends_chunks_with_pauses(emu: FireflyEmulator) -> None:
    emu.script(IMS, [{"body": "abcdef", "drip": 0.3, "drip_bytes": 2}])
    arrivals: list[tuple[float, bytes]] = []
    with httpx.stream("POST", emu.token_url) as r:
        assert r.headers["content-length"] == "6"
        for chunk in r.iter_raw():
            arrivals.append((time.monotonic(), chunk))
    assert b"".join(c for _, c in arrivals) == b"abcdef"
    # Two pauses of 0.3 s between three 2-byte chunks (timing relative to the first chunk, so
    # a slow start on a busy machine does not matter).
    assert arrivals[-1][0] - arrivals[0][0] >= 0.55
    assert arrivals[0][1] == b"ab"


def test_drip_stops_when_the_client_disconnects(emu: FireflyEmulator) -> None:
    """An endless one-byte-per-50-ms body: the server stops as soon as the client leaves."""
    emu.script(IMS, [{"body": "{", "filler_bytes": 10**9, "drip": 0.05}])
    with socket.create_connection(("127.0.0.1", int(emu.url.rsplit(":", 1)[1])), 5) as sock:
        sock.sendall(b"POST /ims/token/v3 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        received = b""
        while b"\r\n\r\n" not in received or len(received.split(b"\r\n\r\n", 1)[1]) < 3:
            received += sock.recv(100)
    assert received.startswith(b"HTTP/1.1 200")
    assert b"content-length: 1000000001" in received.lower()
    assert _wait_for(lambda: emu.counters().get("scripted_streams_aborted") == 1)
    # The emulator is still healthy and the next request is served at once.
    assert httpx.get(emu.url + "/_emulator/health", timeout=2).status_code == 200


def test_drip_of_a_processed_output_keeps_its_bytes(client: SpecClient) -> None:
    client.check = False
    url = _output_url(client)
    plain = httpx.get(url).content
    client.emu.script(OUTPUT, [{"process": True, "drip": 0.001, "drip_bytes": 64}])
    r = httpx.get(url)
    assert r.content == plain
    assert r.headers["content-type"] == "image/png"


def test_drip_outlives_a_read_timeout(emu: FireflyEmulator) -> None:
    """A drip: every gap is below the read timeout, the whole is not."""
    emu.script(IMS, [{"body": "x" * 15, "drip": 0.1}])
    start = time.monotonic()
    r = httpx.post(emu.token_url, timeout=0.5)
    elapsed = time.monotonic() - start
    assert r.content == b"x" * 15
    assert elapsed >= 1.4


# --- repeat --------------------------------------------------------------------------------


def test_repeat_answers_until_cleared(client: SpecClient) -> None:
    client.check = False
    emu = client.emu
    nxt = {"href": emu.url + "/v3/custom-models?start=0&limit=1", "rel": "next"}
    emu.script(MODELS, [{"body": {"custom_models": [], "_links": {"next": nxt}}, "repeat": True}])
    for _ in range(5):
        r = client.get("/v3/custom-models", headers=client.headers())
        assert r.json()["_links"]["next"] == nxt
    assert emu.state.scripts.pending() == {MODELS: 1}
    assert emu.counters()["scripted_responses"] == 5
    httpx.request("DELETE", emu.url + "/_emulator/script", json={"route": MODELS})
    r = client.get("/v3/custom-models", headers=client.headers())
    assert "next" not in r.json()["_links"]


def test_repeat_over_http_on_the_wildcard(emu: FireflyEmulator) -> None:
    httpx.post(
        emu.url + "/_emulator/script",
        json={"route": "*", "responses": [{"status": 503, "repeat": True}]},
    )
    codes = [httpx.post(emu.token_url).status_code for _ in range(3)]
    assert codes == [503, 503, 503]
    emu.clear_scripts()
    assert httpx.post(emu.token_url).status_code == 400  # back to the real IMS


# --- merge_patch ---------------------------------------------------------------------------


def test_merge_patch_accepts_the_job_but_drops_status_url(client: SpecClient) -> None:
    client.check = False
    client.emu.script(SUBMIT, [{"merge_patch": {"statusUrl": None, "cancelUrl": None}}])
    r = client.submit("/v3/images/generate-async", SMALL)
    assert r.status_code == 202
    body = r.json()
    assert set(body) == {"jobId"}
    assert client.emu.counters()["jobs_submitted"] == 1
    # The job is real: its status URL works when built from the jobId.
    done = client.wait(f"{client.emu.url}/v3/status/{body['jobId']}")
    assert done["status"] == "succeeded"


def test_merge_patch_rewrites_a_status_reply(client: SpecClient) -> None:
    client.check = False
    sub = client.submit("/v3/images/generate-async", SMALL)
    status_url = status_url_of(sub)
    evil = [{"seed": 1, "image": {"url": "http://169.254.169.254/latest"}}]
    client.emu.script(
        STATUS, [{"merge_patch": {"jobId": "urn:ff:jobs:../../x", "result": {"outputs": evil}}}]
    )
    patched = client.get(status_url, headers=client.headers()).json()
    assert patched["jobId"] == "urn:ff:jobs:../../x"
    assert patched["result"]["outputs"] == evil
    assert patched["result"]["size"] == {"width": 8, "height": 8}  # the rest is real
    clean = client.get(status_url, headers=client.headers()).json()
    assert clean["result"]["outputs"][0]["image"]["url"].startswith(client.emu.url)


def test_merge_patch_with_cookie_and_status_on_ims(emu: FireflyEmulator) -> None:
    emu.script(
        IMS,
        [{"headers": {"Set-Cookie": "org=a; Path=/"}, "merge_patch": {"expires_in": 5}}],
    )
    r = httpx.post(
        emu.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": emu.client_id,
            "client_secret": emu.client_secret,
            "scope": "firefly_api",
        },
    )
    assert r.status_code == 200
    assert r.json()["expires_in"] == 5
    assert r.json()["access_token"]
    assert r.headers["set-cookie"] == "org=a; Path=/"
    assert r.headers["content-length"] == str(len(r.content))
    assert emu.counters()["ims_tokens_issued"] == 1


def test_merge_patch_leaves_non_json_replies_alone(client: SpecClient) -> None:
    client.check = False
    url = _output_url(client)
    plain = httpx.get(url).content
    client.emu.script(OUTPUT, [{"merge_patch": {"x": 1}}])
    assert httpx.get(url).content == plain


def test_scripted_redirect_reaches_every_route_kind(client: SpecClient) -> None:
    """Scripts apply to IMS, status, custom models and outputs alike."""
    client.check = False
    emu = client.emu
    target = "http://127.0.0.1:9/elsewhere"
    sub = client.submit("/v3/images/generate-async", SMALL)
    out = _output_url(client)
    for route in (IMS, STATUS, MODELS, OUTPUT):
        emu.script(route, [{"status": 302, "headers": {"Location": target}}])
    calls = [
        httpx.post(emu.token_url),
        httpx.get(status_url_of(sub), headers=client.headers()),
        httpx.get(emu.url + "/v3/custom-models", headers=client.headers()),
        httpx.get(out),
    ]
    assert [(c.status_code, c.headers["location"]) for c in calls] == [(302, target)] * 4
    assert emu.state.scripts.pending() == {}


# --- request log ---------------------------------------------------------------------------


def test_request_log_fingerprints_secrets(client: SpecClient) -> None:
    emu = client.emu
    token = client.token
    httpx.get(
        emu.url + "/v3/custom-models?limit=2",
        headers=client.headers(cookie="org=secret", **{"x-user-token": "utok"}),
    )
    httpx.get(emu.url + "/nowhere")
    log = emu.requests()
    assert [e["path"] for e in log] == ["/ims/token/v3", "/v3/custom-models", "/nowhere"]
    ims, models, nowhere = log
    assert (ims["method"], ims["query"], ims["route"]) == ("POST", False, IMS)
    assert (models["query"], models["route"]) == (True, MODELS)
    assert nowhere["route"] is None
    h = models["headers"]
    assert h["authorization"] == _fp(f"Bearer {token}")
    assert h["x-api-key"] == _fp(emu.client_id)
    assert h["cookie"] == _fp("org=secret")
    assert h["x-user-token"] == _fp("utok")
    assert h["host"].startswith("127.0.0.1:")
    dumped = json.dumps(log)
    for secret in (token, emu.client_secret, "org=secret", "utok"):
        assert secret not in dumped
    over_http = httpx.get(emu.url + "/_emulator/requests").json()["requests"]
    assert over_http == log  # the control call itself is not logged
    emu.reset()
    assert emu.requests() == []


def test_request_log_keeps_the_last_2000(emu: FireflyEmulator) -> None:
    # 2,000 HTTP round trips take ~20 s on a busy CI box: fill the log of the running
    # emulator directly, then prove over HTTP that the oldest entry is dropped.
    log = emu.state.requests
    for i in range(REQUEST_LOG_SIZE):
        log.record("GET", f"/n{i}", b"", [], None)
    httpx.get(emu.url + "/last")
    entries = httpx.get(emu.url + "/_emulator/requests").json()["requests"]
    assert len(entries) == REQUEST_LOG_SIZE == 2000
    assert [entries[0]["path"], entries[-1]["path"]] == ["/n1", "/last"]


# --- the spawned (CLI) emulator takes the same scripts ---------------------------------------


def test_spawned_emulator_accepts_every_new_field() -> None:
    with SpawnedEmulator(["--job-duration", "0"]) as emu:
        script = [
            {"body_base64": base64.b64encode(b"raw").decode(), "filler_bytes": 2, "gzip": True},
            {"body": "ab", "drip": 0.01, "drip_bytes": 1, "repeat": True},
        ]
        r = httpx.post(emu.url + "/_emulator/script", json={"route": IMS, "responses": script})
        assert r.status_code == 200, r.text
        first = httpx.post(emu.url + "/ims/token/v3")
        assert (first.content, first.headers["content-encoding"]) == (b"raw  ", "gzip")
        assert [httpx.post(emu.url + "/ims/token/v3").content for _ in range(2)] == [b"ab"] * 2
        httpx.request("DELETE", emu.url + "/_emulator/script", json={"route": IMS})
        patch = {"route": IMS, "responses": [{"merge_patch": {"error": "patched"}}]}
        httpx.post(emu.url + "/_emulator/script", json=patch)
        assert httpx.post(emu.url + "/ims/token/v3").json()["error"] == "patched"
        log = httpx.get(emu.url + "/_emulator/requests").json()["requests"]
        assert [e["route"] for e in log] == [IMS] * 4


def test_spawned_control_helpers(tmp_path: Path) -> None:
    """script()/requests()/counters()/configure()/reset() of a child process, over HTTPS."""
    with SpawnedEmulator(["--tls-self-signed", str(tmp_path)]) as emu:
        ca = ssl.create_default_context(cafile=str(emu.ca_file))
        emu.script(IMS, [{"status": 418, "repeat": True}])
        codes = [httpx.post(emu.url + "/ims/token/v3", verify=ca).status_code for _ in range(2)]
        assert codes == [418, 418]
        emu.clear_scripts(IMS)
        assert httpx.post(emu.url + "/ims/token/v3", verify=ca).status_code == 400
        assert [e["route"] for e in emu.requests()] == [IMS] * 3
        assert emu.counters()["scripted_responses"] == 2
        emu.configure(job_duration=7)
        assert emu.control("GET", "config")["job_duration"] == 7
        emu.reset()
        assert emu.requests() == []
        assert emu.control("GET", "config")["job_duration"] == 1.0
        with pytest.raises(RuntimeError, match="400"):
            emu.script(IMS, [{"nonsense": 1}])
