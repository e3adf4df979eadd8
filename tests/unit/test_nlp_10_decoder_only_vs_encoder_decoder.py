"""Property tests of notebooks/nlp/10_decoder_only_vs_encoder_decoder.py: masks, span
corruption, and the encoder–decoder against nn.Transformer and its own caches."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from tests.chapter_code import load_chapter_definitions

ch = load_chapter_definitions("notebooks/nlp/10_decoder_only_vs_encoder_decoder.py")


@given(st.integers(0, 12), st.integers(1, 12))
def test_encoder_decoder_mask_is_prefix_lm_mask(n_source: int, n_target: int) -> None:
    assert torch.equal(
        ch.encoder_decoder_mask(n_source, n_target),
        ch.prefix_lm_mask(n_source + n_target, n_source),
    )


@given(st.integers(1, 20))
def test_prefix_lm_mask_limits(n: int) -> None:
    assert torch.equal(ch.prefix_lm_mask(n, 0), ch.causal_mask(n))
    assert torch.equal(ch.prefix_lm_mask(n, 1), ch.causal_mask(n))
    assert ch.prefix_lm_mask(n, n).all()


@settings(max_examples=200, deadline=None)
@given(
    st.integers(10, 600),
    st.floats(0.05, 0.45),
    st.floats(1.5, 5.0),
    st.integers(0, 2**32 - 1),
)
def test_span_corruption_counts_runs_and_round_trip(
    length: int, noise_density: float, mean_span: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, 500, length)
    inputs, targets, noise = ch.span_corruption(tokens, rng, noise_density, mean_span)
    n_noise, n_spans = ch.span_counts(length, noise_density, mean_span)
    assert noise.sum() == n_noise
    edges = np.diff(np.concatenate([[0], noise.astype(int), [0]]))
    assert (edges == 1).sum() == n_spans  # the spans never merge
    assert not noise[0]  # T5's layout starts with kept tokens
    assert len(targets) == n_noise + n_spans + 1
    assert len(inputs) == length - n_noise + n_spans + 1
    assert inputs[-1] == targets[-1] == ch.EOS
    np.testing.assert_array_equal(ch.undo_span_corruption(inputs, targets), tokens)


def _model(n_enc: int, n_dec: int, seed: int) -> Any:
    torch.manual_seed(seed)
    model = ch.EncoderDecoder(11, 16, n_enc, n_dec, 2, 8).double()
    with torch.no_grad():
        for p in model.parameters():
            p += 0.1 * torch.randn_like(p)
    return model.eval()


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 2), st.integers(1, 2), st.integers(1, 8), st.integers(1, 8))
def test_encoder_decoder_matches_torch_transformer(
    n_enc: int, n_dec: int, n_source: int, n_target: int
) -> None:
    model = _model(n_enc, n_dec, seed=n_source * 10 + n_target)
    reference = ch.as_torch_transformer(model, 2)
    src = torch.randint(0, 10, (2, n_source))
    tgt_in = torch.randint(0, 11, (2, n_target))
    ours, _ = model.decode(tgt_in, model.cross_keys_values(model.encode(src)))
    theirs = reference(
        model.tok_emb(src) + model.src_pos.weight[:n_source],
        model.tok_emb(tgt_in) + model.tgt_pos.weight[:n_target],
        tgt_mask=nn.Transformer.generate_square_subsequent_mask(n_target, dtype=torch.float64),
    )
    torch.testing.assert_close(ours, theirs, atol=1e-12, rtol=0)


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 2), st.integers(1, 6), st.integers(1, 10))
def test_cached_greedy_decoding_matches_uncached(n_dec: int, n_source: int, n_new: int) -> None:
    model = _model(1, n_dec, seed=n_new)
    src = torch.randint(0, 10, (3, n_source))
    tokens, logits, cross_kv, past = ch.greedy_decode(model, src, n_new)
    tokens_ref, logits_ref, _, _ = ch.greedy_decode(model, src, n_new, use_cache=False)
    torch.testing.assert_close(logits, logits_ref, atol=1e-12, rtol=0)
    assert torch.equal(tokens, tokens_ref)
    assert sum(k.numel() + v.numel() for k, v in cross_kv) == 2 * n_dec * n_source * 8 * 3
    assert sum(k.numel() + v.numel() for k, v in past) == 2 * n_dec * n_new * 8 * 3
