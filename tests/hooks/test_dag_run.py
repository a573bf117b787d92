"""FireflyHook in a real Airflow task run: the Variable-backed token level, a DB-stored
connection, masking in the task log and XCom, and a job end to end with ``ObjectStoragePath``.

One DAG run covers all of it (``tests/dags/ff_hook_dag.py``), with ``dag.test(use_executor=True)``
and the LocalExecutor: every task runs as Airflow runs it in production, in its own supervised
process that talks to an Execution API server (started here, about 10 s) and writes its log
file under ``$AIRFLOW_HOME/logs``. The in-process ``dag.test()`` would be faster but proves
less: its tasks share one process (and so the in-process token cache), and its console output
does not pass through the task log's secrets masker.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fixtures.connections import conn_json

from airflow_provider_firefly.client import decrypt_token, token_fingerprint
from airflow_provider_firefly.client.config import FireflyCredentials
from airflow_provider_firefly.hooks.token_store import VARIABLE_PREFIX
from airflow_provider_firefly.testing import FireflyEmulator
from airflow_provider_firefly.testing.media import PngImage

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

DAG_ID = "ff_hook_dag"
E2E_CLIENT = ("e2e-client", "e2e-client-secret-0123456789")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def execution_api(airflow_db: str) -> Iterator[str]:
    """``airflow api-server --apps execution`` on a free loopback port, for supervised tasks."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/execution/"
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    log_path = Path(airflow_db) / f"api-server-{port}.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [
                airflow,
                "api-server",
                "--apps",
                "execution",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}health", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"api-server did not start: {log_path.read_text()[-3000:]}")
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _load_dag() -> Any:
    path = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{DAG_ID}.py"
    spec = importlib.util.spec_from_file_location(DAG_ID, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.the_dag


def _store_db_connection(emu: FireflyEmulator) -> None:
    from airflow.models import Connection
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(Connection).filter(Connection.conn_id == "ff_db").delete()
        session.add(
            Connection(
                conn_id="ff_db",
                conn_type="firefly",
                login=E2E_CLIENT[0],
                password=E2E_CLIENT[1],
                extra=json.dumps(
                    {"api_url": emu.api_url, "ims_url": emu.ims_url, "max_attempts": "3"}
                ),
            )
        )


def _xcoms(run_id: str) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(XComModel)
            .filter(XComModel.dag_id == DAG_ID, XComModel.run_id == run_id)
            .all()
        )
        return {
            row.task_id: XComModel.deserialize_value(row)
            for row in rows
            if row.key == "return_value"
        }


def _variable(key: str) -> str | None:
    from airflow.models import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.query(Variable).filter(Variable.key == key).one_or_none()
        return None if row is None else row.val


def _task_logs(home: str, run_id: str) -> str:
    texts = []
    for path in Path(home, "logs").rglob("*"):
        if path.is_file() and DAG_ID in str(path) and run_id in str(path):
            texts.append(path.read_text(errors="replace"))
    return "\n".join(texts)


def test_hook_in_a_real_task_run(  # noqa: PLR0917 - pytest fixtures
    airflow_db: str,
    execution_api: str,
    firefly_emulator: FireflyEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", execution_api)
    monkeypatch.setenv("AIRFLOW__CORE__PARALLELISM", "2")
    emu = firefly_emulator
    emu.configure(job_duration=0, extra_clients={E2E_CLIENT[0]: E2E_CLIENT[1]})
    (tmp_path / "input").mkdir()
    (tmp_path / "input" / "source.png").write_bytes(PngImage(64, 48, seed=3).to_bytes())
    monkeypatch.setenv("FF_DAG_WORKDIR", str(tmp_path))
    monkeypatch.setenv(
        "AIRFLOW_CONN_FF_SHARED", conn_json(emu, shared_cache=True, host_cache=False)
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_FF_E2E", conn_json(emu, login=E2E_CLIENT[0], password=E2E_CLIENT[1])
    )
    _store_db_connection(emu)
    shared = FireflyCredentials(emu.client_id, emu.client_secret, ims_url=emu.ims_url)
    variable_key = f"{VARIABLE_PREFIX}{shared.cache_key[:32]}"
    from airflow.models import Variable

    Variable.delete(variable_key)

    dag_run = _load_dag().test(use_executor=True)
    out, err = capfd.readouterr()

    assert dag_run.state == "success", out[-4000:] + err[-4000:]
    xcoms = _xcoms(dag_run.run_id)

    # (b) the Variable-backed level: the first task minted, the second read the Variable.
    first, second = xcoms["shared_first"], xcoms["shared_second"]
    assert first["fingerprint"] == second["fingerprint"]
    assert first["stats"]["mints"] == 1
    assert second["stats"]["mints"] == 0
    assert second["stats"]["l3_hits"] == 1
    assert "shared:VariableTokenStore" in first["manager_repr"]
    # One IMS call for the shared credential, one for the e2e/db credential (host cache).
    assert emu.counters()["ims_token_requests"] == 2
    stored = _variable(variable_key)
    assert stored, f"Variable {variable_key} was not written"
    token = decrypt_token(shared, stored)
    assert token_fingerprint(token.value) == first["fingerprint"]
    assert token.value not in stored
    assert emu.state.authority.verify(token.value) is not None

    # DB-stored connection read inside a task (string "3" in extra parsed as an integer).
    assert xcoms["db_connection"]["ok"], xcoms["db_connection"]["message"]
    assert xcoms["db_connection"]["max_attempts"] == 3

    # End to end: upload from ObjectStoragePath, submit, wait, download twice.
    e2e = xcoms["end_to_end"]
    assert e2e["status"] == "succeeded"
    assert e2e["local_size"] > 0
    assert e2e["local_size"] == e2e["remote_size"]
    local = (tmp_path / "out" / "local.png").read_bytes()
    assert local == (tmp_path / "store" / "nested" / "remote.png").read_bytes()
    assert local.startswith(b"\x89PNG")
    assert "NotFound" in e2e["error"]
    assert emu.counters()["authorization_sent_to_outputs"] == 0

    # Masking: nothing secret in the task logs, XComs, reprs or error messages.
    secrets = [emu.client_secret, E2E_CLIENT[1], token.value]
    logs = _task_logs(airflow_db, dag_run.run_id)
    assert logs.count("LEAK-CHECK") == 2, "the task log files were not found"
    assert "secret=***" in logs
    assert first["masker_hides_token"]
    assert second["masker_hides_token"]
    for text in (logs, json.dumps(xcoms, default=str)):
        for secret in secrets:
            assert secret not in text
    # The LocalExecutor also echoes task logs to its own stdout (subprocess_logs_to_stdout) through
    # the core logger, whose masker never receives the task's mask_secret() values: only the
    # JWT-shaped token is redacted there (by Airflow's JWT pattern), not the client secret. That
    # is Airflow's behaviour, outside the hook; the task log files above are masked.
    assert token.value not in out + err
