import numpy as np
import pytest
import torch

from notebook_utils.checks import (
    VerificationError,
    as_numpy,
    check_close,
    check_equal,
    check_mean_close,
    check_true,
)


def test_check_close_passes_and_prints_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    check_close("x vs y", np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9]), atol=1e-8)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert out[0].startswith("✓ x vs y: max abs err 1e-09") and "atol 1e-08" in out[0]


def test_check_close_fails_above_tolerance() -> None:
    with pytest.raises(VerificationError, match="exceeds tolerance"):
        check_close("x", [1.0, 2.0], [1.0, 2.1], atol=1e-3)


def test_check_close_rtol_scales_with_reference() -> None:
    check_close("big", [1000.0], [1000.5], atol=0.0, rtol=1e-3, quiet=True)
    with pytest.raises(VerificationError):
        check_close("small", [1.0], [1.5], atol=0.0, rtol=1e-3, quiet=True)


def test_check_close_refuses_broadcasting() -> None:
    with pytest.raises(VerificationError, match="shape"):
        check_close("x", np.zeros((3, 1)), np.zeros(3), atol=1.0)


def test_check_close_nonfinite_must_match() -> None:
    check_close("inf same", [np.inf, 1.0], [np.inf, 1.0], atol=0.0, quiet=True)
    with pytest.raises(VerificationError, match="non-finite"):
        check_close("nan", [np.nan, 1.0], [0.0, 1.0], atol=1.0)
    with pytest.raises(VerificationError, match="non-finite"):
        check_close("inf sign", [np.inf], [-np.inf], atol=1.0)


def test_check_close_accepts_tensors_and_widens_precision() -> None:
    a = torch.tensor([1.0, 2.0], dtype=torch.float32, requires_grad=True)
    b = np.array([1.0, 2.0])
    check_close("tensor", a * 1, b, atol=0.0, quiet=True)
    assert as_numpy(torch.tensor([1.5], dtype=torch.bfloat16)).dtype == np.float64


@pytest.mark.parametrize(("atol", "rtol"), [(-1.0, 0.0), (0.0, -1.0)])
def test_check_close_rejects_negative_tolerance(atol: float, rtol: float) -> None:
    with pytest.raises(ValueError, match="non-negative"):
        check_close("x", [1.0], [1.0], atol=atol, rtol=rtol)


def test_check_close_needs_a_description() -> None:
    with pytest.raises(ValueError):
        check_close("", [1.0], [1.0], atol=0.0)


def test_check_equal(capsys: pytest.CaptureFixture[str]) -> None:
    check_equal("tokens", torch.tensor([1, 2, 3]), [1, 2, 3])
    assert "identical" in capsys.readouterr().out
    with pytest.raises(VerificationError, match="1 of 3 entries differ"):
        check_equal("tokens", [1, 2, 3], [1, 2, 4])
    with pytest.raises(VerificationError, match="shape"):
        check_equal("tokens", [1, 2], [1, 2, 3])


def test_check_true(capsys: pytest.CaptureFixture[str]) -> None:
    check_true("a < b", 1 < 2, "1 < 2")
    assert capsys.readouterr().out.strip() == "✓ a < b: 1 < 2"
    with pytest.raises(VerificationError, match="✗ a > b"):
        check_true("a > b", bool(np.float64(1) > 2))
    with pytest.raises(TypeError):
        check_true("not a bool", 1)  # type: ignore[arg-type]


def test_as_numpy_rejects_ragged_input() -> None:
    with pytest.raises((TypeError, ValueError)):
        as_numpy([[1.0], [1.0, 2.0]])


def test_check_mean_close_passes_for_an_unbiased_estimator(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rng = np.random.default_rng(0)
    check_mean_close("mean of N(1, 1)", rng.normal(1.0, 1.0, 10_000), 1.0, z_max=4)
    line = capsys.readouterr().out.strip()
    assert line.startswith("✓ mean of N(1, 1): mean ") and "n=10000" in line and "<= 4" in line


def test_check_mean_close_catches_a_bias_of_a_few_standard_errors() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(0.0, 1.0, 10_000)  # se = 0.01
    with pytest.raises(VerificationError, match="> 4"):
        check_mean_close("biased", x + 0.08, 0.0, z_max=4)


def test_check_mean_close_atol_absorbs_a_known_deterministic_error() -> None:
    x = np.full(100, 1.0) + np.linspace(-1e-3, 1e-3, 100)  # mean exactly 1.0 ± rounding
    with pytest.raises(VerificationError):
        check_mean_close("off", x, 1.01, z_max=4)
    check_mean_close("off, within atol", x, 1.01, z_max=4, atol=0.011)


def test_check_mean_close_constant_samples_and_bad_input() -> None:
    check_mean_close("constant equal", np.ones(5), 1.0, z_max=3)
    with pytest.raises(VerificationError, match="inf"):
        check_mean_close("constant different", np.ones(5), 2.0, z_max=3)
    with pytest.raises(VerificationError, match="at least 2"):
        check_mean_close("one", [1.0], 1.0, z_max=3)
    with pytest.raises(VerificationError, match="non-finite"):
        check_mean_close("nan", [1.0, np.nan], 1.0, z_max=3)
    with pytest.raises(ValueError):
        check_mean_close("z", [1.0, 2.0], 1.5, z_max=0)
    with pytest.raises(ValueError):
        check_mean_close("", [1.0, 2.0], 1.5, z_max=3)


def test_check_mean_close_accepts_tensors() -> None:
    check_mean_close(
        "tensor",
        torch.tensor([0.9, 1.1, 1.0, 1.0]),
        1.0,
        z_max=3,
    )
