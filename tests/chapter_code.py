"""Load the definitions of a chapter (functions and classes) without running its experiments.

A chapter's from-scratch estimators live in the chapter, where the reader reads them. Tests
that need them (scikit-learn's estimator checks, property-based tests) load them from the
chapter's .py file: the code cells whose top-level statements are all imports, function
definitions, class definitions or constant assignments are executed, in order, in a fresh
namespace; of every other cell (experiments, plots, checks) only the import statements run.
"""

from __future__ import annotations

import ast
import sys
import types
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parents[1]

_DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)


def _is_definition(node: ast.stmt) -> bool:
    if isinstance(node, _DEFINITIONS):
        return True
    # UPPER_CASE = <literal> constants, which definitions may use as defaults.
    if isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names_ok = all(isinstance(t, ast.Name) and t.id.isupper() for t in targets)
        try:
            ast.literal_eval(node.value) if node.value is not None else None
        except ValueError:
            return False
        return names_ok
    return False


def load_chapter_definitions(relative_path: str) -> types.ModuleType:
    """Functions and classes of ``notebooks/<part>/<NN>_<slug>.py``, as a module.

    The module is registered in ``sys.modules`` (as ``chapter_<NN>_<slug>``), so that the
    chapter's classes can be pickled, as scikit-learn's estimator checks do.

    >>> ch = load_chapter_definitions("notebooks/ml/01_optimizers.py")  # doctest: +SKIP
    >>> ch.Adam  # doctest: +SKIP
    """
    path = ROOT / relative_path
    nb = jupytext.read(path, fmt="py:percent")
    module = types.ModuleType(f"chapter_{path.stem}")
    module.__file__ = str(path)
    sys.modules[module.__name__] = module
    namespace = module.__dict__
    n_cells = 0
    for cell in nb.cells:
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        source = "\n".join(
            line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))
        )
        tree = ast.parse(source)
        if tree.body and all(_is_definition(node) for node in tree.body):
            n_cells += 1
        else:
            tree.body = [
                node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)
            ]
        exec(compile(tree, f"{relative_path} (cell)", "exec"), namespace)
    if n_cells == 0:
        raise ValueError(f"{relative_path} has no definition-only code cell")
    return module
