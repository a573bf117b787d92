"""Operators that change an existing image: generative expand, generative fill, upscale."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_firefly.operators._params import (
    as_bool,
    as_seeds,
    as_size,
    check_choice,
    check_text,
)
from airflow_provider_firefly.operators.base import FireflyBaseOperator, FireflyRequest
from airflow_provider_firefly.operators.bodies import (
    COMMON_FIELD_MAP,
    placement,
    put,
    spec_limit,
    variations,
)
from airflow_provider_firefly.operators.variations import FireflyVariationsOperator

if TYPE_CHECKING:
    from airflow_provider_firefly.operators._inputs import ImageInputs

__all__ = ["FireflyExpandImageOperator", "FireflyFillImageOperator", "FireflyUpscaleImageOperator"]


class FireflyExpandImageOperator(FireflyVariationsOperator):
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
        *FireflyVariationsOperator.template_fields,
        "image",
        "mask",
        "prompt",
        "placement",
    )

    def __init__(
        self,
        *,
        image: Any,
        prompt: str | None = None,
        mask: Any = None,
        mask_invert: bool | None = None,
        placement: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.image = image
        self.prompt = prompt
        self.mask = mask
        self.mask_invert = mask_invert
        self.placement = placement

    def build_request(self, inputs: ImageInputs) -> FireflyRequest:
        label = self._label
        variation_fields = variations(label, "expand_image", self.seeds, self.num_variations)
        body: dict[str, Any] = {"image": {"source": inputs.add("image", self.image)}}
        max_len = spec_limit("expand_image", "prompt", "maxLength")
        put(body, "prompt", check_text(label, "prompt", self.prompt, max_len=max_len))
        body.update(variation_fields)
        put(body, "size", as_size(label, "size", self.size, high=3999))
        put(body, "placement", placement(label, self.placement))
        mask = inputs.add("mask", self.mask, required=False)
        if mask is not None:
            body["mask"] = {"source": mask}
            put(body["mask"], "invert", as_bool(label, "mask_invert", self.mask_invert))
        elif self.mask_invert is not None:
            raise self._bad("mask_invert", "needs a mask")
        return FireflyRequest("expand_image", body, field_map=COMMON_FIELD_MAP)


class FireflyFillImageOperator(FireflyVariationsOperator):
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
        *FireflyVariationsOperator.template_fields,
        "image",
        "mask",
        "prompt",
        "negative_prompt",
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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.image = image
        self.mask = mask
        self.prompt = prompt
        self.negative_prompt = negative_prompt
        self.mask_invert = mask_invert
        self.locale = locale

    def build_request(self, inputs: ImageInputs) -> FireflyRequest:
        label = self._label
        variation_fields = variations(label, "fill_image", self.seeds, self.num_variations)
        body: dict[str, Any] = {
            "image": {"source": inputs.add("image", self.image)},
            "mask": {"source": inputs.add("mask", self.mask)},
        }
        put(body["mask"], "invert", as_bool(label, "mask_invert", self.mask_invert))
        prompt_max = spec_limit("fill_image", "prompt", "maxLength")
        negative_max = spec_limit("fill_image", "negativePrompt", "maxLength")
        put(body, "prompt", check_text(label, "prompt", self.prompt, max_len=prompt_max))
        put(
            body,
            "negativePrompt",
            check_text(label, "negative_prompt", self.negative_prompt, max_len=negative_max),
        )
        put(body, "promptBiasingLocaleCode", check_text(label, "locale", self.locale, max_len=35))
        body.update(variation_fields)
        put(body, "size", as_size(label, "size", self.size))
        return FireflyRequest("fill_image", body, field_map=COMMON_FIELD_MAP)


class FireflyUpscaleImageOperator(FireflyBaseOperator):
    """Precise upscale (``POST /v3/images/upscale``, ``precise_upsampler_v1``).

    :param image: the image to upscale.
    :param upscale_factor: 2 (default), 3, 4 or 6.
    :param seeds: one integer per output (1..4); default one random seed.
    """

    template_fields: Sequence[str] = (
        *FireflyBaseOperator.template_fields,
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
        factor = check_choice(label, "upscale_factor", self.upscale_factor, (2, 3, 4, 6))
        max_seeds = spec_limit("upscale_image", "seeds", "maxItems")
        seeds = as_seeds(label, "seeds", self.seeds, max_items=max_seeds, unique=False)
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
