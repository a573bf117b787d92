"""Every example DAG, run with ``airflow dags test`` against the emulator: outputs, task states,
XComs and the emulator's view (one IMS token per run, the jobs and their requests).

The deferrable DAGs run their triggers inline here (``airflow dags test``); a run with a real
triggerer process is covered by the end-to-end scheduler tests.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import pytest

from .conftest import DagRun

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE, (path, head)
    assert head[12:16] == b"IHDR", path
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def assert_mp4(path: Path) -> None:
    data = path.read_bytes()
    assert data[4:8] == b"ftyp", (path, data[:16])
    boxes = set()
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        boxes.add(kind)
        if size < 8:
            break
        offset += size
    assert offset == len(data), "box sizes must add up to the file size"
    assert {b"ftyp", b"moov", b"mdat"} <= boxes, boxes


def assert_succeeded(run: DagRun, expected: dict[tuple[str, int], str]) -> None:
    assert run.returncode == 0, run.explain()
    assert run.states == expected, run.explain()


def assert_one_token(run: DagRun) -> None:
    """One ``airflow dags test`` is one process: one IMS token for all its tasks."""
    assert run.counters["ims_token_requests"] == 1, run.counters["requests_by_route"]
    assert run.counters["rate_limited"] == 0
    assert run.counters["authorization_sent_to_outputs"] == 0
    assert run.counters["validation_errors"] == 0


def deferrals(run: DagRun) -> int:
    return len(re.findall(r"Deferring: the triggerer polls job", run.log))


# -- firefly_quickstart --------------------------------------------------------------------------


def test_quickstart(example_runs: dict[str, DagRun]) -> None:
    run = example_runs["firefly_quickstart"]
    assert_succeeded(
        run,
        {
            ("generate", 0): "success",
            ("generate", 1): "success",
            ("generate", 2): "success",
            ("report", -1): "success",
        },
    )
    files = run.files("*.png")
    assert len(files) == 3, files
    for path in files:
        assert png_size(path) == (1024, 1024)
        assert re.fullmatch(r"[012]-\d+\.png", path.name), path.name
    assert sorted(run.xcoms[("report", -1)]) == sorted(f"file://{p}" for p in files)
    assert run.log.count("FIREFLY_OUTPUT ") >= 3
    assert_one_token(run)
    assert run.counters["jobs_submitted"] == 3
    assert deferrals(run) == 0


# -- firefly_nightly_campaign(_deferrable) -------------------------------------------------------


@pytest.mark.parametrize(
    "dag_id", ["firefly_nightly_campaign", "firefly_nightly_campaign_deferrable"]
)
def test_nightly_campaign(example_runs: dict[str, DagRun], dag_id: str) -> None:
    run = example_runs[dag_id]
    expected = {("prompts", -1): "success", ("manifest", -1): "success"}
    expected |= {("generate", i): "success" for i in range(3)}
    assert_succeeded(run, expected)

    # 3 prompts x 2 variations, 2048x2048, named <map_index>-<index>-<seed>.png in one dated folder.
    (day,) = list((run.out / "campaign").iterdir())
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", day.name)
    images = run.files("campaign/*/*.png")
    assert len(images) == 6, images
    for path in images:
        assert png_size(path) == (2048, 2048)
        assert re.fullmatch(r"[012]-[01]-\d+\.png", path.name), path.name

    manifest = json.loads((day / "manifest.json").read_text())
    prompts = [entry["prompt"] for entry in manifest["images"]]
    assert sorted(prompts) == sorted(job["request"]["prompt"] for job in run.jobs)
    assert len(manifest["images"]) == 3
    listed = sorted(f for entry in manifest["images"] for f in entry["files"])
    assert listed == sorted(f"file://{p}" for p in images)
    for entry in manifest["images"]:
        assert len(entry["seeds"]) == 2
        assert entry["job_id"].startswith("urn:ff:jobs:")
    assert run.xcoms[("manifest", -1)] == f"file://{day / 'manifest.json'}"

    # Each mapped task's XCom: the documented shape, no token or secret.
    for index in range(3):
        value = run.xcoms[("generate", index)]
        assert value["status"] == "succeeded"
        assert value["model_version"] == "image4_standard"
        assert value["size"] == {"width": 2048, "height": 2048}
        assert len(value["outputs"]) == 2
        assert all(o["kind"] == "image" and o["bytes"] > 0 for o in value["outputs"])
        assert run.client_secret not in json.dumps(value)

    # The emulator saw three Image 4 jobs (two variations, content class photo), one token.
    assert_one_token(run)
    assert run.counters["jobs_submitted"] == 3
    assert run.counters["output_downloads"] == 6
    for job in run.jobs:
        assert job["status"] == "succeeded"
        assert job["modelVersion"] == "image4_standard"
        assert job["request"]["numVariations"] == 2
        assert job["request"]["contentClass"] == "photo"

    if dag_id.endswith("_deferrable"):
        # Each mapped task deferred, the trigger polled the job and the task resumed.
        assert deferrals(run) == 3, run.log[-4000:]
        assert run.log.count("[DAG TEST] running trigger in line") == 3
        assert "FireflyJobTrigger" in run.log
        assert run.log.count("Trigger reported job") == 3
    else:
        assert deferrals(run) == 0
        assert "FireflyJobTrigger" not in run.log


# -- firefly_product_banner ------------------------------------------------------------------------


def test_product_banner(example_runs: dict[str, DagRun]) -> None:
    run = example_runs["firefly_product_banner"]
    tasks = ("upload", "expand", "fill", "upscale", "report")
    assert_succeeded(run, {(t, -1): "success" for t in tasks})

    (folder,) = list((run.out / "firefly_product_banner").iterdir())
    assert png_size(folder / "expand-0-42.png") == (1344, 768)
    assert png_size(folder / "fill-0-7.png") == (1344, 768)
    (upscaled,) = folder.glob("upscale-*.png")
    assert png_size(upscaled) == (2688, 1536)
    assert len(run.files()) == 3

    # Ids and outputs chained through XCom: the upload id into expand, expand's output URL into
    # fill, fill's into upscale (no download and re-upload: 2 uploads = the photo and the mask).
    upload_id = run.xcoms[("upload", -1)]
    assert re.fullmatch(r"[0-9a-f-]{36}", upload_id)
    expand, fill, upscale = (run.xcoms[(t, -1)] for t in ("expand", "fill", "upscale"))
    jobs = {job["route"]: job for job in run.jobs}
    assert set(jobs) == {
        "POST /v3/images/expand-async",
        "POST /v3/images/fill-async",
        "POST /v3/images/upscale",
    }, list(jobs)
    expand_req = jobs["POST /v3/images/expand-async"]["request"]
    assert expand_req["image"]["source"] == {"uploadId": upload_id}
    assert expand_req["size"] == {"width": 1344, "height": 768}
    fill_req = jobs["POST /v3/images/fill-async"]["request"]
    assert fill_req["image"]["source"] == {"url": expand["outputs"][0]["url"]}
    assert set(fill_req["mask"]["source"]) == {"uploadId"}
    assert fill_req["prompt"] == "a small potted succulent in a white pot"
    upscale_req = jobs["POST /v3/images/upscale"]["request"]
    assert upscale_req["image"]["source"] == {"url": fill["outputs"][0]["url"]}
    assert upscale_req["upscaleFactor"] == 2
    assert upscale["outputs"][0]["kind"] == "file"
    assert run.counters["uploads"] == 2
    assert run.xcoms[("report", -1)] == [
        *expand["saved_paths"],
        *fill["saved_paths"],
        *upscale["saved_paths"],
    ]
    assert_one_token(run)
    assert run.counters["jobs_submitted"] == 3


# -- firefly_product_video -------------------------------------------------------------------------


def test_product_video(example_runs: dict[str, DagRun]) -> None:
    run = example_runs["firefly_product_video"]
    assert_succeeded(run, {("video", -1): "success"})
    (clip,) = run.files("**/*.mp4")
    assert clip.name == "clip-1234.mp4"
    assert_mp4(clip)
    assert len(run.files()) == 1

    value = run.xcoms[("video", -1)]
    assert value["operation"] == "generate_video"
    assert value["size"] == {"width": 1080, "height": 1080}
    (output,) = value["outputs"]
    assert output["kind"] == "video"
    assert output["seed"] == 1234
    assert output["bytes"] == clip.stat().st_size

    (job,) = run.jobs
    request = job["request"]
    assert job["modelVersion"] == "video1_standard"
    assert request["prompt"].startswith("steam rises from the teal mug")
    (condition,) = request["image"]["conditions"]
    assert set(condition["source"]) == {"uploadId"}
    assert condition["placement"] == {"position": 0}
    assert request["videoSettings"] == {"cameraMotion": "camera zoom in", "shotSize": "medium shot"}
    assert run.counters["uploads"] == 1

    # Deferrable: the task deferred once, the trigger polled, the task resumed and saved the clip.
    assert deferrals(run) == 1, run.log[-4000:]
    assert "[DAG TEST] running trigger in line" in run.log
    assert "Trigger reported job" in run.log
    assert_one_token(run)


# -- firefly_custom_models -------------------------------------------------------------------------


def test_custom_models(example_runs: dict[str, DagRun]) -> None:
    run = example_runs["firefly_custom_models"]
    assert_succeeded(
        run,
        {
            ("list_models", -1): "success",
            ("pick_model", -1): "success",
            ("generate", -1): "success",
        },
    )
    models = run.xcoms[("list_models", -1)]
    # The emulator's sample models: two published, newest first.
    assert [m["displayName"] for m in models] == ["Emulator Watercolour", "Emulator Mascot"]
    picked = run.xcoms[("pick_model", -1)]
    assert picked["asset_id"] == models[0]["assetId"]
    assert picked["model"] == "image3"
    assert picked["prompt"] == models[0]["samplePrompt"]

    (job,) = run.jobs
    assert job["modelVersion"] == "image3_custom"
    assert job["request"]["customModelId"] == models[0]["assetId"]
    assert job["request"]["prompt"] == models[0]["samplePrompt"]
    images = run.files("**/*.png")
    assert len(images) == 2
    for path in images:
        assert png_size(path) == (2048, 2048)
    assert run.counters["requests_by_route"]["GET /v3/custom-models"] == 1
    assert_one_token(run)


# -- firefly_product_placement ---------------------------------------------------------------------


def test_product_placement(example_runs: dict[str, DagRun]) -> None:
    run = example_runs["firefly_product_placement"]
    tasks = ("upload", "scene", "precise", "adaptive", "staged", "similar", "report")
    assert_succeeded(run, {(t, -1): "success" for t in tasks})

    (folder,) = list((run.out / "firefly_product_placement").iterdir())
    # Image 5 at 16:9 and 1 MP is 1344x768, the size of the fill-area mask; the composites keep
    # the background's size; the object composite and its variations are 2048x2048.
    assert png_size(folder / "scene-0-11.png") == (1344, 768)
    assert png_size(folder / "precise-0-333.png") == (1344, 768)
    assert png_size(folder / "adaptive-0-222.png") == (1344, 768)
    assert png_size(folder / "staged-0-5.png") == (2048, 2048)
    assert png_size(folder / "similar-0-1.png") == (2048, 2048)
    assert png_size(folder / "similar-1-2.png") == (2048, 2048)
    assert len(run.files()) == 6

    upload_id = run.xcoms[("upload", -1)]
    scene, staged = run.xcoms[("scene", -1)], run.xcoms[("staged", -1)]
    jobs = {job["route"]: job for job in run.jobs}
    assert set(jobs) == {
        "POST /v4/images/generate-async",
        "POST /v3/images/precise-composite",
        "POST /v3/images/adaptive-composite",
        "POST /v3/images/generate-object-composite-async",
        "POST /v3/images/generate-similar-async",
    }, list(jobs)
    image5 = jobs["POST /v4/images/generate-async"]["request"]
    assert image5["aspectRatio"] == "16:9"
    assert image5["resolutionLevel"] == "1MP"
    scene_url = scene["outputs"][0]["url"]
    for route, seed in (("precise-composite", 333), ("adaptive-composite", 222)):
        request = jobs[f"POST /v3/images/{route}"]["request"]
        assert request["background"]["image"]["source"] == {"url": scene_url}
        assert set(request["background"]["fillAreaMask"]["source"]) == {"uploadId"}
        assert request["object"]["image"]["source"] == {"uploadId": upload_id}
        assert request["seeds"] == [seed]
    assert jobs["POST /v3/images/adaptive-composite"]["request"]["harmonization"] == 0.6
    object_composite = jobs["POST /v3/images/generate-object-composite-async"]["request"]
    assert object_composite["image"]["source"] == {"uploadId": upload_id}
    assert object_composite["placement"] == {
        "alignment": {"horizontal": "center", "vertical": "bottom"}
    }
    similar = jobs["POST /v3/images/generate-similar-async"]
    assert similar["request"]["image"]["source"] == {"url": staged["outputs"][0]["url"]}
    assert similar["modelVersion"] == "image4_standard"
    # One upload of the photo, one of the mask per composite task.
    assert run.counters["uploads"] == 3
    assert len(run.xcoms[("report", -1)]) == 6
    assert_one_token(run)
    assert run.counters["jobs_submitted"] == 5
