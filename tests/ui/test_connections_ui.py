"""The "Adobe Firefly" connection in Airflow's own UI, in a real browser (headless Chromium).

Against a real ``airflow api-server`` and the Firefly/IMS emulator (see ``conftest.py``):

- the Add Connection type list offers "Adobe Firefly";
- its form shows "Client ID", "Client secret" and every extra field with its label, help text and
  default, and hides host, port and schema;
- filling Client ID, Client secret, IMS URL and Firefly API URL and pressing Save creates the
  connection (checked through ``GET /api/v2/connections/<id>``);
- the row's "Test Connection" button reports success against the emulator (whose IMS counter goes
  up) and, for a second connection with a wrong secret, a failure that says what to fix. The
  text of each toast is read from the page.

**Airflow 3.3.2 Test-button bug, and the workaround used here.** The row button posts
``port: Number(null)`` = ``0`` for a connection without a port, and the server, which treats only
``""`` as "no port", answers 400 "The host or port to test differs from the stored connection"
(fixed upstream by apache/airflow#73298, after 3.3.2). Our form hides the port, so every Firefly
connection saved from the UI has none. The first Test press of the session is made as a user
would; when it gets exactly that 400 (it then checks the "Test Connection Failed" toast, saves
``test-button-port-bug.png`` and checks that no IMS request was made), it stores ``port=443``
on the connection through the REST API (``PATCH /api/v2/connections/<id>?update_mask=port``;
the CLI equivalent is ``airflow connections add ... --conn-port 443``), reloads the page and
presses the button again.
Later presses in the session store the port first. The provider ignores the port, so this changes
nothing else. On an Airflow with the fix, the first press already gets the real result and no port
is stored.

Screenshots land in ``test-artifacts/ui/`` on every run (and in ``docs/images/`` with
``FIREFLY_UPDATE_DOC_IMAGES=1``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from airflow_provider_firefly.connection import EXTRA_FIELDS, HOOK_NAME

from .conftest import UiStack

pytestmark = [pytest.mark.ui, pytest.mark.slow]

GOOD_ID = "ff_ui_good"
WRONG_ID = "ff_ui_wrong_secret"
WRONG_SECRET = "not-the-emulator-secret"
PORT_BUG = "host or port to test differs from the stored connection"
WORKAROUND_PORT = 443


@pytest.fixture
def page(ui_stack: UiStack) -> Iterator[Any]:
    page = ui_stack.new_page()
    yield page
    page.context.close()


def open_add_form(stack: UiStack, page: Any, conn_id: str) -> Any:
    """Connections list > "Add Connection" (a modal), fill the id, choose "Adobe Firefly"."""
    page.goto(stack.base_url + "/connections")
    page.get_by_role("button", name="Add Connection").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Connection ID").fill(conn_id)
    combo = dialog.get_by_role("combobox")  # react-select
    combo.click()
    combo.fill("Firefly")
    dialog.get_by_role("option", name=HOOK_NAME, exact=True).wait_for()
    page.keyboard.press("Enter")
    dialog.locator('input[name="login"]').wait_for()
    return dialog


def save_connection(stack: UiStack, page: Any, conn_id: str, secret: str) -> dict[str, Any]:
    """Fill the form as a user would and press Save; returns the POST's response body."""
    dialog = open_add_form(stack, page, conn_id)
    dialog.locator('input[name="login"]').fill(stack.client_id)
    dialog.locator('input[name="password"]').fill(secret)
    dialog.get_by_role("button", name="Extra Fields", exact=True).click()
    dialog.locator('input[name="element_ims_url"]').fill(stack.emulator_url)
    dialog.locator('input[name="element_api_url"]').fill(stack.emulator_url)
    with page.expect_response(
        lambda r: r.url.endswith("/api/v2/connections") and r.request.method == "POST"
    ) as info:
        dialog.get_by_role("button", name="Save").click()
    response = info.value
    assert response.status == 201, response.text()
    dialog.wait_for(state="hidden")
    page.get_by_role("row").filter(has_text=conn_id).wait_for()
    return dict(response.json())


@pytest.fixture(scope="module")
def saved_connections(ui_stack: UiStack) -> dict[str, dict[str, Any]]:
    """Both connections, created through the Add Connection form."""
    page = ui_stack.new_page()
    try:
        return {
            GOOD_ID: save_connection(ui_stack, page, GOOD_ID, ui_stack.client_secret),
            WRONG_ID: save_connection(ui_stack, page, WRONG_ID, WRONG_SECRET),
        }
    finally:
        page.context.close()


@dataclass
class ButtonResult:
    status: int  # HTTP status of POST /api/v2/connections/test
    body: dict[str, Any]
    toast: str  # the toast's text, as shown
    port_workaround: bool  # the 3.3.2 port bug was hit and worked around


def press_test_button(stack: UiStack, page: Any, conn_id: str, expect_toast: str) -> ButtonResult:
    """Press the row's "Test Connection" button; work around the 3.3.2 port bug if it bites."""

    def press(toast_title: str) -> tuple[int, dict[str, Any], str]:
        page.goto(stack.base_url + "/connections")
        row = page.get_by_role("row").filter(has_text=conn_id)
        with page.expect_response(lambda r: r.url.endswith("/api/v2/connections/test")) as info:
            row.get_by_role("button", name="Test Connection").click()
        response = info.value
        toast = page.get_by_role("status").filter(has_text=toast_title)
        toast.wait_for()
        return response.status, dict(response.json()), toast.inner_text()

    def store_port() -> None:
        patched, answer = stack.api(
            "PATCH",
            f"/api/v2/connections/{conn_id}?update_mask=port",
            {"connection_id": conn_id, "conn_type": "firefly", "port": WORKAROUND_PORT},
        )
        assert patched == 200, answer

    if stack.notes.get("port_bug"):  # seen once in this session: go straight to the workaround
        store_port()
        status, body, toast = press(expect_toast)
        return ButtonResult(status, body, toast, port_workaround=True)
    before = stack.counters()
    status, body, toast = press("Test Connection")
    if status == 400 and PORT_BUG in str(body.get("detail")):
        stack.notes["port_bug"] = True
        assert "Test Connection Failed" in toast, toast
        stack.shot(page, "test-button-port-bug.png")
        assert stack.counters()["ims_token_requests"] == before["ims_token_requests"]
        store_port()
        status, body, toast = press(expect_toast)
        return ButtonResult(status, body, toast, port_workaround=True)
    assert expect_toast in toast, toast
    return ButtonResult(status, body, toast, port_workaround=False)


def test_type_list_offers_adobe_firefly(ui_stack: UiStack, page: Any) -> None:
    page.goto(ui_stack.base_url + "/connections")
    page.get_by_role("button", name="Add Connection").click()
    combo = page.get_by_role("dialog").get_by_role("combobox")
    combo.click()
    combo.fill("Adobe")
    option = page.get_by_role("option", name=HOOK_NAME, exact=True)
    option.wait_for()
    assert option.inner_text() == "Adobe Firefly"
    ui_stack.shot(page, "type-list.png")


def test_form_shows_fields_with_labels_help_and_defaults(ui_stack: UiStack, page: Any) -> None:
    page.set_viewport_size({"width": 1000, "height": 760})
    dialog = open_add_form(ui_stack, page, "ff_ui_form")

    # Standard Fields (open by default): Client ID / Client secret; host, port, schema hidden.
    text = dialog.inner_text()
    assert "Client ID" in text
    assert "Client secret" in text
    login = dialog.locator('input[name="login"]')
    password = dialog.locator('input[name="password"]')
    assert login.get_attribute("placeholder") == "Client ID of an OAuth server-to-server credential"
    assert password.get_attribute("type") == "password"
    for hidden in ("host", "port", "schema"):
        assert dialog.locator(f'input[name="{hidden}"]').count() == 0, hidden
    login.fill(ui_stack.client_id)
    password.fill(ui_stack.client_secret)
    ui_stack.shot(dialog, "form-standard-fields.png", doc_name="connection-form.png")

    # Extra Fields: every field of the provider's table, with its label, help text and default.
    dialog.get_by_role("button", name="Extra Fields", exact=True).click()
    dialog.locator('input[name="element_scopes"]').wait_for()
    text = dialog.inner_text()
    for name, spec in EXTRA_FIELDS.items():
        assert spec.label in text, name
        assert spec.description in text, name
        field = dialog.locator(f'input[name="element_{name}"]')
        if spec.type == "boolean":
            assert field.is_checked() is bool(spec.default), name
        else:
            expected = "" if spec.default is None else str(spec.default)
            assert field.input_value() == expected, name
    # The ones a user must know, spelled out:
    assert dialog.get_by_text("Scopes", exact=True).is_visible()
    assert dialog.get_by_text("IMS URL", exact=True).is_visible()
    assert dialog.get_by_text("Firefly API URL", exact=True).is_visible()
    assert dialog.locator('input[name="element_ims_url"]').input_value() == (
        "https://ims-na1.adobelogin.com"
    )
    assert dialog.locator('input[name="element_api_url"]').input_value() == (
        "https://firefly-api.adobe.io"
    )
    page.set_viewport_size({"width": 1000, "height": 1900})
    ui_stack.shot(dialog, "form-extra-fields.png")


def test_save_creates_the_connection(
    ui_stack: UiStack, saved_connections: dict[str, dict[str, Any]]
) -> None:
    status, conn = ui_stack.api("GET", f"/api/v2/connections/{GOOD_ID}")
    assert status == 200, conn
    assert conn["conn_type"] == "firefly"
    assert conn["login"] == ui_stack.client_id
    assert conn["password"] == "***"  # stored, and masked by the API
    assert conn["host"] is None
    extra = json.loads(conn["extra"])
    assert extra["ims_url"] == ui_stack.emulator_url
    assert extra["api_url"] == ui_stack.emulator_url
    assert extra["scopes"] == EXTRA_FIELDS["scopes"].default
    assert extra["host_cache"] is True
    assert extra["shared_cache"] is False
    assert extra["max_attempts"] == 5
    assert saved_connections[GOOD_ID]["connection_id"] == GOOD_ID
    status, other = ui_stack.api("GET", f"/api/v2/connections/{WRONG_ID}")
    assert status == 200, other
    assert other["conn_type"] == "firefly"


def test_test_button_succeeds_against_the_emulator(
    ui_stack: UiStack, saved_connections: dict[str, dict[str, Any]], page: Any
) -> None:
    before = ui_stack.counters()
    result = press_test_button(ui_stack, page, GOOD_ID, "Test Connection Successful")
    ui_stack.shot(page, "test-button-success.png", doc_name="connection-test-ok.png")
    after = ui_stack.counters()

    assert result.status == 200, result.body
    assert result.body["status"] is True, result.body
    assert "Test Connection Successful" in result.toast
    assert f"IMS issued a token for client {ui_stack.client_id}" in result.toast
    assert ui_stack.emulator_url in result.toast
    assert ui_stack.client_secret not in result.toast
    # The test ran on the API server against the emulator: one new token, one probe call.
    assert after["ims_tokens_issued"] == before["ims_tokens_issued"] + 1
    assert after["ims_token_requests"] == before["ims_token_requests"] + 1
    print(f"port workaround needed: {result.port_workaround}")


def test_test_button_reports_a_wrong_secret(
    ui_stack: UiStack, saved_connections: dict[str, dict[str, Any]], page: Any
) -> None:
    before = ui_stack.counters()
    result = press_test_button(ui_stack, page, WRONG_ID, "Test Connection Failed")
    ui_stack.shot(page, "test-button-wrong-secret.png")
    after = ui_stack.counters()

    assert result.status == 200, result.body
    assert result.body["status"] is False, result.body
    assert "Test Connection Failed" in result.toast
    assert "IMS rejected the client secret" in result.toast
    assert "Client secret" in result.toast  # says which field to fix
    assert WRONG_SECRET not in result.toast
    assert after["ims_token_requests"] > before["ims_token_requests"]
    assert after["ims_tokens_issued"] == before["ims_tokens_issued"]
