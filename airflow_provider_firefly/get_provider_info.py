"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any

from airflow_provider_firefly import __version__


def get_provider_info() -> dict[str, Any]:
    """Return the provider's metadata; ``package-name`` must equal the distribution name."""
    return {
        "package-name": "airflow-provider-firefly",
        "name": "Adobe Firefly",
        "description": "Adobe Firefly generative image and video API for Apache Airflow.",
        "versions": [__version__],
    }
