"""The teaching notebooks run top to bottom without errors (in tiny mode: VSL_NOTEBOOK_TINY=1, well under a minute).

The kernel is pinned to the interpreter running pytest: a throw-away kernelspec named "python3" whose argv starts
with sys.executable is put first on JUPYTER_PATH, so a user-level or system "python3" kernelspec pointing at another
Python can never be picked up.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import ipykernel  # noqa: F401  (requirements.txt installs it; the kernel below runs it from this interpreter)
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
