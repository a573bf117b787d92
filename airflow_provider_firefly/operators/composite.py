"""Composite operators: object composite (generative), precise and adaptive composite."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_firefly.operators._params import as_bool, as_number, as_size, check_text
from airflow_provider_firefly.operators.base import FireflyBaseOperator, FireflyRequest
from airflow_provider_firefly.operators.bodies import (
    COMMON_FIELD_MAP,
    content_class,
    placement,
    put,
    spec_bounds,
    spec_limit,
    style,
    variations,
)
from airflow_provider_firefly.operators.variations import FireflyVariationsOperator

if TYPE_CHECKING:
    from airflow_provider_firefly.operators._inputs import ImageInputs

__all__ = [
    "FireflyAdaptiveCompositeOperator",
    "FireflyGenerateObjectCompositeOperator",
    "FireflyPreciseCompositeOperator",
]

MEDIA_TYPES = ("image/png", "image/jpeg", "image/webp", "image/jxl")
_FORMATS = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "webp": "image/webp",
    "jxl": "image/jxl",
}


class FireflyGenerateObjectCompositeOperator(FireflyVariationsOperator):
    """Place a product into a generated scene (``POST /v3/images/generate-object-composite-async``).

    :param image: the object (ideally with transparency, up to 10 MB).
    :param prompt: the scene to generate (1..1024 characters).
    :param mask: optional mask of the object.
    :param placement: ``"bottom-left"``... or the API's placement dict.
    :param content_class: ``photo`` or ``art``.
    :param style_presets: preset ids.
    :param style_reference: a style image.
    :param style_strength: 1..100.
    :param num_variations: 1..4.
    :param seeds: one integer per image.
    :param size: output size.
    """

    template_fields: Sequence[str] = (
        *FireflyVariationsOperator.template_fields,
        "image",
        "prompt",
        "mask",
        "placement",
        "style_reference",
    )

    def __init__(
        self,
        *,
        image: Any,
        prompt: str,
        mask: Any = None,
        placement: Any = None,
        content_class: str | None = None,
        style_presets: Sequence[str] | None = None,
        style_reference: Any = None,
        style_strength: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.image = image
        self.prompt = prompt
        self.mask = mask
        self.placement = placement
        self.content_class = content_class
        self.style_presets = style_presets
        self.style_reference = style_reference
        self.style_strength = style_strength

    def build_request(self, inputs: ImageInputs) -> FireflyRequest:
        label = self._label
        operation = "generate_object_composite"
        variation_fields = variations(label, operation, self.seeds, self.num_variations)
        max_len = spec_limit(operation, "prompt", "maxLength")
        body: dict[str, Any] = {
            "image": {"source": inputs.add("image", self.image)},
            "prompt": check_text(label, "prompt", self.prompt, max_len=max_len, required=True),
        }
        body.update(variation_fields)
        put(body, "size", as_size(label, "size", self.size))
        put(body, "placement", placement(label, self.placement))
        put(body, "contentClass", content_class(self._label, self.content_class))
        mask = inputs.add("mask", self.mask, required=False)
        if mask is not None:
            body["mask"] = {"source": mask}
        put(
            body,
            "style",
            style(label, inputs, self.style_presets, self.style_strength, self.style_reference),
        )
        return FireflyRequest("generate_object_composite", body, field_map=COMMON_FIELD_MAP)


class _CompositeBase(FireflyBaseOperator):
    template_fields: Sequence[str] = (
        *FireflyBaseOperator.template_fields,
        "background",
        "fill_area_mask",
        "object_image",
        "seeds",
        "num_variations",
    )

    def __init__(
        self,
        *,
        background: Any,
        fill_area_mask: Any,
        object_image: Any,
        num_variations: int | None = None,
        seeds: Sequence[int] | None = None,
        output_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.background = background
        self.fill_area_mask = fill_area_mask
        self.object_image = object_image
        self.num_variations = num_variations
        self.seeds = seeds
        self.output_format = output_format

    def _common(self, inputs: ImageInputs, operation: str) -> tuple[dict[str, Any], str | None]:
        variation_fields = variations(self._label, operation, self.seeds, self.num_variations)
        body: dict[str, Any] = {
            "background": {
                "image": {"source": inputs.add("background", self.background)},
                "fillAreaMask": {"source": inputs.add("fill_area_mask", self.fill_area_mask)},
            },
            "object": {"image": {"source": inputs.add("object_image", self.object_image)}},
        }
        body.update(variation_fields)
        media_type = None
        if self.output_format is not None:
            fmt = str(self.output_format).lower().strip()
            media_type = _FORMATS.get(fmt, fmt)
            if media_type not in MEDIA_TYPES:
                raise self._bad(
                    "output_format", f"is {self.output_format!r}", "choose png, jpeg, webp or jxl"
                )
            body["output"] = {"mediaType": media_type}
        return body, media_type

    _map = {
        "background": "background",
        "background.image": "background",
        "background.fillAreaMask": "fill_area_mask",
        "object": "object_image",
        "object.image": "object_image",
        "object.mask": "object_mask",
        "numVariations": "num_variations",
        "seeds": "seeds",
        "blend": "blend",
        "harmonization": "harmonization",
        "shadowIntensity": "shadow_intensity",
        "preserveBackground": "preserve_background",
        "output": "output_format",
        "output.mediaType": "output_format",
    }


class FireflyPreciseCompositeOperator(_CompositeBase):
    """Put an object into a photo's masked area as is (``POST /v3/images/precise-composite``).

    :param background: the background image.
    :param fill_area_mask: where the object goes.
    :param object_image: the object.
    :param blend: 0..1 (default 0.5).
    :param num_variations: 1..3.
    :param seeds: 1..3 integers (defaults 333, 222, 111).
    :param output_format: ``png``, ``jpeg``, ``webp`` or ``jxl`` (or the media type).
    """

    def __init__(self, *, blend: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.blend = blend

    def build_request(self, inputs: ImageInputs) -> FireflyRequest:
        body, media_type = self._common(inputs, "precise_composite")
        bounds = spec_bounds("precise_composite", "blend")
        put(body, "blend", as_number(self._label, "blend", self.blend, **bounds))
        return FireflyRequest("precise_composite", body, media_type=media_type, field_map=self._map)


class FireflyAdaptiveCompositeOperator(_CompositeBase):
    """Blend an object into a photo, relighting it (``POST /v3/images/adaptive-composite``).

    :param background: the background image.
    :param fill_area_mask: where the object goes.
    :param object_image: the object.
    :param object_mask: optional mask of the object.
    :param harmonization: 0..1 (default 0.6).
    :param shadow_intensity: 0..1 (default 1).
    :param preserve_background: keep the background untouched (default False).
    :param num_variations: 1..3.
    :param seeds: 1..3 integers.
    :param output_format: ``png``, ``jpeg``, ``webp`` or ``jxl``.
    """

    template_fields: Sequence[str] = (*_CompositeBase.template_fields, "object_mask")

    def __init__(
        self,
        *,
        object_mask: Any = None,
        harmonization: float | None = None,
        shadow_intensity: float | None = None,
        preserve_background: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.object_mask = object_mask
        self.harmonization = harmonization
        self.shadow_intensity = shadow_intensity
        self.preserve_background = preserve_background

    def build_request(self, inputs: ImageInputs) -> FireflyRequest:
        label = self._label
        body, media_type = self._common(inputs, "adaptive_composite")
        mask = inputs.add("object_mask", self.object_mask, required=False)
        if mask is not None:
            body["object"]["mask"] = {"source": mask}
        put(
            body,
            "harmonization",
            as_number(
                label,
                "harmonization",
                self.harmonization,
                **spec_bounds("adaptive_composite", "harmonization"),
            ),
        )
        put(
            body,
            "shadowIntensity",
            as_number(
                label,
                "shadow_intensity",
                self.shadow_intensity,
                **spec_bounds("adaptive_composite", "shadowIntensity"),
            ),
        )
        put(
            body,
            "preserveBackground",
            as_bool(label, "preserve_background", self.preserve_background),
        )
        return FireflyRequest(
            "adaptive_composite", body, media_type=media_type, field_map=self._map
        )
