import matplotlib as mpl
import numpy as np
import pytest
import torch

from notebook_utils.data import TOKEN_TASKS, noisy_function_1d, token_task_batch
from notebook_utils.style import PALETTE, use_book_style


def test_use_book_style_sets_palette_and_overrides() -> None:
    use_book_style(**{"figure.dpi": 80})
    assert mpl.rcParams["figure.dpi"] == 80
    assert mpl.rcParams["axes.prop_cycle"].by_key()["color"][0] == PALETTE[0]
    use_book_style()
    assert mpl.rcParams["figure.dpi"] == 110


def test_use_book_style_rejects_typos() -> None:
    with pytest.raises(KeyError):
        use_book_style(**{"figure.dpii": 80})


def test_noisy_function_noise_level() -> None:
    rng = np.random.default_rng(0)
    x, y = noisy_function_1d(20_000, rng, noise_std=0.5)
    assert x.shape == y.shape == (20_000,)
    assert np.all(np.diff(x) >= 0)
    resid = y - np.sin(2 * np.pi * x)
    assert resid.std() == pytest.approx(0.5, rel=0.02)


@pytest.mark.parametrize(
    "kwargs", [{"n": 0}, {"n": 5, "noise_std": -1.0}, {"n": 5, "x_range": (1.0, 0.0)}]
)
def test_noisy_function_rejects_bad_input(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        noisy_function_1d(rng=np.random.default_rng(0), **kwargs)  # type: ignore[arg-type]


def test_noisy_function_rejects_shape_changing_fn() -> None:
    with pytest.raises(ValueError):
        noisy_function_1d(5, np.random.default_rng(0), fn=lambda x: x[:2])


@pytest.mark.parametrize("task", TOKEN_TASKS)
def test_token_tasks(task: str) -> None:
    g = torch.Generator().manual_seed(0)
    src, tgt = token_task_batch(task, 16, 8, 10, g)
    assert src.shape == tgt.shape == (16, 8)
    assert src.min() >= 0 and src.max() < 10
    expected = {"copy": src, "reverse": src.flip(-1), "sort": src.sort(-1).values}[task]
    assert torch.equal(tgt, expected)


def test_token_task_rejects_bad_input() -> None:
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError):
        token_task_batch("shuffle", 4, 4, 10, g)
    with pytest.raises(ValueError):
        token_task_batch("copy", 0, 4, 10, g)
    with pytest.raises(ValueError):
        token_task_batch("copy", 4, 4, 1, g)
