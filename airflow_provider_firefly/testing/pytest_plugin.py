"""pytest plugin: the ``firefly_emulator`` fixture. Opt-in: installing the provider does not
register it. Enable it in the root ``conftest.py`` of your tests::

    pytest_plugins = ["airflow_provider_firefly.testing.pytest_plugin"]

or on the command line: ``pytest -p airflow_provider_firefly.testing.pytest_plugin``. The
emulator needs the ``emulator`` extra (``pip install "airflow-provider-firefly[emulator]"``).

Importing this module is cheap: the emulator (uvicorn, starlette, jsonschema) is imported only
when a test requests the fixture. No Airflow import.

* ``firefly_emulator``: a running :class:`FireflyEmulator`, shared by the session and reset
  before each test (options back to defaults, jobs/counters/scripts cleared).
* ``@pytest.mark.firefly_emulator(job_duration=0, rate_limit=4)``: options for one test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .server import FireflyEmulator


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "firefly_emulator(**options): options for the firefly_emulator fixture in this test",
    )


@pytest.fixture(scope="session")
def firefly_emulator_session() -> Iterator[FireflyEmulator]:
    """One emulator for the whole session (prefer ``firefly_emulator``)."""
    from .server import FireflyEmulator

    with FireflyEmulator() as emu:
        yield emu


@pytest.fixture
def firefly_emulator(
    firefly_emulator_session: FireflyEmulator, request: pytest.FixtureRequest
) -> FireflyEmulator:
    """A running emulator with fresh state; marker kwargs are applied as options."""
    emu = firefly_emulator_session
    emu.reset()
    options: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("firefly_emulator"))):
        options.update(marker.kwargs)
    if options:
        emu.configure(**options)
    return emu
