"""Fixtures of the operator tests: a ``firefly`` connection on the emulator, input images,
a minimal task context for calling ``execute`` directly, and emulator request counters."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fixtures.connections import conn_json

from airflow_provider_firefly.testing import FireflyEmulator
from airflow_provider_firefly.testing.media import PngImage

CONN_ID = "ff_ops"


@pytest.fixture
def emu(firefly_emulator: FireflyEmulator, monkeypatch: pytest.MonkeyPatch) -> FireflyEmulator:
    """The session emulator (reset), with jobs that finish at once and ``ff_ops`` aimed at it."""
    firefly_emulator.configure(job_duration=0)
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", conn_json(firefly_emulator))
    return firefly_emulator


def firefly_requests(emu: FireflyEmulator) -> int:
    """Requests to Firefly routes (IMS and output downloads excluded)."""
    routes = emu.counters()["requests_by_route"]
    return sum(n for route, n in routes.items() if "/ims/" not in route and "/outputs" not in route)


@pytest.fixture
def images(tmp_path: Path) -> SimpleNamespace:
    """Input files: PNGs, a JPEG-looking file, a text file, an empty file, a 16 MB PNG."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    png = folder / "photo.png"
    png.write_bytes(PngImage(64, 48, seed=1).to_bytes())
    mask = folder / "mask.png"
    mask.write_bytes(PngImage(64, 48, seed=2).to_bytes())
    text = folder / "notes.png"
    text.write_text("not an image")
    empty = folder / "empty.png"
    empty.write_bytes(b"")
    big = folder / "big.png"
    big.write_bytes(PngImage(8, 8, seed=3).to_bytes() + b"\0" * (15 * 1024 * 1024 + 10))
    return SimpleNamespace(folder=folder, png=png, mask=mask, text=text, empty=empty, big=big)


class FakeTI:
    def __init__(self, task_id: str, map_index: int = -1, run_id: str = "manual__t") -> None:
        self.dag_id = "ff_direct"
        self.task_id = task_id
        self.run_id = run_id
        self.map_index = map_index


def context_for(task_id: str = "t", map_index: int = -1, with_ti: bool = False) -> dict[str, Any]:
    """A minimal context; without ``ti`` no never-pay-twice record is kept (no Variable API)."""
    return {"ti": FakeTI(task_id, map_index)} if with_ti else {}


@pytest.fixture
def run_op() -> Callable[..., Any]:
    def _run(op: Any, context: dict[str, Any] | None = None) -> Any:
        return op.execute(context if context is not None else {})

    return _run


@pytest.fixture
def records(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Airflow Variables in a dict (no task runner here): the real JobRecord code runs."""
    from airflow.sdk import Variable

    store: dict[str, str] = {}

    def variable_get(key: str, default: Any = None) -> Any:
        return store.get(key, default)

    def variable_set(key: str, value: str, description: str | None = None) -> None:
        store[key] = value

    monkeypatch.setattr(Variable, "get", staticmethod(variable_get))
    monkeypatch.setattr(Variable, "set", staticmethod(variable_set))
    monkeypatch.setattr(Variable, "delete", staticmethod(lambda key: store.pop(key, None)))
    return store
