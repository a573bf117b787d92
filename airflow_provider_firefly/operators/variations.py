"""``FireflyVariationsOperator``: base of the operators that make one to four images at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_firefly.operators.base import FireflyBaseOperator

__all__ = ["FireflyVariationsOperator"]


class FireflyVariationsOperator(FireflyBaseOperator):
    """A job operator with the parameters every multi-image operation takes.

    :param num_variations: how many images (1..4; 1 for Image 5); default ``len(seeds)`` or 1.
    :param seeds: one integer per image, to reproduce results.
    :param size: the output size: ``(width, height)``, ``"2048x2048"`` or
        ``{"width": ..., "height": ...}``.
    """

    template_fields: Sequence[str] = (
        *FireflyBaseOperator.template_fields,
        "size",
        "seeds",
        "num_variations",
    )

    def __init__(
        self,
        *,
        num_variations: int | None = None,
        seeds: Sequence[int] | None = None,
        size: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.num_variations = num_variations
        self.seeds = seeds
        self.size = size
