"""Public names of a package that load their module on first access.

The operators, sensors and client packages export many names, but a DAG file that imports one
operator must not pay for the others (nor for the HTTP client). Each package lists its names
once, name → module, and takes its ``__getattr__`` and ``__dir__`` from :func:`lazy_exports`;
type checkers see the same names through imports under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, modules: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``, whose public names are the keys of
    ``modules``; each value is the module defining the name, relative to ``package`` unless it
    holds a dot. A name is imported on first access and kept in the package's namespace."""

    def __getattr__(name: str) -> Any:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        path = module if "." in module else f"{package}.{module}"
        value = getattr(importlib.import_module(path), name)
        setattr(importlib.import_module(package), name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(importlib.import_module(package)), *modules})

    return __getattr__, __dir__
