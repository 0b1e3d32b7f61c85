"""The README's two commands are what CI runs and what a new user types."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Set up and run", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_readme_has_exactly_two_one_line_commands():
    commands = _readme_commands()
    assert len(commands) == 2
    demo, tests = commands
    assert "\n" not in demo and "\n" not in tests
    assert demo.startswith("python3 -m venv .venv") and demo.endswith("churnml demo")
    assert tests.startswith("python3 -m venv .venv") and "pytest" in tests and "ruff" in tests


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert _readme_commands()[1] in ci


def test_models_folder_is_ignored_but_documented():
    ignore = (ROOT / ".gitignore").read_text().splitlines()
    assert "/models/*" in ignore and "!/models/README.md" in ignore


def test_only_the_tracking_package_imports_mlflow():
    # one place owns MLflow, so the rest of churnml imports (and tests) without it
    offenders = [
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "src" / "churnml").rglob("*.py")
        if "tracking" not in path.parts
        and re.search(r"^\s*(import mlflow|from mlflow)", path.read_text(), re.MULTILINE)
    ]
    assert offenders == []
