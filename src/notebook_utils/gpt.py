"""One small, configurable GPT-style decoder, reused by the transformer and training chapters.

The model is the plain pre-norm GPT-2 block stack by default, with switches for the parts
that chapters compare::

    cfg = GPTConfig(vocab_size=16, block_size=32, n_layer=2, n_head=4, d_model=64)
    model = GPT(cfg)
    logits, cache = model(tokens, use_cache=True)          # (B, T, V), one (k, v) per layer
    next_logits, cache = model(next_token, past_key_values=cache, use_cache=True)

Switches (each chapter explains the one it is about):

``norm``            ``"layernorm"`` (GPT-2) or ``"rmsnorm"`` (LLaMA).
``norm_position``   ``"pre"`` (norm inside the residual branch, final norm after the stack) or
                    ``"post"`` (norm after each residual addition, as in the original
                    Transformer; no final norm).
``position``        ``"learned"`` absolute embeddings (GPT-2), ``"sinusoidal"`` fixed
                    absolute encodings, ``"rope"`` rotary embeddings applied to queries and
                    keys, or ``"none"``.
``n_kv_head``       key/value heads: ``n_head`` for multi-head attention, 1 for multi-query,
                    anything that divides ``n_head`` for grouped-query attention.
``mlp``             ``"gelu"`` (two matrices, GPT-2's tanh-approximated GELU) or ``"swiglu"``
                    (three matrices, LLaMA).
``tie_weights``     the output head shares the token-embedding matrix.

The key/value cache is a tuple with one ``(k, v)`` pair per layer, each of shape
``(B, n_kv_head, S, head_dim)`` where ``S`` counts every position seen so far; keys are
cached after the rotary embedding, so cached positions are never rotated again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "GPT",
    "Block",
    "CausalSelfAttention",
    "GPTConfig",
    "KVCache",
    "apply_rope",
    "example_configs",
    "rope_cos_sin",
    "sinusoidal_positions",
]

KVCache = tuple[tuple[torch.Tensor, torch.Tensor], ...]


@dataclass(frozen=True)
class GPTConfig:
    """Shape and architecture switches of :class:`GPT` (see the module docstring)."""

    vocab_size: int
    block_size: int
    n_layer: int
    n_head: int
    d_model: int
    n_kv_head: int | None = None
    d_ff: int | None = None
    norm: Literal["layernorm", "rmsnorm"] = "layernorm"
    norm_position: Literal["pre", "post"] = "pre"
    position: Literal["learned", "sinusoidal", "rope", "none"] = "learned"
    mlp: Literal["gelu", "swiglu"] = "gelu"
    tie_weights: bool = True
    bias: bool = True
    dropout: float = 0.0
    rope_base: float = 10000.0
    norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "d_model"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.d_model % self.n_head:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_head={self.n_head}")
        if self.n_head % self.kv_heads:
            raise ValueError(f"n_kv_head={self.kv_heads} must divide n_head={self.n_head}")
        if self.position == "rope" and self.head_dim % 2:
            raise ValueError(f"rotary embeddings need an even head_dim, got {self.head_dim}")
        if self.position == "sinusoidal" and self.d_model % 2:
            raise ValueError(f"sinusoidal positions need an even d_model, got {self.d_model}")
        choices = {
            "norm": ("layernorm", "rmsnorm"),
            "norm_position": ("pre", "post"),
            "position": ("learned", "sinusoidal", "rope", "none"),
            "mlp": ("gelu", "swiglu"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    @property
    def kv_heads(self) -> int:
        return self.n_head if self.n_kv_head is None else self.n_kv_head

    @property
    def ff_dim(self) -> int:
        return 4 * self.d_model if self.d_ff is None else self.d_ff


def sinusoidal_positions(n_positions: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """The fixed encodings of Vaswani et al.: ``PE[p, 2i] = sin(p / base^(2i/d))``, ``2i+1``: cos.

    Returns a float32 tensor of shape ``(n_positions, d_model)``.
    """
    pos = torch.arange(n_positions, dtype=torch.float64)[:, None]  # (P, 1)
    inv_freq = base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)  # (d/2,)
    pe = torch.zeros(n_positions, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos * inv_freq)
    pe[:, 1::2] = torch.cos(pos * inv_freq)
    return pe.float()


def rope_cos_sin(
    positions: torch.Tensor, head_dim: int, base: float = 10000.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosines and sines of the rotary angles ``p * base^(-2i/head_dim)``.

    Uses the "half-split" pairing (dimension ``i`` rotates with ``i + head_dim/2``, as in
    GPT-NeoX and LLaMA's Hugging Face port). Returns two float32 tensors of shape
    ``(len(positions), head_dim)``, each angle repeated for both halves.
    """
    inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = positions.to(torch.float64)[:, None] * inv_freq[None, :]  # (T, hd/2)
    angles = torch.cat([angles, angles], dim=-1)  # (T, hd)
    return angles.cos().float(), angles.sin().float()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate ``x`` of shape ``(B, H, T, hd)`` by the angles of :func:`rope_cos_sin`."""
    half = x.shape[-1] // 2
    rotated_half = torch.cat([-x[..., half:], x[..., :half]], dim=-1)  # (B, H, T, hd)
    return x * cos.to(x.dtype) + rotated_half * sin.to(x.dtype)


def _norm(cfg: GPTConfig) -> nn.Module:
    if cfg.norm == "rmsnorm":
        return nn.RMSNorm(cfg.d_model, eps=cfg.norm_eps)
    return nn.LayerNorm(cfg.d_model, eps=cfg.norm_eps, bias=cfg.bias)


class CausalSelfAttention(nn.Module):
    """Multi-head (or grouped/multi-query) causal self-attention with an optional cache."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        hd, h, kv = cfg.head_dim, cfg.n_head, cfg.kv_heads
        self.qkv = nn.Linear(cfg.d_model, (h + 2 * kv) * hd, bias=cfg.bias)
        self.proj = nn.Linear(h * hd, cfg.d_model, bias=cfg.bias)
        self.dropout = cfg.dropout

    def forward(
        self,
        x: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
        past: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Attend from the ``T`` new positions of ``x`` to the cached and new positions.

        Returns the output ``(B, T, d_model)`` and this layer's updated ``(k, v)``.
        """
        cfg = self.cfg
        B, T, _ = x.shape
        hd, h, kv = cfg.head_dim, cfg.n_head, cfg.kv_heads
        q, k, v = self.qkv(x).split([h * hd, kv * hd, kv * hd], dim=-1)
        q = q.view(B, T, h, hd).transpose(1, 2)  # (B, h, T, hd)
        k = k.view(B, T, kv, hd).transpose(1, 2)  # (B, kv, T, hd)
        v = v.view(B, T, kv, hd).transpose(1, 2)  # (B, kv, T, hd)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)  # (B, kv, S, hd)
            v = torch.cat([past[1], v], dim=2)
        present = (k, v)
        S = k.shape[2]
        if kv != h:  # each group of h // kv query heads reads the same key/value head
            k = k.repeat_interleave(h // kv, dim=1)  # (B, h, S, hd)
            v = v.repeat_interleave(h // kv, dim=1)
        # Query i (absolute position S - T + i) sees keys 0 .. S - T + i.
        mask = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(diagonal=S - T)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0
        )  # (B, h, T, hd)
        y = y.transpose(1, 2).reshape(B, T, h * hd)
        return self.proj(y), present


class MLP(nn.Module):
    """The position-wise feed-forward network: GELU (2 matrices) or SwiGLU (3 matrices)."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.kind = cfg.mlp
        self.up = nn.Linear(cfg.d_model, cfg.ff_dim, bias=cfg.bias)
        self.gate = (
            nn.Linear(cfg.d_model, cfg.ff_dim, bias=cfg.bias) if cfg.mlp == "swiglu" else None
        )
        self.down = nn.Linear(cfg.ff_dim, cfg.d_model, bias=cfg.bias)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gate is not None:
            hidden = F.silu(self.gate(x)) * self.up(x)
        else:
            hidden = F.gelu(self.up(x), approximate="tanh")
        out: torch.Tensor = self.drop(self.down(hidden))
        return out


class Block(nn.Module):
    """One transformer block: attention and MLP sublayers, each with a residual connection."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.pre_norm = cfg.norm_position == "pre"
        self.norm1 = _norm(cfg)
        self.attn = CausalSelfAttention(cfg)
        self.norm2 = _norm(cfg)
        self.mlp = MLP(cfg)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(
        self,
        x: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
        past: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        if self.pre_norm:  # x + f(norm(x))
            a, present = self.attn(self.norm1(x), rope, past)
            x = x + self.drop(a)
            x = x + self.mlp(self.norm2(x))
        else:  # norm(x + f(x))
            a, present = self.attn(x, rope, past)
            x = self.norm1(x + self.drop(a))
            x = self.norm2(x + self.mlp(x))
        return x, present


class GPT(nn.Module):
    """A GPT-style decoder-only language model (see the module docstring for the switches).

    GPT-2 small is ``GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12,
    d_model=768)``: 124,439,808 parameters with the tied head.
    """

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos_emb = (
            nn.Embedding(cfg.block_size, cfg.d_model) if cfg.position == "learned" else None
        )
        if cfg.position == "sinusoidal":
            self.register_buffer(
                "pos_table", sinusoidal_positions(cfg.block_size, cfg.d_model), persistent=False
            )
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.final_norm = _norm(cfg) if cfg.norm_position == "pre" else None
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        if cfg.tie_weights:
            self.head.weight = self.tok_emb.weight
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """GPT-2's initialisation: N(0, 0.02) weights, zero biases, unit norm gains, and the
        output projection of each residual branch scaled by ``1/sqrt(2 n_layer)``."""
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif p.dim() == 1:  # norm gains
                nn.init.ones_(p)
            else:
                std = 0.02
                if name.endswith(("attn.proj.weight", "mlp.down.weight")):
                    std /= math.sqrt(2 * self.cfg.n_layer)
                nn.init.normal_(p, mean=0.0, std=std)

    def forward(
        self,
        idx: torch.Tensor,
        past_key_values: KVCache | None = None,
        use_cache: bool = False,
    ) -> tuple[torch.Tensor, KVCache | None]:
        """Logits ``(B, T, vocab)`` for token ids ``idx`` ``(B, T)``.

        With ``past_key_values`` the tokens continue a sequence whose keys and values are
        cached; positions start after the cached ones. With ``use_cache`` the updated cache
        is returned as well (else ``None``).
        """
        cfg = self.cfg
        T = idx.shape[1]
        past_len = 0 if past_key_values is None else past_key_values[0][0].shape[2]
        if past_key_values is not None and len(past_key_values) != cfg.n_layer:
            raise ValueError(f"cache has {len(past_key_values)} layers, model {cfg.n_layer}")
        if past_len + T > cfg.block_size and cfg.position in ("learned", "sinusoidal"):
            raise ValueError(
                f"sequence of {past_len + T} positions exceeds block_size={cfg.block_size}"
            )
        positions = torch.arange(past_len, past_len + T, device=idx.device)  # (T,)
        x = self.tok_emb(idx)  # (B, T, d)
        if self.pos_emb is not None:
            x = x + self.pos_emb(positions)
        elif cfg.position == "sinusoidal":
            x = x + self.get_buffer("pos_table")[positions]
        rope = (
            rope_cos_sin(positions, cfg.head_dim, cfg.rope_base) if cfg.position == "rope" else None
        )
        if rope is not None:
            rope = (rope[0].to(idx.device), rope[1].to(idx.device))
        x = self.drop(x)
        presents = []
        for i, block in enumerate(self.blocks):
            past = None if past_key_values is None else past_key_values[i]
            x, present = block(x, rope, past)
            presents.append(present)
        if self.final_norm is not None:
            x = self.final_norm(x)
        logits = self.head(x)  # (B, T, V)
        return logits, (tuple(presents) if use_cache else None)

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        *,
        use_cache: bool = True,
        temperature: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Continue ``idx`` ``(B, T)`` by ``max_new_tokens`` tokens.

        ``temperature == 0`` decodes greedily; otherwise tokens are sampled from
        ``softmax(logits / temperature)`` with ``generator``. With ``use_cache`` each step
        feeds only the newest token and reuses the cached keys and values; without it each
        step re-runs the whole sequence. Both give the same tokens.
        """
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        out = idx
        cache: KVCache | None = None
        step_input = idx
        for _ in range(max_new_tokens):
            if use_cache:
                logits, cache = self(step_input, past_key_values=cache, use_cache=True)
            else:
                logits, _ = self(out)
            last = logits[:, -1, :]  # (B, V)
            if temperature == 0.0:
                nxt = last.argmax(dim=-1, keepdim=True)  # (B, 1)
            else:
                probs = torch.softmax(last / temperature, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=generator)
            out = torch.cat([out, nxt], dim=1)
            step_input = nxt
        return out


def example_configs(
    vocab_size: int = 50, block_size: int = 48, n_layer: int = 3, n_head: int = 4, d_model: int = 32
) -> dict[str, GPTConfig]:
    """Three small configurations, one per family of switches, named by what they are.

    The chapters that check an inference technique (the KV cache, paged attention) run it on
    all three, so that every norm, position scheme and KV-head layout is exercised.
    """

    def small(**switches: object) -> GPTConfig:
        return GPTConfig(
            vocab_size=vocab_size,
            block_size=block_size,
            n_layer=n_layer,
            n_head=n_head,
            d_model=d_model,
            **switches,  # type: ignore[arg-type]
        )

    return {
        "GPT-2 style (learned positions, LayerNorm, GELU, MHA)": small(),
        "LLaMA style (RoPE, RMSNorm, SwiGLU, GQA 4→2 heads, no biases)": small(
            n_kv_head=n_head // 2,
            norm="rmsnorm",
            position="rope",
            mlp="swiglu",
            tie_weights=False,
            bias=False,
        ),
        "post-norm, sinusoidal positions, MQA (1 KV head)": small(
            norm_position="post", position="sinusoidal", n_kv_head=1
        ),
    }
