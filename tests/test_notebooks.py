"""The notebooks: committed without outputs, and each runs top to bottom with real results.

The execution tests run every notebook in a fresh kernel of *this* interpreter (the venv's), in a
temporary working directory, then read the JSON line its last cell prints. They measure the wall
time and print it (``pytest -s`` or ``-rA`` shows it) but do not assert on it.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
EXPECTED = (
    "01_quickstart.ipynb",
    "02_retrain_and_compare.ipynb",
    "03_campaign_planning.ipynb",
)
RESULT_PREFIX = "NOTEBOOK_RESULT "
KERNEL = "python3"


def _notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def test_expected_notebooks_exist():
    names = {p.name for p in _notebook_paths()}
    assert set(EXPECTED) <= names, f"missing notebooks: {set(EXPECTED) - names}"


@pytest.mark.parametrize("path", _notebook_paths(), ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    assert not dirty, (
        f"{path.name}: code cells {dirty} carry outputs or execution counts; clear them "
        "(e.g. `jupyter nbconvert --clear-output --inplace`) before committing"
    )
    assert "widgets" not in nb.metadata, f"{path.name}: widget state in the notebook metadata"
    timed = [i for i, cell in enumerate(nb.cells) if "execution" in cell.get("metadata", {})]
    assert not timed, f"{path.name}: cells {timed} carry execution timings in their metadata"


@pytest.fixture(scope="module")
def venv_kernel(tmp_path_factory, monkeypatch_module):
    """Make kernel ``python3`` this interpreter, whatever kernelspecs the user has installed.

    A ``python3`` kernelspec in the user's Jupyter folder would shadow the venv's own; a spec in
    a folder on ``JUPYTER_PATH`` comes first of all, so the notebooks always run on the venv.
    """
    from jupyter_client.kernelspec import KernelSpecManager

    folder = tmp_path_factory.mktemp("jupyter")
    spec_dir = folder / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (churnml tests)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch_module.setenv("JUPYTER_PATH", str(folder))
    found = KernelSpecManager().get_kernel_spec(KERNEL)
    assert found.argv[0] == sys.executable, found.argv
    return KERNEL


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def run_notebook(name: str, workdir: Path, kernel: str) -> tuple[dict, float]:
    """Execute a notebook in ``workdir``; return its result line and the wall time in seconds."""
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        nb,
        timeout=180,
        kernel_name=kernel,
        resources={"metadata": {"path": str(workdir)}},
    )
    started = time.perf_counter()
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    seconds = time.perf_counter() - started
    print(f"\n{name} executed in {seconds:.1f} s")
    lines = [
        line.removeprefix(RESULT_PREFIX)
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.get("output_type") == "stream" and output.get("name") == "stdout"
        for line in output.get("text", "").splitlines()
        if line.startswith(RESULT_PREFIX)
    ]
    assert len(lines) == 1, f"{name} printed {len(lines)} result lines, expected one"
    return json.loads(lines[0]), seconds


@pytest.mark.slow
def test_quickstart_runs(tmp_path, monkeypatch, venv_kernel):
    monkeypatch.chdir(tmp_path)
    result, _ = run_notebook("01_quickstart.ipynb", tmp_path, venv_kernel)

    assert Path(result["sys_prefix"]).resolve() == Path(sys.prefix).resolve()
    assert result["n_input"] == 69659
    assert 69000 < result["n_kept"] <= 69659
    assert set(result["params"]) == {"r", "alpha", "a", "b"}
    assert all(v > 0 for v in result["params"].values())
    assert result["n_predicted"] > 20000
    bgnbd, baseline = result["bgnbd"], result["baseline"]
    assert 0.6 < bgnbd["auc"] < 0.95
    assert 0.6 < baseline["auc"] < 0.95
    # BG/NBD gets the totals right; the no-churn baseline overshoots them
    assert abs(bgnbd["buyers_ratio"] - 1) < 0.2
    assert abs(bgnbd["revenue_ratio"] - 1) < 0.2
    assert baseline["buyers_ratio"] > 1.5
    assert {"bgnbd", "baseline"} <= set(result["table_rows"])
    assert list(tmp_path.iterdir()) == [], "the quickstart must write no files"


@pytest.mark.slow
def test_retrain_and_compare_runs(tmp_path, monkeypatch, venv_kernel):
    monkeypatch.chdir(tmp_path)
    result, _ = run_notebook("02_retrain_and_compare.ipynb", tmp_path, venv_kernel)
    store = Path(result["store"])
    try:
        assert Path(result["sys_prefix"]).resolve() == Path(sys.prefix).resolve()
        # its own temporary store, never the working directory's or the session's
        assert result["tracking_uri"] == f"sqlite:///{store}/mlruns.db"
        assert (store / "mlruns.db").is_file()
        assert not (tmp_path / "mlruns.db").exists() and not (tmp_path / "mlruns").exists()

        assert result["n_runs"] == 2
        assert result["first_version"] == "1" and result["first_promoted"]
        assert result["second_version"] == "2"
        # promote(2) returns the champion it replaced (2 itself if train had promoted it)
        assert result["previous"] == ("2" if result["second_promoted"] else "1")
        assert (result["demoted"], result["restored"]) == ("2", "1")
        assert result["champion_after_rollback"] == result["first_version"]
        assert result["model_version"] == f"churnml/{result['first_version']}"
        assert result["n_scored"] > 20000
        assert sum(result["segments"].values()) == result["n_scored"]
    finally:
        shutil.rmtree(store, ignore_errors=True)


@pytest.mark.slow
def test_campaign_planning_runs(tmp_path, monkeypatch, venv_kernel):
    monkeypatch.chdir(tmp_path)
    result, _ = run_notebook("03_campaign_planning.ipynb", tmp_path, venv_kernel)
    try:
        assert Path(result["sys_prefix"]).resolve() == Path(sys.prefix).resolve()
        # the brief's CDNOW figures
        assert round(result["by_buyers"], 3) == 0.490
        assert round(result["revenue_share"], 3) == 0.853
        assert result["cycle_days"] == 34.0 and result["short_warning"]
        assert result["n_months"] == 18
        assert {"1997-01", "1997-02", "1997-03"} <= set(result["cohorts"])
        assert sum(result["segments"].values()) == 23_570  # with the 68 yet to buy
        assert result["n_due"] > 0
        # 100 at 0.05 pays for exactly 2,000 contacts, never more
        assert result["n_contacts"] == 2000 and result["cost"] == pytest.approx(100.0)
        assert result["roi"] > 0 and result["peak_contacts"] >= 1
        assert result["after_first_order"] == pytest.approx(-30.0)
        assert result["repeat_purchases"] == 2
        assert result["report_bytes"] > 1_000_000  # plotly.js is inside: it opens offline
        assert result["report_charts"] >= 7
        assert list(tmp_path.iterdir()) == [], "the notebook writes only to its temporary folder"
    finally:
        shutil.rmtree(result["report_dir"], ignore_errors=True)
