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
# about $\kappa$ steps per e-fold of progress, while the steep coordinate flips sign each step
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
# This is PyTorch's form {cite}`pytorch_optim`: the decay is multiplied by the learning rate
# (`p *= 1 - lr * weight_decay`). The paper (Algorithm 2) writes
# $\theta_t=\theta_{t-1}-\eta_t\big(\alpha\,\hat m_t/(\sqrt{\hat v_t}+\epsilon)+\lambda\theta_{t-1}\big)$,
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
verification_cases = [
    ("SGD", SGD, torch.optim.SGD, dict(lr=0.1)),
    ("SGD momentum", SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, weight_decay=1e-2)),
    (
        "SGD Nesterov",
        SGD,
        torch.optim.SGD,
        dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-2),
    ),
    ("AdaGrad", AdaGrad, torch.optim.Adagrad, dict(lr=0.1, eps=1e-10, weight_decay=1e-2)),
    ("RMSprop", RMSprop, torch.optim.RMSprop, dict(lr=1e-2, alpha=0.9, weight_decay=1e-2)),
    ("Adam + L2", Adam, torch.optim.Adam, dict(lr=1e-2, betas=(0.8, 0.99), weight_decay=1e-2)),
    ("AdamW", AdamW, torch.optim.AdamW, dict(lr=1e-2, betas=(0.8, 0.99), weight_decay=0.1)),
]
for name, ours, reference, hyper in verification_cases:
    ours_path = parameter_trajectory(lambda params, cls=ours, kw=hyper: cls(params, **kw))
    torch_path = parameter_trajectory(lambda params, cls=reference, kw=hyper: cls(params, **kw))
    moved = (ours_path[-1] - ours_path[0]).abs().max()  # the check is not vacuous
    check_true(f"{name}: parameters moved", bool(moved > 1e-2), f"max |ΔW| = {moved:.3f}")
    check_close(f"{name} vs torch.optim, {N_VERIFY_STEPS} steps", ours_path, torch_path, atol=1e-12)

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
m_hat_1 = (1 - beta1) * grad / (1 - beta1)  # the notes correct m correctly at t = 1
v_1 = (1 - beta2) * grad**2  # ... but divide by the uncorrected v_1
notes_step = -lr * m_hat_1 / v_1.sqrt()
ratio = notes_step / torch_step  # (5,)
check_close("notes' first step / Adam's first step", ratio, torch.full((5,), 1 / math.sqrt(1 - beta2)), atol=1e-12)
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
check_close("AdamW: W_1 = (1 - ηλ) W_0", after_one_step["AdamW"], torch.tensor([(1 - lr * weight_decay) * w0]), atol=1e-12)
adam_l2_closed_form = w0 - lr * weight_decay * w0 / (weight_decay * abs(w0) + eps)
check_close("Adam + L2: W_1 = W_0 - η λW_0/(λ|W_0| + ε)", after_one_step["Adam + L2"], torch.tensor([adam_l2_closed_form]), atol=1e-12)
print(f"AdamW: {after_one_step['AdamW'].item():.4f}, Adam + L2: {after_one_step['Adam + L2'].item():.8f}")

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
    check_close(f"{name}: closed-form gradient vs autograd", closed_form_grad, autograd_grad, atol=1e-12)

# %% [markdown]
# Each optimizer runs with a hand-picked learning rate, stable and fast on that problem (change
# them and rerun); momentum uses $\mu=0.9$, RMSprop and Adam their PyTorch defaults otherwise.
# With no weight decay AdamW is Adam, so it is not shown separately.

# %%
def run_optimizer(
    make_optimizer: Callable[[list[torch.Tensor]], Optimizer],
    loss_and_grad: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    start: torch.Tensor,
    n_steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The path (n_steps + 1, 2) and losses (n_steps + 1,) of an optimizer from `start`."""
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


OPTIMIZER_COLOURS = dict(zip(["SGD", "Momentum", "AdaGrad", "RMSprop", "Adam"], PALETTE))


def optimizers_with(lrs: dict[str, float]) -> dict[str, Callable[[list[torch.Tensor]], Optimizer]]:
    """The five optimizers of the experiments, each with its learning rate from `lrs`."""
    return {
        "SGD": lambda p: SGD(p, lr=lrs["SGD"]),
        "Momentum": lambda p: SGD(p, lr=lrs["Momentum"], momentum=0.9),
        "AdaGrad": lambda p: AdaGrad(p, lr=lrs["AdaGrad"]),
        "RMSprop": lambda p: RMSprop(p, lr=lrs["RMSprop"]),
        "Adam": lambda p: Adam(p, lr=lrs["Adam"]),
    }


# %%
VALLEY_STEPS = 100
valley_start = torch.tensor([-4.5, 1.0])  # (2,)
valley_lrs = dict(SGD=0.035, Momentum=0.01, AdaGrad=1.0, RMSprop=0.03, Adam=0.2)
valley_runs = {}
for rotation_name, rotation in [("aligned", ALIGNED), ("rotated", ROTATED)]:
    for name, make in optimizers_with(valley_lrs).items():
        valley_runs[name, rotation_name] = run_optimizer(
            make, lambda w, r=rotation: valley(w, r), rotation @ valley_start, VALLEY_STEPS
        )

# %% [markdown]
# The rotated run starts from the rotated start point, so it is the same problem in rotated
# coordinates. SGD and momentum only ever add multiples of gradients, so they do not care
# about the coordinate system: their loss curves must be identical. The adaptive methods
# divide coordinate by coordinate, so theirs change.

# %%
for name in OPTIMIZER_COLOURS:
    aligned_loss, rotated_loss = valley_runs[name, "aligned"][1], valley_runs[name, "rotated"][1]
    if name in ("SGD", "Momentum"):
        check_close(f"{name}: same losses on the rotated valley", rotated_loss, aligned_loss, atol=1e-12)
    print(f"{name:>8}: final loss aligned {aligned_loss[-1]:.2e}, rotated {rotated_loss[-1]:.2e}")

# %%
def plot_paths(ax: plt.Axes, loss_fn: Callable, runs: dict, extent: tuple, log_levels: bool) -> None:
    """Contours of a 2-D loss with each optimizer's path on top."""
    xs = torch.linspace(extent[0], extent[1], 300)
    ys = torch.linspace(extent[2], extent[3], 300)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)  # (300, 300, 2)
    z = loss_fn(grid)[0].numpy()  # (300, 300)
    levels = np.logspace(-2, np.log10(z.max()), 15) if log_levels else 15
    ax.contour(xs.numpy(), ys.numpy(), z, levels=levels, colors="0.75", linewidths=0.7)
    for name, (path, _) in runs.items():
        ax.plot(path[:, 0], path[:, 1], ".-", ms=2.5, lw=1, color=OPTIMIZER_COLOURS[name], label=name)
    ax.set(xlim=extent[:2], ylim=extent[2:], xlabel="$w_1$", ylabel="$w_2$")


# %%
fig, (ax_path, ax_loss) = plt.subplots(1, 2, figsize=(11, 4.2))
aligned_runs = {name: valley_runs[name, "aligned"] for name in OPTIMIZER_COLOURS}
plot_paths(ax_path, lambda w: valley(w, ALIGNED), aligned_runs, (-5, 1, -1.5, 1.5), False)
ax_path.set_title(f"Axis-aligned valley (κ = {KAPPA:.0f}), {VALLEY_STEPS} steps")
for (name, rotation_name), (_, losses) in valley_runs.items():
    style = "-" if rotation_name == "aligned" else "--"
    label = f"{name} (η = {valley_lrs[name]:g})" if rotation_name == "aligned" else None
    ax_loss.semilogy(losses, style, color=OPTIMIZER_COLOURS[name], label=label)
ax_loss.set(xlabel="step", ylabel="loss", title="Loss: aligned (solid) vs rotated 45° (dashed)")
ax_loss.legend()
fig.suptitle("Per-coordinate step sizes fix an axis-aligned valley, not a rotated one")
plt.show()

# %%
ROSENBROCK_STEPS = 2000
rosenbrock_start = torch.tensor([-1.2, 1.0])  # (2,), the classical start
rosenbrock_lrs = dict(SGD=1.5e-3, Momentum=1.5e-4, AdaGrad=0.5, RMSprop=3e-3, Adam=3e-2)
rosenbrock_runs = {
    name: run_optimizer(make, rosenbrock, rosenbrock_start, ROSENBROCK_STEPS)
    for name, make in optimizers_with(rosenbrock_lrs).items()
}
for name, (path, losses) in rosenbrock_runs.items():
    print(f"{name:>8}: loss {losses[-1]:.2e} at ({path[-1, 0]:.3f}, {path[-1, 1]:.3f})")

# %%
fig, (ax_path, ax_loss) = plt.subplots(1, 2, figsize=(11, 4.2))
plot_paths(ax_path, rosenbrock, rosenbrock_runs, (-1.6, 1.4, -0.4, 1.6), True)
ax_path.plot(1, 1, "k*", ms=10, label="minimum")
ax_path.set_title(f"Rosenbrock, {ROSENBROCK_STEPS} steps")
ax_path.legend(loc="lower right")
for name, (_, losses) in rosenbrock_runs.items():
    ax_loss.loglog(np.arange(1, len(losses) + 1), losses, color=OPTIMIZER_COLOURS[name], label=f"{name} (η = {rosenbrock_lrs[name]:g})")
ax_loss.set(xlabel="step", ylabel="loss", title="Loss")
ax_loss.legend()
fig.suptitle("TODO")
plt.show()
