"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``).

Airflow 3.2+ builds the connection form from ``conn-fields`` and ``ui-field-behaviour`` here,
without importing the hook; both come from :mod:`airflow_provider_firefly.connection`.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_firefly import __version__
from airflow_provider_firefly.connection import (
    CONN_TYPE,
    EXTRA_FIELDS,
    HOOK_NAME,
    UI_FIELD_BEHAVIOUR,
)


def get_provider_info() -> dict[str, Any]:
    """Return the provider's metadata; ``package-name`` must equal the distribution name."""
    return {
        "package-name": "airflow-provider-firefly",
        "name": "Adobe Firefly",
        "description": "Adobe Firefly generative image and video API for Apache Airflow.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Adobe Firefly",
                "external-doc-url": "https://developer.adobe.com/firefly-services/docs/firefly-api/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Adobe Firefly",
                "python-modules": ["airflow_provider_firefly.hooks.firefly"],
            }
        ],
        "operators": [
            {
                "integration-name": "Adobe Firefly",
                "python-modules": [
                    "airflow_provider_firefly.operators.base",
                    "airflow_provider_firefly.operators.images",
                    "airflow_provider_firefly.operators.image_edits",
                    "airflow_provider_firefly.operators.composite",
                    "airflow_provider_firefly.operators.video",
                    "airflow_provider_firefly.operators.uploads",
                    "airflow_provider_firefly.operators.custom_models",
                    "airflow_provider_firefly.operators.generic",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "Adobe Firefly",
                "python-modules": ["airflow_provider_firefly.sensors.firefly"],
            }
        ],
        "triggers": [
            {
                "integration-name": "Adobe Firefly",
                "python-modules": ["airflow_provider_firefly.triggers.firefly"],
            }
        ],
        "extra-links": ["airflow_provider_firefly.operators.links.FireflyOutputLink"],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": "airflow_provider_firefly.hooks.firefly.FireflyHook",
                "hook-name": HOOK_NAME,
                "conn-fields": {name: field.conn_field() for name, field in EXTRA_FIELDS.items()},
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
            }
        ],
    }
