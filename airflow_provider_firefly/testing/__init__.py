"""Local Adobe Firefly + IMS emulator for tests, demos and benchmarks.

``FireflyEmulator`` runs it in a background thread; ``python -m
airflow_provider_firefly.testing.emulator`` runs it as a process; the pytest plugin
(``firefly_emulator`` fixture) is registered as the ``firefly_emulator`` pytest11 entry point.
See ``docs/emulator.md``. Importing this package does not import Airflow.
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
