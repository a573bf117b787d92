"""The package as users get it: ``scripts/check-package`` builds the wheel and sdist with
``uv build``, installs the wheel with Airflow into a fresh venv in a temporary folder (run from
outside the checkout), and checks there that every import is declared, every module imports, no
pytest plugin is registered, ``airflow providers list`` shows the provider and the quickstart
example DAG runs under ``airflow dags test`` against the emulator from that install."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.airflow]

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(1200)
def test_wheel_installed_outside_the_checkout_works() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "FIREFLY"))}
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "check-package")],
        env=env,
        capture_output=True,
        text=True,
        timeout=1150,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    for step in (
        "hold LICENSE and the spec NOTICE",
        "every import of",
        "modules import",
        "no pytest11 entry point",
        "airflow providers list shows airflow-provider-firefly",
        "firefly_quickstart ran from the install: 3 images",
        "== package checks passed",
    ):
        assert step in output, (step, output[-6000:])
