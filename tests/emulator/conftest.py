"""Helpers for the emulator tests: a spec-checking HTTP client and ready-made requests."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from airflow_provider_firefly import schema
from airflow_provider_firefly.testing import FireflyEmulator
from airflow_provider_firefly.testing import spec as spec_mod
from airflow_provider_firefly.testing.media import PngImage

SCOPE = "openid,AdobeID,session,additional_info,read_organizations,firefly_api,ff_apis"

_SPEC_ROUTES = [
    (re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(p)) + "$"), p)
    for p in schema.load_spec()["paths"]
]


def spec_template(path: str) -> str | None:
    for regex, template in _SPEC_ROUTES:
        if regex.match(path):
            return template
    return None


class SpecViolation(AssertionError):
    pass


def check_against_spec(response: httpx.Response) -> bool:
    """Validate ``response`` against the spec's schema for its operation and status.

    Returns True when a schema was found and checked. Raises ``SpecViolation`` otherwise
    when the body does not conform or the documented content type differs.
    """
    request = response.request
    template = spec_template(urlsplit(str(request.url)).path)
    if template is None:
        return False
    op = schema.operation(template, request.method)
    documented = op.get("responses", {}).get(str(response.status_code))
    if documented is None:
        return False
    ctype = response.headers.get("content-type", "").split(";")[0].strip()
    content = documented.get("content") or {}
    if not content:
        return False
    if not response.content:
        # Adobe's gateway sends some errors (e.g. 429) without a body; nothing to validate.
        return False
    if ctype not in content:
        raise SpecViolation(
            f"{request.method} {template} {response.status_code}: content type {ctype!r} "
            f"not in documented {sorted(content)}"
        )
    validator = spec_mod.response_validator(template, request.method, response.status_code, ctype)
    if validator is None:
        return False
    body: Any = response.json() if ctype == "application/json" else response.text
    if isinstance(body, dict) and str(body.get("error_code", "")).isdigit():
        # Adobe I/O gateway errors (401013, 403000, 403003) come from the gateway in front of
        # the service, with numeric codes outside the service's enums.
        if set(body) != {"error_code", "message"} or not isinstance(body["message"], str):
            raise SpecViolation(f"bad gateway error body {body!r}")
        return True
    if (
        template == "/v3/status/{jobId}"
        and isinstance(body, dict)
        and body.get("status") == "succeeded"
        and any("video" in o for o in (body.get("result") or {}).get("outputs", []))
    ):
        # Documented deviation: the spec's JobResponse has no video variant; video results
        # follow the spec's own (unreferenced) AsyncResult schema.
        errors = list(spec_mod.schema_validator("AsyncResult").iter_errors(body["result"]))
        head = {k: v for k, v in body.items() if k != "result"}
        errors += list(
            spec_mod.schema_validator("JobPollPayload").iter_errors(head | {"status": "running"})
        )
    else:
        errors = list(validator.iter_errors(body))
    if errors:
        raise SpecViolation(
            f"{request.method} {template} {response.status_code} does not match the spec: "
            + "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
        )
    return True


class SpecClient:
    """httpx client that checks every Firefly response against the spec."""

    def __init__(self, emu: FireflyEmulator, timeout: float = 10.0) -> None:
        self.emu = emu
        self.http = httpx.Client(timeout=timeout)
        self.checked = 0
        #: Set to False for scripted (deliberately off-spec) responses.
        self.check = True
        self._token: str | None = None

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        if url.startswith("/"):
            url = self.emu.url + url
        response = self.http.request(method, url, **kwargs)
        if self.check and check_against_spec(response):
            self.checked += 1
        return response

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("POST", url, **kw)

    def put(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("PUT", url, **kw)

    # --- auth ---------------------------------------------------------------------------------
    def fetch_token(self, scope: str = SCOPE) -> str:
        r = self.http.post(
            self.emu.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": self.emu.client_id,
                "client_secret": self.emu.client_secret,
                "scope": scope,
            },
        )
        assert r.status_code == 200, r.text
        token: str = r.json()["access_token"]
        return token

    @property
    def token(self) -> str:
        if self._token is None:
            self._token = self.fetch_token()
        return self._token

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "x-api-key": self.emu.client_id} | extra

    # --- helpers ------------------------------------------------------------------------------
    def upload_png(self, width: int = 32, height: int = 32, seed: int = 1) -> str:
        data = PngImage(width, height, seed).to_bytes()
        r = self.post(
            "/v2/storage/image", content=data, headers=self.headers(**{"content-type": "image/png"})
        )
        assert r.status_code == 200, r.text
        upload_id: str = r.json()["images"][0]["id"]
        return upload_id

    def submit(self, path: str, body: Any, **headers: str) -> httpx.Response:
        return self.post(path, json=body, headers=self.headers(**headers))

    def wait(self, status_url: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            r = self.get(status_url, headers=self.headers())
            assert r.status_code == 200, r.text
            body: dict[str, Any] = r.json()
            if body["status"] in ("succeeded", "failed", "cancelled", "timeout"):
                return body
            assert time.monotonic() < deadline, body
            time.sleep(0.02)


def status_url_of(response: httpx.Response) -> str:
    body = response.json()
    if "links" in body:
        href: str = body["links"]["result"]["href"]
        return href
    url: str = body["statusUrl"]
    return url


def cancel_url_of(response: httpx.Response) -> str:
    body = response.json()
    if "links" in body:
        href: str = body["links"]["cancel"]["href"]
        return href
    url: str = body["cancelUrl"]
    return url


@pytest.fixture(scope="session")
def shared_emulator() -> Iterator[FireflyEmulator]:
    with FireflyEmulator(job_duration=0) as emu:
        yield emu


@pytest.fixture
def emu(shared_emulator: FireflyEmulator) -> FireflyEmulator:
    shared_emulator.reset()
    return shared_emulator


@pytest.fixture
def client(emu: FireflyEmulator) -> Iterator[SpecClient]:
    c = SpecClient(emu)
    yield c
    c.close()


def valid_bodies(client: SpecClient) -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
    """A valid request (body, extra headers) for every job-creating operation."""
    uid = client.upload_png(32, 24)
    mask = client.upload_png(32, 24, seed=2)
    src = {"source": {"uploadId": uid}}
    size = {"width": 64, "height": 48}
    bg = {"image": src, "fillAreaMask": {"source": {"uploadId": mask}}}
    return {
        "/v3/images/generate-async": (
            {"prompt": "a lighthouse", "numVariations": 2, "seeds": [1, 2], "size": size},
            {"x-model-version": "image4_standard"},
        ),
        "/v4/images/generate-async": (
            {"prompt": "a lighthouse", "aspectRatio": "16:9", "resolutionLevel": "1MP"},
            {"x-model-version": "image5"},
        ),
        "/v3/images/generate-similar-async": ({"image": src, "size": size}, {}),
        "/v3/images/expand-async": ({"image": src, "size": size, "prompt": "sea"}, {}),
        "/v3/images/fill-async": (
            {"image": src, "mask": {"source": {"uploadId": mask}}, "prompt": "flowers"},
            {},
        ),
        "/v3/images/generate-object-composite-async": (
            {"image": src, "prompt": "on a table", "size": size},
            {},
        ),
        "/v3/images/precise-composite": ({"background": bg, "object": {"image": src}}, {}),
        "/v3/images/adaptive-composite": (
            {"background": bg, "object": {"image": src}, "numVariations": 2, "harmonization": 0.3},
            {},
        ),
        "/v3/images/upscale": ({"image": src, "seeds": [7], "upscaleFactor": 2}, {}),
        "/v3/videos/generate": (
            {"prompt": "waves", "seeds": [5], "sizes": [{"width": 64, "height": 36}]},
            {"x-model-version": "video1_standard"},
        ),
    }


SUBMIT_PATHS = [
    "/v3/images/generate-async",
    "/v4/images/generate-async",
    "/v3/images/generate-similar-async",
    "/v3/images/expand-async",
    "/v3/images/fill-async",
    "/v3/images/generate-object-composite-async",
    "/v3/images/precise-composite",
    "/v3/images/adaptive-composite",
    "/v3/images/upscale",
    "/v3/videos/generate",
]
