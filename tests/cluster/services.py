"""The cluster's backing services: PostgreSQL (the metadata DB) and Redis (the Celery broker),
each on 127.0.0.1 and a free port, started through :class:`~.processes.Processes`."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from .processes import Processes, free_port, wait_port

__all__ = ["PG_BIN", "REDIS_SERVER", "start_postgres", "start_redis"]

PG_BIN = Path(os.environ.get("FF_CLUSTER_PG_BIN", "/usr/lib/postgresql/15/bin"))
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def start_postgres(procs: Processes, root: Path) -> tuple[Path, str]:
    """initdb into a temp folder and start PostgreSQL, as ``postgres`` when we are root
    (``initdb`` refuses root). Returns the data folder (deleted at stop) and the DSN."""
    user = "postgres" if os.geteuid() == 0 else None
    pg_dir = Path(tempfile.mkdtemp(prefix="ff-cluster-pg-"))
    try:
        data, sockets = pg_dir / "data", pg_dir / "sock"
        sockets.mkdir()
        if user is not None:
            entry = pwd.getpwnam(user)
            for path in (pg_dir, sockets):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "LANG": "C"}
        initdb = [str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-E", "UTF8"]
        init = subprocess.run(
            [*initdb, "-U", "postgres"],
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
        wait_port(port, proc, procs.logs / "postgres.log", 60)
        createdb = [str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port)]
        created = subprocess.run(
            [*createdb, "-U", "postgres", "airflow"],
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        if created.returncode != 0:
            raise RuntimeError(f"createdb failed: {created.stderr.decode(errors='replace')}")
    except BaseException:
        # Nobody else knows the folder yet: stop what started and remove it here.
        procs.stop(["postgres"])
        shutil.rmtree(pg_dir, ignore_errors=True)
        raise
    return pg_dir, f"postgresql://postgres@127.0.0.1:{port}/airflow"


def start_redis(procs: Processes, root: Path) -> int:
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
    wait_port(port, proc, procs.logs / "redis.log", 30)
    return port
