"""The bad-input catalogue: every malformed connection and operator input the project knows,
each refused with an error naming the field, before any network request (the emulator's
counters prove it), and counted for ``docs/reliability.md``.

The case lists of ``tests/operators/test_bad_inputs.py`` and
``tests/connection/test_connection.py`` are imported and re-run here with the counting; the
cases below them are new.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fixtures.connections import conn_json
from operators.test_bad_inputs import CASES as OPERATOR_CASES  # type: ignore[import-not-found]
from operators.test_bad_inputs import (
    INIT_CASES,  # type: ignore[import-not-found]
    UUID,  # type: ignore[import-not-found]
)

from airflow_provider_firefly.client.errors import FireflyConfigError, FireflyValidationError
from airflow_provider_firefly.testing import FireflyEmulator
from airflow_provider_firefly.testing.media import PngImage

from . import _ledger

pytestmark = pytest.mark.timeout(60)

OPS_CONN = "ff_ops"  # the connection id the imported operator cases use


@pytest.fixture
def emu(firefly_emulator: FireflyEmulator, monkeypatch: pytest.MonkeyPatch) -> FireflyEmulator:
    firefly_emulator.configure(job_duration=0)
    monkeypatch.setenv(f"AIRFLOW_CONN_{OPS_CONN.upper()}", conn_json(firefly_emulator))
    return firefly_emulator


@pytest.fixture
def images(tmp_path: Path) -> SimpleNamespace:
    folder = tmp_path / "inputs"
    folder.mkdir()
    png = folder / "photo.png"
    png.write_bytes(PngImage(64, 48, seed=1).to_bytes())
    text = folder / "notes.png"
    text.write_text("not an image")
    empty = folder / "empty.png"
    empty.write_bytes(b"")
    big = folder / "big.png"
    big.write_bytes(PngImage(8, 8, seed=3).to_bytes() + b"\0" * (15 * 1024 * 1024 + 10))
    gif = folder / "anim.gif"
    gif.write_bytes(b"GIF89a" + b"\0" * 64)
    return SimpleNamespace(
        folder=folder, png=png, mask=png, text=text, empty=empty, big=big, gif=gif
    )


def requests_made(emu: FireflyEmulator) -> int:
    counters = emu.counters()
    return int(counters["ims_token_requests"]) + sum(counters["requests_by_route"].values())


def _op(name: str, **kw: Any) -> Any:
    from airflow_provider_firefly import operators

    return getattr(operators, name)(task_id="t", firefly_conn_id=OPS_CONN, **kw)


# New cases (id, builder, parameter the message must name).
NEW_CASES: list[tuple[str, Callable[[SimpleNamespace], Any], str]] = [
    ("seeds JSON text vs variations",
     lambda i: _op("FireflyGenerateImagesOperator", prompt="x", seeds="[1, 2]", num_variations=3),
     "seeds"),
    ("seeds not JSON", lambda i: _op("FireflyGenerateImagesOperator", prompt="x", seeds="[1,"),
     "seeds"),
    ("variations text",
     lambda i: _op("FireflyGenerateImagesOperator", prompt="x", num_variations="three"),
     "num_variations"),
    ("size WxH garbage", lambda i: _op("FireflyGenerateImagesOperator", prompt="x", size="1024x"),
     "size"),
    ("GIF input", lambda i: _op("FireflyExpandImageOperator", image=str(i.gif)), "image"),
    ("similar image missing",
     lambda i: _op("FireflyGenerateSimilarImagesOperator", image=str(i.folder / "gone.png")),
     "image"),
    ("fill prompt too long",
     lambda i: _op("FireflyFillImageOperator", image=UUID, mask=UUID, prompt="x" * 1025),
     "prompt"),
    ("video seed text",
     lambda i: _op("FireflyGenerateVideoOperator", prompt="x", seed="seven"), "seed"),
    ("video prompt too long",
     lambda i: _op("FireflyGenerateVideoOperator", prompt="x" * 5000), "prompt"),
    ("generic body list",
     lambda i: _op("FireflyOperator", operation="fill_image", body="[1, 2]"), "body"),
    ("upscale empty image",
     lambda i: _op("FireflyUpscaleImageOperator", image=str(i.empty)), "image"),
    ("upload over 15 MB", lambda i: _op("FireflyUploadImageOperator", image=str(i.big)), "image"),
    ("list limit 0", lambda i: _op("FireflyListCustomModelsOperator", limit=0), "limit"),
]  # fmt: skip

ALL_OPERATOR_CASES = [
    *[("operators/test_bad_inputs.py", *c) for c in OPERATOR_CASES],
    *[("new", *c) for c in NEW_CASES],
]


@pytest.fixture(autouse=True)
def tally(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    entry: dict[str, Any] = {"case": request.node.name}
    yield entry
    if "rejected" in entry:
        _ledger.record("bad_inputs", **entry)


@pytest.mark.parametrize(
    ("source", "case", "build", "param"),
    ALL_OPERATOR_CASES,
    ids=[c[1] for c in ALL_OPERATOR_CASES],
)
def test_operator_input_rejected_locally(  # noqa: PLR0917 (parameters and fixtures)
    source: str,
    case: str,
    build: Callable[[SimpleNamespace], Any],
    param: str,
    emu: FireflyEmulator,
    images: SimpleNamespace,
    tally: dict[str, Any],
) -> None:
    tally.update(kind="operator", source=source, field=param, rejected=False)
    # some values are refused by the constructor (DAG parse time), the rest by execute
    with pytest.raises((FireflyConfigError, FireflyValidationError)) as info:  # noqa: PT012
        operator = build(images)
        operator.execute({})
    message = str(info.value)
    tally["requests"] = requests_made(emu)
    assert f"'{param}'" in message, message
    assert requests_made(emu) == 0, emu.counters()["requests_by_route"]
    assert emu.client_secret not in message
    tally["rejected"] = True


@pytest.mark.parametrize(("case", "kwargs", "param"), INIT_CASES, ids=[c[0] for c in INIT_CASES])
def test_operator_argument_rejected_at_parse(
    case: str, kwargs: dict[str, Any], param: str, tally: dict[str, Any]
) -> None:
    from airflow_provider_firefly.operators import FireflyGenerateImagesOperator

    tally.update(kind="operator-init", field=param, rejected=False, requests=0)
    with pytest.raises(FireflyConfigError) as info:
        FireflyGenerateImagesOperator(task_id="t", prompt="x", **kwargs)
    assert f"'{param}'" in str(info.value)
    tally["rejected"] = True


def _conn_cases() -> list[Any]:
    from connection.test_connection import BAD_CONFIGS  # type: ignore[import-not-found]

    extra_not_json = [
        pytest.param({"__extra__": text}, "extra", id=f"extra-{text!r}")
        for text in ("{not json", '["scopes"]', '"openid"', "42", "null x")
    ]
    new = [
        pytest.param({"unknown_field": 1}, "unknown_field", id="unknown-extra-field"),
        pytest.param({"read_timeout": 0}, "read_timeout", id="read_timeout-0"),
        pytest.param({"max_attempts": 21}, "max_attempts", id="max_attempts-21"),
        pytest.param({"requests_per_minute": -4}, "requests_per_minute", id="rpm-negative"),
        pytest.param({"ims_url": "https://"}, "ims_url", id="ims_url-no-host"),
    ]
    return [*BAD_CONFIGS, *extra_not_json, *new]


@pytest.mark.parametrize(("fields", "field"), _conn_cases())
def test_connection_rejected_locally(
    fields: dict[str, Any],
    field: str,
    firefly_emulator: FireflyEmulator,
    monkeypatch: pytest.MonkeyPatch,
    tally: dict[str, Any],
) -> None:
    from airflow_provider_firefly.hooks.firefly import FireflyHook

    emu = firefly_emulator
    tally.update(kind="connection", field=field, rejected=False)
    conn = json.loads(conn_json(emu))
    for key, value in fields.items():
        if key in ("login", "password"):
            conn[key] = value
        elif key == "__extra__":
            conn["extra"] = value
        else:
            conn["extra"][key] = value
    monkeypatch.setenv("AIRFLOW_CONN_FF_BAD", json.dumps(conn))
    hook = FireflyHook("ff_bad")
    with pytest.raises(FireflyConfigError) as info:
        hook.get_access_token()
    message = str(info.value)
    tally["requests"] = requests_made(emu)
    assert info.value.field == field
    assert field in message, message
    assert "'ff_bad'" in message, message
    assert emu.client_secret not in message
    ok, text = hook.test_connection()
    assert not ok
    assert field in text
    assert requests_made(emu) == 0
    tally["rejected"] = True
