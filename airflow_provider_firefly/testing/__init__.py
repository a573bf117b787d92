"""Local Adobe Firefly + IMS emulator for tests, demos and benchmarks.

``FireflyEmulator`` runs it in a background thread; ``python -m
airflow_provider_firefly.testing`` runs it as a process; the opt-in pytest plugin
(``pytest_plugins = ["airflow_provider_firefly.testing.pytest_plugin"]``) gives the
``firefly_emulator`` fixture. See ``docs/emulator.md``.

Running the emulator needs the ``emulator`` extra (``pip install
"airflow-provider-firefly[emulator]"``: starlette, uvicorn); without it this package and its
options still import, and starting an emulator raises
:class:`~airflow_provider_firefly.testing.extras.EmulatorDependencyError` naming the extra.
Importing this package does not import Airflow, starlette or uvicorn.
"""

from __future__ import annotations

from .config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, EmulatorConfig
from .server import FireflyEmulator, airflow_connection
from .spawned import SpawnedEmulator

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "EmulatorConfig",
    "FireflyEmulator",
    "SpawnedEmulator",
    "airflow_connection",
]
