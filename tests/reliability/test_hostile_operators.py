"""Operators against a hostile or broken Firefly (operator layer), with scripted
emulator replies: file names that try to leave ``output_dir``, redirects, preflight failures,
429s on polls, a hanging poll in the trigger, a served type that disagrees with the request,
URLs that stay expired, the seed of upscale outputs, body checks in the hook.

Every test that makes Firefly accept a job counts ``jobs_submitted``: nothing here may pay for
a task that cannot finish, or pay twice.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_firefly.client.errors import (
    FireflyConfigError,
    FireflyError,
    FireflyOutputExpiredError,
    FireflyValidationError,
)
from airflow_provider_firefly.operators import FireflyUnansweredSubmissionError
from airflow_provider_firefly.operators._names import check_output_name, render_name, safe_component
from airflow_provider_firefly.testing import FireflyEmulator
from airflow_provider_firefly.testing.media import PngImage

from . import _ledger

CONN_ID = "ff_hostile"
SUBMIT = "POST /v3/images/generate-async"
STATUS = "GET /v3/status/{jobId}"
OUTPUT = "GET /outputs/{outputId}"
LOG = logging.getLogger("test_hostile_operators")


class TI:
    def __init__(self, run_id: str = "manual__1", try_number: int = 1) -> None:
        self.dag_id = "hostile"
        self.task_id = "t"
        self.run_id = run_id
        self.map_index = -1
        self.try_number = try_number


@pytest.fixture
def emu(firefly_emulator: FireflyEmulator, set_conn: Any) -> FireflyEmulator:
    firefly_emulator.configure(job_duration=0)
    set_conn(CONN_ID, firefly_emulator)
    return firefly_emulator


def gen(out: Any, **kw: Any) -> Any:
    from airflow_provider_firefly.operators import FireflyGenerateImagesOperator

    kw.setdefault("prompt", "a lighthouse")
    kw.setdefault("size", (32, 32))
    kw.setdefault("expected_seconds", 0)
    kw.setdefault("poll_interval", 0.05)
    kw.setdefault("max_poll_interval", 0.1)
    kw.setdefault("job_timeout", 30)
    return FireflyGenerateImagesOperator(task_id="t", firefly_conn_id=CONN_ID, output_dir=out, **kw)


def files_outside(root: Path, out: Path) -> list[Path]:
    """Files under ``root`` that are not under ``out`` (the tmp folder of one test)."""
    return [
        p for p in root.rglob("*") if p.is_file() and out not in p.parents and "token" not in str(p)
    ]


# -- item 1: names stay inside output_dir ------------------------------------------------------

HOSTILE_IDS = [
    "urn:ff:jobs:../../escape",
    "../../../../tmp/ff-escape",
    "/tmp/ff-escape-abs",
    "..",
    ".hidden",
    "a\\..\\..\\b",
    "x\x00y",
    "line\nbreak",
    "%2F..%2F..%2Fx",
    "z" * 5000,
]


#: Ids the client accepts (its charset) that are still dangerous as file names.
NAME_ONLY_IDS = ["urn:ff:jobs:..", "urn:ff:jobs:.hidden", "urn:ff:jobs:" + "z" * 400]


@pytest.mark.parametrize("job_id", HOSTILE_IDS + NAME_ONLY_IDS)
def test_a_server_chosen_job_id_cannot_leave_output_dir(
    job_id: str, emu: FireflyEmulator, tmp_path: Path, records: dict[str, str]
) -> None:
    """The client may refuse the id (then the accepted job is kept as unanswered and never
    paid again) or pass it on; either way no file lands outside ``output_dir``."""
    out = tmp_path / "a" / "b" / "out"
    emu.script(SUBMIT, [{"merge_patch": {"jobId": job_id}}])
    operator = gen(str(out), output_name="{job_id}-{seed}.{ext}")
    try:
        value = operator.execute({"ti": TI()})
    except FireflyUnansweredSubmissionError:
        outcome = "refused by the client"
        with pytest.raises(FireflyUnansweredSubmissionError):
            gen(str(out), output_name="{job_id}-{seed}.{ext}").execute({"ti": TI(try_number=2)})
    else:
        outcome = "saved"
        saved = [Path(p) for p in value["saved_paths"]]
        assert saved
        for path in saved:
            assert path.parent == out, path
            assert not path.name.startswith("."), path
            assert path.stat().st_size > 0
    outside = files_outside(tmp_path, out)
    assert outside == []
    assert emu.counters()["jobs_submitted"] == 1
    _ledger.record(
        "hostile", case="job-id-name", outcome=outcome, files_outside=len(outside), jobs=1
    )


def test_a_resumed_handle_with_a_hostile_id_cannot_leave_output_dir(
    emu: FireflyEmulator, tmp_path: Path, records: dict[str, str]
) -> None:
    """Below the client's id check: a handle (as a record holds it) whose id climbs out."""
    from airflow_provider_firefly.hooks.firefly import FireflyHook
    from airflow_provider_firefly.operators._resume import JobRecord

    real = FireflyHook(firefly_conn_id=CONN_ID).submit("generate_images", {"prompt": "x"})
    job = {**real.to_dict(), "job_id": "urn:ff:jobs:../../../escape"}
    JobRecord.for_context({"ti": TI()}, LOG, emu.client_secret).write(
        job, "generate_images", None, 1
    )
    out = tmp_path / "a" / "out"
    value = gen(str(out), output_name="{job_id}-{seed}.{ext}").execute({"ti": TI(try_number=2)})
    assert value["resumed"] is True
    assert value["saved_paths"]
    assert all(Path(p).parent == out for p in value["saved_paths"])
    assert files_outside(tmp_path, out) == []
    assert emu.counters()["jobs_submitted"] == 1


@pytest.mark.parametrize("run_id", ["../../x", "/abs/run", "manual__2026-01-01T00:00:00+00:00"])
def test_a_user_chosen_run_id_cannot_leave_output_dir(
    run_id: str, emu: FireflyEmulator, tmp_path: Path, records: dict[str, str]
) -> None:
    out = tmp_path / "out"
    value = gen(str(out), output_name="{run_id}-{dag_id}-{seed}.{ext}").execute(
        {"ti": TI(run_id=run_id)}
    )
    assert all(Path(p).parent == out for p in value["saved_paths"])
    assert files_outside(tmp_path, out) == []


def test_object_storage_names_stay_inside(
    emu: FireflyEmulator, tmp_path: Path, records: dict[str, str]
) -> None:
    from airflow.sdk import ObjectStoragePath

    out = tmp_path / "store"
    value = gen(ObjectStoragePath(f"file://{out}"), output_name="{run_id}-{seed}.{ext}").execute(
        {"ti": TI(run_id="../../../obj-escape")}
    )
    assert value["saved_paths"]
    assert files_outside(tmp_path, out) == []


def test_safe_component() -> None:
    for value in HOSTILE_IDS:
        clean = safe_component(value)
        assert "/" not in clean
        assert "\\" not in clean
        assert ".." not in clean
        assert not clean.startswith(".")
        assert all(ord(c) >= 32 for c in clean)
        assert len(clean) <= 80
    assert safe_component(7) == 7  # numbers keep their format specs ({index:03d})
    check_output_name("Op", "{task_id}-{index:03d}-{seed:>8}.{ext}")
    name = render_name(
        "Op", "{run_id}-{index:03d}.{ext}", {"run_id": "../x", "index": 7, "ext": "png"}
    )
    assert name == "___x-007.png"
    assert safe_component("z" * 5000) != safe_component("z" * 4999)  # clipped, still distinct


# -- item 2 (operator side): redirects to a plain-http host are never fetched -------------------


class _Counter(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        body = PngImage(8, 8, seed=1).to_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def plain_http() -> Iterator[tuple[str, type[_Counter]]]:
    handler = type("Counter", (_Counter,), {"hits": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/internal.png", handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("location", ["http-other-host", "file:///etc/passwd", "ftp://x/y"])
def test_output_redirects_that_leave_https_are_refused(
    location: str,
    emu: FireflyEmulator,
    tmp_path: Path,
    records: dict[str, str],
    plain_http: tuple[str, type[_Counter]],
) -> None:
    url, counter = plain_http
    target = url if location == "http-other-host" else location
    emu.script(OUTPUT, [{"status": 302, "headers": {"Location": target}, "repeat": True}])
    out = tmp_path / "out"
    with pytest.raises(FireflyError) as info:
        gen(str(out)).execute({"ti": TI()})
    message = str(info.value)
    assert "job" in message.lower(), message
    assert counter.hits == 0
    assert emu.counters()["jobs_submitted"] == 1
    assert files_outside(tmp_path, out) == []
    assert len(records) == 1  # the job is kept: a retry resumes it, nothing is paid again
    _ledger.record("hostile", case=f"redirect-{location}", non_https_fetches=counter.hits)


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip-bomb"])
def test_an_output_over_the_size_cap_leaves_no_file(
    gzip: bool, emu: FireflyEmulator, tmp_path: Path, records: dict[str, str], set_conn: Any
) -> None:
    from airflow_provider_firefly.client.errors import FireflyDownloadRefusedError

    set_conn(CONN_ID, emu, max_output_bytes=1_000_000)
    emu.script(
        OUTPUT,
        [
            {
                "status": 200,
                "headers": {"Content-Type": "image/png"},
                "body_base64": base64.b64encode(PngImage(8, 8, seed=1).to_bytes()).decode(),
                "filler_bytes": 8_000_000,
                "gzip": gzip,
            }
        ],
    )
    out = tmp_path / "out"
    with pytest.raises(FireflyDownloadRefusedError) as info:
        gen(str(out)).execute({"ti": TI()})
    assert emu.jobs()[0]["jobId"] in str(info.value)
    assert list(out.iterdir()) == []  # no partial file
    assert files_outside(tmp_path, out) == []
    assert emu.counters()["jobs_submitted"] == 1
    assert len(records) == 1


# -- item 12: preflight ------------------------------------------------------------------------


def test_s3_output_dir_without_the_amazon_provider(
    emu: FireflyEmulator, records: dict[str, str]
) -> None:
    with pytest.raises(FireflyConfigError) as info:
        gen("s3://bucket/out").execute({"ti": TI()})
    assert "apache-airflow-providers-amazon" in str(info.value)
    assert "output_dir" in str(info.value)
    assert emu.counters()["jobs_submitted"] == 0
    assert records == {}
    _ledger.record("hostile", case="preflight-s3", jobs_accepted=0)


def test_output_dir_under_a_regular_file(
    emu: FireflyEmulator, tmp_path: Path, records: dict[str, str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for out in (blocker / "out", f"file://{blocker}/out"):
        with pytest.raises(FireflyConfigError) as info:
            gen(str(out)).execute({"ti": TI()})
        assert "output_dir" in str(info.value)
    assert emu.counters()["jobs_submitted"] == 0
    assert emu.counters()["uploads"] == 0
    _ledger.record("hostile", case="preflight-parent-file", jobs_accepted=0)


def test_read_only_output_dir(
    emu: FireflyEmulator, tmp_path: Path, records: dict[str, str]
) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        with pytest.raises(FireflyConfigError):
            gen(str(out)).execute({"ti": TI()})
    finally:
        out.chmod(0o700)
    assert emu.counters()["jobs_submitted"] == 0


# -- item 13: the hook validates; the generic operator warns about unknown keys ----------------


def test_hook_submit_validates_before_sending(emu: FireflyEmulator) -> None:
    from airflow_provider_firefly.hooks.firefly import FireflyHook

    hook = FireflyHook(firefly_conn_id=CONN_ID)
    with pytest.raises(FireflyValidationError) as info:
        hook.submit("generate_images", {"prompt": "x", "numVariations": 9})
    assert "numVariations" in str(info.value)
    assert emu.counters()["requests_by_route"].get(SUBMIT, 0) == 0
    with pytest.raises(FireflyValidationError):
        hook.submit("generate_images", {"prompt": "x", "numVariations": 9}, validate=False)
    assert emu.counters()["requests_by_route"][SUBMIT] == 1  # the opt-out sends it
    assert emu.counters()["jobs_submitted"] == 0


def test_generic_operator_warns_about_unknown_body_keys(
    emu: FireflyEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from airflow_provider_firefly.operators import FireflyOperator

    FireflyOperator(
        task_id="g",
        firefly_conn_id=CONN_ID,
        operation="generate_images",
        body={"prompt": "x", "numVariation": 2, "size": {"width": 32, "height": 32}},
        output_dir=str(tmp_path / "out"),
        expected_seconds=0,
        poll_interval=0.05,
    ).execute({})
    logged = capsys.readouterr().out
    assert "'numVariation'" in logged
    assert "not part of" in logged


# -- item 14: 429 on polls, the connection's budget ---------------------------------------------


def test_429_on_every_poll_for_a_while_does_not_fail_the_task(
    emu: FireflyEmulator, tmp_path: Path, records: dict[str, str], set_conn: Any
) -> None:
    set_conn(CONN_ID, emu, max_attempts=2)
    limited = {"status": 429, "headers": {"retry-after": "0.2"}, "body": {"error_code": "429"}}
    emu.script(STATUS, [limited] * 8)
    started = time.monotonic()
    value = gen(str(tmp_path / "out"), job_timeout=30).execute({"ti": TI()})
    assert value["saved_paths"]
    assert time.monotonic() - started < 25
    assert emu.counters()["jobs_submitted"] == 1


def test_429_until_the_deadline_is_a_timeout_not_a_rate_limit_error(
    emu: FireflyEmulator, tmp_path: Path, records: dict[str, str], set_conn: Any
) -> None:
    from airflow_provider_firefly.client.errors import FireflyJobTimeoutError

    set_conn(CONN_ID, emu, max_attempts=2)
    emu.configure(job_duration=60)
    limited = {"status": 429, "headers": {"retry-after": "0.3"}, "body": {"error_code": "429"}}
    emu.script(STATUS, [{**limited, "repeat": True}])
    started = time.monotonic()
    with pytest.raises(FireflyJobTimeoutError):
        gen(str(tmp_path / "out"), job_timeout=2).execute({"ti": TI()})
    assert 1.5 < time.monotonic() - started < 15
    assert emu.counters()["jobs_cancelled"] == 1


def test_sync_wait_honours_the_connections_requests_per_minute(
    emu: FireflyEmulator, tmp_path: Path, records: dict[str, str], set_conn: Any
) -> None:
    """30/min for one slot = one poll every 2 s, whatever poll_interval asks (0.05 s here)."""
    set_conn(CONN_ID, emu, requests_per_minute=30, budget_slots=1)
    emu.configure(job_duration=4.5)
    started = time.monotonic()
    value = gen(str(tmp_path / "out"), poll_interval=0.05, max_poll_interval=0.1).execute(
        {"ti": TI()}
    )
    elapsed = time.monotonic() - started
    polls = emu.counters()["requests_by_route"][STATUS]
    assert value["saved_paths"]
    assert polls <= elapsed / 2 + 1, (polls, elapsed)
    assert polls <= 4, polls
    _ledger.record("hostile", case="sync-budget", polls=polls, seconds=round(elapsed, 1))


# -- item 4: the trigger's deadline holds while a poll hangs ------------------------------------


def test_trigger_deadline_holds_while_a_poll_hangs(emu: FireflyEmulator, set_conn: Any) -> None:
    from airflow_provider_firefly.hooks.firefly import FireflyHook
    from airflow_provider_firefly.triggers.firefly import FireflyJobTrigger

    set_conn(CONN_ID, emu, read_timeout=120)
    emu.configure(job_duration=60)
    job = FireflyHook(firefly_conn_id=CONN_ID).submit("generate_images", {"prompt": "x"})
    emu.script(STATUS, [{"body": {"status": "running"}, "drip": 1.0, "filler_bytes": 600}])
    trigger = FireflyJobTrigger(
        firefly_conn_id=CONN_ID,
        job=job.to_dict(),
        expected_seconds=0,
        deadline=time.time() + 2.0,
    )

    async def first_event() -> Any:
        async for event in trigger.run():
            return event.payload
        return None

    started = time.monotonic()
    payload = asyncio.run(asyncio.wait_for(first_event(), 60))
    elapsed = time.monotonic() - started
    assert payload["status"] == "deadline", payload
    assert elapsed < 10, elapsed
    _ledger.record("hostile", case="trigger-hanging-poll", seconds=round(elapsed, 2))


# -- item 16: the served type names the extension -----------------------------------------------


@pytest.mark.parametrize("storage", ["local", "object"])
def test_served_content_type_names_the_extension(
    storage: str, emu: FireflyEmulator, tmp_path: Path, records: dict[str, str]
) -> None:
    from airflow.sdk import ObjectStoragePath

    jpeg = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\0" * 64).decode()
    emu.script(
        OUTPUT, [{"status": 200, "headers": {"Content-Type": "image/jpeg"}, "body_base64": jpeg}]
    )
    out = tmp_path / "out"
    where = str(out) if storage == "local" else ObjectStoragePath(f"file://{out}")
    value = gen(where).execute({"ti": TI()})
    assert [Path(p).suffix for p in value["saved_paths"]] == [".jpg"]
    assert sorted(p.suffix for p in out.iterdir()) == [".jpg"]


# -- item 18: upscale names files by the seed it sent --------------------------------------------


def test_upscale_outputs_carry_the_seed_sent(
    emu: FireflyEmulator, tmp_path: Path, records: dict[str, str]
) -> None:
    from airflow_provider_firefly.operators import FireflyUpscaleImageOperator

    image = tmp_path / "in.png"
    image.write_bytes(PngImage(32, 32, seed=2).to_bytes())
    value = FireflyUpscaleImageOperator(
        task_id="up",
        firefly_conn_id=CONN_ID,
        image=str(image),
        seeds=[4242],
        output_dir=str(tmp_path / "out"),
        expected_seconds=0,
        poll_interval=0.05,
    ).execute({"ti": TI()})
    assert value["seeds"] == [4242]
    assert all("4242" in Path(p).name for p in value["saved_paths"])


# -- item 19: a re-polled URL that is still expired ---------------------------------------------


def test_output_url_still_expired_after_a_new_poll(
    emu: FireflyEmulator, tmp_path: Path, records: dict[str, str]
) -> None:
    expired = {
        "status": 403,
        "headers": {"content-type": "application/xml"},
        "body_base64": base64.b64encode(
            b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
        ).decode(),
        "repeat": True,
    }
    emu.script(OUTPUT, [expired])
    out = tmp_path / "out"
    with pytest.raises(FireflyOutputExpiredError) as info:
        gen(str(out)).execute({"ti": TI()})
    message = str(info.value)
    job_id = emu.jobs()[0]["jobId"]
    assert job_id in message
    assert "output 0" in message
    assert "Nothing was submitted again" in message
    assert emu.counters()["jobs_submitted"] == 1
    assert len(records) == 1  # the job is kept: a retry resumes it
    emu.clear_scripts(OUTPUT)
    value = gen(str(out)).execute({"ti": TI(try_number=2)})
    assert value["resumed"] is True
    assert value["saved_paths"]
    assert emu.counters()["jobs_submitted"] == 1
    _ledger.record("hostile", case="expired-twice", jobs_accepted=1)


# -- DAG level: real ``airflow dags test`` runs --------------------------------------------------

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
DAGS = Path(__file__).parent / "dags"
LOGICAL_DATE = "2026-01-02T00:00:00+00:00"


@pytest.fixture(scope="module")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``airflow db migrate`` and the DAGs serialized; every DAG-level test gets a copy."""
    home = tmp_path_factory.mktemp("hostile-template-home")
    env = _env(home)
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([AIRFLOW, "dags", "reserialize"], env=env, check=True, capture_output=True)
    return home / "airflow.db"


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        **extra,
    )
    return env


@dataclass
class Sandbox:
    """An Airflow home with its own DB, and the folder the DAGs may write under."""

    home: Path
    root: Path
    env: dict[str, str]

    @property
    def out(self) -> Path:
        return self.root / "a" / "b" / "out"

    def run(self, args: list[str], timeout: float = 300, **env: str) -> tuple[int, str]:
        log = self.home / f"{args[1]}-{time.monotonic_ns()}.log"
        with log.open("wb") as handle:
            proc = subprocess.run(
                [AIRFLOW, *args],
                env={**self.env, **env},
                stdout=handle,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        return proc.returncode, log.read_text(errors="replace")

    def dags_test(self, dag_id: str, **env: str) -> tuple[int, str]:
        return self.run(["dags", "test", dag_id, LOGICAL_DATE], **env)

    def trigger(self, dag_id: str, run_id: str) -> None:
        """A queued DAG run with a chosen run id (no scheduler runs it: ``tasks_test`` does)."""
        code, log = self.run(["dags", "trigger", dag_id, "--run-id", run_id])
        assert code == 0, log[-3000:]

    def tasks_test(self, dag_id: str, task_id: str, run_id: str, **env: str) -> tuple[int, str]:
        """One try of a task instance of the existing run ``run_id``, in a new process."""
        return self.run(["tasks", "test", dag_id, task_id, run_id], **env)

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.home / "airflow.db") as db:
            return list(db.execute(sql, args))

    def records(self) -> list[str]:
        return [
            r[0] for r in self.query("select key from variable where key like 'firefly_job__%'")
        ]

    def states(self, dag_id: str) -> dict[str, str]:
        rows = self.query("select task_id, state from task_instance where dag_id = ?", dag_id)
        return {t: str(s) for t, s in rows}

    def job_ids(self, dag_id: str) -> dict[str, str]:
        rows = self.query(
            "select task_id, value from xcom where dag_id = ? and key = 'return_value'", dag_id
        )
        return {t: json.loads(v)["job_id"] for t, v in rows}

    def files_outside_out(self) -> list[Path]:
        return [p for p in self.root.rglob("*") if p.is_file() and self.out not in p.parents]


@pytest.fixture
def sandbox(tmp_path: Path, migrated_db: Path, emu: FireflyEmulator) -> Sandbox:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(migrated_db, home / "airflow.db")
    root = tmp_path / "sandbox"
    (root / "a" / "b").mkdir(parents=True)
    blocker = root / "blocker"
    blocker.write_text("a regular file where a folder is expected")
    env = _env(
        home,
        AIRFLOW_CONN_FIREFLY_DEFAULT=emu.airflow_connection(),
        AIRFLOW_PROVIDER_FIREFLY_CACHE_DIR=str(tmp_path / "token-cache"),
        FF_HOSTILE_OUT=str(root / "a" / "b" / "out"),
        FF_HOSTILE_BLOCKER=str(blocker),
    )
    return Sandbox(home, root, env)


@pytest.mark.airflow
@pytest.mark.slow
def test_dag_run_against_hostile_replies(
    sandbox: Sandbox, emu: FireflyEmulator, plain_http: tuple[str, type[_Counter]]
) -> None:
    url, counter = plain_http
    emu.script(
        SUBMIT,
        [
            {"process": True},  # every_placeholder: a normal reply
            {"merge_patch": {"jobId": "urn:ff:jobs:../../escape"}},
        ],
    )
    emu.script(
        OUTPUT,
        [{"process": True}, {"status": 302, "headers": {"Location": url}, "repeat": True}],
    )
    code, log = sandbox.dags_test("ff_hostile")
    states = sandbox.states("ff_hostile")
    assert states == {
        "every_placeholder": "success",
        "templated_name": "failed",  # rendered to ../../escape: refused before submitting
        "climbing_job_id": "failed",  # the client refuses the id: kept as unanswered
        "s3_without_provider": "failed",
        "parent_is_a_file": "failed",
        "redirect_to_http": "failed",
    }, log[-5000:]
    assert code != 0
    assert "apache-airflow-providers-amazon" in log
    assert "only redirects to https" in log or "refused" in log
    saved = list(sandbox.out.iterdir())
    assert len(saved) == 1
    assert saved[0].name.startswith("ff_hostile-every_placeholder-manual__")
    outside = [p for p in sandbox.files_outside_out() if p.name != "blocker"]
    # Jobs: every_placeholder (saved), climbing_job_id (accepted, answer refused),
    # redirect_to_http (accepted, output refused); none for the three preflight failures.
    jobs = emu.counters()["jobs_submitted"]
    figures = {
        "files_outside_output_dir": len(outside),
        "non_https_redirect_fetches": counter.hits,
        "jobs_accepted_for_preflight_failures": jobs - 3,
    }
    print("hostile DAG run:", figures)
    assert figures == {
        "files_outside_output_dir": 0,
        "non_https_redirect_fetches": 0,
        "jobs_accepted_for_preflight_failures": 0,
    }, emu.jobs()
    _ledger.record("hostile", case="dag-run", **figures)


@pytest.mark.airflow
@pytest.mark.slow
def test_dag_runs_whose_keys_used_to_collide(sandbox: Sandbox, emu: FireflyEmulator) -> None:
    """``etl__daily.gen`` keeps its job (its outputs never came), then ``etl.daily__gen`` runs
    in the same logical date: it must submit its own job, not resume the first one."""
    expired = {
        "status": 403,
        "headers": {"content-type": "application/xml"},
        "body_base64": base64.b64encode(b"<Error><Code>AccessDenied</Code></Error>").decode(),
        "repeat": True,
    }
    sandbox.trigger("etl__daily", "shared_run")
    sandbox.trigger("etl", "shared_run")
    emu.script(OUTPUT, [expired])
    _, log = sandbox.tasks_test("etl__daily", "gen", "shared_run")
    assert "etl__daily.gen shared_run" in log
    assert "still refused as expired" in log, log[-3000:]
    first_job = emu.jobs()[0]["jobId"]
    kept = sandbox.records()
    assert len(kept) == 1, log[-3000:]
    emu.clear_scripts(OUTPUT)
    _, log = sandbox.tasks_test("etl", "daily__gen", "shared_run")
    assert "Resuming Firefly job" not in log, log[-5000:]
    jobs = [j["jobId"] for j in emu.jobs()]
    assert len(jobs) == 2
    second_job = jobs[1]
    assert "Saved output 0" in log
    colliding = int(second_job == first_job) + int(sandbox.records() != kept)
    print("colliding records:", colliding)
    assert colliding == 0
    assert emu.counters()["jobs_cancelled"] == 0
    _ledger.record("hostile", case="dag-record-keys", colliding_records=colliding)


@pytest.mark.airflow
@pytest.mark.slow
def test_worker_killed_after_acceptance(sandbox: Sandbox, emu: FireflyEmulator) -> None:
    """Item 11: SIGKILL between Firefly's acceptance and its answer; the retry (same run)
    refuses with one stable error, and only the opt-in submits again."""
    sandbox.trigger("ff_hostile_kill", "kill_run")
    emu.script(SUBMIT, [{"process": True, "delay": 30}])
    log_path = sandbox.home / "killed.log"
    with log_path.open("wb") as handle:
        child = subprocess.Popen(
            [AIRFLOW, "tasks", "test", "ff_hostile_kill", "gen", "kill_run"],
            env=sandbox.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while not emu.jobs():
            assert child.poll() is None, log_path.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the task never submitted"
            time.sleep(0.05)
        os.killpg(child.pid, signal.SIGKILL)
        assert child.wait(30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(30)
    assert emu.counters()["jobs_submitted"] == 1
    assert len(sandbox.records()) == 1  # the intent, written before the request left

    _, log = sandbox.tasks_test("ff_hostile_kill", "gen", "kill_run")
    assert "ff_hostile_kill.gen kill_run" in log
    assert "FireflyUnansweredSubmissionError" in log, log[-5000:]
    assert "resubmit_unanswered=True" in log
    assert emu.counters()["jobs_submitted"] == 1  # the retry did not pay again
    _, again = sandbox.tasks_test("ff_hostile_kill", "gen", "kill_run")
    assert "FireflyUnansweredSubmissionError" in again
    assert emu.counters()["jobs_submitted"] == 1

    _, log = sandbox.tasks_test("ff_hostile_kill", "gen", "kill_run", FF_HOSTILE_RESUBMIT="1")
    assert "Saved output 0" in log, log[-5000:]
    assert emu.counters()["jobs_submitted"] == 2  # the explicit opt-in pays again
    assert sandbox.records() == []
    assert len(list(sandbox.out.iterdir())) == 1
    _ledger.record("hostile", case="sigkill-after-acceptance", jobs_accepted_by_retry=0)
