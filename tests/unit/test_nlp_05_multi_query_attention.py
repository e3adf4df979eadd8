"""Property tests of the grouped-query attention of notebooks/nlp/05_multi_query_attention.py:
the equivalence cases over random shapes, against PyTorch and the shared GPT."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from notebook_utils.gpt import GPT, CausalSelfAttention, GPTConfig
from notebook_utils.nn import count_parameters
from tests.chapter_code import load_chapter_definitions

ch = load_chapter_definitions("notebooks/nlp/05_multi_query_attention.py")

F64 = torch.float64


def close(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-12) -> None:
    torch.testing.assert_close(a, b, atol=atol, rtol=0)


@st.composite
def heads(draw: st.DrawFn) -> tuple[int, int]:
    """(h, g) with g dividing h."""
    n_head = draw(st.sampled_from([1, 2, 3, 4, 6, 8]))
    n_kv_head = draw(st.sampled_from([g for g in range(1, n_head + 1) if n_head % g == 0]))
    return n_head, n_kv_head


@settings(max_examples=40, deadline=None)
@given(heads(), st.integers(1, 3), st.integers(1, 6), st.integers(0, 6), st.integers(1, 5))
def test_grouped_attention_matches_sdpa_enable_gqa(
    hg: tuple[int, int], batch: int, new: int, past: int, head_dim: int
) -> None:
    n_head, n_kv_head = hg
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(batch, n_head, new, head_dim, dtype=F64, generator=gen)
    k = torch.randn(batch, n_kv_head, past + new, head_dim, dtype=F64, generator=gen)
    v = torch.randn(batch, n_kv_head, past + new, head_dim, dtype=F64, generator=gen)
    mask = torch.ones(new, past + new, dtype=torch.bool).tril(diagonal=past)
    reference = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
    close(ch.grouped_attention(q, k, v), reference)
    # the same through copies of the KV heads, eq. (mqa-expand) on tensors
    m = n_head // n_kv_head
    copied = ch.grouped_attention(q, k.repeat_interleave(m, 1), v.repeat_interleave(m, 1))
    close(ch.grouped_attention(q, k, v), copied)
    if n_kv_head == 1:
        close(ch.multi_query_attention(q, k[:, 0], v[:, 0]), reference)


@settings(max_examples=30, deadline=None)
@given(heads(), st.integers(1, 3), st.sampled_from([1, 2, 4]), st.booleans(), st.integers(2, 8))
def test_module_matches_shared_gpt_attention_with_cache(
    hg: tuple[int, int], batch: int, head_dim: int, bias: bool, length: int
) -> None:
    n_head, n_kv_head = hg
    d_model = n_head * head_dim
    torch.manual_seed(0)
    shared = CausalSelfAttention(
        GPTConfig(10, 16, 1, n_head, d_model, n_kv_head=n_kv_head, bias=bias)
    ).double()
    ours = ch.GroupedQueryAttention(d_model, n_head, n_kv_head, bias=bias).double()
    ch.load_from_shared(ours, shared)
    x = torch.randn(batch, length, d_model, dtype=F64)
    with torch.no_grad():
        out, (k, v) = ours(x)
        ref_out, (ref_k, ref_v) = shared(x)
        close(out, ref_out)
        close(k, ref_k)
        close(v, ref_v)
        split = length // 2
        first, cache = ours(x[:, :split])
        steps = [first]
        for t in range(split, length):  # decode one position at a time
            step, cache = ours(x[:, t : t + 1], cache)
            steps.append(step)
        close(torch.cat(steps, dim=1), out)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from([1, 2, 4, 8]), st.integers(1, 3), st.integers(1, 6))
def test_multi_head_case_matches_torch(n_head: int, head_dim: int, length: int) -> None:
    d_model = n_head * head_dim
    torch.manual_seed(0)
    torch_mha = nn.MultiheadAttention(d_model, n_head, batch_first=True).double()
    ours = ch.GroupedQueryAttention(d_model, n_head, n_head).double()
    ch.load_from_torch_mha(ours, torch_mha)
    x = torch.randn(2, length, d_model, dtype=F64)
    blocked = torch.ones(length, length, dtype=torch.bool).triu(diagonal=1)
    with torch.no_grad():
        reference = torch_mha(x, x, x, attn_mask=blocked, need_weights=False)[0]
        close(ours(x)[0], reference)


@settings(max_examples=30, deadline=None)
@given(heads(), st.integers(1, 4), st.booleans())
def test_expand_then_pool_round_trip(hg: tuple[int, int], head_dim: int, bias: bool) -> None:
    n_head, n_kv_head = hg
    d_model = n_head * head_dim
    torch.manual_seed(0)
    gqa = ch.GroupedQueryAttention(d_model, n_head, n_kv_head, bias=bias).double()
    expanded = ch.with_kv_heads(gqa, n_head)
    assert expanded.n_kv_head == n_head
    assert next(expanded.parameters()).dtype == F64
    x = torch.randn(2, 5, d_model, dtype=F64)
    with torch.no_grad():
        close(gqa(x)[0], expanded(x)[0])
    back = ch.with_kv_heads(expanded, n_kv_head, how="mean")
    for p, q in zip(back.parameters(), gqa.parameters(), strict=True):
        close(p, q, atol=1e-15)
    first = ch.with_kv_heads(expanded, n_kv_head, how="first")
    for p, q in zip(first.parameters(), gqa.parameters(), strict=True):
        close(p, q, atol=0.0)


@settings(max_examples=30, deadline=None)
@given(heads(), st.integers(1, 4))
def test_mean_pooling_is_the_closest_tied_weight(hg: tuple[int, int], head_dim: int) -> None:
    n_head, n_kv_head = hg
    gen = torch.Generator().manual_seed(1)
    rows = torch.randn(n_head * head_dim, 5, dtype=F64, generator=gen)  # an MHA key projection
    mean = ch.pool_kv_heads(rows, n_kv_head, head_dim, how="mean")
    other = torch.randn(n_kv_head * head_dim, 5, dtype=F64, generator=gen)
    expand = ch.expand_kv_heads  # distance of the MHA rows to a tied (expanded) weight

    def distance(tied: torch.Tensor) -> torch.Tensor:
        return ((rows - expand(tied, n_head, head_dim)) ** 2).sum()

    m = n_head // n_kv_head
    # eq. (mqa-pythagoras), summed over groups
    close(distance(other), distance(mean) + m * ((mean - other) ** 2).sum(), atol=1e-10)


@settings(max_examples=30, deadline=None)
@given(heads(), st.integers(1, 4), st.booleans())
def test_parameter_formula(hg: tuple[int, int], head_dim: int, bias: bool) -> None:
    n_head, n_kv_head = hg
    d_model = n_head * head_dim
    module = ch.GroupedQueryAttention(d_model, n_head, n_kv_head, bias=bias)
    assert count_parameters(module) == ch.attention_parameters(d_model, n_head, n_kv_head, bias)


@settings(max_examples=20, deadline=None)
@given(heads())
def test_kv_head_of_matches_repeat_interleave(hg: tuple[int, int]) -> None:
    n_head, n_kv_head = hg
    index = torch.arange(n_kv_head).repeat_interleave(n_head // n_kv_head)
    assert [ch.kv_head_of(i, n_head, n_kv_head) for i in range(n_head)] == index.tolist()


@settings(max_examples=15, deadline=None)
@given(st.sampled_from([(4, 2), (4, 1), (2, 1), (8, 2)]), st.sampled_from(["mean", "first"]))
def test_gpt_conversion_keeps_queries_and_matches_module_conversion(
    hg: tuple[int, int], how: str
) -> None:
    n_head, n_kv_head = hg
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=n_head, d_model=4 * n_head)
    model = GPT(cfg).double().eval()
    converted = ch.gpt_with_kv_heads(model, n_kv_head, how=how)
    assert converted.cfg.kv_heads == n_kv_head
    x = torch.randn(2, 6, cfg.d_model, dtype=F64)
    for block, new_block in zip(model.blocks, converted.blocks, strict=True):
        ours = ch.GroupedQueryAttention(cfg.d_model, n_head, n_head).double()
        ch.load_from_shared(ours, block.attn)
        pooled = ch.with_kv_heads(ours, n_kv_head, how=how)
        with torch.no_grad():
            close(pooled(x)[0], new_block.attn(x)[0])
    # expanding back to h heads and running the GPT again: same logits as the converted one
    idx = torch.randint(0, 11, (2, 8))
    expanded = ch.gpt_with_kv_heads(converted, n_head)
    with torch.no_grad():
        close(expanded(idx)[0], converted(idx)[0])


def test_errata_numbers() -> None:
    assert ch.kv_cache_bytes(80, 8, 128, 1, 1, 2) == 327_680
    assert ch.kv_cache_bytes(80, 64, 128, 1, 1, 2) == 2_621_440
    assert ch.attention_parameters(8192, 64, 8, bias=False) == 150_994_944


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: ch.GroupedQueryAttention(12, 4, 3), ValueError),  # 3 does not divide 4
        (lambda: ch.GroupedQueryAttention(10, 4, 2), ValueError),  # 4 does not divide 10
        (lambda: ch.kv_head_of(4, 4, 2), ValueError),
        (lambda: ch.kv_head_of(0, 4, 3), ValueError),
        (lambda: ch.pool_kv_heads(torch.zeros(8, 3), 3, 2), ValueError),  # 4 heads into 3
        (lambda: ch.pool_kv_heads(torch.zeros(8, 3), 2, 2, how="max"), ValueError),
        (lambda: ch.expand_kv_heads(torch.zeros(6, 3), 4, 2), ValueError),  # 3 heads to 4
        (
            lambda: ch.grouped_attention(
                torch.zeros(1, 4, 2, 2), torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)
            ),
            ValueError,
        ),
        (
            lambda: ch.grouped_attention(
                torch.zeros(1, 4, 3, 2), torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2, 2)
            ),
            ValueError,  # more queries than keys
        ),
    ],
)
def test_invalid_input_raises(call: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        call()  # type: ignore[operator]
