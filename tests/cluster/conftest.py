"""Session fixtures of the cluster tests: one Airflow cluster on CeleryExecutor, started once.

``cluster_emulator``: the Firefly/IMS emulator in this process, its organisation rate limit on,
one client (organisation) per test connection. ``cluster``: Redis, PostgreSQL (as ``postgres``
when run as root), ``airflow db migrate``, an api-server, a scheduler, a dag-processor, two
triggerers and two Celery workers (four simulated hosts, each with its own ``HOME`` and token
cache), all on 127.0.0.1, each in its own process group, stopped by PID at the end. Logs,
``AIRFLOW_HOME`` and outputs stay in ``test-artifacts/cluster/run-*`` (the last three runs).

``emulator`` gives a test the emulator with the session's defaults restored, ready for
``emulator.emu.configure(...)``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .cluster import Cluster, ClusterEmulator, cluster_emulator, running_cluster
from .services import PG_BIN, REDIS_SERVER

#: Session defaults: rate limit on (per organisation, generous: the budget test lowers it),
#: short jobs.
EMULATOR_DEFAULTS = {"job_duration": 2.0, "rate_limit": 1000, "rate_limit_window": 60.0}


def _missing() -> list[str]:
    missing = []
    if not os.path.exists(REDIS_SERVER):
        missing.append("redis-server (Debian package redis-server)")
    if not (PG_BIN / "initdb").exists():
        missing.append(f"PostgreSQL server binaries in {PG_BIN} (postgresql-15)")
    try:
        import airflow.providers.celery  # noqa: F401
        import celery  # noqa: F401
        import psycopg2  # noqa: F401
    except ImportError as error:
        missing.append(f"Python package: {error.name} (the test extra)")
    return missing


# Package scope: the cluster (about ten processes) stops once tests/cluster is done, instead of
# loading the cores for the rest of the session.
@pytest.fixture(scope="package")
def cluster_emu() -> Iterator[ClusterEmulator]:
    with cluster_emulator(**EMULATOR_DEFAULTS) as emu:
        yield emu


@pytest.fixture(scope="package")
def cluster(cluster_emu: ClusterEmulator) -> Iterator[Cluster]:
    missing = _missing()
    if missing:
        message = "the cluster tests need: " + "; ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with running_cluster(cluster_emu) as running:
        yield running


@pytest.fixture
def emulator(cluster: Cluster, cluster_emu: ClusterEmulator) -> ClusterEmulator:
    """The emulator with the session's defaults (a test may change them with configure)."""
    cluster_emu.emu.configure(**EMULATOR_DEFAULTS)
    return cluster_emu
