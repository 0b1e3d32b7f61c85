"""The documentation site builds with ``mkdocs build --strict`` and documents the public API.

Strict means any warning fails: a broken link or anchor, a page missing from the nav, a
docstring mkdocstrings cannot parse (an unknown parameter, say). The build is offline (no fonts
or CDN) and reads nothing outside the repository.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import churnml
from tests.conftest import ROOT

# The strict build takes about 10 s (griffe reads src/, mkdocstrings renders every public object).
pytestmark = pytest.mark.slow

# Functions every reader of the reference looks for first (the spec's public verbs).
KEY_FUNCTIONS = ("load_transactions", "describe", "evaluate", "train", "score")

# Modules with a reference page of their own (docs/reference/<name>.md, in the nav).
MAIN_MODULES = (
    "data",
    "models",
    "evaluation",
    "workflows",
    "tracking",
    "settings",
    "config",
    "exceptions",
    "summary",
    "scoring",
    "campaign",
    "store",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # mkdocs-material's banner, not ours
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{log}"
    return out


def _anchors(page: Path) -> set[str]:
    return set(re.findall(r'id="(churnml[\w.]*)"', page.read_text(encoding="utf-8")))


def test_reference_page_documents_the_key_functions(site):
    anchors = _anchors(site / "reference" / "api" / "index.html")
    missing = [name for name in KEY_FUNCTIONS if f"churnml.{name}" not in anchors]
    assert not missing, f"reference/api.md renders no entry for {missing}"


def test_sphinx_roles_are_not_printed(site):
    # numpydoc cross-references (:func:`train`) are rendered as code by docs/hooks.py
    pages = sorted((site / "reference").rglob("index.html"))
    leftovers = [
        p.parent.name for p in pages if re.search(r":(func|class|meth|data):", p.read_text())
    ]
    assert pages and leftovers == []


def test_reference_page_documents_every_public_name(site):
    anchors = _anchors(site / "reference" / "api" / "index.html")
    missing = [
        name
        for name in churnml.__all__
        if name != "__version__" and f"churnml.{name}" not in anchors
    ]
    assert not missing, f"reference/api.md renders no entry for {missing} (no docstring?)"


@pytest.mark.parametrize("module", MAIN_MODULES)
def test_every_main_module_has_a_reference_page(module, site):
    assert importlib.util.find_spec(f"churnml.{module}") is not None, f"churnml.{module} is gone"
    source = ROOT / "docs" / "reference" / f"{module}.md"
    assert source.exists(), f"{source.relative_to(ROOT)} is missing"
    assert f"::: churnml.{module}" in source.read_text(encoding="utf-8")
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert f"reference/{module}.md" in config, f"reference/{module}.md is not in the nav"
    assert f"churnml.{module}" in _anchors(site / "reference" / module / "index.html")
