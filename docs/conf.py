"""Sphinx configuration of the reference documentation (built by ``scripts/docs``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

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
