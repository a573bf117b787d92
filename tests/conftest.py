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
from importlib.metadata import version
from pathlib import Path

import pytest

# The emulator fixtures (``firefly_emulator``) are opt-in: the package registers no pytest11
# entry point, so installing it never changes other projects' pytest runs.
# The rest are this suite's shared fixture modules (tests/fixtures/, importable as ``fixtures``).
pytest_plugins = [
    "airflow_provider_firefly.testing.pytest_plugin",
    "fixtures.airflow_server",
    "fixtures.connections",
    "fixtures.isolation",
]

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


# -- older Airflow minors ----------------------------------------------------------------------
# Tests that cannot run on some older supported minor because the TEST (not the provider) uses a
# newer Airflow API or output, or a timing that minor does not give. tests/compat covers the same
# Airflow-facing ground on every minor. Node id (or module path) -> (minors, why). Modules that
# fail to import there are not collected; single tests are skipped with the reason.
_OLD = ("3.0", "3.1")
CANNOT_RUN_ON: dict[str, tuple[tuple[str, ...], str]] = {
    "tests/sensors/test_sensor_unit.py": (
        _OLD,
        "imports AirflowSensorTimeout from airflow.sdk.exceptions (3.2+)",
    ),
    "tests/examples/test_example_dags_parse.py": (
        _OLD,
        "imports DagBag from airflow.dag_processing.dagbag (3.2+)",
    ),
    "tests/hooks/test_provider_metadata.py::test_hook_meta_shows_the_form": (
        _OLD,
        "checks the declarative form of 3.2+ (schema defaults and types); "
        "tests/compat/test_api_server.py checks the 3.0/3.1 form",
    ),
    "tests/hooks/test_provider_metadata.py::test_legacy_form_widgets_equal_conn_fields": (
        ("3.2",),
        "Airflow 3.2's hook_meta (run by the test before) leaves a MagicMock flask_babel in "
        "sys.modules, so the labels read back are mocks",
    ),
    "tests/hooks/test_provider_metadata.py::test_only_secret_extras_are_masked_by_airflow": (
        ("3.0",),
        "imports airflow.sdk._shared (3.1+)",
    ),
    "tests/examples/test_example_assets.py": (
        ("3.0",),
        "Airflow 3.0's `airflow dags test` does not register a DAG's assets (the producer's "
        "outlets fail with AirflowInactiveAssetInInletOrOutletException) and the consumer run "
        "uses airflow.models.dagrun.get_or_create_dagrun (3.1+)",
    ),
    "tests/hooks/test_hook.py::test_token_is_valid_cached_and_masked": (
        ("3.0",),
        "imports airflow.sdk._shared (3.1+)",
    ),
    "tests/connection/test_connection.py::test_extra_that_is_not_a_json_object": (
        _OLD,
        "Airflow 3.0/3.1 drop an AIRFLOW_CONN_ variable whose extra is not a JSON object and "
        "report the connection as undefined before the provider sees it",
    ),
    "tests/connection/test_connection.py::test_unknown_connection_id": (
        _OLD,
        "imports AirflowNotFoundException from airflow.sdk.exceptions (3.2+)",
    ),
    "tests/hooks/test_cli.py::test_providers_list_shows_the_provider": (
        ("3.0",),
        "Airflow 3.0 logs to stdout before the JSON; tests/compat checks the list on every minor",
    ),
    "tests/hooks/test_cli.py::test_connections_add_then_test": (
        ("3.0", "3.1", "3.2"),
        "`airflow connections test` exits 0 when the test fails before 3.3; "
        "tests/compat checks the Test button's answer on every minor",
    ),
    "tests/hooks/test_dag_run.py": (
        ("3.0",),
        "Airflow 3.0's dag.test(use_executor=True) cannot find a DAG missing from serialized_dag",
    ),
    "tests/sensors/test_sensor_dag.py": (
        ("3.0", "3.1", "3.2"),
        "3.0.6: a reschedule-mode sensor's second try fails inside Airflow (first reschedule date "
        "read as a string); 3.1/3.2: timing, dag.test() runs the reschedule sensor about 30 s "
        "after its 18 s job was submitted, so no reschedule is counted",
    ),
    "tests/examples/test_example_dag_runs.py::test_nightly_campaign"
    "[firefly_nightly_campaign_deferrable]": (
        ("3.0",),
        "Airflow 3.0's `airflow dags test` prints every log line twice; the test counts deferrals",
    ),
    "tests/examples/test_example_dag_runs.py::test_product_video": (
        ("3.0",),
        "Airflow 3.0's `airflow dags test` prints every log line twice; the test counts deferrals",
    ),
}


def _airflow_minor() -> str:
    """The installed Airflow's "major.minor", read without importing Airflow."""
    return ".".join(version("apache-airflow-core").split(".")[:2])


def _cannot_run(node_id: str) -> str | None:
    """Why ``node_id`` cannot run on this Airflow, or None."""
    for prefix, (minors, why) in CANNOT_RUN_ON.items():
        matches = node_id == prefix or node_id.startswith((prefix + "::", prefix + "["))
        if matches and _airflow_minor() in minors:
            return f"not on Airflow {_airflow_minor()}: {why}"
    return None


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    relative = collection_path.relative_to(config.rootpath).as_posix()
    if relative.endswith(".py") and _cannot_run(relative):
        return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        reason = _cannot_run(item.nodeid)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_report_header(config: pytest.Config) -> list[str]:
    left_out = [
        f"  {path}: {why}"
        for path, (minors, why) in CANNOT_RUN_ON.items()
        if "::" not in path and _airflow_minor() in minors
    ]
    header = [f"airflow-provider-firefly tests on Airflow {version('apache-airflow-core')}"]
    return header + (["modules not collected on this Airflow:", *left_out] if left_out else [])
