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
# # 01. SGD, momentum, AdaGrad, RMSprop, Adam and AdamW
#
# **The question.** What is the difference between SGD, AdaGrad, RMSprop, Adam and AdamW?
#
# **What you will be able to answer.** What each optimizer adds to the one before it, in one
# formula each; why Adam needs bias correction; why Adam with L2 is not AdamW; and what each
# one does in a narrow valley.

# %%
import copy
import math
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch.optim import Optimizer
from torch.optim.optimizer import ParamsT

from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)
torch.set_default_dtype(torch.float64)  # float64 everywhere, so checks can use atol 1e-12

# %% [markdown]
# ## Short answer
#
# All five take the minibatch gradient $g_t$ and differ in how they turn it into a step.
#
# - **SGD** steps $-\eta g_t$: one step size for every coordinate, capped by the steepest
#   direction, so flat directions crawl. **Momentum** sums gradients into a buffer
#   $b_t=\mu b_{t-1}+g_t$ and steps $-\eta b_t$: consistent directions speed up, oscillating
#   ones cancel.
# - **AdaGrad** divides each coordinate by the root of the *sum* of its squared gradients.
#   Step sizes become per-coordinate (rare features get large steps), but the sum only grows,
#   so the steps shrink like $1/\sqrt t$ and long training stalls.
# - **RMSprop** replaces the sum by an exponential moving average (EMA) of $g_t^2$, so the
#   step sizes adapt without decaying to zero.
# - **Adam** is momentum plus RMSprop plus *bias correction*: EMAs $m_t$ of $g_t$ and $v_t$ of
#   $g_t^2$, divided by $1-\beta_1^t$ and $1-\beta_2^t$ to undo their start at zero, and the
#   step $-\eta\,\hat m_t/(\sqrt{\hat v_t}+\epsilon)$, about $\eta$ per coordinate whatever
#   the gradient's scale.
# - **AdamW** decays the weights outside the adaptive step:
#   $W_{t+1}=W_t-\eta\big(\hat m_t/(\sqrt{\hat v_t}+\epsilon)+\lambda W_t\big)$. Adam with L2
#   (`torch.optim.Adam(weight_decay=λ)`) instead adds $\lambda W_t$ to the gradient, so the
#   decay is divided by $\sqrt{\hat v_t}$ too, and weights with large gradients are barely
#   regularised. For SGD the two are the same; for Adam they are not.
#
# The notes get three formulas wrong: the bias correction divides by $1-\beta^{t}$ (not
# $\beta^{1}$ or $\beta^{l}$), the update divides by $\sqrt{\hat v_t}$ (not $\sqrt{v_t}$, which
# makes the first step 31.6 times too large, checked below), and AdaGrad's $G_t$ is the sum of
# squared gradients, which RMSprop replaces by an EMA of $g_t^2$ (not "$E[G^2]_t$").

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# The notes use $\lambda$ for the learning rate; this book uses $\eta$, and keeps $\lambda$ for
# weight decay, as the AdamW paper and PyTorch do.
#
# | symbol | meaning | PyTorch argument |
# |---|---|---|
# | $W_t$ | parameters before step $t$ | the tensors passed to the optimizer |
# | $g_t=\nabla_W\mathcal L_{B_t}(W_t)$ | gradient of the loss on minibatch $B_t$ | `p.grad` |
# | $\eta$ | learning rate | `lr` |
# | $\lambda$ | weight-decay (or L2) strength | `weight_decay` |
# | $\mu$ | momentum coefficient | `momentum` |
# | $\rho$ | RMSprop's EMA coefficient | `alpha` |
# | $\beta_1,\beta_2$ | Adam's EMA coefficients for $g_t$ and $g_t^2$ | `betas` |
# | $\epsilon$ | small constant that keeps the division finite | `eps` |
# | $t=1,2,\dots$ | step counter | `state["step"]` |
#
# Products $g_t\odot g_t$ (also written $g_t^2$), square roots and divisions of vectors are
# element-wise: every method here treats each coordinate on its own.
#
# ### SGD and momentum
#
# Plain SGD moves against the gradient:
#
# $$
# W_{t+1} = W_t - \eta\, g_t
# $$ (opt-sgd)
#
# On a quadratic $\mathcal L(w)=\tfrac12\sum_i h_i w_i^2$ (curvatures $h_i>0$) the gradient is
# $h_i w_i$ and each coordinate evolves on its own:
#
# $$
# w_{i,t+1} = (1-\eta h_i)\, w_{i,t}.
# $$ (opt-sgd-quadratic)
#
# It converges only if $|1-\eta h_i|<1$ for every $i$, i.e. $\eta<2/h_{\max}$. With $\eta$ near
# that cap, the flattest coordinate shrinks by $1-\eta h_{\min}\approx 1-2/\kappa$ per step,
# where $\kappa=h_{\max}/h_{\min}$ is the condition number: an ill-conditioned problem costs
# about $\kappa/2$ steps per e-fold of progress, while the steep coordinate flips sign each step
# (the zig-zag).
#
# Momentum keeps a running sum of gradients, in PyTorch's form (with $b_0=0$):
#
# $$
# b_t = \mu\, b_{t-1} + g_t, \qquad W_{t+1} = W_t - \eta\, b_t
# $$ (opt-momentum)
#
# For a constant gradient $b_t\to g/(1-\mu)$, so along a consistent direction the effective
# learning rate is $\eta/(1-\mu)$; a gradient that flips sign each step mostly cancels in the
# buffer. Polyak's form {cite}`polyak1964momentum` keeps a velocity
# $u_t=\mu u_{t-1}-\eta g_t$ and steps $W_{t+1}=W_t+u_t$. It is the same algorithm with
# $u_t=-\eta b_t$ while $\eta$ is constant; the two differ when a schedule changes $\eta$,
# because PyTorch's form applies the new $\eta$ to the whole buffer at once. PyTorch's
# `nesterov=True` steps $-\eta(g_t+\mu b_t)$, a rewriting of Nesterov's look-ahead gradient
# {cite}`sutskever2013momentum`.
#
# ### AdaGrad
#
# AdaGrad {cite}`duchi2011adagrad` gives each coordinate its own step size, the inverse root of
# the sum of all its squared gradients so far ($G_0=0$):
#
# $$
# G_t = G_{t-1} + g_t\odot g_t, \qquad
# W_{t+1} = W_t - \frac{\eta}{\sqrt{G_t}+\epsilon}\odot g_t
# $$ (opt-adagrad)
#
# The notes never define $G_t$ and put $\epsilon$ inside the root; PyTorch adds it outside, as
# here (default $10^{-10}$). For a gradient of constant size $|g|$, $G_t=t\,g^2$ and the step is
# $\eta/\sqrt t$: it shrinks whether or not the loss still needs progress.
#
# ### RMSprop
#
# RMSprop {cite}`hinton2012rmsprop` forgets old gradients with an EMA ($s_0=0$):
#
# $$
# s_t = \rho\, s_{t-1} + (1-\rho)\, g_t\odot g_t, \qquad
# W_{t+1} = W_t - \frac{\eta}{\sqrt{s_t}+\epsilon}\odot g_t
# $$ (opt-rmsprop)
#
# The average is of $g_t^2$; the notes' "$E[G^2]_t$" would average squares of an already
# squared sum. PyTorch calls $\rho$ `alpha` (default 0.99). RMSprop has no bias correction:
# $s_1=(1-\rho)g_1^2$, so its first step is $1/\sqrt{1-\rho}$ times $\eta$ (Experiment 3).
#
# ### Adam
#
# Adam {cite}`kingma2015adam` keeps an EMA of the gradient (momentum) and one of its square
# (RMSprop), both started at zero:
#
# $$
# m_t = \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \qquad
# v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t\odot g_t
# $$ (opt-adam-moments)
#
# Unrolling the first EMA gives $m_t=(1-\beta_1)\sum_{\tau=1}^{t}\beta_1^{t-\tau}g_\tau$. If the
# gradients share a mean $\mathbb E[g]$, the geometric sum gives
# $\mathbb E[m_t]=(1-\beta_1^t)\,\mathbb E[g]$: early on, $m_t$ is biased toward its
# initial zero. The same holds for $v_t$ with $\beta_2$. Dividing by the factor removes the
# bias:
#
# $$
# \hat m_t = \frac{m_t}{1-\beta_1^{t}}, \qquad \hat v_t = \frac{v_t}{1-\beta_2^{t}}
# $$ (opt-adam-bias)
#
# $$
# W_{t+1} = W_t - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t}+\epsilon}
# $$ (opt-adam)
#
# At $t=1$, $\hat m_1=g_1$ and $\hat v_1=g_1^2$, so the first step is
# $\eta\,g_1/(|g_1|+\epsilon)\approx\eta\,\mathrm{sign}(g_1)$ in every coordinate. Scaling all
# gradients by $c>0$ scales $\hat m_t$ by $c$ and $\sqrt{\hat v_t}$ by $c$: away from the
# $\epsilon$ regime, Adam's step does not depend on the gradient's scale, and $\eta$ is a step
# length in parameter units.
#
# Two of the notes' formulas break this. Their bias correction uses the exponents $1$ and
# $l$; with exponent $1$ the factor is a constant, so the correction never fades out. Their
# update divides $\hat m_t$ by $\sqrt{v_t}$; at $t=1$ that is
# $g_1/\big(\sqrt{1-\beta_2}\,|g_1|\big)$, a step $1/\sqrt{1-\beta_2}$ times too large, which
# the Verification section computes.
#
# ### Adam with L2 vs AdamW
#
# L2 regularisation adds $\tfrac\lambda2\lVert W\rVert^2$ to the loss, hence $\lambda W_t$ to
# the gradient. This is what `torch.optim.Adam(weight_decay=λ)` (and SGD's, AdaGrad's and
# RMSprop's `weight_decay`) do:
#
# $$
# g_t \leftarrow g_t + \lambda W_t
# $$ (opt-l2)
#
# For SGD, {eq}`opt-l2` in {eq}`opt-sgd` gives $W_{t+1}=(1-\eta\lambda)W_t-\eta g_t$: shrinking
# the weights by a factor each step, *weight decay*, is the same thing as L2. In Adam the term
# $\lambda W_t$ goes through $m_t$ and $v_t$ and is divided by $\sqrt{\hat v_t}$, so a
# coordinate decays by about $\eta\lambda W_t/\sqrt{\hat v_t}$ per step: coordinates whose
# gradients have been large are regularised less. AdamW {cite}`loshchilov2019adamw` decouples
# the decay, building $m_t,v_t$ from the loss gradient only:
#
# $$
# W_{t+1} = W_t - \eta\left(\frac{\hat m_t}{\sqrt{\hat v_t}+\epsilon} + \lambda W_t\right)
# $$ (opt-adamw)
#
# The notes' AdamW formula is this one with the letters swapped (their $\lambda$ is the
# learning rate, their $\alpha$ the decay); what they leave out is that $\hat m_t,\hat v_t$
# never see the decay term.
#
# {eq}`opt-adamw` is PyTorch's form {cite}`pytorch_optim`: the decay is multiplied by the
# learning rate (`p *= 1 - lr * weight_decay`). The paper (Algorithm 2) writes
#
# $$
# \theta_t=\theta_{t-1}-\eta_t\Big(\alpha\,\frac{\hat m_t}{\sqrt{\hat v_t}+\epsilon}
# +\lambda\theta_{t-1}\Big),
# $$
#
# where $\alpha$ is the base learning rate and $\eta_t$ the schedule's multiplier: its decay
# follows the schedule but is *not* multiplied by $\alpha$. The same $\lambda$ is therefore
# $1/\alpha$ times stronger in the paper's convention than in PyTorch's.

# %% [markdown]
# ## Implementation from scratch
#
# Each optimizer is a `torch.optim.Optimizer`, like the ones it re-implements: hyperparameters
# live in `param_groups`, per-tensor state in `self.state[p]` (under PyTorch's names), and
# `step` runs under `torch.no_grad()` with an optional closure that recomputes the loss. The
# loop is the same for all of them, so it is written once; each subclass writes only the
# update of one tensor.


# %%
class ElementwiseOptimizer(Optimizer):
    """Shared `step` of the from-scratch optimizers: subclasses implement `update`."""

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():  # the closure runs forward and backward
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self.update(p, p.grad, self.state[p], group)
        return loss

    def update(
        self, p: torch.Tensor, grad: torch.Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        """Update the parameter tensor `p` in place, given its gradient and state."""
        raise NotImplementedError


# %% [markdown]
# ### SGD with momentum
#
# {eq}`opt-sgd` and {eq}`opt-momentum`, with the L2 term {eq}`opt-l2` and PyTorch's Nesterov
# variant.


# %%
class SGD(ElementwiseOptimizer):
    def __init__(
        self,
        params: ParamsT,
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        defaults = dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
        super().__init__(params, defaults)

    def update(
        self, p: torch.Tensor, grad: torch.Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        mu = group["momentum"]
        grad = grad + group["weight_decay"] * p  # eq. (opt-l2)
        if mu != 0:
            if not state:
                state["momentum_buffer"] = torch.zeros_like(p)  # b_0 = 0
            buffer = state["momentum_buffer"]
            buffer.mul_(mu).add_(grad)  # eq. (opt-momentum): b_t = μ b_{t-1} + g_t
            grad = grad + mu * buffer if group["nesterov"] else buffer
        p.sub_(group["lr"] * grad)  # eq. (opt-sgd)


# %% [markdown]
# ### AdaGrad
#
# {eq}`opt-adagrad`, with $\epsilon$ outside the square root as in PyTorch.


# %%
class AdaGrad(ElementwiseOptimizer):
    def __init__(
        self, params: ParamsT, lr: float = 1e-2, eps: float = 1e-10, weight_decay: float = 0.0
    ) -> None:
        super().__init__(params, dict(lr=lr, eps=eps, weight_decay=weight_decay))

    def update(
        self, p: torch.Tensor, grad: torch.Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        grad = grad + group["weight_decay"] * p  # eq. (opt-l2)
        if not state:
            state["sum"] = torch.zeros_like(p)  # G_0 = 0
        sum_sq = state["sum"]
        sum_sq.add_(grad * grad)  # eq. (opt-adagrad): G_t = G_{t-1} + g_t²
        p.sub_(group["lr"] * grad / (sum_sq.sqrt() + group["eps"]))


# %% [markdown]
# ### RMSprop
#
# {eq}`opt-rmsprop`; PyTorch's `momentum` and `centered` options are left out.


# %%
class RMSprop(ElementwiseOptimizer):
    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay))

    def update(
        self, p: torch.Tensor, grad: torch.Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        rho = group["alpha"]
        grad = grad + group["weight_decay"] * p  # eq. (opt-l2)
        if not state:
            state["square_avg"] = torch.zeros_like(p)  # s_0 = 0
        square_avg = state["square_avg"]
        square_avg.mul_(rho).add_((1 - rho) * grad * grad)  # eq. (opt-rmsprop)
        p.sub_(group["lr"] * grad / (square_avg.sqrt() + group["eps"]))


# %% [markdown]
# ### Adam and AdamW
#
# {eq}`opt-adam-moments` to {eq}`opt-adam`. The only difference between Adam and AdamW is
# where the decay enters: through the gradient ({eq}`opt-l2`) or on the weights
# ({eq}`opt-adamw`). The decoupled decay is applied before the Adam step; it uses $W_t$ either
# way, since the Adam step does not read the weights.


# %%
class Adam(ElementwiseOptimizer):
    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def update(
        self, p: torch.Tensor, grad: torch.Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        beta1, beta2 = group["betas"]
        lr, weight_decay = group["lr"], group["weight_decay"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p)  # m_0 = 0
            state["exp_avg_sq"] = torch.zeros_like(p)  # v_0 = 0
        state["step"] += 1
        t = state["step"]
        if group["decoupled_weight_decay"]:
            p.mul_(1 - lr * weight_decay)  # eq. (opt-adamw): the λ W_t term
        else:
            grad = grad + weight_decay * p  # eq. (opt-l2)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.mul_(beta1).add_((1 - beta1) * grad)  # eq. (opt-adam-moments)
        v.mul_(beta2).add_((1 - beta2) * grad * grad)
        m_hat = m / (1 - beta1**t)  # eq. (opt-adam-bias)
        v_hat = v / (1 - beta2**t)
        p.sub_(lr * m_hat / (v_hat.sqrt() + group["eps"]))  # eq. (opt-adam)


class AdamW(Adam):
    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, decoupled_weight_decay=True)


# %% [markdown]
# ## Verification
#
# ### Step for step against `torch.optim`
#
# A small tanh network on random regression data, in float64. Each from-scratch optimizer and
# its `torch.optim` counterpart start from the same weights with the same hyperparameters
# (non-default ones, weight decay included) and take 20 steps through a closure. The
# parameters after every step are stacked into a trajectory of shape (steps, parameters), and
# the two trajectories must agree to `atol=1e-12`.

# %%
N_VERIFY_STEPS = 20
features = torch.from_numpy(rng.standard_normal((32, 4)))  # (N, d_in)
targets = torch.from_numpy(rng.standard_normal((32, 1)))  # (N, 1)
initial_net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))


def parameter_trajectory(make_optimizer: Callable[[ParamsT], Optimizer]) -> torch.Tensor:
    """All parameters of a copy of `initial_net` after each step, shape (steps, n_params)."""
    net = copy.deepcopy(initial_net)
    optimizer = make_optimizer(net.parameters())

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(net(features), targets)
        loss.backward()
        return loss

    trajectory = []
    for _ in range(N_VERIFY_STEPS):
        optimizer.step(closure)
        trajectory.append(torch.nn.utils.parameters_to_vector(net.parameters()).detach().clone())
    return torch.stack(trajectory)  # (steps, n_params)


# %%
wd = 1e-2  # weight decay, exercised wherever torch.optim supports it
verification_cases = [
    ("SGD", SGD, torch.optim.SGD, dict(lr=0.1)),
    ("momentum", SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, weight_decay=wd)),
    ("Nesterov", SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=wd)),
    ("AdaGrad", AdaGrad, torch.optim.Adagrad, dict(lr=0.1, eps=1e-10, weight_decay=wd)),
    ("RMSprop", RMSprop, torch.optim.RMSprop, dict(lr=1e-2, alpha=0.9, weight_decay=wd)),
    ("Adam + L2", Adam, torch.optim.Adam, dict(lr=1e-2, betas=(0.8, 0.99), weight_decay=wd)),
    ("AdamW", AdamW, torch.optim.AdamW, dict(lr=1e-2, betas=(0.8, 0.99), weight_decay=0.1)),
]
for name, ours, reference, hyper in verification_cases:
    ours_path = parameter_trajectory(lambda params, cls=ours, kw=hyper: cls(params, **kw))
    torch_path = parameter_trajectory(lambda params, cls=reference, kw=hyper: cls(params, **kw))
    moved = (torch_path[-1] - torch_path[0]).abs().max().item()
    assert moved > 1e-2, f"{name}: the parameters barely moved, the check would be vacuous"
    what = f"{name} vs torch.optim.{reference.__name__} over {N_VERIFY_STEPS} steps"
    check_close(f"{what} (|ΔW| up to {moved:.2f})", ours_path, torch_path, atol=1e-12)

# %% [markdown]
# ### The notes' Adam update and the AdamW example
#
# The notes divide $\hat m_t$ by $\sqrt{v_t}$ instead of $\sqrt{\hat v_t}$. With $\epsilon=0$
# (so the ratio is exact) one step of `torch.optim.Adam` and one step of the notes' formula,
# from the same random gradient, differ by the factor $1/\sqrt{1-\beta_2}$ in every coordinate:

# %%
beta1, beta2, lr = 0.9, 0.999, 1e-3
grad = torch.from_numpy(rng.standard_normal(5))  # (5,)
weights = torch.zeros(5, requires_grad=True)
weights.grad = grad.clone()
torch.optim.Adam([weights], lr=lr, betas=(beta1, beta2), eps=0.0).step()
torch_step = weights.detach().clone()  # W_1 - W_0, with W_0 = 0
m_1, v_1 = (1 - beta1) * grad, (1 - beta2) * grad**2  # eq. (opt-adam-moments), t = 1
notes_step = -lr * (m_1 / (1 - beta1)) / v_1.sqrt()  # corrected m̂_1, uncorrected √v_1
ratio = notes_step / torch_step  # (5,)
expected_ratio = torch.full_like(ratio, 1 / math.sqrt(1 - beta2))
check_close("notes' first step / Adam's first step", ratio, expected_ratio, atol=1e-12)
print(f"the notes' first step is {ratio[0]:.4f} times too large (β2 = {beta2})")

# %% [markdown]
# The errata's AdamW example: a weight $W_0=1$ whose loss gradient is zero, one step with
# `lr=0.1` and weight decay 0.1. AdamW applies {eq}`opt-adamw`, $W_1=(1-\eta\lambda)W_0$.
# Adam with L2 sees the gradient $\lambda W_0$, which bias correction turns into a step of
# $\eta\,\lambda W_0/(\lambda|W_0|+\epsilon)\approx\eta$: the full learning rate, however small
# $\lambda$ is.

# %%
lr, weight_decay, eps = 0.1, 0.1, 1e-8
after_one_step = {}
for name, cls in [("AdamW", torch.optim.AdamW), ("Adam + L2", torch.optim.Adam)]:
    weight = torch.ones(1, requires_grad=True)
    weight.grad = torch.zeros(1)  # the loss does not depend on this weight
    cls([weight], lr=lr, weight_decay=weight_decay, eps=eps).step()
    after_one_step[name] = weight.detach().clone()
w0 = 1.0
closed_form = {
    "AdamW": (1 - lr * weight_decay) * w0,  # eq. (opt-adamw) with m̂ = 0
    "Adam + L2": w0 - lr * weight_decay * w0 / (weight_decay * abs(w0) + eps),
}
for name, value in closed_form.items():
    check_close(
        f"{name}: W_1 vs closed form", after_one_step[name], torch.tensor([value]), atol=1e-12
    )
    print(f"{name}: W_1 = {after_one_step[name].item():.8f}")

# %% [markdown]
# ## Experiments
#
# ### 1. A narrow valley, axis-aligned and rotated, and the Rosenbrock function
#
# Two 2-D losses with a closed-form gradient (cheaper than autograd at this size; checked
# against autograd below): the quadratic $\tfrac12 w^\top R\,\mathrm{diag}(1,\kappa)R^\top w$
# with condition number $\kappa=50$, whose valley lies along the first axis ($R=I$) or at
# $45°$ to it, and Rosenbrock's banana-shaped valley $(1-x)^2+100(y-x^2)^2$, minimum at
# $(1,1)$.

# %%
KAPPA = 50.0
ALIGNED = torch.eye(2)  # (2, 2)
ROTATED = torch.tensor([[1.0, -1.0], [1.0, 1.0]]) / math.sqrt(2)  # (2, 2), 45°


def valley(w: torch.Tensor, rotation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss and gradient of ½ wᵀ R diag(1, κ) Rᵀ w at points w of shape (..., 2)."""
    hessian = rotation @ torch.diag(torch.tensor([1.0, KAPPA])) @ rotation.T  # (2, 2)
    grad = w @ hessian  # (..., 2); the Hessian is symmetric
    return 0.5 * (grad * w).sum(-1), grad  # (...,), (..., 2)


def rosenbrock(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss and gradient of (1 - x)² + 100 (y - x²)² at points w of shape (..., 2)."""
    x, y = w[..., 0], w[..., 1]  # (...,)
    ridge = y - x**2
    grad = torch.stack([-2 * (1 - x) - 400 * x * ridge, 200 * ridge], dim=-1)  # (..., 2)
    return (1 - x) ** 2 + 100 * ridge**2, grad


# %%
point = torch.tensor([-0.7, 1.3], requires_grad=True)
for name, loss_and_grad in [
    ("valley (rotated)", lambda w: valley(w, ROTATED)),
    ("Rosenbrock", rosenbrock),
]:
    loss, closed_form_grad = loss_and_grad(point)
    (autograd_grad,) = torch.autograd.grad(loss, point)
    check_close(
        f"{name}: closed-form gradient vs autograd", closed_form_grad, autograd_grad, atol=1e-12
    )

# %% [markdown]
# `run_optimizer` follows one optimizer from a start point. All five updates are element-wise,
# so nothing stops the "point" from being a batch of independent points of shape (n, 2): with a
# learning rate that is a column of shape (n, 1), one run tries n learning rates at once.


# %%
def run_optimizer(
    make_optimizer: Callable[[list[torch.Tensor]], Optimizer],
    loss_and_grad: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    start: torch.Tensor,
    n_steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Path, shape (n_steps + 1, ..., 2), and losses, (n_steps + 1, ...), from `start` (..., 2)."""
    w = start.clone()
    optimizer = make_optimizer([w])
    path, losses = [w.clone()], []
    for _ in range(n_steps):
        loss, w.grad = loss_and_grad(w)  # closed-form gradient, set by hand
        losses.append(loss)
        optimizer.step()
        path.append(w.clone())
    losses.append(loss_and_grad(w)[0])
    return torch.stack(path).numpy(), torch.stack(losses).numpy()


OPTIMIZER_NAMES = ["SGD", "Momentum", "AdaGrad", "RMSprop", "Adam"]
OPTIMIZER_COLOURS = dict(zip(OPTIMIZER_NAMES, PALETTE, strict=False))


def optimizer_factory(
    name: str, lr: float | torch.Tensor
) -> Callable[[list[torch.Tensor]], Optimizer]:
    """A factory for one of the five optimizers of the experiments (μ = 0.9, else defaults)."""
    classes = dict(SGD=SGD, Momentum=SGD, AdaGrad=AdaGrad, RMSprop=RMSprop, Adam=Adam)
    extra = dict(momentum=0.9) if name == "Momentum" else {}
    return lambda params: classes[name](params, lr=lr, **extra)


# %% [markdown]
# On the valley each optimizer gets a hand-picked learning rate that keeps its path readable
# (change them and rerun), the same for both orientations. With no weight decay AdamW is Adam,
# so it is not shown separately.

# %%
VALLEY_STEPS = 100
valley_start = torch.tensor([-4.5, 1.0])  # (2,)
valley_lrs = dict(SGD=0.035, Momentum=0.005, AdaGrad=1.0, RMSprop=0.05, Adam=0.1)
valley_runs = {}
for orientation, rotation in [("aligned", ALIGNED), ("rotated", ROTATED)]:
    for name in OPTIMIZER_NAMES:
        valley_runs[name, orientation] = run_optimizer(
            optimizer_factory(name, valley_lrs[name]),
            lambda w, r=rotation: valley(w, r),
            rotation @ valley_start,
            VALLEY_STEPS,
        )

# %% [markdown]
# The rotated run starts from the rotated start point: the same problem in rotated
# coordinates. SGD and momentum only ever add multiples of gradients, so the coordinate system
# cannot matter to them, and their loss curves must be identical (in the figure below their
# dashed curves hide under the solid ones). The adaptive methods divide coordinate by
# coordinate, so theirs change.

# %%
for name in OPTIMIZER_NAMES:
    aligned_loss, rotated_loss = valley_runs[name, "aligned"][1], valley_runs[name, "rotated"][1]
    if name in ("SGD", "Momentum"):
        check_close(
            f"{name}: same losses on the rotated valley", rotated_loss, aligned_loss, atol=1e-12
        )
    else:
        ratio = rotated_loss[-1] / aligned_loss[-1]
        check_true(
            f"{name}: worse on the rotated valley", bool(ratio > 10), f"final loss ×{ratio:.3g}"
        )
    print(f"{name:>8}: final loss aligned {aligned_loss[-1]:.2e}, rotated {rotated_loss[-1]:.2e}")


# %% [markdown]
# AdaGrad's near-exact convergence on the aligned valley is no accident. Coordinate $i$ has
# gradient $h_i w_i$, so its step is
# $\eta\,h_i w_{i,t}/\sqrt{\sum_{\tau\le t} h_i^2 w_{i,\tau}^2}
# =\eta\,w_{i,t}/\sqrt{\sum_{\tau\le t} w_{i,\tau}^2}$: the curvature $h_i$ cancels, and
# with it the condition number. RMSprop and Adam cancel $h_i$ the same way through their EMAs;
# how fast they then converge is set by $\eta$ and the EMA coefficients, equally for both
# coordinates.
# Once the valley is rotated, each coordinate's gradient mixes both curvatures and nothing
# cancels.


# %%
def plot_paths(
    ax: plt.Axes,
    loss_and_grad: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    paths: dict[str, np.ndarray],
    extent: tuple[float, float, float, float],
    levels: np.ndarray,
) -> None:
    """Contours of a 2-D loss, and each optimizer's path (steps, 2) on top."""
    xs = torch.linspace(extent[0], extent[1], 200)  # (200,)
    ys = torch.linspace(extent[2], extent[3], 200)  # (200,)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)  # (200, 200, 2)
    ax.contour(xs, ys, loss_and_grad(grid)[0], levels=levels, colors="0.8", linewidths=0.7)
    for name, path in paths.items():
        ax.plot(*path.T, ".-", ms=3, lw=1, color=OPTIMIZER_COLOURS[name], label=name)
    ax.set(xlim=extent[:2], ylim=extent[2:], xlabel="$w_1$", ylabel="$w_2$")


# %%
fig, (ax_path, ax_loss) = plt.subplots(1, 2, figsize=(11, 4.2))
aligned_paths = {name: valley_runs[name, "aligned"][0] for name in OPTIMIZER_NAMES}
plot_paths(
    ax_path, lambda w: valley(w, ALIGNED), aligned_paths, (-5, 1, -1.5, 1.5), np.logspace(-2, 2, 12)
)
ax_path.set_title(f"Paths on the axis-aligned valley (κ = {KAPPA:.0f})")
ax_path.legend(loc="lower right")
for (name, orientation), (_, losses) in valley_runs.items():
    aligned = orientation == "aligned"
    label = f"{name}, η = {valley_lrs[name]:g}" if aligned else None
    ax_loss.semilogy(losses, "-" if aligned else "--", color=OPTIMIZER_COLOURS[name], label=label)
ax_loss.set(xlabel="step", ylabel="loss", title="Loss, aligned (solid) and rotated 45° (dashed)")
ax_loss.legend(loc="lower left")
fig.suptitle("Adaptive methods exploit an axis-aligned valley; rotated, they lose most of it")
plt.show()

# %% [markdown]
# On Rosenbrock the question is which optimizers get along the curved valley floor at all, so
# each one runs a grid of 21 learning rates, log-spaced from $10^{-4}$ to $10$, in one batched
# run. The printout gives each optimizer's lowest final loss over the grid (a diverged run counts
# as infinite); the figure shows one readable learning rate from the grid per optimizer.

# %%
ROSENBROCK_STEPS = 1000
rosenbrock_start = torch.tensor([-1.2, 1.0])  # (2,), the classical start
lr_grid = torch.logspace(-4, 1, 21)  # (n_lr,)
rosenbrock_grid_runs, best_final_loss = {}, {}
for name in OPTIMIZER_NAMES:
    paths, losses = run_optimizer(
        optimizer_factory(name, lr_grid[:, None]),  # (n_lr, 1): one learning rate per row
        rosenbrock,
        rosenbrock_start.expand(len(lr_grid), 2),  # (n_lr, 2)
        ROSENBROCK_STEPS,
    )  # (steps + 1, n_lr, 2), (steps + 1, n_lr)
    rosenbrock_grid_runs[name] = paths, losses
    final = np.where(np.isfinite(losses[-1]), losses[-1], np.inf)  # (n_lr,)
    best_final_loss[name] = final.min()
    print(f"{name:>8}: lowest final loss {final.min():.1e} at η = {lr_grid[final.argmin()]:.2g}")

# %%
for name in ("Momentum", "Adam"):
    loss = best_final_loss[name]
    check_true(f"{name} reaches the minimum (loss < 1e-8)", bool(loss < 1e-8), f"{loss:.1e}")
for name in ("SGD", "AdaGrad", "RMSprop"):
    loss = best_final_loss[name]
    check_true(f"{name} has not converged (loss > 1e-5)", bool(loss > 1e-5), f"{loss:.1e}")

# %%
rosenbrock_plot_lrs = dict(SGD=1.78e-3, Momentum=1e-3, AdaGrad=1.0, RMSprop=1e-2, Adam=0.1)
fig, (ax_path, ax_loss) = plt.subplots(1, 2, figsize=(11, 4.2))
rosenbrock_paths = {}
for name, lr in rosenbrock_plot_lrs.items():
    row = int(torch.argmin((lr_grid.log() - math.log(lr)).abs()))  # the grid value nearest lr
    paths, losses = rosenbrock_grid_runs[name]
    rosenbrock_paths[name] = paths[:, row]
    label = f"{name}, η = {lr_grid[row]:.2g}"
    steps = np.arange(1, ROSENBROCK_STEPS + 2)
    ax_loss.loglog(steps, losses[:, row], color=OPTIMIZER_COLOURS[name], label=label)
plot_paths(ax_path, rosenbrock, rosenbrock_paths, (-1.6, 1.4, -0.4, 1.6), np.logspace(-1, 3, 12))
ax_path.plot(1, 1, "k*", ms=10, label="minimum")
ax_path.set_title("Paths on Rosenbrock's valley")
ax_path.legend(loc="lower left")
ax_loss.set(xlabel="step", ylabel="loss", title=f"Loss over {ROSENBROCK_STEPS} steps")
ax_loss.legend(loc="lower left")
fig.suptitle("With momentum (plain or inside Adam) the optimizer runs down the curved valley")
plt.show()

# %% [markdown]
# ### 2. Adam with L2 vs AdamW: who gets decayed
#
# Two weights that the loss does not care about on average: their minibatch gradients are pure
# noise, of scale 10 for the first and 0.1 for the second. Weight decay should shrink both
# toward zero at the same rate; {eq}`opt-adamw` does, by $(1-\eta\lambda)$ per step, so their
# mean over seeds is exactly $(1-\eta\lambda)^t$. Adam with L2 divides the decay by
# $\sqrt{\hat v_t}$, which here is about the noise scale. Each run is repeated over 512 seeds
# (rows of one tensor, as above), with $\eta=10^{-2}$ and $\lambda=0.1$.

# %%
N_SEEDS, DECAY_STEPS = 512, 2000
decay_lr, decay_lambda = 1e-2, 0.1
gradient_scale = torch.tensor([10.0, 0.1])  # (2,): a noisy weight and a quiet one
gradient_noise = torch.from_numpy(rng.standard_normal((DECAY_STEPS, N_SEEDS, 2)))  # (T, S, 2)


def run_decay(optimizer_class: type[Adam]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and standard error of the weights over seeds, (T + 1, 2) each, and the mean
    coefficient that multiplies ηλW in the step, λ/(√v̂ + ε) for Adam + L2, (T, 2)."""
    w = torch.ones(N_SEEDS, 2)  # (S, 2)
    optimizer = optimizer_class([w], lr=decay_lr, weight_decay=decay_lambda)
    weights, coefficients = [w.clone()], []
    for t in range(DECAY_STEPS):
        w.grad = gradient_scale * gradient_noise[t]  # (S, 2), zero-mean loss gradient
        optimizer.step()
        weights.append(w.clone())
        state = optimizer.state[w]
        v_hat = state["exp_avg_sq"] / (1 - 0.999 ** state["step"])  # (S, 2), default β2
        coefficients.append((decay_lambda / (v_hat.sqrt() + 1e-8)).mean(0))  # (2,)
    weights = torch.stack(weights)  # (T + 1, S, 2)
    standard_error = weights.std(1) / math.sqrt(N_SEEDS)
    return weights.mean(1).numpy(), standard_error.numpy(), torch.stack(coefficients).numpy()


decay_runs = {"Adam + L2": run_decay(Adam), "AdamW": run_decay(AdamW)}

# %%
steps = np.arange(DECAY_STEPS + 1)
adamw_mean, adamw_se, _ = decay_runs["AdamW"]
expected = (1 - decay_lr * decay_lambda) ** steps  # (T + 1,)
z_scores = np.abs(adamw_mean - expected[:, None])[1:] / adamw_se[1:]  # (T, 2), in standard errors
check_true(
    "AdamW: mean weight = (1 - ηλ)^t for both scales",
    bool(z_scores.max() < 5),
    f"max |z| = {z_scores.max():.2f}",
)
adam_l2_mean, _, adam_l2_coefficient = decay_runs["Adam + L2"]
print(f"mean weight after {DECAY_STEPS} steps, and the decay coefficient (AdamW's is λ = 0.1):")
for i, scale in enumerate(gradient_scale.tolist()):
    print(
        f"  gradient scale {scale:>4}: AdamW {adamw_mean[-1, i]:.3f}, Adam + L2 "
        f"{adam_l2_mean[-1, i]:.3f} with coefficient {adam_l2_coefficient[-1, i]:.3g}"
    )
quiet_over_noisy = adam_l2_coefficient[-1, 1] / adam_l2_coefficient[-1, 0]
print(f"Adam + L2 decays the quiet weight {quiet_over_noisy:.0f}× harder than the noisy one")

# %%
fig, (ax_weight, ax_coefficient) = plt.subplots(1, 2, figsize=(11, 4.2))
colours = {"Adam + L2": PALETTE[1], "AdamW": PALETTE[0]}
for name, (mean, _, coefficient) in decay_runs.items():
    for i, (scale, style) in enumerate(zip(gradient_scale.tolist(), ["-", "--"], strict=True)):
        label = f"{name}, gradient scale {scale:g}"
        ax_weight.plot(steps, mean[:, i], style, color=colours[name], label=label)
        if name == "Adam + L2":
            ax_coefficient.semilogy(
                steps[1:], coefficient[:, i], style, color=colours[name], label=label
            )
ax_weight.plot(steps, expected, ":", color="k", lw=1, label="$(1-\\eta\\lambda)^t$")
ax_weight.set(
    xlabel="step", ylabel="mean weight over seeds", title="Weights under pure-noise gradients"
)
ax_weight.legend()
ax_coefficient.axhline(decay_lambda, color=colours["AdamW"], label="AdamW: λ for every weight")
ax_coefficient.set(
    xlabel="step",
    ylabel="decay per step / (ηW)",
    title="Adam + L2 divides λ by $\\sqrt{\\hat v_t}$",
)
ax_coefficient.legend()
fig.suptitle(
    f"Adam + L2 decays the quiet weight {quiet_over_noisy:.0f}× harder than the noisy one; "
    "AdamW decays both alike"
)
plt.show()

# %% [markdown]
# ### 3. Bias correction in the first steps
#
# A constant gradient $g=0.5$, Adam's defaults ($\beta_1=0.9$, $\beta_2=0.999$). After each
# step of the `Adam` class the state gives $m_t$ and $v_t$, from which the step size (in units
# of $\eta$) of four variants follows: Adam's $\hat m_t/\sqrt{\hat v_t}$, no correction at all
# $m_t/\sqrt{v_t}$, only $v$ corrected $m_t/\sqrt{\hat v_t}$, and the notes'
# $\hat m_t/\sqrt{v_t}$. RMSprop with PyTorch's default $\rho=0.99$, which has no correction,
# runs alongside. For a constant gradient each variant has a closed form, e.g.
# $m_t=(1-\beta_1^t)g$ and $v_t=(1-\beta_2^t)g^2$, which the run must reproduce.

# %%
BIAS_STEPS, constant_grad = 3000, 0.5
beta1, beta2, rho = 0.9, 0.999, 0.99
adam_weight, rmsprop_weight = torch.zeros(1), torch.zeros(1)
adam = Adam([adam_weight], lr=1.0, betas=(beta1, beta2))  # lr = 1: steps in units of η
rmsprop = RMSprop([rmsprop_weight], lr=1.0, alpha=rho)
step_size = {name: [] for name in ["Adam", "no correction", "only v corrected", "notes", "RMSprop"]}
for _ in range(BIAS_STEPS):
    for optimizer, weight, name in [
        (adam, adam_weight, "Adam"),
        (rmsprop, rmsprop_weight, "RMSprop"),
    ]:
        before = weight.clone()
        weight.grad = torch.tensor([constant_grad])
        optimizer.step()
        step_size[name].append((before - weight).item())
    state = adam.state[adam_weight]
    t, m, v = state["step"], state["exp_avg"].item(), state["exp_avg_sq"].item()
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    step_size["no correction"].append(m / math.sqrt(v))
    step_size["only v corrected"].append(m / math.sqrt(v_hat))
    step_size["notes"].append(m_hat / math.sqrt(v))
step_size = {name: np.array(sizes) for name, sizes in step_size.items()}

# %%
t = np.arange(1, BIAS_STEPS + 1)
bias1, bias2 = 1 - beta1**t, 1 - beta2**t  # (T,)
closed_forms = {
    "Adam": np.ones_like(bias1),
    "no correction": bias1 / np.sqrt(bias2),
    "only v corrected": bias1,
    "notes": 1 / np.sqrt(bias2),
    "RMSprop": 1 / np.sqrt(1 - rho**t),
}
for name, sizes in step_size.items():
    # the closed forms neglect ε = 1e-8 against √v ≥ 0.016, a relative error below 1e-6
    check_close(f"{name}: step / η vs closed form", sizes, closed_forms[name], atol=0.0, rtol=1e-6)
print("step / η at t =       1       10      100     1000")
for name, sizes in step_size.items():
    print(f"{name:>16}: " + " ".join(f"{sizes[k - 1]:8.3f}" for k in (1, 10, 100, 1000)))

# %%
fig, ax = plt.subplots(figsize=(7.5, 4.2))
bias_styles = {
    "Adam": ("k", "-"),
    "no correction": (PALETTE[0], "-"),
    "only v corrected": (PALETTE[2], "-"),
    "notes": (PALETTE[1], "-"),
    "RMSprop": (PALETTE[3], "--"),
}
bias_labels = {
    "Adam": r"Adam, $\hat m_t/\sqrt{\hat v_t}$",
    "no correction": r"no correction, $m_t/\sqrt{v_t}$",
    "only v corrected": r"only $v$ corrected, $m_t/\sqrt{\hat v_t}$",
    "notes": r"the notes, $\hat m_t/\sqrt{v_t}$",
    "RMSprop": rf"RMSprop, $\rho = {rho}$",
}
for name, sizes in step_size.items():
    colour, style = bias_styles[name]
    ax.loglog(t, sizes, style, color=colour, label=bias_labels[name])
first_steps = f"{step_size['only v corrected'][0]:.1f}× to {step_size['notes'][0]:.1f}×"
ax.set(
    xlabel="step t",
    ylabel="step size / η",
    title=f"Bias correction keeps Adam's steps at η; without it the first is {first_steps} η",
)
ax.legend()
plt.show()

# %% [markdown]
# Reading the numbers above: correcting only $v$ leaves the first step at $1-\beta_1$ of
# $\eta$, because $m_1=(1-\beta_1)g$ is still biased toward zero; correcting only $m$ (the
# notes) divides by $\sqrt{v_1}=\sqrt{1-\beta_2}\,|g|$ and overshoots by $1/\sqrt{1-\beta_2}$.
# With neither, the two biases partly cancel, but not at the same speed: $m$'s bias is gone
# after tens of steps and $v$'s only after thousands, so the step is several times $\eta$ in
# between. RMSprop has the same problem as $v$ alone, on its shorter time scale $1/(1-\rho)$.
# Bias correction removes both transients, so Adam's very first step is already $\eta$-sized.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "AdaGrad adapts the learning rate, so it never needs tuning." Why does it stall?
# Its accumulator $G_t$ only grows, so every coordinate's step
# $\eta/(\sqrt{G_t}+\epsilon)$ only shrinks, like $\eta/\sqrt t$ for gradients of constant size.
# On a convex problem that decay is what
# the convergence proof needs; in a long non-convex run the steps become too small long
# before the loss stops improving. RMSprop and Adam keep AdaGrad's per-coordinate scaling and
# drop the ever-growing sum.
# :::
#
# :::{dropdown} Does Adam fix ill-conditioning?
# Only the part aligned with the coordinate axes. Every method here is a *diagonal*
# preconditioner: it rescales each coordinate separately. Experiment 1 shows the same valley
# rotated by 45°: SGD and momentum do not notice (identical losses), while AdaGrad, RMSprop
# and Adam lose most of their advantage. Curvature that couples parameters needs a
# non-diagonal preconditioner (Newton, natural gradient, Shampoo and the like).
# :::
#
# :::{dropdown} Why do LLMs train with $\beta_2=0.95$ rather than the default 0.999?
# $v_t$ averages over roughly $1/(1-\beta_2)$ steps. When a weight's gradients suddenly grow,
# a long average lags behind and $\hat m_t/\sqrt{\hat v_t}$ overshoots $\eta$ until $v_t$
# catches up; in a large model such steps can set off loss spikes. A shorter average catches
# up sooner. GPT-3 {cite}`brown2020gpt3` and LLaMA {cite}`touvron2023llama` both use
# $\beta_2=0.95$. The cell below runs Adam through a tenfold jump of the gradient.
# :::


# %%
def step_sizes_after_jump(
    beta2: float, jump: float = 10.0, before: int = 2000, after: int = 300
) -> np.ndarray:
    """Adam's step sizes (in units of η) for the `after` steps that follow a jump of the
    gradient from 1 to `jump`, after `before` steps at 1."""
    weight = torch.zeros(1)
    optimizer = Adam([weight], lr=1.0, betas=(0.9, beta2))
    sizes = []
    for t in range(before + after):
        previous = weight.clone()
        weight.grad = torch.tensor([1.0 if t < before else jump])
        optimizer.step()
        sizes.append((previous - weight).abs().item())
    return np.array(sizes[before:])


for beta2_value in (0.999, 0.95):
    sizes = step_sizes_after_jump(beta2_value)
    print(
        f"β2 = {beta2_value}: averages over ~{1 / (1 - beta2_value):.0f} steps; after a 10× jump "
        f"the largest step is {sizes.max():.2f} η, {int(np.sum(sizes > 1.1))} steps exceed 1.1 η"
    )

# %% [markdown]
# :::{dropdown} PyTorch's AdamW multiplies the decay by the learning rate. Does that matter?
# Yes, when you copy hyperparameters. In PyTorch the weights shrink by $1-\eta\lambda$ per
# step, so halving `lr` also halves the decay, and a warm-up or cosine schedule on `lr`
# schedules the decay too. In the paper's Algorithm 2 the decay is $\eta_t\lambda$ with only
# the schedule multiplier $\eta_t$, not the base rate $\alpha$, so a paper's $\lambda$ is
# PyTorch's $\lambda\cdot\alpha$ {cite}`loshchilov2019adamw`.
# :::
#
# :::{dropdown} Where does $\epsilon$ go, and can it matter?
# PyTorch adds it outside the root in all of these ($\sqrt{G_t}+\epsilon$,
# $\sqrt{\hat v_t}+\epsilon$), with defaults $10^{-10}$ for AdaGrad and $10^{-8}$ for RMSprop
# and Adam; the notes put it inside. TensorFlow's Adam adds its $\epsilon$ ("$\hat\epsilon$" in
# the Adam paper's efficient form) to the *uncorrected* $\sqrt{v_t}$, so the same number acts
# larger early in training {cite}`tensorflow_adam`. Where gradients are far below $\epsilon$,
# $\hat m_t/(\sqrt{\hat v_t}+\epsilon)\approx\hat m_t/\epsilon$ and Adam turns into momentum
# SGD with learning rate $\eta/\epsilon$; a large $\epsilon$ is sometimes used on purpose to
# damp the adaptivity.
# :::
#
# :::{dropdown} Is Adam guaranteed to converge?
# No. {cite:t}`reddi2018amsgrad` built a convex online problem on which Adam converges to the
# wrong point: the rare large gradients that point the right way inflate $v_t$ and so are
# damped, while the frequent small ones that point the wrong way get nearly full steps once
# $v_t$ has decayed again. AMSGrad divides by the running maximum of $v_t$ so that step sizes
# never grow (`torch.optim.Adam(amsgrad=True)`). In practice plain Adam/AdamW remain the default.
# :::
#
# :::{dropdown} Is PyTorch's `nesterov=True` really Nesterov's method?
# Yes, after a change of variables. Nesterov evaluates the gradient at the look-ahead point
# $W_t+\mu u_{t-1}$ {cite}`sutskever2013momentum`; rewriting the iteration in terms of the
# look-ahead point gives PyTorch's update $W_{t+1}=W_t-\eta(g_t+\mu b_t)$, which needs only
# the gradient at the current parameters. The Verification section checks the from-scratch
# version of this form against `torch.optim.SGD(nesterov=True)`.
# :::
#
# :::{dropdown} Is L2 regularisation the same as weight decay?
# For SGD, yes: {eq}`opt-l2` in {eq}`opt-sgd` multiplies the weights by $1-\eta\lambda$ each
# step, weight decay at rate $\eta\lambda$ per step, so one is the other after rescaling
# $\lambda$ by $\eta$ (with momentum the L2 term also goes through the buffer, a small
# difference). For any method that divides by $\sqrt{\hat v_t}$ or $\sqrt{G_t}$, no: the L2
# term is rescaled per coordinate, Experiment 2.
# :::
#
# :::{dropdown} So which one should I use?
# AdamW for transformers and most new architectures: it is forgiving of the learning rate
# because its steps are $\eta$-sized whatever the gradient scale. SGD with momentum remains
# competitive for convolutional networks on images, where several studies found it generalises
# better than adaptive methods at equal tuning effort {cite}`wilson2017marginal`. AdaGrad fits
# convex problems with sparse features. RMSprop is mostly historical, except in some
# reinforcement-learning code.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. AdaGrad or RMSprop: which would you choose for logistic regression on sparse bag-of-words
#    features, and which for a 50-layer network trained for a week?
#
#    :::{dropdown} Answer
#    AdaGrad for the convex sparse problem: a rare word's coordinate has a small $G_t$, so it
#    keeps a large step when it finally appears, and the decaying steps are what convex
#    convergence needs. RMSprop (or Adam) for the long non-convex run, where AdaGrad's steps
#    would have decayed to almost nothing.
#    :::
#
# 2. You switch a loss from a mean over a batch of 1000 examples to a sum, i.e. multiply it by
#    1000. What happens to SGD's first update, and to Adam's first ten updates? The next cell
#    checks the answer on a small quadratic.
#
#    :::{dropdown} Answer
#    SGD's update is proportional to the gradient, so it becomes 1000 times larger (and SGD
#    likely diverges at the old learning rate). Adam's updates are unchanged up to the
#    $\epsilon$ term: $\hat m_t$ and $\sqrt{\hat v_t}$ both scale by 1000.
#    :::

# %%
curvatures = torch.tensor([1.0, 10.0, 100.0])  # (3,): gradient of ½ Σ h_i w_i² is h ⊙ w


def first_updates(
    make: Callable[[list[torch.Tensor]], Optimizer], loss_scale: float, n: int
) -> torch.Tensor:
    """The first n updates W_{t+1} - W_t, shape (n, 3), of the loss times `loss_scale`."""
    w = torch.tensor([1.0, -2.0, 0.5])  # (3,)
    optimizer = make([w])
    updates = []
    for _ in range(n):
        previous = w.clone()
        w.grad = loss_scale * curvatures * w
        optimizer.step()
        updates.append(w - previous)
    return torch.stack(updates)


sgd_ratio = first_updates(lambda p: SGD(p, lr=1e-3), 1000.0, 1) / first_updates(
    lambda p: SGD(p, lr=1e-3), 1.0, 1
)
check_close("SGD: first update ×1000", sgd_ratio, torch.full((1, 3), 1000.0), atol=1e-9)
adam_scaled = first_updates(lambda p: Adam(p, lr=1e-2), 1000.0, 10)
adam_plain = first_updates(lambda p: Adam(p, lr=1e-2), 1.0, 10)
check_close("Adam: first ten updates unchanged", adam_scaled, adam_plain, atol=1e-9)

# %% [markdown]
# 3. With a constant gradient $g$, after how many steps is the *uncorrected* $m_t$ within 1 %
#    of $g$ ($\beta_1=0.9$)? And $v_t$ within 1 % of $g^2$ ($\beta_2=0.999$)?
#
#    :::{dropdown} Answer
#    $m_t=(1-\beta_1^t)g$, so we need $\beta_1^t\le0.01$, i.e.
#    $t\ge\ln 0.01/\ln\beta_1$, rounded up: 44 steps for $\beta_1=0.9$ and 4603 for
#    $\beta_2=0.999$. The second number is why $v$'s bias correction matters for thousands of
#    steps. The next cell computes both and checks them against a direct simulation of the EMA.
#    :::

# %%
for beta in (0.9, 0.999):
    formula = math.ceil(math.log(0.01) / math.log(beta))
    ema, steps_needed = 0.0, 0
    while ema < 0.99:  # EMA of a constant 1, started at 0
        ema, steps_needed = beta * ema + (1 - beta), steps_needed + 1
    check_equal(f"β = {beta}: steps until the EMA is within 1 %", steps_needed, formula)
    print(f"β = {beta}: {formula} steps")

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`kingma2015adam`: Algorithm 1 (Adam), Section 3 (bias correction), the efficient
#   form at the end of Section 2 ($\hat\epsilon$).
# - {cite:t}`loshchilov2019adamw`: Section 2 (L2 and weight decay differ for adaptive methods),
#   Algorithm 2 (AdamW with the schedule multiplier $\eta_t$).
# - {cite:t}`duchi2011adagrad` (AdaGrad) and {cite:t}`hinton2012rmsprop`, lecture 6e
#   (RMSprop).
# - {cite:t}`polyak1964momentum` (heavy-ball momentum); {cite:t}`sutskever2013momentum`,
#   Section 2 (Nesterov's method written as momentum).
# - {cite:t}`pytorch_optim`: the pseudocode of `SGD`, `Adagrad`, `RMSprop`, `Adam` and `AdamW`
#   that the from-scratch classes follow, including where $\epsilon$ and the decay enter.
# - {cite:t}`reddi2018amsgrad` (Adam's non-convergence, AMSGrad),
#   {cite:t}`wilson2017marginal` (SGD vs adaptive methods), {cite:t}`brown2020gpt3`,
#   Appendix B and {cite:t}`touvron2023llama`, Section 2.2 ($\beta_2=0.95$),
#   {cite:t}`tensorflow_adam` (TensorFlow's $\epsilon$).
