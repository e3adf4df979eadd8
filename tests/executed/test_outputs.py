"""What an executed chapter must show: figures, verification lines, no errors."""

from __future__ import annotations

from pathlib import Path

import nbformat


def _outputs(path: Path) -> list[nbformat.NotebookNode]:
    nb = nbformat.read(path, as_version=4)
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def test_executed_chapter(executed: Path) -> None:
    outputs = _outputs(executed)
    assert not [o for o in outputs if o.output_type == "error"], "a cell raised"
    n_figures = sum("image/png" in o.get("data", {}) for o in outputs)
    assert n_figures >= 1, "no figure was shown"
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    n_checks = sum(line.startswith("✓ ") for line in text.splitlines())
    assert n_checks >= 1, "no verification line (✓ …) was printed"
    assert "✗" not in text
