"""The fault matrix (docs/reliability.md): one row per fault, each run through the real operator
(or the hook/trigger where the fault lives there) against the emulator's fault controls.

Every row asserts its expected outcome (recovers, or fails with the named typed error), measures
the time (asserting a bound only where the design promises one), counts the jobs the emulator
accepted (no duplicate submission) and checks that nothing is lost (saved files exist, or the
accepted job is recorded so a retry resumes it). Rows whose fault leaves a job behind run a
second try of the same task instance and check it resumes that job instead of paying again.

``docs/reliability.md`` lists the rows with the existing tests that prove each case in depth.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
from fixtures.connections import conn_json

from airflow_provider_firefly.client.errors import (
    FireflyAccessError,
    FireflyAuthError,
    FireflyConfigError,
    FireflyContentPolicyError,
    FireflyError,
    FireflyJobCancelledError,
    FireflyJobFailedError,
    FireflyJobTimeoutError,
    FireflyNotFoundError,
    FireflyOutputExpiredError,
    FireflyRateLimitError,
    FireflyServerError,
    FireflyTimeoutError,
)
from airflow_provider_firefly.operators import FireflyUnansweredSubmissionError
from airflow_provider_firefly.testing import FireflyEmulator

from . import _ledger

pytestmark = pytest.mark.timeout(120)

IMS = "POST /ims/token/v3"
SUBMIT = "POST /v3/images/generate-async"
STATUS = "GET /v3/status/{jobId}"
CANCEL = "PUT /v3/cancel/{jobId}"
OUTPUT = "GET /outputs/{outputId}"
CONN_ID = "ff_rel"
EXPIRED_XML = (
    "<Error><Code>AccessDenied</Code><Message>Request has expired</Message>"
    "<X-Amz-Expires>3600</X-Amz-Expires></Error>"
)
RECOVERS = None


class FakeTI:
    """What the never-pay-twice record needs of a task instance."""

    dag_id = "ff_reliability"
    run_id = "manual__matrix"
    map_index = -1

    def __init__(self, task_id: str, try_number: int = 1) -> None:
        self.task_id = task_id
        self.try_number = try_number


@dataclass
class Harness:
    emu: FireflyEmulator
    tmp_path: Path
    records: dict[str, str]
    monkeypatch: pytest.MonkeyPatch
    task_id: str
    conn_extra: dict[str, Any]
    try_number: int = 1
    watchers: list[threading.Thread] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def connect(self, emu: FireflyEmulator | None = None) -> None:
        emu = emu or self.emu
        self.monkeypatch.setenv(
            f"AIRFLOW_CONN_{CONN_ID.upper()}", conn_json(emu, **self.conn_extra)
        )

    @property
    def out(self) -> Path:
        return self.tmp_path / "out"

    def operator(self, **kw: Any) -> Any:
        from airflow_provider_firefly.operators import FireflyGenerateImagesOperator

        kw.setdefault("prompt", "a lighthouse at dawn")
        kw.setdefault("size", (32, 32))
        kw.setdefault("expected_seconds", 0.2)
        kw.setdefault("poll_interval", 0.1)
        kw.setdefault("max_poll_interval", 0.3)
        kw.setdefault("output_dir", str(self.out))
        kw.setdefault("job_timeout", 60)
        return FireflyGenerateImagesOperator(task_id=self.task_id, firefly_conn_id=CONN_ID, **kw)

    def context(self) -> dict[str, Any]:
        return {"ti": FakeTI(self.task_id, self.try_number)}

    def run(self, **kw: Any) -> Any:
        """One try of the task instance (``execute`` with a task instance in the context)."""
        from airflow_provider_firefly.client.tokens import clear_memory_cache

        clear_memory_cache()  # each try is a new worker process
        return self.operator(**kw).execute(self.context())

    def on_submit(self, action: Callable[[str], None]) -> None:
        """Call ``action(job_id)`` once, as soon as the emulator has accepted a job."""

        def watch() -> None:
            while not self.stop.wait(0.01):
                jobs = self.emu.jobs()
                if jobs:
                    action(jobs[0]["jobId"])
                    return

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        self.watchers.append(thread)

    def record(self) -> dict[str, Any] | None:
        if not self.records:
            return None
        assert len(self.records) == 1, self.records
        return dict(json.loads(next(iter(self.records.values()))))

    def close(self) -> None:
        self.stop.set()
        for thread in self.watchers:
            thread.join(5)


@dataclass(frozen=True)
class Case:
    id: str
    fault: str
    expect: type[BaseException] | None  # None: the task recovers
    inject: Callable[[Harness], None] = lambda h: None
    action: Callable[[Harness], Any] = lambda h: h.run()
    jobs: int = 1  # jobs Firefly must hold at the end: more is a duplicate submission
    #: what must survive a failure: "record" (the accepted job is recorded for the retry),
    #: "uncertain" (the unanswered submission is recorded: no blind resubmit), "none".
    keeps: str = "none"
    #: a second try of the same task instance: its expected outcome (None: recovers)
    retry: type[BaseException] | str | None = "no"
    bound: float | None = None  # seconds, only where the design promises a bound
    conn: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    check: Callable[[Harness, Any], None] | None = None
    message: str | None = None  # text the error message must contain


def script(route: str, *responses: dict[str, Any]) -> Callable[[Harness], None]:
    return lambda h: h.emu.script(route, list(responses))


def status_error(code: int, n: int = 1, **extra: Any) -> list[dict[str, Any]]:
    return [{"status": code, "body": {"error_code": "internal_server_error"}, **extra}] * n


def rate_limited(**headers: str) -> dict[str, Any]:
    return {
        "status": 429,
        "headers": headers,
        "body": {"error_code": "rate_limited", "message": "Too many requests"},
    }


def access_denied(value: str) -> Callable[[Harness], None]:
    return script(
        SUBMIT,
        {
            "status": 403,
            "headers": {"x-access-error": value},
            "body": {"error_code": "access_error", "message": "Access denied"},
        },
    )


def set_job_after_submit(**changes: Any) -> Callable[[Harness], None]:
    def inject(h: Harness) -> None:
        h.emu.configure(job_duration=30)
        h.on_submit(lambda job_id: h.emu.set_job(job_id, **changes))

    return inject


def ims_200(body: Any, content_type: str | None = None) -> Callable[[Harness], None]:
    response: dict[str, Any] = {"status": 200, "body": body}
    if content_type:
        response["headers"] = {"content-type": content_type}
    return script(IMS, response)


def expect_access(value: str) -> Callable[[Harness, Any], None]:
    def check(h: Harness, error: Any) -> None:
        assert error.access_error == value
        assert value in str(error)
        assert h.emu.counters()["requests_by_route"][SUBMIT] == 1  # never retried

    return check


def polls(h: Harness) -> int:
    return int(h.emu.counters()["requests_by_route"].get(STATUS, 0))


def ims_calls(n: int) -> Callable[[Harness, Any], None]:
    def check(h: Harness, result: Any) -> None:
        assert h.emu.counters()["ims_token_requests"] == n

    return check


# -- special actions ---------------------------------------------------------------------------


def revoke_mid_run(h: Harness) -> Any:
    h.emu.configure(job_duration=0.6)
    h.on_submit(lambda job_id: h.emu.revoke_tokens())
    return h.run(expected_seconds=0.3)


def unknown_job(h: Harness) -> Any:
    from airflow_provider_firefly.hooks.firefly import FireflyHook

    return FireflyHook(CONN_ID).get_status("urn:ff:jobs:emu:00000000-0000-4000-8000-000000000000")


def other_port(h: Harness) -> Any:
    with FireflyEmulator(status_port=0, job_duration=0) as emu:
        h.connect(emu)
        result = h.run()
        assert result["outputs"][0]["url"]
        counters = emu.counters()
        assert counters["jobs_submitted"] == 1
        assert counters["status_polls"] >= 1
        assert counters["authorization_sent_to_outputs"] == 0
        assert emu.status_url
        assert emu.status_url != emu.url
        return result


def other_host(h: Harness) -> Any:
    with FireflyEmulator(status_host="localhost", job_duration=0) as emu:
        h.connect(emu)
        try:
            return h.run()
        finally:
            counters = emu.counters()
            assert counters["jobs_submitted"] == 1
            assert counters["status_polls"] == 0  # the token never went to "localhost"
            h.emu.configure(job_duration=0)


def triggerer_restart(h: Harness) -> Any:
    from importlib import import_module

    from airflow.sdk.exceptions import TaskDeferred

    h.emu.configure(job_duration=1.5)
    operator = h.operator(deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(h.context())
    first = deferred.value.trigger

    async def run_until_first_poll_then_shutdown() -> None:
        task = asyncio.ensure_future(anext(first.run()))
        while polls(h) < 1:
            await asyncio.sleep(0.02)
        task.cancel()  # what a triggerer shutdown does to its triggers
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run_until_first_poll_then_shutdown())
    before = polls(h)
    classpath, kwargs = first.serialize()
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(import_module(module), name)(**json.loads(json.dumps(kwargs)))

    async def first_event() -> Any:
        return await anext(rebuilt.run())

    event = asyncio.run(first_event())
    assert polls(h) > before
    result = h.operator(deferrable=True).execute_complete(
        h.context(), event.payload, **deferred.value.kwargs
    )
    assert h.emu.counters()["jobs_cancelled"] == 0
    return result


WORKER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from airflow.sdk import Variable
    store_path = Path(sys.argv[1])

    def _get(key, default=None):
        data = json.loads(store_path.read_text()) if store_path.exists() else {}
        return data.get(key, default)

    def _set(key, value, description=None):
        data = json.loads(store_path.read_text()) if store_path.exists() else {}
        data[key] = value
        store_path.write_text(json.dumps(data))

    Variable.get = staticmethod(_get)
    Variable.set = staticmethod(_set)
    Variable.delete = staticmethod(lambda key: None)

    from airflow_provider_firefly.operators import FireflyGenerateImagesOperator

    class TI:
        dag_id, task_id, run_id, map_index, try_number = (
            "ff_reliability", sys.argv[2], "manual__matrix", -1, 1)

    print("ready", flush=True)
    FireflyGenerateImagesOperator(
        task_id=sys.argv[2], firefly_conn_id="ff_rel", prompt="a lighthouse at dawn",
        size=(32, 32), expected_seconds=0.2, poll_interval=0.1, output_dir=sys.argv[3],
    ).execute({"ti": TI()})
    """
)


def worker_killed(h: Harness) -> Any:
    """A worker process SIGKILLed while waiting for its job; the retry resumes that job."""
    h.emu.configure(job_duration=3)
    store = h.tmp_path / "variables.json"
    env = {**os.environ, f"AIRFLOW_CONN_{CONN_ID.upper()}": conn_json(h.emu, **h.conn_extra)}
    child = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(store), h.task_id, str(h.out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not (store.exists() and polls(h) >= 1):
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the worker never submitted"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate()
    assert h.emu.jobs()[0]["status"] in ("pending", "running")
    h.records.update(json.loads(store.read_text()))
    h.try_number = 2
    result = h.run()
    assert result["resumed"] is True
    return result


# -- the table -----------------------------------------------------------------------------------

FAST_TIMEOUT = {"read_timeout": 0.5}

CASES: list[Case] = [
    # IMS
    Case("ims-5xx-burst", "IMS answers 500, 502, 503 then recovers", RECOVERS,
         script(IMS, *status_error(500), *status_error(502), *status_error(503)),
         check=ims_calls(4)),
    Case("ims-5xx-outage", "IMS answers 503 to every attempt (4)", FireflyServerError,
         script(IMS, *status_error(503, 4)), jobs=0, bound=20),
    Case("ims-timeout", "IMS read timeout once", RECOVERS,
         script(IMS, {"delay": 1.5, "process": True}), conn=FAST_TIMEOUT),
    Case("ims-timeout-outage", "IMS read timeout on every attempt", FireflyTimeoutError,
         script(IMS, *[{"delay": 1.2}] * 4), jobs=0, conn=FAST_TIMEOUT, bound=20),
    Case("ims-drop", "IMS drops the connection once", RECOVERS, script(IMS, {"drop": True})),
    Case("ims-non-json", "IMS 200 with an HTML body", FireflyAuthError,
         ims_200("<html>gateway</html>", "text/html"), jobs=0, message="not JSON"),
    Case("ims-truncated", "IMS 200 with truncated JSON", FireflyAuthError,
         ims_200('{"access_token": "eyJhbGciOi', "application/json"), jobs=0),
    Case("ims-no-token", "IMS 200 without access_token", FireflyAuthError,
         ims_200({"token_type": "bearer", "expires_in": 86399}), jobs=0,
         message="without an access_token"),
    Case("ims-empty-token", "IMS 200 with an empty access_token", FireflyAuthError,
         ims_200({"access_token": "", "token_type": "bearer", "expires_in": 86399}), jobs=0),
    Case("ims-expires-negative", "IMS 200 with expires_in -5", FireflyAuthError,
         ims_200({"access_token": "x.y.z", "expires_in": -5}), jobs=0, message="expires_in"),
    Case("ims-expires-text", "IMS 200 with expires_in 'soon'", FireflyAuthError,
         ims_200({"access_token": "x.y.z", "expires_in": "soon"}), jobs=0, message="expires_in"),
    Case("ims-expires-huge", "IMS 200 with expires_in 10^12", FireflyAuthError,
         ims_200({"access_token": "x.y.z", "expires_in": 10**12}), jobs=0, message="expires_in"),
    Case("ims-wrong-secret", "IMS 400 invalid_client (rotated secret)", FireflyAuthError,
         lambda h: h.emu.configure(client_secret="rotated-secret"), jobs=0,
         message="Client secret"),
    # Firefly 429
    Case("429-seconds", "submit 429, retry-after: 1", RECOVERS,
         script(SUBMIT, rate_limited(**{"retry-after": "1"}))),
    Case("429-http-date", "submit 429, retry-after as an HTTP-date", RECOVERS,
         lambda h: h.emu.script(
             SUBMIT, [rate_limited(**{"retry-after": formatdate(time.time() + 1, usegmt=True)})]
         )),
    Case("429-absent", "submit 429 without retry-after", RECOVERS, script(SUBMIT, rate_limited())),
    Case("429-empty-body", "poll 429 with retry-after and no body", RECOVERS,
         script(STATUS, {"status": 429, "headers": {"retry-after": "1"}})),
    Case("429-emulated", "emulator rate limit 2/min, HTTP-date, empty body", RECOVERS,
         lambda h: h.emu.configure(rate_limit=2, rate_limit_window=2,
                                   retry_after_format="http-date", rate_limit_empty_body=True),
         conn={"max_attempts": 6}),
    Case("429-beyond-budget", "submit 429 on every attempt", FireflyRateLimitError,
         script(SUBMIT, *[rate_limited(**{"retry-after": "0"})] * 4), jobs=0, bound=20),
    # Firefly 5xx
    Case("5xx-burst-poll", "poll 500, 502, 503, 504 then recovers (budget 5)", RECOVERS,
         script(STATUS, *status_error(500), *status_error(502), *status_error(503),
                *status_error(504)), conn={"max_attempts": 5}),
    Case("5xx-outage-poll", "poll 5xx on 4 attempts of 4: task fails, job kept", FireflyServerError,
         script(STATUS, *status_error(502, 6)), keeps="record", retry=RECOVERS, bound=20),
    Case("503-submit", "submit 503 then accepted (503 = not accepted)", RECOVERS,
         script(SUBMIT, *status_error(503, 2))),
    Case("500-submit", "submit 500: not retried, nothing accepted", FireflyServerError,
         script(SUBMIT, *status_error(500)), jobs=0,
         check=lambda h, e: h.emu.counters()["requests_by_route"][SUBMIT] == 1),
    # An unanswered submission: one error class on the first try and on every retry.
    Case("504-submit", "submit 504 from a gateway: maybe accepted, no blind resubmit",
         FireflyUnansweredSubmissionError, script(SUBMIT, *status_error(504)), jobs=0,
         keeps="uncertain", retry=FireflyUnansweredSubmissionError),
    # timeouts and drops
    Case("timeout-submit", "submit accepted, answer later than read_timeout",
         FireflyUnansweredSubmissionError, script(SUBMIT, {"delay": 1.5, "process": True}),
         conn=FAST_TIMEOUT, keeps="uncertain", retry=FireflyUnansweredSubmissionError,
         message="not submitted again"),
    Case("drop-submit-accepted", "submit accepted, connection dropped",
         FireflyUnansweredSubmissionError, script(SUBMIT, {"drop": True, "process": True}),
         keeps="uncertain", retry=FireflyUnansweredSubmissionError),
    Case("drop-submit-unprocessed", "submit dropped before Firefly saw it (client can't tell)",
         FireflyUnansweredSubmissionError, script(SUBMIT, {"drop": True}), jobs=0,
         keeps="uncertain", retry=FireflyUnansweredSubmissionError),
    Case("timeout-poll", "poll read timeout once", RECOVERS,
         script(STATUS, {"delay": 1.5}), conn=FAST_TIMEOUT),
    Case("drop-poll", "poll connection dropped twice", RECOVERS,
         script(STATUS, {"drop": True}, {"drop": True})),
    Case("non-json-poll", "poll 200 with truncated JSON once", FireflyError,
         script(STATUS, {"status": 200, "headers": {"content-type": "application/json"},
                         "body": '{"status": "runn'}), keeps="record", retry=RECOVERS),
    # auth and access
    Case("401-revoked", "every token revoked right after the submission", RECOVERS,
         action=revoke_mid_run, check=ims_calls(2)),
    *[
        Case(f"403-{value}", f"submit 403 x-access-error: {value}", FireflyAccessError,
             access_denied(value), jobs=0, check=expect_access(value))
        for value in ("quota_exhausted", "user_non_entitled", "user_profile_denied",
                      "invalid_ims_scope")
    ],
    Case("403-real-scope", "token without the firefly_api scope (emulated gateway)",
         FireflyAccessError, lambda h: h.emu.configure(required_scopes=["firefly_enterprise"]),
         jobs=0, check=expect_access("invalid_ims_scope")),
    Case("404-unknown-job", "status of a job Firefly does not know", FireflyNotFoundError,
         action=unknown_job, jobs=0),
    Case("404-while-polling", "poll 404 once (job forgotten)", FireflyNotFoundError,
         script(STATUS, {"status": 404, "body": {"error_code": "not_found"}}), keeps="record",
         retry=RECOVERS),
    Case("451-submit", "blocked word: 451 at submit", FireflyContentPolicyError,
         lambda h: h.emu.configure(blocked_words=["lighthouse"]), jobs=0),
    Case("451-poll", "blocked word: 451 while polling", FireflyContentPolicyError,
         lambda h: h.emu.configure(blocked_words=["lighthouse"], content_policy_stage="poll-451"),
         keeps="record", retry=FireflyContentPolicyError),
    # job outcomes
    Case("job-failed", "job ends failed", FireflyJobFailedError,
         set_job_after_submit(status="failed", error_code="runtime_error", message="boom")),
    Case("job-failed-policy", "job ends failed with prompt_unsafe", FireflyJobFailedError,
         lambda h: h.emu.configure(blocked_words=["lighthouse"],
                                   content_policy_stage="poll-failed")),
    Case("job-cancelled", "job cancelled at Adobe", FireflyJobCancelledError,
         set_job_after_submit(status="cancelled")),
    Case("job-timeout", "job ends with status timeout", FireflyJobTimeoutError,
         set_job_after_submit(status="timeout")),
    Case("deadline", "job outlives job_timeout=1 s: cancelled", FireflyJobTimeoutError,
         lambda h: h.emu.configure(job_duration=60), action=lambda h: h.run(job_timeout=1),
         bound=15, check=lambda h, e: h.emu.counters()["jobs_cancelled"] == 1),
    # outputs
    Case("output-expired-once", "output URL refused as expired once: status re-fetched", RECOVERS,
         script(OUTPUT, {"status": 403, "headers": {"content-type": "application/xml"},
                         "body": EXPIRED_XML}),
         check=lambda h, r: polls(h) == 2),
    Case("output-expired-twice", "output URL refused as expired twice", FireflyOutputExpiredError,
         script(OUTPUT, *[{"status": 403, "headers": {"content-type": "application/xml"},
                           "body": EXPIRED_XML}] * 2), keeps="record", retry=RECOVERS),
    Case("slow-download", "output served after 1 s", RECOVERS,
         script(OUTPUT, {"delay": 1.0, "process": True})),
    Case("stalled-download", "output stalls past read_timeout once", RECOVERS,
         script(OUTPUT, {"delay": 1.5}), conn=FAST_TIMEOUT),
    Case("large-download", "40 MB output streamed", RECOVERS,
         lambda h: h.emu.configure(output_padding_bytes=40 * 1024 * 1024),
         check=lambda h, r: r["outputs"][0]["bytes"] > 40 * 1024 * 1024),
    # topology and processes
    Case("status-other-port", "status URLs on a 2nd listener (own emulator: 1 job)", RECOVERS,
         action=other_port, jobs=0),
    Case("status-other-host", "status URLs on a host not allowed (own emulator: 1 job)",
         FireflyConfigError, action=other_host, jobs=0, keeps="record-elsewhere",
         message="refusing to send"),
    Case("triggerer-restart", "triggerer stopped after the first poll, trigger rebuilt",
         RECOVERS, action=triggerer_restart),
    Case("worker-killed", "worker SIGKILLed while waiting; task retried", RECOVERS,
         action=worker_killed),
]  # fmt: skip


@pytest.fixture
def harness(  # noqa: PLR0917 (fixtures)
    firefly_emulator: FireflyEmulator,
    tmp_path: Path,
    records: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    fast_retries: None,
    request: pytest.FixtureRequest,
) -> Iterator[Harness]:
    case: Case = request.node.callspec.params["case"]
    firefly_emulator.configure(job_duration=0.2, **case.options)
    extra = {"read_timeout": 2.0, "connect_timeout": 2.0, "max_attempts": 4, **case.conn}
    h = Harness(firefly_emulator, tmp_path, records, monkeypatch, "t_" + case.id, extra)
    h.connect()
    yield h
    h.close()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fault(case: Case, harness: Harness) -> None:
    h = harness
    emu = h.emu
    case.inject(h)
    started = time.monotonic()
    outcome: Any
    error: BaseException | None = None
    try:
        outcome = case.action(h)
    except Exception as caught:  # compared with the expectation below
        error = caught
        outcome = caught
    elapsed = time.monotonic() - started
    h.stop.set()
    entry: dict[str, Any] = {
        "case": case.id,
        "fault": case.fault,
        "expected": case.expect.__name__ if case.expect else "recovers",
        "outcome": type(error).__name__ if error else "recovered",
        "seconds": round(elapsed, 2),
    }
    try:
        if case.expect is None:
            assert error is None, f"{case.id}: expected recovery, got {error!r}"
            if isinstance(outcome, dict) and "saved_paths" in outcome:
                # nothing lost: every output saved, and nothing left for a retry to redo
                assert outcome["saved_paths"], outcome
                for path in outcome["saved_paths"]:
                    assert Path(path).stat().st_size > 0
                assert h.record() is None
        else:
            assert isinstance(error, case.expect), f"{case.id}: expected {case.expect}: {error!r}"
            assert isinstance(error, FireflyError)
            if case.message:
                assert case.message in str(error), str(error)
        if case.check is not None:
            assert case.check(h, outcome) is not False
        if case.bound is not None:
            assert elapsed < case.bound, f"{case.id} took {elapsed:.1f} s"
        time.sleep(0.05)
        jobs = emu.jobs()
        if case.keeps == "record":
            record = h.record()
            assert record is not None, h.records
            assert record["job"]["job_id"] == jobs[0]["jobId"], record
        elif case.keeps == "uncertain":
            record = h.record()
            assert record is not None, h.records
            assert record.get("uncertain") is True, record
        elif case.keeps == "record-elsewhere":
            assert h.record() is not None  # the job of the other emulator is kept for a retry
        elif case.expect is not None:
            assert h.record() is None, h.records  # the job ended: a retry submits anew
        if case.retry != "no":
            entry["retried"] = True
            h.try_number += 1
            before = emu.counters()["jobs_submitted"]
            if case.retry is None:
                value = h.run()
                assert value["resumed"] is True, value
                assert all(Path(p).exists() for p in value["saved_paths"])
                entry["retry"] = "resumed, saved"
            else:
                with pytest.raises(case.retry) as second:  # type: ignore[call-overload]
                    h.run()
                entry["retry"] = type(second.value).__name__
            assert emu.counters()["jobs_submitted"] == before, "the retry submitted again"
        submitted = len(emu.jobs())
        entry["jobs"] = submitted
        entry["duplicates"] = max(0, submitted - case.jobs)
        assert submitted == case.jobs, f"{case.id}: {submitted} jobs, expected {case.jobs}"
        assert emu.counters()["authorization_sent_to_outputs"] == 0
        entry["survived"] = True
    except BaseException:
        entry["survived"] = False
        raise
    finally:
        _ledger.record("faults", **entry)
