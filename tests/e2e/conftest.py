"""A real Airflow deployment for the end-to-end tests, started once per session.

``airflow db migrate`` (SQLite), then four long-running processes, each on 127.0.0.1 where it
listens at all, each in its own process group, stopped by PID at the end (also on failure):

* ``airflow api-server --host 127.0.0.1 --port <free>`` (REST API + the Execution API that task
  processes and the triggerer call),
* ``airflow dag-processor`` (parses ``tests/e2e/dags``),
* ``airflow scheduler --skip-serve-logs`` (LocalExecutor, parallelism 4),
* ``airflow triggerer --skip-serve-logs``.

The Firefly/IMS emulator runs **in this pytest process** (a thread), with a unique client id and
secret per session, and records every token it issues, so that the secrets scan knows exactly
what to look for. Everything lives in ``<repo>/test-artifacts/e2e/<run>/`` (git-ignored): the
``AIRFLOW_HOME`` (DB, task logs), the process logs, the token caches and the generated images.
Only the last three runs are kept.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fixtures.airflow_server import AIRFLOW, free_port

from airflow_provider_firefly.testing import airflow_connection


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: needs the real Airflow deployment of tests/e2e")


REPO = Path(__file__).resolve().parents[2]
DAGS = Path(__file__).parent / "dags"
ARTIFACTS = REPO / "test-artifacts" / "e2e"
DAG_IDS = (
    "ff_e2e_mapped_sync",
    "ff_e2e_mapped_deferred",
    "ff_e2e_cluster_cache",
    "ff_e2e_cluster_cold",
)
N_TASKS = 20
N_CLUSTER = 6
N_COLD = 4
PARALLELISM = 4
KEEP_RUNS = 3


@dataclass
class Credentials:
    client_id: str
    client_secret: str


@dataclass
class E2EEmulator:
    """The in-process emulator and every token it issued (for the secrets scan)."""

    emu: Any
    main: Credentials
    cluster: Credentials
    cold: Credentials
    issued: list[str] = field(default_factory=list)

    def ims_requests(self) -> int:
        return int(self.emu.counters()["ims_token_requests"])


@pytest.fixture(scope="session")
def e2e_emulator() -> Iterator[E2EEmulator]:
    from airflow_provider_firefly.testing import FireflyEmulator

    tag = secrets.token_hex(6)
    main = Credentials(f"e2e-client-{tag}", f"e2e-secret-{secrets.token_urlsafe(18)}")
    cluster = Credentials(f"e2e-cw-client-{tag}", f"e2e-cw-secret-{secrets.token_urlsafe(18)}")
    cold = Credentials(f"e2e-cold-client-{tag}", f"e2e-cold-secret-{secrets.token_urlsafe(18)}")
    emu = FireflyEmulator(
        main.client_id,
        main.client_secret,
        job_duration=1.5,
        extra_clients={
            cluster.client_id: cluster.client_secret,
            cold.client_id: cold.client_secret,
        },
    )
    state = E2EEmulator(emu, main, cluster, cold)
    authority = emu.state.authority
    original_issue = authority.issue
    lock = threading.Lock()

    def recording_issue(*args: Any, **kwargs: Any) -> str:
        token = original_issue(*args, **kwargs)
        with lock:
            state.issued.append(token)
        return token

    authority.issue = recording_issue  # type: ignore[method-assign]  # this emulator only
    emu.start()
    try:
        yield state
    finally:
        emu.stop()


@dataclass
class Deployment:
    root: Path
    home: Path
    work: Path
    proc_logs: Path
    env: dict[str, str]
    api_url: str
    fernet_key: str
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    #: ``trigger`` rows seen while runs were in flight (the triggerer deletes them afterwards).
    trigger_rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    stopped: bool = False

    # --- REST API ------------------------------------------------------------------------------
    def api(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.api_url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def trigger(self, dag_id: str) -> str:
        run = self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None})
        return str(run["dag_run_id"])

    def dag_run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"])

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        out = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=500")
        return list(out["task_instances"])

    def wait_runs(self, runs: dict[str, str], timeout: float) -> dict[str, str]:
        """Poll until every ``{dag_id: run_id}`` is finished; snapshot trigger rows meanwhile."""
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            self.snapshot_triggers()
            states = {d: self.dag_run_state(d, r) for d, r in runs.items()}
            if all(s in ("success", "failed") for s in states.values()):
                return states
            self.check_alive()
            time.sleep(1)
        return states

    # --- metadata DB ---------------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.home / "airflow.db"

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        try:
            con.row_factory = sqlite3.Row
            return con.execute(query, params).fetchall()
        finally:
            con.close()

    def snapshot_triggers(self) -> None:
        try:
            for row in self.sql("SELECT * FROM trigger"):
                self.trigger_rows[int(row["id"])] = dict(row)
        except sqlite3.OperationalError:  # locked by a writer: next poll
            pass

    def fernet(self) -> Any:
        from cryptography.fernet import Fernet

        return Fernet(self.fernet_key.encode())

    # --- processes -----------------------------------------------------------------------------
    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log_path = self.proc_logs / f"{name}.log"
        with log_path.open("ab") as log_file:
            proc = subprocess.Popen(
                [AIRFLOW, *args],
                env=self.env,
                cwd=self.root,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # own process group: stopped with its children
                preexec_fn=_die_with_pytest,  # noqa: PLW1509 - no threads fork here
            )
        self.procs[name] = proc
        return proc

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = (self.proc_logs / f"{name}.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"airflow {name} exited with {proc.returncode}:\n{tail}")

    def stop_all(self) -> None:
        """SIGTERM each process group, wait up to 20 s, SIGKILL what is left. Once only (a
        second ``killpg`` could hit a reused process group id)."""
        if self.stopped:
            return
        self.stopped = True
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
        for proc in self.procs.values():
            # The group may outlive its leader (task or trigger subprocesses): kill what is left.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            if proc.poll() is None:
                proc.wait(5)


def _die_with_pytest() -> None:
    """In the child before exec: SIGTERM it if pytest dies without running finalizers (Linux)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _prune_old_runs() -> None:
    if not ARTIFACTS.exists():
        return
    runs = sorted(p for p in ARTIFACTS.iterdir() if p.is_dir() and p.name.startswith("run-"))
    for old in runs[: max(0, len(runs) - (KEEP_RUNS - 1))]:
        shutil.rmtree(old, ignore_errors=True)


def _connection(emu: Any, creds: Credentials, **extra: Any) -> str:
    return airflow_connection(emu.api_url, creds.client_id, creds.client_secret, **extra)


def _base_env() -> dict[str, str]:
    """This process's environment without any Airflow or provider setting of the other tests."""
    drop = ("AIRFLOW", "FIREFLY_", "FF_")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


@pytest.fixture(scope="session")
def deployment(e2e_emulator: E2EEmulator) -> Iterator[Deployment]:
    t0 = time.monotonic()
    _prune_old_runs()
    root = ARTIFACTS / time.strftime("run-%Y%m%d-%H%M%S")
    root.mkdir(parents=True, exist_ok=True)
    home, work, proc_logs = root / "airflow-home", root / "work", root / "process-logs"
    for folder in (home, work, proc_logs):
        folder.mkdir(exist_ok=True)
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    from cryptography.fernet import Fernet

    fernet_key = Fernet.generate_key().decode()
    emu = e2e_emulator.emu
    env = _base_env()
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(PARALLELISM),
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "64",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__FERNET_KEY": fernet_key,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": api_url,
            "AIRFLOW__API_AUTH__JWT_SECRET": base64.b64encode(secrets.token_bytes(64)).decode(),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__TRIGGERER__CAPACITY": "100",
            # Keep any stray default cache away from ~/.cache.
            "AIRFLOW_PROVIDER_FIREFLY_CACHE_DIR": str(root / "default-token-cache"),
            "FF_E2E_WORK": str(work),
            "FF_E2E_TASKS": str(N_TASKS),
            "FF_E2E_CLUSTER_TASKS": str(N_CLUSTER),
            "FF_E2E_COLD_TASKS": str(N_COLD),
            # Test 1: the connection's default host cache, in a folder of this deployment.
            "AIRFLOW_CONN_FF_E2E": _connection(
                emu, e2e_emulator.main, cache_dir=str(root / "host-token-cache")
            ),
        }
    )
    # Test 2: one connection per "worker", each with its own host cache folder (the last one
    # with no host cache at all), all with the cluster-wide Variable level on.
    for i in range(N_CLUSTER + 1):
        extra: dict[str, Any] = {"shared_cache": True, "cache_dir": str(root / f"cw-cache-{i}")}
        if i == N_CLUSTER:
            extra = {"shared_cache": True, "host_cache": False}
        env[f"AIRFLOW_CONN_FF_CW_{i}"] = _connection(emu, e2e_emulator.cluster, **extra)
    # Cold start: tasks with no host cache that all begin before any token exists.
    for i in range(N_COLD):
        env[f"AIRFLOW_CONN_FF_COLD_{i}"] = _connection(
            emu, e2e_emulator.cold, shared_cache=True, host_cache=False
        )
    (root / "deployment.env").write_text(
        "".join(
            f"export {k}='{v}'\n"
            for k, v in sorted(env.items())
            if k.startswith(("AIRFLOW__", "FF_E2E", "AIRFLOW_HOME"))
            and "SECRET" not in k
            and "FERNET" not in k
        )
    )
    dep = Deployment(root, home, work, proc_logs, env, api_url, fernet_key)
    try:
        migrate = subprocess.run(
            [AIRFLOW, "db", "migrate"], env=env, capture_output=True, timeout=180, check=False
        )
        (proc_logs / "db-migrate.log").write_bytes(migrate.stdout + migrate.stderr)
        assert migrate.returncode == 0, migrate.stderr.decode(errors="replace")[-3000:]
        dep.timings["db_migrate"] = time.monotonic() - t0
        # Each process on its own, PID kept (gotcha G9); stopped by process group below.
        dep.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(port))
        dep.start("dag-processor", "dag-processor")
        dep.start("scheduler", "scheduler", "--skip-serve-logs")
        dep.start("triggerer", "triggerer", "--skip-serve-logs")
        deadline = time.monotonic() + 180
        pending = set(DAG_IDS)
        while pending:
            dep.check_alive()
            if time.monotonic() > deadline:
                pytest.fail(f"DAGs not parsed/served in time: {sorted(pending)}")
            for dag_id in sorted(pending):
                try:
                    dep.api("GET", f"/api/v2/dags/{dag_id}", timeout=5)
                    pending.discard(dag_id)
                except (urllib.error.URLError, OSError):
                    pass
            time.sleep(1)
        dep.timings["ready"] = time.monotonic() - t0
        yield dep
    finally:
        dep.stop_all()


# --- the runs, shared by the tests of this folder -------------------------------------------
SYNC, DEFERRED, CLUSTER, COLD = DAG_IDS
RUN_TIMEOUT = 360


def token_client(token: str) -> str:
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["client_id"])


@dataclass
class Runs:
    run_ids: dict[str, str]
    states: dict[str, str]
    tis: dict[str, list[dict[str, Any]]]
    wall_seconds: float
    ims_requests: int


@pytest.fixture(scope="session")
def runs(deployment: Deployment, e2e_emulator: E2EEmulator) -> Runs:
    """Trigger the three DAGs together through the REST API and wait for them (once)."""
    before = e2e_emulator.ims_requests()
    t0 = time.monotonic()
    run_ids = {dag_id: deployment.trigger(dag_id) for dag_id in DAG_IDS}
    states = deployment.wait_runs(run_ids, RUN_TIMEOUT)
    wall = time.monotonic() - t0
    tis = {d: deployment.task_instances(d, r) for d, r in run_ids.items()}
    result = Runs(run_ids, states, tis, wall, e2e_emulator.ims_requests() - before)
    (deployment.root / "figures.json").write_text(
        json.dumps(
            {
                "wall_seconds": round(wall, 1),
                "startup_seconds": {k: round(v, 1) for k, v in deployment.timings.items()},
                "states": states,
                "ims_token_requests": result.ims_requests,
                "tokens_issued_per_client": per_client(e2e_emulator),
                "max_concurrent_sync_tasks": max_concurrency(tis[SYNC]),
                "trigger_rows_seen_in_flight": len(deployment.trigger_rows),
                "task_instances": {d: len(v) for d, v in tis.items()},
            },
            indent=2,
        )
    )
    return result


def per_client(emu: E2EEmulator) -> dict[str, int]:
    out: dict[str, int] = {}
    for token in emu.issued:
        client = token_client(token)
        out[client] = out.get(client, 0) + 1
    return out


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def max_concurrency(tis: list[dict[str, Any]]) -> int:
    events = []
    for ti in tis:
        if ti.get("start_date") and ti.get("end_date"):
            events += [(_ts(ti["start_date"]), 1), (_ts(ti["end_date"]), -1)]
    best = current = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):
        current += delta
        best = max(best, current)
    return best
