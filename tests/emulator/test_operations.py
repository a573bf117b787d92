"""Every operation: accepts a valid request, rejects invalid ones with 422, answers per spec."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import httpx
import pytest

from .conftest import SUBMIT_PATHS, SpecClient, status_url_of, valid_bodies

pytestmark = pytest.mark.timeout(60)

INVALID: dict[str, list[tuple[dict[str, Any], list[Any]]]] = {
    "/v3/images/generate-async": [
        ({}, ["body", "prompt"]),
        ({"prompt": "x" * 1025}, ["body", "prompt"]),
        ({"prompt": "a", "contentClass": "painting"}, ["body", "contentClass"]),
        ({"prompt": "a", "numVariations": 5}, ["body", "numVariations"]),
        ({"prompt": "a", "seeds": [1, 2], "numVariations": 3}, ["body", "seeds"]),
        ({"prompt": "a", "seeds": [1, 1]}, ["body", "seeds"]),
        ({"prompt": "a", "size": {"width": 5000, "height": 10}}, ["body", "size", "width"]),
        ({"prompt": "a", "visualIntensity": 1}, ["body", "visualIntensity"]),
    ],
    "/v4/images/generate-async": [
        ({"prompt": "x" * 1501}, ["body", "prompt"]),
        ({"prompt": "a", "numVariations": 2}, ["body", "numVariations"]),
        ({"prompt": "a", "aspectRatio": "2:1"}, ["body", "aspectRatio"]),
        ({"prompt": "a", "seeds": [1, 2]}, ["body", "seeds"]),
    ],
    "/v3/images/generate-similar-async": [({}, ["body", "image"])],
    "/v3/images/expand-async": [({"image": {}}, ["body", "image", "source"])],
    "/v3/images/fill-async": [
        ({"image": {"source": {"url": "https://x.amazonaws.com/a.png"}}}, ["body", "mask"])
    ],
    "/v3/images/generate-object-composite-async": [
        ({"image": {"source": {"url": "https://x.amazonaws.com/a.png"}}}, ["body", "prompt"])
    ],
    "/v3/images/precise-composite": [({"object": {}}, ["body", "background"])],
    "/v3/images/adaptive-composite": [
        ({"background": {}, "object": {}, "harmonization": 2}, ["body", "background", "image"])
    ],
    "/v3/images/upscale": [
        ({"image": {"source": {"url": "https://x.amazonaws.com/a.png"}}}, ["body", "seeds"]),
        (
            {
                "image": {"source": {"url": "https://x.amazonaws.com/a.png"}},
                "seeds": [1],
                "upscaleFactor": 5,
            },
            ["body", "upscaleFactor"],
        ),
    ],
    "/v3/videos/generate": [
        ({"prompt": "a", "seeds": [1, 2]}, ["body", "seeds"]),
        ({"prompt": "a", "bitRateFactor": 64}, ["body", "bitRateFactor"]),
        ({"seeds": [1]}, ["body", "prompt"]),
    ],
}


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("path", SUBMIT_PATHS)
def test_valid_request_accepted_and_job_succeeds(client: SpecClient, path: str) -> None:
    body, headers = valid_bodies(client)[path]
    r = client.submit(path, body, **headers)
    expected = 200 if path == "/v4/images/generate-async" else 202
    assert r.status_code == expected, r.text
    data = r.json()
    if path in ("/v4/images/generate-async", "/v3/images/upscale"):
        assert set(data["links"]) == {"result", "cancel"}
    else:
        assert data["jobId"].startswith("urn:ff:jobs:")
        assert data["statusUrl"] == f"{client.emu.url}/v3/status/{data['jobId']}"
    final = client.wait(status_url_of(r))
    assert final["status"] == "succeeded"
    result = final["result"]
    if path == "/v3/images/upscale":
        url = result["outputs"][0]["presignedUrl"]
    elif path == "/v3/videos/generate":
        url = result["outputs"][0]["video"]["url"]
    else:
        url = result["outputs"][0]["image"]["url"]
    out = httpx.get(url)
    assert out.status_code == 200
    if path == "/v3/videos/generate":
        assert out.headers["content-type"] == "video/mp4"
        assert out.content[4:8] == b"ftyp"
    else:
        assert out.headers["content-type"] == "image/png"
        w, h = _png_size(out.content)
        if path == "/v3/images/upscale":
            assert (w, h) == (64, 48)  # 32x24 upload, factor 2
        elif path in ("/v3/images/precise-composite", "/v3/images/adaptive-composite"):
            assert (w, h) == (32, 24)  # size of the background upload
            assert [o["seed"] for o in result["outputs"]][:2] == [333, 222][
                : len(result["outputs"])
            ]
        elif path == "/v4/images/generate-async":
            assert w > h
        else:
            assert (w, h) == (64, 48) or path == "/v3/images/fill-async"
    assert client.checked >= 3  # submit, status and upload responses were spec-checked


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [(p, b, loc) for p, cases in INVALID.items() for b, loc in cases],
)
def test_invalid_request_rejected_with_422(
    client: SpecClient, path: str, body: dict[str, Any], loc: list[Any]
) -> None:
    headers = valid_bodies(client)[path][1] if path in ("/v4/images/generate-async",) else {}
    if path == "/v3/videos/generate":
        headers = {"x-model-version": "video1_standard"}
    r = client.submit(path, body, **headers)
    assert r.status_code == 422, r.text
    data = r.json()
    assert data["error_code"] == "validation_error"
    locs = [e["loc"] for e in data["validation_errors"]]
    assert loc in locs, locs
    for err in data["validation_errors"]:
        assert set(err) >= {"loc", "msg", "type"}
    assert client.emu.counters()["jobs_submitted"] == 0


def test_422_example_shape_matches_notes(client: SpecClient) -> None:
    r = client.submit("/v3/images/generate-async", {"prompt": "a", "contentClass": "x"})
    err = r.json()["validation_errors"][0]
    assert err == {
        "ctx": {"enum_values": ["photo", "art"]},
        "loc": ["body", "contentClass"],
        "msg": "value is not a valid enumeration member; permitted: 'photo', 'art'",
        "type": "type_error.enum",
    }


def test_empty_and_malformed_bodies(client: SpecClient) -> None:
    h = client.headers(**{"content-type": "application/json"})
    r = client.post("/v3/images/generate-async", content=b"", headers=h)
    assert (r.status_code, r.json()["error_code"]) == (400, "empty_input_body")
    r = client.post("/v3/images/generate-async", content=b"{nope", headers=h)
    assert (r.status_code, r.json()["error_code"]) == (400, "bad_request")
    r = client.post("/v3/images/upscale", content=b"", headers=h)
    assert (r.status_code, r.json()["error_code"]) == (400, "validation_error")
    r = client.post("/v3/images/generate-async", json=[1], headers=client.headers())
    assert r.status_code == 422


def test_multipart_request_part(client: SpecClient) -> None:
    files = {"request": (None, '{"prompt": "a cat", "size": {"width": 8, "height": 8}}')}
    r = client.post(
        "/v3/images/generate-async",
        files=[("files", ("a.png", b"x", "image/png")), *files.items()],
        headers=client.headers(),
    )
    assert r.status_code == 202, r.text


def test_model_version_header(client: SpecClient) -> None:
    r = client.submit("/v3/images/generate-async", {"prompt": "a"}, **{"x-model-version": "image9"})
    assert r.status_code == 422
    assert r.json()["validation_errors"][0]["loc"] == ["header", "x-model-version"]
    r = client.submit("/v4/images/generate-async", {"prompt": "a"})
    assert r.status_code == 422  # required for v4
    r = client.submit("/v3/videos/generate", {"prompt": "a"})
    assert r.status_code == 422  # required for video
    r = client.submit(
        "/v3/images/upscale",
        {"image": {"source": {"url": "https://a.amazonaws.com/x.png"}}, "seeds": [1]},
        **{"x-model-version": "creative_upsampler_v1"},
    )
    assert r.status_code == 422
    assert "Only 'precise_upsampler_v1' is supported" in r.json()["message"]
    r = client.submit(
        "/v3/images/generate-async", {"prompt": "a"}, **{"x-model-version": "image4_custom"}
    )
    assert r.status_code == 422
    assert r.json()["validation_errors"][0]["loc"] == ["body", "customModelId"]
    r = client.submit(
        "/v3/images/generate-async",
        {"prompt": "a", "customModelId": "urn:aaid:sc:VA6C2:x", "size": {"width": 8, "height": 8}},
        **{"x-model-version": "image4_custom"},
    )
    assert r.status_code == 202


def test_v4_reference_blobs_aspect_ratio_rule(client: SpecClient) -> None:
    uid = client.upload_png()
    body = {
        "prompt": "a",
        "aspectRatio": "16:9",
        "referenceBlobs": [{"source": {"uploadId": uid}, "usage": "general"}],
    }
    r = client.submit("/v4/images/generate-async", body, **{"x-model-version": "image5"})
    assert r.status_code == 422
    body["aspectRatio"] = "auto"
    r = client.submit("/v4/images/generate-async", body, **{"x-model-version": "image5"})
    assert r.status_code == 200, r.text


def test_sources_unknown_upload_and_url_domain(client: SpecClient) -> None:
    unknown = "4b1f5c4e-2f0a-4e7b-9a57-3b0b9e7c2d11"
    r = client.submit(
        "/v3/images/generate-similar-async", {"image": {"source": {"uploadId": unknown}}}
    )
    assert r.status_code == 422
    assert r.json()["validation_errors"][0]["loc"] == ["body", "image", "source", "uploadId"]
    r = client.submit(
        "/v3/images/generate-similar-async",
        {"image": {"source": {"url": "https://evil.example/a"}}},
    )
    assert r.status_code == 422
    r = client.submit(
        "/v3/images/generate-similar-async",
        {"image": {"source": {"url": "https://bucket.s3.amazonaws.com/a.png"}}},
    )
    assert r.status_code == 202
    both = {"uploadId": unknown, "url": "https://a.amazonaws.com/x"}
    r = client.submit("/v3/images/generate-similar-async", {"image": {"source": both}})
    assert r.status_code == 422


def test_output_url_of_one_job_feeds_the_next(client: SpecClient) -> None:
    r = client.submit(
        "/v3/images/generate-async", {"prompt": "a", "size": {"width": 40, "height": 30}}
    )
    url = client.wait(status_url_of(r))["result"]["outputs"][0]["image"]["url"]
    r = client.submit("/v3/images/upscale", {"image": {"source": {"url": url}}, "seeds": [1]})
    assert r.status_code == 202, r.text
    out = client.wait(status_url_of(r))["result"]["outputs"][0]["presignedUrl"]
    assert _png_size(httpx.get(out).content) == (80, 60)


def test_uploads(client: SpecClient) -> None:
    uid = client.upload_png()
    assert len(uid) == 36
    h = client.headers()
    for ctype in ("image/jpeg", "image/webp", "image/tiff", "image/jxl"):
        r = client.post("/v2/storage/image", content=b"abc", headers=h | {"content-type": ctype})
        assert r.status_code == 200, ctype
    r = client.post("/v2/storage/image", content=b"abc", headers=h | {"content-type": "image/gif"})
    assert (r.status_code, r.json()["error_code"]) == (415, "invalid_content_type")
    r = client.post("/v2/storage/image", content=b"", headers=h | {"content-type": "image/png"})
    assert r.status_code == 400
    big = b"\0" * (15_000_000 + 1)  # Adobe's "15 MB" is decimal
    r = client.post("/v2/storage/image", content=big, headers=h | {"content-type": "image/png"})
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("text/html")
    assert "413" in r.text
    exact = b"\0" * 15_000_000
    r = client.post("/v2/storage/image", content=exact, headers=h | {"content-type": "image/png"})
    assert r.status_code == 200


def test_upload_413_when_streamed_without_length(client: SpecClient) -> None:
    client.emu.configure(upload_max_bytes=1000)

    def gen() -> Any:
        for _ in range(10):
            yield b"\0" * 500

    r = client.post(
        "/v2/storage/image", content=gen(), headers=client.headers(**{"content-type": "image/png"})
    )
    assert r.status_code == 413


def test_custom_models_pagination(client: SpecClient) -> None:
    h = client.headers(**{"x-request-id": "req-1"})
    r = client.get("/v3/custom-models", params={"limit": "1", "publishedState": "all"}, headers=h)
    assert r.status_code == 200
    assert r.headers["x-request-id"] == "req-1"
    data = r.json()
    assert data["total_count"] == 3
    assert len(data["custom_models"]) == 1
    nxt = data["_links"]["next"]["href"]
    r2 = client.get(nxt, headers=h)
    assert r2.json()["custom_models"][0] != data["custom_models"][0]
    r = client.get("/v3/custom-models", headers=h)
    assert r.json()["total_count"] == 2  # default publishedState=published
    assert "next" not in r.json()["_links"]
    r = client.get("/v3/custom-models", params={"limit": "51"}, headers=h)
    assert r.status_code == 400
    assert set(r.json()) == {"reason", "message"}
    r = client.get("/v3/custom-models", params={"sortBy": "-assetName"}, headers=h)
    names = [m["assetName"] for m in r.json()["custom_models"]]
    assert names == sorted(names, reverse=True)


def test_video_output_is_mp4_with_png_frames(client: SpecClient) -> None:
    r = client.submit(
        "/v3/videos/generate",
        {"prompt": "waves", "sizes": [{"width": 32, "height": 18}]},
        **{"x-model-version": "video1_standard"},
    )
    result = client.wait(status_url_of(r))["result"]
    assert result["size"] == {"width": 32, "height": 18}
    data = httpx.get(result["outputs"][0]["video"]["url"]).content
    boxes = []
    pos = 0
    while pos < len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        boxes.append(kind)
        pos += size
    assert boxes == [b"ftyp", b"moov", b"mdat"]
    assert b"png " in data
    assert b"stco" in data
    assert data.count(b"\x89PNG") == 5  # five one-second frames


def test_png_is_valid_and_deterministic(client: SpecClient) -> None:
    urls = []
    for _ in range(2):
        r = client.submit(
            "/v3/images/generate-async",
            {"prompt": "a", "seeds": [42], "size": {"width": 33, "height": 17}},
        )
        urls.append(client.wait(status_url_of(r))["result"]["outputs"][0]["image"]["url"])
    a, b = (httpx.get(u).content for u in urls)
    assert a == b
    pos, chunks = 8, []
    while pos < len(a):
        (length,) = struct.unpack(">I", a[pos : pos + 4])
        kind = a[pos + 4 : pos + 8]
        payload = a[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", a[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + payload)
        chunks.append((kind, payload))
        pos += 12 + length
    assert [k for k, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    raw = zlib.decompress(chunks[1][1])
    assert len(raw) == 17 * (1 + 33 * 3)


def test_strict_sizes_reject_undocumented_sizes_in_rule_order(client: SpecClient) -> None:
    """``--strict-sizes``: Image 3 and Image 4 each have their own list; the size error stands
    between the model-version rules and the source rules, as before the rule moved to testing/."""
    body = {"prompt": "a cat", "size": {"width": 1440, "height": 2560}}
    image3 = client.submit("/v3/images/generate-async", body, **{"x-model-version": "image3"})
    assert image3.status_code == 202, image3.text
    client.emu.configure(strict_sizes=True)
    image4 = client.submit(
        "/v3/images/generate-async", body, **{"x-model-version": "image4_standard"}
    )
    assert image4.status_code == 202, image4.text
    image3 = client.submit(
        "/v3/images/generate-async",
        body | {"upsamplerType": "default", "structure": {"imageReference": {"source": {}}}},
        **{"x-model-version": "image3"},
    )
    assert image3.status_code == 422, image3.text
    assert [e["loc"] for e in image3.json()["validation_errors"]] == [
        ["body", "upsamplerType"],
        ["body", "size"],
        ["body", "structure", "imageReference", "source"],
    ]
    assert image3.json()["validation_errors"][1]["msg"] == "size 1440x2560 is not supported"
