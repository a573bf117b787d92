"""Output URLs (expiry, signature, auth), content policy (451) and rate limits (429)."""

from __future__ import annotations

import struct
import time
from email.utils import parsedate_to_datetime

import httpx
import pytest

from .conftest import SpecClient, status_url_of

pytestmark = pytest.mark.timeout(60)
SMALL = {"prompt": "a", "size": {"width": 8, "height": 8}}


def _output_url(client: SpecClient) -> str:
    r = client.submit("/v3/images/generate-async", SMALL)
    url: str = client.wait(status_url_of(r))["result"]["outputs"][0]["image"]["url"]
    return url


def test_output_needs_no_auth_and_records_auth(client: SpecClient) -> None:
    url = _output_url(client)
    assert "X-Amz-Signature=" in url
    assert "X-Amz-Expires=3600" in url
    assert httpx.get(url).status_code == 200
    assert client.emu.counters()["authorization_sent_to_outputs"] == 0
    assert httpx.get(url, headers=client.headers()).status_code == 200
    counters = client.emu.counters()
    assert counters["authorization_sent_to_outputs"] == 1
    assert counters["output_downloads"] == 2
    seen = counters["last_headers"]["GET /outputs/{outputId}"]
    assert seen["authorization"].startswith("Bearer sha256:")
    assert client.token not in str(counters)


def test_output_url_expiry_and_bad_signature(client: SpecClient) -> None:
    client.emu.configure(output_url_expiry=1)
    url = _output_url(client)
    bad = url[:-3] + ("000" if not url.endswith("000") else "111")
    r = httpx.get(bad)
    assert r.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in r.text
    assert httpx.get(url.split("?")[0]).status_code == 403
    time.sleep(1.05)
    r = httpx.get(url)
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/xml")
    assert "<Code>AccessDenied</Code>" in r.text
    assert "Request has expired" in r.text


def test_padded_output_is_streamed_valid_png(client: SpecClient) -> None:
    client.emu.configure(output_padding_bytes=20 * 1024 * 1024)
    url = _output_url(client)
    head = httpx.head(url)
    total = int(head.headers["content-length"])
    assert total >= 20 * 1024 * 1024
    kinds = []
    received = 0
    with httpx.stream("GET", url) as r:
        buf = b""
        for chunk in r.iter_bytes():
            received += len(chunk)
            if len(buf) < 200:
                buf += chunk[:200]
    assert received == total
    assert buf[:8] == b"\x89PNG\r\n\x1a\n"
    (ihdr_len,) = struct.unpack(">I", buf[8:12])
    kinds.append(buf[12:16])
    assert kinds == [b"IHDR"]
    assert ihdr_len == 13


def test_451_at_submit(client: SpecClient) -> None:
    client.emu.configure(blocked_words=["forbidden"])
    r = client.submit("/v3/images/generate-async", {"prompt": "a Forbidden castle"})
    assert r.status_code == 451
    assert r.json()["error_code"] == "prompt_unsafe"
    r = client.submit(
        "/v4/images/generate-async", {"prompt": "forbidden"}, **{"x-model-version": "image5"}
    )
    assert r.status_code == 451  # documented for v4: spec-checked
    assert client.submit("/v3/images/generate-async", SMALL).status_code == 202
    assert client.emu.counters()["jobs_submitted"] == 1


def test_451_at_poll(client: SpecClient) -> None:
    client.emu.configure(blocked_words=("forbidden",), content_policy_stage="poll-failed")
    r = client.submit("/v3/images/generate-async", {"prompt": "forbidden"})
    assert r.status_code == 202
    body = client.wait(status_url_of(r))
    assert (body["status"], body["error_code"]) == ("failed", "prompt_unsafe")
    client.emu.configure(content_policy_stage="poll-451")
    r = client.submit("/v3/images/generate-async", {"prompt": "forbidden"})
    poll = client.get(status_url_of(r), headers=client.headers())
    assert (poll.status_code, poll.json()["error_code"]) == (451, "prompt_unsafe")


def test_rate_limit_seconds(client: SpecClient) -> None:
    client.emu.configure(rate_limit=4, rate_limit_window=60)
    codes = [
        client.get("/v3/custom-models", headers=client.headers()).status_code for _ in range(5)
    ]
    assert codes == [200, 200, 200, 200, 429]
    r = client.submit("/v3/images/generate-async", SMALL)
    assert r.status_code == 429  # spec-checked: ApiError rate_limited
    assert r.json()["error_code"] == "rate_limited"
    assert r.headers["x-access-rate-limit-level"] == "org"
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert client.emu.counters()["rate_limited"] == 2
    # IMS and outputs are not rate limited
    assert client.fetch_token()


def test_rate_limit_http_date_and_empty_body(client: SpecClient) -> None:
    client.emu.configure(
        rate_limit=1,
        rate_limit_window=2,
        retry_after_format="http-date",
        rate_limit_empty_body=True,
    )
    assert client.get("/v3/custom-models", headers=client.headers()).status_code == 200
    r = client.submit("/v3/images/generate-async", SMALL)
    assert r.status_code == 429
    assert r.content == b""
    when = parsedate_to_datetime(r.headers["retry-after"])
    assert 0 <= when.timestamp() - time.time() <= 3
    time.sleep(2.05)
    assert client.submit("/v3/images/generate-async", SMALL).status_code == 202
