"""Shared test setup: a throwaway AIRFLOW_HOME and token cache, set before Airflow is imported."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# The emulator fixtures (``firefly_emulator``) are opt-in: the package registers no pytest11
# entry point, so installing it never changes other projects' pytest runs.
pytest_plugins = ["airflow_provider_firefly.testing.pytest_plugin"]

TESTS = Path(__file__).parent

if "AIRFLOW_HOME" not in os.environ or os.environ.get("FIREFLY_TESTS_OWN_HOME") == "1":
    _home = tempfile.mkdtemp(prefix="ff-airflow-home-")
    atexit.register(shutil.rmtree, _home, ignore_errors=True)
    os.environ["AIRFLOW_HOME"] = _home
    os.environ["FIREFLY_TESTS_OWN_HOME"] = "1"
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(TESTS / "dags"))
os.environ.setdefault("AIRFLOW__CORE__TEST_CONNECTION", "Enabled")
os.environ.setdefault("AIRFLOW__API_AUTH__JWT_SECRET", "firefly-tests-" + "x" * 64)
# One Fernet key for this process and every airflow subprocess (api-server, CLI, executor): else
# each airflow.cfg reader may get its own, and a Variable or connection password written by one
# process cannot be read by another.
os.environ.setdefault("AIRFLOW__CORE__FERNET_KEY", "ZmlyZWZseS10ZXN0cy1mZXJuZXQta2V5LTMyYnl0ZXM=")
# Keep the host token cache of the tests away from the user's ~/.cache.
_cache = tempfile.mkdtemp(prefix="ff-token-cache-")
atexit.register(shutil.rmtree, _cache, ignore_errors=True)
os.environ["AIRFLOW_PROVIDER_FIREFLY_CACHE_DIR"] = _cache


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """A migrated SQLite metadata DB in the throwaway AIRFLOW_HOME (about 5 s, once)."""
    home = os.environ["AIRFLOW_HOME"]
    # Not just "airflow.db exists": importing Airflow 3.0 creates the file empty.
    if not _migrated(os.path.join(home, "airflow.db")):
        airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
        subprocess.run([airflow, "db", "migrate"], check=True, capture_output=True)
    return home


def _migrated(db_path: str) -> bool:
    """Whether the SQLite file holds a migrated Airflow schema."""
    if not os.path.exists(db_path):
        return False
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        found = db.execute(
            "select 1 from sqlite_master where type = 'table' and name = 'alembic_version'"
        ).fetchone()
    return found is not None
