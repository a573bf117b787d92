"""Image operators: text to image (Image 3/4/5, custom models), similar, expand, fill, upscale."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_firefly.operators import _params as p
from airflow_provider_firefly.operators.base import FireflyJobOperator, FireflyRequest

if TYPE_CHECKING:
    from airflow_provider_firefly.operators._inputs import ImageInputs

__all__ = [
    "FireflyExpandImageOperator",
    "FireflyFillImageOperator",
    "FireflyGenerateImagesOperator",
    "FireflyGenerateSimilarImagesOperator",
    "FireflyUpscaleImageOperator",
]

#: ``model`` values of :class:`FireflyGenerateImagesOperator` → (operation, x-model-version).
MODELS: dict[str, tuple[str, str]] = {
    "image3": ("generate_images", "image3"),
    "image4": ("generate_images", "image4_standard"),
    "image4_standard": ("generate_images", "image4_standard"),
    "image4_ultra": ("generate_images", "image4_ultra"),
    "image5": ("generate_images_v4", "image5"),
}
_COMMON_MAP = {
    "prompt": "prompt",
    "negativePrompt": "negative_prompt",
    "numVariations": "num_variations",
    "seeds": "seeds",
    "size": "size",
    "contentClass": "content_class",
    "promptBiasingLocaleCode": "locale",
    "image": "image",
    "mask": "mask",
    "mask.invert": "mask_invert",
    "placement": "placement",
    "style": "style_presets",
    "style.presets": "style_presets",
    "style.strength": "style_strength",
    "style.imageReference": "style_reference",
    "structure": "structure_reference",
    "structure.strength": "structure_strength",
    "structure.imageReference": "structure_reference",
}


def _seeds_and_variations(
    op: FireflyJobOperator, seeds: Any, num_variations: Any, high: int
) -> tuple[list[int] | None, int | None]:
    label = type(op).__name__
    seed_list = p.as_seeds(label, "seeds", seeds, max_items=high)
    count = p.as_int(label, "num_variations", num_variations, low=1, high=high)
    p.check_variations(label, count, seed_list, high=high)
    return seed_list, count


def _put(body: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        body[key] = value


def _content_class(op: Any) -> str | None:
    """``content_class``: ``photo`` or ``art``."""
    choice: str | None = p.check_choice(
        op._label, "content_class", op.content_class, ("photo", "art")
    )
    return choice


def _style(op: Any, inputs: ImageInputs) -> dict[str, Any] | None:
    """The ``style`` object from ``style_presets``, ``style_strength`` and ``style_reference``."""
    label = op._label
    style: dict[str, Any] = {}
    _put(style, "presets", p.as_str_list(label, "style_presets", op.style_presets))
    _put(style, "strength", p.as_int(label, "style_strength", op.style_strength, low=1, high=100))
    ref = inputs.add("style_reference", op.style_reference, required=False)
    if ref is not None:
        style["imageReference"] = {"source": ref}
    return style or None


def _placement(op: FireflyJobOperator, placement: Any) -> dict[str, Any] | None:
    """``placement``: a dict as the API takes, or an alignment shorthand like ``"top-left"``."""
    if placement is None:
        return None
    if isinstance(placement, dict):
        return placement
    if isinstance(placement, str):
        parts = placement.replace("_", "-").lower().split("-")
        vertical = next((v for v in parts if v in ("top", "bottom", "center")), "center")
        horizontal = next((h for h in parts if h in ("left", "right")), "center")
        unknown = [x for x in parts if x not in ("top", "bottom", "center", "left", "right")]
        if unknown or not parts:
            raise op._bad(
                "placement",
                f"is {placement!r}",
                "use a dict {'alignment': {...}, 'inset': {...}} or 'top-left', 'center', "
                "'bottom-right'...",
            )
        return {"alignment": {"horizontal": horizontal, "vertical": vertical}}
    raise op._bad("placement", f"must be a dict or an alignment string, got {placement!r}")


class FireflyGenerateImagesOperator(FireflyJobOperator):
    """Text to image: Image 3, Image 4 (standard, ultra), custom models, or Image 5.

    ``POST /v3/images/generate-async`` for Image 3/4 and custom models (``x-model-version``
    ``image3``, ``image4_standard``, ``image4_ultra``, ``image3_custom``, ``image4_custom``), or
    ``POST /v4/images/generate-async`` for ``model="image5"``.

    :param prompt: what to generate (1..1024 characters; 1500 for Image 5). Templated; a value
        ending in ``.txt`` is read as a template file.
    :param model: ``image3`` (default), ``image4`` / ``image4_standard``, ``image4_ultra`` or
        ``image5``. With ``custom_model_id``, ``image3`` becomes ``image3_custom`` and
        ``image4*`` ``image4_custom``.
    :param custom_model_id: a custom model's asset id (``urn:aaid:sc:...``), see
        :class:`FireflyListCustomModelsOperator`.
    :param negative_prompt: what to avoid (up to 1024 characters; not with custom models).
    :param num_variations: 1..4 images (1 for Image 5); default ``len(seeds)`` or 1.
    :param seeds: one integer per image, to reproduce results.
    :param size: ``(width, height)``, ``"2048x2048"`` or ``{"width", "height"}`` (Image 3/4).
    :param aspect_ratio: Image 5 only: ``1:1``, ``4:3``, ``3:4``, ``16:9``, ``9:16``, ``auto``.
    :param resolution: Image 5 only: ``1MP``, ``2.4MP`` (default) or ``4MP``.
    :param content_class: ``photo`` or ``art``.
    :param style_presets: style preset ids, e.g. ``["watercolor"]``.
    :param style_reference: an image whose style to follow (upload id, URL, path, storage).
    :param style_strength: 1..100.
    :param structure_reference: an image whose structure to follow.
    :param structure_strength: 0..100.
    :param visual_intensity: 2..10 (not with ``image4_custom``).
    :param locale: prompt biasing locale, e.g. ``en-US`` (Image 5: ``localeCode``).
    :param upsampler_type: ``default`` or ``low_creativity`` (``image4_custom`` only).
    :param prompt_reasoner: Image 5 only: ``speed`` or ``quality`` (fills ``altText``).
    :param reference_image: Image 5 only: one general reference image.
    """

    template_fields: Sequence[str] = (
        *FireflyJobOperator.template_fields,
        "prompt",
        "negative_prompt",
        "model",
        "custom_model_id",
        "size",
        "seeds",
        "num_variations",
        "aspect_ratio",
        "style_reference",
        "structure_reference",
        "reference_image",
        "locale",
    )

    def __init__(
        self,
        *,
        prompt: str,
        model: str = "image3",
        custom_model_id: str | None = None,
        negative_prompt: str | None = None,
        num_variations: int | None = None,
        seeds: Sequence[int] | None = None,
        size: Any = None,
        aspect_ratio: str | None = None,
        resolution: str | None = None,
        content_class: str | None = None,
        style_presets: Sequence[str] | None = None,
        style_reference: Any = None,
        style_strength: int | None = None,
        structure_reference: Any = None,
        structure_strength: int | None = None,
        visual_intensity: int | None = None,
        locale: str | None = None,
        upsampler_type: str | None = None,
        prompt_reasoner: str | None = None,
        reference_image: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.prompt = prompt
        self.model = model
        self.custom_model_id = custom_model_id
        self.negative_prompt = negative_prompt
        self.num_variations = num_variations
        self.seeds = seeds
        self.size = size
        self.aspect_ratio = aspect_ratio
        self.resolution = resolution
        self.content_class = content_class
        self.style_presets = style_presets
        self.style_reference = style_reference
        self.style_strength = style_strength
        self.structure_reference = structure_reference
        self.structure_strength = structure_strength
        self.visual_intensity = visual_intensity
        self.locale = locale
        self.upsampler_type = upsampler_type
        self.prompt_reasoner = prompt_reasoner
        self.reference_image = reference_image

    def _resolve_model(self) -> tuple[str, str]:
        model = p.check_choice(self._label, "model", self.model, MODELS)
        operation, version = MODELS[model]
        if self.custom_model_id is not None:
            if operation != "generate_images":
                raise self._bad(
                    "custom_model_id",
                    "is not supported by Image 5",
                    "use model='image3' or 'image4'",
                )
            p.check_text(self._label, "custom_model_id", self.custom_model_id, max_len=500)
            version = "image3_custom" if version == "image3" else "image4_custom"
        return operation, version

    def _not_for(self, model: str, params: Sequence[str], fix: str) -> None:
        for name in params:
            if getattr(self, name) is not None:
                raise self._bad(name, f"is not supported by {model}", fix)

    def build_request(self, inputs: ImageInputs) -> FireflyRequest:
        label = self._label
        operation, version = self._resolve_model()
        if operation == "generate_images_v4":
            return self._build_v4(inputs, version)
        self._not_for(
            version,
            ("aspect_ratio", "resolution", "prompt_reasoner", "reference_image"),
            "these are Image 5 parameters (model='image5'); use size for Image 3/4",
        )
        custom = version.endswith("_custom")
        if custom:
            self._not_for(version, ("negative_prompt",), "custom models take no negative prompt")
        if version == "image4_custom":
            self._not_for(version, ("visual_intensity",), "remove it")
        elif self.upsampler_type is not None:
            raise self._bad("upsampler_type", f"is only for image4_custom, not {version}")
        body: dict[str, Any] = {
            "prompt": p.check_text(label, "prompt", self.prompt, max_len=1024, required=True)
        }
        seeds, count = _seeds_and_variations(self, self.seeds, self.num_variations, 4)
        _put(body, "numVariations", count)
        _put(body, "seeds", seeds)
        _put(
            body,
            "negativePrompt",
            p.check_text(label, "negative_prompt", self.negative_prompt, max_len=1024),
        )
        _put(body, "size", p.as_size(label, "size", self.size))
        _put(body, "contentClass", _content_class(self))
        _put(
            body,
            "visualIntensity",
            p.as_int(label, "visual_intensity", self.visual_intensity, low=2, high=10),
        )
        _put(
            body, "promptBiasingLocaleCode", p.check_text(label, "locale", self.locale, max_len=35)
        )
        _put(
            body,
            "upsamplerType",
            p.check_choice(
                label, "upsampler_type", self.upsampler_type, ("default", "low_creativity")
            ),
        )
        if custom:
            body["customModelId"] = self.custom_model_id
        _put(body, "style", _style(self, inputs))
        structure: dict[str, Any] = {}
        _put(
            structure,
            "strength",
            p.as_int(label, "structure_strength", self.structure_strength, low=0, high=100),
        )
        ref = inputs.add("structure_reference", self.structure_reference, required=False)
        if ref is not None:
            structure["imageReference"] = {"source": ref}
        if structure:
            if "imageReference" not in structure:
                raise self._bad("structure_strength", "needs a structure_reference image")
            body["structure"] = structure
        field_map = {
            **_COMMON_MAP,
            "customModelId": "custom_model_id",
            "visualIntensity": "visual_intensity",
            "upsamplerType": "upsampler_type",
        }
        return FireflyRequest(operation, body, version, field_map=field_map)

    def _build_v4(self, inputs: ImageInputs, version: str) -> FireflyRequest:
        label = self._label
        self._not_for(
            "Image 5",
            (
                "size",
                "negative_prompt",
                "content_class",
                "style_presets",
                "style_reference",
                "style_strength",
                "structure_reference",
                "structure_strength",
                "visual_intensity",
                "upsampler_type",
            ),
            "Image 5 takes prompt, aspect_ratio, resolution, seeds, locale, prompt_reasoner and "
            "reference_image",
        )
        body: dict[str, Any] = {
            "prompt": p.check_text(label, "prompt", self.prompt, max_len=1500, required=True)
        }
        seeds, count = _seeds_and_variations(self, self.seeds, self.num_variations, 1)
        _put(body, "numVariations", count)
        _put(body, "seeds", seeds)
        _put(
            body,
            "aspectRatio",
            p.check_choice(
                label,
                "aspect_ratio",
                self.aspect_ratio,
                ("1:1", "4:3", "3:4", "16:9", "9:16", "auto"),
            ),
        )
        _put(
            body,
            "resolutionLevel",
            p.check_choice(label, "resolution", self.resolution, ("1MP", "2.4MP", "4MP")),
        )
        payload: dict[str, Any] = {}
        _put(payload, "localeCode", p.check_text(label, "locale", self.locale, max_len=35))
        _put(
            payload,
            "prompt_reasoner",
            p.check_choice(label, "prompt_reasoner", self.prompt_reasoner, ("speed", "quality")),
        )
        if payload:
            body["modelSpecificPayload"] = payload
        ref = inputs.add("reference_image", self.reference_image, required=False)
        if ref is not None:
            if body.get("aspectRatio") not in (None, "auto"):
                raise self._bad("aspect_ratio", "must be unset or 'auto' with a reference_image")
            body["referenceBlobs"] = [{"source": ref, "usage": "general"}]
        field_map = {
            "prompt": "prompt",
            "numVariations": "num_variations",
            "seeds": "seeds",
            "aspectRatio": "aspect_ratio",
            "resolutionLevel": "resolution",
            "modelSpecificPayload.localeCode": "locale",
            "modelSpecificPayload.prompt_reasoner": "prompt_reasoner",
            "referenceBlobs": "reference_image",
        }
        return FireflyRequest("generate_images_v4", body, version, field_map=field_map)


class FireflyGenerateSimilarImagesOperator(FireflyJobOperator):
    """Images similar to a reference (``POST /v3/images/generate-similar-async``).

    :param image: the reference image (upload id, presigned URL, local path, ObjectStoragePath).
    :param model: ``image3`` (default), ``image4_standard`` or ``image4_ultra``.
    :param num_variations: 1..4.
    :param seeds: one integer per image.
    :param size: output size, e.g. ``(2048, 2048)``.
    """

    template_fields: Sequence[str] = (
        *FireflyJobOperator.template_fields,
        "image",
        "model",
        "size",
        "seeds",
        "num_variations",
    )

    def __init__(
        self,
        *,
        image: Any,
        model: str = "image3",
        num_variations: int | None = None,
        seeds: Sequence[int] | None = None,
        size: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.image = image
        self.model = model
        self.num_variations = num_variations
        self.seeds = seeds
        self.size = size

    def build_request(self, inputs: ImageInputs) -> FireflyRequest:
        label = self._label
        model = "image4_standard" if self.model == "image4" else self.model
        version = p.check_choice(
            label, "model", model, ("image3", "image4_standard", "image4_ultra")
        )
        seeds, count = _seeds_and_variations(self, self.seeds, self.num_variations, 4)
        body: dict[str, Any] = {"image": {"source": inputs.add("image", self.image)}}
        _put(body, "numVariations", count)
        _put(body, "seeds", seeds)
        _put(body, "size", p.as_size(label, "size", self.size))
        return FireflyRequest("generate_similar_images", body, version, field_map=_COMMON_MAP)


class FireflyExpandImageOperator(FireflyJobOperator):
    """Generative expand: grow an image to a larger size (``POST /v3/images/expand-async``).

    :param image: the image to expand.
    :param size: the output size (up to 3999 per side).
    :param prompt: what to fill the new area with (optional, 1..1024 characters).
    :param mask: optional mask image.
    :param mask_invert: invert it.
    :param placement: where the original goes: ``"top-left"``, ``"center"``... or the API's
        ``{"alignment": {"horizontal", "vertical"}, "inset": {"top", ...}}``.
    :param num_variations: 1..4.
    :param seeds: one integer per image.
    """

    template_fields: Sequence[str] = (
        *FireflyJobOperator.template_fields,
        "image",
        "mask",
        "prompt",
        "size",
        "seeds",
        "num_variations",
        "placement",
    )

    def __init__(
        self,
        *,
        image: Any,
        size: Any = None,
        prompt: str | None = None,
        mask: Any = None,
        mask_invert: bool | None = None,
        placement: Any = None,
        num_variations: int | None = None,
        seeds: Sequence[int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.image = image
        self.size = size
        self.prompt = prompt
        self.mask = mask
        self.mask_invert = mask_invert
        self.placement = placement
        self.num_variations = num_variations
        self.seeds = seeds

    def build_request(self, inputs: ImageInputs) -> FireflyRequest:
        label = self._label
        seeds, count = _seeds_and_variations(self, self.seeds, self.num_variations, 4)
        body: dict[str, Any] = {"image": {"source": inputs.add("image", self.image)}}
        _put(body, "prompt", p.check_text(label, "prompt", self.prompt, max_len=1024))
        _put(body, "numVariations", count)
        _put(body, "seeds", seeds)
        _put(body, "size", p.as_size(label, "size", self.size, high=3999))
        _put(body, "placement", _placement(self, self.placement))
        mask = inputs.add("mask", self.mask, required=False)
        if mask is not None:
            body["mask"] = {"source": mask}
            _put(body["mask"], "invert", p.as_bool(label, "mask_invert", self.mask_invert))
        elif self.mask_invert is not None:
            raise self._bad("mask_invert", "needs a mask")
        return FireflyRequest("expand_image", body, field_map=_COMMON_MAP)


class FireflyFillImageOperator(FireflyJobOperator):
    """Generative fill: repaint the masked area of an image (``POST /v3/images/fill-async``).

    :param image: the image.
    :param mask: the mask (white = area to fill unless inverted).
    :param prompt: what to paint (optional, 1..1024).
    :param negative_prompt: what to avoid.
    :param mask_invert: fill the unmasked area instead.
    :param locale: e.g. ``en-US``.
    :param num_variations: 1..4.
    :param seeds: one integer per image.
    :param size: output size.
    """

    template_fields: Sequence[str] = (
        *FireflyJobOperator.template_fields,
        "image",
        "mask",
        "prompt",
        "negative_prompt",
        "size",
        "seeds",
        "num_variations",
        "locale",
    )

    def __init__(
        self,
        *,
        image: Any,
        mask: Any,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        mask_invert: bool | None = None,
        locale: str | None = None,
        num_variations: int | None = None,
        seeds: Sequence[int] | None = None,
        size: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.image = image
        self.mask = mask
        self.prompt = prompt
        self.negative_prompt = negative_prompt
        self.mask_invert = mask_invert
        self.locale = locale
        self.num_variations = num_variations
        self.seeds = seeds
        self.size = size

    def build_request(self, inputs: ImageInputs) -> FireflyRequest:
        label = self._label
        seeds, count = _seeds_and_variations(self, self.seeds, self.num_variations, 4)
        body: dict[str, Any] = {
            "image": {"source": inputs.add("image", self.image)},
            "mask": {"source": inputs.add("mask", self.mask)},
        }
        _put(body["mask"], "invert", p.as_bool(label, "mask_invert", self.mask_invert))
        _put(body, "prompt", p.check_text(label, "prompt", self.prompt, max_len=1024))
        _put(
            body,
            "negativePrompt",
            p.check_text(label, "negative_prompt", self.negative_prompt, max_len=1024),
        )
        _put(
            body, "promptBiasingLocaleCode", p.check_text(label, "locale", self.locale, max_len=35)
        )
        _put(body, "numVariations", count)
        _put(body, "seeds", seeds)
        _put(body, "size", p.as_size(label, "size", self.size))
        return FireflyRequest("fill_image", body, field_map=_COMMON_MAP)


class FireflyUpscaleImageOperator(FireflyJobOperator):
    """Precise upscale (``POST /v3/images/upscale``, ``precise_upsampler_v1``).

    :param image: the image to upscale.
    :param upscale_factor: 2 (default), 3, 4 or 6.
    :param seeds: one integer per output (1..4); default one random seed.
    """

    template_fields: Sequence[str] = (
        *FireflyJobOperator.template_fields,
        "image",
        "upscale_factor",
        "seeds",
    )

    def __init__(
        self,
        *,
        image: Any,
        upscale_factor: int = 2,
        seeds: Sequence[int] | None = None,
        model_version: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.image = image
        self.upscale_factor = upscale_factor
        self.seeds = seeds
        self.model_version = model_version

    def build_request(self, inputs: ImageInputs) -> FireflyRequest:
        label = self._label
        factor = p.check_choice(label, "upscale_factor", self.upscale_factor, (2, 3, 4, 6))
        seeds = p.as_seeds(label, "seeds", self.seeds, max_items=4, unique=False)
        body: dict[str, Any] = {
            "image": {"source": inputs.add("image", self.image)},
            "seeds": seeds or [random.randint(1, 999_999)],  # noqa: S311 - not security
            "upscaleFactor": factor,
        }
        return FireflyRequest(
            "upscale_image",
            body,
            self.model_version,
            field_map={"image": "image", "seeds": "seeds", "upscaleFactor": "upscale_factor"},
        )
