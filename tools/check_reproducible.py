"""Execute chapters again and compare their text outputs with an earlier execution.

Every printed number of a chapter should be reproducible: same seed, same outputs. This
re-executes chapters (with nbclient, one thread, as `make test` runs them) and compares every
text output (streams and text/plain results) with those of notebooks executed before, e.g. by
nbmake in `make test`. Lines that report a wall-clock time are the one allowed difference:
they are compared with the digits of each number masked (see TIMING).

Usage::

    python tools/check_reproducible.py EXECUTED_DIR [--sample K] [--seed S] [CHAPTER ...]

EXECUTED_DIR holds executed copies (EXECUTED_DIR/<part>/<NN>_<slug>.ipynb). Without
chapters, all of them; with --sample K, K of them chosen by --seed (make test rotates the
seed with the commit, so successive runs cover different chapters).
"""

from __future__ import annotations

import argparse
import difflib
import os
import random
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

# A line that states a measured duration or speed: its numbers may differ between runs.
TIMING = re.compile(r"(\d+(\.\d+)?\s*(µs|us|ms|s|sec|seconds?|steps/s|it/s|tokens/s)\b|median|IQR)")
NUMBER = re.compile(r"\d+(\.\d+)?(e[+-]?\d+)?")


def text_outputs(nb: nbformat.NotebookNode) -> list[str]:
    """Every text output line, per code cell, with timing lines' numbers masked.

    Consecutive stdout chunks are joined before splitting into lines: the kernel flushes
    stdout at arbitrary points, so the same printed text can arrive as one stream output in
    one run and as two (split mid-line or at a newline) in another.
    """
    lines = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        texts: list[str] = []
        stdout = ""
        for out in cell.get("outputs", []):
            if out.output_type == "stream" and out.name == "stdout":
                stdout += out.text
                continue
            if stdout:
                texts.append(stdout)
                stdout = ""
            if out.output_type in ("execute_result", "display_data"):
                if "image/png" in out.get("data", {}):
                    continue  # "<Figure size …>" reprs
                texts.append(out.get("data", {}).get("text/plain", ""))
        if stdout:
            texts.append(stdout)
        for text in texts:
            for line in text.splitlines():
                masked = NUMBER.sub("#", line) if TIMING.search(line) else line
                lines.append(f"[cell {index}] {masked}")
    return lines


def execute(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()  # fmt: skip
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("executed_dir", type=Path)
    parser.add_argument("chapters", nargs="*")
    parser.add_argument("--sample", type=int, default=0)
    parser.add_argument("--seed", default="0")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    paths = sorted(args.executed_dir.glob("*/[0-9][0-9]_*.ipynb"))
    if args.chapters:
        paths = [p for p in paths if f"{p.parent.name}/{p.stem}" in args.chapters]
    if args.sample:
        paths = sorted(random.Random(args.seed).sample(paths, min(args.sample, len(paths))))
    if not paths:
        print("no executed chapters to compare", file=sys.stderr)
        return 2
    failures = 0
    for path in paths:
        name = f"{path.parent.name}/{path.stem}"
        before = text_outputs(nbformat.read(path, as_version=4))
        after = text_outputs(execute(path))
        if before == after:
            print(f"✓ {name}: {len(after)} lines of text output identical on re-execution")
        else:
            failures += 1
            diff = difflib.unified_diff(before, after, "first run", "second run", lineterm="", n=0)
            print(f"✗ {name}: text outputs differ on re-execution:")
            print("\n".join(list(diff)[:40]))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
