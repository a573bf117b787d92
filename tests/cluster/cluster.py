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
import ctypes
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
DAGS = HERE / "dags"
SUPPORT = HERE / "support"
ARTIFACTS = REPO / "test-artifacts" / "cluster"
BIN = Path(sys.executable).parent
AIRFLOW = str(BIN / "airflow")
PG_BIN = Path(os.environ.get("FF_CLUSTER_PG_BIN", "/usr/lib/postgresql/15/bin"))
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
WORKERS = ("worker-1", "worker-2")
TRIGGERERS = ("triggerer-1", "triggerer-2")
#: Slots per Celery worker. Two workers: 8 tasks at once, enough to spread 40 mapped tasks over
#: both hosts, few enough for 2 shared cores.
WORKER_CONCURRENCY = 4
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _load_libc() -> Any:
    # Loaded here, in the parent: a child that has switched to the postgres user may not be
    # allowed to read this Python's files any more (a lazy import would fail there).
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return None


_LIBC = _load_libc()


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it if the parent dies without cleaning up (Linux)."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _wait_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{log.stem} exited with {proc.returncode}: {_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{log.stem} did not listen on 127.0.0.1:{port} in {timeout:.0f} s")


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


@dataclass
class Processes:
    """Long-running processes, each in its own process group, stopped by PID."""

    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    #: Signal that stops each process cleanly (PostgreSQL: SIGINT, a "fast" shutdown).
    stop_signal: dict[str, int] = field(default_factory=dict)

    def start(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        *,
        cwd: Path | None = None,
        user: str | None = None,
        stop_signal: int = signal.SIGTERM,
    ) -> subprocess.Popen[bytes]:
        if name in self.procs and self.procs[name].poll() is None:
            raise RuntimeError(f"{name} is already running")
        log_path = self.logs / f"{name}.log"
        with log_path.open("ab") as log_file:
            proc = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # own process group: stopped with its children
                user=user,
                group=None if user is None else pwd.getpwnam(user).pw_gid,
                extra_groups=None if user is None else [],
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - before exec only
            )
        self.procs[name] = proc
        self.stop_signal[name] = stop_signal
        return proc

    def alive(self, name: str) -> bool:
        proc = self.procs.get(name)
        return proc is not None and proc.poll() is None

    def check_alive(self, names: list[str] | None = None) -> None:
        for name in names or list(self.procs):
            proc = self.procs[name]
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {proc.returncode}:\n{_tail(self.logs / f'{name}.log')}"
                )

    def kill(self, name: str) -> None:
        """SIGKILL the process group of ``name`` (a host that dies), and reap its leader."""
        proc = self.procs[name]
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def pause(self, name: str) -> None:
        """SIGSTOP the process group of ``name`` (a host that freezes: GC pause, stopped VM)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.procs[name].pid, signal.SIGSTOP)

    def resume(self, name: str) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.procs[name].pid, signal.SIGCONT)

    def stop(self, names: list[str], timeout: float = 20) -> None:
        """Stop each process (its clean signal to the group), SIGKILL what is left of the group.

        Each group is signalled while its leader is alive or just reaped by us, so the group id
        cannot have been reused by an unrelated process.
        """
        live = [n for n in names if n in self.procs]
        for name in live:
            proc = self.procs[name]
            if proc.poll() is None:
                self.resume(name)  # a paused group would not act on SIGTERM
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    if self.stop_signal[name] == signal.SIGTERM:
                        os.killpg(proc.pid, signal.SIGTERM)
                    else:
                        proc.send_signal(self.stop_signal[name])
        deadline = time.monotonic() + timeout
        for name in live:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.procs[name].wait(max(0.1, deadline - time.monotonic()))
        for name in live:
            proc = self.procs.pop(name)
            # Children that outlive their leader (task processes, pool workers) stay in the group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            if proc.poll() is None:
                proc.wait(10)


# --- the Firefly/IMS emulator, in this process ----------------------------------------------


@dataclass
class Client:
    conn_id: str
    client_id: str
    client_secret: str


@dataclass
class ClusterEmulator:
    """The in-process emulator, one client (organisation) per connection id, and every token
    it issued (to count IMS tokens per organisation)."""

    emu: Any
    clients: dict[str, Client]
    issued: list[tuple[str, float]] = field(default_factory=list)  # (client id, time)
    #: Firefly requests (every route the organisation's rate limit counts) and 429 answers,
    #: per client id: the emulator's own counters mix every organisation.
    requests: Counter[str] = field(default_factory=Counter)
    limited: Counter[str] = field(default_factory=Counter)

    def requests_for(self, conn_id: str) -> tuple[int, int]:
        """(requests, of which answered 429) of one organisation so far."""
        cid = self.clients[conn_id].client_id
        return self.requests[cid], self.limited[cid]

    def tokens_for(self, conn_id: str) -> list[float]:
        cid = self.clients[conn_id].client_id
        return [t for c, t in self.issued if c == cid]

    def jobs_for(self, conn_id: str) -> list[dict[str, Any]]:
        cid = self.clients[conn_id].client_id
        return [j for j in self.emu.jobs() if j.get("clientId") == cid]


@contextlib.contextmanager
def cluster_emulator(**options: Any) -> Iterator[ClusterEmulator]:
    from airflow_provider_firefly.testing import FireflyEmulator

    tag = secrets.token_hex(4)
    clients = {
        conn: Client(conn, f"{conn}-{tag}", f"secret-{secrets.token_urlsafe(18)}")
        for conn in CONNECTIONS
    }
    first, *rest = clients.values()
    emu = FireflyEmulator(
        first.client_id,
        first.client_secret,
        extra_clients={c.client_id: c.client_secret for c in rest},
        **options,
    )
    state = ClusterEmulator(emu, clients)
    authority = emu.state.authority
    original_issue = authority.issue
    lock = threading.Lock()

    def recording_issue(*args: Any, **kwargs: Any) -> str:
        token = original_issue(*args, **kwargs)
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        with lock:
            state.issued.append((str(claims["client_id"]), time.time()))
        return token

    authority.issue = recording_issue  # this emulator only
    limiter = emu.state.ratelimiter
    original_hit = limiter.hit

    def counting_hit(org: str, limit: int, window: float) -> float | None:
        wait: float | None = original_hit(org, limit, window)
        with lock:
            state.requests[org] += 1
            if wait is not None:
                state.limited[org] += 1
        return wait

    limiter.hit = counting_hit
    emu.start()
    try:
        yield state
    finally:
        emu.stop()


# --- the cluster ------------------------------------------------------------------------------


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

    def restart(self, name: str) -> None:
        """Start a killed worker or triggerer again (same host, same HOME)."""
        self.procs.stop([name], timeout=1)
        if name.startswith("worker"):
            self.start_worker(name)
        else:
            self.start_triggerer(name)

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


def _start_postgres(procs: Processes, root: Path) -> tuple[Path, str]:
    """initdb into a temp folder and start PostgreSQL, as ``postgres`` when we are root
    (``initdb`` refuses root). Returns the data folder (deleted at stop) and the DSN."""
    user = "postgres" if os.geteuid() == 0 else None
    pg_dir = Path(tempfile.mkdtemp(prefix="ff-cluster-pg-"))
    data, sockets = pg_dir / "data", pg_dir / "sock"
    sockets.mkdir()
    if user is not None:
        entry = pwd.getpwnam(user)
        for path in (pg_dir, sockets):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    # The log folder must be writable by that user too: logs of postgres go to its stdout.
    env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "LANG": "C"}
    init = subprocess.run(
        [str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8"],
        env=env,
        user=user,
        capture_output=True,
        timeout=120,
        check=False,
        cwd=pg_dir,
    )
    (procs.logs / "initdb.log").write_bytes(init.stdout + init.stderr)
    if init.returncode != 0:
        raise RuntimeError(f"initdb failed: {init.stderr.decode(errors='replace')[-2000:]}")
    port = free_port()
    proc = procs.start(
        "postgres",
        [
            str(PG_BIN / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(sockets),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "max_connections=200",
            # A throwaway database: durability buys nothing here and costs the shared disk.
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ],
        env,
        cwd=pg_dir,
        user=user,
        stop_signal=signal.SIGINT,  # "fast" shutdown: do not wait for clients
    )
    _wait_port(port, proc, procs.logs / "postgres.log", 60)
    created = subprocess.run(
        [str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "airflow"],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    if created.returncode != 0:
        raise RuntimeError(f"createdb failed: {created.stderr.decode(errors='replace')}")
    return pg_dir, f"postgresql://postgres@127.0.0.1:{port}/airflow"


def _start_redis(procs: Processes, root: Path) -> int:
    port = free_port()
    folder = root / "redis"
    folder.mkdir()
    proc = procs.start(
        "redis",
        [
            REDIS_SERVER,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(folder),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ],
        {"PATH": os.environ.get("PATH", "")},
        cwd=folder,
    )
    _wait_port(port, proc, procs.logs / "redis.log", 30)
    return port


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
        pg_dir, dsn = _start_postgres(procs, root)
        redis_port = _start_redis(procs, root)
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
