"""The never-pay-twice record: injective keys, authenticated records,
one stable refusal for an unanswered submission and an explicit opt-in to resubmit.

``execute`` runs against the emulator with Airflow Variables kept in a dict (``records``), so
the real ``JobRecord`` code runs; the DAG-level kill test is in ``test_hostile_operators.py``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_firefly.operators import FireflyUnansweredSubmissionError
from airflow_provider_firefly.operators._resume import JobRecord, record_key
from airflow_provider_firefly.testing import FireflyEmulator

from . import _ledger

CONN_ID = "ff_record"
SUBMIT = "POST /v3/images/generate-async"
LOG = logging.getLogger("test_job_record")


class TI:
    def __init__(self, dag_id: str, task_id: str, run_id: str = "manual__1", try_number: int = 1):
        self.dag_id = dag_id
        self.task_id = task_id
        self.run_id = run_id
        self.map_index = -1
        self.try_number = try_number


def ctx(dag_id: str = "d", task_id: str = "t", **kw: Any) -> dict[str, Any]:
    return {"ti": TI(dag_id, task_id, **kw)}


@pytest.fixture
def emu(firefly_emulator: FireflyEmulator, set_conn: Any) -> FireflyEmulator:
    firefly_emulator.configure(job_duration=0)
    set_conn(CONN_ID, firefly_emulator)
    return firefly_emulator


def gen(tmp_path: Path, task_id: str = "t", **kw: Any) -> Any:
    from airflow_provider_firefly.operators import FireflyGenerateImagesOperator

    kw.setdefault("prompt", "a lighthouse")
    kw.setdefault("size", (32, 32))
    kw.setdefault("expected_seconds", 0)
    kw.setdefault("poll_interval", 0.05)
    kw.setdefault("max_poll_interval", 0.1)
    return FireflyGenerateImagesOperator(
        task_id=task_id, firefly_conn_id=CONN_ID, output_dir=str(tmp_path / "out"), **kw
    )


# -- item 8: keys ------------------------------------------------------------------------------


def test_keys_do_not_collide_across_separators() -> None:
    a = record_key("etl__daily", "gen", "manual__1", -1)
    b = record_key("etl", "daily__gen", "manual__1", -1)
    assert a != b
    odd = [
        ("d", "t", "r", -1),
        ("d", "t", "r", 0),
        ("d/x", "t", "r", -1),
        ("d_x", "t", "r", -1),
        ("d", "t", "r__-1", -1),
        ("d", "t__r", "", -1),
        ("d" * 300, "t", "r" * 300, 5),
    ]
    keys = {record_key(*parts) for parts in odd}
    assert len(keys) == len(odd)
    assert all(len(k) <= 250 and k.startswith("firefly_job__") for k in keys)
    _ledger.record("hostile", case="record-keys", colliding=len(odd) - len(keys))


def test_two_tasks_that_used_to_share_a_key_keep_their_own_job(
    emu: FireflyEmulator, tmp_path: Path, records: dict[str, str]
) -> None:
    """DAG ``etl__daily`` task ``gen`` vs DAG ``etl`` task ``daily__gen``, same run: the second
    task must not resume (and later cancel) the first one's job."""
    emu.configure(job_duration=30)
    first = JobRecord.for_context(ctx("etl__daily", "gen"), LOG, emu.client_secret)
    from airflow_provider_firefly.hooks.firefly import FireflyHook

    handle = FireflyHook(firefly_conn_id=CONN_ID).submit("generate_images", {"prompt": "first"})
    first.write(handle.to_dict(), "generate_images", None, 1)
    emu.configure(job_duration=0)
    value = gen(tmp_path, task_id="daily__gen").execute(ctx("etl", "daily__gen"))
    assert value["resumed"] is False
    assert value["job_id"] != handle.job_id
    assert first.key in records  # the first task's record is untouched
    assert emu.counters()["jobs_cancelled"] == 0


# -- item 9: authenticity ----------------------------------------------------------------------


PLANTS = {
    "unsigned": lambda key, secret: json.dumps(
        {
            "job": {"job_id": "urn:ff:jobs:evil", "status_url": "http://127.0.0.1:9/x"},
            "operation": "generate_images",
        }
    ),
    "other secret": lambda key, secret: _signed(key, "not-the-secret"),
    "copied from another key": lambda key, secret: _signed("firefly_job__other__1", secret),
    "bad mac": lambda key, secret: _signed(key, secret).replace('"mac": "', '"mac": "00'),
    "not json": lambda key, secret: "{nope",
    "deep json": lambda key, secret: "[" * 100_000 + "]" * 100_000,
    "deep json under the size cap": lambda key, secret: "[" * 9_000 + "]" * 9_000,
    "huge": lambda key, secret: json.dumps({"x": "y" * 1_000_000}),
    "a list": lambda key, secret: "[1, 2]",
    "uncertain unsigned": lambda key, secret: json.dumps(
        {"uncertain": True, "operation": "generate_images"}
    ),
}


def _signed(key: str, secret: str) -> str:
    """A record signed for ``key`` with ``secret`` (through the dict-backed Variables)."""
    from airflow.sdk import Variable

    JobRecord(key, LOG, secret).write(
        {"job_id": "urn:ff:jobs:evil", "status_url": "http://127.0.0.1:9/x"},
        "generate_images",
        None,
        1,
    )
    value = str(Variable.get(key))
    Variable.delete(key)
    return value


@pytest.mark.parametrize("kind", list(PLANTS))
def test_a_record_the_provider_did_not_write_is_ignored(
    kind: str,
    emu: FireflyEmulator,
    tmp_path: Path,
    records: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    context = ctx()
    key = JobRecord.for_context(context, LOG).key or ""
    records[key] = PLANTS[kind](key, emu.client_secret)
    value = gen(tmp_path).execute(context)
    assert value["resumed"] is False
    assert value["saved_paths"]
    assert emu.counters()["jobs_submitted"] == 1  # its own job, not the planted one
    assert records == {}
    logged = capsys.readouterr().out  # Airflow's task logger writes to stdout
    assert "Ignoring the job record" in logged
    _ledger.record("hostile", case=f"planted-record-{kind}", ignored=True)


def test_a_record_holds_no_secret_or_token(
    emu: FireflyEmulator, tmp_path: Path, records: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    original = JobRecord._store

    def spy(self: JobRecord, fields: dict[str, Any], description: str) -> bool:
        result = original(self, fields, description)
        seen.append(records.get(self.key or "", ""))
        return result

    monkeypatch.setattr(JobRecord, "_store", spy)
    gen(tmp_path).execute(ctx())
    assert len(seen) == 2  # the intent, then the handle
    from airflow_provider_firefly.hooks.firefly import FireflyHook

    token = FireflyHook(firefly_conn_id=CONN_ID).get_access_token()
    for value in seen:
        assert emu.client_secret not in value
        assert token not in value
        assert "eyJ" not in value
    intent, done = (json.loads(v) for v in seen)
    assert intent["job"] is None
    assert intent["uncertain"] is True
    assert done["job"]["job_id"]
    assert done["uncertain"] is False


# -- items 10 and 11: unanswered submissions -----------------------------------------------------


def test_unanswered_submission_refuses_with_one_stable_error(
    emu: FireflyEmulator, tmp_path: Path, records: dict[str, str]
) -> None:
    emu.script(SUBMIT, [{"status": 504, "body": {"error_code": "gateway_timeout"}}])
    errors = []
    for try_number in (1, 2, 3):
        with pytest.raises(FireflyUnansweredSubmissionError) as info:
            gen(tmp_path).execute(ctx(try_number=try_number))
        errors.append(info.value)
    key = JobRecord.for_context(ctx(), LOG).key or ""
    messages = [e.message for e in errors]
    for message in messages:
        assert key in message
        assert "resubmit_unanswered=True" in message
        assert "not submitted again" in message
    # the same text on every try (the time is that of the one unanswered submission)
    assert messages[1] == messages[2]
    assert messages[0].split(" sent at ")[0] == messages[1].split(" sent at ")[0]
    assert isinstance(errors[0].__cause__, Exception)  # what happened, chained
    assert emu.counters()["requests_by_route"][SUBMIT] == 1  # only the first try sent it
    _ledger.record("hostile", case="unanswered-504", jobs_accepted=emu.counters()["jobs_submitted"])


def test_resubmit_unanswered_opt_in(
    emu: FireflyEmulator, tmp_path: Path, records: dict[str, str]
) -> None:
    emu.script(SUBMIT, [{"status": 504, "body": {"error_code": "gateway_timeout"}}])
    with pytest.raises(FireflyUnansweredSubmissionError):
        gen(tmp_path).execute(ctx())
    value = gen(tmp_path, resubmit_unanswered=True).execute(ctx(try_number=2))
    assert value["saved_paths"]
    assert emu.counters()["requests_by_route"][SUBMIT] == 2
    assert records == {}


def test_refused_submission_leaves_no_intent(
    emu: FireflyEmulator, tmp_path: Path, records: dict[str, str]
) -> None:
    """A 400/429/500 means Firefly holds no job: the intent goes, a retry may submit."""
    emu.script(SUBMIT, [{"status": 500, "body": {"error_code": "internal_server_error"}}])
    from airflow_provider_firefly.client.errors import FireflyServerError

    with pytest.raises(FireflyServerError):
        gen(tmp_path).execute(ctx())
    assert records == {}
    assert gen(tmp_path).execute(ctx(try_number=2))["saved_paths"]


def test_accepted_reply_without_status_url(
    emu: FireflyEmulator, tmp_path: Path, records: dict[str, str]
) -> None:
    """Item 15: the spec does not require ``statusUrl``; whatever the client makes of such a
    reply, the job it accepted is never paid twice."""
    emu.script(SUBMIT, [{"merge_patch": {"statusUrl": None}}])
    try:
        value = gen(tmp_path).execute(ctx())
    except FireflyUnansweredSubmissionError:
        outcome = "refused"  # a client that cannot poll it: the intent stays
        with pytest.raises(FireflyUnansweredSubmissionError):
            gen(tmp_path).execute(ctx(try_number=2))
    else:
        outcome = "saved"
        assert value["saved_paths"]
    assert emu.counters()["jobs_submitted"] == 1
    _ledger.record("hostile", case="no-status-url", outcome=outcome, jobs_accepted=1)
