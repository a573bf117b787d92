"""The one place that loads the emulator's web stack, and says which extra to install.

Starlette, uvicorn and anyio are needed only to *run* the emulator; they are declared in the
``emulator`` extra, not in the provider's own requirements. Everything else in this package
(options, the TLS helper, media encoders, the pytest plugin module) imports without them.
"""

from __future__ import annotations

from typing import Any

#: The extra that installs what the emulator needs to run.
EXTRA = "emulator"
INSTALL_HINT = f'pip install "airflow-provider-firefly[{EXTRA}]"'
#: Top-level modules of the emulator's web stack.
EMULATOR_MODULES = ("starlette", "uvicorn", "anyio")


class EmulatorDependencyError(ImportError):
    """The emulator's web stack is not installed."""


def load_server_stack() -> tuple[Any, Any]:
    """``(uvicorn module, EmulatorApp class)``, or :class:`EmulatorDependencyError` naming the
    missing module and the extra that provides it."""
    try:
        import uvicorn

        from .app import EmulatorApp
    except ImportError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing not in EMULATOR_MODULES:
            raise
        raise EmulatorDependencyError(
            f"The Firefly emulator needs {missing!r}, which is not installed. Install the "
            f"provider's {EXTRA!r} extra: {INSTALL_HINT}",
            name=missing,
        ) from exc
    return uvicorn, EmulatorApp
