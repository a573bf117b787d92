"""FireflyJobSensor in poke, reschedule and deferrable mode, in one ``airflow dags test`` run of
``tests/compat/dags/compat_sensor.py`` against a spawned emulator, on every supported minor.

Each job runs for a few seconds after its submit task, so each sensor must wait: the reschedule
sensor is rescheduled at least once (a ``task_reschedule`` row), the deferrable one defers and its
trigger polls the job to the end, and every sensor succeeds.

Not reschedule mode on Airflow 3.0.6: there the sensor's second try fails inside Airflow
(``BaseSensorOperator.execute``: ``timezone.utcnow() - start_date`` with the first reschedule
date as a string, under ``airflow dags test``), whatever the sensor; see docs/support.md.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest

from airflow_provider_firefly.compat import AIRFLOW_V_3_1_PLUS
from airflow_provider_firefly.testing import FireflyEmulator

from .conftest import AIRFLOW, ApiServer, server_env

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

DAGS = Path(__file__).parent / "dags"
MODES = ("reschedule", "poke", "deferrable") if AIRFLOW_V_3_1_PLUS else ("poke", "deferrable")
JOB_SECONDS = "12"  # long enough for a first poke before the end on a busy host


def test_sensor_modes_in_airflow_dags_test(api_server: ApiServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # A copy of the API server's migrated DB: no second `airflow db migrate`.
    shutil.copy(api_server.home / "airflow.db", home / "airflow.db")
    env = server_env(home)
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS)
    env["COMPAT_SENSOR_MODES"] = ",".join(MODES)
    with FireflyEmulator.spawn("--host", "127.0.0.1", "--job-duration", JOB_SECONDS) as emu:
        env["AIRFLOW_CONN_FIREFLY_DEFAULT"] = emu.airflow_connection(host_cache=False)
        run = subprocess.run(
            [AIRFLOW, "dags", "test", "compat_sensor"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        with urllib.request.urlopen(emu.url + "/_emulator/counters", timeout=10) as response:
            counters = json.load(response)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-5000:]
    with closing(sqlite3.connect(home / "airflow.db")) as db:
        states = dict(
            db.execute(
                "select task_id, state from task_instance where dag_id = 'compat_sensor'"
            ).fetchall()
        )
        reschedules = db.execute("select count(*) from task_reschedule").fetchone()[0]
    assert states == {
        **{f"submit_{mode}": "success" for mode in MODES},
        **dict.fromkeys(MODES, "success"),
    }, (states, log[-5000:])
    if "reschedule" in MODES:
        assert reschedules >= 1, log[-5000:]
    assert "Deferring: the triggerer polls Firefly job" in log, log[-5000:]
    assert counters["jobs_submitted"] == len(MODES)
    # The poke and reschedule sensors saw their job running (at least two polls each); the
    # trigger polled its job at least once.
    assert counters["status_polls"] >= 2 * len(MODES) - 1, counters
    assert counters["jobs_cancelled"] == 0
