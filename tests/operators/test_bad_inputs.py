"""Malformed operator parameters: each rejected before any Firefly request, naming the parameter."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_firefly.client.errors import FireflyConfigError, FireflyValidationError
from airflow_provider_firefly.operators import (
    FireflyAdaptiveCompositeOperator,
    FireflyExpandImageOperator,
    FireflyFillImageOperator,
    FireflyGenerateImagesOperator,
    FireflyGenerateObjectCompositeOperator,
    FireflyGenerateSimilarImagesOperator,
    FireflyGenerateVideoOperator,
    FireflyListCustomModelsOperator,
    FireflyOperator,
    FireflyPreciseCompositeOperator,
    FireflyUploadImageOperator,
    FireflyUpscaleImageOperator,
)
from airflow_provider_firefly.testing import FireflyEmulator

from .conftest import CONN_ID, firefly_requests

UUID = "3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
S3 = "https://bucket.s3.amazonaws.com/in.png?X-Amz-Signature=x"
LONG = "x" * 1025


def gen(**kw: Any) -> Any:
    kw.setdefault("prompt", "a cat")
    return FireflyGenerateImagesOperator(task_id="t", firefly_conn_id=CONN_ID, **kw)


def rendered(output_name: str) -> Any:
    """An operator whose templated output_name rendered to ``output_name``."""
    operator = gen(output_name="{{ params.name }}")
    operator.output_name = output_name
    return operator


def op(cls: type, **kw: Any) -> Any:
    return cls(task_id="t", firefly_conn_id=CONN_ID, **kw)


# (case id, builder(images) → operator, parameter the message must name)
CASES: list[tuple[str, Callable[[SimpleNamespace], Any], str]] = [
    ("empty prompt", lambda i: gen(prompt=""), "prompt"),
    ("blank prompt", lambda i: gen(prompt="   "), "prompt"),
    ("prompt too long", lambda i: gen(prompt=LONG), "prompt"),
    ("image5 prompt too long", lambda i: gen(prompt="y" * 1501, model="image5"), "prompt"),
    ("prompt not text", lambda i: gen(prompt=42), "prompt"),
    ("negative prompt too long", lambda i: gen(negative_prompt=LONG), "negative_prompt"),
    ("unknown model", lambda i: gen(model="image9"), "model"),
    ("size zero", lambda i: gen(size=(0, 512)), "size"),
    ("size too large", lambda i: gen(size=(5000, 512)), "size"),
    ("size garbage", lambda i: gen(size="big"), "size"),
    ("size dict keys", lambda i: gen(size={"w": 1, "h": 2}), "size"),
    ("size floats", lambda i: gen(size=(10.5, 20)), "size"),
    ("seeds vs variations", lambda i: gen(seeds=[1, 2], num_variations=3), "seeds"),
    ("too many seeds", lambda i: gen(seeds=[1, 2, 3, 4, 5]), "seeds"),
    ("duplicate seeds", lambda i: gen(seeds=[7, 7]), "seeds"),
    ("seed not int", lambda i: gen(seeds=["a"]), "seeds"),
    ("variations 0", lambda i: gen(num_variations=0), "num_variations"),
    ("variations 5", lambda i: gen(num_variations=5), "num_variations"),
    ("image5 two variations", lambda i: gen(model="image5", num_variations=2), "num_variations"),
    ("content class", lambda i: gen(content_class="painting"), "content_class"),
    ("style strength 0", lambda i: gen(style_strength=0), "style_strength"),
    ("structure strength w/o ref", lambda i: gen(structure_strength=50), "structure_strength"),
    ("visual intensity", lambda i: gen(visual_intensity=11), "visual_intensity"),
    ("aspect ratio on image3", lambda i: gen(aspect_ratio="16:9"), "aspect_ratio"),
    ("unknown aspect ratio", lambda i: gen(model="image5", aspect_ratio="2:1"), "aspect_ratio"),
    ("resolution", lambda i: gen(model="image5", resolution="8MP"), "resolution"),
    ("size on image5", lambda i: gen(model="image5", size=(512, 512)), "size"),
    (
        "custom + negative",
        lambda i: gen(custom_model_id="urn:aaid:sc:x", negative_prompt="dogs"),
        "negative_prompt",
    ),
    ("custom on image5", lambda i: gen(model="image5", custom_model_id="urn:x"), "custom_model_id"),
    ("upsampler w/o custom", lambda i: gen(upsampler_type="default"), "upsampler_type"),
    (
        "reference + aspect",
        lambda i: gen(model="image5", aspect_ratio="16:9", reference_image=UUID),
        "aspect_ratio",
    ),
    ("missing file", lambda i: op(FireflyExpandImageOperator, image="/nonexistent/x.png"), "image"),
    ("directory as image", lambda i: op(FireflyExpandImageOperator, image=str(i.folder)), "image"),
    ("not an image", lambda i: op(FireflyExpandImageOperator, image=str(i.text)), "image"),
    (
        "empty image",
        lambda i: op(FireflyFillImageOperator, image=str(i.png), mask=str(i.empty)),
        "mask",
    ),
    (
        "image over 15 MB",
        lambda i: op(FireflyGenerateSimilarImagesOperator, image=str(i.big)),
        "image",
    ),
    (
        "URL host not allowed",
        lambda i: op(FireflyExpandImageOperator, image="https://example.com/a.png"),
        "image",
    ),
    (
        "plain http URL",
        lambda i: op(FireflyExpandImageOperator, image="http://bucket.s3.amazonaws.com/a.png"),
        "image",
    ),
    ("URL too long", lambda i: op(FireflyExpandImageOperator, image=S3 + "a" * 2100), "image"),
    (
        "unknown storage scheme",
        lambda i: op(FireflyExpandImageOperator, image="nosuch://b/k.png"),
        "image",
    ),
    (
        "missing object",
        lambda i: op(FireflyExpandImageOperator, image=f"file://{i.folder}/absent.png"),
        "image",
    ),
    ("image wrong type", lambda i: op(FireflyExpandImageOperator, image=123), "image"),
    ("missing mask", lambda i: op(FireflyFillImageOperator, image=UUID, mask=None), "mask"),
    (
        "expand size > 3999",
        lambda i: op(FireflyExpandImageOperator, image=UUID, size=(4000, 4000)),
        "size",
    ),
    (
        "placement word",
        lambda i: op(FireflyExpandImageOperator, image=UUID, placement="middle"),
        "placement",
    ),
    (
        "placement enum (schema)",
        lambda i: op(
            FireflyExpandImageOperator,
            image=UUID,
            placement={"alignment": {"horizontal": "middle"}},
        ),
        "placement",
    ),
    (
        "mask_invert without mask",
        lambda i: op(FireflyExpandImageOperator, image=UUID, mask_invert=True),
        "mask_invert",
    ),
    (
        "similar model",
        lambda i: op(FireflyGenerateSimilarImagesOperator, image=UUID, model="image5"),
        "model",
    ),
    (
        "object composite no prompt",
        lambda i: op(FireflyGenerateObjectCompositeOperator, image=UUID, prompt=""),
        "prompt",
    ),
    (
        "precise 4 variations",
        lambda i: op(
            FireflyPreciseCompositeOperator,
            background=UUID,
            fill_area_mask=UUID,
            object_image=UUID,
            num_variations=4,
        ),
        "num_variations",
    ),
    (
        "precise blend",
        lambda i: op(
            FireflyPreciseCompositeOperator,
            background=UUID,
            fill_area_mask=UUID,
            object_image=UUID,
            blend=2,
        ),
        "blend",
    ),
    (
        "precise output format",
        lambda i: op(
            FireflyPreciseCompositeOperator,
            background=UUID,
            fill_area_mask=UUID,
            object_image=UUID,
            output_format="gif",
        ),
        "output_format",
    ),
    (
        "adaptive harmonization",
        lambda i: op(
            FireflyAdaptiveCompositeOperator,
            background=UUID,
            fill_area_mask=UUID,
            object_image=UUID,
            harmonization=-0.1,
        ),
        "harmonization",
    ),
    (
        "adaptive no background",
        lambda i: op(
            FireflyAdaptiveCompositeOperator, background="", fill_area_mask=UUID, object_image=UUID
        ),
        "background",
    ),
    (
        "upscale factor",
        lambda i: op(FireflyUpscaleImageOperator, image=UUID, upscale_factor=5),
        "upscale_factor",
    ),
    (
        "upscale model version",
        lambda i: op(
            FireflyUpscaleImageOperator, image=UUID, model_version="creative_upsampler_v1"
        ),
        "model_version",
    ),
    ("video nothing", lambda i: op(FireflyGenerateVideoOperator), "prompt"),
    (
        "video camera",
        lambda i: op(FireflyGenerateVideoOperator, prompt="x", camera_motion="spin"),
        "camera_motion",
    ),
    (
        "video bitrate",
        lambda i: op(FireflyGenerateVideoOperator, prompt="x", bit_rate_factor=64),
        "bit_rate_factor",
    ),
    (
        "video size",
        lambda i: op(FireflyGenerateVideoOperator, prompt="x", size=(9000, 100)),
        "size",
    ),
    (
        "video keyframe position",
        lambda i: op(FireflyGenerateVideoOperator, prompt="x", keyframes=[(UUID, 1.5)]),
        "keyframes[0]",
    ),
    (
        "video keyframe shape",
        lambda i: op(FireflyGenerateVideoOperator, keyframes=["x"]),
        "keyframes",
    ),
    (
        "generic unknown op",
        lambda i: op(FireflyOperator, operation="/v9/nothing", body={"a": 1}),
        "operation",
    ),
    (
        "generic not a job",
        lambda i: op(FireflyOperator, operation="upload_image", body={"a": 1}),
        "operation",
    ),
    (
        "generic bad JSON",
        lambda i: op(FireflyOperator, operation="fill_image", body="{nope"),
        "body",
    ),
    (
        "generic schema",
        lambda i: op(
            FireflyOperator,
            operation="expand_image",
            body={"image": {"source": {"uploadId": UUID}}, "numVariations": 9},
        ),
        "body.numVariations",
    ),
    (
        "generic unknown image",
        lambda i: op(
            FireflyOperator, operation="expand_image", body={"image": {"source": "@image:x"}}
        ),
        "body",
    ),
    ("output dir relative", lambda i: gen(output_dir="out/images"), "output_dir"),
    ("output dir is a file", lambda i: gen(output_dir=str(i.png)), "output_dir"),
    ("output dir scheme", lambda i: gen(output_dir="nosuch://bucket/x"), "output_dir"),
    # output_name as rendered at run time (a Jinja template is only checked then)
    ("rendered output name with ..", lambda i: rendered("../{seed}.{ext}"), "output_name"),
    ("rendered output name absolute", lambda i: rendered("/tmp/{seed}.{ext}"), "output_name"),
    ("rendered output name huge", lambda i: rendered("{index:>2000000000}.png"), "output_name"),
]


@pytest.mark.parametrize(("case", "build", "param"), CASES, ids=[c[0] for c in CASES])
def test_rejected_before_any_request(
    case: str,
    build: Callable[[SimpleNamespace], Any],
    param: str,
    emu: FireflyEmulator,
    images: SimpleNamespace,
) -> None:
    operator = build(images)
    with pytest.raises((FireflyConfigError, FireflyValidationError)) as info:
        operator.execute({})
    message = str(info.value)
    assert f"'{param}'" in message, message
    assert type(operator).__name__ in message
    assert firefly_requests(emu) == 0, emu.counters()["requests_by_route"]
    assert emu.counters()["uploads"] == 0


INIT_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("job_timeout zero", {"job_timeout": 0}, "job_timeout"),
    ("job_timeout text", {"job_timeout": "soon"}, "job_timeout"),
    ("poll_interval negative", {"poll_interval": -1}, "poll_interval"),
    ("max_poll_interval zero", {"max_poll_interval": 0}, "max_poll_interval"),
    ("empty conn id", {"firefly_conn_id": ""}, "firefly_conn_id"),
    ("output name placeholder", {"output_name": "{prompt}.png"}, "output_name"),
    ("output name without seed", {"output_name": "image.png"}, "output_name"),
    ("output name with /", {"output_name": "sub/{seed}.png"}, "output_name"),
    ("output name with \\", {"output_name": "sub\\{seed}.png"}, "output_name"),
    ("output name with ..", {"output_name": "../{seed}.png"}, "output_name"),
    ("output name absolute", {"output_name": "/etc/{seed}.png"}, "output_name"),
    ("output name NUL", {"output_name": "a\x00{seed}.png"}, "output_name"),
    ("output name leading dot", {"output_name": ".{seed}.png"}, "output_name"),
    ("output name huge pad", {"output_name": "{index:>2000000000}.png"}, "output_name"),
    ("output name nested spec", {"output_name": "{index:{seed}}.png"}, "output_name"),
    ("output name attribute", {"output_name": "{job_id.__class__}{seed}"}, "output_name"),
    ("output name conversion", {"output_name": "{seed!r}.png"}, "output_name"),
]


@pytest.mark.parametrize(("case", "kwargs", "param"), INIT_CASES, ids=[c[0] for c in INIT_CASES])
def test_rejected_when_the_dag_is_parsed(case: str, kwargs: dict[str, Any], param: str) -> None:
    with pytest.raises(FireflyConfigError) as info:
        FireflyGenerateImagesOperator(task_id="t", prompt="x", **kwargs)
    assert f"'{param}'" in str(info.value)
    assert info.value.field == param


def test_upload_and_list_operators_reject_bad_input(
    emu: FireflyEmulator, images: SimpleNamespace, tmp_path: Path
) -> None:
    cases = [
        (op(FireflyUploadImageOperator, image=UUID), "image"),
        (op(FireflyUploadImageOperator, image=S3), "image"),
        (op(FireflyUploadImageOperator, image=str(images.text)), "image"),
        (op(FireflyListCustomModelsOperator, published_state="everything"), "published_state"),
        (op(FireflyListCustomModelsOperator, sort_by="size"), "sort_by"),
        (op(FireflyListCustomModelsOperator, page_size=51), "page_size"),
    ]
    for operator, param in cases:
        with pytest.raises((FireflyConfigError, FireflyValidationError)) as info:
            operator.execute({})
        assert f"'{param}'" in str(info.value)
    assert firefly_requests(emu) == 0


def test_schema_errors_are_mapped_to_parameter_names() -> None:
    from airflow_provider_firefly.operators._errors import param_for

    mapping = {"style.strength": "style_strength", "style": "style_presets", "seeds": "seeds"}
    assert param_for(["body", "style", "strength"], mapping) == "style_strength"
    assert param_for(["body", "style", "presets", 0], mapping) == "style_presets"
    assert param_for(["body", "seeds", 2], mapping) == "seeds"
    assert param_for(["body", "other", "x"], mapping) == "body.other.x"
