"""Checks of an installed airflow-provider-firefly wheel, run by ``scripts/check-package`` with the
Python of a fresh venv outside the checkout (the working directory is outside it too, so nothing
is imported from the source tree).

``runtime`` (the wheel and its declared dependencies only): every third-party module the package
imports is declared in its metadata (``emulator`` extra for ``airflow_provider_firefly.testing``),
every runtime module imports, no pytest plugin is registered, ``airflow providers list`` shows the
provider. ``emulator`` (after installing ``[emulator]``): every module imports, and the quickstart
example DAG runs under ``airflow dags test`` against the emulator started from the install.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

DIST = "airflow-provider-firefly"
PACKAGE = "airflow_provider_firefly"
# Imports that need no declaration, each for its reason.
OPTIONAL_IMPORTS = {
    "flask_appbuilder": "hooks/firefly.py: optional Airflow 2 form widget (except ImportError)",
    "flask_babel": "hooks/firefly.py: optional Airflow 2 form labels (except ImportError)",
    "pytest": "testing/pytest_plugin.py: loaded only by pytest itself",
    "attrs": "operators/lineage.py: loaded only by Airflow's OpenLineage provider (installs it)",
    "openlineage": "operators/lineage.py: loaded only by Airflow's OpenLineage provider "
    "(installs it)",
}
# Modules only Airflow's OpenLineage provider loads (the `lineage` extra): not imported here.
LINEAGE_ONLY = ("airflow_provider_firefly.operators.lineage",)
# The distribution that provides a top-level module, where it is not the module's own name.
PROVIDED_BY = {"airflow": "apache-airflow"}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> dict[str, set[str]]:
    """Declared requirements: extra name ('' = runtime) -> canonical distribution names."""
    declared: dict[str, set[str]] = {}
    for requirement in metadata.requires(DIST) or []:
        name = _canonical(re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0])
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", requirement)
        declared.setdefault(extra.group(1) if extra else "", set()).add(name)
    return declared


def _top_level_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {PACKAGE, "__future__"}


def _package_files() -> list[Path]:
    root = Path(importlib.import_module(PACKAGE).__file__ or "").parent
    assert "site-packages" in root.parts, f"{PACKAGE} imported from {root}, not the install"
    return sorted(root.rglob("*.py"))


def _module_name(path: Path) -> str:
    root = Path(importlib.import_module(PACKAGE).__file__ or "").parent.parent
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def check_declared_imports() -> None:
    declared = _declared()
    providers = metadata.packages_distributions()
    problems = []
    for path in _package_files():
        module = _module_name(path)
        allowed = set(declared.get("", set()))
        if module.startswith(f"{PACKAGE}.testing"):
            allowed |= declared.get("emulator", set())
        for name in sorted(_top_level_imports(path)):
            if name in OPTIONAL_IMPORTS:
                continue
            dists = {_canonical(d) for d in providers.get(name, [])}
            if name in PROVIDED_BY:
                dists = {PROVIDED_BY[name]}
            if not dists & allowed:
                problems.append(f"{module} imports {name} ({sorted(dists) or 'not installed'})")
    assert not problems, "imports not declared in the wheel's metadata:\n  " + "\n  ".join(problems)
    print(f"ok: every import of {len(_package_files())} modules is declared: {declared}")


def check_modules_import(include_testing: bool) -> None:
    names = [_module_name(p) for p in _package_files()]
    names = [n for n in names if include_testing or not n.startswith(f"{PACKAGE}.testing")]
    # __main__ runs the CLI; the pytest plugin needs pytest, which only pytest users have.
    skip = (f"{PACKAGE}.testing.__main__", f"{PACKAGE}.testing.pytest_plugin")
    names = [n for n in names if n not in skip and n not in LINEAGE_ONLY]
    for name in names:
        importlib.import_module(name)
    print(f"ok: {len(names)} modules import")


def check_no_pytest_plugin() -> None:
    ours = [ep for ep in metadata.distribution(DIST).entry_points if ep.group == "pytest11"]
    assert not ours, f"the wheel registers a pytest plugin: {ours}"
    groups = sorted({ep.group for ep in metadata.distribution(DIST).entry_points})
    assert groups == ["apache_airflow_provider"], groups
    print("ok: no pytest11 entry point; entry point groups:", groups)


def _airflow(*args: str, env: dict[str, str], timeout: float = 300) -> str:
    airflow = str(Path(sys.executable).with_name("airflow"))
    result = subprocess.run(  # noqa: S603 - the venv's own airflow, fixed arguments
        [airflow, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    assert result.returncode == 0, f"airflow {' '.join(args)}:\n{output}"
    return result.stdout


def _airflow_env(home: Path, dags: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "FIREFLY"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW_PROVIDER_FIREFLY_CACHE_DIR=str(home / "token-cache"),
    )
    return env


def check_providers_list(work: Path) -> None:
    env = _airflow_env(work / "home-list", work / "no-dags")
    out = _airflow("providers", "list", "-o", "json", env=env)
    listing = next(line for line in out.splitlines() if line.startswith("[{"))
    names = {p["package_name"]: p["version"] for p in json.loads(listing)}
    assert DIST in names, sorted(names)
    assert names[DIST] == metadata.version(DIST), names[DIST]
    print(f"ok: airflow providers list shows {DIST} {names[DIST]}")


def check_quickstart(work: Path, quickstart: Path) -> None:
    from airflow_provider_firefly.testing import FireflyEmulator

    dags = work / "dags"
    dags.mkdir()
    (dags / quickstart.name).write_text(quickstart.read_text())
    out = work / "out"
    env = _airflow_env(work / "home-dag", dags)
    _airflow("db", "migrate", env=env)
    with FireflyEmulator.spawn("--host", "127.0.0.1", "--job-duration", "0.5") as emu:
        env.update(
            AIRFLOW_CONN_FIREFLY_DEFAULT=emu.airflow_connection(),
            FIREFLY_OUTPUT_DIR=f"file://{out}",
            FIREFLY_EXPECTED_SECONDS="0.2",
            FIREFLY_POLL_INTERVAL="0.2",
        )
        log = _airflow("dags", "test", "firefly_quickstart", env=env, timeout=600)
    images = sorted(out.rglob("*.*"))
    assert len(images) == 3, (images, log[-4000:])
    assert all(p.stat().st_size > 0 for p in images), images
    assert "state=success" in log or "DagRun Finished" in log, log[-4000:]
    print(f"ok: firefly_quickstart ran from the install: {len(images)} images in {out}")


def main() -> None:
    stage, repo = sys.argv[1], Path(sys.argv[2])
    with tempfile.TemporaryDirectory(prefix="ff-package-check-") as tmp:
        work = Path(tmp)
        if stage == "runtime":
            check_declared_imports()
            check_modules_import(include_testing=False)
            check_no_pytest_plugin()
            check_providers_list(work)
        elif stage == "emulator":
            check_modules_import(include_testing=True)
            check_quickstart(work, repo / "example_dags" / "firefly_quickstart.py")
        else:
            sys.exit(f"unknown stage {stage!r}")


if __name__ == "__main__":
    main()
