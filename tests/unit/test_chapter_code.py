"""The loader that tests use to import a chapter's classes without running the chapter."""

import pytest
import torch

from tests.chapter_code import load_chapter_definitions


def test_loads_optimizer_classes_without_running_experiments() -> None:
    ch = load_chapter_definitions("notebooks/ml/01_optimizers.py")
    w = torch.ones(3, requires_grad=True)
    w.grad = torch.ones(3)
    ch.Adam([w], lr=0.1).step()
    assert torch.allclose(w, torch.full((3,), 0.9))
    # experiment cells were skipped: their results are not in the namespace
    assert not hasattr(ch, "valley_runs")


def test_unknown_chapter() -> None:
    with pytest.raises(FileNotFoundError):
        load_chapter_definitions("notebooks/ml/99_missing.py")
