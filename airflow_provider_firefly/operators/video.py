"""Video operator: text or keyframe images to a five-second clip (``POST /v3/videos/generate``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_firefly.operators._params import (
    as_int,
    as_number,
    as_size,
    check_choice,
    check_text,
)
from airflow_provider_firefly.operators.base import FireflyBaseOperator, FireflyRequest
from airflow_provider_firefly.operators.bodies import put, spec_bounds

if TYPE_CHECKING:
    from airflow_provider_firefly.operators._inputs import ImageInputs

__all__ = ["FireflyGenerateVideoOperator"]

CAMERA_MOTIONS = (
    "camera pan left",
    "camera pan right",
    "camera zoom in",
    "camera zoom out",
    "camera tilt up",
    "camera tilt down",
    "camera locked down",
    "camera handheld",
)
PROMPT_STYLES = (
    "anime",
    "3d",
    "fantasy",
    "cinematic",
    "claymation",
    "line art",
    "stop motion",
    "2d",
    "vector art",
    "black and white",
)
SHOT_ANGLES = (
    "aerial shot",
    "eye_level shot",
    "high angle shot",
    "low angle shot",
    "top-down shot",
)
SHOT_SIZES = ("close-up shot", "extreme close-up", "medium shot", "long shot", "extreme long shot")


class FireflyGenerateVideoOperator(FireflyBaseOperator):
    """A five-second video from a prompt and/or keyframe images.

    :param prompt: what happens in the clip (templated; ``.txt`` files are read).
    :param first_frame: an image to start from (upload id, URL, path, ObjectStoragePath).
    :param last_frame: an image to end on.
    :param keyframes: more keyframes as ``[(image, position), ...]`` or
        ``[{"image": ..., "position": 0.5}, ...]``, position 0 (first frame) .. 1 (last).
    :param seed: one integer to reproduce a clip.
    :param size: ``(1920, 1080)`` (default), ``(1080, 1920)``, ``(1080, 1080)``, 720p and 540p
        variants.
    :param bit_rate_factor: 0..63 (default 18; 17-23 recommended; lower is better quality).
    :param camera_motion: e.g. ``"camera zoom in"``.
    :param prompt_style: e.g. ``"cinematic"``.
    :param shot_angle: e.g. ``"aerial shot"``.
    :param shot_size: e.g. ``"close-up shot"``.
    :param model_version: ``video1_standard`` (the only value).
    """

    template_fields: Sequence[str] = (
        *FireflyBaseOperator.template_fields,
        "prompt",
        "first_frame",
        "last_frame",
        "keyframes",
        "seed",
        "size",
    )

    def __init__(
        self,
        *,
        prompt: str | None = None,
        first_frame: Any = None,
        last_frame: Any = None,
        keyframes: Sequence[Any] | None = None,
        seed: int | None = None,
        size: Any = None,
        bit_rate_factor: int | None = None,
        camera_motion: str | None = None,
        prompt_style: str | None = None,
        shot_angle: str | None = None,
        shot_size: str | None = None,
        model_version: str = "video1_standard",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.prompt = prompt
        self.first_frame = first_frame
        self.last_frame = last_frame
        self.keyframes = keyframes
        self.seed = seed
        self.size = size
        self.bit_rate_factor = bit_rate_factor
        self.camera_motion = camera_motion
        self.prompt_style = prompt_style
        self.shot_angle = shot_angle
        self.shot_size = shot_size
        self.model_version = model_version

    def _frames(self) -> list[tuple[str, Any, Any]]:
        frames: list[tuple[str, Any, Any]] = []
        if self.first_frame is not None:
            frames.append(("first_frame", self.first_frame, 0))
        if self.last_frame is not None:
            frames.append(("last_frame", self.last_frame, 1))
        if self.keyframes is None:
            return frames
        if not isinstance(self.keyframes, (list, tuple)):
            raise self._bad("keyframes", f"must be a list, got {type(self.keyframes).__name__}")
        for number, frame in enumerate(self.keyframes):
            if isinstance(frame, dict) and set(frame) <= {"image", "position"} and "image" in frame:
                image, position = frame["image"], frame.get("position")
            elif isinstance(frame, (list, tuple)) and len(frame) == 2:
                image, position = frame
            else:
                raise self._bad(
                    "keyframes",
                    f"item {number} is {frame!r}",
                    "give (image, position) pairs or {'image': ..., 'position': 0..1} dicts",
                )
            frames.append((f"keyframes[{number}]", image, position))
        return frames

    def build_request(self, inputs: ImageInputs) -> FireflyRequest:
        label = self._label
        prompt = check_text(label, "prompt", self.prompt, max_len=4000)
        frames = self._frames()
        if prompt is None and not frames:
            raise self._bad(
                "prompt", "is required when no first_frame, last_frame or keyframes are given"
            )
        body: dict[str, Any] = {}
        put(body, "prompt", prompt)
        seed = as_int(label, "seed", self.seed)
        if seed is not None:
            body["seeds"] = [seed]
        size = as_size(label, "size", self.size, high=8192)
        if size is not None:
            body["sizes"] = [size]
        put(
            body,
            "bitRateFactor",
            as_int(
                label,
                "bit_rate_factor",
                self.bit_rate_factor,
                **spec_bounds("generate_video", "bitRateFactor"),
            ),
        )
        settings: dict[str, Any] = {}
        put(
            settings,
            "cameraMotion",
            check_choice(label, "camera_motion", self.camera_motion, CAMERA_MOTIONS),
        )
        put(
            settings,
            "promptStyle",
            check_choice(label, "prompt_style", self.prompt_style, PROMPT_STYLES),
        )
        put(settings, "shotAngle", check_choice(label, "shot_angle", self.shot_angle, SHOT_ANGLES))
        put(settings, "shotSize", check_choice(label, "shot_size", self.shot_size, SHOT_SIZES))
        if settings:
            body["videoSettings"] = settings
        conditions = []
        for param, image, position in frames:
            where = as_number(label, param, position, low=0, high=1)
            if where is None:
                raise self._bad(param, "needs a position from 0 (first frame) to 1 (last frame)")
            source = inputs.add(
                param.split("[")[0] if param.startswith("keyframes") else param, image
            )
            conditions.append({"source": source, "placement": {"position": where}})
        if conditions:
            body["image"] = {"conditions": conditions}
        field_map = {
            "prompt": "prompt",
            "seeds": "seed",
            "sizes": "size",
            "bitRateFactor": "bit_rate_factor",
            "videoSettings.cameraMotion": "camera_motion",
            "videoSettings.promptStyle": "prompt_style",
            "videoSettings.shotAngle": "shot_angle",
            "videoSettings.shotSize": "shot_size",
            "image": "keyframes",
        }
        return FireflyRequest("generate_video", body, self.model_version, field_map=field_map)
