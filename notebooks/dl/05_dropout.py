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
# # 05. Dropout
#
# **The question.** What is dropout, what does it do in training and at inference, and why does
# it reduce overfitting?
#
# **What you will be able to answer.** The inverted-dropout formula with its $1/(1-p)$ scaling,
# its mean and variance, and why the number of dropped units is Binomial rather than "a
# percentage"; why evaluation mode is the identity and how that relates to the original
# paper's weight scaling; in what sense dropout averages $2^n$ sub-networks (exactly for a
# linear layer, approximately beyond); and what Monte-Carlo dropout's uncertainty does and does
# not tell you.

# %%
import itertools
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from torch import nn

from notebook_utils.checks import check_close, check_equal, check_mean_close, check_true
from notebook_utils.data import noisy_function_1d
from notebook_utils.devices import get_device
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style

use_book_style()
rng = seed_everything(0)
torch.set_default_dtype(torch.float64)  # float64, so the exact checks can use atol 1e-12
device = get_device()

# %% [markdown]
# ## Short answer
#
# - **Training.** Each unit is zeroed **independently** with probability $p$ (PyTorch's `p` is
#   the *drop* probability), and the survivors are multiplied by $1/(1-p)$:
#   $\tilde h=m\odot h/(1-p)$ with $m_i\sim\mathrm{Bernoulli}(1-p)$. Then
#   $\mathbb E[\tilde h]=h$ and $\operatorname{Var}[\tilde h_i]=h_i^2\,p/(1-p)$. A new mask is
#   drawn for every example and every forward pass.
# - **Not "a percentage of neurons"**, as the notes say: the number of dropped units in a layer
#   of $n$ is Binomial$(n,p)$. It is $np$ only on average, and a layer of 20 units with
#   $p=0.3$ drops exactly 6 in fewer than one pass in five (measured below).
# - **Evaluation** (`model.eval()`): dropout is the identity, and the scaling during training is
#   what makes that right. This is *inverted* dropout, used by PyTorch and TensorFlow. The
#   original paper did not scale in training and multiplied the outgoing weights by $1-p$ at
#   test time instead. The two give the same network when a linear layer follows the dropout,
#   and different ones when a nonlinearity such as tanh follows it directly.
# - **Why it regularises.** A unit cannot rely on particular other units being present, so
#   co-adapted feature detectors are discouraged. Each step trains one of $2^n$ sub-networks that
#   share weights, and the evaluation network approximates their average: exactly for a linear
#   layer, as a geometric mean for a softmax layer, approximately through hidden
#   nonlinearities. For linear regression, dropout on the inputs is an L2 penalty
#   $\frac{p}{1-p}\sum_j w_j^2x_j^2$ that scales with each feature's size.
# - **MC dropout.** Keeping dropout on at test time and averaging $T$ passes gives a predictive
#   mean and a spread, a cheap approximate Bayesian uncertainty {cite}`gal2016dropout`. The
#   spread flags likely errors, but it is not guaranteed to grow away from the training data.
# - **Practice.** $p=0.5$ on hidden fully connected layers in the original work, $0.1$ in the
#   Transformer, often $0$ in LLM pre-training. Forgetting `model.eval()` is the classic bug,
#   and dropout placed before BatchNorm shifts the variance BN has learned.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $h\in\mathbb R^n$ | activations that enter the dropout layer (one example) | `input` |
# | $p$ | probability that a unit is dropped | `p` |
# | $m\in\{0,1\}^n$ | the mask: $m_i=1$ keeps unit $i$ | `mask` |
# | $\tilde h$ | the layer's output | `output` |
# | $K$ | the number of dropped units, $\sum_i(1-m_i)$ | `dropped` |
# | $W,b$ | weights and bias of a linear layer that follows | `weight`, `bias` |
#
# The original papers {cite}`hinton2012improving,srivastava2014dropout` write $p$ for the
# probability of **keeping** a unit, which is $1-p$ here. TensorFlow 1's `keep_prob` also
# meant that; Keras's `rate` and PyTorch's `p` mean the drop probability.
#
# ### Inverted dropout
#
# In training every unit gets its own independent coin:
#
# $$
# m_i\sim\mathrm{Bernoulli}(1-p)\ \text{independently},\qquad
# \tilde h=\frac{m\odot h}{1-p}
# $$ (drop-inverted)
#
# A kept unit is multiplied by $1/(1-p)$ and a dropped one is set to 0. Because
# $\mathbb E[m_i]=\mathbb E[m_i^2]=1-p$,
#
# $$
# \mathbb E[\tilde h_i]=h_i,\qquad
# \operatorname{Var}[\tilde h_i]=\frac{h_i^2}{1-p}-h_i^2=\frac{p}{1-p}\,h_i^2
# $$ (drop-moments)
#
# and different units are uncorrelated. The noise is multiplicative, with relative standard
# deviation $\sqrt{p/(1-p)}$: $1$ at $p=0.5$ (noise as large as the signal) and $1/3$ at
# $p=0.1$.
#
# ### The count of dropped units is Binomial
#
# The notes say dropout drops "a percentage of neurons". It drops each one independently, so
# the number dropped is a sum of $n$ independent Bernoulli$(p)$ variables:
#
# $$
# K=\sum_{i=1}^n(1-m_i)\sim\mathrm{Binomial}(n,p),\qquad
# P(K=k)=\binom nk p^k(1-p)^{n-k},\quad \mathbb E[K]=np,\quad \operatorname{Var}[K]=np(1-p)
# $$ (drop-count)
#
# The fraction $K/n$ has standard deviation $\sqrt{p(1-p)/n}$, which matters for narrow
# layers, and with probability $p^n$ every unit is dropped. Each example in a batch gets its
# own mask, so the examples lose different numbers of different units.
#
# ### Evaluation mode, and the original convention
#
# At test time we want one deterministic network. Inverted dropout uses
#
# $$
# \tilde h=h\qquad(\text{evaluation})
# $$ (drop-eval)
#
# which matches each unit's training-time mean by {eq}`drop-moments`. The original paper
# {cite}`srivastava2014dropout` trained without the $1/(1-p)$ factor, $\tilde h=m\odot h$, and
# compensated at test time by scaling the weights that leave the layer:
#
# $$
# \text{train: } z=W(m\odot h)+b,\qquad \text{test: } z=(1-p)\,W h+b
# $$ (drop-original)
#
# When a linear layer follows, the two conventions are the same model. Inverted dropout with
# weights $W$ gives exactly the outputs of the original convention with weights $W/(1-p)$,
# both in training (same mask) and at test time. Only the parametrisation differs. Inverted
# dropout is preferred because inference code does nothing, and `p` can change without
# touching it.
#
# They differ when the next operation is a pointwise nonlinearity $f$ with no weights between,
# e.g. dropout placed before an activation. A unit's training-time output then has two values,
# $f(0)$ and $f(h_i/(1-p))$ (inverted) or $f(0)$ and $f(h_i)$ (original), and its mean is
#
# $$
# \underbrace{(1-p)\,f\!\Big(\frac{h_i}{1-p}\Big)+p\,f(0)}_{\text{inverted}}
# \ \text{ vs test } f(h_i),\qquad
# \underbrace{(1-p)\,f(h_i)+p\,f(0)}_{\text{original}}\ \text{ vs test } f\big((1-p)h_i\big)
# $$ (drop-pointwise)
#
# For ReLU both match: $f(0)=0$ and $f(cx)=cf(x)$ for $c>0$. For tanh, sigmoid or GELU
# neither convention's test output is the training mean, and they are no longer one model
# up to a weight rescaling. The Verification section computes the gaps.
#
# ### Dropout as an ensemble of $2^n$ sub-networks
#
# A mask $m$ selects a sub-network $f_m$, the network with the units where $m_i=0$ removed.
# There are $2^n$ of them, all sharing the same weights, and mask $m$ has probability
# $P(m)=(1-p)^{|m|}p^{\,n-|m|}$ with $|m|=\sum_i m_i$. Training minimises the average loss
# $\mathbb E_m[L(f_m(x),y)]$: each step trains a random sub-network on each example. The natural
# prediction is the ensemble average
#
# $$
# \bar f(x)=\sum_{m\in\{0,1\}^n}P(m)\,f_m(x)
# $$ (drop-ensemble)
#
# which costs $2^n$ forward passes. For a single linear layer $z=W\tilde h+b$ it costs one:
# by linearity of expectation, $\bar z=W\,\mathbb E[\tilde h]+b=Wh+b$, the evaluation-mode
# output. For a softmax on top, $y_m=\operatorname{softmax}(z_m)$, the evaluation network
# gives the normalised *geometric* mean of the sub-networks' predictions, not the arithmetic
# one. The weighted geometric mean of class $c$ is
# $\prod_m y_{m,c}^{P(m)}=\exp\big(\sum_mP(m)z_{m,c}-\sum_mP(m)\log\sum_{c'}e^{z_{m,c'}}\big)$.
# The second sum does not depend on $c$ and cancels when normalising, and the first is
# $(Wh+b)_c$:
#
# $$
# \frac{\prod_m y_{m,c}^{P(m)}}{\sum_{c'}\prod_m y_{m,c'}^{P(m)}}
# =\operatorname{softmax}(Wh+b)_c
# $$ (drop-geometric)
#
# {cite:t}`hinton2012improving` state this for one hidden layer and $p=\tfrac12$, where all
# $P(m)$ are equal. With a nonlinearity between the dropout and the output, the mean of $f_m$
# is no longer $f$ of the mean, and the evaluation network, the "weight scaling inference
# rule", is an approximation to {eq}`drop-ensemble`. The paper compared it with Monte-Carlo
# averaging of sampled sub-networks on MNIST and found the two about equally accurate
# {cite}`srivastava2014dropout`.
#
# ### Dropout as an adaptive L2 penalty
#
# For a linear model $\hat y=w^\top\tilde x$ with dropout on the input $x\in\mathbb R^d$,
# {eq}`drop-moments` gives $\mathbb E[\hat y]=w^\top x$ and, the coordinates being
# independent, $\operatorname{Var}[\hat y]=\frac p{1-p}\sum_jw_j^2x_j^2$. Since
# $\mathbb E[(y-\hat y)^2]=(y-\mathbb E\hat y)^2+\operatorname{Var}\hat y$,
#
# $$
# \mathbb E_m\big[(y-w^\top\tilde x)^2\big]=(y-w^\top x)^2+\frac p{1-p}\sum_j w_j^2x_j^2
# $$ (drop-ridge)
#
# Averaged over the data, this is ridge regression whose penalty on $w_j$ is proportional to
# the mean of $x_j^2$ (Section 9.1 of {cite:t}`srivastava2014dropout`, in the keep-probability
# convention). Features that are large or often active are shrunk more.
#
# ### MC dropout
#
# {cite:t}`gal2016dropout` showed that training with dropout (and weight decay) approximately
# fits a variational posterior over the weights, in which each mask is a sample. Keeping
# dropout on at test time and running $T$ passes with masks $m^{(1)},\dots,m^{(T)}$ estimates
# the predictive mean and spread:
#
# $$
# \hat\mu(x)=\frac1T\sum_{t=1}^T f_{m^{(t)}}(x),\qquad
# \hat\sigma^2(x)=\frac1T\sum_{t=1}^T\big(f_{m^{(t)}}(x)-\hat\mu(x)\big)^2
# $$ (drop-mc)
#
# For regression their predictive variance adds the observation noise $\tau^{-1}$ to
# $\hat\sigma^2$. The plots below show $\hat\sigma$ alone, the part that comes from the model.
# For classification, average the softmax outputs, $\bar y=\frac1T\sum_t
# \operatorname{softmax}(z^{(t)})$, and use the entropy of the average as the uncertainty:
#
# $$
# \mathbb H[\bar y]=-\sum_c\bar y_c\log\bar y_c
# $$ (drop-entropy)
#
# The spread measures how much the sub-networks disagree at $x$. Nothing in the method makes
# that disagreement grow with the distance from the training data; Experiment 2 measures how
# often it does.

# %% [markdown]
# ## Implementation from scratch
#
# `Dropout` follows `torch.nn.Dropout`: the same arguments (`p`, `inplace`), the same error for
# an invalid `p`, and the same behaviour at the edges. In evaluation mode, or with $p=0$, it
# returns its input tensor itself. With $p=1$ it multiplies by zero, because $1/(1-p)$ does not
# exist. The mask is sampled as `torch.empty_like(input).bernoulli_(1 - p)` and divided by
# $1-p$ before multiplying, the same operations in the same order as PyTorch's CPU
# implementation. So on the CPU, from the same random state, the two give bit-identical
# outputs, which the Verification section checks. Autograd differentiates the product: the
# gradient is the upstream gradient times the same scaled mask.


# %%
class Dropout(nn.Module):
    """Inverted dropout, eqs. (drop-inverted) and (drop-eval), with nn.Dropout's arguments."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return input  # eq. (drop-eval): the identity, the same tensor object
        if self.p == 1.0:  # nothing survives, and 1 / (1 - p) is undefined
            zero = torch.zeros((), dtype=input.dtype, device=input.device)
            return input.mul_(zero) if self.inplace else input * zero
        keep = 1.0 - self.p
        mask = torch.empty_like(input).bernoulli_(keep)  # m_i ~ Bernoulli(1 - p), same shape
        mask.div_(keep)  # eq. (drop-inverted): entries 0 or 1 / (1 - p)
        return input.mul_(mask) if self.inplace else input * mask

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


# %% [markdown]
# MC dropout needs the opposite of `model.eval()` for the dropout layers only: every other
# module (BatchNorm above all) must stay in evaluation mode. `mc_dropout_samples` runs the $T$
# passes of {eq}`drop-mc` and puts the model back into evaluation mode. {eq}`drop-entropy` uses
# `xlogy`, which defines $0\log0=0$.


# %%
def enable_mc_dropout(model: nn.Module) -> nn.Module:
    """Evaluation mode for every module except the dropout layers, which keep sampling."""
    model.eval()
    for module in model.modules():
        if isinstance(module, Dropout | nn.Dropout):
            module.train()
    return model


@torch.no_grad()
def mc_dropout_samples(model: nn.Module, x: torch.Tensor, n_samples: int) -> torch.Tensor:
    """eq. (drop-mc): n_samples stochastic forward passes, shape (T, *model(x).shape)."""
    enable_mc_dropout(model)
    samples = torch.stack([model(x) for _ in range(n_samples)])  # (T, N, ...)
    model.eval()
    return samples


def predictive_entropy(probs: torch.Tensor) -> torch.Tensor:
    """eq. (drop-entropy): entropy (nats) of the mean of T predictions, (T, N, C) -> (N,)."""
    mean_probs = probs.mean(0)  # (N, C), ȳ
    return -torch.special.xlogy(mean_probs, mean_probs).sum(-1)


# %% [markdown]
# ## Verification
#
# ### Bit for bit against `nn.Dropout` on the CPU
#
# Same input, same seed, in float64: the outputs and the gradients of a random upstream
# gradient must be identical, for several $p$. The seed is set inside `torch.random.fork_rng`,
# so the notebook's own random stream is left alone.


# %%
def with_seed(layer: nn.Module, x: torch.Tensor, seed: int) -> torch.Tensor:
    """layer(x) with the CPU generator seeded, without disturbing the notebook's stream."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return layer(x)


inputs = torch.randn(64, 33)  # (N, n)
upstream = torch.randn(64, 33)  # ∂L/∂output
for p in (0.1, 0.5, 0.9):
    outputs, grads = [], []
    for layer in (Dropout(p), nn.Dropout(p)):
        leaf = inputs.clone().requires_grad_()
        output = with_seed(layer, leaf, seed=123)
        (output * upstream).sum().backward()
        outputs.append(output.detach())
        grads.append(leaf.grad)
    check_equal(f"p = {p}: Dropout vs nn.Dropout, train mode, same seed", outputs[0], outputs[1])
    check_equal(f"p = {p}: their input gradients", grads[0], grads[1])

# %% [markdown]
# In evaluation mode both return the input tensor itself. `inplace=True` writes the same numbers
# into the input. $p=1$ gives zeros, and an invalid $p$ raises the same error in both.

# %%
for name, layer in [("ours", Dropout(0.3)), ("nn.Dropout", nn.Dropout(0.3))]:
    output = layer.eval()(inputs)
    check_equal(f"{name}, eval mode: output == input", output, inputs)
    check_true(f"{name}, eval mode: returns the input object itself", output is inputs)

in_place_input = inputs.clone()
in_place_output = with_seed(Dropout(0.4, inplace=True), in_place_input, seed=5)
check_true("inplace=True returns the input tensor", in_place_output is in_place_input)
check_equal(
    "inplace=True vs nn.Dropout(inplace=False), same seed",
    in_place_output,
    with_seed(nn.Dropout(0.4), inputs, seed=5),
)
check_equal(
    "p = 1: Dropout vs nn.Dropout (all zeros)", Dropout(1.0)(inputs), nn.Dropout(1.0)(inputs)
)
errors = []
for cls in (Dropout, nn.Dropout):
    try:
        cls(1.5)
    except ValueError as error:
        errors.append(str(error))
check_equal("p = 1.5: the same ValueError message", np.array(errors[0]), np.array(errors[1]))

# %% [markdown]
# ### The distribution of the output, ours and PyTorch's, on the compute device
#
# The bit-for-bit check relies on PyTorch's CPU path. On a GPU, `nn.Dropout` calls a fused
# kernel that draws its own random numbers, so the comparison has to be statistical. These
# checks run on `device`. For an input $x$ with no zeros, every entry of the output must be $0$
# or $x/(1-p)$ (to rounding). Three Monte-Carlo means, each with its standard error, must match
# {eq}`drop-moments`: the ratio $\tilde x_i/x_i$ has mean $1$, the squared deviation
# $(\tilde x_i/x_i-1)^2$ has mean $p/(1-p)$, and the drop indicator has mean $p$. Since the
# ratio takes only two values, the three are views of one drop count, hence one z-score per
# layer. Last, our drop indicators minus PyTorch's (independent draws) must average 0.

# %%
N_DRAWS, P_TEST = 200_000, 0.3
positive_input = 0.5 + torch.rand(N_DRAWS, device=device)  # (N,), no zeros
drop_indicators = {}
for name, layer in [("ours", Dropout(P_TEST)), ("torch", nn.Dropout(P_TEST))]:
    output = layer(positive_input)
    dropped = output == 0
    kept_reference = torch.where(dropped, 0.0, positive_input / (1 - P_TEST))
    check_close(f"{name}: every output is 0 or x/(1-p)", output, kept_reference, atol=0, rtol=1e-12)
    ratio = output / positive_input  # m_i / (1 - p)
    check_mean_close(f"{name}: E[x̃/x] = 1", ratio, 1.0, z_max=4)
    check_mean_close(
        f"{name}: Var[x̃/x] = p/(1-p)", (ratio - 1) ** 2, P_TEST / (1 - P_TEST), z_max=4
    )
    check_mean_close(f"{name}: drop rate = p", dropped.double(), P_TEST, z_max=4)
    drop_indicators[name] = dropped.double()
check_mean_close(
    "drop indicator, ours − torch's: mean 0",
    drop_indicators["ours"] - drop_indicators["torch"],
    0.0,
    z_max=4,
)

# %% [markdown]
# ### The errata's example
#
# `nn.Dropout(0.2)` on `ones(100000)` in training mode: the values are $\{0, 1.25\}$ and the
# mean is close to 1, within its standard error (the errata quote one draw, 0.999). In
# evaluation mode the output equals the input.

# %%
ones = torch.ones(100_000)
errata_dropout = nn.Dropout(0.2)
train_output = errata_dropout(ones)
check_equal(
    "nn.Dropout(0.2)(ones): set of values", train_output.unique(), torch.tensor([0.0, 1.25])
)
check_mean_close("nn.Dropout(0.2)(ones): mean", train_output, 1.0, z_max=4)
check_equal("nn.Dropout(0.2).eval()(ones) == ones", errata_dropout.eval()(ones), ones)

# %% [markdown]
# ### The number of dropped units is Binomial
#
# A layer of $n=20$ units with $p=0.3$, 20000 forward passes (one row each): the count of
# zeros per row must follow Binomial$(20,0.3)$, {eq}`drop-count`. The check is Pearson's
# chi-square test against `scipy.stats.binom` (tail bins pooled so that every expected count
# is at least 5), plus the mean and variance of the count as Monte-Carlo means. The test
# fails if the p-value is below $10^{-3}$.

# %%
N_UNITS, P_COUNT, N_PASSES = 20, 0.3, 20_000
binomial = stats.binom(N_UNITS, P_COUNT)
counts = {}
for name, layer in [("ours", Dropout(P_COUNT)), ("torch", nn.Dropout(P_COUNT))]:
    dropped = (layer(torch.ones(N_PASSES, N_UNITS, device=device)) == 0).sum(1)  # (passes,)
    counts[name] = dropped.cpu().numpy()
    observed = np.bincount(counts[name], minlength=N_UNITS + 1).astype(float)  # (n + 1,)
    expected = N_PASSES * binomial.pmf(np.arange(N_UNITS + 1))
    keep_bins = expected >= 5
    lo, hi = np.flatnonzero(keep_bins)[[0, -1]]  # pool the tails into the end bins
    pooled_obs = np.r_[observed[: lo + 1].sum(), observed[lo + 1 : hi], observed[hi:].sum()]
    pooled_exp = np.r_[expected[: lo + 1].sum(), expected[lo + 1 : hi], expected[hi:].sum()]
    chi2 = stats.chisquare(pooled_obs, pooled_exp)
    check_true(
        f"{name}: count of dropped units ~ Binomial({N_UNITS}, {P_COUNT}), chi-square",
        bool(chi2.pvalue > 1e-3),
        f"χ² = {chi2.statistic:.1f} on {len(pooled_obs) - 1} dof, p-value {chi2.pvalue:.2f}",
    )
    check_mean_close(f"{name}: E[K] = np", counts[name], N_UNITS * P_COUNT, z_max=4)
    variance_samples = (counts[name] - N_UNITS * P_COUNT) ** 2
    check_mean_close(f"{name}: Var[K] = np(1-p)", variance_samples, binomial.var(), z_max=4)
exactly_np = binomial.pmf(round(N_UNITS * P_COUNT))
print(
    f"P(exactly {N_UNITS * P_COUNT:.0f} of {N_UNITS} dropped) = {exactly_np:.3f}; "
    f"measured {np.mean(counts['ours'] == 6):.3f} (ours), {np.mean(counts['torch'] == 6):.3f} "
    f"(torch); P(all dropped) = {P_COUNT**N_UNITS:.1e}"
)
check_true("exactly np dropped in fewer than one pass in five", bool(exactly_np < 0.2))

# %%
fig, ax = plt.subplots(figsize=(7.5, 4))
k = np.arange(N_UNITS + 1)
for offset, (name, colour) in zip(
    (-0.2, 0.2), [("ours", PALETTE[0]), ("torch", PALETTE[1])], strict=True
):
    frequency = np.bincount(counts[name], minlength=N_UNITS + 1) / N_PASSES
    ax.bar(k + offset, frequency, width=0.4, color=colour, label=f"measured, {name}")
ax.plot(k, binomial.pmf(k), "k.-", lw=1, label=f"Binomial({N_UNITS}, {P_COUNT}) pmf")
ax.axvline(N_UNITS * P_COUNT, color="0.5", ls=":", label=f"the notes' '{P_COUNT:.0%}': K = 6")
ax.set(
    xlabel="number of dropped units K (of 20)",
    ylabel="fraction of forward passes",
    title=f"The count is Binomial: exactly 30 % are dropped in only {exactly_np:.0%} of passes",
)
ax.legend()
plt.show()

# %% [markdown]
# ### The gradient is the upstream gradient times the same scaled mask
#
# For $\tilde x=x\odot m/(1-p)$, $\partial L/\partial x=\partial L/\partial\tilde x\odot
# m/(1-p)$. The mask can be read off the output (the input has no zeros). For both layers the
# autograd gradient must equal that product, on `device`. `torch.autograd.gradcheck` compares
# our layer's autograd gradient with central finite differences in float64; the seed is fixed
# inside the function so that every evaluation uses the same mask.

# %%
for name, layer in [("ours", Dropout(P_TEST)), ("torch", nn.Dropout(P_TEST))]:
    leaf = positive_input[:1000].clone().requires_grad_()
    output = layer(leaf)
    upstream_grad = torch.randn_like(output)
    (output * upstream_grad).sum().backward()
    mask_from_output = (output != 0).double() / (1 - P_TEST)
    check_close(
        f"{name}: autograd gradient vs upstream ⊙ m/(1-p)",
        leaf.grad,
        upstream_grad * mask_from_output,
        atol=1e-15,
    )
gradcheck_input = (0.5 + torch.rand(12)).requires_grad_()
check_true(
    "ours: torch.autograd.gradcheck (float64, fixed mask)",
    torch.autograd.gradcheck(lambda t: with_seed(Dropout(0.4), t, seed=9), (gradcheck_input,)),
)

# %% [markdown]
# ### The two conventions
#
# With a linear layer after the dropout, inverted dropout with weights $W$ and the original
# convention {eq}`drop-original` with weights $W/(1-p)$ compute the same numbers: in training
# with the same mask, and at test time.

# %%
p = 0.4
hidden = torch.randn(16, 10)  # (N, n)
weight, bias = torch.randn(3, 10), torch.randn(3)  # (C, n), (C,)
mask = torch.empty_like(hidden).bernoulli_(1 - p)  # (N, n)
weight_original = weight / (1 - p)  # the same model in the original parametrisation
inverted_train = (mask * hidden / (1 - p)) @ weight.T + bias  # eq. (drop-inverted)
original_train = (mask * hidden) @ weight_original.T + bias  # eq. (drop-original)
check_close(
    "linear layer, training: inverted vs original", inverted_train, original_train, atol=1e-12
)
inverted_test = hidden @ weight.T + bias  # eq. (drop-eval)
original_test = hidden @ ((1 - p) * weight_original).T + bias  # weights scaled by 1 - p
check_close("linear layer, test: inverted vs original", inverted_test, original_test, atol=1e-12)

# %% [markdown]
# With a pointwise nonlinearity directly after the dropout, {eq}`drop-pointwise` gives each
# convention's training-time mean. A Monte-Carlo mean over our `Dropout` checks the formula for
# tanh at one point, and the figure shows the gap between the training mean and the test output
# across $h$.


# %%
def train_mean_after(f: torch.nn.Module, h: torch.Tensor, p: float, inverted: bool) -> torch.Tensor:
    """eq. (drop-pointwise): E over the mask of f(dropout(h)), in either convention."""
    kept = f(h / (1 - p)) if inverted else f(h)
    return (1 - p) * kept + p * f(torch.zeros_like(h))


h_point = torch.tensor([1.5])
samples = torch.tanh(Dropout(p)(h_point.expand(100_000)))  # inverted, (N,)
expected = train_mean_after(torch.tanh, h_point, p, inverted=True).item()
check_mean_close(
    f"E[tanh(dropout(1.5))], p = {p}, vs eq. (drop-pointwise)", samples, expected, z_max=4
)

h_grid = torch.linspace(-3, 3, 301)  # (G,)
pointwise_gap = {
    ("tanh", "inverted"): train_mean_after(torch.tanh, h_grid, p, True) - torch.tanh(h_grid),
    ("tanh", "original"): train_mean_after(torch.tanh, h_grid, p, False)
    - torch.tanh((1 - p) * h_grid),
    ("ReLU", "inverted"): train_mean_after(torch.relu, h_grid, p, True) - torch.relu(h_grid),
    ("ReLU", "original"): train_mean_after(torch.relu, h_grid, p, False)
    - torch.relu((1 - p) * h_grid),
}
for convention in ("inverted", "original"):
    check_close(
        f"ReLU, {convention}: training mean = test output",
        pointwise_gap["ReLU", convention],
        torch.zeros_like(h_grid),
        atol=1e-12,
    )
largest_gap = {c: pointwise_gap["tanh", c].abs().max().item() for c in ("inverted", "original")}
check_true(
    "tanh: both conventions miss the training mean",
    min(largest_gap.values()) > 0.05,
    ", ".join(f"{c}: largest gap {g:.3f}" for c, g in largest_gap.items()),
)

# %%
fig, ax = plt.subplots(figsize=(7.5, 4))
styles = {"inverted": "-", "original": "--"}
for (activation, convention), gap in pointwise_gap.items():
    colour = PALETTE[0] if activation == "tanh" else PALETTE[2]
    ax.plot(h_grid, gap, styles[convention], color=colour, label=f"{activation}, {convention}")
ax.axhline(0, color="0.7", lw=0.8)
ax.set(
    xlabel="pre-dropout value $h$",
    ylabel="training mean − test output",
    title=f"After tanh neither convention's test output is the training mean (p = {p})",
)
ax.legend()
plt.show()

# %% [markdown]
# ### The ensemble, exactly, by enumerating all $2^n$ masks
#
# With $n=10$ units there are 1024 masks, few enough to average over all of them with their
# probabilities $P(m)$. Four claims of the Derivation, for $p=0.3$:
#
# 1. the probabilities sum to 1;
# 2. for a linear layer, the ensemble mean {eq}`drop-ensemble` is the evaluation output;
# 3. for a softmax layer, the normalised weighted geometric mean is the evaluation softmax,
#    {eq}`drop-geometric`, while the arithmetic mean is not;
# 4. for a linear regression, the mean squared error over masks is {eq}`drop-ridge`.

# %%
N_SMALL, P_ENUM = 10, 0.3
all_masks = torch.tensor(list(itertools.product([0.0, 1.0], repeat=N_SMALL)))  # (2^n, n)
mask_probs = (1 - P_ENUM) ** all_masks.sum(1) * P_ENUM ** (N_SMALL - all_masks.sum(1))  # (2^n,)
check_close("Σ_m P(m) = 1", mask_probs.sum(), torch.tensor(1.0), atol=1e-12)

h_small = torch.randn(5, N_SMALL)  # (N, n)
w_out, b_out = torch.randn(4, N_SMALL), torch.randn(4)  # (C, n), (C,)
dropped_h = all_masks[:, None, :] * h_small / (1 - P_ENUM)  # (2^n, N, n), eq. (drop-inverted)
logits_per_mask = dropped_h @ w_out.T + b_out  # (2^n, N, C)
eval_logits = h_small @ w_out.T + b_out  # (N, C), eq. (drop-eval)
ensemble_logits = torch.einsum("m,mnc->nc", mask_probs, logits_per_mask)  # eq. (drop-ensemble)
check_close(
    "linear layer: mean over all masks = eval output", ensemble_logits, eval_logits, atol=1e-12
)

log_probs = torch.log_softmax(logits_per_mask, dim=-1)  # (2^n, N, C)
geometric_mean = torch.softmax(torch.einsum("m,mnc->nc", mask_probs, log_probs), dim=-1)
eval_probs = torch.softmax(eval_logits, dim=-1)  # (N, C)
check_close(
    "softmax: geometric mean over masks = eval softmax", geometric_mean, eval_probs, atol=1e-12
)
arithmetic_mean = torch.einsum("m,mnc->nc", mask_probs, log_probs.exp())  # (N, C)
arithmetic_gap = (arithmetic_mean - eval_probs).abs().max().item()
check_true(
    "softmax: the arithmetic mean is not the eval softmax",
    arithmetic_gap > 1e-3,
    f"largest difference {arithmetic_gap:.3f}",
)

targets_small = torch.randn(5)  # (N,)
w_reg = torch.randn(N_SMALL)  # (n,)
squared_errors = (targets_small - dropped_h @ w_reg) ** 2  # (2^n, N)
expected_mse = mask_probs @ squared_errors  # (N,)
ridge_form = (targets_small - h_small @ w_reg) ** 2 + P_ENUM / (1 - P_ENUM) * (
    w_reg**2 * h_small**2
).sum(1)  # eq. (drop-ridge)
check_close(
    "linear regression: E_m[squared error] = eq. (drop-ridge)", expected_mse, ridge_form, atol=1e-12
)

# %% [markdown]
# Put a ReLU layer between the dropout and the output, here a random 10 → 32 → 4 network with
# dropout on its input, and the exact ensemble mean and the evaluation output part ways:

# %%
hidden_layer, output_layer = nn.Linear(N_SMALL, 32), nn.Linear(32, 4)
with torch.no_grad():
    exact_mean = output_layer(torch.relu(hidden_layer(dropped_h)))  # (2^n, N, C)
    exact_mean = torch.einsum("m,mnc->nc", mask_probs, exact_mean)  # eq. (drop-ensemble)
    weight_scaled = output_layer(torch.relu(hidden_layer(h_small)))  # (N, C), eval mode
relative_gap = ((exact_mean - weight_scaled).norm() / exact_mean.norm()).item()
check_true(
    "one hidden ReLU layer: eval output ≠ exact ensemble mean",
    relative_gap > 0.01,
    f"relative difference {relative_gap:.3f}",
)

# %% [markdown]
# ## Experiments
#
# ### 1. Dropout against overfitting on 150 digits
#
# A multilayer perceptron (MLP) 64 → 256 → 256 → 10 with ReLU and our `Dropout` after each
# hidden layer, trained on only 150 of scikit-learn's 1797 8×8 digits (15 per class) and tested
# on the other 1647. The three runs, with $p\in\{0,0.2,0.5\}$, start from the same initial
# weights and take the same 120 full-batch Adam steps (learning rate $3\cdot10^{-3}$). Every 10
# steps we record the loss and accuracy on both sets, in evaluation mode (`torch.optim.Adam`,
# whose update chapter 01 of Part I derives and checks).

# %%
digits_x, digits_y = load_digits(return_X_y=True)
x_train, x_test, y_train, y_test = train_test_split(
    digits_x / 16.0, digits_y, train_size=150, stratify=digits_y, random_state=0
)
x_train, x_test = (torch.tensor(a, dtype=torch.float32, device=device) for a in (x_train, x_test))
y_train, y_test = (torch.tensor(a, device=device) for a in (y_train, y_test))
print(f"{len(x_train)} training and {len(x_test)} test images on {device}")
DROP_PS, HIDDEN, STEPS, LEARNING_RATE, EVAL_EVERY = (0.0, 0.2, 0.5), 256, 120, 3e-3, 10


def make_mlp(p: float) -> nn.Sequential:
    """64 → 256 → 256 → 10 with dropout p after each hidden ReLU."""
    return nn.Sequential(
        nn.Linear(64, HIDDEN),
        nn.ReLU(),
        Dropout(p),
        nn.Linear(HIDDEN, HIDDEN),
        nn.ReLU(),
        Dropout(p),
        nn.Linear(HIDDEN, 10),
    )


@torch.no_grad()
def loss_and_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Cross-entropy and accuracy of the model in its current mode."""
    logits = model(x)  # (N, 10)
    return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).double().mean().item()


# %%
histories, models = {}, {}
for p in DROP_PS:
    torch.manual_seed(0)  # the same initial weights for every p
    model = make_mlp(p).to(device=device, dtype=torch.float32)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    history = {key: [] for key in ("step", "train", "test", "train_acc", "test_acc", "noisy")}
    for step in range(1, STEPS + 1):
        model.train()
        loss = F.cross_entropy(model(x_train), y_train)  # with dropout: the loss optimised
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % EVAL_EVERY == 0:
            model.eval()
            train_loss, train_acc = loss_and_accuracy(model, x_train, y_train)
            test_loss, test_acc = loss_and_accuracy(model, x_test, y_test)
            for key, value in zip(
                history,
                (step, train_loss, test_loss, train_acc, test_acc, loss.item()),
                strict=True,
            ):
                history[key].append(value)
    histories[p], models[p] = {key: np.array(v) for key, v in history.items()}, model.eval()

final = {p: {key: values[-1] for key, values in histories[p].items()} for p in DROP_PS}
loss_gap = {p: final[p]["test"] - final[p]["train"] for p in DROP_PS}
print(
    f"  p   train loss  test loss    gap   train acc  test acc   (after {STEPS} steps, eval mode)"
)
for p in DROP_PS:
    f = final[p]
    print(
        f"{p:4.1f} {f['train']:11.4f} {f['test']:10.3f} {loss_gap[p]:7.3f}"
        f" {f['train_acc']:10.3f} {f['test_acc']:9.3f}"
    )

# %%
check_true(
    "the train-test loss gap shrinks as p grows",
    bool(loss_gap[0.0] > loss_gap[0.2] > loss_gap[0.5]),
    " > ".join(f"{loss_gap[p]:.3f} (p = {p})" for p in DROP_PS),
)
check_true(
    "p = 0.5 has a lower final test loss than p = 0, by more than 0.1",
    bool(final[0.5]["test"] < final[0.0]["test"] - 0.1),
    f"{final[0.5]['test']:.3f} vs {final[0.0]['test']:.3f}",
)
test_curve = histories[0.0]["test"]
check_true(
    "p = 0: the test loss climbs after its minimum, by more than 0.1",
    bool(test_curve[-1] > test_curve.min() + 0.1),
    f"minimum {test_curve.min():.3f}, final {test_curve[-1]:.3f}",
)
check_true(
    "every run fits the training set (train accuracy 1)",
    all(final[p]["train_acc"] == 1.0 for p in DROP_PS),
)

# %%
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4.2))
for p, colour in zip(DROP_PS, PALETTE, strict=False):
    h = histories[p]
    ax_loss.semilogy(h["step"], h["test"], "-", color=colour, label=f"p = {p}: test")
    ax_loss.semilogy(h["step"], h["train"], "--", color=colour, label=f"p = {p}: train")
    ax_acc.plot(h["step"], h["test_acc"], "-", color=colour, label=f"p = {p}")
ax_loss.set(xlabel="Adam step", ylabel="cross-entropy (nats, eval mode)", title="Loss")
ax_loss.legend(ncol=2, fontsize="small")
ax_acc.set(xlabel="Adam step", ylabel="test accuracy", title="Test accuracy", ylim=(0.8, 0.95))
ax_acc.legend()
fig.suptitle(
    f"Dropout narrows the train–test loss gap from {loss_gap[0.0]:.2f} (p = 0) "
    f"to {loss_gap[0.5]:.2f} (p = 0.5); accuracy moves less"
)
plt.show()

# %% [markdown]
# All three runs reach zero training error, and without dropout the training loss goes to
# nearly zero while the test loss climbs: the network becomes confidently wrong on the digits
# it gets wrong. Dropout keeps the test loss lower and the gap smaller, in the order of $p$. The
# test accuracy changes much less than the loss (the table above), a common picture on small
# data sets: dropout mostly tempers overconfidence here.

# %% [markdown]
# ### 2. MC dropout on a 1-D regression: does the band widen away from the data?
#
# Eight training sets of 40 points $y=\sin(2\pi x)+\varepsilon$, $\varepsilon\sim
# N(0,0.1^2)$, $x\sim U(0,1)$, all drawn from the same distribution
# (`notebook_utils.data.noisy_function_1d`). On each we train an MLP 1 → 64 → 64 → 1 with our
# `Dropout(0.1)` after each hidden ReLU (500 full-batch Adam steps, mean squared error), then
# run $T=100$ MC-dropout passes on a grid over $[-0.5,1.5]$ {eq}`drop-mc`. The eight networks are
# independent but trained side by side as one batched model. Their weights carry a leading
# replica axis $R$, and `torch.baddbmm` computes all eight layers at once. Networks this small
# are dominated by per-call overhead, so this experiment runs on the CPU on every machine.
#
# The measure: the ratio of the mean $\hat\sigma$ far outside the data ($x<-0.25$ or
# $x>1.25$) to the mean $\hat\sigma$ inside $[0,1]$.


# %%
class ReplicatedMLP(nn.Module):
    """R independent MLPs 1 → H → H → 1 with dropout p after each hidden ReLU, run as one."""

    def __init__(self, replicas: int, hidden: int, p: float) -> None:
        super().__init__()
        sizes = [(1, hidden), (hidden, hidden), (hidden, 1)]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in sizes:  # nn.Linear's initialisation, U(±1/√fan_in)
            bound = 1 / math.sqrt(fan_in)
            self.weights.append(
                nn.Parameter(torch.empty(replicas, fan_in, fan_out).uniform_(-bound, bound))
            )
            self.biases.append(
                nn.Parameter(torch.empty(replicas, 1, fan_out).uniform_(-bound, bound))
            )
        self.dropout = Dropout(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(R, N, 1) → (R, N, 1)."""
        for layer, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.baddbmm(bias, x, weight)  # (R, N, fan_out)
            if layer < len(self.weights) - 1:
                x = self.dropout(torch.relu(x))
        return x


# %%
N_SETS, N_POINTS, NOISE, P_REG, T_MC, REG_STEPS = 8, 40, 0.1, 0.1, 100, 500
regression_sets = [noisy_function_1d(N_POINTS, rng, noise_std=NOISE) for _ in range(N_SETS)]
x_reg = torch.tensor(np.stack([x for x, _ in regression_sets]))[..., None]  # (R, N, 1)
y_reg = torch.tensor(np.stack([y for _, y in regression_sets]))[..., None]  # (R, N, 1)


def standardise(x: torch.Tensor) -> torch.Tensor:
    """Map [0, 1] to [-1, 1], the network's input scale."""
    return 2 * x - 1


torch.manual_seed(1)
regression_nets = ReplicatedMLP(N_SETS, 64, P_REG).float()
reg_optimizer = torch.optim.Adam(regression_nets.parameters(), lr=1e-2)
x_in, y_target = standardise(x_reg).float(), y_reg.float()
for _ in range(REG_STEPS):
    # sum over replicas of each replica's mean squared error: each gets its own gradient
    loss = ((regression_nets(x_in) - y_target) ** 2).mean((1, 2)).sum()
    reg_optimizer.zero_grad(set_to_none=True)
    loss.backward()
    reg_optimizer.step()

x_grid = torch.linspace(-0.5, 1.5, 201)  # (G,)
grid_in = standardise(x_grid).float()[None, :, None].expand(N_SETS, -1, -1)  # (R, G, 1)
regression_nets.train()  # MC dropout: the model has no other train/eval-dependent layer
with torch.no_grad():
    mc_outputs = regression_nets(grid_in.repeat(1, T_MC, 1)).view(N_SETS, T_MC, -1).double()
mc_mean, mc_std = mc_outputs.mean(1), mc_outputs.std(1, correction=0)  # (R, G), eq. (drop-mc)
inside = (x_grid >= 0) & (x_grid <= 1)
far_outside = (x_grid < -0.25) | (x_grid > 1.25)
std_ratio = (mc_std[:, far_outside].mean(1) / mc_std[:, inside].mean(1)).numpy()  # (R,)
fit_rmse = (mc_mean[:, inside] - torch.sin(2 * math.pi * x_grid[inside])).pow(2).mean(1).sqrt()
print("σ̂ far outside / σ̂ inside, per training set:", np.round(std_ratio, 2))
print(
    "RMSE of the MC mean vs the true function inside [0, 1]: "
    f"{fit_rmse.min():.3f} to {fit_rmse.max():.3f}"
)

# %%
check_true(
    "every MC mean fits the true function inside [0, 1] (RMSE < 2 × noise sd)",
    bool(fit_rmse.max() < 2 * NOISE),
    f"largest RMSE {fit_rmse.max():.3f}",
)
check_true(
    "on average over the training sets, the band is wider far outside the data (ratio > 1.2)",
    bool(std_ratio.mean() > 1.2),
    f"mean ratio {std_ratio.mean():.2f}",
)
check_true(
    "but the ratio varies by more than a factor 1.8 between training sets",
    bool(std_ratio.max() / std_ratio.min() > 1.8),
    f"from {std_ratio.min():.2f} to {std_ratio.max():.2f}",
)

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), gridspec_kw=dict(width_ratios=[1, 1, 0.8]))
for ax, index, label in [
    (axes[0], int(std_ratio.argmax()), "largest"),
    (axes[1], int(std_ratio.argmin()), "smallest"),
]:
    x_data, y_data = regression_sets[index]
    ax.axvspan(0, 1, color="0.93", zorder=0)
    ax.fill_between(
        x_grid,
        mc_mean[index] - 2 * mc_std[index],
        mc_mean[index] + 2 * mc_std[index],
        color=PALETTE[0],
        alpha=0.3,
        label=r"MC mean $\pm 2\hat\sigma$",
    )
    ax.plot(x_grid, mc_mean[index], color=PALETTE[0], label="MC mean")
    ax.plot(x_grid, torch.sin(2 * math.pi * x_grid), "k:", lw=1, label=r"$\sin(2\pi x)$")
    ax.plot(x_data, y_data, "k.", ms=4, label="training data")
    ax.set(
        xlabel="x",
        ylabel="y",
        ylim=(-2.5, 2.5),
        title=f"Set {index}, {label} ratio: σ̂ out/in = {std_ratio[index]:.2f}",
    )
axes[0].legend(loc="lower left", fontsize="small")
axes[2].bar(np.arange(N_SETS), std_ratio, color=PALETTE[1])
axes[2].axhline(1, color="k", lw=0.8)
axes[2].set(xlabel="training set", ylabel="σ̂ far outside / σ̂ inside", title="All eight sets")
fig.suptitle(
    f"MC dropout's band widens away from the data on average (×{std_ratio.mean():.1f}), "
    f"but anywhere from ×{std_ratio.min():.1f} to ×{std_ratio.max():.1f} between training sets"
)
plt.show()

# %% [markdown]
# Same distribution, same architecture, same $p$, and the ratio ranges over the values printed
# above, by more than a factor of 1.8 between the extremes. Where all ReLU units of a
# network switch off beyond the data, the network is constant there whatever the mask, and
# $\hat\sigma$ stays flat or shrinks. Where some stay on, the
# sub-networks extrapolate with different slopes and $\hat\sigma$ grows linearly. MC dropout
# measures how much the sub-networks disagree, which is not the same as the distance from the
# data. It is a cheap signal, not a calibrated posterior.

# %% [markdown]
# ### 3. MC dropout on digits: is the entropy higher on the mistakes?
#
# The $p=0.5$ network of Experiment 1, $T=30$ MC passes on the 1647 test digits.
# {eq}`drop-entropy` gives each digit an uncertainty score. If the score is useful, misclassified
# digits should score higher than correct ones. The area under the ROC curve (AUROC) of the
# score as a detector of errors measures exactly that: 0.5 is chance, 1 a perfect separation.
# The entropy of the single evaluation-mode softmax is the baseline. The same samples also
# measure how far the weight-scaling prediction is from the MC average in a trained network.

# %%
T_DIGITS = 30
mc_probs = torch.softmax(
    mc_dropout_samples(models[0.5], x_test, T_DIGITS).double(), -1
)  # (T, N, C)
with torch.no_grad():
    eval_probs_digits = torch.softmax(models[0.5](x_test).double(), -1)  # (N, C)
mc_mean_probs = mc_probs.mean(0)  # (N, C)
mc_errors = (mc_mean_probs.argmax(1) != y_test).cpu().numpy()  # (N,)
eval_errors = (eval_probs_digits.argmax(1) != y_test).cpu().numpy()
class_disagreement = (mc_mean_probs.argmax(1) != eval_probs_digits.argmax(1)).double().mean().item()
mc_entropy = predictive_entropy(mc_probs).cpu().numpy()  # (N,)
eval_entropy = predictive_entropy(eval_probs_digits[None]).cpu().numpy()
auroc_mc = roc_auc_score(mc_errors, mc_entropy)
auroc_eval = roc_auc_score(eval_errors, eval_entropy)
prob_gap = (mc_mean_probs - eval_probs_digits).abs().max(1).values  # (N,)
mc_standard_error = (mc_probs.std(0, correction=1) / math.sqrt(T_DIGITS)).max(1).values  # (N,)
print(
    f"test accuracy: weight scaling {1 - eval_errors.mean():.3f}, "
    f"MC average {1 - mc_errors.mean():.3f}"
)
print(f"predicted classes that differ: {class_disagreement:.2%} of test digits")
print(
    f"largest |MC mean − eval| probability per digit, averaged: {prob_gap.mean():.4f} "
    f"(MC standard error of the mean, averaged: {mc_standard_error.mean():.4f})"
)
print(
    f"AUROC of entropy for detecting errors: MC dropout {auroc_mc:.3f}, "
    f"eval softmax {auroc_eval:.3f}"
)
print(
    f"mean entropy: correct {mc_entropy[~mc_errors].mean():.3f} nats, "
    f"misclassified {mc_entropy[mc_errors].mean():.3f} nats ({mc_errors.sum()} digits)"
)

# %%
check_true(
    "MC-dropout entropy detects errors well above chance (AUROC > 0.75)",
    bool(auroc_mc > 0.75),
    f"AUROC {auroc_mc:.3f}",
)
check_true(
    "weight scaling ≠ the MC average: probability gap > 2 × MC standard error",
    bool(prob_gap.mean() > 2 * mc_standard_error.mean()),
    f"{prob_gap.mean():.4f} vs {mc_standard_error.mean():.4f}",
)
check_true(
    "but the same class for at least 98 % of digits",
    class_disagreement < 0.02,
    f"{class_disagreement:.2%} differ",
)
check_true(
    "weight scaling ≈ the MC average: accuracies within 1 point",
    bool(abs(eval_errors.mean() - mc_errors.mean()) < 0.01),
    f"{1 - eval_errors.mean():.3f} vs {1 - mc_errors.mean():.3f}",
)

# %%
fig, ax = plt.subplots(figsize=(7.5, 4))
bins = np.linspace(0, max(mc_entropy.max(), 1e-3), 30)
ax.hist(
    mc_entropy[~mc_errors], bins=bins, density=True, alpha=0.6, color=PALETTE[0], label="correct"
)
ax.hist(
    mc_entropy[mc_errors],
    bins=bins,
    density=True,
    alpha=0.6,
    color=PALETTE[1],
    label="misclassified",
)
ax.set(
    xlabel="predictive entropy of the MC average (nats)",
    ylabel="density",
    title=f"MC-dropout entropy is higher on the mistakes (AUROC {auroc_mc:.2f})",
)
ax.legend()
plt.show()

# %% [markdown]
# The errors have a higher entropy, and the AUROC (printed above) is far from chance. The
# single evaluation-mode softmax ranks the errors about as well here: on this problem MC
# dropout adds little to error detection, while it costs $T$ forward passes. The
# weight-scaling rule is measurably not the ensemble mean: the probability gap is several
# times the MC standard error of $T$ samples, as the Derivation predicts for a network with
# hidden nonlinearities. Yet the two predict the same class for almost every digit, so for
# accuracy the approximation costs little.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} What happens if you forget `model.eval()`?
# Every prediction then uses a random sub-network with the $1/(1-p)$ scaling, so predictions
# are noisy and worse, and two calls on the same input disagree. The next cell runs the $p=0.5$
# network of Experiment 1 on the test set in training mode. Also note the inverse mistake:
# `torch.no_grad()` does **not** switch dropout off, only `eval()` does.
# :::

# %%
dropout_model = models[0.5]
with torch.no_grad():
    eval_accuracy = loss_and_accuracy(dropout_model.eval(), x_test, y_test)[1]
    dropout_model.train()
    first_pass, second_pass = dropout_model(x_test).argmax(1), dropout_model(x_test).argmax(1)
    dropout_model.eval()
train_mode_accuracy = (first_pass == y_test).double().mean().item()
disagreement = (first_pass != second_pass).double().mean().item()
print(
    f"test accuracy: eval mode {eval_accuracy:.3f}, train mode {train_mode_accuracy:.3f}; "
    f"two train-mode passes disagree on {disagreement:.1%} of test digits"
)
check_true("train mode is worse than eval mode", train_mode_accuracy < eval_accuracy)

# %% [markdown]
# :::{dropdown} Dropout before BatchNorm: the variance shift
# In training, BN after dropout sees the noisy $\tilde h$ and stores its variance. For a unit
# with mean $\mu$ and variance $\sigma^2$, {eq}`drop-moments` gives
# $\operatorname{Var}[\tilde h]=\mathbb E[h^2]/(1-p)-\mu^2=(\sigma^2+\mu^2)/(1-p)-\mu^2$. In
# evaluation mode dropout is the identity and the variance is back to $\sigma^2$, but BN still
# divides by the stored value, so its outputs are scaled down and every later layer sees
# different statistics than in training {cite}`li2019understanding`. The fixes are to put
# dropout after the last BN, to recompute BN's statistics with dropout off after training, or
# to use a variance-stable noise. The next cell measures the shift for $\mu=\sigma=1$, $p=0.5$,
# where the stored variance is 3 instead of 1.
# :::

# %%
mu, sigma, p_bn = 1.0, 1.0, 0.5
features = mu + sigma * torch.randn(32_768, 8)  # (N, C), one unit per channel
batch_norm = nn.BatchNorm1d(8, momentum=None)  # momentum=None: the plain average of the batches
dropout_layer = Dropout(p_bn)
for batch in features.split(256):  # "training": dropout, then BN
    batch_norm(dropout_layer(batch))
predicted_var = (sigma**2 + mu**2) / (1 - p_bn) - mu**2
check_close(
    "BN's running variance after dropout vs (σ² + μ²)/(1 - p) - μ²",
    batch_norm.running_var.mean(),
    torch.tensor(predicted_var),
    atol=0,
    rtol=0.03,
)
with torch.no_grad():
    eval_output = batch_norm.eval()(dropout_layer.eval()(features))  # (N, C)
print(
    f"running variance {batch_norm.running_var.mean():.3f} (predicted {predicted_var:.0f}); "
    f"BN's output variance in eval mode {eval_output.var(0).mean():.3f} instead of 1"
)

# %% [markdown]
# :::{dropdown} Why do LLMs often pre-train with $p=0$?
# Dropout fights overfitting, and a model that sees most of its tokens once has little to
# overfit; the noise then only slows training down, and it costs memory for the masks. PaLM
# was pre-trained without dropout and fine-tuned with $0.1$ {cite}`chowdhery2022palm`. The
# original Transformer used $0.1$ on every sub-layer's output and on the embeddings
# {cite}`vaswani2017attention` (Section 5.4), and fine-tuning on small data sets still
# commonly uses dropout.
# :::
#
# :::{dropdown} What other kinds of dropout are there?
# - **DropConnect** zeroes individual *weights* instead of activations, a separate mask per
#   weight. For inference it approximates each unit's input by a Gaussian with the right mean
#   and variance and averages the activation over samples from it, instead of scaling weights
#   {cite}`wan2013dropconnect`.
# - **Attention dropout** zeroes entries of the attention probability matrix after the
#   softmax (`dropout_p` in `F.scaled_dot_product_attention`, `dropout` in
#   `nn.MultiheadAttention`): a token randomly ignores some of the tokens it attends to.
# - **Spatial dropout** (`nn.Dropout2d`) drops whole channels of a feature map. Neighbouring
#   pixels are strongly correlated, so dropping single pixels removes little information
#   {cite}`tompson2015efficient`.
# - **Stochastic depth** (DropPath) skips whole residual branches at random during training
#   {cite}`huang2016deep`.
# :::
#
# :::{dropdown} What about $p=1$, or `inplace=True`?
# $p=1$ zeroes everything, and the $1/(1-p)$ factor is undefined. PyTorch (and our class)
# return `input * 0`, which keeps the shape but makes every gradient zero, so nothing upstream
# learns. `inplace=True` saves the memory of one tensor but overwrites the input. If autograd
# saved that tensor for a backward pass (the output of a sigmoid, say), the backward pass
# raises an error, which the next cell triggers.
# :::

# %%
logits_in = torch.randn(4, 3, requires_grad=True)
probs_in = torch.sigmoid(logits_in)  # sigmoid saves its output for the backward pass
try:
    Dropout(0.5, inplace=True)(probs_in).sum().backward()
    raised = False
except RuntimeError as error:
    raised = "modified by an inplace operation" in str(error)
check_true("inplace dropout on a tensor saved for backward raises a RuntimeError", raised)

# %% [markdown]
# :::{dropdown} Why is my training loss higher than my validation loss?
# With dropout, the training loss is measured on noisy sub-networks, while the validation loss
# uses the full evaluation network. The same data can score very differently in the two modes.
# At the last step of Experiment 1, the training-mode (noisy) loss on the training set and the
# evaluation-mode loss on the same set were:
# :::

# %%
for p in DROP_PS[1:]:
    noisy_loss, clean_loss = histories[p]["noisy"][-1], histories[p]["train"][-1]
    print(f"p = {p}: training set, train mode {noisy_loss:.4f} vs eval mode {clean_loss:.4f}")

# %% [markdown]
# :::{dropdown} MC dropout on a network with BatchNorm: what to switch on?
# Only the dropout layers. `model.train()` would also switch BN to batch statistics, so each
# prediction would depend on the other inputs of the batch. `enable_mc_dropout` above puts the
# whole model in evaluation mode and then only the dropout modules in training mode.
# :::
#
# :::{dropdown} Where does dropout go, and with which $p$?
# After the activation of hidden fully connected layers ($p=0.5$ in the original papers, with
# $0.2$ on the inputs), on the sub-layer outputs and embeddings of a Transformer ($0.1$), and
# rarely on convolutional feature maps (spatial dropout there). Never on the output logits. A
# larger $p$ needs a wider layer to keep the same capacity: the paper suggests scaling $n$ to
# about $n/(1-p)$ {cite}`srivastava2014dropout`.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. A hidden layer has $n=100$ units and $p=0.2$. What is the probability that exactly 20
#    units are dropped in a forward pass, and that 30 or more are?
#
#    :::{dropdown} Answer
#    $K\sim\mathrm{Binomial}(100,0.2)$, {eq}`drop-count`:
#    $P(K=20)=\binom{100}{20}0.2^{20}0.8^{80}\approx0.099$, and $P(K\ge30)\approx0.011$. The
#    notes' "20 % of the neurons" happens in about one pass in ten. The next cell computes
#    both from the formula, checks them against `scipy.stats.binom`, and compares
#    $P(K=20)$ with the frequency over 20000 passes of our `Dropout`.
#    :::

# %%
n_units, p_drop = 100, 0.2
pmf_20 = math.comb(n_units, 20) * p_drop**20 * (1 - p_drop) ** 80  # eq. (drop-count)
tail_30 = sum(
    math.comb(n_units, k) * p_drop**k * (1 - p_drop) ** (n_units - k)
    for k in range(30, n_units + 1)
)
check_close(
    "P(K = 20) vs scipy.stats.binom", pmf_20, stats.binom.pmf(20, n_units, p_drop), atol=1e-12
)
check_close(
    "P(K ≥ 30) vs scipy.stats.binom", tail_30, stats.binom.sf(29, n_units, p_drop), atol=1e-12
)
dropped_counts = (Dropout(p_drop)(torch.ones(20_000, n_units)) == 0).sum(1)  # (passes,)
check_mean_close(
    "frequency of K = 20 over 20000 passes", (dropped_counts == 20).double(), pmf_20, z_max=4
)
print(f"P(K = 20) = {pmf_20:.4f}, P(K ≥ 30) = {tail_30:.4f}")

# %% [markdown]
# 2. A unit outputs $h=2$. What is the standard deviation of its dropout output for $p=0.5$,
#    and for $p=0.1$?
#
#    :::{dropdown} Answer
#    By {eq}`drop-moments`, $\operatorname{sd}=|h|\sqrt{p/(1-p)}$: $2$ for $p=0.5$ and
#    $2/3$ for $p=0.1$. The output takes only two values, $0$ and $h/(1-p)$, so the next cell
#    computes the exact standard deviation from them.
#    :::

# %%
for p_unit, answer in [(0.5, 2.0), (0.1, 2 / 3)]:
    values = np.array([0.0, 2.0 / (1 - p_unit)])  # dropped, kept
    probabilities = np.array([p_unit, 1 - p_unit])
    mean = probabilities @ values
    exact_sd = math.sqrt(probabilities @ (values - mean) ** 2)
    check_close(f"p = {p_unit}: sd of dropout(2)", exact_sd, answer, atol=1e-12)

# %% [markdown]
# 3. A classifier ends in `softmax(W @ dropout(h) + b)`. Is its evaluation-mode output the
#    average of the $2^n$ sub-networks' predicted probabilities?
#
#    :::{dropdown} Answer
#    Not the arithmetic average. The *logits* in evaluation mode are exactly the average of
#    the sub-networks' logits (linearity), so the probabilities are the normalised weighted
#    *geometric* mean of the sub-networks' probabilities, {eq}`drop-geometric`. The
#    Verification section checks both statements by enumerating all 1024 masks of a 10-unit
#    layer.
#    :::
#
# 4. You apply `Dropout(0.5)` to the input of a tanh (no weights between). At test time, is
#    `tanh(h)` the mean of the training-time outputs?
#
#    :::{dropdown} Answer
#    No. The mean is $\tfrac12\tanh(2h)$ by {eq}`drop-pointwise`, which differs from
#    $\tanh h$ except at $h=0$. With a ReLU instead it would be exact.
#    :::

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`srivastava2014dropout`: Section 4 (the model, with $p$ the keep probability, and
#   the test-time weight scaling), the comparison of weight scaling with Monte-Carlo
#   averaging on MNIST, Section 9.1 (dropout in linear regression as a data-dependent ridge
#   penalty), Appendix A (practical values of $p$, and widening a layer to $n/(1-p)$).
# - {cite:t}`hinton2012improving`: dropout as training $2^n$ weight-sharing networks, and the
#   geometric-mean property of the "mean network" for a softmax output.
# - {cite:t}`gal2016dropout`: dropout as approximate variational inference; the MC predictive
#   mean and variance (with the precision term $\tau$).
# - {cite:t}`li2019understanding`: the variance shift when dropout precedes BatchNorm.
# - {cite:t}`wan2013dropconnect` (DropConnect), {cite:t}`tompson2015efficient` (spatial
#   dropout), {cite:t}`huang2016deep` (stochastic depth).
# - {cite:t}`vaswani2017attention`, Section 5.4 (residual dropout $0.1$) and
#   {cite:t}`chowdhery2022palm`, Section 5 (no dropout in pre-training).
# - {cite:t}`pytorch2025dropout`: `nn.Dropout`'s definition (drop probability `p`, scaling by
#   $1/(1-p)$ in training, identity in evaluation).
