"""Checks of notebooks after execution; run by `make notebooks` with --executed-dir."""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--executed-dir",
        required=True,
        type=Path,
        help="folder of executed chapter notebooks (notebooks/<part>/*.ipynb)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "executed" in metafunc.fixturenames:
        root: Path = metafunc.config.getoption("--executed-dir")
        paths = sorted(root.glob("*/[0-9][0-9]_*.ipynb"))
        if not paths:
            raise pytest.UsageError(f"no executed notebooks under {root}")
        metafunc.parametrize("executed", paths, ids=[f"{p.parent.name}/{p.stem}" for p in paths])
