"""Run every example DAG with ``airflow dags test`` against its own spawned emulator.

The runs start together (each in its own AIRFLOW_HOME with a copy of one migrated SQLite DB, its
own token cache folder and its own emulator, so they share nothing), which keeps the module to
about the time of the slowest run instead of the sum. ``FIREFLY_EXAMPLES_PARALLEL`` caps how many
run at once (default: all).
"""

from __future__ import annotations

import json
import os
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
)


def conn_json(url: str) -> str:
    return airflow_connection(url)


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
    states: dict[tuple[str, int], str] = field(default_factory=dict)
    xcoms: dict[tuple[str, int], Any] = field(default_factory=dict)

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
        self.emulator = FireflyEmulator.spawn("--job-duration", JOB_DURATION)
        self.env = base_env(self.home)
        self.env.update(
            AIRFLOW_CONN_FIREFLY_DEFAULT=conn_json(self.emulator.url),
            AIRFLOW_PROVIDER_FIREFLY_CACHE_DIR=str(root / dag_id / "token-cache"),
            FIREFLY_OUTPUT_DIR=f"file://{self.out}",
            FIREFLY_EXPECTED_SECONDS="0.2",
            FIREFLY_POLL_INTERVAL="0.2",
        )
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
        return DagRun(
            dag_id=self.dag_id,
            home=self.home,
            out=self.out,
            returncode=returncode,
            seconds=seconds,
            log=self.log_path.read_text(errors="replace"),
            counters=counters,
            jobs=jobs,
            states=states,
            xcoms=xcoms,
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
        queue = list(DAG_IDS)
        running: list[_Pending] = []
        while queue or running:
            while queue and len(running) < parallel:
                run = _Pending(queue.pop(0), root, template_db)
                pending.append(run)
                run.start()
                running.append(run)
            first = running.pop(0)
            results[first.dag_id] = first.finish(timeout=300)
        yield results
    finally:
        for run in pending:
            if run.proc is not None and run.proc.poll() is None:
                run.proc.kill()
                run.proc.wait()
            run.emulator.stop()
