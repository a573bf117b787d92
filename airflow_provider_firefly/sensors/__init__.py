"""Sensors of the Firefly provider: ``FireflyJobSensor``.

Imported lazily, like the operators: ``from airflow_provider_firefly.sensors import
FireflyJobSensor`` loads the sensor's module only then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_firefly.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from airflow_provider_firefly.sensors.firefly import FireflyJobSensor as FireflyJobSensor

_MODULES = {"FireflyJobSensor": "firefly"}
__all__ = sorted(_MODULES)  # noqa: PLE0605
__getattr__, __dir__ = lazy_exports(__name__, _MODULES)
