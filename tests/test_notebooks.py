"""The teaching notebooks: authored as jupytext pairs, committed stripped, and run top to bottom without errors.

Each notebook is a pair: notebooks/NN_name.py (jupytext percent format: `# %%` code cells, `# %% [markdown]`
markdown cells; the file to review, diff and lint) and notebooks/NN_name.ipynb (outputs stripped, stable cell ids).
Edit either side; Jupyter with jupytext installed saves both. After editing the .py in an editor, run
`jupytext --sync notebooks/NN_name.py` (it keeps the .ipynb's cell ids and metadata); after running a notebook in
Jupyter, strip it with `jupyter nbconvert --clear-output --inplace notebooks/NN_name.ipynb` before committing.
Figure helpers shared by the notebooks live in notebooks/_display.py. No file under notebooks/ builds cells from
Python strings.

The notebooks run in tiny mode (VSL_NOTEBOOK_TINY=1, about a minute or less each on a 2-core CPU), with notebooks/
as the working directory. The kernel is pinned to the interpreter running pytest: a throw-away kernelspec named
"python3" whose argv starts with sys.executable is put first on JUPYTER_PATH, so a user-level or system "python3"
kernelspec pointing at another Python can never be picked up.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import ipykernel  # noqa: F401  (requirements.txt installs it; the kernel below runs it from this interpreter)
import jupytext
import nbclient
import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
TINY_NOTEBOOKS = ["01_timelapse.ipynb", "02_vid2vid.ipynb", "03_unsupervised_v2v.ipynb", "04_inbetweening.ipynb"]


@pytest.fixture
def this_python_kernel(tmp_path, monkeypatch) -> str:
    """A "python3" kernelspec that runs this interpreter, first on the Jupyter search path; returns its name."""
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (tests)", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    resolved = KernelSpecManager().get_kernel_spec("python3")
    assert resolved.argv[0] == sys.executable, f"kernel python3 resolves to {resolved.argv[0]}, not {sys.executable}"
    return "python3"


@pytest.mark.parametrize("name", TINY_NOTEBOOKS)
def test_committed_notebook_has_no_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}: outputs not stripped"


def cells(path: Path) -> list[tuple[str, str]]:
    """(cell type, source) of every cell of a notebook or of its jupytext script, as jupytext reads it."""
    return [(cell.cell_type, cell.source) for cell in jupytext.read(path).cells]


@pytest.mark.parametrize("name", TINY_NOTEBOOKS)
def test_script_and_notebook_hold_the_same_cells(name):
    notebook, script = NOTEBOOKS / name, (NOTEBOOKS / name).with_suffix(".py")
    assert script.is_file(), f"{script.name} is missing: jupytext --set-formats ipynb,py:percent notebooks/{name}"
    for path in (notebook, script):
        assert jupytext.read(path).metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent", (
            f"{path.name} is not paired (formats: ipynb,py:percent)")
    ipynb_cells, py_cells = cells(notebook), cells(script)
    differ = [i for i, (a, b) in enumerate(zip(ipynb_cells, py_cells, strict=False)) if a != b]
    assert ipynb_cells == py_cells, (
        f"{name} ({len(ipynb_cells)} cells) and {script.name} ({len(py_cells)} cells) differ"
        + (f", first at cell {differ[0]}" if differ else "")
        + f": one side was edited alone; run `jupytext --sync notebooks/{script.name}` (or on the .ipynb, whichever "
        "holds the edit)")


def test_no_notebook_is_built_from_python_strings():
    """Every notebook under notebooks/ is a jupytext pair in TINY_NOTEBOOKS; no script writes cells from strings."""
    notebooks = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert notebooks == sorted(TINY_NOTEBOOKS), f"notebooks/ holds {notebooks}, TINY_NOTEBOOKS lists {TINY_NOTEBOOKS}"
    scripts = [p for p in NOTEBOOKS.rglob("*.py")
               if not any(part.startswith((".", "__")) for part in p.relative_to(NOTEBOOKS).parts)]
    generators = [p.name for p in scripts if p.name.startswith(("_make_", "_builder"))]
    assert not generators, f"notebook generators are back: {generators}; author the notebook as a jupytext pair"
    for path in scripts:
        text = path.read_text(encoding="utf-8")
        for marker in ("new_code_cell", "new_markdown_cell", "nbformat.write", "NotebookBuilder"):
            assert marker not in text, f"{path.relative_to(ROOT)} builds or writes a notebook ({marker!r})"
        if path.name != "_display.py":
            assert path.with_suffix(".ipynb").is_file(), f"{path.name} is not one half of a notebook pair"


@pytest.mark.parametrize("name", TINY_NOTEBOOKS)
def test_notebook_runs_in_tiny_mode(name, this_python_kernel, monkeypatch, tmp_path):
    monkeypatch.setenv("VSL_NOTEBOOK_TINY", "1")
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebook's temporary run folder goes away with the test
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name=this_python_kernel,
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    t0 = time.perf_counter()
    client.execute()  # raises CellExecutionError, naming the cell, on the first error
    elapsed = time.perf_counter() - t0
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    print(f"{name}: executed in {elapsed:.1f} s")
