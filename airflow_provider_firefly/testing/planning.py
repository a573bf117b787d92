"""What a job will produce: output sizes, seeds and media types, from the request body."""

from __future__ import annotations

import math
import random
import re
from typing import Any
from urllib.parse import urlsplit

from .jobs import OutputPlan
from .state import EmulatorState

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


def plan_outputs(state: EmulatorState, path: str, body: dict[str, Any]) -> list[OutputPlan]:
    if path == "/v3/videos/generate":
        sizes = body.get("sizes") or [{"width": 1920, "height": 1080}]
        w, h = int(sizes[0]["width"]), int(sizes[0]["height"])
        return [OutputPlan("video", w, h, s) for s in _seeds(body)]
    if path == "/v4/images/generate-async":
        w, h = _v4_size(body)
        return [OutputPlan("image", w, h, s) for s in _seeds(body)]
    if path in ("/v3/images/precise-composite", "/v3/images/adaptive-composite"):
        bg = ((body.get("background") or {}).get("image") or {}).get("source")
        w, h = _source_dims(state, bg) or (1024, 1024)
        return [OutputPlan("image", w, h, s) for s in _seeds(body, 1, [333, 222, 111])]
    if path == "/v3/images/upscale":
        w, h = _source_dims(state, (body.get("image") or {}).get("source")) or (1024, 1024)
        f = int(body.get("upscaleFactor", 2))
        return [OutputPlan("image", w * f, h * f, s) for s in _seeds(body)]
    size = body.get("size") or {"width": 2048, "height": 2048}
    w, h = int(size["width"]), int(size["height"])
    return [OutputPlan("image", w, h, s) for s in _seeds(body)]
