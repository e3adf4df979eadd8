"""The shared GPT model: parameter counts, causality, the cache, the attention variants."""

import math

import pytest
import torch
import torch.nn.functional as F

from notebook_utils.gpt import (
    GPT,
    GPTConfig,
    apply_rope,
    rope_cos_sin,
    sinusoidal_positions,
)
from notebook_utils.nn import count_parameters

TINY = dict(vocab_size=11, block_size=24, n_layer=2, n_head=4, d_model=32)


def _model(**overrides: object) -> GPT:
    torch.manual_seed(0)
    cfg = GPTConfig(**{**TINY, **overrides})  # type: ignore[arg-type]
    return GPT(cfg).double().eval()


def test_gpt2_small_has_124_439_808_parameters_with_a_tied_head() -> None:
    cfg = GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, d_model=768)
    with torch.device("meta"):
        model = GPT(cfg)
        untied = GPT(GPTConfig(**{**cfg.__dict__, "tie_weights": False}))
    assert count_parameters(model) == 124_439_808
    assert count_parameters(untied) == 124_439_808 + 50257 * 768


def test_parameter_count_formula_for_every_switch() -> None:
    for overrides in (
        {},
        {"norm": "rmsnorm", "bias": False, "position": "rope", "mlp": "swiglu"},
        {"n_kv_head": 1, "position": "none", "tie_weights": False},
        {"n_kv_head": 2, "position": "sinusoidal", "norm_position": "post"},
    ):
        cfg = GPTConfig(**{**TINY, **overrides})  # type: ignore[arg-type]
        d, L, V, f, hd = cfg.d_model, cfg.n_layer, cfg.vocab_size, cfg.ff_dim, cfg.head_dim
        b = int(cfg.bias)
        qkv_out = (cfg.n_head + 2 * cfg.kv_heads) * hd
        attn = d * qkv_out + b * qkv_out + d * d + b * d
        n_mats = 3 if cfg.mlp == "swiglu" else 2
        mlp = n_mats * d * f + b * ((n_mats - 1) * f + d)
        norm = d * (2 if cfg.norm == "layernorm" and cfg.bias else 1)
        n_final = 1 if cfg.norm_position == "pre" else 0
        expected = (
            V * d
            + (cfg.block_size * d if cfg.position == "learned" else 0)
            + L * (attn + mlp + 2 * norm)
            + n_final * norm
            + (0 if cfg.tie_weights else V * d)
        )
        assert count_parameters(GPT(cfg)) == expected, overrides


@pytest.mark.parametrize("position", ["learned", "sinusoidal", "rope", "none"])
@pytest.mark.parametrize("norm_position", ["pre", "post"])
def test_outputs_are_causal(position: str, norm_position: str) -> None:
    model = _model(position=position, norm_position=norm_position)
    x = torch.randint(0, 11, (2, 10))
    y = x.clone()
    y[:, 6:] = (y[:, 6:] + 1) % 11  # change the future only
    lx, _ = model(x)
    ly, _ = model(y)
    torch.testing.assert_close(lx[:, :6], ly[:, :6], rtol=0, atol=1e-12)
    assert (lx[:, 6:] - ly[:, 6:]).abs().max() > 1e-6


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"position": "rope", "norm": "rmsnorm", "mlp": "swiglu", "bias": False},
        {"n_kv_head": 1},
        {"n_kv_head": 2, "position": "sinusoidal", "norm_position": "post"},
    ],
)
def test_cache_gives_the_same_logits_and_tokens(overrides: dict[str, object]) -> None:
    model = _model(**overrides)
    x = torch.randint(0, 11, (3, 13))
    full, _ = model(x)
    # prefill 5 tokens, then 2, then one at a time
    logits, cache = model(x[:, :5], use_cache=True)
    pieces = [logits]
    logits, cache = model(x[:, 5:7], past_key_values=cache, use_cache=True)
    pieces.append(logits)
    for t in range(7, 13):
        logits, cache = model(x[:, t : t + 1], past_key_values=cache, use_cache=True)
        pieces.append(logits)
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, rtol=0, atol=1e-12)
    assert cache is not None and cache[0][0].shape == (3, model.cfg.kv_heads, 13, 8)
    a = model.generate(x[:, :4], 8, use_cache=True)
    b = model.generate(x[:, :4], 8, use_cache=False)
    assert torch.equal(a, b) and a.shape == (3, 12)


def test_gqa_with_repeated_kv_heads_equals_mha() -> None:
    """A GQA model whose key/value heads are copied into every group computes exactly MHA."""
    gqa = _model(n_kv_head=2)
    mha = _model()
    shared = {k: v for k, v in gqa.state_dict().items() if ".attn." not in k}
    mha.load_state_dict(shared, strict=False)  # embeddings, norms, MLPs
    hd, h, kv = 8, 4, 2
    for blk_g, blk_m in zip(gqa.blocks, mha.blocks, strict=True):
        wq, wk, wv = blk_g.attn.qkv.weight.split([h * hd, kv * hd, kv * hd])
        bq, bk, bv = blk_g.attn.qkv.bias.split([h * hd, kv * hd, kv * hd])

        def rep(t: torch.Tensor) -> torch.Tensor:
            return (
                t.view(kv, hd, *t.shape[1:])
                .repeat_interleave(h // kv, 0)
                .reshape(h * hd, *t.shape[1:])
            )

        with torch.no_grad():
            blk_m.attn.qkv.weight.copy_(torch.cat([wq, rep(wk), rep(wv)]))
            blk_m.attn.qkv.bias.copy_(torch.cat([bq, rep(bk), rep(bv)]))
            blk_m.attn.proj.load_state_dict(blk_g.attn.proj.state_dict())
    x = torch.randint(0, 11, (2, 9))
    torch.testing.assert_close(gqa(x)[0], mha(x)[0], rtol=0, atol=1e-12)


def test_attention_matches_a_naive_implementation() -> None:
    model = _model()
    attn = model.blocks[0].attn
    x = torch.randn(2, 7, 32, dtype=torch.float64)
    ours, _ = attn(x)
    q, k, v = attn.qkv(x).split(32, dim=-1)
    q, k, v = (t.view(2, 7, 4, 8).transpose(1, 2) for t in (q, k, v))
    s = q @ k.transpose(-1, -2) / math.sqrt(8)
    s = s.masked_fill(~torch.ones(7, 7, dtype=torch.bool).tril(), float("-inf"))
    ref = attn.proj((s.softmax(-1) @ v).transpose(1, 2).reshape(2, 7, 32))
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-12)


def test_rope_scores_depend_only_on_the_offset_and_preserve_norms() -> None:
    torch.manual_seed(1)
    q = torch.randn(1, 1, 1, 16, dtype=torch.float64)
    k = torch.randn(1, 1, 1, 16, dtype=torch.float64)

    def rotated(x: torch.Tensor, p: int) -> torch.Tensor:
        cos, sin = rope_cos_sin(torch.tensor([p]), 16)
        return apply_rope(x, cos.double(), sin.double())

    s1 = (rotated(q, 9) * rotated(k, 4)).sum()
    s2 = (rotated(q, 105) * rotated(k, 100)).sum()
    assert abs(float(s1 - s2)) < 1e-5  # float32 angles
    torch.testing.assert_close(rotated(q, 37).norm(), q.norm(), rtol=1e-6, atol=0)


def test_sinusoidal_positions_formula() -> None:
    pe = sinusoidal_positions(50, 8).double()
    p, i = 17, 2
    assert float(pe[p, 2 * i]) == pytest.approx(math.sin(p / 10000 ** (2 * i / 8)), abs=1e-6)
    assert float(pe[p, 2 * i + 1]) == pytest.approx(math.cos(p / 10000 ** (2 * i / 8)), abs=1e-6)


def test_tiny_model_learns_to_copy() -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=8, block_size=16, n_layer=2, n_head=2, d_model=32))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(150):
        src = torch.randint(0, 8, (32, 6), generator=g)
        seq = torch.cat([src, src], dim=1)  # second half repeats the first
        logits, _ = model(seq[:, :-1])
        loss = F.cross_entropy(logits[:, 5:].reshape(-1, 8), seq[:, 6:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 1.8 and sum(losses[-10:]) / 10 < 0.3


def test_bad_configs_and_inputs_raise() -> None:
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(**{**TINY, "n_head": 5})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must divide"):
        GPTConfig(**{**TINY, "n_kv_head": 3})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="position"):
        GPTConfig(**{**TINY, "position": "alibi"})  # type: ignore[arg-type]
    model = _model()
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros(1, 25, dtype=torch.long))
    assert _model(position="rope")(torch.zeros(1, 30, dtype=torch.long))[0].shape == (1, 30, 11)


def test_example_configs_cover_one_family_of_switches_each() -> None:
    from notebook_utils.gpt import example_configs

    configs = list(example_configs().values())
    assert [c.position for c in configs] == ["learned", "rope", "sinusoidal"]
    assert [c.kv_heads for c in configs] == [4, 2, 1]
    assert [c.norm for c in configs] == ["layernorm", "rmsnorm", "layernorm"]
    assert [c.norm_position for c in configs] == ["pre", "pre", "post"]
    assert configs[1].mlp == "swiglu" and not configs[1].bias and not configs[1].tie_weights
    for cfg in configs:
        assert (cfg.vocab_size, cfg.block_size, cfg.n_layer, cfg.d_model) == (50, 48, 3, 32)
        tokens = torch.randint(0, 50, (2, 5))
        assert GPT(cfg)(tokens)[0].shape == (2, 5, 50)
