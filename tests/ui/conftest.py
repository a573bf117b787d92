"""A real Airflow API server, the Firefly emulator and Debian's Chromium, for the UI tests.

The session fixture ``ui_stack`` starts, in its own ``AIRFLOW_HOME`` (SQLite, migrated here):

- the Firefly/IMS emulator in a child process (``FireflyEmulator.spawn()``, a free loopback port);
- ``airflow api-server --apps core`` on 127.0.0.1 and a free port, with every user an admin
  (simple auth manager, ``AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True``) and the Test
  button enabled (``AIRFLOW__CORE__TEST_CONNECTION=Enabled``);
- headless ``/usr/bin/chromium`` (the Debian package), driven by Playwright for Python with
  ``executable_path``; ``playwright install`` is never run.

Both servers are stopped by their PID in the finalizer. Without ``/usr/bin/chromium`` the tests
are skipped, except under ``CI`` (set and not ``false``/``0``), where they fail: CI must install
the browser (``.ci/run`` does).

Artefacts of every run go to ``<repo>/test-artifacts/ui/`` (git-ignored): screenshots, the
API server's log and ``network.jsonl`` (the page's non-GET requests and responses, passwords
redacted). ``FIREFLY_UPDATE_DOC_IMAGES=1`` also copies the README screenshots to
``docs/images/``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fixtures.airflow_server import http_json, running_api_server, server_env

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "ui"
DOC_IMAGES = REPO / "docs" / "images"
CHROMIUM = os.environ.get("FIREFLY_UI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT = 90.0


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@dataclass
class UiStack:
    base_url: str  # the API server (UI and REST), e.g. http://127.0.0.1:41234
    emulator_url: str
    client_id: str
    client_secret: str
    artifacts: Path
    browser: Any  # playwright Browser
    network_log: list[dict[str, Any]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)  # what one test learnt for the next

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return http_json(method, self.base_url + path, body, timeout=10.0)

    def counters(self) -> dict[str, Any]:
        status, body = http_json("GET", self.emulator_url + "/_emulator/counters", timeout=10.0)
        assert status == 200, body
        return dict(body)

    def new_page(self, width: int = 1200, height: int = 720) -> Any:
        """A page in a fresh context that records non-GET traffic into ``network_log``."""
        context = self.browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.set_default_timeout(15_000)

        def on_response(response: Any) -> None:
            request = response.request
            if request.method == "GET":
                return
            try:
                sent = json.loads(request.post_data or "null")
            except ValueError:
                sent = request.post_data
            if isinstance(sent, dict) and sent.get("password") not in (None, "", "***"):
                sent["password"] = "<redacted>"
            try:
                answer = response.json()
            except Exception:  # a non-JSON body
                answer = None
            self.network_log.append(
                {
                    "method": request.method,
                    "url": request.url,
                    "sent": sent,
                    "status": response.status,
                    "body": answer,
                }
            )

        page.on("response", on_response)
        return page

    def shot(self, target: Any, name: str, *, doc_name: str | None = None) -> Path:
        """Screenshot a page or locator to the artefacts (and to docs/images when asked)."""
        path = self.artifacts / name
        page = getattr(target, "page", target)  # a Locator has .page; a Page is its own
        page.mouse.move(1, 1)  # no hover tooltip over the picture
        page.wait_for_timeout(700)  # let toasts and accordions finish their animation
        target.screenshot(path=str(path))
        if doc_name and os.environ.get("FIREFLY_UPDATE_DOC_IMAGES") == "1":
            DOC_IMAGES.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOC_IMAGES / doc_name)
        return path


def _require_browser() -> Any:
    reason = None
    if not os.path.exists(CHROMIUM):
        reason = (
            f"{CHROMIUM} not found: install Debian's browser with "
            "`apt-get install -y chromium` (.ci/run does it)"
        )
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            reason = "the Python package playwright is missing: pip install -e '.[test]'"
        else:
            return sync_playwright
    if _in_ci():
        pytest.fail(f"UI tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(reason or "no browser")


@pytest.fixture(scope="session")
def ui_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiStack]:
    sync_playwright = _require_browser()
    from airflow_provider_firefly.testing import FireflyEmulator

    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    home = tmp_path_factory.mktemp("ui-airflow-home")
    env = server_env(home)
    env.setdefault("AIRFLOW__API_AUTH__JWT_SECRET", "firefly-ui-tests-" + "x" * 64)
    emulator = FireflyEmulator.spawn("--host", "127.0.0.1", "--job-duration", "0")
    log_path = home / "api-server.log"
    try:
        with running_api_server(
            home, env, start_timeout=SERVER_START_TIMEOUT, poll=0.3, stop_timeout=15.0
        ) as (base_url, _):
            playwright = sync_playwright().start()
            try:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                try:
                    stack = UiStack(
                        base_url=base_url,
                        emulator_url=emulator.url,
                        client_id="firefly-emulator-client",
                        client_secret="firefly-emulator-secret",
                        artifacts=ARTIFACTS,
                        browser=browser,
                    )
                    yield stack
                    (ARTIFACTS / "network.jsonl").write_text(
                        "".join(json.dumps(entry) + "\n" for entry in stack.network_log)
                    )
                finally:
                    browser.close()
            finally:
                playwright.stop()
    finally:
        emulator.stop()
        if log_path.exists():
            shutil.copyfile(log_path, ARTIFACTS / "api-server.log")
