"""Packaging: the emulator's web stack is an extra, and the pytest plugin is opt-in.

Each case runs in a fresh interpreter, so what is imported (or missing) is real.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)
HINT = 'pip install "airflow-provider-firefly[emulator]"'


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_importing_the_package_loads_no_web_stack() -> None:
    done = _python(
        """
        import sys
        import airflow_provider_firefly.testing
        import airflow_provider_firefly.testing.config
        import airflow_provider_firefly.testing.pytest_plugin
        import airflow_provider_firefly.testing.tls
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("starlette", "uvicorn"))
        print(loaded)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("blocked", ["starlette", "uvicorn", "anyio"])
def test_starting_without_the_extra_names_it(blocked: str) -> None:
    done = _python(
        f"""
        import sys
        sys.modules[{blocked!r}] = None  # as if not installed
        from airflow_provider_firefly.testing import EmulatorConfig, FireflyEmulator
        from airflow_provider_firefly.testing.extras import EmulatorDependencyError
        EmulatorConfig(job_duration=0)
        emu = FireflyEmulator()
        try:
            emu.start()
        except EmulatorDependencyError as exc:
            assert isinstance(exc, ImportError)
            print(exc)
        else:
            raise SystemExit("started without " + {blocked!r})
        """
    )
    assert done.returncode == 0, done.stderr
    assert repr(blocked) in done.stdout
    assert HINT in done.stdout


def test_cli_without_the_extra_exits_with_the_hint() -> None:
    done = _python(
        """
        import sys
        sys.modules["uvicorn"] = None
        from airflow_provider_firefly.testing.emulator import main
        sys.exit(main(["--port", "0"]))
        """
    )
    assert done.returncode == 1
    assert HINT in done.stderr
    assert "Traceback" not in done.stderr


def test_other_import_errors_are_not_disguised(tmp_path: Path) -> None:
    done = _python(
        """
        import sys
        sys.modules["airflow_provider_firefly.testing.app"] = None
        from airflow_provider_firefly.testing import FireflyEmulator
        from airflow_provider_firefly.testing.extras import EmulatorDependencyError
        try:
            FireflyEmulator().start()
        except EmulatorDependencyError:
            raise SystemExit("a bug in our own module was reported as a missing extra")
        except ImportError:
            print("plain ImportError")
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "plain ImportError"


_TEST_FILE = """
import httpx
import pytest


@pytest.mark.firefly_emulator(job_duration=0)
def test_fixture(firefly_emulator):
    assert firefly_emulator.state.config.job_duration == 0
    r = httpx.get(firefly_emulator.url + "/_emulator/health")
    assert r.json()["status"] == "ok"
"""


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # "-p no:firefly_emulator" keeps an older install's pytest11 entry point out of the way.
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    cmd += ["-p", "no:firefly_emulator"]
    return subprocess.run(
        [*cmd, "--rootdir", str(folder), *args, str(folder)],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        cwd=folder,
    )


def test_plugin_is_enabled_with_dash_p(tmp_path: Path) -> None:
    (tmp_path / "test_it.py").write_text(_TEST_FILE)
    without = _pytest(tmp_path)
    assert without.returncode != 0
    assert "fixture 'firefly_emulator' not found" in without.stdout
    with_p = _pytest(tmp_path, "-p", "airflow_provider_firefly.testing.pytest_plugin")
    assert with_p.returncode == 0, with_p.stdout + with_p.stderr
    assert "1 passed" in with_p.stdout


def test_plugin_is_enabled_with_pytest_plugins(tmp_path: Path) -> None:
    (tmp_path / "test_it.py").write_text(_TEST_FILE)
    (tmp_path / "conftest.py").write_text(
        'pytest_plugins = ["airflow_provider_firefly.testing.pytest_plugin"]\n'
    )
    done = _pytest(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
