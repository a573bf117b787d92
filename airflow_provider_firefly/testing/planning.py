"""What a job will produce: output sizes, seeds and media types, from the request body."""

from __future__ import annotations

import math
import random
import re
from typing import Any
from urllib.parse import urlsplit

from .flat_images import JPEG, JPEG_MAX_SIDE, WEBP, WEBP_MAX_SIDE
from .jobs import OutputPlan
from .state import EmulatorState

PNG = "image/png"
MP4 = "video/mp4"
COMPOSITES = ("/v3/images/precise-composite", "/v3/images/adaptive-composite")

_V4_MEGAPIXELS = {"1MP": 1.0, "2.4MP": 2.4, "4MP": 4.0}
_V4_RATIOS = {"1:1": (1, 1), "4:3": (4, 3), "3:4": (3, 4), "16:9": (16, 9), "9:16": (9, 16)}


def _v4_size(body: dict[str, Any]) -> tuple[int, int]:
    mp = _V4_MEGAPIXELS.get(str(body.get("resolutionLevel", "2.4MP")), 2.4)
    rw, rh = _V4_RATIOS.get(str(body.get("aspectRatio", "1:1")), (1, 1))
    unit = math.sqrt(mp * 1_000_000 / (rw * rh))
    return max(64, round(unit * rw / 64) * 64), max(64, round(unit * rh / 64) * 64)


def _source_dims(state: EmulatorState, source: Any) -> tuple[int, int] | None:
    if not isinstance(source, dict):
        return None
    if "uploadId" in source:
        with state.lock:
            up = state.uploads.get(str(source["uploadId"]))
        return up.dimensions if up else None
    url = source.get("url")
    if isinstance(url, str):
        match = re.match(r"^/outputs/([0-9a-f-]{36})\.", urlsplit(url).path)
        if match:
            out = state.outputs.get(match.group(1))
            if out:
                return out.plan.width, out.plan.height
    return None


def _seeds(
    body: dict[str, Any], default_n: int = 1, defaults: list[int] | None = None
) -> list[int]:
    seeds = body.get("seeds")
    if isinstance(seeds, list) and seeds:
        return [int(s) for s in seeds]
    n = int(body.get("numVariations") or default_n)
    if defaults:
        return defaults[:n]
    rng = random.Random()  # noqa: S311 - not crypto
    return [rng.randrange(1, 2**31 - 1) for _ in range(n)]


def served_media_type(requested: Any, width: int, height: int) -> str:
    """The type an image output is served as. PNG, JPEG and WebP are encoded as asked (WebP up
    to 16384 px a side); anything else (``image/jxl``: no encoder here) is served as PNG with
    an honest ``Content-Type``, like a server that ignores the requested type."""
    if requested == JPEG and max(width, height) <= JPEG_MAX_SIDE:
        return JPEG
    if requested == WEBP and max(width, height) <= WEBP_MAX_SIDE:
        return WEBP
    return PNG


def _images(w: int, h: int, seeds: list[int], requested: Any) -> list[OutputPlan]:
    media_type = served_media_type(requested, w, h)
    return [OutputPlan("image", w, h, s, media_type) for s in seeds]


def plan_outputs(state: EmulatorState, path: str, body: dict[str, Any]) -> list[OutputPlan]:
    """One plan per output. Only the composites have an output type field in the spec
    (``output.mediaType``); every other image is served as ``default_image_media_type``."""
    default = state.config.default_image_media_type
    if path == "/v3/videos/generate":
        sizes = body.get("sizes") or [{"width": 1920, "height": 1080}]
        w, h = int(sizes[0]["width"]), int(sizes[0]["height"])
        return [OutputPlan("video", w, h, s, MP4) for s in _seeds(body)]
    if path == "/v4/images/generate-async":
        return _images(*_v4_size(body), _seeds(body), default)
    if path in COMPOSITES:
        bg = ((body.get("background") or {}).get("image") or {}).get("source")
        w, h = _source_dims(state, bg) or (1024, 1024)
        requested = (body.get("output") or {}).get("mediaType", default)
        return _images(w, h, _seeds(body, 1, [333, 222, 111]), requested)
    if path == "/v3/images/upscale":
        w, h = _source_dims(state, (body.get("image") or {}).get("source")) or (1024, 1024)
        f = int(body.get("upscaleFactor", 2))
        return _images(w * f, h * f, _seeds(body), default)
    size = body.get("size") or {"width": 2048, "height": 2048}
    return _images(int(size["width"]), int(size["height"]), _seeds(body), default)
