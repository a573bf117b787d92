"""The example DAGs parse fast and cleanly, are documented and tagged, and make no request, open
no socket and read no asset while being parsed; their input assets are the committed ones."""

from __future__ import annotations

import struct
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_firefly.testing import FireflyEmulator

from .conftest import DAG_IDS, EXAMPLE_DAGS, conn_json, get_json
from .make_assets import ASSET_BUILDERS, MASK_SIZE, PRODUCT_SIZE

pytestmark = [pytest.mark.airflow]

_AUDIT: dict[str, Any] = {"on": False, "installed": False, "events": []}


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _AUDIT["on"]:
        return
    if event in ("socket.connect", "socket.getaddrinfo", "urllib.Request"):
        _AUDIT["events"].append((event, repr(args)[:200]))
    elif event == "open" and args and "assets" in str(args[0]):
        _AUDIT["events"].append((event, str(args[0])))


@pytest.fixture(scope="module")
def parsed(monkeypatch_module: pytest.MonkeyPatch) -> Iterator[tuple[Any, dict[str, Any], float]]:
    """A DagBag of example_dags/ with firefly_default aimed at a spawned emulator."""
    from airflow.dag_processing.dagbag import DagBag

    if not _AUDIT["installed"]:
        sys.addaudithook(_audit)  # cannot be removed; it records nothing unless "on"
        _AUDIT["installed"] = True
    with FireflyEmulator.spawn("--job-duration", "0") as emu:
        monkeypatch_module.setenv("AIRFLOW_CONN_FIREFLY_DEFAULT", conn_json(emu.url))
        _AUDIT["events"] = []
        _AUDIT["on"] = True
        started = time.monotonic()
        try:
            bag = DagBag(dag_folder=str(EXAMPLE_DAGS))
        finally:
            _AUDIT["on"] = False
        seconds = time.monotonic() - started
        yield bag, get_json(emu.url + "/_emulator/counters"), seconds


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_no_import_errors(parsed: tuple[Any, dict[str, Any], float]) -> None:
    bag, _, _ = parsed
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == sorted(DAG_IDS)


def test_every_dag_is_documented_and_tagged(parsed: tuple[Any, dict[str, Any], float]) -> None:
    bag, _, _ = parsed
    for dag_id in DAG_IDS:
        dag = bag.dags[dag_id]
        assert {"firefly", "example"} <= set(dag.tags or ()), dag_id
        doc = (dag.doc_md or "").lower()
        assert len(doc) > 300, dag_id
        assert "emulator" in doc, dag_id
        assert "adobe" in doc, dag_id
        assert dag.catchup is False, dag_id


def test_campaign_schedule_and_deferrable_variant(
    parsed: tuple[Any, dict[str, Any], float],
) -> None:
    bag, _, _ = parsed
    for dag_id, deferrable in (
        ("firefly_nightly_campaign", False),
        ("firefly_nightly_campaign_deferrable", True),
    ):
        dag = bag.dags[dag_id]
        assert dag.schedule == "@daily"
        generate = dag.get_task("generate")
        assert generate.partial_kwargs["deferrable"] is deferrable
        assert dag.params["output_dir"].startswith("file://")
    assert bag.dags["firefly_product_video"].get_task("video").deferrable is True


def test_parsing_makes_no_request_and_reads_no_asset(
    parsed: tuple[Any, dict[str, Any], float],
) -> None:
    _, counters, seconds = parsed
    assert counters["requests_by_route"] == {}
    assert counters["ims_token_requests"] == 0
    assert _AUDIT["events"] == []
    assert seconds < 30  # the whole folder; a few tenths of a second when the machine is idle


def test_parse_time_per_file(parsed: tuple[Any, dict[str, Any], float]) -> None:
    bag, _, _ = parsed
    stats = {Path(s.file).name: s.duration for s in bag.dagbag_stats}
    assert set(stats) == {p.name for p in EXAMPLE_DAGS.glob("*.py")}
    for name, duration in stats.items():
        seconds = duration.total_seconds() if hasattr(duration, "total_seconds") else duration
        assert seconds < 5, (name, seconds)


# -- assets ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "size", "color_type"),
    [("product.png", PRODUCT_SIZE, 2), ("banner_mask.png", MASK_SIZE, 0)],
)
def test_assets_are_the_generated_pngs(name: str, size: tuple[int, int], color_type: int) -> None:
    path = EXAMPLE_DAGS / "assets" / name
    data = path.read_bytes()
    assert len(data) < 50 * 1024
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, ctype = struct.unpack(">IIBB", data[16:26])
    assert (width, height, depth, ctype) == (*size, 8, color_type)
    assert data == ASSET_BUILDERS[name](), "run python tests/examples/make_assets.py"


def test_asset_pair_is_wired(parsed: tuple[Any, dict[str, Any], float]) -> None:
    bag, _, _ = parsed
    producer = bag.dags["firefly_asset_producer"]
    consumer = bag.dags["firefly_asset_consumer"]
    assert producer.get_task("submit_variants").wait_for_completion is False
    sensor = producer.get_task("variants")
    assert type(sensor).__name__ == "FireflyJobSensor"
    for task_id in ("hero", "variants"):
        assert [o.name for o in producer.get_task(task_id).outlets] == ["firefly_campaign_images"]
    assert "firefly_campaign_images" in repr(consumer.timetable.asset_condition)
