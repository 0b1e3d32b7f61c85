"""The one-way architecture: the import-linter contract, no hidden local imports, the map."""

from __future__ import annotations

import ast
import pydoc
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import churnml
from tests.conftest import ROOT

PACKAGE = ROOT / "src" / "churnml"


def _layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layered,) = [c for c in config["contracts"] if c["type"] == "layers"]
    return layered["layers"]


def _modules(layers: list[str]) -> list[str]:
    """The layers' modules in order, siblings split: "a | b" is two independent modules."""
    return [name.strip() for layer in layers for name in layer.split("|")]


def test_sibling_layers_are_split():
    assert _modules(["churnml.cli", "churnml.store | churnml.tracking", "churnml.scoring"]) == [
        "churnml.cli",
        "churnml.store",
        "churnml.tracking",
        "churnml.scoring",
    ]


def test_import_linter_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_every_module_belongs_to_a_layer():
    layers = _modules(_layers())
    assert "ignore_imports" not in str(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    )  # no exceptions list
    modules = {
        ".".join(("churnml", *p.relative_to(PACKAGE).with_suffix("").parts))
        for p in PACKAGE.rglob("*.py")
    }
    modules -= {"churnml.__init__", "churnml.__main__"}
    orphans = [
        m for m in sorted(modules) if not any(m == x or m.startswith(x + ".") for x in layers)
    ]
    assert orphans == []


def _local_churnml_imports(path: Path, root: Path = ROOT) -> list[str]:
    """Churnml imports inside a function or method body."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                names = []
                if isinstance(inner, ast.Import):
                    names = [a.name for a in inner.names]
                elif isinstance(inner, ast.ImportFrom):
                    names = [inner.module or ""]
                bad = [n for n in names if n == "churnml" or n.startswith("churnml.")]
                if bad:
                    found.append(f"{path.relative_to(root)}:{inner.lineno} imports {bad[0]}")
    return found


def test_no_churnml_import_hides_inside_a_function():
    found = [hit for path in PACKAGE.rglob("*.py") for hit in _local_churnml_imports(path)]
    assert found == []


def _imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module or "")
    return names


def test_churnml_never_imports_the_service():
    # serve/ imports churnml; `churnml serve` names the app by its import string only
    found = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in PACKAGE.rglob("*.py")
        for name in _imported(path)
        if name == "serve" or name.startswith("serve.")
    ]
    assert found == []


def test_the_check_catches_a_local_import(tmp_path):
    # the AST check above can fail: a local import in a function is found
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from churnml.cli import app\n    return app\n")
    assert _local_churnml_imports(sample, tmp_path) == ["sample.py:2 imports churnml.cli"]


def test_readme_module_map_matches_the_layers():
    text = (ROOT / "README.md").read_text()
    section = text.split("### Module map", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(churnml[\w.]*)` \| ([^|]+) \|", section, re.MULTILINE)
    # one row per module, siblings ("a | b" in the contract) in the order the contract gives
    assert [layer for layer, _ in rows] == _modules(_layers())
    for layer, cell in rows:
        listed = set(re.findall(r"`(\w+)`", cell))
        folder = PACKAGE / layer.removeprefix("churnml.")
        if folder.is_dir():
            files = {p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
        else:
            files = {layer.rsplit(".", 1)[1]}
        assert listed == files, layer


def test_help_shows_the_public_api():
    text = pydoc.render_doc(churnml, renderer=pydoc.plaintext)
    for name in ("load_transactions", "describe", "evaluate", "train", "score", "run_demo"):
        assert name in churnml.__all__
        assert re.search(rf"\b{name}\(", text), name
