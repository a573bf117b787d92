"""Every operator in real Airflow task runs (``dag.test()``), sync and deferrable.

Two DAG runs (see ``tests/dags/operators_all.py``) cover all operators, mapped tasks, a prompt
from a ``.txt`` template, inputs from local files, ``file://`` URLs, ``ObjectStoragePath`` and
upload ids, outputs saved and byte-checked, XCom content and template rendering.
"""

from __future__ import annotations

import importlib.util
import json
import os
import struct
from pathlib import Path
from typing import Any

import pytest
from fixtures.connections import conn_json

from airflow_provider_firefly.testing import FireflyEmulator

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

DAG_FILE = "operators_all.py"


def load_dag(file: str, dag_id: str) -> Any:
    path = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / file
    spec = importlib.util.spec_from_file_location(file[:-3], path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, dag_id)


def xcoms(dag_id: str, run_id: str, key: str = "return_value") -> dict[tuple[str, int], Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(XComModel)
            .filter(XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.key == key)
            .all()
        )
        return {(r.task_id, r.map_index): XComModel.deserialize_value(r) for r in rows}


def ti_states(dag_run: Any) -> dict[tuple[str, int], str]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(TaskInstance)
            .filter(TaskInstance.dag_id == dag_run.dag_id, TaskInstance.run_id == dag_run.run_id)
            .all()
        )
        return {(r.task_id, r.map_index): str(r.state) for r in rows}


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def prepare_inputs(work: Path) -> None:
    from airflow_provider_firefly.testing.media import PngImage

    (work / "inputs").mkdir(parents=True, exist_ok=True)
    (work / "inputs" / "photo.png").write_bytes(PngImage(64, 48, seed=1).to_bytes())
    (work / "inputs" / "mask.png").write_bytes(PngImage(64, 48, seed=2).to_bytes())


EXPECTED_SIZES = {
    "generate_template": (72, 40),
    "similar": (40, 30),
    "expand": (128, 96),
    "fill": (64, 48),
    "object_composite": (96, 72),
    "precise_composite": (64, 48),
    "adaptive_composite": (64, 48),
    "upscale": (128, 96),
    "generic": (48, 32),
}


@pytest.mark.parametrize("dag_id", ["ff_ops_sync", "ff_ops_deferred"])
def test_every_operator_in_a_dag_run(  # noqa: PLR0917 (fixtures)
    dag_id: str,
    airflow_db: str,
    firefly_emulator: FireflyEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    emu = firefly_emulator
    emu.configure(job_duration=0.3)
    work = tmp_path / "work"
    prepare_inputs(work)
    monkeypatch.setenv("FF_OPS_WORKDIR", str(work))
    monkeypatch.setenv("AIRFLOW_CONN_FF_OPS", conn_json(emu))

    dag_run = load_dag(DAG_FILE, dag_id).test()
    states = ti_states(dag_run)
    assert dag_run.state == "success", states
    values = xcoms(dag_id, dag_run.run_id)

    # Mapped over three prompts: one job each, outputs named with the map index and seed.
    mapped = [values[("generate_mapped", i)] for i in range(3)]
    for index, value in enumerate(mapped):
        assert value["status"] == "succeeded"
        assert value["operation"] == "generate_images"
        (path,) = value["saved_paths"]
        seed = value["seeds"][0]
        assert path.endswith(f"/{dag_id}/generate_mapped/generate_mapped-{index}-0-{seed}.png")
        assert png_size(Path(path.removeprefix("file://")).read_bytes()) == (64, 48)
    prompts = sorted(
        j["request"]["prompt"]
        for j in emu.jobs()
        if j["route"] == "POST /v3/images/generate-async" and j["modelVersion"] in (None, "image3")
    )
    assert prompts == ["a bowl of ramen", "a lighthouse at dawn", "a red bicycle"]

    # Typed operators: outputs byte-checked at the requested (or derived) size.
    for task_id, size in EXPECTED_SIZES.items():
        value = values[(task_id, -1)]
        assert value["status"] == "succeeded", task_id
        assert value["saved_paths"], task_id
        for entry in value["outputs"]:
            data = Path(entry["path"].removeprefix("file://")).read_bytes()
            assert len(data) == entry["bytes"], task_id
            assert png_size(data) == size, task_id
            assert entry["expires_at"].endswith("Z")
    template = values[("generate_template", -1)]
    assert template["seeds"] == [11, 22]
    assert [Path(p).name for p in template["saved_paths"]] == [
        f"{dag_id}-0-seed11.png",
        f"{dag_id}-1-seed22.png",
    ]
    assert values[("precise_composite", -1)]["seeds"] == [333, 222]

    # The .txt template was rendered with params and ds.
    submitted = {
        j["route"].split()[1] + ":" + str(j["modelVersion"]): j["request"] for j in emu.jobs()
    }
    image4 = submitted["/v3/images/generate-async:image4_standard"]
    assert image4["prompt"].startswith("A red fox reading a newspaper, run 20")
    assert image4["style"]["presets"] == ["watercolor"]
    assert "uploadId" in image4["style"]["imageReference"]["source"]
    image5 = values[("generate_image5", -1)]
    assert image5["model_version"] == "image5"
    assert image5["saved_paths"] == []
    assert image5["outputs"][0]["path"] is None

    # Video: an MP4 container.
    video = values[("video", -1)]
    data = Path(video["saved_paths"][0].removeprefix("file://")).read_bytes()
    assert data[4:8] == b"ftyp"
    assert video["saved_paths"][0].endswith(".mp4")
    assert video["seeds"] == [7]

    # Upload id chained into fill and upscale; custom models listed.
    upload_id = values[("upload", -1)]
    assert isinstance(upload_id, str)
    assert len(upload_id) == 36
    fills = [j["request"] for j in emu.jobs() if j["route"] == "POST /v3/images/fill-async"]
    assert {"uploadId": upload_id} in [f["image"]["source"] for f in fills]
    (upscale,) = [j["request"] for j in emu.jobs() if j["route"] == "POST /v3/images/upscale"]
    assert upscale["image"]["source"] == {"uploadId": upload_id}
    assert isinstance(values[("custom_models", -1)], list)
    assert values[("custom_models", -1)]

    # One job per job task: nothing submitted twice.
    counters = emu.counters()
    job_tasks = 3 + len(EXPECTED_SIZES) + 2  # mapped + typed + image5 + video
    assert counters["jobs_submitted"] == job_tasks
    assert counters["authorization_sent_to_outputs"] == 0

    # Nothing secret in any XCom; no job record left behind.
    text = json.dumps(list(values.values()), default=str)
    assert emu.client_secret not in text
    assert "Bearer" not in text
    from airflow.models import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        left = session.query(Variable).filter(Variable.key.like("firefly_job__%")).all()
        assert [v.key for v in left] == []

    # Rendered template fields and the extra link (file:// → no link).
    links = xcoms(dag_id, dag_run.run_id, key="_link_FireflyOutputLink")
    assert links[("expand", -1)] == ""

    # The deferrable DAG waited in the trigger (one deferral per job task), the sync one never.
    out, err = capfd.readouterr()
    logs = out + err + caplog.text
    deferrals = logs.count("Deferring: the triggerer polls job")
    assert deferrals == (job_tasks if dag_id == "ff_ops_deferred" else 0), deferrals
