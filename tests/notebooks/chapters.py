"""What the notebook checks need to know about the chapters on disk."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import jupytext
from nbformat import NotebookNode

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from sync_notebooks import chapter_sources, expected_ipynb  # noqa: E402

PARTS = {
    "ml": "part1_ml",
    "dl": "part2_dl",
    "nlp": "part3_nlp",
    "training": "part4_training",
    "gpu": "part5_gpu",
}
NAME_RE = re.compile(r"^(?P<nn>\d\d)_(?P<slug>[a-z0-9]+(?:_[a-z0-9]+)*)$")

SECTIONS = (
    "Short answer",
    "Derivation",
    "Implementation from scratch",
    "Verification",
    "Experiments",
    "Pitfalls and follow-up questions",
    "Check yourself",
    "References",
)

CHAPTERS = chapter_sources(ROOT)
CHAPTER_IDS = [str(p.relative_to(ROOT / "notebooks").with_suffix("")) for p in CHAPTERS]


def read(py: Path) -> NotebookNode:
    return jupytext.read(py, fmt="py:percent")


def code_of(nb: NotebookNode) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def markdown_of(nb: NotebookNode) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


__all__ = [
    "CHAPTERS",
    "CHAPTER_IDS",
    "NAME_RE",
    "PARTS",
    "ROOT",
    "SECTIONS",
    "code_of",
    "expected_ipynb",
    "markdown_of",
    "read",
]
