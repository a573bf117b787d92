"""Secrets: the client secret and every token the emulator issued never appear in task logs,
exception messages, ``repr()``s, XCom, trigger kwargs, rendered template fields or the host cache
in plain text; the token never goes to an output URL or a host outside the allowed set.

Every token is captured where it is born (the emulator's IMS), so the scans look for the real
values, and for their base64 forms and JWT segments.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fixtures.connections import conn_json

from airflow_provider_firefly.client.errors import (
    FireflyAuthError,
    FireflyConfigError,
    FireflyError,
)
from airflow_provider_firefly.testing import FireflyEmulator

from . import _ledger

pytestmark = pytest.mark.timeout(180)

HERE = Path(__file__).parent
IMS = "POST /ims/token/v3"
SUBMIT = "POST /v3/images/generate-async"
STATUS = "GET /v3/status/{jobId}"


class Secrets:
    """The secret and every token issued so far; ``find`` counts their traces in a text."""

    def __init__(self, emu: FireflyEmulator) -> None:
        self.emu = emu
        self.tokens: list[str] = []

    def values(self) -> list[str]:
        return [self.emu.client_secret, *self.tokens]

    def needles(self) -> list[str]:
        found = []
        for value in self.values():
            found += [value, base64.b64encode(value.encode()).decode()]
            found += [part for part in value.split(".") if len(part) >= 16]
        return found

    def find(self, where: str, text: str) -> int:
        hits = [n[:8] + "..." for n in self.needles() if n in text]
        _ledger.record("secrets", where=where, found=len(hits), checked_chars=len(text))
        for needle in self.needles():
            at = text.find(needle)
            if at >= 0:
                print(f"{where}: secret trace near {text[max(0, at - 80) : at].encode()!r}")
        return len(hits)


@pytest.fixture
def secrets(firefly_emulator: FireflyEmulator, monkeypatch: pytest.MonkeyPatch) -> Secrets:
    found = Secrets(firefly_emulator)
    authority = firefly_emulator.state.authority
    issue = authority.issue

    def recording_issue(*args: Any, **kwargs: Any) -> str:
        token = issue(*args, **kwargs)
        found.tokens.append(token)
        return str(token)

    monkeypatch.setattr(authority, "issue", recording_issue)
    return found


RUNNER = """
import importlib.util, json, sys
from pathlib import Path
spec = importlib.util.spec_from_file_location("reliability_secrets", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
dag_run = module.dag.test()
from airflow.models.renderedtifields import RenderedTaskInstanceFields
from airflow.models.trigger import Trigger
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session
with create_session() as session:
    xcoms = [XComModel.deserialize_value(r) for r in session.query(XComModel).filter(
        XComModel.dag_id == dag_run.dag_id, XComModel.run_id == dag_run.run_id)]
    rendered = [r.rendered_fields for r in session.query(RenderedTaskInstanceFields)]
    triggers = [(t.classpath, t.kwargs) for t in session.query(Trigger)]
Path(sys.argv[2]).write_text(json.dumps({"state": str(dag_run.state), "xcoms": xcoms,
    "rendered": rendered, "triggers": triggers}, default=str))
"""


@pytest.mark.airflow
@pytest.mark.slow
def test_one_real_task_run_leaks_nothing(
    airflow_db: str,
    firefly_emulator: FireflyEmulator,
    secrets: Secrets,
    tmp_path: Path,
) -> None:
    """``dag.test()`` of a sync and a deferred task, in a process of its own (own Airflow home
    and DAG folder, a copy of the migrated DB), scanned everywhere it leaves text."""
    emu = firefly_emulator
    emu.configure(job_duration=0.3)
    home = tmp_path / "airflow-home"
    home.mkdir()
    shutil.copy(Path(airflow_db) / "airflow.db", home / "airflow.db")
    result_file = tmp_path / "result.json"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(HERE / "dags"),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW_PROVIDER_FIREFLY_CACHE_DIR": str(tmp_path / "token-cache"),
        "FF_SECRETS_WORKDIR": str(tmp_path / "work"),
        "AIRFLOW_CONN_FF_SECRETS": conn_json(emu),
    }
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            RUNNER,
            str(HERE / "dags" / "reliability_secrets.py"),
            str(result_file),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    result = json.loads(result_file.read_text())
    assert result["state"] == "success", run.stdout[-3000:] + run.stderr[-3000:]
    assert secrets.tokens, "no token was issued"
    logs = run.stdout + run.stderr
    logs += "".join(
        p.read_text(errors="replace") for p in (home / "logs").rglob("*") if p.is_file()
    )
    assert "Firefly job" in logs  # the logs really are the tasks'
    xcom_text = json.dumps(result["xcoms"], default=str)
    assert xcom_text.count("saved_paths") == 2
    rendered = json.dumps(result["rendered"], default=str)
    assert "a lighthouse at dawn" in rendered
    triggers = json.dumps(result["triggers"], default=str)
    assert len(list((tmp_path / "work").rglob("*.png"))) == 2
    found = (
        secrets.find("task logs (stdout, stderr, log files)", logs)
        + secrets.find("XCom", xcom_text)
        + secrets.find("rendered template fields", rendered)
        + secrets.find("trigger table", triggers)
    )
    assert found == 0
    assert emu.counters()["authorization_sent_to_outputs"] == 0
    assert emu.counters()["jobs_submitted"] == 2


def test_trigger_kwargs_and_reprs_hold_no_secret(
    firefly_emulator: FireflyEmulator,
    secrets: Secrets,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.sdk.exceptions import TaskDeferred

    from airflow_provider_firefly.client.token_cache import HostTokenCache
    from airflow_provider_firefly.hooks.firefly import FireflyHook
    from airflow_provider_firefly.operators import FireflyGenerateImagesOperator

    emu = firefly_emulator
    emu.configure(job_duration=5)
    monkeypatch.setenv("AIRFLOW_CONN_FF_SECRETS", conn_json(emu))
    operator = FireflyGenerateImagesOperator(
        task_id="t",
        firefly_conn_id="ff_secrets",
        prompt="a harbour",
        deferrable=True,
        output_dir=str(tmp_path),
    )
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute({})
    trigger = deferred.value.trigger
    classpath, kwargs = trigger.serialize()
    hook = FireflyHook("ff_secrets")
    token = hook.client.token_manager.get_token()
    objects: list[Any] = [
        hook,
        hook.client,
        hook.client.token_manager,
        hook.config,
        hook.config.credentials,
        hook.config.http,
        hook.config.token_cache,
        token,
        operator,
        trigger,
        deferred.value,
        HostTokenCache(tmp_path / "token-cache"),
    ]
    text = json.dumps([classpath, kwargs, deferred.value.kwargs], default=str)
    text += "\n".join(repr(o) + "\n" + str(o) for o in objects)
    assert (
        secrets.find("trigger kwargs, deferral kwargs and repr()/str() of every object", text) == 0
    )


class _Capture(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", "8")
        self.end_headers()
        self.wfile.write(b"\x89PNG\r\n\x1a\n")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def capture() -> Iterator[int]:
    _Capture.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def test_token_never_sent_outside_the_allowed_hosts(
    firefly_emulator: FireflyEmulator,
    secrets: Secrets,
    capture: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow_provider_firefly.hooks.firefly import FireflyHook

    emu = firefly_emulator
    monkeypatch.setenv("AIRFLOW_CONN_FF_SECRETS", conn_json(emu))
    emu.configure(job_duration=0)
    hook = FireflyHook("ff_secrets")
    hook.get_access_token()
    # 1. a status URL (or any authenticated call) on another host is refused before sending
    for url in (
        f"http://localhost:{capture}/v3/status/x",
        "https://evil.example/v3/status/x",
        f"http://127.0.0.1\\@localhost:{capture}/v3/status/x",
    ):
        with pytest.raises(FireflyConfigError, match="refusing to send the Firefly token"):
            hook.get_status(url)
    assert _Capture.seen == []
    # 2. an output URL on any host gets neither the token nor the API key
    hook.download(f"http://localhost:{capture}/outputs/a.png?X-Amz-Signature=x", tmp_path / "a.png")
    assert len(_Capture.seen) == 1
    assert "authorization" not in _Capture.seen[0]
    assert "x-api-key" not in _Capture.seen[0]
    # 3. the emulator's own outputs, through a whole job
    handle = hook.submit("generate_images", {"prompt": "a harbour"})
    status = hook.get_status(handle)
    for output in status.outputs:
        hook.download(output, tmp_path / "out.png")
    counters = emu.counters()
    assert counters["output_downloads"] >= 1
    assert counters["authorization_sent_to_outputs"] == 0
    _ledger.record(
        "secrets",
        where="requests to outputs / foreign hosts carrying a credential",
        found=len([h for h in _Capture.seen if "authorization" in h])
        + counters["authorization_sent_to_outputs"],
    )


def _errors_from_faults(emu: FireflyEmulator, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    from airflow_provider_firefly.client.tokens import clear_memory_cache
    from airflow_provider_firefly.hooks.firefly import FireflyHook

    monkeypatch.setenv("AIRFLOW_CONN_FF_SECRETS", conn_json(emu, max_attempts=1, host_cache=False))
    secret = emu.client_secret
    errors: list[Any] = []

    def attempt(call: Any) -> None:
        clear_memory_cache()
        try:
            call(FireflyHook("ff_secrets"))
        except FireflyError as error:
            errors.append(error)
        else:
            raise AssertionError("the fault did not raise")

    # IMS (or a proxy) echoing the form or the secret in its error bodies
    for status, body in (
        (
            400,
            {"error": "invalid_request", "error_description": f"bad form client_secret={secret}"},
        ),
        (400, {"error": "invalid_client", "error_description": f"client_secret {secret} wrong"}),
        (401, {"error": "unauthorized", "error_description": f"secret was {secret}"}),
        (500, f"upstream error for client_secret={secret}&scope=openid"),
        (503, {"message": f"echo: {secret}"}),
    ):
        emu.script(IMS, [{"status": status, "body": body}])
        attempt(lambda h: h.get_access_token())
    # Firefly (or a proxy) echoing the bearer token: every 401, 403, 422, 500 echo
    clear_memory_cache()
    hook = FireflyHook("ff_secrets")
    token = hook.get_access_token()
    for status in (401, 403, 422, 500, 400):
        body = {
            "error_code": "x",
            "message": f"Authorization: Bearer {token} rejected",
            "validation_errors": [{"loc": ["header"], "msg": f"token {token}"}],
        }
        emu.script(SUBMIT, [{"status": status, "body": body}] * 2)
        attempt(lambda h: h.submit("generate_images", {"prompt": "x"}))
    emu.script(STATUS, [{"status": 404, "body": f"no job for Bearer {token}"}])
    attempt(lambda h: h.get_status("urn:ff:jobs:emu:00000000-0000-4000-8000-000000000000"))
    # a wrong secret, and a connection whose fields are wrong
    emu.configure(client_secret="the-new-rotated-secret")
    attempt(lambda h: h.get_access_token())
    emu.configure(client_secret=secret)
    monkeypatch.setenv(
        "AIRFLOW_CONN_FF_SECRETS", conn_json(emu, read_timeout=secret, host_cache=False)
    )
    attempt(lambda h: h.get_access_token())
    assert any(isinstance(e, FireflyAuthError) for e in errors)
    return errors


def test_exception_messages_hold_no_secret(
    firefly_emulator: FireflyEmulator, secrets: Secrets, monkeypatch: pytest.MonkeyPatch
) -> None:
    errors = _errors_from_faults(firefly_emulator, monkeypatch)
    text = ""
    for error in errors:
        text += f"{error}\n{error!r}\n{error.args}\n{vars(error)}\n"
        text += repr(pickle.loads(pickle.dumps(error)))  # as Airflow moves them across processes
    found = secrets.find(f"exception messages, repr, args, pickles ({len(errors)} errors)", text)
    assert found == 0, text
