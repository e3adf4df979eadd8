import random

import numpy as np
import pytest
import torch

from notebook_utils.devices import describe_device, get_device
from notebook_utils.seeding import seed_everything


def _draw() -> tuple[float, float, float, float]:
    rng = seed_everything(123)
    return (
        random.random(),
        float(np.random.rand()),  # noqa: NPY002 - the legacy global state is what is tested
        float(torch.rand(1)),
        float(rng.random()),
    )


def test_seed_everything_makes_all_generators_repeat() -> None:
    assert _draw() == _draw()


def test_different_seeds_differ() -> None:
    a = seed_everything(1).random()
    b = seed_everything(2).random()
    assert a != b


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_seed_out_of_range(seed: int) -> None:
    with pytest.raises(ValueError):
        seed_everything(seed)


@pytest.mark.parametrize("seed", [1.5, "0", True])
def test_seed_wrong_type(seed: object) -> None:
    with pytest.raises(TypeError):
        seed_everything(seed)  # type: ignore[arg-type]


def test_get_device() -> None:
    assert get_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert get_device().type == expected
    with pytest.raises(ValueError):
        get_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError):
            get_device("cuda")


def test_describe_device_names_torch_version() -> None:
    assert torch.__version__ in describe_device("cpu")
