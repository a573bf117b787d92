"""IMS token endpoint and gateway checks."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest

from airflow_provider_firefly.testing import FireflyEmulator

from .conftest import SCOPE, SpecClient

pytestmark = pytest.mark.timeout(60)


def _form(emu: FireflyEmulator, **over: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": emu.client_id,
        "client_secret": emu.client_secret,
        "scope": SCOPE,
    } | over


def test_token_form_body(emu: FireflyEmulator) -> None:
    r = httpx.post(emu.token_url, data=_form(emu))
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86399
    _header, payload, _sig = body["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["type"] == "access_token"
    assert claims["as"] == "ims-na1"
    assert claims["client_id"] == emu.client_id
    assert claims["expires_in"] == "86399000"
    assert abs(int(claims["created_at"]) - time.time() * 1000) < 5000
    counters = emu.counters()
    assert counters["ims_token_requests"] == 1
    assert counters["ims_tokens_issued"] == 1


def test_token_query_string_multipart_and_basic(emu: FireflyEmulator) -> None:
    r = httpx.post(emu.token_url, params=_form(emu))
    assert r.status_code == 200
    r = httpx.post(emu.token_url, files={k: (None, v) for k, v in _form(emu).items()})
    assert r.status_code == 200
    basic = base64.b64encode(f"{emu.client_id}:{emu.client_secret}".encode()).decode()
    r = httpx.post(
        emu.token_url,
        data={"grant_type": "client_credentials", "scope": SCOPE},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert r.status_code == 200
    assert emu.counters()["ims_tokens_issued"] == 3


@pytest.mark.parametrize(
    ("over", "error", "description"),
    [
        ({"client_id": "nope"}, "invalid_client", "invalid client_id parameter"),
        ({"client_secret": "nope"}, "invalid_client", "invalid client_secret parameter"),
        ({"scope": "openid,not_a_scope"}, "invalid_scope", None),
        ({"scope": ""}, "invalid_scope", None),
        ({"grant_type": ""}, "invalid_request", None),
        ({"grant_type": "password"}, "unsupported_grant_type", None),
        ({"client_id": ""}, "invalid_request", None),
    ],
)
def test_token_errors(
    emu: FireflyEmulator, over: dict[str, str], error: str, description: str | None
) -> None:
    r = httpx.post(emu.token_url, data=_form(emu, **over))
    assert r.status_code == 400
    assert r.json()["error"] == error
    if description:
        assert r.json()["error_description"] == description
    assert emu.counters()["ims_tokens_issued"] == 0


def test_configurable_lifetime_scopes_and_second_secret(emu: FireflyEmulator) -> None:
    emu.configure(token_lifetime=120, accepted_scopes=["firefly_api"], secondary_client_secret="s2")
    r = httpx.post(emu.token_url, data=_form(emu, scope="firefly_api"))
    assert r.json()["expires_in"] == 120
    r = httpx.post(emu.token_url, data=_form(emu, scope="openid,firefly_api"))
    assert r.json()["error"] == "invalid_scope"
    r = httpx.post(emu.token_url, data=_form(emu, scope="firefly_api", client_secret="s2"))
    assert r.status_code == 200


def test_gateway_errors(client: SpecClient) -> None:
    emu = client.emu
    path = "/v3/images/generate-async"
    body = {"prompt": "a"}
    r = client.post(path, json=body, headers={"Authorization": f"Bearer {client.token}"})
    assert (r.status_code, r.json()) == (
        403,
        {"error_code": "403000", "message": "Api Key is required"},
    )
    r = client.post(path, json=body, headers={"x-api-key": emu.client_id})
    assert (r.status_code, r.json()["error_code"]) == (401, "401013")
    forged = client.token[:-4] + ("AAAA" if not client.token.endswith("AAAA") else "BBBB")
    r = client.post(
        path, json=body, headers={"Authorization": f"Bearer {forged}", "x-api-key": emu.client_id}
    )
    assert r.json() == {"error_code": "401013", "message": "Oauth token is not valid"}
    r = client.post(path, json=body, headers=client.headers(**{"x-api-key": "someone-else"}))
    assert (r.status_code, r.json()["error_code"]) == (403, "403003")
    r = client.post(
        path, content="prompt=a", headers=client.headers(**{"content-type": "text/plain"})
    )
    assert (r.status_code, r.json()["error_code"]) == (415, "invalid_content_type")
    r = client.post(
        "/v3/images/precise-composite",
        content=b"{}",
        headers=client.headers(**{"content-type": "multipart/form-data; boundary=x"}),
    )
    assert r.status_code == 415
    assert emu.counters()["jobs_submitted"] == 0


def test_missing_scope_gives_access_error(client: SpecClient) -> None:
    token = client.fetch_token(scope="openid,AdobeID")
    r = client.post(
        "/v3/images/generate-async",
        json={"prompt": "a"},
        headers={"Authorization": f"Bearer {token}", "x-api-key": client.emu.client_id},
    )
    assert r.status_code == 403
    assert r.json()["error_code"] == "access_error"
    assert r.headers["x-access-error"] == "invalid_ims_scope"


def test_token_expiry(client: SpecClient) -> None:
    client.emu.configure(token_lifetime=0.3)
    token = client.fetch_token()
    h = {"Authorization": f"Bearer {token}", "x-api-key": client.emu.client_id}
    assert client.get("/v3/custom-models", headers=h).status_code == 200
    time.sleep(0.4)
    r = client.get("/v3/custom-models", headers=h)
    assert (r.status_code, r.json()["error_code"]) == (401, "401013")


def test_revoke_one_and_all(client: SpecClient) -> None:
    emu = client.emu
    t1, t2 = client.fetch_token(), client.fetch_token()

    def call(tok: str) -> int:
        h = {"Authorization": f"Bearer {tok}", "x-api-key": emu.client_id}
        return client.get("/v3/custom-models", headers=h).status_code

    assert call(t1) == call(t2) == 200
    r = httpx.post(emu.url + "/_emulator/revoke", json={"token": t1})
    assert r.status_code == 200
    assert (call(t1), call(t2)) == (401, 200)
    emu.revoke_tokens()
    assert call(t2) == 401
    t3 = client.fetch_token()
    assert call(t3) == 200  # tokens issued after a revocation work


def test_other_client_cannot_see_jobs(client: SpecClient) -> None:
    emu = client.emu
    emu.configure(extra_clients={"other-client": "other-secret"})
    r = client.submit(
        "/v3/images/generate-async", {"prompt": "a", "size": {"width": 8, "height": 8}}
    )
    status_url = r.json()["statusUrl"]
    tok = httpx.post(
        emu.token_url,
        data=_form(emu, client_id="other-client", client_secret="other-secret"),
    ).json()["access_token"]
    r = client.get(
        status_url, headers={"Authorization": f"Bearer {tok}", "x-api-key": "other-client"}
    )
    assert (r.status_code, r.json()["error_code"]) == (404, "unknown_job_id")
    # a token of one client with the api key of another
    r = client.get(
        status_url, headers={"Authorization": f"Bearer {tok}", "x-api-key": emu.client_id}
    )
    assert r.json()["error_code"] == "403003"
