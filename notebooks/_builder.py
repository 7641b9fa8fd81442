"""The notebook generators' shared part: cells kept as reviewable Python strings, written as a stripped .ipynb.

    from _builder import NotebookBuilder
    nb = NotebookBuilder(); md, code = nb.md, nb.code
    md(r'''# Title''');  code(r'''print(1)''')
    nb.write(Path(__file__).with_name("NN_name.ipynb"))
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


class NotebookBuilder:
    def __init__(self) -> None:
        self.cells: list[tuple[str, str]] = []

    def md(self, text: str) -> None:
        self.cells.append(("md", text.strip("\n")))

    def code(self, text: str) -> None:
        self.cells.append(("code", text.strip("\n")))

    def build(self) -> nbformat.NotebookNode:
        nb = new_notebook()
        nb.metadata = {
            "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
            "language_info": {"name": "python"},
        }
        for i, (kind, text) in enumerate(self.cells):
            cell = new_markdown_cell(text) if kind == "md" else new_code_cell(text)
            cell["id"] = f"c{i:02d}"  # stable ids: re-running a generator gives the same file
            nb.cells.append(cell)
        return nb

    def write(self, out: Path) -> None:
        nb = self.build()
        nbformat.validate(nb)
        nbformat.write(nb, out)
        print(f"wrote {out} ({len(nb.cells)} cells)")
