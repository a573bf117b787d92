"""Image generation operators: text to image (Image 3/4/5, custom models) and similar images.

The operators that change an existing image (expand, fill, upscale) are in :mod:`.image_edits`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_firefly.operators._params import (
    as_int,
    as_size,
    check_choice,
    check_text,
)
from airflow_provider_firefly.operators.base import FireflyRequest
from airflow_provider_firefly.operators.bodies import (
    COMMON_FIELD_MAP,
    content_class,
    put,
    spec_bounds,
    spec_limit,
    style,
    variations,
)
from airflow_provider_firefly.operators.variations import FireflyVariationsOperator

if TYPE_CHECKING:
    from airflow_provider_firefly.operators._inputs import ImageInputs

__all__ = ["FireflyGenerateImagesOperator", "FireflyGenerateSimilarImagesOperator"]

#: ``model`` values of :class:`FireflyGenerateImagesOperator` → (operation, x-model-version).
MODELS: dict[str, tuple[str, str]] = {
    "image3": ("generate_images", "image3"),
    "image4": ("generate_images", "image4_standard"),
    "image4_standard": ("generate_images", "image4_standard"),
    "image4_ultra": ("generate_images", "image4_ultra"),
    "image5": ("generate_images_v4", "image5"),
}


class FireflyGenerateImagesOperator(FireflyVariationsOperator):
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
        *FireflyVariationsOperator.template_fields,
        "prompt",
        "negative_prompt",
        "model",
        "custom_model_id",
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
        model = check_choice(self._label, "model", self.model, MODELS)
        operation, version = MODELS[model]
        if self.custom_model_id is not None:
            if operation != "generate_images":
                raise self._bad(
                    "custom_model_id",
                    "is not supported by Image 5",
                    "use model='image3' or 'image4'",
                )
            check_text(self._label, "custom_model_id", self.custom_model_id, max_len=500)
            version = "image3_custom" if version == "image3" else "image4_custom"
        return operation, version

    def _not_for(self, model: str, params: Sequence[str], fix: str) -> None:
        for name in params:
            if getattr(self, name) is not None:
                raise self._bad(name, f"is not supported by {model}", fix)

    def _prompt_and_variations(self, operation: str) -> dict[str, Any]:
        label = self._label
        max_len = spec_limit(operation, "prompt", "maxLength")
        body = {"prompt": check_text(label, "prompt", self.prompt, max_len=max_len, required=True)}
        body.update(variations(label, operation, self.seeds, self.num_variations))
        return body

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
        body = self._prompt_and_variations(operation)
        negative_max = spec_limit(operation, "negativePrompt", "maxLength")
        put(
            body,
            "negativePrompt",
            check_text(label, "negative_prompt", self.negative_prompt, max_len=negative_max),
        )
        put(body, "size", as_size(label, "size", self.size))
        put(body, "contentClass", content_class(label, self.content_class))
        put(
            body,
            "visualIntensity",
            as_int(
                label,
                "visual_intensity",
                self.visual_intensity,
                **spec_bounds(operation, "visualIntensity"),
            ),
        )
        put(body, "promptBiasingLocaleCode", check_text(label, "locale", self.locale, max_len=35))
        put(
            body,
            "upsamplerType",
            check_choice(
                label, "upsampler_type", self.upsampler_type, ("default", "low_creativity")
            ),
        )
        if custom:
            body["customModelId"] = self.custom_model_id
        put(
            body,
            "style",
            style(label, inputs, self.style_presets, self.style_strength, self.style_reference),
        )
        structure: dict[str, Any] = {}
        put(
            structure,
            "strength",
            as_int(
                label,
                "structure_strength",
                self.structure_strength,
                **spec_bounds(operation, "structure.strength"),
            ),
        )
        ref = inputs.add("structure_reference", self.structure_reference, required=False)
        if ref is not None:
            structure["imageReference"] = {"source": ref}
        if structure:
            if "imageReference" not in structure:
                raise self._bad("structure_strength", "needs a structure_reference image")
            body["structure"] = structure
        field_map = {
            **COMMON_FIELD_MAP,
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
        body = self._prompt_and_variations("generate_images_v4")
        put(
            body,
            "aspectRatio",
            check_choice(
                label,
                "aspect_ratio",
                self.aspect_ratio,
                ("1:1", "4:3", "3:4", "16:9", "9:16", "auto"),
            ),
        )
        put(
            body,
            "resolutionLevel",
            check_choice(label, "resolution", self.resolution, ("1MP", "2.4MP", "4MP")),
        )
        payload: dict[str, Any] = {}
        put(payload, "localeCode", check_text(label, "locale", self.locale, max_len=35))
        put(
            payload,
            "prompt_reasoner",
            check_choice(label, "prompt_reasoner", self.prompt_reasoner, ("speed", "quality")),
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


class FireflyGenerateSimilarImagesOperator(FireflyVariationsOperator):
    """Images similar to a reference (``POST /v3/images/generate-similar-async``).

    :param image: the reference image (upload id, presigned URL, local path, ObjectStoragePath).
    :param model: ``image3`` (default), ``image4_standard`` or ``image4_ultra``.
    :param num_variations: 1..4.
    :param seeds: one integer per image.
    :param size: output size, e.g. ``(2048, 2048)``.
    """

    template_fields: Sequence[str] = (
        *FireflyVariationsOperator.template_fields,
        "image",
        "model",
    )

    def __init__(
        self,
        *,
        image: Any,
        model: str = "image3",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.image = image
        self.model = model

    def build_request(self, inputs: ImageInputs) -> FireflyRequest:
        label = self._label
        model = "image4_standard" if self.model == "image4" else self.model
        version = check_choice(label, "model", model, ("image3", "image4_standard", "image4_ultra"))
        variation_fields = variations(
            label, "generate_similar_images", self.seeds, self.num_variations
        )
        body: dict[str, Any] = {"image": {"source": inputs.add("image", self.image)}}
        body.update(variation_fields)
        put(body, "size", as_size(label, "size", self.size))
        return FireflyRequest("generate_similar_images", body, version, field_map=COMMON_FIELD_MAP)
