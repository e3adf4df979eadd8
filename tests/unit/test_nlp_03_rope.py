"""Property tests of the from-scratch RoPE of notebooks/nlp/03_rope.py."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from notebook_utils.gpt import apply_rope, rope_cos_sin
from tests.chapter_code import load_chapter_definitions

ch = load_chapter_definitions("notebooks/nlp/03_rope.py")

head_dims = st.sampled_from([2, 4, 8, 16, 64, 128])
bases = st.sampled_from([100.0, 10000.0, 500000.0])
positions = st.integers(min_value=-5000, max_value=5000)


def _vectors(seed: int, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _positions(seed: int, n: int) -> torch.Tensor:
    return torch.randint(0, 10_000, (n,), generator=torch.Generator().manual_seed(seed))


@settings(max_examples=60, deadline=None)
@given(head_dims, positions, positions, positions, st.integers(0, 2**31 - 1))
def test_score_depends_only_on_the_offset(d: int, m: int, n: int, shift: int, seed: int) -> None:
    q, k = _vectors(seed, 2, d)
    score = ch.rope_score(q, k, m, n)
    assert score == pytest.approx(ch.rope_score(q, k, m + shift, n + shift), abs=1e-9)
    # eq. (rope-relative): (R_m q)ᵀ (R_n k) = qᵀ R_{n-m} k
    relative = float(q @ ch.rotation_matrix(float(n - m), d) @ k)
    assert score == pytest.approx(relative, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(head_dims, bases, st.integers(1, 20), st.integers(0, 2**31 - 1))
def test_three_forms_agree_and_preserve_norms(d: int, base: float, t: int, seed: int) -> None:
    x = _vectors(seed, 3, t, d)
    pos = _positions(seed, t)
    by_pairs = ch.rope_adjacent(x, pos, base)
    torch.testing.assert_close(ch.rope_adjacent_complex(x, pos, base), by_pairs, atol=1e-12, rtol=0)
    by_matrix = torch.stack(
        [x[:, i] @ ch.rotation_matrix(float(p), d, base).T for i, p in enumerate(pos)], dim=1
    )
    torch.testing.assert_close(by_matrix, by_pairs, atol=1e-12, rtol=0)
    for rotated in (by_pairs, ch.rope_half_split(x, pos, base)):
        torch.testing.assert_close(rotated.norm(dim=-1), x.norm(dim=-1), atol=1e-12, rtol=0)


@settings(max_examples=60, deadline=None)
@given(head_dims, bases, st.integers(1, 20), st.integers(0, 2**31 - 1))
def test_pairing_conventions_differ_by_a_permutation(
    d: int, base: float, t: int, seed: int
) -> None:
    x = _vectors(seed, 2, t, d)
    pos = _positions(seed, t)
    perm = ch.adjacent_to_half_permutation(d)
    torch.testing.assert_close(
        ch.rope_half_split(x[..., perm], pos, base),
        ch.rope_adjacent(x, pos, base)[..., perm],
        atol=1e-12,
        rtol=0,
    )


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([2, 4, 16]), st.integers(1, 4), st.integers(0, 2**31 - 1))
def test_permuted_weights_give_the_same_scores(d: int, n_heads: int, seed: int) -> None:
    d_in, t = 12, 7
    w_q, w_k = _vectors(seed, 2, n_heads * d, d_in)
    tokens = _vectors(seed + 1, t, d_in)
    pos = torch.arange(t)

    def scores(wq: torch.Tensor, wk: torch.Tensor, rope: object) -> torch.Tensor:
        q = (tokens @ wq.T).view(t, n_heads, d).transpose(0, 1)  # (H, T, d)
        k = (tokens @ wk.T).view(t, n_heads, d).transpose(0, 1)
        return rope(q, pos) @ rope(k, pos).transpose(-2, -1)  # type: ignore[operator]

    permuted = [ch.permute_rows_for_half_split(w, n_heads) for w in (w_q, w_k)]
    full_perm = torch.cat([h * d + ch.adjacent_to_half_permutation(d) for h in range(n_heads)])
    torch.testing.assert_close(permuted[0], w_q[full_perm], atol=0, rtol=0)
    torch.testing.assert_close(
        scores(*permuted, ch.rope_half_split),
        scores(w_q, w_k, ch.rope_adjacent),
        atol=1e-10,
        rtol=0,
    )


@settings(max_examples=40, deadline=None)
@given(head_dims, st.integers(1, 20), st.integers(0, 2**31 - 1))
def test_half_split_matches_the_shared_model(d: int, t: int, seed: int) -> None:
    x = _vectors(seed, 2, 1, t, d)  # (B, H, T, d)
    pos = _positions(seed, t)
    shared = apply_rope(x, *rope_cos_sin(pos, d))  # float32 cos/sin
    torch.testing.assert_close(ch.rope_half_split(x, pos), shared, atol=5e-6, rtol=0)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 1000), st.integers(0, 2**31 - 1))
def test_attention_is_shift_invariant_only_without_rotated_values(shift: int, seed: int) -> None:
    x = _vectors(seed, 9, 6)
    w_q, w_k, w_v = _vectors(seed + 1, 3, 6, 8)
    base_pos, shifted_pos = torch.arange(9), shift + torch.arange(9)
    torch.testing.assert_close(
        ch.rope_attention(x, w_q, w_k, w_v, shifted_pos),
        ch.rope_attention(x, w_q, w_k, w_v, base_pos),
        atol=1e-10,
        rtol=0,
    )
    rotated = [
        ch.rope_attention(x, w_q, w_k, w_v, p, rotate_values=True) for p in (base_pos, shifted_pos)
    ]
    torch.testing.assert_close(
        rotated[1],
        ch.rope_half_split(rotated[0], torch.full((9,), float(shift))),
        atol=1e-10,
        rtol=0,
    )


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([8, 64, 128]), st.integers(0, 2**31 - 1))
def test_decay_bound_holds(d: int, seed: int) -> None:
    q, k = _vectors(seed, 2, 20, d)
    offsets = torch.arange(0, 5000, 37, dtype=torch.float64)
    bound, score = ch.decay_bound_and_score(q, k, offsets)
    assert bool((score.abs() <= bound + 1e-9).all())


@pytest.mark.parametrize("scale", [2.0, 4.0, 8.0])
def test_context_extension_frequencies(scale: float) -> None:
    theta = ch.rope_frequencies(128)
    ntk = ch.ntk_aware_frequencies(128, scale)
    assert float(ntk[0]) == pytest.approx(1.0)
    assert float(ntk[-1]) == pytest.approx(float(theta[-1]) / scale, rel=1e-12)
    yarn = ch.yarn_frequencies(128, scale, 2048)
    assert bool(((yarn <= theta + 1e-18) & (yarn >= theta / scale - 1e-18)).all())
    assert float(ch.interpolated_positions(int(2048 * scale), scale).max()) < 2048


def test_errata_constants() -> None:
    theta = ch.rope_frequencies(128)
    assert float(theta[0]) == 1.0
    assert float(theta[63]) == pytest.approx(1.1548e-4, abs=5e-9)
    q, k = _vectors(0, 2, 128)
    assert ch.rope_score(q, k, 3, 7) == pytest.approx(ch.rope_score(q, k, 10, 14), abs=1e-12)
    assert ch.rope_score(q, k, 3, 7) != pytest.approx(ch.rope_score(q, k, 7, 3), abs=1e-6)


def test_odd_head_dim_is_refused() -> None:
    with pytest.raises(ValueError):
        ch.rope_frequencies(7)
