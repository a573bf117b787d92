"""Job lifecycle, cancel, forced states, status URLs on another listener."""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from airflow_provider_firefly.testing import FireflyEmulator

from .conftest import SpecClient, cancel_url_of, status_url_of

pytestmark = pytest.mark.timeout(60)
SMALL = {"prompt": "a", "size": {"width": 8, "height": 8}}


def test_pending_running_succeeded_with_progress(client: SpecClient) -> None:
    client.emu.configure(job_duration=0.6, pending_fraction=0.25)
    r = client.submit("/v3/images/generate-async", SMALL)
    url = status_url_of(r)
    seen: list[str] = []
    progress: list[float] = []
    while True:
        body = client.get(url, headers=client.headers()).json()
        if not seen or seen[-1] != body["status"]:
            seen.append(body["status"])
        if body["status"] == "running":
            progress.append(body["progress"])
        if body["status"] == "succeeded":
            break
        time.sleep(0.03)
    assert seen == ["pending", "running", "succeeded"]
    assert progress == sorted(progress)
    assert 0 < progress[0] < 100


def test_cancel_lifecycle_and_conflicts(client: SpecClient) -> None:
    client.emu.configure(job_duration=30, cancel_delay=0.2)
    r = client.submit("/v3/images/generate-async", SMALL)
    status_url, cancel_url = status_url_of(r), cancel_url_of(r)
    r = client.put(cancel_url, headers=client.headers())
    assert r.status_code == 200
    assert client.get(status_url, headers=client.headers()).json()["status"] == "cancel_pending"
    r = client.put(cancel_url, headers=client.headers())
    assert (r.status_code, r.json()["error_code"]) == (409, "job_already_canceled")
    time.sleep(0.25)
    body = client.get(status_url, headers=client.headers()).json()
    assert body["status"] == "cancelled"
    assert "error_code" in body

    client.emu.configure(job_duration=0)
    done = client.submit("/v3/images/generate-async", SMALL)
    client.wait(status_url_of(done))
    r = client.put(cancel_url_of(done), headers=client.headers())
    assert (r.status_code, r.json()["error_code"]) == (409, "job_completed")


@pytest.mark.parametrize(
    ("status", "cancel_status", "cancel_code"),
    [("failed", 409, "job_cancel_failed"), ("timeout", 410, "job_timeout")],
)
def test_forced_states(
    client: SpecClient, status: str, cancel_status: int, cancel_code: str
) -> None:
    client.emu.configure(job_duration=30)
    r = client.submit("/v3/images/generate-async", SMALL)
    job_id = r.json()["jobId"]
    ctl = httpx.post(
        f"{client.emu.url}/_emulator/jobs/{job_id}",
        json={"status": status, "message": "boom"},
    )
    assert ctl.status_code == 200
    body = client.wait(status_url_of(r))
    assert body["status"] == status
    assert body["message"] == "boom"
    r = client.put(cancel_url_of(r), headers=client.headers())
    assert (r.status_code, r.json()["error_code"]) == (cancel_status, cancel_code)


def test_force_success_and_duration(client: SpecClient) -> None:
    client.emu.configure(job_duration=30)
    r = client.submit("/v3/images/generate-async", SMALL)
    job_id = r.json()["jobId"]
    client.emu.set_job(job_id, duration=0)
    assert client.wait(status_url_of(r))["status"] == "succeeded"
    r = client.submit("/v3/images/generate-async", SMALL)
    client.emu.set_job(r.json()["jobId"], status="succeeded")
    assert client.wait(status_url_of(r))["status"] == "succeeded"


def test_unknown_and_malformed_job_ids(client: SpecClient) -> None:
    h = client.headers()
    r = client.get("/v3/status/urn:ff:jobs:abc:4b1f5c4e-2f0a-4e7b-9a57-3b0b9e7c2d11", headers=h)
    assert (r.status_code, r.json()["error_code"]) == (404, "unknown_job_id")
    r = client.get("/v3/status/not-a-job", headers=h)
    assert r.status_code == 422
    assert r.json()["validation_errors"][0]["loc"] == ["parameters", "jobId"]
    r = client.put("/v3/cancel/urn:ff:jobs:abc:4b1f5c4e-2f0a-4e7b-9a57-3b0b9e7c2d11", headers=h)
    assert r.status_code == 404


def test_url_encoded_job_id(client: SpecClient) -> None:
    r = client.submit("/v3/images/generate-async", SMALL)
    job_id = r.json()["jobId"]
    assert ":" in job_id
    r = client.get("/v3/status/" + quote(job_id, safe=""), headers=client.headers())
    assert r.status_code == 200
    assert r.json()["jobId"] == job_id


def test_control_lists_jobs(client: SpecClient) -> None:
    for _ in range(3):
        client.submit("/v3/images/generate-async", SMALL)
    jobs = httpx.get(client.emu.url + "/_emulator/jobs").json()["jobs"]
    assert len(jobs) == 3
    assert {j["route"] for j in jobs} == {"POST /v3/images/generate-async"}
    assert len(client.emu.jobs()) == 3


def test_status_urls_on_second_listener_and_host() -> None:
    with FireflyEmulator(job_duration=0, status_port=0, status_host="localhost") as emu:
        c = SpecClient(emu)
        try:
            r = c.submit("/v3/images/generate-async", SMALL)
            body = r.json()
            assert emu.status_url is not None
            assert emu.status_url.startswith("http://localhost:")
            assert emu.status_url != emu.url.replace("127.0.0.1", "localhost")
            assert body["statusUrl"].startswith(emu.status_url + "/v3/status/")
            assert c.wait(body["statusUrl"])["status"] == "succeeded"
            r = c.submit("/v3/images/generate-async", SMALL)
            assert c.put(r.json()["cancelUrl"], headers=c.headers()).status_code in (200, 409)
        finally:
            c.close()


def test_concurrent_clients(emu: FireflyEmulator) -> None:
    emu.configure(job_duration=0.2)
    errors: list[Any] = []
    results: list[str] = []

    def worker() -> None:
        c = SpecClient(emu)
        try:
            for _ in range(3):
                r = c.submit("/v3/images/generate-async", SMALL)
                assert r.status_code == 202
                body = c.wait(status_url_of(r))
                out = httpx.get(body["result"]["outputs"][0]["image"]["url"])
                assert out.status_code == 200
                results.append(body["jobId"])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            c.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert len(set(results)) == 24
    assert emu.counters()["jobs_submitted"] == 24
