"""What importing a provider module adds to a DAG file's parse time over ``airflow.sdk`` alone.

Each sample is a fresh interpreter that imports ``airflow.sdk`` (timed), then the module under
test (timed: the added cost). Samples of the different modules are interleaved, repeated
``--repeat`` times, and the median is reported. Byte code is compiled once beforehand into a
private ``PYTHONPYCACHEPREFIX`` so every module is measured warm, as a scheduler's DAG processor
sees it (this venv is installed without ``.pyc`` files and ``PYTHONDONTWRITEBYTECODE`` may be
set).

The HTTP provider (``apache-airflow-providers-http``) is installed in the venv for this
comparison only; it is not a dependency.

    .venv/bin/python benchmarks/bench_import_time.py [--repeat 10]
        [--modules airflow_provider_firefly.operators,airflow_provider_firefly.sensors.firefly]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile

from _common import ROOT, machine

HTTP_MODULE = "airflow.providers.http.operators.http"
SDK_ONLY = "(airflow.sdk only)"

PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
import airflow.sdk
t1 = time.perf_counter()
for name in sys.argv[1:]:
    __import__(name)
t2 = time.perf_counter()
print("RESULT " + json.dumps({"sdk": t1 - t0, "added": t2 - t1, "modules": len(sys.modules)}))
"""


def default_modules() -> list[str]:
    names = []
    if importlib.util.find_spec("airflow_provider_firefly.operators") is not None:
        names.append("airflow_provider_firefly.operators")
        # The package is lazy; a DAG file really pays for the operator modules it uses.
        for module in ("images", "base"):
            name = f"airflow_provider_firefly.operators.{module}"
            if importlib.util.find_spec(name) is not None:
                names.append(name)
    names += [
        "airflow_provider_firefly.hooks.firefly",
        "airflow_provider_firefly.sensors.firefly",
        "airflow_provider_firefly.triggers.firefly",
    ]
    return names


def sample(modules: list[str], env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *modules],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    lines = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"import of {modules} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(lines[-1][7:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument(
        "--modules",
        default=None,
        help="comma-separated provider modules, each measured alone (default: operators "
        "package if present, hook, sensor, trigger)",
    )
    args = parser.parse_args()
    modules = args.modules.split(",") if args.modules else default_modules()
    try:
        from importlib.metadata import version

        http_version = version("apache-airflow-providers-http")
    except Exception:
        http_version = None
    cases: list[tuple[str, list[str]]] = [(SDK_ONLY, [])]
    cases += [(m, [m]) for m in modules]
    if http_version:
        cases.append((f"{HTTP_MODULE} ({http_version})", [HTTP_MODULE]))
    cases.append(("all provider modules above together", modules))

    with tempfile.TemporaryDirectory(prefix="pycache-") as prefix:
        env = {**os.environ, "PYTHONPYCACHEPREFIX": prefix, "AIRFLOW__CORE__LOAD_EXAMPLES": "0"}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        for _, mods in cases:  # compile byte code once (warm-up, not measured)
            sample(mods, env)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in cases}
        for _ in range(args.repeat):
            for name, mods in cases:
                results[name].append(sample(mods, env))

    sdk_median = statistics.median(r["sdk"] for rows in results.values() for r in rows)
    print(f"\nImport time in fresh interpreters, median of {args.repeat}, warm .pyc; {machine()}")
    print(f"import airflow.sdk alone: {1000 * sdk_median:.0f} ms (median over every sample)")
    header = f"{'module imported after airflow.sdk':<62}{'added ms':>10}{'min':>8}{'max':>8}"
    print(header)
    print("-" * len(header))
    for name, rows in results.items():
        added = [1000 * r["added"] for r in rows]
        print(f"{name:<62}{statistics.median(added):>10.1f}{min(added):>8.1f}{max(added):>8.1f}")
    print("goal: the operators module adds under 30 ms, and less than the HTTP operator module")


if __name__ == "__main__":
    main()
