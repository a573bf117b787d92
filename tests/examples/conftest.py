"""Run every example DAG with ``airflow dags test`` against its own spawned emulator.

Every run has the OpenLineage provider's file transport on: its events are in
``DagRun.lineage``. A consumer DAG (scheduled on an asset) runs after its producer, in the
producer's AIRFLOW_HOME, its run given the producer's asset events as the scheduler would.

The runs start together (each in its own AIRFLOW_HOME with a copy of one migrated SQLite DB, its
own token cache folder and its own emulator, so they share nothing), which keeps the module to
about the time of the slowest run instead of the sum. ``FIREFLY_EXAMPLES_PARALLEL`` caps how many
run at once (default: all); ``FIREFLY_EXAMPLES_TIMEOUT`` is how long each may take (default: 600 s,
nine Airflow processes sharing two busy cores).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_firefly.testing import FireflyEmulator, airflow_connection

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO / "example_dags"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
JOB_DURATION = "0.5"
DAG_IDS = (
    "firefly_quickstart",
    "firefly_nightly_campaign",
    "firefly_nightly_campaign_deferrable",
    "firefly_product_banner",
    "firefly_product_video",
    "firefly_custom_models",
    "firefly_product_placement",
    "firefly_asset_producer",
    "firefly_asset_consumer",
)
#: DAGs scheduled on an asset → the example DAG whose run produces their asset events.
CONSUMERS = {"firefly_asset_consumer": "firefly_asset_producer"}
RUN_CONSUMER = Path(__file__).with_name("run_consumer.py")
RUN_TIMEOUT = float(os.environ.get("FIREFLY_EXAMPLES_TIMEOUT", "600"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The first test of these modules pays for every run (a session fixture): give it the time
    # the runs may take, not the suite's per-test default.
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.timeout(RUN_TIMEOUT + 120))


def conn_json(url: str, client_secret: str | None = None) -> str:
    if client_secret is None:
        return airflow_connection(url)
    return airflow_connection(url, client_secret=client_secret)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def base_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(EXAMPLE_DAGS),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
    )
    return env


@dataclass
class DagRun:
    """What one ``airflow dags test`` left behind."""

    dag_id: str
    home: Path
    out: Path
    returncode: int
    seconds: float
    log: str
    counters: dict[str, Any]
    jobs: list[dict[str, Any]]
    #: this run's own client secret (random: the documented emulator secret is in DAG docs)
    client_secret: str = ""
    states: dict[tuple[str, int], str] = field(default_factory=dict)
    xcoms: dict[tuple[str, int], Any] = field(default_factory=dict)
    #: the OpenLineage events of the run (file transport), in emission order.
    lineage: list[dict[str, Any]] = field(default_factory=list)
    lineage_text: str = ""

    def files(self, pattern: str = "**/*") -> list[Path]:
        return sorted(p for p in self.out.glob(pattern) if p.is_file())

    def explain(self) -> str:
        return f"{self.dag_id}: rc={self.returncode} states={self.states}\n{self.log[-6000:]}"


def _read_db(home: Path, dag_id: str) -> tuple[dict[tuple[str, int], str], dict[Any, Any]]:
    with sqlite3.connect(home / "airflow.db") as db:
        states = {
            (t, m): str(s)
            for t, m, s in db.execute(
                "select task_id, map_index, state from task_instance where dag_id = ?", (dag_id,)
            )
        }
        xcoms = {}
        for t, m, v in db.execute(
            "select task_id, map_index, value from xcom where dag_id = ? and key = ?",
            (dag_id, "return_value"),
        ):
            xcoms[(t, m)] = json.loads(v) if isinstance(v, (str, bytes)) else v
    return states, xcoms


class _Pending:
    def __init__(self, dag_id: str, root: Path, template_db: Path) -> None:
        self.dag_id = dag_id
        self.home = root / dag_id / "home"
        self.out = root / dag_id / "out"
        self.home.mkdir(parents=True)
        self.out.mkdir(parents=True)
        shutil.copy(template_db, self.home / "airflow.db")
        self.client_secret = f"ff-examples-{secrets.token_hex(12)}"
        self.emulator = FireflyEmulator.spawn(
            "--job-duration", JOB_DURATION, "--client-secret", self.client_secret
        )
        self.env = base_env(self.home)
        self.env.update(
            AIRFLOW_CONN_FIREFLY_DEFAULT=conn_json(self.emulator.url, self.client_secret),
            AIRFLOW_PROVIDER_FIREFLY_CACHE_DIR=str(root / dag_id / "token-cache"),
            FIREFLY_OUTPUT_DIR=f"file://{self.out}",
            FIREFLY_EXPECTED_SECONDS="0.2",
            FIREFLY_POLL_INTERVAL="0.2",
        )
        self.lineage_path = root / dag_id / "openlineage.jsonl"
        self.env.update(lineage_env(self.lineage_path))
        self.log_path = root / dag_id / "dags-test.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0

    def start(self) -> None:
        self.started = time.monotonic()
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [AIRFLOW, "dags", "test", self.dag_id],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def finish(self, timeout: float) -> DagRun:
        assert self.proc is not None
        try:
            returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            returncode = self.proc.wait()
        seconds = time.monotonic() - self.started
        try:
            counters = get_json(self.emulator.url + "/_emulator/counters")
            jobs = get_json(self.emulator.url + "/_emulator/jobs")["jobs"]
        finally:
            self.emulator.stop()
        states, xcoms = _read_db(self.home, self.dag_id)
        lineage_text = read_lineage(self.lineage_path)
        return DagRun(
            dag_id=self.dag_id,
            home=self.home,
            out=self.out,
            returncode=returncode,
            seconds=seconds,
            log=self.log_path.read_text(errors="replace"),
            counters=counters,
            jobs=jobs,
            client_secret=self.client_secret,
            states=states,
            xcoms=xcoms,
            lineage=[json.loads(line) for line in lineage_text.splitlines() if line.strip()],
            lineage_text=lineage_text,
        )


def lineage_env(path: Path) -> dict[str, str]:
    """The OpenLineage provider's file transport, one JSON event a line in ``path``."""
    transport = {"type": "file", "log_file_path": str(path), "append": True}
    return {
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "firefly-examples",
    }


def read_lineage(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def run_consumer(dag_id: str, producer: DagRun, root: Path) -> DagRun:
    """``airflow dags test`` of a consumer in its producer's home, given the asset events."""
    log_path = root / dag_id / "dags-test.log"
    lineage_path = root / dag_id / "openlineage.jsonl"
    log_path.parent.mkdir(parents=True)
    env = base_env(producer.home)
    env.update(lineage_env(lineage_path))
    started = time.monotonic()
    with log_path.open("wb") as log:
        done = subprocess.run(
            [sys.executable, str(RUN_CONSUMER), dag_id],
            check=False,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=RUN_TIMEOUT,
        )
    states, xcoms = _read_db(producer.home, dag_id)
    lineage_text = read_lineage(lineage_path)
    return DagRun(
        dag_id=dag_id,
        home=producer.home,
        out=producer.out,
        returncode=done.returncode,
        seconds=time.monotonic() - started,
        log=log_path.read_text(errors="replace"),
        counters={},
        jobs=[],
        client_secret=producer.client_secret,
        states=states,
        xcoms=xcoms,
        lineage=[json.loads(line) for line in lineage_text.splitlines() if line.strip()],
        lineage_text=lineage_text,
    )


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``airflow db migrate`` (about 5 s); every run gets a copy of the DB."""
    home = tmp_path_factory.mktemp("examples-template-home")
    subprocess.run([AIRFLOW, "db", "migrate"], env=base_env(home), check=True, capture_output=True)
    return home / "airflow.db"


@pytest.fixture(scope="session")
def example_runs(
    template_db: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, DagRun]]:
    """Every example DAG run once with ``airflow dags test``, each against its own emulator."""
    root = tmp_path_factory.mktemp("example-runs")
    parallel = int(os.environ.get("FIREFLY_EXAMPLES_PARALLEL", "0")) or len(DAG_IDS)
    pending: list[_Pending] = []
    results: dict[str, DagRun] = {}
    try:
        queue = [dag_id for dag_id in DAG_IDS if dag_id not in CONSUMERS]
        running: list[_Pending] = []
        while queue or running:
            while queue and len(running) < parallel:
                run = _Pending(queue.pop(0), root, template_db)
                pending.append(run)
                run.start()
                running.append(run)
            first = running.pop(0)
            results[first.dag_id] = first.finish(timeout=RUN_TIMEOUT)
        for consumer, producer in CONSUMERS.items():
            results[consumer] = run_consumer(consumer, results[producer], root)
        yield results
    finally:
        for run in pending:
            if run.proc is not None and run.proc.poll() is None:
                run.proc.kill()
                run.proc.wait()
            run.emulator.stop()
