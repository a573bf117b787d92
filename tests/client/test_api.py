"""FireflyClient end to end against the emulator: headers, every operation, uploads, downloads,
custom models, wait/cancel, the 401 refresh and the token host allow-list."""

from __future__ import annotations

import contextlib
import io
import uuid
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_firefly.client import (
    FireflyAuthError,
    FireflyClient,
    FireflyConfigError,
    FireflyConnectionError,
    FireflyCredentials,
    FireflyJobCancelledError,
    FireflyJobError,
    FireflyJobFailedError,
    FireflyJobTimeoutError,
    FireflyNotFoundError,
    FireflyOutputExpiredError,
    FireflyValidationError,
    HttpSettings,
    JobHandle,
    PollPolicy,
    TokenCacheSettings,
)
from airflow_provider_firefly.client.api import MAX_UPLOAD_BYTES
from airflow_provider_firefly.client.retry import RetryPolicy
from airflow_provider_firefly.client.transport import SyncTransport
from airflow_provider_firefly.client.transport_base import build_user_agent
from airflow_provider_firefly.testing import FireflyEmulator
from airflow_provider_firefly.testing.ims import fingerprint
from airflow_provider_firefly.testing.media import PngImage

pytestmark = pytest.mark.timeout(30)

FAST = PollPolicy(first_delay=0, min_interval=0.05, max_interval=0.1)
STATUS = "GET /v3/status/{jobId}"
GENERATE = "POST /v3/images/generate-async"


def make_client(emu: FireflyEmulator, tmp_path: Path, **http: Any) -> FireflyClient:
    """A client of ``emu`` with short timeouts and millisecond backoff."""
    options: dict[str, Any] = {"connect_timeout": 1.0, "read_timeout": 2.0, "max_attempts": 4}
    options.update(http)
    settings = HttpSettings(api_url=emu.api_url, **options)
    credentials = FireflyCredentials(emu.client_id, emu.client_secret, ims_url=emu.ims_url)
    client = FireflyClient(credentials, settings, TokenCacheSettings(cache_dir=tmp_path / "tok"))
    policy = RetryPolicy.from_settings(settings, backoff_base=0.01, backoff_max=0.05)
    for name in ("transport", "_token_transport"):
        setattr(client, name, SyncTransport(settings, user_agent=client.user_agent, policy=policy))
    return client


def png(width: int = 32, height: int = 24, seed: int = 1) -> bytes:
    return PngImage(width, height, seed).to_bytes()


@pytest.fixture
def emu(firefly_emulator: FireflyEmulator) -> FireflyEmulator:
    firefly_emulator.configure(job_duration=0)
    return firefly_emulator


@pytest.fixture
def client(emu: FireflyEmulator, tmp_path: Path) -> Any:
    with make_client(emu, tmp_path) as c:
        yield c


def routes(emu: FireflyEmulator) -> dict[str, int]:
    return dict(emu.counters()["requests_by_route"])


# -- headers and the token's destinations ----------------------------------------------------


def test_the_user_agent_names_this_package_extra_products_then_the_http_library() -> None:
    import requests

    from airflow_provider_firefly import __version__

    ours, library = (
        f"airflow-provider-firefly/{__version__}",
        f"python-requests/{requests.__version__}",
    )
    assert build_user_agent() == f"{ours} {library}"
    assert build_user_agent("apache-airflow/3.1.0") == f"{ours} apache-airflow/3.1.0 {library}"


def test_every_call_sends_bearer_api_key_and_user_agent(emu: FireflyEmulator, client: Any) -> None:
    status = client.run("generate_images", {"prompt": "a lighthouse"}, poll=FAST)
    client.download(status.outputs[0], lambda: contextlib.nullcontext(io.BytesIO()))
    upload_id = client.upload_image(png())
    assert upload_id
    assert list(client.list_custom_models())
    client.cancel(JobHandle.for_job_id(emu.api_url, status.job_id))

    counters = emu.counters()
    token = client.get_access_token()
    firefly_routes = [
        r for r in counters["last_headers"] if not r.startswith(("POST /ims", "GET /o"))
    ]
    assert len(firefly_routes) == 5
    for route in firefly_routes:
        headers = counters["last_headers"][route]
        assert headers["authorization"] == f"Bearer {fingerprint(token)}", route
        assert headers["x-api-key"] == emu.client_id, route
        assert headers["user-agent"].startswith("airflow-provider-firefly/"), route
    assert counters["last_headers"]["GET /v3/custom-models"]["x-request-id"]
    # Neither the token nor the API key goes to a presigned output URL, nor to IMS.
    assert counters["authorization_sent_to_outputs"] == 0
    assert "authorization" not in counters["last_headers"]["POST /ims/token/v3"]
    assert counters["ims_token_requests"] == 1


def test_status_url_polled_exactly_as_returned_on_a_second_port(tmp_path: Path) -> None:
    with FireflyEmulator(status_port=0, job_duration=0) as emu:
        assert emu.status_url
        assert emu.status_url != emu.url
        with make_client(emu, tmp_path) as client:
            handle = client.generate_images({"prompt": "harbour"})
            assert handle.status_url.startswith(emu.status_url + "/v3/status/")
            assert handle.cancel_url
            assert handle.cancel_url.startswith(emu.status_url)
            status = client.wait(handle, poll=FAST, timeout=10)
            assert status.succeeded
        assert emu.counters()["status_polls"] >= 1


def test_token_refused_for_a_status_url_on_another_host(tmp_path: Path) -> None:
    # The emulator names its status URLs "localhost" while the API is configured as 127.0.0.1:
    # with a non-Adobe API host only that exact host may receive the token.
    with FireflyEmulator(status_host="localhost", job_duration=0) as emu:
        with make_client(emu, tmp_path) as client:
            handle = client.generate_images({"prompt": "harbour"})
            assert handle.status_url.startswith("http://localhost:")
            with pytest.raises(FireflyConfigError, match="refusing to send the Firefly token"):
                client.get_status(handle)
            for url in (
                "https://evil.example/v3/status/x",
                emu.url.replace("http://", "http://evil.example\\@") + "/v3/status/x",
            ):
                with pytest.raises(FireflyConfigError):
                    client.get_status(url)
        assert emu.counters()["status_polls"] == 0


@pytest.mark.parametrize(
    ("api_url", "url", "allowed"),
    [
        ("https://firefly-api.adobe.io", "https://firefly-api.adobe.io/v3/status/x", True),
        ("https://firefly-api.adobe.io", "https://firefly-epo854211.adobe.io/v3/status/x", True),
        ("https://firefly-api.adobe.io", "https://FIREFLY-EPO8.Adobe.IO./v3/x", True),
        ("https://firefly-api.adobe.io", "http://firefly-epo854211.adobe.io/v3/status/x", False),
        ("https://firefly-api.adobe.io", "http://firefly-api.adobe.io/v3/status/x", False),
        ("https://firefly-api.adobe.io", "https://adobe.io.evil.example/x", False),
        ("https://firefly-api.adobe.io", "https://evil-adobe.io/x", False),
        (
            "https://firefly-api.adobe.io",
            "https://pre.s3.amazonaws.com/o.png?X-Amz-Signature=1",
            False,
        ),
        ("https://firefly-api.adobe.io", "https://x.adobe.io@evil.example/x", False),
        ("https://firefly-api.adobe.io", "https://evil.example\\@x.adobe.io/x", False),
        ("https://firefly-api.adobe.io", "https://u:p@firefly-api.adobe.io/x", False),
        ("https://firefly-api.adobe.io", "https://firefly-api.adobe.io\t/x", False),
        ("https://firefly-api.adobe.io", "https://fi\u0280efly.adobe.io/x", False),
        ("https://firefly-api.adobe.io", "/v3/status/x", False),
        ("https://firefly-api.adobe.io", "urn:ff:jobs:x:1", False),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v3/status/x", True),
        ("http://127.0.0.1:8080", "http://127.0.0.1:9090/v3/status/x", True),
        ("http://127.0.0.1:8080", "https://127.0.0.1:8080/v3/status/x", False),
        ("http://127.0.0.1:8080", "http://localhost:8080/v3/status/x", False),
        ("http://127.0.0.1:8080", "https://firefly-epo854211.adobe.io/v3/status/x", False),
        ("https://firefly.example.com", "https://firefly-api.adobe.io/v3/status/x", False),
    ],
)
def test_may_send_token_to(api_url: str, url: str, allowed: bool) -> None:
    settings = HttpSettings(api_url=api_url, allow_custom_endpoints=True)
    assert settings.may_send_token_to(url) is allowed


# -- every operation ----------------------------------------------------------------------


def _bodies(client: FireflyClient) -> dict[str, tuple[dict[str, Any], str | None]]:
    uid = client.upload_image(png(32, 24))
    mask = client.upload_image(png(32, 24, seed=2))
    src = {"source": {"uploadId": uid}}
    size = {"width": 64, "height": 48}
    bg = {"image": src, "fillAreaMask": {"source": {"uploadId": mask}}}
    return {
        "generate_images": (
            {"prompt": "a lighthouse", "numVariations": 2, "seeds": [1, 2], "size": size},
            "image4_standard",
        ),
        "generate_images_v4": (
            {"prompt": "a lighthouse", "aspectRatio": "16:9", "resolutionLevel": "1MP"},
            None,
        ),
        "generate_similar_images": ({"image": src, "size": size}, None),
        "expand_image": ({"image": src, "size": size, "prompt": "sea"}, None),
        "fill_image": ({"image": src, "mask": {"source": {"uploadId": mask}}, "prompt": "x"}, None),
        "generate_object_composite": ({"image": src, "prompt": "on a table", "size": size}, None),
        "precise_composite": ({"background": bg, "object": {"image": src}}, None),
        "adaptive_composite": (
            {"background": bg, "object": {"image": src}, "numVariations": 2, "harmonization": 0.3},
            None,
        ),
        "upscale_image": ({"image": src, "seeds": [7], "upscaleFactor": 2}, None),
        "generate_video": (
            {"prompt": "waves", "seeds": [5], "sizes": [{"width": 64, "height": 36}]},
            None,
        ),
    }


def test_every_operation_method_submits_and_completes(emu: FireflyEmulator, client: Any) -> None:
    bodies = _bodies(client)
    assert len(bodies) == 10
    for name, (body, version) in bodies.items():
        method = getattr(client, name)
        handle = method(body, model_version=version) if version else method(body)
        assert isinstance(handle, JobHandle), name
        assert handle.status_url.startswith(emu.url), name
        assert handle.cancel_url, name
        status = client.wait(handle, poll=FAST, timeout=10)
        assert status.succeeded, name
        assert status.outputs, name
        assert status.job_id == handle.job_id, name
    submitted = emu.counters()["jobs_submitted"]
    assert submitted == 10
    headers = emu.counters()["last_headers"]
    assert headers["POST /v4/images/generate-async"]["x-model-version"] == "image5"
    assert headers["POST /v3/videos/generate"]["x-model-version"] == "video1_standard"
    assert headers[GENERATE]["x-model-version"] == "image4_standard"


def test_v4_and_upscale_links_shapes(emu: FireflyEmulator, client: Any) -> None:
    uid = client.upload_image(png())
    for handle in (
        client.generate_images_v4({"prompt": "a fox", "aspectRatio": "1:1"}),
        client.upscale_image(
            {"image": {"source": {"uploadId": uid}}, "seeds": [3], "upscaleFactor": 2}
        ),
    ):
        assert handle.job_id.startswith("urn:ff:jobs:") or len(handle.job_id) == 36
        assert "/v3/status/" in handle.status_url
        assert handle.cancel_url
        assert "/v3/cancel/" in handle.cancel_url
        status = client.wait(handle, poll=FAST, timeout=10)
        assert status.outputs
    upscaled = client.wait(handle, poll=FAST, timeout=10)
    assert upscaled.outputs[0].kind in ("image", "file")


def test_run_accepts_a_job_id_string_and_the_urn_is_not_taken_for_a_url(
    emu: FireflyEmulator, client: Any
) -> None:
    handle = client.generate_images({"prompt": "dunes"})
    by_id = client.get_status(handle.job_id)
    assert by_id.job_id == handle.job_id
    assert client.wait(handle.job_id, poll=FAST, timeout=10).succeeded
    assert client.cancel(handle.job_id) is False
    assert client.get_status(handle.status_url).succeeded


def test_video_output_downloaded(emu: FireflyEmulator, client: Any, tmp_path: Path) -> None:
    status = client.run(
        "generate_video",
        {"prompt": "waves", "sizes": [{"width": 64, "height": 36}]},
        poll=FAST,
        timeout=10,
    )
    (output,) = status.outputs
    assert output.kind == "video"
    target = tmp_path / "out" / "clip.mp4"
    result = client.download(output, target)
    data = target.read_bytes()
    assert result.bytes_written == len(data) > 100
    assert data[4:8] == b"ftyp"
    assert result.content_type == "video/mp4"


# -- uploads ------------------------------------------------------------------------------


def test_upload_bytes_path_and_file_with_sniffed_types(
    emu: FireflyEmulator, client: Any, tmp_path: Path
) -> None:
    image = png()
    path = tmp_path / "in.png"
    path.write_bytes(image)
    ids = {client.upload_image(image), client.upload_image(path), client.upload_image(str(path))}
    with path.open("rb") as handle:
        ids.add(client.upload_image(handle))
    assert len(ids) == 4
    assert emu.counters()["last_headers"]["POST /v2/storage/image"]["content-type"] == "image/png"
    client.upload_image(b"\xff\xd8\xff\xe0" + b"\x00" * 64)
    assert emu.counters()["last_headers"]["POST /v2/storage/image"]["content-type"] == "image/jpeg"
    client.upload_image(b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 32)
    assert emu.counters()["last_headers"]["POST /v2/storage/image"]["content-type"] == "image/webp"
    assert emu.counters()["uploads"] == 6


def test_upload_refused_before_any_request(
    emu: FireflyEmulator, client: Any, tmp_path: Path
) -> None:
    big = tmp_path / "big.png"
    with big.open("wb") as handle:
        handle.write(png())
        handle.truncate(MAX_UPLOAD_BYTES + 1)
    cases: list[Any] = [
        b"\x89PNG\r\n\x1a\n" + b"\x00" * MAX_UPLOAD_BYTES,
        big,
        io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\x00" * MAX_UPLOAD_BYTES),
        b"GIF89a" + b"\x00" * 64,
        b"",
    ]
    for source in cases:
        with pytest.raises(FireflyValidationError) as info:
            client.upload_image(source)
        assert info.value.fields == ["image"]
    with pytest.raises(FireflyValidationError):
        client.upload_image(png(), content_type="image/gif")
    with pytest.raises(FireflyConfigError):
        client.upload_image(tmp_path / "missing.png")
    counters = emu.counters()
    assert counters["requests_by_route"] == {}
    assert counters["ims_token_requests"] == 0


# -- downloads ----------------------------------------------------------------------------


def test_download_to_path_and_writer_factory(
    emu: FireflyEmulator, client: Any, tmp_path: Path
) -> None:
    emu.configure(output_padding_bytes=3 << 20)  # bigger than one chunk
    status = client.run("generate_images", {"prompt": "a bridge", "numVariations": 2}, poll=FAST)
    first, second = status.outputs
    target = tmp_path / "deep" / "dir" / "one.png"
    result = client.download(first, target, chunk_size=64 * 1024)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.bytes_written == target.stat().st_size > 3 << 20
    assert [p.name for p in target.parent.iterdir()] == ["one.png"]

    buffer = io.BytesIO()
    opened: list[int] = []

    @contextlib.contextmanager
    def sink() -> Any:
        opened.append(1)
        yield buffer

    result = client.download(second.url, sink)
    assert opened == [1]
    assert result.bytes_written == len(buffer.getvalue()) > 3 << 20
    assert emu.counters()["authorization_sent_to_outputs"] == 0
    assert emu.counters()["output_downloads"] == 2


def test_expired_output_url(emu: FireflyEmulator, client: Any, tmp_path: Path) -> None:
    emu.configure(output_url_expiry=0.001)
    status = client.run("generate_images", {"prompt": "a bridge"}, poll=FAST)
    target = tmp_path / "x.png"
    with pytest.raises(FireflyOutputExpiredError) as info:
        client.download(status.outputs[0], target)
    assert info.value.status == 403
    assert "X-Amz-Signature" not in str(info.value)
    assert list(tmp_path.glob("x.png*")) == []
    assert list(tmp_path.glob(".x.png*")) == []


def test_failed_download_leaves_no_partial_file(emu: FireflyEmulator, tmp_path: Path) -> None:
    with make_client(emu, tmp_path, max_attempts=2) as client:
        status = client.run("generate_images", {"prompt": "a bridge"}, poll=FAST)
        target = tmp_path / "keep.png"
        target.write_bytes(b"previous")
        emu.script("GET /outputs/{outputId}", [{"drop": True, "process": True}] * 2)
        with pytest.raises(FireflyConnectionError):
            client.download(status.outputs[0], target)
        assert target.read_bytes() == b"previous"
        assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["keep.png"]
        assert emu.counters()["requests_by_route"]["GET /outputs/{outputId}"] == 2
        # A dropped first attempt is retried and the rewritten file is whole.
        emu.script("GET /outputs/{outputId}", [{"drop": True, "process": True}])
        client.download(status.outputs[0], target)
        assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- custom models ------------------------------------------------------------------------


def test_list_custom_models_pages(emu: FireflyEmulator, client: Any) -> None:
    models = list(client.list_custom_models(page_size=1, published_state="all"))
    names = [m["displayName"] for m in models]
    assert names == ["Emulator Mascot", "Emulator Watercolour", "Emulator Draft"]
    assert len({m["assetId"] for m in models}) == 3
    assert routes(emu)["GET /v3/custom-models"] == 3
    published = list(client.list_custom_models(page_size=50))
    assert {m["publishedState"] for m in published} == {"published"}
    with pytest.raises(FireflyConfigError):
        list(client.list_custom_models(page_size=51))


# -- wait, cancel and job errors ----------------------------------------------------------


def test_wait_deadline_cancels_the_job(emu: FireflyEmulator, client: Any) -> None:
    emu.configure(job_duration=30)
    handle = client.generate_images({"prompt": "slow"})
    with pytest.raises(FireflyJobTimeoutError) as info:
        client.wait(handle, timeout=0.3, poll=FAST)
    assert info.value.job_id == handle.job_id
    assert routes(emu)["PUT /v3/cancel/{jobId}"] == 1
    assert emu.counters()["jobs_cancelled"] == 1
    assert client.get_status(handle).status in ("cancel_pending", "cancelled")


@pytest.mark.parametrize(
    ("forced", "error_type", "job_status"),
    [
        ("failed", FireflyJobFailedError, "failed"),
        ("cancelled", FireflyJobCancelledError, "cancelled"),
        ("timeout", FireflyJobTimeoutError, "timeout"),
    ],
)
def test_terminal_job_errors(
    emu: FireflyEmulator,
    client: Any,
    forced: str,
    error_type: type[FireflyJobError],
    job_status: str,
) -> None:
    emu.configure(job_duration=30)
    handle = client.generate_images({"prompt": "doomed"})
    emu.set_job(handle.job_id, status=forced, error_code="runtime_error", message="boom")
    with pytest.raises(error_type) as info:
        client.wait(handle, poll=FAST, timeout=5)
    assert info.value.job_id == handle.job_id
    assert info.value.job_status == job_status
    assert client.cancel(handle) is False


def test_cancel_running_then_finished_job(emu: FireflyEmulator, client: Any) -> None:
    emu.configure(job_duration=30)
    handle = client.generate_images({"prompt": "long"})
    assert client.cancel(handle) is True
    assert client.cancel(handle) is False  # already cancel_pending
    emu.configure(job_duration=0)
    done = client.generate_images({"prompt": "quick"})
    client.wait(done, poll=FAST, timeout=5)
    assert client.cancel(done) is False


def test_unknown_job_is_not_found(emu: FireflyEmulator, client: Any) -> None:
    job_id = f"urn:ff:jobs:emu851211:{uuid.uuid4()}"
    with pytest.raises(FireflyNotFoundError) as info:
        client.get_status(job_id)
    assert info.value.status == 404
    assert info.value.error_code == "unknown_job_id"
    assert info.value.request_id


# -- 401 ----------------------------------------------------------------------------------


def test_revoked_token_is_refreshed_once(emu: FireflyEmulator, client: Any) -> None:
    handle = client.generate_images({"prompt": "first"})
    old = client.get_access_token()
    emu.revoke_tokens()
    assert client.get_status(handle).succeeded
    assert client.get_access_token() != old
    emu.revoke_tokens()
    assert client.generate_images({"prompt": "second"}).job_id  # a submit is refreshed too
    counters = emu.counters()
    assert counters["ims_token_requests"] == 3
    assert counters["responses_by_route"][STATUS] == {"401": 1, "200": 1}
    assert counters["jobs_submitted"] == 2


def test_second_401_raises_auth_error(emu: FireflyEmulator, client: Any) -> None:
    handle = client.generate_images({"prompt": "first"})
    unauthorised = {
        "status": 401,
        "body": {"error_code": "401013", "message": "Oauth token is not valid"},
    }
    emu.script(STATUS, [unauthorised, unauthorised])
    with pytest.raises(FireflyAuthError) as info:
        client.get_status(handle)
    assert info.value.status == 401
    assert info.value.error_code == "401013"
    token = client.get_access_token()
    assert token not in str(info.value)
    assert token not in repr(info.value)
    counters = emu.counters()
    assert counters["ims_token_requests"] == 2
    assert counters["requests_by_route"][STATUS] == 2
