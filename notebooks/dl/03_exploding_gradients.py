# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03. Exploding gradients and gradient clipping
#
# **The question.** How do you deal with exploding gradients?
#
# **What you will be able to answer.** Where exploding gradients come from (Jacobians whose
# gain is above 1, which the weights set and the activation cannot); how to see them in a
# training run; clip-by-norm with the *global* norm and clip-by-value, written exactly as
# PyTorch does them, and why the first keeps the gradient's direction and the second does not;
# and how clipping relates to warm-up, LSTMs, Adam and the loss scaling of mixed precision.

# %%
import math
from collections.abc import Callable, Iterable

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.devices import get_device
from notebook_utils.nn import gradient_norms
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)
torch.set_default_dtype(torch.float64)  # float64, so the checks against torch can use atol 1e-12

# %% [markdown]
# ## Short answer
#
# - **Cause.** Backpropagation multiplies one Jacobian per layer, or per time step in a
#   recurrent net ([chapter 02](02_vanishing_gradients.ipynb)). When the typical gain of these
#   factors is above 1, the gradient grows exponentially with depth or sequence length: in a
#   linear RNN whose recurrent matrix has spectral radius $\rho>1$, the gradient that reaches
#   $k$ steps back grows like $\rho^{k}$.
# - **Not ReLU.** Each factor is $\operatorname{diag}(f')\,W$, and
#   $|f'|\le1$ for ReLU, Leaky ReLU, ELU and tanh: the activation can only shrink the gain, so
#   the weights are what explode it. The notes' "ReLU can cause exploding gradients, try Leaky
#   ReLU or ELU" is wrong on both counts: Leaky ReLU and ELU fix *dying* units, not explosion,
#   and with the same large weights they explode just like ReLU (Experiment 1).
# - **Diagnosis.** The loss jumps up (spikes) and then turns into `inf`/`NaN`; the total
#   gradient norm, logged every step, jumps by orders of magnitude with it or just before.
# - **Clip by norm** (the default): compute the norm of *all* gradients together, as one vector,
#   and rescale them when it exceeds a threshold $c$:
#   $g\leftarrow g\cdot\min\!\big(1,\,c/\lVert g\rVert\big)$. The direction is kept and an SGD
#   step is at most $\eta c$ long. **Clip by value** clamps each coordinate to $[-c,c]$, which
#   changes the direction: $g=(3,4)$ with $c=1$ becomes $(0.6,0.8)$ by norm but $(1,1)$ by value.
# - **Other remedies.** A smaller learning rate, or warm-up; an initialisation that keeps
#   the gains near 1 (orthogonal or scaled recurrent matrices, Xavier/He); normalisation layers;
#   weight decay; LSTM or GRU cells for long sequences.
# - **Not the same problem:** in mixed precision, loss scaling deals with float16's range
#   (largest value 65504), where a gradient that is harmless in float32 overflows to `inf`.
#   Clip only after `GradScaler.unscale_`.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $x_t$, $h_t$ | input ($D$ entries) and hidden state ($H$) at step $t$ | `input[t]`, `h` |
# | $W_{ih}$, $W_{hh}$ | input ($H\times D$) and recurrent ($H\times H$) weights | `weight_*_l0` |
# | $f$ | the activation, element-wise | `nonlinearity` |
# | $\rho(W)$ | spectral radius: the largest $\lvert\lambda\rvert$ of $W$ | `spectral_radius` |
# | $\lVert W\rVert_2$ | spectral norm, the largest singular value | `matrix_norm(ord=2)` |
# | $g=(g^{(1)},\dots,g^{(K)})$ | gradients of the model's $K$ parameter tensors | `p.grad` |
# | $\lVert g\rVert_p$ | $p$-norm of all gradients viewed as one vector | `total_norm` |
# | $c$ | clipping threshold | `max_norm`, `clip_value` |
# | $\eta$ | learning rate | `lr` |
#
# ### Where the explosion comes from
#
# An Elman RNN, PyTorch's `nn.RNN`, updates its state with
#
# $$
# h_t=f\big(a_t\big),\qquad a_t=W_{ih}x_t+b_{ih}+W_{hh}h_{t-1}+b_{hh}
# $$ (eg-rnn)
#
# Unrolled over time it is a deep net whose layers share $W_{hh}$. The chain rule multiplies one
# Jacobian $\partial h_j/\partial h_{j-1}=\operatorname{diag}(f'(a_j))\,W_{hh}$ per step
# ([chapter 02](02_vanishing_gradients.ipynb) derives this product and checks it against
# autograd), and bounding each factor by its spectral norm gives
#
# $$
# \Big\lVert\frac{\partial h_T}{\partial h_t}\Big\rVert_2
# =\Big\lVert\prod_{j=T}^{t+1}\operatorname{diag}\big(f'(a_j)\big)\,W_{hh}\Big\rVert_2
# \le\big(\gamma\,\lVert W_{hh}\rVert_2\big)^{T-t},\qquad \gamma=\sup_z|f'(z)|
# $$ (eg-bound)
#
# The gradient can grow only if $\gamma\lVert W_{hh}\rVert_2>1$, a necessary condition
# {cite}`pascanu2013difficulty`. ReLU, Leaky ReLU (slope $\alpha<1$ for $z<0$), ELU (slope
# $e^z\le1$ for $z<0$, with PyTorch's default $\alpha=1$) and tanh all have $\gamma=1$, the
# identity too, and the sigmoid has $\gamma=\tfrac14$. No activation in use has $\gamma>1$, so
# none of them can *create* an explosion: it needs $\lVert W_{hh}\rVert_2>1$, large weights.
# Deep feed-forward nets obey the same bound with a different $W_l$ in each factor.
#
# For the identity ($f(z)=z$) the product is a matrix power, and the gradient of a loss at step
# $T$ with respect to the input $k=T-t$ steps back is
#
# $$
# \frac{\partial\mathcal L}{\partial x_{T-k}}=W_{ih}^\top\big(W_{hh}^\top\big)^{k}\,
# \frac{\partial\mathcal L}{\partial h_T}
# $$ (eg-linear-rnn)
#
# If $W_{hh}$ is diagonalisable with eigenvalues $|\lambda_1|\ge|\lambda_2|\ge\dots$, writing a
# vector in its eigenbasis, $v=\sum_i c_iu_i$, gives $W^kv=\sum_ic_i\lambda_i^ku_i$; the terms with
# $|\lambda_i|=\rho$ dominate, and $\lVert W^kv\rVert\approx C\rho^k$ for large $k$, where $C$
# may oscillate a little when the leading eigenvalues are a complex pair (for any matrix,
# $\lVert W^k\rVert^{1/k}\to\rho(W)$, Gelfand's formula). So for a linear RNN the
# spectral radius decides: below 1 the gradient from far back vanishes, above 1 it explodes, at
# a rate we can predict:
#
# $$
# \Big\lVert\frac{\partial\mathcal L}{\partial x_{T-k}}\Big\rVert\approx C\,\rho(W_{hh})^{k}
# $$ (eg-growth)
#
# Why a large gradient wrecks training: gradient descent trusts a first-order expansion of the
# loss, $\mathcal L(w-\eta g)\approx\mathcal L(w)-\eta\lVert g\rVert^2$, which holds only for short
# steps. Near a region where $\rho(W_{hh})$ crosses 1, the loss surface of an RNN has steep
# "cliffs" {cite}`pascanu2013difficulty`: the gradient there is orders of magnitude larger than
# elsewhere, the step $\eta g$ is just as much longer, and it lands the weights far away, often
# where the gradients are larger still (Experiment 2).
#
# ### Clipping by the global norm
#
# Let $g^{(1)},\dots,g^{(K)}$ be the gradients of all parameter tensors. Their *global* $p$-norm
# is the norm of all their entries together, which is the same as the $p$-norm of the vector of
# per-tensor norms (group the sum of $|g_i|^p$ by tensor):
#
# $$
# \lVert g\rVert_p=\Big(\sum_{k=1}^{K}\sum_i\big|g^{(k)}_i\big|^p\Big)^{1/p}
# =\Big\lVert\big(\lVert g^{(1)}\rVert_p,\dots,\lVert g^{(K)}\rVert_p\big)\Big\rVert_p,
# \qquad \lVert g\rVert_\infty=\max_k\max_i\big|g^{(k)}_i\big|
# $$ (eg-global-norm)
#
# Clipping by norm multiplies *every* tensor by the same factor:
#
# $$
# g^{(k)}\leftarrow s\,g^{(k)},\qquad s=\min\Big(1,\frac{c}{\lVert g\rVert_p+\epsilon}\Big),
# \qquad \epsilon=10^{-6}
# $$ (eg-clip-norm)
#
# This is `torch.nn.utils.clip_grad_norm_` {cite}`pytorch2025clipgrad`; the $\epsilon$ keeps the
# division finite and makes a clipped norm land a hair below $c$. Since $s>0$ is one number,
# the clipped gradient points in exactly the same direction; its norm is $\min(\lVert
# g\rVert,c)$ up to $\epsilon$, so an SGD step is never longer than $\eta c$. Below the threshold
# nothing changes. Clipping each tensor by its own norm,
#
# $$
# g^{(k)}\leftarrow g^{(k)}\min\Big(1,\frac{c}{\lVert g^{(k)}\rVert}\Big)\quad\text{for each }k
# $$ (eg-clip-per-tensor)
#
# is a different operation: each tensor gets its own factor, so the relative sizes of the
# tensors, and with them the overall direction, change. Keras' `clipnorm` does this and its
# `global_clipnorm` does {eq}`eg-clip-norm` {cite}`keras2025optimizers`.
#
# ### Clipping by value
#
# Clipping by value clamps each coordinate on its own:
#
# $$
# g_i\leftarrow\min\big(\max(g_i,-c),\,c\big)
# $$ (eg-clip-value)
#
# (`torch.nn.utils.clip_grad_value_`). Coordinates beyond $c$ shrink and the others do not, so
# the direction changes; if every coordinate is beyond $c$, the result is
# $c\,\operatorname{sign}(g)$ whatever the gradient's shape. The change of direction is measured
# by the cosine
#
# $$
# \cos\theta=\frac{g^\top\hat g}{\lVert g\rVert\,\lVert\hat g\rVert}
# $$ (eg-cosine)
#
# between the gradient $g$ and its clipped version $\hat g$. For the notes' example $g=(3,4)$,
# $c=1$: the norm clip gives $(3,4)/5=(0.6,0.8)$ with $\cos\theta=1$; the value clip gives
# $(1,1)$ with $\cos\theta=7/(5\sqrt2)=0.98995$, a turn of $8.1°$ (checked below). Element-wise
# clipping is the older recipe, used for RNN language models {cite}`mikolov2012statistical`;
# clipping the norm was proposed by {cite:t}`pascanu2013difficulty`, and
# {cite:t}`goodfellow2016deep` (Section 10.11.1) discuss both.
#
# ### Loss scaling in mixed precision is a different overflow
#
# float16 represents magnitudes from about $6\times10^{-8}$ (the smallest subnormal) to 65504.
# Many gradient entries are small enough to fall below that range and would flush to zero, so
# mixed-precision training multiplies the loss by a large factor $S$ (e.g. $2^{16}$) before the
# backward pass {cite}`micikevicius2018mixed`:
#
# $$
# \nabla_w\big(S\,\mathcal L\big)=S\,g,\qquad g=\frac1S\,\nabla_w\big(S\,\mathcal L\big)
# $$ (eg-loss-scale)
#
# The scaled gradient can overflow to `inf` even when $g$ is small. PyTorch's `GradScaler`
# divides by $S$ before the step (`unscale_`), skips the step if anything is non-finite and
# halves $S$, and slowly raises $S$ again after a run of good steps {cite}`pytorch2025amp`. That is
# an artefact of the number format, not a large true gradient, and clipping does not address
# it. The two meet in one place: clip the *unscaled* gradient, or the threshold means $c/S$
# (Pitfalls).

# %% [markdown]
# ## Implementation from scratch
#
# ### The global norm and the two clippings
#
# {eq}`eg-global-norm`, written out: the $p$-norm of one tensor, then the $p$-norm of the
# per-tensor norms. Like PyTorch, the functions take a tensor or any iterable of tensors (a
# generator such as `model.parameters()` included), skip parameters without a gradient, and
# change the gradients in place.

# %%
TensorOrTensors = torch.Tensor | Iterable[torch.Tensor]


def as_tensor_list(tensors: TensorOrTensors) -> list[torch.Tensor]:
    """A list of tensors from one tensor or an iterable of them (a generator is consumed once)."""
    return [tensors] if isinstance(tensors, torch.Tensor) else list(tensors)


def vector_norm(x: torch.Tensor, p: float) -> torch.Tensor:
    """‖x‖_p over all entries: (Σ|x_i|^p)^(1/p), or max|x_i| for p = ∞."""
    if x.numel() == 0:
        return torch.zeros((), dtype=x.dtype, device=x.device)
    if math.isinf(p):
        return x.abs().max()
    if p == 2.0:
        return (x * x).sum().sqrt()
    return x.abs().pow(p).sum().pow(1.0 / p)


def get_total_norm(
    tensors: TensorOrTensors, norm_type: float = 2.0, error_if_nonfinite: bool = False
) -> torch.Tensor:
    """The p-norm of all tensors viewed as one vector, eq. (eg-global-norm)."""
    tensors = as_tensor_list(tensors)
    if not tensors:
        return torch.tensor(0.0)
    norm_type = float(norm_type)
    per_tensor = torch.stack(
        [vector_norm(t, norm_type).to(tensors[0].device) for t in tensors]
    )  # (K,): one norm per tensor
    total_norm = vector_norm(per_tensor, norm_type)  # the norm of the norms
    if error_if_nonfinite and not bool(torch.isfinite(total_norm)):
        raise RuntimeError(f"the total norm of order {norm_type} of the gradients is non-finite")
    return total_norm


# %% [markdown]
# {eq}`eg-clip-norm`. PyTorch multiplies by the clamped factor even when it is 1, which avoids
# reading the norm back from a GPU to decide; the result is the same.


# %%
@torch.no_grad()
def clip_grad_norm_(
    parameters: TensorOrTensors,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> torch.Tensor:
    """Rescale all gradients by one factor so that their global norm is at most max_norm.

    Returns the global norm *before* clipping, eq. (eg-clip-norm)."""
    grads = [p.grad for p in as_tensor_list(parameters) if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_coef = torch.clamp(float(max_norm) / (total_norm + 1e-6), max=1.0)  # s of the equation
    for grad in grads:
        grad.mul_(clip_coef.to(grad.device))
    return total_norm


@torch.no_grad()
def clip_grad_value_(parameters: TensorOrTensors, clip_value: float) -> None:
    """Clamp every gradient entry to [-clip_value, clip_value], eq. (eg-clip-value)."""
    clip_value = float(clip_value)
    for p in as_tensor_list(parameters):
        if p.grad is not None:
            p.grad.clamp_(min=-clip_value, max=clip_value)


# %% [markdown]
# And the per-tensor variant {eq}`eg-clip-per-tensor`, only to compare it with the global one:


# %%
@torch.no_grad()
def clip_grad_norm_per_tensor_(
    parameters: TensorOrTensors, max_norm: float, norm_type: float = 2.0
) -> torch.Tensor:
    """Clip each gradient by its own norm, eq. (eg-clip-per-tensor); returns the K norms."""
    grads = [p.grad for p in as_tensor_list(parameters) if p.grad is not None]
    norms = torch.stack([vector_norm(g, float(norm_type)) for g in grads])  # (K,)
    for grad, norm in zip(grads, norms, strict=True):
        grad.mul_(torch.clamp(float(max_norm) / (norm + 1e-6), max=1.0))
    return norms


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """cos θ between two tensors viewed as vectors, eq. (eg-cosine)."""
    a, b = a.flatten(), b.flatten()
    return float(a @ b / (vector_norm(a, 2.0) * vector_norm(b, 2.0)))


def flat_grad(parameters: Iterable[torch.Tensor]) -> torch.Tensor:
    """All gradients concatenated into one vector (a copy)."""
    return torch.cat([p.grad.flatten() for p in parameters if p.grad is not None]).clone()


# %% [markdown]
# ### An Elman RNN with any activation
#
# {eq}`eg-rnn` as a `torch.nn.Module` with `nn.RNN`'s argument names, parameter names and
# initialisation ($\mathcal U(\pm1/\sqrt H)$ for every tensor), so that it can load an `nn.RNN`'s
# `state_dict`. `nn.RNN` offers only tanh and ReLU; this one also runs without an activation,
# which is the linear RNN of {eq}`eg-linear-rnn`, and with Leaky ReLU or ELU.

# %%
NONLINEARITIES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "identity": lambda z: z,
    "relu": torch.relu,
    "leaky_relu": F.leaky_relu,  # slope 0.01 for z < 0
    "elu": F.elu,  # α = 1: e^z - 1 for z < 0
    "tanh": torch.tanh,
}


class ElmanRNN(nn.Module):
    """One-layer RNN over inputs of shape (T, B, input_size), like nn.RNN(batch_first=False)."""

    def __init__(
        self, input_size: int, hidden_size: int, nonlinearity: str = "tanh", bias: bool = True
    ) -> None:
        super().__init__()
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"unknown nonlinearity {nonlinearity!r}")
        self.input_size, self.hidden_size = input_size, hidden_size
        self.nonlinearity = nonlinearity
        self.weight_ih_l0 = nn.Parameter(torch.empty(hidden_size, input_size))  # W_ih (H, D)
        self.weight_hh_l0 = nn.Parameter(torch.empty(hidden_size, hidden_size))  # W_hh (H, H)
        if bias:
            self.bias_ih_l0 = nn.Parameter(torch.empty(hidden_size))
            self.bias_hh_l0 = nn.Parameter(torch.empty(hidden_size))
        else:
            self.register_parameter("bias_ih_l0", None)
            self.register_parameter("bias_hh_l0", None)
        bound = 1 / math.sqrt(hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def forward(
        self, input: torch.Tensor, hx: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """All hidden states (T, B, H) and the last one (1, B, H)."""
        f = NONLINEARITIES[self.nonlinearity]
        input_part = input @ self.weight_ih_l0.T  # (T, B, H): W_ih x_t for every t at once
        if self.bias_ih_l0 is not None:
            input_part = input_part + self.bias_ih_l0 + self.bias_hh_l0
        h = input.new_zeros(input.shape[1], self.hidden_size) if hx is None else hx[0]  # (B, H)
        outputs = []
        for a_input in input_part:  # a_input: (B, H)
            h = f(a_input + h @ self.weight_hh_l0.T)  # (B, H), eq. (eg-rnn)
            outputs.append(h)
        return torch.stack(outputs), h.unsqueeze(0)


def spectral_radius(matrix: torch.Tensor) -> float:
    """ρ(W) = max |λ_i(W)|; NaN for a matrix with non-finite entries."""
    matrix = matrix.detach().cpu().double()
    if not bool(torch.isfinite(matrix).all()):
        return math.nan
    return float(torch.linalg.eigvals(matrix).abs().max())


# %% [markdown]
# ## Verification
#
# ### The clipping functions against `torch.nn.utils`
#
# Four parameter sets in float64: the parameters of a small MLP with random gradients (one
# parameter left without a gradient), one tensor passed alone, a list mixing a scalar and a
# matrix, and a generator. Each is clipped with thresholds above and below its norm, for
# $p=2,1,\infty$, once with our functions and once with PyTorch's, from the same gradients. The
# returned norm and every gradient afterwards must agree to $10^{-14}$ (relative), and
# `clip_grad_value_` must give identical numbers.


# %%
def make_parameter_set(kind: str, seed: int) -> list[torch.Tensor]:
    """Fresh parameters with random gradients; the same (kind, seed) gives the same numbers."""
    generator = torch.Generator().manual_seed(seed)
    if kind == "mlp":
        mlp = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3), nn.Linear(3, 2))
        params = list(mlp.parameters())
    elif kind == "one tensor":
        params = [nn.Parameter(torch.empty(4, 6))]
    else:  # "scalar and matrix", "generator"
        params = [nn.Parameter(torch.empty(())), nn.Parameter(torch.empty(3, 5))]
    for i, p in enumerate(params):
        if kind == "mlp" and i == 3:
            continue  # a parameter without .grad, e.g. frozen or unused
        p.grad = 3.0 * torch.randn(p.shape, generator=generator)
    return params


def grads_of(params: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in params if p.grad is not None])


def pass_as(params: list[torch.Tensor], kind: str) -> TensorOrTensors:
    """How the parameters are handed to the clipping function."""
    if kind == "one tensor":
        return params[0]
    return (p for p in params) if kind == "generator" else params


KINDS = ["mlp", "one tensor", "scalar and matrix", "generator"]
n_cases, max_rel_error = 0, 0.0
for kind in KINDS:
    for norm_type in (2.0, 1.0, math.inf):
        full_norm = float(get_total_norm(grads_of(make_parameter_set(kind, 0)), norm_type))
        for max_norm in (0.1 * full_norm, 10.0 * full_norm):  # clipping, and not clipping
            ours, theirs = make_parameter_set(kind, 0), make_parameter_set(kind, 0)
            ours_norm = clip_grad_norm_(pass_as(ours, kind), max_norm, norm_type)
            torch_norm = nn.utils.clip_grad_norm_(pass_as(theirs, kind), max_norm, norm_type)
            what = f"{kind}, p = {norm_type}, c = {max_norm:.3g}"
            check_close(f"{what}: norm", ours_norm, torch_norm, atol=0.0, rtol=1e-14, quiet=True)
            check_close(
                f"{what}: grads",
                grads_of(ours),
                grads_of(theirs),
                atol=1e-15,
                rtol=1e-14,
                quiet=True,
            )
            error = (ours_norm - torch_norm).abs() / torch_norm
            max_rel_error = max(max_rel_error, float(error))
            n_cases += 1
check_true(
    "clip_grad_norm_ vs torch.nn.utils.clip_grad_norm_ (norm returned and grads after)",
    n_cases == 24,
    f"{n_cases} cases (4 parameter sets × p ∈ {{2, 1, ∞}} × 2 thresholds), "
    f"max relative error of the norm {max_rel_error:.1e} (rtol 1e-14)",
)

# %%
for kind in KINDS:
    ours, theirs = make_parameter_set(kind, 1), make_parameter_set(kind, 1)
    clip_grad_value_(pass_as(ours, kind), 1.5)
    nn.utils.clip_grad_value_(pass_as(theirs, kind), 1.5)
    check_equal(f"clip_grad_value_ vs torch's, {kind}", grads_of(ours), grads_of(theirs))

# %% [markdown]
# Non-finite gradients: with `error_if_nonfinite=True` both must raise; by default both must
# return the same non-finite norm and leave `NaN` in the same places. With an `inf` entry the
# factor is $c/\infty=0$, so the finite entries become 0 and the infinite one $0\cdot\infty=$
# `NaN`; with a `NaN` entry every gradient becomes `NaN`. Clipping does not rescue a non-finite
# gradient (Pitfalls).

# %%
for bad_value in (math.inf, math.nan):
    ours, theirs = make_parameter_set("mlp", 2), make_parameter_set("mlp", 2)
    for params in (ours, theirs):
        params[0].grad[0, 0] = bad_value
    raised = 0
    for clip in (clip_grad_norm_, nn.utils.clip_grad_norm_):
        params = make_parameter_set("mlp", 2)
        params[0].grad[0, 0] = bad_value
        try:
            clip(params, 1.0, 2.0, error_if_nonfinite=True)
        except RuntimeError:
            raised += 1
    check_equal(
        f"error_if_nonfinite=True raises when one entry is {bad_value} (ours, torch)", raised, 2
    )
    ours_norm = clip_grad_norm_(ours, 1.0)
    torch_norm = nn.utils.clip_grad_norm_(theirs, 1.0)
    check_equal(
        f"{bad_value} in one entry: norm, and where NaN appears after clipping",
        [str(float(ours_norm)), *torch.isnan(grads_of(ours)).tolist()],
        [str(float(torch_norm)), *torch.isnan(grads_of(theirs)).tolist()],
    )
    after = grads_of(ours)
    print(
        f"   after clipping: {int(torch.isnan(after).sum())} NaN and "
        f"{int((after == 0).sum())} zero entries, of {after.numel()}"
    )
    if math.isinf(bad_value):
        check_true(
            "inf entry: every other gradient entry is set to 0",
            bool(torch.all(after[~torch.isnan(after)] == 0)),
        )

# %% [markdown]
# ### The notes' example, and global vs per-tensor clipping
#
# $g=(3,4)$, $c=1$: by norm $(0.6,0.8)$ up to the $\epsilon$ of {eq}`eg-clip-norm` (the factor is
# $1/(5+10^{-6})$, so the error is about $2\times10^{-7}$), with cosine 1; by value $(1,1)$, with
# cosine $7/(5\sqrt2)$.


# %%
def clipped(vector: list[float], how: str, c: float) -> torch.Tensor:
    """A single parameter with gradient `vector`, clipped; returns the new gradient."""
    p = nn.Parameter(torch.zeros(len(vector)))
    p.grad = torch.tensor(vector)
    clip_grad_norm_([p], c) if how == "norm" else clip_grad_value_([p], c)
    return p.grad


g_notes = torch.tensor([3.0, 4.0])
by_norm, by_value = clipped([3.0, 4.0], "norm", 1.0), clipped([3.0, 4.0], "value", 1.0)
check_close("norm clip of (3, 4) at c = 1", by_norm, torch.tensor([0.6, 0.8]), atol=1e-6)
check_equal("value clip of (3, 4) at c = 1", by_value, torch.tensor([1.0, 1.0]))
check_close("cos θ, norm clip", cosine(g_notes, by_norm), 1.0, atol=1e-15)
check_close(
    "cos θ, value clip = 7/(5√2)", cosine(g_notes, by_value), 7 / (5 * math.sqrt(2)), atol=1e-15
)
print(
    f"value clip: cos θ = {cosine(g_notes, by_value):.5f}, "
    f"a turn of {math.degrees(math.acos(cosine(g_notes, by_value))):.1f}°"
)

# %% [markdown]
# Global vs per-tensor clipping, on two tensors with gradients $(3,4)$ and $(0.3,0.4)$ (norms 5
# and 0.5) and $c=1$. Globally both are scaled by the same $1/\sqrt{25.25}$ and the gradient keeps
# its direction; per tensor, only the first is shrunk (to norm 1) and the second keeps its 0.5,
# so the ratio of the two norms falls from 10 to 2 and the direction turns.


# %%
def two_tensors() -> list[nn.Parameter]:
    first, second = nn.Parameter(torch.zeros(2)), nn.Parameter(torch.zeros(2))
    first.grad, second.grad = torch.tensor([3.0, 4.0]), torch.tensor([0.3, 0.4])
    return [first, second]


global_params, per_tensor_params = two_tensors(), two_tensors()
raw = grads_of(two_tensors())  # (4,)
clip_grad_norm_(global_params, 1.0)
clip_grad_norm_per_tensor_(per_tensor_params, 1.0)
global_clipped, per_tensor_clipped = grads_of(global_params), grads_of(per_tensor_params)
check_close("global: cos θ with the raw gradient", cosine(raw, global_clipped), 1.0, atol=1e-15)
check_close(
    "per tensor: second tensor untouched", per_tensor_clipped[2:], torch.tensor([0.3, 0.4]), atol=0
)
check_true(
    "per-tensor clipping turns the gradient",
    cosine(raw, per_tensor_clipped) < 1 - 1e-3,
    f"cos θ = {cosine(raw, per_tensor_clipped):.4f}; ratio of the two tensors' norms "
    f"{float(raw[:2].norm() / raw[2:].norm()):.0f} before, "
    f"{float(per_tensor_clipped[:2].norm() / per_tensor_clipped[2:].norm()):.2f} after",
)

# %% [markdown]
# ### The RNN against `nn.RNN`, forward and backward
#
# Same weights (loaded from `nn.RNN`'s `state_dict`), a sequence of 7 steps, batch 4, an
# initial state, float64. Outputs, last state, and the gradients of a random linear function of
# both with respect to the input, the initial state and all four parameters must agree to
# $10^{-12}$, for tanh and ReLU.

# %%
check_input = torch.randn(7, 4, 3)  # (T, B, D)
check_h0 = torch.randn(1, 4, 5)  # (1, B, H)
output_weights, last_weights = torch.randn(7, 4, 5), torch.randn(1, 4, 5)
for nonlinearity in ("tanh", "relu"):
    reference = nn.RNN(3, 5, nonlinearity=nonlinearity)
    ours_rnn = ElmanRNN(3, 5, nonlinearity)
    ours_rnn.load_state_dict(reference.state_dict())
    results = []
    for model in (ours_rnn, reference):
        x, h0 = check_input.clone().requires_grad_(True), check_h0.clone().requires_grad_(True)
        output, h_n = model(x, h0)
        ((output * output_weights).sum() + (h_n * last_weights).sum()).backward()
        grads = [x.grad, h0.grad] + [p.grad for p in model.parameters()]
        results.append(torch.cat([output.flatten(), h_n.flatten()] + [g.flatten() for g in grads]))
    check_close(
        f"ElmanRNN vs nn.RNN ({nonlinearity}): outputs and all gradients", *results, atol=1e-12
    )

# %% [markdown]
# And {eq}`eg-linear-rnn`: for the linear RNN, autograd's $\partial\mathcal L/\partial x_t$ must
# be $W_{ih}^\top(W_{hh}^\top)^{T-t}r$ for $\mathcal L=r^\top h_T$, at every $t$.

# %%
linear_rnn = ElmanRNN(3, 6, "identity", bias=False)
sequence = torch.randn(12, 1, 3, requires_grad=True)  # (T, 1, D)
readout_r = torch.randn(6)
(linear_rnn(sequence)[1][0, 0] @ readout_r).backward()
w_ih, w_hh = linear_rnn.weight_ih_l0.detach(), linear_rnn.weight_hh_l0.detach()
closed_form = torch.stack(
    [w_ih.T @ torch.linalg.matrix_power(w_hh.T, 11 - t) @ readout_r for t in range(12)]
)  # (T, D)
check_close(
    "autograd ∂L/∂x_t vs W_ihᵀ (W_hhᵀ)^(T-t) r", sequence.grad[:, 0], closed_form, atol=1e-12
)

# %% [markdown]
# Finally the premise of the errata: the largest slope of each activation, measured by
# autograd on a grid, is at most 1.

# %%
grid = torch.linspace(-6, 6, 4001, requires_grad=True)
for name, f in NONLINEARITIES.items():
    (slope,) = torch.autograd.grad(f(grid).sum(), grid)
    check_true(
        f"sup |f'| ≤ 1 for {name}", float(slope.abs().max()) <= 1.0, f"{slope.abs().max():.4f}"
    )

# %% [markdown]
# ## Experiments
#
# ### 1. The gradient grows like $\rho^k$, and the activation cannot cause it
#
# One random $64\times64$ matrix, rescaled to several spectral radii, used as $W_{hh}$ of
# `ElmanRNN`s with 8 inputs and no biases; one sequence of $T=100$ random inputs, the loss
# $\mathcal L=r^\top h_T$ for a fixed random $r$. The figure shows $\lVert\partial\mathcal
# L/\partial x_t\rVert$ against the distance $k=T-t$: on the left the linear RNN for four values
# of $\rho$, with the prediction {eq}`eg-growth` dashed (slope $\rho$, the constant fitted); on
# the right, the same $W_{hh}$ scaled to $\rho=2$ with each activation. The growth rate per step
# is fitted over $k\ge20$.

# %%
GROWTH_T, GROWTH_H, GROWTH_D = 100, 64, 8
torch.manual_seed(0)
base_w_hh = torch.randn(GROWTH_H, GROWTH_H) / math.sqrt(GROWTH_H)  # (H, H)
growth_inputs = torch.randn(GROWTH_T, 1, GROWTH_D)  # (T, 1, D)
growth_readout = torch.randn(GROWTH_H)  # (H,): r
distance = np.arange(GROWTH_T)  # k = T - t


def make_rnn(nonlinearity: str, radius: float) -> ElmanRNN:
    """The same W_ih for every model; W_hh is base_w_hh rescaled to spectral radius `radius`."""
    torch.manual_seed(1)
    rnn = ElmanRNN(GROWTH_D, GROWTH_H, nonlinearity, bias=False)
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(base_w_hh * radius / spectral_radius(base_w_hh))
    return rnn


def input_gradient_norms(rnn: ElmanRNN) -> np.ndarray:
    """‖∂(rᵀh_T)/∂x_t‖, indexed by the distance k = T - t."""
    inputs = growth_inputs.clone().requires_grad_(True)
    _, h_n = rnn(inputs)
    (h_n[0, 0] @ growth_readout).backward()
    return torch.linalg.vector_norm(inputs.grad[:, 0], dim=-1).flip(0).numpy()  # (T,)


def growth_rate(norms: np.ndarray, start: int = 20) -> float:
    """exp of the slope of log ‖∂L/∂x_{T-k}‖ against k, fitted for k ≥ start."""
    slope = np.polyfit(distance[start:], np.log(norms[start:]), 1)[0]
    return float(np.exp(slope))


RADII = [0.9, 1.0, 1.1, 1.2]
linear_norms = {rho: input_gradient_norms(make_rnn("identity", rho)) for rho in RADII}
for rho, norms in linear_norms.items():
    check_close(
        f"linear RNN, ρ = {rho}: fitted growth per step", growth_rate(norms), rho, atol=0, rtol=0.01
    )

# %%
activation_norms = {name: input_gradient_norms(make_rnn(name, 2.0)) for name in NONLINEARITIES}
activation_rates = {name: growth_rate(norms) for name, norms in activation_norms.items()}
for name, rate in activation_rates.items():
    print(
        f"ρ(W_hh) = 2, {name:>10}: growth per step {rate:.3f}, "
        f"‖∂L/∂x_t‖ at k = 99: {activation_norms[name][-1]:.1e}"
    )
for name in ("relu", "leaky_relu", "elu", "tanh"):
    check_true(
        f"{name} grows no faster than the linear RNN",
        activation_rates[name] <= activation_rates["identity"],
        f"{activation_rates[name]:.3f} ≤ {activation_rates['identity']:.3f}",
    )
for name in ("relu", "leaky_relu", "elu"):
    check_true(
        f"{name} still explodes with ρ = 2",
        activation_rates[name] > 1.1,
        f"growth per step {activation_rates[name]:.3f}",
    )

# %%
fig, (ax_linear, ax_activation) = plt.subplots(1, 2, figsize=(11, 4.2))
for colour, (rho, norms) in zip(PALETTE, linear_norms.items(), strict=False):
    constant = np.exp(np.mean(np.log(norms[20:]) - distance[20:] * np.log(rho)))  # C of eq.
    ax_linear.semilogy(
        distance, norms, color=colour, label=f"ρ = {rho}: fitted {growth_rate(norms):.3f}/step"
    )
    ax_linear.semilogy(distance, constant * rho**distance, ":", color="k", lw=1.2, zorder=3)
ax_linear.plot([], [], ":", color="k", label="prediction $C\\rho^k$")
ax_linear.set(
    xlabel="distance k = T − t (steps back)",
    ylabel=r"$\|\partial\mathcal{L}/\partial x_t\|$",
    title="Linear RNN: the gradient grows like $\\rho^k$",
)
ax_linear.legend(loc="upper left")
activation_labels = {
    "identity": "none (linear)",
    "relu": "ReLU",
    "leaky_relu": "Leaky ReLU 0.01",
    "elu": "ELU",
    "tanh": "tanh",
}
for colour, (name, norms) in zip(PALETTE, activation_norms.items(), strict=False):
    style = "--" if name == "leaky_relu" else "-"
    ax_activation.semilogy(
        distance,
        norms,
        style,
        color=colour,
        label=f"{activation_labels[name]}: {activation_rates[name]:.2f}/step",
    )
ax_activation.set(
    xlabel="distance k = T − t (steps back)",
    ylabel=r"$\|\partial\mathcal{L}/\partial x_t\|$",
    title="Same $W_{hh}$ with ρ = 2: activations only slow it down",
)
ax_activation.legend(loc="upper left")
fig.suptitle(
    f"The weights set the explosion: ρ = 1.2 gives {growth_rate(linear_norms[1.2]):.3f}/step; "
    f"Leaky ReLU ({activation_rates['leaky_relu']:.2f}) and ELU "
    f"({activation_rates['elu']:.2f}) explode like ReLU ({activation_rates['relu']:.2f})"
)
plt.show()

# %% [markdown]
# The fitted rates (in the legend, and checked to 1 %) are the spectral radii. With the same
# weights at $\rho=2$, every activation grows more slowly than the linear RNN (multiplying by
# slopes of at most 1 removes gain, it never adds any), and ReLU, Leaky ReLU and ELU still
# explode, at nearly the same rate: ReLU zeroes the units that are negative at each step, which
# lowers the gain, and Leaky ReLU and ELU differ from ReLU only there, where their slopes are
# below 1. tanh, whose slope falls wherever the state saturates, grows the slowest. Replacing
# ReLU by Leaky ReLU or ELU does nothing for an explosion; making $W_{hh}$ smaller does.
#
# ### 2. A run that diverges without clipping, with the same seed, data and learning rate
#
# A tanh `nn.RNN` with 32 hidden units and a linear readout learns a delayed copy: at each of
# $T=30$ steps it must output the input it saw 5 steps earlier (inputs uniform on $[-1,1]$,
# squared error). PyTorch's default initialisation, plain SGD with $\eta=0.6$, batches of 32,
# 200 steps, float32 on `get_device()`. Three runs share the initial weights and the batches and
# differ only in what happens between `backward` and `step`: nothing, `clip_grad_norm_` with
# $c=1$, or `clip_grad_value_` with $c=0.1$ (our functions). Each step records the loss, the
# global gradient norm before clipping and $\rho(W_{hh})$; the unclipped run also records the
# gradient norm of each weight matrix (`gradient_norms`), and the value-clipped run the cosine
# between the clipped and the raw gradient.

# %%
device = get_device()
SEQ_LEN, HIDDEN, BATCH, DELAY, TRAIN_STEPS = 30, 32, 32, 5, 200
LEARNING_RATE, MAX_NORM, CLIP_VALUE = 0.6, 1.0, 0.1


class DelayedCopyRNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.RNN(1, HIDDEN)  # tanh
        self.readout = nn.Linear(HIDDEN, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.rnn(x)[0])  # (T, B, 1)


def delayed_copy_batch(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (T, B, 1) uniform on [-1, 1]; targets: the input DELAY steps earlier (0 before)."""
    x = torch.rand(SEQ_LEN, BATCH, 1, generator=generator, dtype=torch.float32) * 2 - 1
    y = torch.zeros_like(x)
    y[DELAY:] = x[:-DELAY]
    return x.to(device), y.to(device)


def train(clipping: str) -> dict[str, np.ndarray]:
    """One run; `clipping` is "none", "norm" or "value"."""
    torch.manual_seed(0)
    model = DelayedCopyRNN().to(device=device, dtype=torch.float32)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    batches = torch.Generator().manual_seed(1)  # the same batches for every run
    log: dict[str, list] = {"loss": [], "norm": [], "radius": [], "cosine": [], "weights": []}
    for _ in range(TRAIN_STEPS):
        if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
            break  # weights are inf/NaN: every later loss is NaN too, padded below
        x, y = delayed_copy_batch(batches)
        loss = F.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        log["radius"].append(spectral_radius(model.rnn.weight_hh_l0))
        if clipping == "none":
            log["weights"].append(gradient_norms(model))  # {name: ‖∂L/∂W‖} per weight matrix
            total_norm = get_total_norm([p.grad for p in model.parameters()])
        elif clipping == "norm":
            total_norm = clip_grad_norm_(model.parameters(), MAX_NORM)
        else:
            total_norm = get_total_norm([p.grad for p in model.parameters()])
            raw = flat_grad(model.parameters())
            clip_grad_value_(model.parameters(), CLIP_VALUE)
            log["cosine"].append(cosine(raw, flat_grad(model.parameters())))
        optimizer.step()
        log["loss"].append(loss.item())
        log["norm"].append(float(total_norm))
    for key in ("loss", "norm", "radius"):
        log[key] += [math.nan] * (TRAIN_STEPS - len(log[key]))
    return {key: np.array(values) for key, values in log.items()}


runs = {clipping: train(clipping) for clipping in ("none", "norm", "value")}

# %%
losses = {name: run["loss"] for name, run in runs.items()}
zero_prediction_loss = (SEQ_LEN - DELAY) / SEQ_LEN / 3  # E[y²]: U(-1, 1) has variance 1/3
first_bad = int(np.argmax(~np.isfinite(losses["none"])))
n_bad = {name: int(np.sum(~np.isfinite(loss))) for name, loss in losses.items()}
final = {name: float(np.mean(loss[-20:])) for name, loss in losses.items()}
print(f"steps with a non-finite loss: {n_bad}")
print(f"mean loss over the last 20 steps: { {k: f'{v:.4f}' for k, v in final.items()} }")
print(f"loss of always predicting 0: {zero_prediction_loss:.3f}")
check_true(
    "without clipping the run diverges",
    n_bad["none"] > 0,
    f"inf/NaN from step {first_bad}, {n_bad['none']} of {TRAIN_STEPS} steps",
)
for name in ("norm", "value"):
    check_true(
        f"clip by {name}: every loss finite, final loss < 1/3 of predicting 0",
        n_bad[name] == 0 and final[name] < zero_prediction_loss / 3,
        f"{final[name]:.4f} < {zero_prediction_loss / 3:.4f}",
    )

# %% [markdown]
# What happened in the unclipped run before the loss overflowed: the steps around the moment
# its $\rho(W_{hh})$ first exceeded 1, with the gradient norm of each weight matrix.

# %%
none_radius = runs["none"]["radius"]
crossing = int(np.argmax(none_radius > 1.0))
check_true(
    "without clipping, ρ(W_hh) crosses 1 before the loss overflows",
    bool(none_radius[crossing] > 1.0 and crossing < first_bad),
    f"step {crossing} (ρ = {none_radius[crossing]:.3f}) < step {first_bad}",
)
for step in range(max(crossing - 3, 0), min(crossing + 3, first_bad)):
    weights = runs["none"]["weights"][step]
    print(
        f"step {step:2d}: loss {losses['none'][step]:8.3g}, ρ(W_hh) {none_radius[step]:6.3g}, "
        f"‖g‖ {runs['none']['norm'][step]:8.3g}, step length η‖g‖ "
        f"{LEARNING_RATE * runs['none']['norm'][step]:8.3g}; per weight: "
        + ", ".join(f"{name} {norm:.2g}" for name, norm in weights.items())
    )
clipped_steps = np.flatnonzero(runs["norm"]["norm"] > MAX_NORM)
print(
    f"clip by norm: median pre-clip norm {np.median(runs['norm']['norm']):.3f} "
    f"(c / median = {MAX_NORM / np.median(runs['norm']['norm']):.1f}), "
    f"{len(clipped_steps)} of {TRAIN_STEPS} steps clipped (steps {clipped_steps.tolist()}), "
    f"largest ρ(W_hh) {runs['norm']['radius'].max():.3f}"
)
print(
    f"clip by value: cos θ between clipped and raw gradient, mean "
    f"{runs['value']['cosine'].mean():.4f}, smallest {runs['value']['cosine'].min():.4f}"
)
check_true(
    "clip by norm: ρ(W_hh) never runs away (stays below 1.5)",
    bool(runs["norm"]["radius"].max() < 1.5),
    f"max {runs['norm']['radius'].max():.3f}",
)

# %%
run_styles = {
    "none": (PALETTE[1], "no clipping"),
    "norm": (PALETTE[0], f"clip by norm, c = {MAX_NORM}"),
    "value": (PALETTE[2], f"clip by value, c = {CLIP_VALUE}"),
}
steps = np.arange(TRAIN_STEPS)
fig, (ax_loss, ax_norm, ax_radius) = plt.subplots(1, 3, figsize=(13, 4.2))
for name, run in runs.items():
    colour, label = run_styles[name]
    ax_loss.semilogy(steps, run["loss"], color=colour, label=label)
    ax_norm.semilogy(steps, run["norm"], color=colour, label=label)
    ax_radius.semilogy(steps, run["radius"], color=colour, label=label)
ax_loss.axvspan(first_bad, TRAIN_STEPS, color=PALETTE[1], alpha=0.08, lw=0)
ax_loss.text(
    first_bad + 4,
    2e3,
    f"no clipping: loss inf/NaN\nfrom step {first_bad} on\n"
    f"({n_bad['none']} of {TRAIN_STEPS} steps)",
    color=PALETTE[1],
)
ax_loss.set(
    xlabel="SGD step",
    ylabel="training loss (MSE)",
    ylim=(1e-2, 1e8),
    title="Loss (axis cut at 1e8)",
)
ax_norm.axhline(MAX_NORM, color="0.4", ls="--", lw=1, label="threshold c")
ax_norm.set(
    xlabel="SGD step",
    ylabel="global gradient norm before clipping",
    ylim=(1e-2, 1e8),
    title="Gradient norm (axis cut at 1e8)",
)
ax_radius.axhline(1.0, color="0.4", ls="--", lw=1, label="ρ = 1")
ax_radius.set(
    xlabel="SGD step",
    ylabel=r"spectral radius $\rho(W_{hh})$",
    ylim=(0.3, 1e3),
    title="Recurrent weights (axis cut at 1e3)",
)
ax_loss.legend(loc="upper right")
ax_norm.legend(loc="upper right")
ax_radius.legend(loc="upper right")
fig.suptitle(
    f"Same seed, data and η = {LEARNING_RATE}: unclipped, ρ(W_hh) passes 1 at step {crossing} "
    f"and the loss is inf by step {first_bad}; clipped by norm it ends at {final['norm']:.3f}"
)
plt.show()

# %% [markdown]
# The printout tells the story of the unclipped run. $\eta=0.6$ is too large for the first
# steps: each one overshoots, the loss goes up instead of down and the gradient norm grows
# step after step. One of these steps, of length $\eta\lVert g\rVert$ (printed), carries
# $\rho(W_{hh})$ from below 1 to above it. From then on the recurrent Jacobians have a gain
# above 1 (Experiment 1), the recurrent gradient (`weight_hh_l0`) grows by orders of magnitude
# within two steps, every step lands the weights further out, and the loss soon overflows.
# This is the cliff of {cite:t}`pascanu2013difficulty`: a region where the gradient is so large
# that a step of the usual $\eta$ leaves the region where the first-order picture holds. After
# the overflow the weights are `NaN`, and so is every later loss.
#
# With norm clipping the same early gradients give steps of at most $\eta c$, $\rho(W_{hh})$
# stays of order 1 (its largest value is printed) and the run learns. Clipping acted on a few
# steps only (the list above): at the very start, where the unclipped run began to go wrong,
# and at a few later spikes. Clipping by value also trains; the printout shows how
# far it turned the gradient's direction (the mean and smallest cosine).
#
# ### 3. What each clipping does to a gradient, in 2-D
#
# Five gradients, clipped at $c=1$: by norm (left; the disc of radius $c$) and by value (right;
# the square $[-c,c]^2$). Faint arrows are the raw gradients, solid ones the clipped.

# %%
raw_vectors = torch.tensor([[3.0, 4.0], [4.0, 0.5], [-1.5, 3.5], [-3.0, -1.2], [0.6, -0.5]])
norm_clipped = torch.stack([clipped(v.tolist(), "norm", 1.0) for v in raw_vectors])
value_clipped_vectors = torch.stack([clipped(v.tolist(), "value", 1.0) for v in raw_vectors])
turn = {
    name: np.degrees(
        np.arccos(np.clip([cosine(a, b) for a, b in zip(raw_vectors, out, strict=True)], -1, 1))
    )
    for name, out in (("norm", norm_clipped), ("value", value_clipped_vectors))
}
check_true(
    "norm clipping keeps every direction",
    float(turn["norm"].max()) < 1e-5,
    f"max turn {turn['norm'].max():.1e}°",
)
print("turn by value clipping (degrees):", np.round(turn["value"], 1))

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
for ax, out, name in zip(
    axes, (norm_clipped, value_clipped_vectors), ("norm", "value"), strict=True
):
    if name == "norm":
        ax.add_patch(plt.Circle((0, 0), 1.0, fill=False, color="0.4", ls="--"))
    else:
        ax.add_patch(plt.Rectangle((-1, -1), 2, 2, fill=False, color="0.4", ls="--"))
    for colour, v, w, angle in zip(PALETTE, raw_vectors, out, turn[name], strict=False):
        ax.annotate(
            "", v.tolist(), (0, 0), arrowprops=dict(arrowstyle="->", color=colour, alpha=0.35)
        )
        ax.annotate("", w.tolist(), (0, 0), arrowprops=dict(arrowstyle="->", color=colour, lw=2))
        ax.text(*(v * 1.04).tolist(), f"{angle:.0f}°", color=colour, fontsize=9)
    ax.set(xlim=(-4.6, 4.6), ylim=(-2.2, 4.6), aspect="equal", xlabel="$g_1$", ylabel="$g_2$")
    ax.set_title(f"clip by {name}, c = 1 (label: turn of the direction)")
fig.suptitle(
    f"Norm clipping keeps each direction; value clipping turns (3, 4) by {turn['value'][0]:.1f}° "
    f"and others by up to {turn['value'].max():.0f}°"
)
plt.show()

# %% [markdown]
# Norm clipping moves every long arrow radially onto the circle; value clipping pushes it onto
# the square, and an arrow that leaves the square through a side loses only its long
# coordinate, so it turns toward the nearest diagonal. The short arrow inside both shapes is
# untouched by either.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "ReLU can cause exploding gradients; switch to Leaky ReLU or ELU." Right?
# No. $|\operatorname{ReLU}'|\le1$, so by {eq}`eg-bound` ReLU can only lower a Jacobian's gain;
# explosion needs weights with $\lVert W\rVert_2>1$ (for a linear RNN, $\rho(W_{hh})>1$). Leaky
# ReLU and ELU also have slopes at most 1, and they address a different problem, units that are
# never active and get no gradient ("dying ReLU", [chapter 01](01_activation_functions.ipynb)).
# Experiment 1 measures it: with $\rho(W_{hh})=2$, ReLU, Leaky ReLU and ELU all explode at about
# the same rate, and all more slowly than the same net without an activation.
# :::
#
# :::{dropdown} I train with mixed precision. Where does clipping go?
# After `scaler.unscale_(optimizer)` and before `scaler.step(optimizer)`. The gradients that
# `backward` leaves are $S\,g$ ({eq}`eg-loss-scale`), so clipping them at $c$ clips the true
# gradient at $c/S$; with $S=2^{16}$ every step becomes tiny {cite}`pytorch2025amp`. `step`
# knows when `unscale_` was already called and does not divide twice. The cell below runs both
# orders with `torch.amp.GradScaler` on the CPU.
# :::


# %%
def first_sgd_update(unscale_first: bool) -> torch.Tensor:
    """One SGD step (η = 1) on L = ½‖w‖² from w = (3, 4) with loss scaling and clipping at c = 1."""
    start = torch.tensor([3.0, 4.0])  # float64, so that an update of 1e-5 is exact enough
    weight = nn.Parameter(start.clone())
    optimizer = torch.optim.SGD([weight], lr=1.0)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**16)
    scaler.scale(0.5 * (weight**2).sum()).backward()  # grad = S·w
    if unscale_first:
        scaler.unscale_(optimizer)
    clip_grad_norm_([weight], 1.0)
    scaler.step(optimizer)
    scaler.update()
    return start - weight.detach()


right, wrong = first_sgd_update(unscale_first=True), first_sgd_update(unscale_first=False)
check_close("unscale, then clip: the update is g clipped to norm 1", right, [0.6, 0.8], atol=1e-6)
check_close(
    "clip, then unscale: the update is 2^16 times smaller", wrong * 2**16, [0.6, 0.8], atol=1e-6
)
print(f"update with the right order {right.tolist()}, with the wrong order {wrong.tolist()}")

# %% [markdown]
# The overflow that loss scaling guards against is one of range, not of the gradient's size:
# three true gradient values in float16, as they are and scaled by $S=2^{16}$.

# %%
true_gradients = torch.tensor([1e-8, 3e-4, 2.0], dtype=torch.float32)
for scale in (1.0, 2.0**16):
    print(f"S = {scale:>7.0f}: float16 holds {(true_gradients * scale).half().tolist()}")
check_equal(
    "1e-8 underflows to 0 unscaled; 2 × 2^16 overflows to inf scaled",
    [float(true_gradients[0].half()), float((true_gradients[2] * 2**16).half())],
    [0.0, math.inf],
)

# %% [markdown]
# :::{dropdown} How do I choose the threshold $c$?
# Log the global gradient norm (the value `clip_grad_norm_` returns) during a healthy stretch of
# training and put $c$ at a few times its typical value, so that ordinary steps pass untouched
# and only spikes are cut; {cite:t}`pascanu2013difficulty` suggest the average norm over many
# updates as a guide. In Experiment 2 the threshold $c=1$ is a little over twice the median
# norm of the clipped run, and it acted on a few steps only (both printed there). A $c$ far
# below the typical norm clips every step, and SGD becomes normalised gradient descent with
# step $\eta c$: that is a change of learning rate in disguise. A $c$ far above never fires.
# Large language models usually clip the global norm at 1.0
# {cite}`brown2020gpt3,touvron2023llama`. The fraction of clipped steps is a useful health
# metric: a run that clips most steps has a learning-rate or architecture problem.
# :::
#
# :::{dropdown} Does clipping help with vanishing gradients?
# No. The factor $\min(1,c/\lVert g\rVert)$ is at most 1, and it is the same for every
# layer, so small gradients stay small and their ratio to the others is unchanged
# ([chapter 02](02_vanishing_gradients.ipynb) checks this). Exploding and vanishing gradients
# have the same cause, a product of Jacobians, but clipping treats only the first.
# :::
#
# :::{dropdown} Adam divides by the gradient's scale. Do I still need clipping?
# Adam is invariant to a *constant* rescaling of the gradient (chapter 01 of Part I checks it),
# but not to a *spike*. A single huge gradient enters $m_t$ with weight $1-\beta_1$ and $v_t$
# with weight $1-\beta_2$. While $m_t$ remembers it (some tens of steps), Adam moves the weight
# along the spike, against its usual direction, by steps of order $\eta$. Then $m_t$ is back to
# normal, but $v_t$ forgets over about $1/(1-\beta_2)=1000$ steps, so every later step is
# divided by an inflated $\sqrt{v_t}$ and the weight all but stops for hundreds of steps.
# Clipping the spike before Adam sees it avoids both. The cell below runs `torch.optim.Adam` on
# one weight whose gradient is 1 at every step except one bad batch of $-1000$, with and without
# clipping.
# :::


# %%
def adam_updates(spike: float, clip_at: float) -> np.ndarray:
    """Adam's updates w_t - w_{t+1} (η = 1), shape (steps, 2), for a gradient of 1 at every step
    but `spike` at step 200; column 0 as it is, column 1 clipped by norm at `clip_at` first."""
    weights = [nn.Parameter(torch.zeros(1)) for _ in range(2)]  # two runs in one optimizer
    optimizer = torch.optim.Adam(weights, lr=1.0)
    updates = []
    for t in range(1000):
        before = torch.cat([w.detach() for w in weights])  # (2,)
        for w in weights:
            w.grad = torch.tensor([spike if t == 200 else 1.0])
        clip_grad_norm_([weights[1]], clip_at)
        optimizer.step()
        updates.append((before - torch.cat([w.detach() for w in weights])).numpy())
    return np.array(updates[200:])  # from the spike on


spike_updates = adam_updates(-1000.0, clip_at=5.0)
stalled = np.sum(np.abs(spike_updates) < 0.5, axis=0)  # (2,)
for column, label in enumerate(("no clipping", "clip by norm at 5")):
    updates = spike_updates[:, column]
    print(
        f"{label:>17}: largest step {np.abs(updates).max():.2f} η, {int(np.sum(updates < 0))} "
        f"steps against the usual direction, {stalled[column]} of the {len(updates)} steps from "
        "the spike on shorter than η/2"
    )
check_true(
    "one spike stalls Adam for hundreds of steps; clipped, it does not",
    bool(stalled[0] > 300 and stalled[1] < 10),
    f"{stalled[0]} vs {stalled[1]} steps shorter than η/2",
)

# %% [markdown]
# :::{dropdown} Should I clip each layer separately, or by value?
# Neither is the standard. Per-tensor clipping ({eq}`eg-clip-per-tensor`, Keras' `clipnorm`)
# gives each tensor its own factor, so the direction of the whole update changes and a small
# tensor's share grows (fivefold in the Verification example). Value clipping bounds each
# coordinate, which also turns the gradient, and its overall bound depends on the number of
# parameters ($\lVert\hat g\rVert_2\le c\sqrt d$). It can still work, as Experiment 2 shows,
# but the global norm of {eq}`eg-clip-norm` is the default in PyTorch code and in the
# literature.
# :::
#
# :::{dropdown} My loss is already `NaN`. Will clipping save the step?
# No. With one `inf` entry the global norm is `inf` and the factor $c/\infty=0$: the finite
# gradients become 0 and the `inf` one `NaN` ($0\cdot\infty$); with one `NaN` entry every
# gradient becomes `NaN` (Verification). The step then writes `NaN` into the weights. Check
# `torch.isfinite(total_norm)` and skip the step (what `GradScaler` does for float16 overflow), or
# pass `error_if_nonfinite=True` to stop. Then look for the cause: a learning rate too high for
# this stretch of training, a $\log 0$ or a division by zero in the loss, or bad data.
# :::
#
# :::{dropdown} What else prevents explosions besides clipping?
# Whatever keeps the Jacobians' gains near 1 or the steps short. *Initialisation*: orthogonal
# or scaled recurrent matrices, Xavier/He for feed-forward nets
# ([chapter 02](02_vanishing_gradients.ipynb)).
# *Normalisation layers*, which undo a growing scale in the forward pass. *A smaller learning
# rate*, and *warm-up*: at the start of training the curvature is often high and Adam's
# $v_t$ is still a poor estimate, so a learning rate raised linearly over the first steps avoids
# the early blow-ups that the full rate would cause {cite}`goyal2017accurate`. *Weight decay*
# keeps $\lVert W\rVert$ from growing. *Gated cells*: the LSTM {cite}`hochreiter1997lstm` and GRU
# {cite}`cho2014learning` carry information along an additive path whose Jacobian is a diagonal
# of gates in $(0,1)$, which cannot explode; their other paths still can, and LSTMs were still
# trained with norm clipping, e.g. at 5 in sequence-to-sequence translation
# {cite}`sutskever2014sequence`. *Shorter truncated backpropagation through time* limits the
# number of factors in the product.
# :::
#
# :::{dropdown} Does clipping change what SGD converges to?
# Deterministic gradient descent with norm clipping has the same fixed points, since it only
# shortens steps and never reverses them. With minibatches, the clipped gradient's mean is not
# the mean gradient when clipping fires often, so a threshold that clips most steps biases the
# updates. With a threshold that only cuts rare spikes the effect is small, and clipping has
# also been argued to speed up training where the loss's curvature grows with the gradient norm
# {cite}`zhang2020why`.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. A model has two parameter tensors with gradients $g^{(1)}=(3,0,4)$ and
#    $g^{(2)}=(12)$. Compute the global 2-norm, the gradients after `clip_grad_norm_` with
#    $c=6.5$, the gradients after per-tensor clipping at the same $c$, and the global
#    $\infty$-norm. The next cell checks your numbers (ignore the $10^{-6}$).
#
#    :::{dropdown} Answer
#    $\lVert g\rVert_2=\sqrt{5^2+12^2}=13$, so both tensors are halved: $(1.5,0,2)$ and $(6)$.
#    Per tensor, $g^{(1)}$ has norm $5\le6.5$ and is kept; $g^{(2)}$ becomes $(6.5)$. The global
#    $\infty$-norm is $\max(4,12)=12$.
#    :::


# %%
def exercise_parameters() -> list[nn.Parameter]:
    first, second = nn.Parameter(torch.zeros(3)), nn.Parameter(torch.zeros(1))
    first.grad, second.grad = torch.tensor([3.0, 0.0, 4.0]), torch.tensor([12.0])
    return [first, second]


exercise_global, exercise_per_tensor = exercise_parameters(), exercise_parameters()
total = clip_grad_norm_(exercise_global, 6.5)
clip_grad_norm_per_tensor_(exercise_per_tensor, 6.5)
check_close("global 2-norm", total, 13.0, atol=1e-12)
check_close("global clip", grads_of(exercise_global), [1.5, 0.0, 2.0, 6.0], atol=1e-6)
check_close("per-tensor clip", grads_of(exercise_per_tensor), [3.0, 0.0, 4.0, 6.5], atol=1e-6)
check_close(
    "global ∞-norm", get_total_norm([p.grad for p in exercise_parameters()], math.inf), 12.0, atol=0
)

# %% [markdown]
# 2. A linear RNN has $W_{hh}=\operatorname{diag}(1.1,\,0.5)$ and $\partial\mathcal L/\partial
#    h_T=(1,1)$. From how many steps back does a component of $\partial\mathcal L/\partial h_t$
#    exceed float16's largest value, 65504?
#
#    :::{dropdown} Answer
#    $\partial\mathcal L/\partial h_{T-k}=(W_{hh}^\top)^k(1,1)=(1.1^k,\,0.5^k)$. We need
#    $1.1^k>65504$, i.e. $k>\ln65504/\ln1.1=116.4$: from $k=117$ on. A gradient that float32
#    holds easily (about $7\times10^4$) is `inf` in float16, which is the loss-scaling problem,
#    not a reason to clip.
#    :::

# %%
w_diag = torch.diag(torch.tensor([1.1, 0.5]))
grad_back, k_overflow = torch.ones(2), 0
while float(grad_back.abs().max()) <= 65504.0:
    grad_back, k_overflow = w_diag.T @ grad_back, k_overflow + 1
check_equal(
    "first k with a component above 65504", k_overflow, math.ceil(math.log(65504) / math.log(1.1))
)
check_true(
    "…and float16 turns it into inf",
    bool(torch.isinf(grad_back.half()).any()),
    f"{grad_back.tolist()}",
)

# %% [markdown]
# 3. Every coordinate of a gradient exceeds $c$ in absolute value. What does clipping by value
#    return, and whose first step does it look like?
#
#    :::{dropdown} Answer
#    $c\,\operatorname{sign}(g)$: the size of each coordinate is gone and only its sign is left,
#    so the step is the same for a gradient of $(2,1000)$ as for $(1000,2)$. It is the step of
#    signSGD, and, up to the factor, Adam's first step, which is $\eta\,\operatorname{sign}(g_1)$
#    (chapter 01 of Part I). Clipping by norm would keep the ratio 500 between the two
#    coordinates.
#    :::

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`pascanu2013difficulty`, Section 2.1: the product of Jacobians over time, the
#   necessary condition for explosion and the sufficient one for vanishing ({eq}`eg-bound`, with
#   $\gamma$); Sections 2.2–2.3: bifurcations and the cliffs of the loss surface; Section 3.2:
#   clipping by the gradient's norm, with the average norm as a guide for the threshold.
# - {cite:t}`mikolov2012statistical`: element-wise clipping of the gradients of RNN language
#   models; {cite:t}`goodfellow2016deep`, Section 10.11.1: clipping by value and by norm compared.
# - {cite:t}`bengio1994learning`: the first analysis of why gradients in recurrent nets vanish
#   or explode.
# - {cite:t}`pytorch2025clipgrad`: `torch.nn.utils.clip_grad_norm_` and `clip_grad_value_`, whose
#   arguments, $10^{-6}$ and non-finite handling the from-scratch versions follow;
#   {cite:t}`keras2025optimizers`: `clipnorm` (per tensor) vs `global_clipnorm`.
# - {cite:t}`micikevicius2018mixed`: loss scaling for float16 training;
#   {cite:t}`pytorch2025amp`: `GradScaler`, and unscaling before clipping.
# - {cite:t}`hochreiter1997lstm` (LSTM), {cite:t}`cho2014learning` (GRU),
#   {cite:t}`sutskever2014sequence` (LSTMs trained with norm clipping at 5),
#   {cite:t}`goyal2017accurate` (learning-rate warm-up), {cite:t}`zhang2020why` (why clipping can
#   speed up training), {cite:t}`brown2020gpt3`, Appendix B, and {cite:t}`touvron2023llama`,
#   Section 2.2 (clipping the global norm at 1.0).
