"""The provider as a real Airflow API server and CLI show it, on every supported Airflow minor.

What a user of Airflow 3.0, 3.1, 3.2 or 3.3 sees: the provider in ``airflow providers list``,
the "Adobe Firefly" connection form served by ``GET /ui/connections/hook_meta`` (built from the
hook's legacy methods on 3.0/3.1, from ``get_provider_info()`` on 3.2+), and the Test button
(``POST /api/v2/connections/test``, which runs ``FireflyHook.test_connection`` inside the API
server) against the emulator, for a good and a wrong secret. ``scripts/test-airflow-minor`` runs
this module on each older minor; the full suite runs it on the newest.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from airflow_provider_firefly.compat import AIRFLOW_V_3_2_PLUS
from airflow_provider_firefly.connection import EXTRA_FIELDS, HOOK_NAME, UI_FIELD_BEHAVIOUR
from airflow_provider_firefly.testing import SpawnedEmulator
from airflow_provider_firefly.testing.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

from .conftest import AIRFLOW, ApiServer, server_env

pytestmark = [pytest.mark.airflow, pytest.mark.slow]


def _firefly_meta(api_server: ApiServer) -> dict[str, Any]:
    status, body = api_server.request("GET", "/ui/connections/hook_meta")
    assert status == 200, (status, body)
    types = {entry["connection_type"]: entry for entry in body}
    assert "firefly" in types, sorted(types)
    return dict(types["firefly"])


def test_hook_meta_serves_the_connection_form(api_server: ApiServer) -> None:
    meta = _firefly_meta(api_server)
    assert meta["hook_name"] == HOOK_NAME
    assert meta["hook_class_name"] == "airflow_provider_firefly.hooks.firefly.FireflyHook"
    standard = meta["standard_fields"]
    assert standard is not None, "no standard fields: on 3.0/3.1 wtforms is missing"
    assert standard["login"]["title"] == UI_FIELD_BEHAVIOUR["relabeling"]["login"]
    assert standard["password"]["title"] == UI_FIELD_BEHAVIOUR["relabeling"]["password"]
    assert standard["login"]["placeholder"] == UI_FIELD_BEHAVIOUR["placeholders"]["login"]
    assert not standard["login"]["hidden"]
    assert not standard["password"]["hidden"]
    for hidden in ("host", "port", "url_schema"):
        assert standard[hidden]["hidden"], hidden
    extra = meta["extra_fields"]
    assert extra is not None
    assert set(extra) == set(EXTRA_FIELDS)
    for name, field in EXTRA_FIELDS.items():
        shown = extra[name]
        assert shown["schema"]["title"] == field.label, name
        assert shown["description"] == field.description, name
        # The form starts from the default itself, never Airflow's "***" mask.
        assert shown["value"] == field.default, name
        if AIRFLOW_V_3_2_PLUS:  # declared types; 3.0/3.1 know only string/integer/boolean widgets
            assert shown["schema"]["type"] == [field.type, "null"], name


def _test_connection(api_server: ApiServer, emu: SpawnedEmulator, secret: str) -> dict[str, Any]:
    body = {
        "connection_id": "ff_compat_test",
        "conn_type": "firefly",
        "login": DEFAULT_CLIENT_ID,
        "password": secret,
        "extra": json.dumps({"api_url": emu.url, "ims_url": emu.url, "max_attempts": 1}),
    }
    status, answer = api_server.request("POST", "/api/v2/connections/test", body)
    assert status == 200, (status, answer)
    return dict(answer)


def test_test_button_succeeds_against_the_emulator(
    api_server: ApiServer, compat_emulator: SpawnedEmulator
) -> None:
    answer = _test_connection(api_server, compat_emulator, DEFAULT_CLIENT_SECRET)
    assert answer["status"] is True, answer
    assert "Firefly" in answer["message"], answer


def test_test_button_reports_a_wrong_secret(
    api_server: ApiServer, compat_emulator: SpawnedEmulator
) -> None:
    wrong = "wrong-secret-value-for-the-compat-test"
    answer = _test_connection(api_server, compat_emulator, wrong)
    assert answer["status"] is False, answer
    assert "secret" in answer["message"].lower(), answer
    assert wrong not in answer["message"]
    assert wrong not in api_server.log_path.read_text(errors="replace")


def test_providers_list_shows_the_provider(api_server: ApiServer) -> None:
    result = subprocess.run(
        [AIRFLOW, "providers", "list", "-o", "json"],
        env=server_env(api_server.home),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # Airflow 3.0 logs to stdout before the JSON: take the line that is the JSON list.
    listing = next(line for line in result.stdout.splitlines() if line.startswith("[{"))
    providers = {p["package_name"]: p for p in json.loads(listing)}
    assert "airflow-provider-firefly" in providers
    assert providers["airflow-provider-firefly"]["description"]
