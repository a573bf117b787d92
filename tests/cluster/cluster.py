"""A real Airflow cluster on one machine: Redis, PostgreSQL, CeleryExecutor, two workers, two
triggerers, and a Firefly/IMS emulator with an organisation rate limit.

Used by the fixtures of ``tests/cluster/conftest.py`` and by ``benchmarks/bench_cluster.py``.
Every server binds 127.0.0.1 on a free port; every process starts in its own process group
(``setsid``) and is stopped by its PID (the group of that PID) at the end, also on failure.

The two Celery workers and the two triggerers are four simulated hosts: each has its own
``HOME`` (so its own default token cache folder, ``~/.cache/airflow-provider-firefly``) and its
own host name (``FF_CLUSTER_HOST``, recorded on the task instances it runs through
``[core] hostname_callable``). They share only what hosts of a real cluster share: the metadata
database, the broker, the api-server and the DAG files.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .emulator import ClusterEmulator, organisation_emulator
from .processes import Processes, free_port
from .services import start_postgres, start_redis

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
DAGS = HERE / "dags"
SUPPORT = HERE / "support"
ARTIFACTS = REPO / "test-artifacts" / "cluster"
BIN = Path(sys.executable).parent
AIRFLOW = str(BIN / "airflow")
WORKERS = ("worker-1", "worker-2")
TRIGGERERS = ("triggerer-1", "triggerer-2")
#: Slots per Celery worker. Two workers: 10 tasks at once, as many as the budget pool has slots
#: (with fewer, queued tasks hold pool slots, and so budget shares, while they wait for a worker),
#: enough to spread 40 mapped tasks over both hosts, few enough for 2 shared cores.
WORKER_CONCURRENCY = 5
#: Seconds without a task heartbeat before the scheduler fails (and retries) a task instance
#: whose worker died; Airflow's default (300 s) would make the worker-kill test take minutes.
TI_HEARTBEAT_TIMEOUT = 20
#: Seconds without a triggerer heartbeat before another triggerer takes its triggers.
TRIGGERER_HEALTH_THRESHOLD = 20
#: Connection ids, one emulator client (one organisation) each, so that the tests' figures
#: (tokens, jobs, rate limits) never mix.
CONNECTIONS = (
    "ff_cl_mapped",
    "ff_cl_worker_kill",
    "ff_cl_triggerer_kill",
    "ff_cl_triggerer_pause",
    "ff_cl_budget",
)
#: The organisation budget of the budget test and benchmark.
BUDGET_RPM = 30
#: The pool every task of the budget DAG runs in, deferred tasks included (the docs' advice):
#: 10 slots divide the 30 requests per minute into 3 per slot.
BUDGET_POOL = ("ff_budget", 10)
KEEP_RUNS = 3


@contextlib.contextmanager
def cluster_emulator(**options: Any) -> Iterator[ClusterEmulator]:
    """The emulator with one organisation per connection of :data:`CONNECTIONS`."""
    with organisation_emulator(CONNECTIONS, **options) as emu:
        yield emu


@dataclass
class Cluster:
    root: Path
    pg_dir: Path
    env: dict[str, str]
    api_url: str
    pg_dsn: str
    procs: Processes
    timings: dict[str, float] = field(default_factory=dict)

    # -- hosts -----------------------------------------------------------------------------------
    def host_env(self, name: str) -> dict[str, str]:
        """The environment of one simulated host: its own HOME (and so its own token cache)."""
        home = self.root / "hosts" / name
        home.mkdir(parents=True, exist_ok=True)
        env = {**self.env, "HOME": str(home), "FF_CLUSTER_HOST": name}
        env.pop("XDG_CACHE_HOME", None)  # else every host would share that cache folder
        return env

    def token_cache_dir(self, name: str) -> Path:
        return self.root / "hosts" / name / ".cache" / "airflow-provider-firefly" / "tokens"

    def airflow(self, name: str, *args: str, host: str | None = None) -> None:
        env = self.host_env(host) if host else self.env
        self.procs.start(name, [AIRFLOW, *args], env, cwd=self.root)

    def start_worker(self, name: str) -> None:
        self.airflow(
            name,
            "celery",
            "worker",
            "--celery-hostname",
            f"{name}@ff-cluster",
            "--concurrency",
            str(WORKER_CONCURRENCY),
            "--pid",
            str(self.root / f"{name}.pid"),
            "--skip-serve-logs",
            "--without-mingle",
            "--without-gossip",
            host=name,
        )

    def start_triggerer(self, name: str) -> None:
        self.airflow(name, "triggerer", "--skip-serve-logs", host=name)

    def host_pids(self, name: str) -> list[int]:
        """PIDs of every process of the simulated host ``name`` (by its ``FF_CLUSTER_HOST``)."""
        wanted = {f"FF_CLUSTER_HOST={name}".encode(), f"FF_CLUSTER_RUN={self.root}".encode()}
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != os.getpid():
                with contextlib.suppress(OSError):
                    if wanted <= set((entry / "environ").read_bytes().split(b"\0")):
                        pids.append(int(entry.name))
        return pids

    def kill_host(self, name: str) -> list[int]:
        """SIGKILL a worker or triggerer host: its process group, then any process of that host
        that left the group (a task or trigger process in a session of its own), by PID.
        Returns the PIDs killed outside the group."""
        self.procs.kill(name)
        stray = self.host_pids(name)
        for pid in stray:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return stray

    def restart(self, name: str, timeout: float = 120) -> None:
        """Start a killed worker or triggerer again (same host, same HOME). A triggerer is
        waited for until its new job has registered, so that the next test sees two."""
        self.procs.stop([name], timeout=1)
        if name.startswith("worker"):
            self.start_worker(name)
            return
        before = self.triggerer_ids().get(name, 0)
        self.start_triggerer(name)
        deadline = time.monotonic() + timeout
        while self.triggerer_ids().get(name, 0) <= before:
            self.procs.check_alive([name])
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not register again in {timeout:.0f} s")
            time.sleep(1)

    # -- REST API ------------------------------------------------------------------------------
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

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        body: dict[str, Any] = {"logical_date": None}
        if conf:
            body["conf"] = conf
        return str(self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)["dag_run_id"])

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"])

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        out = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=500")
        return list(out["task_instances"])

    def tries(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every try of every task instance of the run (hostname, state, try_number)."""
        return self.sql(
            "SELECT task_id, map_index, try_number, hostname, state FROM task_instance_history "
            "WHERE dag_id = %s AND run_id = %s UNION ALL "
            "SELECT task_id, map_index, try_number, hostname, state FROM task_instance "
            "WHERE dag_id = %s AND run_id = %s",
            (dag_id, run_id, dag_id, run_id),
        )

    def wait_run(
        self,
        dag_id: str,
        run_id: str,
        timeout: float,
        tick: Callable[[], None] | None = None,
    ) -> str:
        deadline = time.monotonic() + timeout
        state = "queued"
        while time.monotonic() < deadline:
            if tick is not None:
                tick()
            state = self.run_state(dag_id, run_id)
            if state in ("success", "failed"):
                return state
            time.sleep(1)
        return state

    # -- metadata DB -----------------------------------------------------------------------------
    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        import psycopg2
        import psycopg2.extras

        con = psycopg2.connect(self.pg_dsn, connect_timeout=10)
        try:
            con.autocommit = True
            with con.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                cur.execute(query, params)
                return [dict(r) for r in cur.fetchall()] if cur.description else []
        finally:
            con.close()

    def triggerer_ids(self) -> dict[str, int]:
        """Triggerer job id by simulated host name: the newest job of each host (a killed
        triggerer's job row stays ``running``; its restart is a newer job on the same host)."""
        rows = self.sql(
            "SELECT hostname, max(id) AS id FROM job WHERE job_type = 'TriggererJob' "
            "AND state = 'running' GROUP BY hostname"
        )
        return {str(r["hostname"]): int(r["id"]) for r in rows}

    def wait_idle(self, timeout: float = 300) -> None:
        """Wait until no trigger and no task instance is in flight (earlier runs are over)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            (row,) = self.sql(
                "SELECT (SELECT count(*) FROM trigger) + (SELECT count(*) FROM task_instance "
                "WHERE state IN ('queued', 'scheduled', 'running', 'deferred', 'up_for_retry')) "
                "AS busy"
            )
            if int(row["busy"]) == 0:
                return
            time.sleep(1)
        raise RuntimeError("the cluster is still busy with earlier runs")

    def stop(self) -> None:
        airflow = [n for n in self.procs.procs if n not in ("postgres", "redis")]
        try:
            self.procs.stop(airflow)
            for host in (*WORKERS, *TRIGGERERS):  # task processes that left their group
                for pid in self.host_pids(host):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        finally:
            self.procs.stop(["postgres", "redis"])
            shutil.rmtree(self.pg_dir, ignore_errors=True)


def _prune_old_runs() -> None:
    if not ARTIFACTS.exists():
        return
    runs = sorted(p for p in ARTIFACTS.iterdir() if p.is_dir() and p.name.startswith("run-"))
    for old in runs[: max(0, len(runs) - (KEEP_RUNS - 1))]:
        shutil.rmtree(old, ignore_errors=True)


def _base_env() -> dict[str, str]:
    """This process's environment without any Airflow or provider setting of other tests."""
    drop = ("AIRFLOW", "FIREFLY_", "FF_", "PYTHONPATH")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


def airflow_env(
    root: Path, api_port: int, pg_dsn: str, redis_port: int, emu: ClusterEmulator
) -> dict[str, str]:
    from cryptography.fernet import Fernet

    from airflow_provider_firefly.testing import airflow_connection

    api_url = f"http://127.0.0.1:{api_port}"
    sqlalchemy = pg_dsn.replace("postgresql://", "postgresql+psycopg2://", 1)
    env = _base_env()
    env.update(
        {
            "AIRFLOW_HOME": str(root / "airflow-home"),
            "PYTHONPATH": str(SUPPORT),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": "32",
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "64",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "ff_cluster_host.hostname",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "3",
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"redis://127.0.0.1:{redis_port}/1",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": api_url,
            "AIRFLOW__API_AUTH__JWT_SECRET": base64.b64encode(secrets.token_bytes(64)).decode(),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(TI_HEARTBEAT_TIMEOUT),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
            "AIRFLOW__TRIGGERER__CAPACITY": "100",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": str(TRIGGERER_HEALTH_THRESHOLD),
            "FF_CLUSTER_WORK": str(root / "work"),
            # Marks every process of this cluster (to find strays of a killed host by PID).
            "FF_CLUSTER_RUN": str(root),
        }
    )
    for conn_id, client in emu.clients.items():
        extra: dict[str, Any] = {"shared_cache": True}
        if conn_id == "ff_cl_budget":
            extra["requests_per_minute"] = BUDGET_RPM
            extra["budget_slots"] = BUDGET_POOL[1]
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = airflow_connection(
            emu.emu.api_url, client.client_id, client.client_secret, **extra
        )
    return env


DAG_IDS = (
    "ff_cluster_mapped",
    "ff_cluster_worker_kill",
    "ff_cluster_triggerer_kill",
    "ff_cluster_triggerer_pause",
    "ff_cluster_budget",
)


@contextlib.contextmanager
def running_cluster(emu: ClusterEmulator, start_timeout: float = 300) -> Iterator[Cluster]:
    """Start the whole cluster; stop every process at the end (also on failure)."""
    t0 = time.monotonic()
    _prune_old_runs()
    root = ARTIFACTS / time.strftime("run-%Y%m%d-%H%M%S")
    logs = root / "process-logs"
    logs.mkdir(parents=True)
    (root / "work").mkdir()
    procs = Processes(logs)
    pg_dir = Path()
    cluster: Cluster | None = None
    try:
        pg_dir, dsn = start_postgres(procs, root)
        redis_port = start_redis(procs, root)
        api_port = free_port()
        env = airflow_env(root, api_port, dsn, redis_port, emu)
        cluster = Cluster(root, pg_dir, env, f"http://127.0.0.1:{api_port}", dsn, procs)
        cluster.timings["services"] = time.monotonic() - t0
        migrate = subprocess.run(
            [AIRFLOW, "db", "migrate"], env=env, capture_output=True, timeout=300, check=False
        )
        (logs / "db-migrate.log").write_bytes(migrate.stdout + migrate.stderr)
        if migrate.returncode != 0:
            raise RuntimeError(migrate.stderr.decode(errors="replace")[-3000:])
        cluster.timings["db_migrate"] = time.monotonic() - t0
        cluster.airflow("api-server", "api-server", "--host", "127.0.0.1", "--port", str(api_port))
        cluster.airflow("scheduler", "scheduler", "--skip-serve-logs")
        cluster.airflow("dag-processor", "dag-processor")
        for name in TRIGGERERS:
            cluster.start_triggerer(name)
        for name in WORKERS:
            cluster.start_worker(name)
        deadline = time.monotonic() + start_timeout
        pending = set(DAG_IDS)
        while pending:
            procs.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"DAGs not parsed/served in time: {sorted(pending)}")
            for dag_id in sorted(pending):
                with contextlib.suppress(urllib.error.URLError, OSError):
                    cluster.api("GET", f"/api/v2/dags/{dag_id}", timeout=5)
                    pending.discard(dag_id)
            time.sleep(1)
        name, slots = BUDGET_POOL
        cluster.api(
            "POST",
            "/api/v2/pools",
            {
                "name": name,
                "slots": slots,
                "include_deferred": True,
                "description": "Firefly tasks of the budget organisation",
            },
        )
        # Both triggerers registered (a triggerer-kill test needs a survivor).
        while len(cluster.triggerer_ids()) < len(TRIGGERERS):
            procs.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"triggerers not registered: {cluster.triggerer_ids()}")
            time.sleep(1)
        cluster.timings["ready"] = time.monotonic() - t0
        yield cluster
    finally:
        if cluster is not None:
            cluster.stop()
        else:
            procs.stop(list(procs.procs))
            if pg_dir != Path():
                shutil.rmtree(pg_dir, ignore_errors=True)
