"""Write each chapter's .ipynb from its .py twin: the .py is the source of truth.

Unlike ``jupytext --sync`` (which takes the newer file of a pair as the source and can
silently revert an edit), this always goes .py -> .ipynb, strips outputs, and gives cells
ids derived from their content, so that the same .py always gives byte-identical .ipynb
and re-syncing an unchanged chapter changes nothing in git.

Usage::

    python tools/sync_notebooks.py [--check] [PATH.py ...]

Without paths, every ``notebooks/<part>/<NN>_<slug>.py``. With ``--check``, write nothing
and exit 1 listing the pairs that differ.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parents[1]


def chapter_sources(root: Path = ROOT) -> list[Path]:
    """Every chapter's .py file, sorted."""
    return sorted((root / "notebooks").glob("*/[0-9][0-9]_*.py"))


def expected_ipynb(py_path: Path) -> str:
    """The exact text the paired .ipynb must have."""
    nb = jupytext.read(py_path, fmt="py:percent")
    seen: dict[str, int] = {}
    for cell in nb.cells:
        digest = hashlib.sha1(cell.source.encode()).hexdigest()[:8]
        count = seen.get(digest, 0)
        seen[digest] = count + 1
        cell["id"] = digest if count == 0 else f"{digest}-{count}"
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata = {}
    return jupytext.writes(nb, fmt="ipynb")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true", help="only report pairs that differ")
    args = parser.parse_args(argv)
    sources = [p.resolve() for p in args.paths] or chapter_sources()
    stale = []
    for py in sources:
        ipynb = py.with_suffix(".ipynb")
        text = expected_ipynb(py)
        current = ipynb.read_text(encoding="utf-8") if ipynb.exists() else None
        if current == text:
            continue
        stale.append(ipynb)
        if not args.check:
            ipynb.write_text(text, encoding="utf-8")
            print(f"wrote {ipynb.relative_to(ROOT)}")
    if args.check and stale:
        for ipynb in stale:
            print(f"out of date: {ipynb.relative_to(ROOT)}", file=sys.stderr)
        print("fix: make sync  (rewrites each .ipynb from its .py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
