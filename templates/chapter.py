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
# # NN. Title of the chapter
#
# **The question.** The question as the notes ask it, corrected where the notes are wrong.
#
# **What you will be able to answer.** One line.

# %%
# Imports: explicit names from notebook_utils, never `*`.
import matplotlib.pyplot as plt
import numpy as np
import torch

from notebook_utils.checks import check_close
from notebook_utils.seeding import seed_everything
from notebook_utils.style import use_book_style

use_book_style()
rng = seed_everything(0)

# %% [markdown]
# ## Short answer
#
# What a strong candidate says in about a minute: 3–6 sentences or bullets, with the key
# formula. Correct where the notes are wrong (see errata).

# %% [markdown]
# ## Derivation
#
# Step by step, each symbol defined once, equations numbered with a label that starts with
# the chapter's prefix (labels are global to the book):
#
# $$
# y = \operatorname{softmax}(x)_i = \frac{e^{x_i}}{\sum_j e^{x_j}}
# $$ (tmpl-softmax)
#
# and referred to as {eq}`tmpl-softmax`.

# %% [markdown]
# ## Implementation from scratch
#
# The code sits right under the equation it implements and names it.


# %%
def softmax(x: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis, eq. (tmpl-softmax), stabilised by subtracting the max."""
    z = x - x.max(dim=-1, keepdim=True).values  # (..., n): shift does not change the ratio
    e = z.exp()
    return e / e.sum(dim=-1, keepdim=True)


# %% [markdown]
# ## Verification
#
# Against an independent reference; executing the notebook fails if the claim is false.

# %%
x = torch.randn(4, 10, dtype=torch.float64)
check_close("softmax vs torch.softmax", softmax(x), torch.softmax(x, dim=-1), atol=1e-12)

# %% [markdown]
# ## Experiments
#
# One experiment per key claim, each with a figure whose title states the finding.

# %%
fig, ax = plt.subplots()
t = np.linspace(-4, 4, 200)
ax.plot(t, softmax(torch.tensor(np.stack([t, np.zeros_like(t)], axis=-1)))[:, 0].numpy())
ax.set(xlabel="logit gap $x_1 - x_2$", ylabel="$p_1$", title="Softmax of two logits is a sigmoid")
plt.show()

# %% [markdown]
# Prose claims quote numbers the notebook computed (print them, or use `glue`), never
# numbers typed in.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} A follow-up an interviewer asks
# Its short answer.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. A conceptual question.
#
#    :::{dropdown} Answer
#    The answer.
#    :::
#
# 2. A numeric exercise: compute … The next cell is its solution, checked.

# %%
answer = float(softmax(torch.tensor([0.0, 0.0]))[0])
check_close("exercise 2: softmax of equal logits", answer, 0.5, atol=1e-12)

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`vaswani2017attention`, section 3.2.1: the scaled softmax of attention.
