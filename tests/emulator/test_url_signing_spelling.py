"""Output URLs that stay expired on a re-poll (or are re-signed), and the
``canceled`` spelling of the cancelled status; both as options and CLI flags."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from airflow_provider_firefly.testing import FireflyEmulator, SpawnedEmulator

from .conftest import SpecClient, cancel_url_of, status_url_of

pytestmark = pytest.mark.timeout(60)
SMALL = {"prompt": "a", "size": {"width": 8, "height": 8}}


def _succeeded(client: SpecClient) -> tuple[str, str]:
    sub = client.submit("/v3/images/generate-async", SMALL)
    status_url = status_url_of(sub)
    url: str = client.wait(status_url)["result"]["outputs"][0]["image"]["url"]
    return status_url, url


def _repoll(client: SpecClient, status_url: str) -> str:
    url: str = client.wait(status_url)["result"]["outputs"][0]["image"]["url"]
    return url


def test_default_signing_keeps_the_expired_url_on_a_new_poll(client: SpecClient) -> None:
    client.emu.configure(output_url_expiry=1.5)
    status_url, url = _succeeded(client)
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["1.5"]
    assert httpx.get(url).status_code == 200
    time.sleep(1.6)  # URLs live exactly output_url_expiry seconds
    expired = httpx.get(url)
    assert expired.status_code == 403
    assert b"Request has expired" in expired.content
    again = _repoll(client, status_url)
    assert again == url  # the same URL, still expired: a client must not loop on it
    assert httpx.get(again).status_code == 403


def test_every_poll_signing_gives_a_fresh_url_for_the_same_file(client: SpecClient) -> None:
    client.emu.configure(output_url_expiry=1.5, output_url_signing="every-poll")
    status_url, url = _succeeded(client)
    first = httpx.get(url)
    time.sleep(1.6)
    assert httpx.get(url).status_code == 403
    fresh = _repoll(client, status_url)
    assert fresh != url
    assert urlsplit(fresh).path == urlsplit(url).path  # same object, new signature
    second = httpx.get(fresh)
    assert second.status_code == 200
    assert second.content == first.content
    assert len(client.emu.state.outputs._outputs) == 1


def test_bad_signing_option_is_refused(emu: FireflyEmulator) -> None:
    with pytest.raises(ValueError, match="output_url_signing"):
        emu.configure(output_url_signing="sometimes")
    r = httpx.post(emu.url + "/_emulator/config", json={"cancelled_spelling": "cancel"})
    assert r.status_code == 400
    assert "cancelled_spelling" in r.json()["message"]


@pytest.mark.parametrize("spelling", ["cancelled", "canceled"])
def test_cancelled_spelling(client: SpecClient, spelling: str) -> None:
    client.emu.configure(job_duration=30, cancel_delay=0, cancelled_spelling=spelling)
    client.check = spelling == "cancelled"  # "canceled" is outside the spec's enum on purpose
    sub = client.submit("/v3/images/generate-async", SMALL)
    assert client.put(cancel_url_of(sub), headers=client.headers()).status_code == 200
    body = client.get(status_url_of(sub), headers=client.headers()).json()
    assert body["status"] == spelling
    assert body["error_code"] == "job_cancelled"
    assert client.emu.jobs()[0]["status"] == spelling


def test_force_accepts_either_spelling(client: SpecClient) -> None:
    client.check = False
    client.emu.configure(job_duration=30, cancelled_spelling="canceled")
    sub = client.submit("/v3/images/generate-async", SMALL)
    job_id = sub.json()["jobId"]
    r = httpx.post(f"{client.emu.url}/_emulator/jobs/{job_id}", json={"status": "canceled"})
    assert r.json()["status"] == "canceled"
    assert client.get(status_url_of(sub), headers=client.headers()).json()["status"] == "canceled"


def test_cli_flags() -> None:
    args = ["--job-duration", "30", "--cancel-delay", "0", "--cancelled-spelling", "canceled"]
    with SpawnedEmulator([*args, "--output-url-signing", "every-poll"]) as emu:
        cfg = httpx.get(emu.url + "/_emulator/config").json()
        assert (cfg["cancelled_spelling"], cfg["output_url_signing"]) == ("canceled", "every-poll")
        token = httpx.post(
            emu.url + "/ims/token/v3",
            data={
                "grant_type": "client_credentials",
                "client_id": "firefly-emulator-client",
                "client_secret": "firefly-emulator-secret",
                "scope": "firefly_api",
            },
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "x-api-key": "firefly-emulator-client"}
        sub = httpx.post(emu.url + "/v3/images/generate-async", json=SMALL, headers=headers)
        httpx.put(sub.json()["cancelUrl"], headers=headers)
        assert httpx.get(sub.json()["statusUrl"], headers=headers).json()["status"] == "canceled"
