"""Provider metadata as Airflow 3.3 reads it: schema, ProvidersManager, hook_meta, legacy form."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from airflow_provider_firefly.connection import EXTRA_FIELDS, UI_FIELD_BEHAVIOUR
from airflow_provider_firefly.get_provider_info import get_provider_info
from airflow_provider_firefly.hooks.firefly import FireflyHook


def _airflow_schema(name: str) -> dict[str, Any]:
    import airflow

    return json.loads((Path(airflow.__file__).parent / name).read_text())


def _firefly_type() -> dict[str, Any]:
    types = {c["connection-type"]: c for c in get_provider_info()["connection-types"]}
    return types["firefly"]


def test_provider_info_validates_against_airflows_runtime_schema() -> None:
    jsonschema.validate(get_provider_info(), _airflow_schema("provider_info.schema.json"))


def test_connection_type_validates_against_the_stricter_provider_yaml_schema() -> None:
    # provider_info.schema.json does not describe conn-fields; provider.yaml.schema.json does
    # (additionalProperties false, known formats and types).
    schema = _airflow_schema("provider.yaml.schema.json")["properties"]["connection-types"]
    jsonschema.validate(get_provider_info()["connection-types"], schema)


def test_package_name_and_hook_attributes_match() -> None:
    info = get_provider_info()
    assert info["package-name"] == "airflow-provider-firefly"
    entry = _firefly_type()
    assert entry["hook-class-name"] == "airflow_provider_firefly.hooks.firefly.FireflyHook"
    assert entry["hook-name"] == FireflyHook.hook_name == "Adobe Firefly"
    assert FireflyHook.conn_type == "firefly"
    assert FireflyHook.conn_name_attr == "firefly_conn_id"
    assert FireflyHook.default_conn_name == "firefly_default"
    assert callable(FireflyHook.test_connection)


def test_providers_manager_discovers_the_provider() -> None:
    from airflow.providers_manager import ProvidersManager

    pm = ProvidersManager()
    assert "airflow-provider-firefly" in pm.providers


def test_hook_meta_shows_the_form() -> None:
    """What ``GET /ui/connections/hook_meta`` returns to the 3.3 connection form."""
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    meta = {m.connection_type: m for m in HookMetaService.hook_meta_data()}["firefly"]
    assert meta.hook_name == "Adobe Firefly"
    assert meta.hook_class_name == "airflow_provider_firefly.hooks.firefly.FireflyHook"
    standard = meta.standard_fields
    assert standard is not None
    assert standard.login.title == "Client ID"
    assert standard.password.title == "Client secret"
    assert not standard.login.hidden
    assert not standard.password.hidden
    assert standard.login.placeholder == UI_FIELD_BEHAVIOUR["placeholders"]["login"]
    for hidden in ("host", "port", "url_schema"):
        assert getattr(standard, hidden).hidden, hidden
    extra = meta.model_dump()["extra_fields"]
    assert set(extra) == set(EXTRA_FIELDS)
    for name, field in EXTRA_FIELDS.items():
        shown = extra[name]
        assert shown["schema"]["title"] == field.label, name
        assert shown["description"] == field.description, name
        assert field.description, name
        assert shown["schema"]["type"] == [field.type, "null"], name
        # The form's initial value is the default itself, never Airflow's "***" mask.
        assert shown["value"] == field.default, name
        assert shown["schema"].get("default") == field.default, name


#: Extras whose value may hold a credential, and so are meant to be masked by Airflow.
SECRET_EXTRAS = {"proxy_url"}  # http://user:password@proxy:3128


def test_only_secret_extras_are_masked_by_airflow() -> None:
    """A field name with "token", "secret", "proxy"... has its value masked by Airflow in logs,
    the connection API and the form: only the extras that may hold a credential are."""
    from airflow.sdk._shared.secrets_masker import should_hide_value_for_key

    masked = {name for name in EXTRA_FIELDS if should_hide_value_for_key(name)}
    assert masked == SECRET_EXTRAS & set(EXTRA_FIELDS)


def test_legacy_ui_field_behaviour_equals_the_declarative_one() -> None:
    legacy = FireflyHook.get_ui_field_behaviour()
    declared = _firefly_type()["ui-field-behaviour"]
    assert legacy == {key.replace("-", "_"): value for key, value in declared.items()}
    assert set(legacy) == {"hidden_fields", "relabeling", "placeholders"}


def test_legacy_form_widgets_equal_conn_fields() -> None:
    """``get_connection_form_widgets()`` for Airflow <= 3.1, with wtforms alone (no
    flask-appbuilder, no flask-babel: it falls back to wtforms' widget and plain labels)."""
    wtforms = pytest.importorskip("wtforms")
    widgets = FireflyHook.get_connection_form_widgets()
    declared = _firefly_type()["conn-fields"]
    assert set(widgets) == set(declared)
    kinds = {
        "boolean": wtforms.BooleanField,
        "integer": wtforms.IntegerField,
        "number": wtforms.StringField,
        "string": wtforms.StringField,
    }

    class Form(wtforms.Form):
        pass

    for name, unbound in widgets.items():
        spec = declared[name]
        assert unbound.field_class is kinds[spec["schema"]["type"][0]], name
        # Airflow <= 3.1 accepts only these four field classes for custom widgets.
        assert unbound.field_class.__name__ in (
            "StringField",
            "PasswordField",
            "IntegerField",
            "BooleanField",
        )
        assert str(unbound.args[0]) == spec["label"], name
        assert unbound.kwargs["description"] == spec["description"], name
        assert unbound.kwargs.get("default") == spec["schema"].get("default"), name
        setattr(Form, name, unbound)
    form = Form()
    for name, spec in declared.items():
        bound = form[name]
        assert bound.label.text == spec["label"]
        assert bound.data == spec["schema"].get("default")
        assert bound()  # renders with wtforms' default widget
