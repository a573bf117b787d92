"""Sensors of the Firefly provider: ``FireflyJobSensor``.

Imported lazily, like the operators: ``from airflow_provider_firefly.sensors import
FireflyJobSensor`` loads the sensor's module only then.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_firefly.sensors.firefly import FireflyJobSensor

__all__ = ["FireflyJobSensor"]


def __getattr__(name: str) -> Any:
    if name != "FireflyJobSensor":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.firefly"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
