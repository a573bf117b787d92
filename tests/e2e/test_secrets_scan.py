"""After the end-to-end runs: no client secret and no issued token anywhere Airflow keeps data.

Needles: both client secrets of the session (unique random strings) and every token the
emulator issued (the whole token, and its payload and signature segments on their own, so a
partly masked or split token is still found).

Haystacks, read after every Airflow process has been stopped (so their logs are complete):

* every file of the deployment folder: the task and trigger logs (``$AIRFLOW_HOME/logs/**``),
  the api-server, scheduler, dag-processor and triggerer logs, the token cache files, the
  ``airflow.cfg``, the outputs and the raw SQLite file;
* every table of the metadata DB, cell by cell, and in particular ``xcom``, ``trigger``,
  ``variable``, ``rendered_task_instance_fields`` and ``task_instance``; Fernet-encrypted
  values (``variable.val``, ``trigger.kwargs``) decrypted with the deployment's key and scanned
  as plain text; trigger rows snapshotted while the deferred tasks were in flight (the
  triggerer deletes them afterwards) scanned the same way.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from .conftest import DEFERRED, Deployment, E2EEmulator, Runs

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(900)]

REQUIRED_TABLES = ("xcom", "trigger", "variable", "rendered_task_instance_fields", "task_instance")


def _needles(emu: E2EEmulator) -> dict[str, str]:
    needles = {
        "client secret (main)": emu.main.client_secret,
        "client secret (cluster)": emu.cluster.client_secret,
        "client secret (cold)": emu.cold.client_secret,
    }
    for n, token in enumerate(emu.issued):
        _, payload, signature = token.split(".")
        needles[f"token #{n}"] = token
        needles[f"token #{n} payload"] = payload
        needles[f"token #{n} signature"] = signature
    return needles


def _scan_text(where: str, text: str, needles: dict[str, str], hits: list[str]) -> None:
    for name, needle in needles.items():
        start = text.find(needle)
        while start != -1:
            line = text.count("\n", 0, start) + 1
            hits.append(f"{where}:{line}: {name}")
            start = text.find(needle, start + 1)


def _decrypt(dep: Deployment, value: str) -> str | None:
    if not value or value.startswith("{"):
        return None  # stored in plain text (e.g. trigger kwargs sent by the Task SDK)
    try:
        return str(dep.fernet().decrypt(value.encode()).decode())
    except Exception:  # not a Fernet token
        return None


def _cell_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def test_no_secret_or_token_in_logs_or_metadata_db(
    runs: Runs, deployment: Deployment, e2e_emulator: E2EEmulator
) -> None:
    deployment.stop_all()  # flush and close every process log first
    needles = _needles(e2e_emulator)
    assert len(e2e_emulator.issued) >= 2, "the runs minted no token: nothing meaningful to scan"
    # Positive control: a value that must be found in the same places (a Firefly job id is
    # in the task logs, the XComs and the trigger kwargs), proving the scan reads them.
    (row,) = deployment.sql(
        "SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND key = 'return_value' "
        "AND map_index = 0",
        (DEFERRED, runs.run_ids[DEFERRED]),
    )
    control_job = str(json.loads(row["value"])["job_id"])
    needles["CONTROL job id"] = control_job
    hits: list[str] = []
    scanned = {"files": 0, "rows": 0, "decrypted": 0}

    # 1. Every file of the deployment: logs, caches, config, outputs, the raw DB file.
    for path in sorted(deployment.root.rglob("*")):
        if path.is_file():
            scanned["files"] += 1
            text = path.read_bytes().decode("utf-8", "replace")
            _scan_text(str(path.relative_to(deployment.root)), text, needles, hits)
    task_logs = list((deployment.home / "logs").rglob("attempt=*.log*"))
    assert len(task_logs) >= 40, "task logs missing: the scan would prove nothing"
    for name in ("api-server", "scheduler", "dag-processor", "triggerer"):
        assert (deployment.proc_logs / f"{name}.log").stat().st_size > 0, name

    # 2. Every table, cell by cell; Fernet values decrypted.
    con = sqlite3.connect(f"file:{deployment.db_path}?mode=ro", uri=True)
    try:
        con.row_factory = sqlite3.Row
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in REQUIRED_TABLES:
            assert table in tables, table
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):  # names from sqlite_master
                scanned["rows"] += 1
                for column in row.keys():  # noqa: SIM118 - sqlite3.Row iterates values
                    text = _cell_text(row[column])
                    where = f"db:{table}.{column}"
                    _scan_text(where, text, needles, hits)
                    if (table, column) in (("variable", "val"), ("trigger", "kwargs")) or (
                        table == "connection" and column in ("password", "extra")
                    ):
                        plain = _decrypt(deployment, text)
                        if plain is not None:
                            scanned["decrypted"] += 1
                            _scan_text(f"{where} (decrypted)", plain, needles, hits)
        xcoms = con.execute("SELECT COUNT(*) FROM xcom").fetchone()[0]
        rendered = con.execute("SELECT COUNT(*) FROM rendered_task_instance_fields").fetchone()[0]
        variables = con.execute("SELECT COUNT(*) FROM variable").fetchone()[0]
    finally:
        con.close()
    assert xcoms >= 40
    assert rendered >= 40
    assert variables >= 1  # the cluster-wide token Variable

    # 3. Trigger rows seen in flight (deleted by the triggerer since).
    assert deployment.trigger_rows, "no trigger row was captured"
    for trigger_id, trigger_row in deployment.trigger_rows.items():
        kwargs = _cell_text(trigger_row["kwargs"])
        _scan_text(f"trigger[{trigger_id}].kwargs (in flight)", kwargs, needles, hits)
        plain = _decrypt(deployment, kwargs)
        if plain is not None:
            scanned["decrypted"] += 1
            _scan_text(f"trigger[{trigger_id}].kwargs (decrypted)", plain, needles, hits)
        assert "firefly_conn_id" in (plain or kwargs)

    controls = [h for h in hits if h.endswith(": CONTROL job id")]
    hits = [h for h in hits if not h.endswith(": CONTROL job id")]
    assert any("/logs/dag_id=" in h or h.startswith("airflow-home/logs/") for h in controls)
    assert any(h.startswith("db:xcom.value") for h in controls), controls
    assert any(h.startswith("db:task_instance") or "trigger[" in h for h in controls), controls

    report = deployment.root / "secrets-scan.txt"
    report.write_text(
        f"needles: {len(needles)} ({len(e2e_emulator.issued)} tokens, 3 secrets)\n"
        f"scanned: {scanned}\n"
        f"positive control (a job id) found in {len(controls)} places\n"
        + ("hits:\n" + "\n".join(hits) if hits else "hits: none\n")
    )
    assert not hits, "secrets found:\n" + "\n".join(hits[:50])
    assert scanned["files"] > 40
    print(Path(report).read_text())
