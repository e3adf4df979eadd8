"""Property tests of the KV cache of notebooks/nlp/04_kv_cache.py against the shared GPT."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from notebook_utils.gpt import GPT, GPTConfig
from tests.chapter_code import load_chapter_definitions

ch = load_chapter_definitions("notebooks/nlp/04_kv_cache.py")


@st.composite
def small_configs(draw: st.DrawFn) -> GPTConfig:
    n_head = draw(st.sampled_from([1, 2, 4]))
    n_kv_head = draw(st.sampled_from([g for g in (1, 2, 4) if n_head % g == 0]))
    return GPTConfig(
        vocab_size=draw(st.integers(5, 30)),
        block_size=32,
        n_layer=draw(st.integers(1, 3)),
        n_head=n_head,
        d_model=4 * n_head * draw(st.sampled_from([1, 2])),
        n_kv_head=n_kv_head,
        norm=draw(st.sampled_from(["layernorm", "rmsnorm"])),
        norm_position=draw(st.sampled_from(["pre", "post"])),
        position=draw(st.sampled_from(["learned", "sinusoidal", "rope", "none"])),
        mlp=draw(st.sampled_from(["gelu", "swiglu"])),
        tie_weights=draw(st.booleans()),
        bias=draw(st.booleans()),
    )


def _model(cfg: GPTConfig, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(cfg).double().eval()


@settings(max_examples=25, deadline=None)
@given(small_configs(), st.integers(1, 3), st.integers(1, 8), st.integers(1, 8))
def test_cached_decoding_equals_full_forward(
    cfg: GPTConfig, batch: int, prompt_len: int, n_new: int
) -> None:
    model = _model(cfg)
    prompt = torch.randint(0, cfg.vocab_size, (batch, prompt_len))
    tokens, step_logits = ch.greedy_decode(model, prompt, n_new)
    assert tokens.shape == (batch, prompt_len + n_new)
    assert torch.equal(tokens[:, :prompt_len], prompt)
    with torch.no_grad():
        full_logits = model(tokens)[0]  # (B, P + n_new, V)
    # the logits that chose token P + i are those of position P + i - 1 of the full pass
    torch.testing.assert_close(step_logits, full_logits[:, prompt_len - 1 : -1], atol=1e-12, rtol=0)
    # greedy tokens agree with the shared model's generate unless a step was a near-tie
    top2 = step_logits.topk(2, dim=-1).values  # (B, n_new, 2)
    if (top2[..., 0] - top2[..., 1]).min() > 1e-9:
        assert torch.equal(tokens, model.generate(prompt, n_new, use_cache=False))


@settings(max_examples=20, deadline=None)
@given(small_configs(), st.integers(1, 3), st.integers(1, 10), st.integers(1, 6))
def test_cache_contents_match_the_shared_model(
    cfg: GPTConfig, batch: int, prefix: int, chunk: int
) -> None:
    model = _model(cfg)
    seq = torch.randint(0, cfg.vocab_size, (batch, prefix + chunk))
    cache = ch.KVCache.for_model(model, batch, prefix + chunk)
    with torch.no_grad():
        ch.forward_with_cache(model, seq[:, :prefix], cache)  # prefill
        ch.forward_with_cache(model, seq[:, prefix:], cache)  # a second chunk
        _, reference = model(seq, use_cache=True)
    assert cache.length == prefix + chunk
    for layer, (k, v) in enumerate(reference):
        torch.testing.assert_close(cache.keys[layer], k, atol=1e-12, rtol=0)
        torch.testing.assert_close(cache.values[layer], v, atol=1e-12, rtol=0)


@settings(max_examples=20, deadline=None)
@given(small_configs(), st.integers(1, 3), st.integers(1, 12), st.integers(1, 4))
def test_flops_formula_matches_the_counter(cfg: GPTConfig, batch: int, past: int, new: int) -> None:
    model = _model(cfg)
    seq = torch.randint(0, cfg.vocab_size, (batch, past + new))
    cache = ch.KVCache.for_model(model, batch, past + new)
    with torch.no_grad():
        ch.forward_with_cache(model, seq[:, :past], cache)
        with FlopCounterMode(display=False) as counter:
            ch.forward_with_cache(model, seq[:, past:], cache)
    assert counter.get_total_flops() == ch.forward_flops(cfg, new, past + new, batch)


@settings(max_examples=20, deadline=None)
@given(small_configs(), st.integers(1, 3), st.integers(1, 12))
def test_cache_bytes_formula_matches_tensors(cfg: GPTConfig, batch: int, seq_len: int) -> None:
    torch.manual_seed(0)
    model = GPT(cfg).float().eval()
    with torch.no_grad():
        _, cache = model(torch.randint(0, cfg.vocab_size, (batch, seq_len)), use_cache=True)
    measured = sum(k.nbytes + v.nbytes for k, v in cache)
    assert measured == ch.kv_cache_bytes(cfg.n_layer, cfg.kv_heads, cfg.head_dim, seq_len, batch, 4)
    ours = ch.KVCache.for_model(model, batch, seq_len)
    assert ours.nbytes == measured


@settings(max_examples=20, deadline=None)
@given(small_configs())
def test_parameter_count_and_matmul_weights(cfg: GPTConfig) -> None:
    assert ch.parameter_count(cfg) == sum(p.numel() for p in GPT(cfg).parameters())
    assert 2 * ch.matmul_weights(cfg) == ch.forward_flops(cfg, 1, 0)


def test_llama2_7b_errata_numbers() -> None:
    per_token = ch.kv_cache_bytes(32, 32, 128, 1, 1, 2)
    assert per_token == 524_288 == 2**19
    assert per_token * 4096 == 2 * 2**30
    assert ch.kv_cache_bytes(80, 8, 128, 1, 1, 2) == 327_680


def test_cache_overflow_and_crop() -> None:
    cache = ch.KVCache(1, 1, 1, 4, 2, torch.float64)
    k = torch.ones(1, 1, 3, 2)
    keys, values = cache.append(0, k, 2 * k)
    assert keys.shape == (1, 1, 3, 2) and torch.equal(values, 2 * k)
    cache.advance(3)
    with pytest.raises(ValueError):
        cache.append(0, k, k)  # 3 + 3 > 4
    cache.crop(1)
    assert cache.length == 1
    with pytest.raises(ValueError):
        cache.crop(2)
