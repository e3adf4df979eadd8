"""Execute chapters again and compare their text outputs with an earlier execution.

Every printed number of a chapter should be reproducible: same seed, same outputs. This
re-executes chapters (with nbclient, one thread, as `make test` runs them) and compares every
text output (streams and text/plain results) with those of notebooks executed before, e.g. by
nbmake in `make test`. Measured times are the one allowed difference: in a cell whose output
reports a time (a number with a time unit, a "(ms)"-style column header, "median" or "IQR",
see TIMING), every line is compared with the digits of each number masked, since tables of
timings and numbers derived from them (a break-even point) sit on lines without units.

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
TIMING = re.compile(
    r"(\d+(\.\d+)?\s*(µs|us|ms|s|sec|seconds?|steps/s|it/s|tokens/s)\b"
    r"|\((µs|us|ms|s|seconds)\)|median|IQR)"
)
NUMBER = re.compile(r"\d+(\.\d+)?(e[+-]?\d+)?|\bnan\b|\binf\b")  # a timed estimate may be nan


def text_outputs(nb: nbformat.NotebookNode) -> list[str]:
    """Every text output line, per code cell, with the numbers of timing cells masked.

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
        cell_lines = [line for text in texts for line in text.splitlines()]
        timed = any(TIMING.search(line) for line in cell_lines)
        for line in cell_lines:
            if timed:  # numbers masked; their widths change the padding of aligned columns
                line = " ".join(NUMBER.sub("#", line).split())
            lines.append(f"[cell {index}] {line}")
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
