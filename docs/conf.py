"""Sphinx configuration of the reference documentation (built by ``scripts/docs``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Importing the Airflow surface imports Airflow, which wants a home; keep it out of ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", str(ROOT / "docs" / "_build" / "airflow-home"))

from airflow_provider_firefly import __version__  # noqa: E402

project = "airflow-provider-firefly"
author = "airflow-provider-firefly developers"
copyright = "airflow-provider-firefly developers"
release = __version__
version = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "images/README*"]
root_doc = "index"

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_class_signature = "separated"
autodoc_default_options = {"members": True, "show-inheritance": True}
# Class docstring and __init__ docstring (the clients document their arguments on __init__).
autoclass_content = "both"

myst_heading_anchors = 3
html_theme = "alabaster"
html_static_path: list[str] = []

# -- nitpicky references (scripts/docs builds with -n) --------------------------------------------
# Docstrings name classes of other modules by their short name (``:class:`FireflyError```);
# those resolve like a leading-dot reference (any documented module's object of that name). What
# stays unresolved must be outside the public surface: Airflow's, the standard library's and
# OpenLineage's classes (no intersphinx: the build needs no network) and internal helpers.

nitpick_ignore_regex = [
    (r"py:.*", r"(airflow|collections\.abc|openlineage|typing)\..*"),
    (r"py:.*", r"airflow_provider_firefly(\.\w+)*\._\w+.*"),  # private modules and names
    (r"py:.*", r"airflow_provider_firefly\.client\.pacing\.T"),  # a TypeVar
    (
        r"py:class",
        r"airflow_provider_firefly\.client\."
        r"(tokens|token_cache|shared_store|access_token|http_base)\.\w+",
    ),
    (r"py:class", r"airflow_provider_firefly\.client\.(retry\.RetryPolicy|submit_methods\.\w+)"),
    # type hints imported under TYPE_CHECKING: Airflow's PokeReturnValue and internal classes
    (r"py:class", r"PokeReturnValue|StreamResult|ImageInputs"),
    # the mixin that gives operators and the sensor their hook (internal)
    (r"py:class", r"airflow_provider_firefly\.operators\.runtime\.FireflyHookMixin"),
]


def _resolve_short_names(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    if node.get("refdomain") != "py" or node.get("refspecific"):
        return None
    node["refspecific"] = True
    try:
        return env.get_domain("py").resolve_xref(
            env, node["refdoc"], app.builder, node["reftype"], node["reftarget"], node, contnode
        )
    finally:
        del node["refspecific"]


def setup(app: Any) -> None:
    app.connect("missing-reference", _resolve_short_names)
