"""Outputs are served in the requested media type: real JPEG and
WebP files for the composites' ``output.mediaType``, PNG with an honest Content-Type for what
the emulator cannot encode (JPEG XL), and upscale outputs that carry the seed that was sent."""

from __future__ import annotations

import struct
from typing import Any

import httpx
import pytest

from airflow_provider_firefly.testing import FireflyEmulator
from airflow_provider_firefly.testing.flat_images import JpegImage, WebpImage, seed_colour
from airflow_provider_firefly.testing.planning import served_media_type

from .conftest import SpecClient, status_url_of

pytestmark = pytest.mark.timeout(60)
COMPOSITES = ("/v3/images/precise-composite", "/v3/images/adaptive-composite")


def jpeg_info(data: bytes) -> dict[str, Any]:
    """Walk a baseline JPEG's segments; checks the framing and returns what it found."""
    assert data[:2] == b"\xff\xd8", "no SOI"
    pos, seen, info = 2, [], {}
    while True:
        assert data[pos] == 0xFF, f"no marker at {pos}"
        marker = data[pos + 1]
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        seen.append(marker)
        if marker == 0xC0:
            _, h, w, n = struct.unpack(">BHHB", data[pos + 4 : pos + 10])
            info.update(width=w, height=h, components=n)
        if marker == 0xDA:
            scan = data[pos + 2 + length : -2]
            break
        pos += 2 + length
    assert data[-2:] == b"\xff\xd9", "no EOI"
    # Entropy-coded data: every 0xFF is stuffed (followed by 0x00), no stray markers.
    assert all(scan[i + 1] == 0 for i in range(len(scan) - 1) if scan[i] == 0xFF)
    assert scan[-1:] != b"\xff"
    info["markers"] = seen
    info["scan_bytes"] = len(scan)
    return info


def webp_info(data: bytes) -> dict[str, Any]:
    assert (data[:4], data[8:12]) == (b"RIFF", b"WEBP")
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8, "RIFF size"
    chunks, pos = {}, 12
    while pos < len(data):
        kind, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        chunks[kind] = data[pos + 8 : pos + 8 + size]
        pos += 8 + size + size % 2
    assert pos == len(data)
    vp8l = chunks[b"VP8L"]
    assert vp8l[0] == 0x2F
    bits = int.from_bytes(vp8l[1:5], "little")
    return {
        "width": (bits & 0x3FFF) + 1,
        "height": ((bits >> 14) & 0x3FFF) + 1,
        "chunks": sorted(k.decode() for k in chunks),
    }


def _composite(
    client: SpecClient, path: str, media_type: str | None, size: tuple[int, int]
) -> tuple[dict[str, Any], list[httpx.Response]]:
    bg = client.upload_png(*size)
    mask = client.upload_png(*size, seed=2)
    obj = client.upload_png(16, 16, seed=3)
    body: dict[str, Any] = {
        "background": {
            "image": {"source": {"uploadId": bg}},
            "fillAreaMask": {"source": {"uploadId": mask}},
        },
        "object": {"image": {"source": {"uploadId": obj}}},
        "numVariations": 2,
    }
    if media_type is not None:
        body["output"] = {"mediaType": media_type}
    sub = client.submit(path, body)
    assert sub.status_code == 202, sub.text
    done = client.wait(status_url_of(sub))
    assert done["status"] == "succeeded"
    urls = [o["image"]["url"] for o in done["result"]["outputs"]]
    return done, [httpx.get(u) for u in urls]


@pytest.mark.parametrize("path", COMPOSITES)
def test_jpeg_requested_jpeg_served(client: SpecClient, path: str) -> None:
    done, downloads = _composite(client, path, "image/jpeg", (40, 24))
    for output, r in zip(done["result"]["outputs"], downloads, strict=True):
        assert r.status_code == 200
        assert r.headers["content-type"] == "image/jpeg"
        assert output["image"]["url"].split("?")[0].endswith(".jpg")
        info = jpeg_info(r.content)
        assert (info["width"], info["height"], info["components"]) == (40, 24, 3)
        assert r.content == JpegImage(40, 24, output["seed"]).to_bytes()
    # Seeds 333 and 222 (the composites' defaults) give different colours, so different files.
    assert downloads[0].content != downloads[1].content


def test_webp_requested_webp_served(client: SpecClient) -> None:
    done, downloads = _composite(client, COMPOSITES[0], "image/webp", (48, 32))
    r = downloads[0]
    assert r.headers["content-type"] == "image/webp"
    assert done["result"]["outputs"][0]["image"]["url"].split("?")[0].endswith(".webp")
    assert webp_info(r.content) == {"width": 48, "height": 32, "chunks": ["VP8L"]}
    assert r.content == WebpImage(48, 32, 333).to_bytes()


@pytest.mark.parametrize(("requested", "served"), [(None, "image/png"), ("image/png", "image/png")])
def test_png_by_default(client: SpecClient, requested: str | None, served: str) -> None:
    _, downloads = _composite(client, COMPOSITES[1], requested, (32, 32))
    assert downloads[0].headers["content-type"] == served
    assert downloads[0].content[:8] == b"\x89PNG\r\n\x1a\n"


def test_jxl_is_served_as_png_with_an_honest_content_type(client: SpecClient) -> None:
    """No JPEG XL encoder here: the emulator behaves like a server that ignores the requested
    type, and says so in Content-Type and in the URL's extension."""
    done, downloads = _composite(client, COMPOSITES[0], "image/jxl", (32, 32))
    assert downloads[0].headers["content-type"] == "image/png"
    assert downloads[0].content[:8] == b"\x89PNG\r\n\x1a\n"
    assert done["result"]["outputs"][0]["image"]["url"].split("?")[0].endswith(".png")


def test_head_matches_get_and_padding_keeps_files_valid(client: SpecClient) -> None:
    client.emu.configure(output_padding_bytes=200_000)
    done, downloads = _composite(client, COMPOSITES[0], "image/jpeg", (32, 32))
    url = done["result"]["outputs"][0]["image"]["url"]
    head = httpx.head(url)
    body = downloads[0].content
    declared = int(downloads[0].headers["content-length"])
    assert int(head.headers["content-length"]) == len(body) == declared
    plain = len(JpegImage(32, 32, 333).to_bytes())
    assert len(body) == plain + 200_000
    info = jpeg_info(body)
    assert info["markers"].count(0xEF) == 4  # APP15 padding segments, skipped by decoders
    done, downloads = _composite(client, COMPOSITES[0], "image/webp", (32, 32))
    info = webp_info(downloads[0].content)
    assert info["chunks"] == ["VP8L", "VP8X", "emUl"]


def test_served_type_rules() -> None:
    assert served_media_type("image/jpeg", 12288, 12288) == "image/jpeg"
    assert served_media_type("image/webp", 16384, 100) == "image/webp"
    assert served_media_type("image/webp", 16385, 100) == "image/png"  # WebP's limit
    assert served_media_type("image/jxl", 10, 10) == "image/png"
    assert served_media_type(None, 10, 10) == "image/png"


def test_big_jpeg_is_streamed_and_exact() -> None:
    image = JpegImage(12288, 8192, 5)
    pieces = list(image.iter_bytes(chunk_size=1 << 20))
    assert sum(len(p) for p in pieces) == image.size
    assert max(len(p) for p in pieces) <= 1 << 20
    info = jpeg_info(b"".join(pieces))
    assert (info["width"], info["height"]) == (12288, 8192)


def test_flat_colours_come_from_the_seed() -> None:
    assert seed_colour(1) != seed_colour(2)
    assert JpegImage(8, 8, 1).to_bytes() != JpegImage(8, 8, 2).to_bytes()
    assert WebpImage(8, 8, 1).to_bytes() != WebpImage(8, 8, 2).to_bytes()


def test_images_decode_with_pillow_when_available() -> None:
    image_mod = pytest.importorskip("PIL.Image")
    import io

    for cls, fmt in ((JpegImage, "JPEG"), (WebpImage, "WEBP")):
        for w, h, pad in ((1, 1, 0), (9, 7, 0), (64, 48, 100_000)):
            im = image_mod.open(io.BytesIO(cls(w, h, 42, pad).to_bytes()))
            im.load()
            assert (im.format, im.size) == (fmt, (w, h))
            got = im.convert("RGB").getpixel((w - 1, h - 1))
            assert max(abs(a - b) for a, b in zip(got, seed_colour(42), strict=True)) <= 3


# --- upscale seeds (item 18) -----------------------------------------------------------------


def _upscale(client: SpecClient, seeds: list[int]) -> list[dict[str, Any]]:
    uid = client.upload_png(16, 8)
    body = {"image": {"source": {"uploadId": uid}}, "seeds": seeds}
    sub = client.submit("/v3/images/upscale", body)
    assert sub.status_code == 202, sub.text
    outputs: list[dict[str, Any]] = client.wait(status_url_of(sub))["result"]["outputs"]
    return outputs


def test_upscale_outputs_carry_the_seeds_sent(client: SpecClient) -> None:
    outputs = _upscale(client, [7, 1234567])
    assert [o["seed"] for o in outputs] == [7, 1234567]
    assert client.checked > 0  # the status reply still matched the spec


def test_upscale_without_seeds_when_asked(emu: FireflyEmulator, client: SpecClient) -> None:
    emu.configure(upscale_output_seed=False)
    outputs = _upscale(client, [7])
    assert "seed" not in outputs[0]
    assert set(outputs[0]) == {"id", "presignedUrl", "name"}


# --- default type of the operations without output.mediaType --------------------------------


def test_default_image_media_type_for_generate(client: SpecClient) -> None:
    client.emu.configure(default_image_media_type="image/jpeg")
    body = {"prompt": "a", "size": {"width": 24, "height": 16}}
    sub = client.submit("/v3/images/generate-async", body)
    output = client.wait(status_url_of(sub))["result"]["outputs"][0]
    assert output["image"]["url"].split("?")[0].endswith(".jpg")
    r = httpx.get(output["image"]["url"])
    assert r.headers["content-type"] == "image/jpeg"
    info = jpeg_info(r.content)
    assert (info["width"], info["height"]) == (24, 16)
    # A composite's own output.mediaType still wins over the default.
    _, downloads = _composite(client, COMPOSITES[0], "image/webp", (16, 16))
    assert downloads[0].headers["content-type"] == "image/webp"


def test_default_image_media_type_is_checked(emu: FireflyEmulator) -> None:
    with pytest.raises(ValueError, match="default_image_media_type"):
        emu.configure(default_image_media_type="image/jxl")
