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
# # 15. Implement a sparse matrix
#
# **The question.** Implement a sparse matrix class: how do you store it, and how do you
# multiply it by a vector and by another matrix, add two of them, transpose one and read an
# entry?
#
# **What you will be able to answer.** What COO and CSR store and why you build in one and
# compute in the other; each operation's algorithm and cost (matvec $O(\text{nnz})$, lookup by
# binary search, transpose by counting sort, addition by merging rows, Gustavson's row-by-row
# product); how much memory CSR saves and when it stops saving; and how fast it is against
# dense NumPy and `scipy.sparse`.

# %%
import numbers
import operator
from collections.abc import Callable
from typing import Any, NamedTuple

import matplotlib.pyplot as plt
import numpy as np
import scipy.sparse as sp

from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style
from notebook_utils.timing import time_call

use_book_style()
rng = seed_everything(0)

# %% [markdown]
# ## Short answer
#
# - Store only the non-zeros. **COO** keeps three parallel arrays `(row, col, value)`: easy to
#   build and append to, duplicates allowed (they are summed). **CSR** sorts the entries by row
#   and keeps `data` (the values), `indices` (the column of each value, increasing within a
#   row) and `indptr` ($n_\text{rows}+1$ offsets: row $i$ is `data[indptr[i]:indptr[i+1]]`).
#   Build in COO, convert once (sort by row and column, sum duplicates, prefix-sum the row
#   counts), compute in CSR.
# - **Operations.** Matvec $y_i=\sum_{p\in\text{row } i}\texttt{data}_p\,x_{\texttt{indices}_p}$
#   in $O(\text{nnz}+n)$; `A[i, j]` by binary search in row $i$; the transpose by a counting
#   sort in $O(\text{nnz}+n+m)$; $A+B$ by merging sorted rows in $O(\text{nnz}_A+\text{nnz}_B+n)$;
#   $AB$ by **Gustavson's algorithm**: row $i$ of $C$ is $\sum_k a_{ik}B_{k,:}$, accumulated in
#   a dense row buffer, in time proportional to the number of products, which can far exceed
#   $\text{nnz}(C)$, and $C$ can be much denser than $A$ and $B$ (fill-in).
# - **Memory.** CSR takes $\text{nnz}(s_v+s_i)+(n+1)s_i$ bytes against $nm\,s_v$ dense
#   ($s_v$, $s_i$ the sizes of a value and an index). With float64 values it saves memory below
#   a density of about $s_v/(s_v+s_i)$: $2/3$ with int32 indices, $1/2$ with int64. Speed is
#   another matter: a sparse matvec reads an index per value and gathers $x$ at random, so it
#   only beats a dense one well below that density (Experiment 2 measures where).
# - Use scipy's names (`shape`, `nnz`, `data`, `indices`, `indptr`, `toarray`, `T`, `@`) and
#   scipy's conventions: duplicates summed on construction, explicit zeros kept until
#   `eliminate_zeros()`, zeros dropped from the results of $+$ and $@$. The notes give no
#   answer to this question (errata ML-14); this chapter is that answer.

# %% [markdown]
# ## Derivation
#
# ### Notation
#
# $A$ is an $n\times m$ matrix ($n$ rows, $m$ columns) of real numbers. $\text{nnz}$ is the
# number of *stored* entries, and $\text{nnz}_i$ the number stored in row $i$. The density is
# $d=\text{nnz}/(nm)$. Arrays are indexed from 0, like NumPy's.
#
# ### COO: a list of triplets
#
# The coordinate format stores $T$ triplets $(r_t, c_t, v_t)$ in three arrays. The same
# position may appear several times, and the matrix is the sum of all of them:
#
# $$
# a_{ij}=\sum_{t\,:\,r_t=i,\ c_t=j} v_t
# $$ (sp-coo)
#
# Summing is what makes COO the natural way to *build* a matrix: a finite-element code adds
# each element's contribution, a bag-of-words counter adds 1 per occurrence, and nobody has
# to look up whether the position already exists. The price is that nothing is ordered, so a
# row cannot be found without scanning every triplet.
#
# ### CSR: the triplets sorted by row, with the row index compressed
#
# Sort the entries by row, then by column, and sum the duplicates of {eq}`sp-coo`. The row
# array is now a run of 0s, then of 1s, and so on; it is replaced by the offsets where each run
# starts, a prefix sum of the row counts:
#
# $$
# \texttt{indptr}_0=0,\qquad \texttt{indptr}_{i+1}=\texttt{indptr}_i+\text{nnz}_i
# \quad(i=0,\dots,n-1)
# $$ (sp-indptr)
#
# so $\texttt{indptr}_n=\text{nnz}$, and the entries of row $i$ are positions
# $p\in[\texttt{indptr}_i,\texttt{indptr}_{i+1})$ of `data` and `indices`:
#
# $$
# a_{i,\texttt{indices}_p}=\texttt{data}_p\quad\text{for }
# \texttt{indptr}_i\le p<\texttt{indptr}_{i+1},\qquad\text{and } a_{ij}=0 \text{ elsewhere}
# $$ (sp-csr)
#
# Within a row the columns are strictly increasing (sorted, no duplicates): scipy calls this
# the *canonical* format. An empty row has $\texttt{indptr}_i=\texttt{indptr}_{i+1}$. A stored
# entry may hold the value 0: an *explicit zero*. It counts in $\text{nnz}$, which therefore
# counts stored entries, not non-zero values.
#
# For the errata's example,
#
# $$
# A=\begin{bmatrix}1&0&2\\0&0&3\\4&5&0\end{bmatrix}:\quad
# \texttt{data}=[1,2,3,4,5],\ \texttt{indices}=[0,2,2,0,1],\ \texttt{indptr}=[0,2,3,5].
# $$
#
# CSC is the same construction with rows and columns swapped (the columns compressed); the CSC
# arrays of $A$ are the CSR arrays of $A^\top$.
#
# ### Matrix-vector product
#
# By {eq}`sp-csr`, only stored entries contribute to $y=Ax$:
#
# $$
# y_i=\sum_{p=\texttt{indptr}_i}^{\texttt{indptr}_{i+1}-1}\texttt{data}_p\;x_{\texttt{indices}_p}
# $$ (sp-matvec)
#
# Each stored entry costs one multiply-add, and each row one write: $O(\text{nnz}+n)$ instead
# of $O(nm)$. The rows are independent, so rows can be split across threads with no
# conflicting writes. A dense right-hand side $X$ of shape $(m,k)$ is the same sum with
# $x_{\texttt{indices}_p}$ replaced by the row $X_{\texttt{indices}_p,:}$: $O(k\,\text{nnz})$.
#
# ### Reading one entry
#
# The columns of row $i$ are sorted, so $a_{ij}$ is found by binary search: let
# $p^{\ast}$ be the first position in the row whose column is $\ge j$; then
#
# $$
# a_{ij}=\begin{cases}\texttt{data}_{p^{\ast}}&\text{if }p^{\ast}<\texttt{indptr}_{i+1}
# \text{ and }\texttt{indices}_{p^{\ast}}=j,\\ 0&\text{otherwise,}\end{cases}
# $$ (sp-get)
#
# in $O(\log\text{nnz}_i)$ steps. Changing a zero into a non-zero is a different story: the new
# entry has to be inserted in the middle of `data` and `indices`, which moves $O(\text{nnz})$
# entries. CSR is for reading and computing, not for editing its structure.
#
# ### Transpose by counting sort
#
# Row $j$ of $A^\top$ holds the entries of column $j$ of $A$. Count them first,
# $\text{count}_j=\#\{p:\texttt{indices}_p=j\}$, and {eq}`sp-indptr` gives the offsets of the
# transpose:
#
# $$
# \texttt{indptr}^\top_0=0,\qquad \texttt{indptr}^\top_{j+1}=\texttt{indptr}^\top_j+\text{count}_j
# $$ (sp-transpose)
#
# Then visit the entries of $A$ row by row, $i=0,1,\dots$, and copy each one to the next free
# slot of its column's range, writing $i$ as its new column index. Because the rows are
# visited in increasing order, each row of $A^\top$ receives its column indices already sorted:
# no comparison sort is needed. Two passes over the entries and one over the counts:
# $O(\text{nnz}+n+m)$ {cite}`gustavson1978two`. This is a counting sort by column, and it is
# also the conversion CSR → CSC.
#
# ### Addition by merging sorted rows
#
# $(A+B)_{i,:}=A_{i,:}+B_{i,:}$, and both rows are lists of (column, value) pairs sorted by
# column. Walk them with two pointers, as in the merge step of merge sort: take the smaller
# column, or add both values when the columns are equal. Cost
# $O(\text{nnz}_A+\text{nnz}_B+n)$. An entry may cancel ($a_{ij}=-b_{ij}$); scipy drops such
# zeros from the result, and so does this chapter.
#
# ### Sparse times sparse: Gustavson's row-by-row product
#
# Let $B$ be $m\times m_B$. Write row $i$ of $C=AB$ as a combination of rows of $B$:
#
# $$
# C_{i,:}=\sum_{k}a_{ik}\,B_{k,:}
# =\sum_{p=\texttt{indptr}^A_i}^{\texttt{indptr}^A_{i+1}-1}
# \texttt{data}^A_p\;B_{\texttt{indices}^A_p,\,:}
# $$ (sp-gustavson)
#
# Only the stored $a_{ik}$ appear, and each scales one sparse row of $B$. The sum is built in a
# *dense accumulator*, a length-$m_B$ array plus the list of the columns touched so far: each
# product is added in $O(1)$, and at the end of the row the touched columns are read out and
# the accumulator is reset, only at those columns, so resetting costs no more than filling
# {cite}`gustavson1978two`. The work is the number of products,
#
# $$
# \text{flops}(A,B)=\sum_{p}\text{nnz}\big(B_{\texttt{indices}^A_p,:}\big)
# =\sum_k \text{nnz}(A_{:,k})\,\text{nnz}(B_{k,:}),
# $$ (sp-flops)
#
# plus $O(n+m_B)$: the row loop and the accumulator. A hash map instead of the dense array
# saves memory for very wide $B$ at the cost of slower updates.
#
# **Fill-in.** The product can be much denser than its factors. If $A$ ($n\times k$) and $B$
# ($k\times m$) have independent random patterns with densities $d_A$ and $d_B$, then $c_{ij}$
# is structurally non-zero unless all $k$ terms $a_{il}b_{lj}$ are missing:
#
# $$
# P(c_{ij}\neq0)=1-(1-d_Ad_B)^{k}\approx1-e^{-k\,d_Ad_B}
# $$ (sp-fillin)
#
# (exact cancellation has probability 0 for continuous values). With $n=k=m=500$ and
# $d_A=d_B=0.07$, $kd_Ad_B\approx2.45$ and $C$ is about 92 % full although $A$ and $B$ are 7 %
# full (Experiment 3 prints the measured and predicted values).
#
# ### Memory, and the density at which CSR stops saving it
#
# With $s_v$ bytes per value and $s_i$ per index, the three formats take
#
# $$
# M_\text{dense}=nm\,s_v,\qquad
# M_\text{COO}=\text{nnz}\,(s_v+2s_i),\qquad
# M_\text{CSR}=\text{nnz}\,(s_v+s_i)+(n+1)\,s_i
# $$ (sp-memory)
#
# bytes (the errata's "$2\,\text{nnz}+n+1$ numbers" is $M_\text{CSR}$ with every number the
# same size). CSR is smaller than dense when
# $\text{nnz}(s_v+s_i)+(n+1)s_i<nm\,s_v$, i.e. below the density
#
# $$
# d^{\ast}=\frac{nm\,s_v-(n+1)\,s_i}{nm\,(s_v+s_i)}
# \ \xrightarrow[nm\to\infty]{}\ \frac{s_v}{s_v+s_i}
# $$ (sp-breakeven)
#
# For float64 values ($s_v=8$) this is $8/12=2/3$ with int32 indices and $8/16=1/2$ with int64
# ones; for COO it is $8/16=1/2$ and $8/24=1/3$. scipy picks int32 indices while every index
# and $\text{nnz}$ fit in $2^{31}-1$, and int64 beyond (it may also keep int64 indices it is
# given).

# %% [markdown]
# ## Implementation from scratch
#
# The code has two layers. *Kernels* are plain functions on the three CSR arrays, each under
# the equation it implements, first as a readable loop where the loop is the algorithm, then
# vectorised with NumPy. The class `CSRMatrix` at the end validates its input, keeps its
# arrays canonical, and gives the kernels scipy's interface (`@`, `+`, `.T`, `A[i, j]`).
#
# ### The three arrays, and validation of bad input
#
# Input checks come first, because a sparse matrix with a wrong index does not fail: it
# silently computes a wrong answer, or reads memory it should not (in C). Each check says what
# was expected and what came in.

# %%
INT32_MAX = 2_147_483_647


class CSRArrays(NamedTuple):
    """The three arrays of eq. (sp-csr): row i is data[indptr[i]:indptr[i+1]]."""

    data: np.ndarray  # (nnz,) float64: the stored values
    indices: np.ndarray  # (nnz,) int: the column of each value, increasing within a row
    indptr: np.ndarray  # (n_rows + 1,) int: where each row starts, eq. (sp-indptr)


def is_integer(value: object) -> bool:
    """True for Python and NumPy integers, False for bools, floats and everything else."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def check_shape(shape: object) -> tuple[int, int]:
    """(n_rows, n_cols) as Python ints; TypeError / ValueError for anything else."""
    if not isinstance(shape, tuple | list) or len(shape) != 2:
        raise TypeError(f"shape must be a pair (n_rows, n_cols), got {shape!r}")
    if not all(is_integer(n) for n in shape):
        raise TypeError(f"shape must hold two integers, got {shape!r}")
    if min(shape) < 0:
        raise ValueError(f"shape must be non-negative, got {tuple(shape)}")
    return int(shape[0]), int(shape[1])


def as_index_array(name: str, values: Any) -> np.ndarray:
    """A 1-D int64 array of indices; TypeError for floats or bools, ValueError if not 1-D."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {array.shape}")
    if array.size == 0:
        return array.astype(np.int64)  # np.asarray([]) is float64
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must hold integers, got dtype {array.dtype}")
    return array.astype(np.int64)


def as_real_array(name: str, values: Any, ndim: int) -> np.ndarray:
    """A float64 array with `ndim` dimensions; TypeError for non-real dtypes."""
    array = np.asarray(values)
    if array.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {array.shape}")
    is_real = np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_
    if not is_real or np.iscomplexobj(array):
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    return array.astype(np.float64)


def check_in_range(what: str, index: np.ndarray, size: int, shape: tuple[int, int]) -> None:
    """ValueError naming the first index outside [0, size)."""
    outside = (index < 0) | (index >= size)
    if np.any(outside):
        bad = int(index[np.argmax(outside)])
        raise ValueError(f"{what} {bad} is out of range [0, {size}) for shape {shape}")


def index_dtype_for(shape: tuple[int, int], nnz: int) -> type[np.signedinteger[Any]]:
    """int32 while every index and nnz fit in it, as scipy does; int64 beyond."""
    return np.int32 if max(*shape, nnz) <= INT32_MAX else np.int64


# %% [markdown]
# ### COO → CSR: sort, sum duplicates, prefix-sum the row counts
#
# Sorting the single key $i\,m+j$ orders the triplets by row, then by column, and a stable
# sort keeps duplicates in their input order. (`np.lexsort((cols, rows))` sorts by the two
# keys directly, more slowly; it is the fallback for a matrix so large that $nm$ overflows
# int64.) The first triplet of each run of equal positions starts a stored entry, and
# `np.add.reduceat` sums each run: {eq}`sp-coo`. Counting the entries per row and taking the
# prefix sum is {eq}`sp-indptr`. Explicit zeros (a triplet with value 0, or duplicates that
# cancel) are kept, as scipy keeps them: the caller asked for that position to be stored, and
# `eliminate_zeros` removes them on request.


# %%
def indptr_from_row_ids(row_ids: np.ndarray, n_rows: int) -> np.ndarray:
    """Row offsets from the (sorted) row index of every entry, eq. (sp-indptr)."""
    counts = np.bincount(row_ids, minlength=n_rows)  # (n_rows,): nnz_i
    return np.concatenate([[0], np.cumsum(counts)])  # (n_rows + 1,)


def csr_row_ids(indptr: np.ndarray) -> np.ndarray:
    """The row of every stored entry, shape (nnz,): the inverse of eq. (sp-indptr)."""
    return np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))


def coo_to_csr(
    rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int]
) -> CSRArrays:
    """Canonical CSR arrays of the COO triplets, duplicates summed (eq. sp-coo); zeros kept."""
    n_rows, n_cols = shape
    if n_rows * n_cols <= np.iinfo(np.int64).max:  # the key i·m + j fits in int64
        order = np.argsort(rows * n_cols + cols, kind="stable")  # by row, then column
    else:
        order = np.lexsort((cols, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    starts_entry = np.ones(len(rows), dtype=bool)  # (T,): first triplet of each position
    starts_entry[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    starts = np.flatnonzero(starts_entry)  # (nnz,)
    data = np.add.reduceat(values, starts) if len(starts) else np.zeros(0)  # eq. (sp-coo)
    return CSRArrays(data, cols[starts], indptr_from_row_ids(rows[starts], n_rows))


def dense_to_csr(dense: np.ndarray) -> CSRArrays:
    """CSR arrays of the non-zero entries of a 2-D array (no explicit zeros)."""
    rows, cols = np.nonzero(dense)  # row-major order: already sorted by row, then column
    return CSRArrays(dense[rows, cols], cols, indptr_from_row_ids(rows, dense.shape[0]))


def drop_zeros(a: CSRArrays) -> CSRArrays:
    """The same matrix without its explicit zeros (scipy's eliminate_zeros)."""
    keep = a.data != 0  # (nnz,)
    row_ids = csr_row_ids(a.indptr)[keep]
    return CSRArrays(a.data[keep], a.indices[keep], indptr_from_row_ids(row_ids, len(a.indptr) - 1))


def csr_to_dense(a: CSRArrays, shape: tuple[int, int]) -> np.ndarray:
    """The dense (n_rows, n_cols) array of eq. (sp-csr)."""
    dense = np.zeros(shape)
    dense[csr_row_ids(a.indptr), a.indices] = a.data  # canonical: each position once
    return dense


# %% [markdown]
# The errata's matrix, built from shuffled triplets with one position split into two
# duplicates ($2=1.5+0.5$) and one explicit zero at $(1,1)$:

# %%
errata_dense = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0], [4.0, 5.0, 0.0]])
triplet_rows = np.array([2, 0, 0, 1, 2, 0, 1])
triplet_cols = np.array([1, 2, 0, 2, 0, 2, 1])
triplet_values = np.array([5.0, 1.5, 1.0, 3.0, 4.0, 0.5, 0.0])
errata_with_zero = coo_to_csr(triplet_rows, triplet_cols, triplet_values, shape=(3, 3))
print(errata_with_zero)
print("without the explicit zero:", drop_zeros(errata_with_zero))

# %% [markdown]
# ### Matrix-vector product: the loop, then NumPy
#
# {eq}`sp-matvec` written literally: one loop over the rows, one over each row's entries. This
# is what an interviewer wants to see first, and what scipy's C++ kernel does.


# %%
def csr_matvec_loop(a: CSRArrays, x: np.ndarray) -> np.ndarray:
    """y = A x, eq. (sp-matvec), with Python loops: O(nnz + n_rows) steps."""
    n_rows = len(a.indptr) - 1
    y = np.zeros(n_rows)
    for i in range(n_rows):
        total = 0.0
        for p in range(a.indptr[i], a.indptr[i + 1]):
            total += a.data[p] * x[a.indices[p]]  # a_ij x_j with j = indices[p]
        y[i] = total
    return y


# %% [markdown]
# Vectorised: multiply every stored value by its $x_j$ in one gather, then sum each row's
# segment with `np.add.reduceat(products, starts)`, which sums `products[starts[k]:starts[k+1]]`
# for each $k$. A trap for the unwary: for an empty row, `reduceat` returns the element *at*
# the start instead of 0, and a start equal to $\text{nnz}$ (an empty last row) is an index
# error. So it is called on the non-empty rows only, whose starts are strictly increasing;
# empty rows stay 0. (`np.bincount(row_ids, weights=products, minlength=n)` is an equally good
# alternative.)


# %%
def segment_sums(products: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Sum of products[indptr[i]:indptr[i+1]] along axis 0 for every row i; 0 for empty rows."""
    n_rows = len(indptr) - 1
    sums = np.zeros((n_rows, *products.shape[1:]))
    starts = indptr[:-1]
    non_empty = indptr[1:] > starts  # (n_rows,)
    if np.any(non_empty):
        sums[non_empty] = np.add.reduceat(products, starts[non_empty], axis=0)
    return sums


def csr_matvec(a: CSRArrays, x: np.ndarray) -> np.ndarray:
    """y = A x, eq. (sp-matvec), vectorised."""
    products = a.data * x[a.indices]  # (nnz,): a_ij x_j
    return segment_sums(products, a.indptr)  # (n_rows,)


def csr_matmat_dense(a: CSRArrays, dense: np.ndarray) -> np.ndarray:
    """Y = A X for a dense X of shape (n_cols, k): eq. (sp-matvec) with rows of X for x_j."""
    products = a.data[:, None] * dense[a.indices]  # (nnz, k): a_ij X_{j,:}
    return segment_sums(products, a.indptr)  # (n_rows, k)


# %%
ones = np.ones(3)
print("A·1, loop:      ", csr_matvec_loop(errata_with_zero, ones))
print("A·1, vectorised:", csr_matvec(errata_with_zero, ones))


# %% [markdown]
# ### Reading an entry: binary search in the row
#
# {eq}`sp-get` with `np.searchsorted`, which returns the first position whose value is
# $\ge j$ (the lower bound). Negative indices are wrapped by the class, as NumPy does.


# %%
def csr_get(a: CSRArrays, i: int, j: int) -> float:
    """a_ij by binary search in row i, eq. (sp-get); 0.0 when (i, j) is not stored."""
    start, end = a.indptr[i], a.indptr[i + 1]
    p = start + np.searchsorted(a.indices[start:end], j)  # first column >= j in row i
    return float(a.data[p]) if p < end and a.indices[p] == j else 0.0


# %%
print("A[0, 2] =", csr_get(errata_with_zero, 0, 2), " A[1, 0] =", csr_get(errata_with_zero, 1, 0))


# %% [markdown]
# ### Transpose: a counting sort by column
#
# {eq}`sp-transpose` in two passes: count the entries of each column, prefix-sum the counts,
# then scatter the entries row by row into the next free slot of their column. The vectorised
# version gets the same order from a *stable* sort of the column indices: entries of one
# column keep their row order, which is exactly what the scatter produces.


# %%
def csr_transpose_loop(a: CSRArrays, n_cols: int) -> CSRArrays:
    """CSR arrays of A^T by counting sort, eq. (sp-transpose): O(nnz + n_rows + n_cols)."""
    counts = np.zeros(n_cols + 1, dtype=np.int64)
    for j in a.indices:  # pass 1: entries per column
        counts[j + 1] += 1
    indptr_t = np.cumsum(counts)  # (n_cols + 1,): eq. (sp-transpose)
    next_slot = indptr_t[:-1].copy()  # (n_cols,): next free position of each column
    data_t = np.zeros(len(a.data))
    indices_t = np.zeros(len(a.indices), dtype=np.int64)
    for i in range(len(a.indptr) - 1):  # pass 2: rows in increasing order
        for p in range(a.indptr[i], a.indptr[i + 1]):
            slot = next_slot[a.indices[p]]
            data_t[slot], indices_t[slot] = a.data[p], i  # a_ij becomes (A^T)_ji
            next_slot[a.indices[p]] += 1
    return CSRArrays(data_t, indices_t, indptr_t)


def csr_transpose(a: CSRArrays, n_cols: int) -> CSRArrays:
    """CSR arrays of A^T: a stable sort by column, the vectorised counting sort."""
    order = np.argsort(a.indices, kind="stable")  # (nnz,): by column, rows stay in order
    row_ids = csr_row_ids(a.indptr)
    return CSRArrays(a.data[order], row_ids[order], indptr_from_row_ids(a.indices[order], n_cols))


# %%
print("A^T, loop:      ", csr_transpose_loop(errata_with_zero, n_cols=3))
print("A^T, vectorised:", csr_transpose(errata_with_zero, n_cols=3))


# %% [markdown]
# ### Addition: merging sorted rows
#
# The two-pointer merge of each pair of rows; a column past the last ($m$) marks an exhausted
# row. The vectorised version concatenates both matrices' triplets and lets `coo_to_csr` sum
# the pairs that meet: the same result, with a sort ($O(N\log N)$) in place of the merge, which
# NumPy has no primitive for. Both drop entries that cancel to 0, as scipy does.


# %%
def csr_add_loop(a: CSRArrays, b: CSRArrays, n_cols: int) -> CSRArrays:
    """A + B by merging sorted rows: O(nnz_A + nnz_B + n_rows); zeros dropped."""
    data: list[float] = []
    indices: list[int] = []
    indptr = [0]
    for i in range(len(a.indptr) - 1):
        p, p_end = a.indptr[i], a.indptr[i + 1]
        q, q_end = b.indptr[i], b.indptr[i + 1]
        while p < p_end or q < q_end:
            col_a = a.indices[p] if p < p_end else n_cols  # n_cols: row of A exhausted
            col_b = b.indices[q] if q < q_end else n_cols
            if col_a < col_b:
                col, value, p = col_a, a.data[p], p + 1
            elif col_b < col_a:
                col, value, q = col_b, b.data[q], q + 1
            else:
                col, value, p, q = col_a, a.data[p] + b.data[q], p + 1, q + 1
            if value != 0:
                indices.append(int(col))
                data.append(float(value))
        indptr.append(len(data))
    return CSRArrays(np.array(data), np.array(indices, dtype=np.int64), np.array(indptr))


def csr_add(a: CSRArrays, b: CSRArrays, n_cols: int) -> CSRArrays:
    """A + B, vectorised: both sets of triplets through coo_to_csr; zeros dropped."""
    shape = (len(a.indptr) - 1, n_cols)
    rows = np.concatenate([csr_row_ids(a.indptr), csr_row_ids(b.indptr)])
    cols = np.concatenate([a.indices, b.indices])
    values = np.concatenate([a.data, b.data])  # A's value first: a_ij + b_ij, as scipy
    return drop_zeros(coo_to_csr(rows, cols, values, shape))


# %% [markdown]
# ### Sparse × sparse: Gustavson's algorithm, then expand–sort–compress
#
# {eq}`sp-gustavson` with a dense accumulator: `accumulator[j]` collects $c_{ij}$, and
# `touched` lists the columns that received a product in this row, so that reading out and
# resetting cost as much as the row's products and not $m_B$. Sorting `touched` makes the
# output canonical. Gustavson's algorithm as published, and scipy's kernel, skip that sort and
# emit each row's columns in the order they were first touched; when sorted rows are needed,
# two transposes sort all rows at once in $O(\text{nnz}+n+m)$, because the counting-sort
# transpose always emits sorted rows {cite}`gustavson1978two`. The Verification section
# checks both facts on scipy's output.


# %%
def csr_matmul_gustavson(a: CSRArrays, b: CSRArrays, n_cols_b: int) -> CSRArrays:
    """C = A B row by row with a dense accumulator, eq. (sp-gustavson); zeros dropped."""
    accumulator = np.zeros(n_cols_b)  # (n_cols_b,): the current row of C
    is_touched = np.zeros(n_cols_b, dtype=bool)
    data: list[float] = []
    indices: list[int] = []
    indptr = [0]
    for i in range(len(a.indptr) - 1):
        touched: list[int] = []
        for p in range(a.indptr[i], a.indptr[i + 1]):
            k, a_ik = a.indices[p], a.data[p]
            for q in range(b.indptr[k], b.indptr[k + 1]):  # row k of B, scaled by a_ik
                j = int(b.indices[q])
                if not is_touched[j]:
                    is_touched[j] = True
                    touched.append(j)
                accumulator[j] += a_ik * b.data[q]
        for j in sorted(touched):  # read out the row of C, reset only what was touched
            if accumulator[j] != 0:
                indices.append(j)
                data.append(float(accumulator[j]))
            accumulator[j], is_touched[j] = 0.0, False
        indptr.append(len(data))
    return CSRArrays(np.array(data), np.array(indices, dtype=np.int64), np.array(indptr))


# %% [markdown]
# Gustavson's loop has no vectorised form in NumPy (the accumulator is updated one product at
# a time). The vectorised version computes the same products another way, *expand, sort,
# compress*: list all $\text{flops}(A,B)$ products of {eq}`sp-flops` as COO triplets
# $(i, j, a_{ik}b_{kj})$, then let `coo_to_csr` sort them and sum those that land on the same
# $(i,j)$. It is fast in NumPy but holds every product in memory at once,
# $O(\text{flops})$ against Gustavson's $O(m_B)$ accumulator.


# %%
def csr_matmul(a: CSRArrays, b: CSRArrays, n_cols_b: int) -> CSRArrays:
    """C = A B by expand-sort-compress: the products of eq. (sp-flops), summed by coo_to_csr."""
    b_row_lengths = np.diff(b.indptr)[a.indices]  # (nnz_A,): nnz(B_k,:) for each stored a_ik
    n_products = int(b_row_lengths.sum())  # flops(A, B), eq. (sp-flops)
    a_entry = np.repeat(np.arange(len(a.data)), b_row_lengths)  # (n_products,): which a_ik
    first_product = np.cumsum(b_row_lengths) - b_row_lengths  # (nnz_A,)
    offset_in_b_row = np.arange(n_products) - first_product[a_entry]  # (n_products,)
    b_entry = b.indptr[a.indices][a_entry] + offset_in_b_row  # (n_products,): which b_kj
    rows = csr_row_ids(a.indptr)[a_entry]  # i
    cols = b.indices[b_entry]  # j
    products = a.data[a_entry] * b.data[b_entry]  # a_ik b_kj
    return drop_zeros(coo_to_csr(rows, cols, products, (len(a.indptr) - 1, n_cols_b)))


# %%
errata_csr = drop_zeros(errata_with_zero)
print("A², Gustavson:", csr_matmul_gustavson(errata_csr, errata_csr, n_cols_b=3))
print("A², expand-sort-compress:", csr_matmul(errata_csr, errata_csr, n_cols_b=3))
print("A² dense:\n", errata_dense @ errata_dense)


# %% [markdown]
# ### The class
#
# `CSRMatrix` is the deliverable: the three arrays plus the shape, validated on construction
# (canonical order, indices in range, consistent lengths), so that every kernel may assume
# valid input. Constructors: `from_coo`, `from_dense`, `from_scipy`, and the raw arrays. It
# uses scipy's names: `shape`, `nnz` (stored entries, explicit zeros included), `data`,
# `indices`, `indptr`, `toarray()`, `T` / `transpose()`, `@` / `dot`, `eliminate_zeros()`
# (in place, as in scipy). Values are float64; indices are int32 while they fit, as in scipy.
# `A == B` returns one bool (same shape and the same values, whatever is stored explicitly),
# where scipy returns an element-wise boolean matrix.


# %%
class CSRMatrix:
    """A real sparse matrix in canonical compressed sparse row (CSR) form, eq. (sp-csr)."""

    __array_ufunc__ = None  # NumPy defers `x @ A` to CSRMatrix.__rmatmul__
    __hash__ = None  # compared by value, and eliminate_zeros() changes it in place

    def __init__(self, data: Any, indices: Any, indptr: Any, shape: Any) -> None:
        self.shape = check_shape(shape)
        arrays = CSRArrays(
            as_real_array("data", data, ndim=1),
            as_index_array("indices", indices),
            as_index_array("indptr", indptr),
        )
        self._check_structure(arrays)
        self._set_arrays(arrays)

    def _check_structure(self, a: CSRArrays) -> None:
        n_rows, n_cols = self.shape
        nnz = len(a.data)
        if len(a.indices) != nnz:
            raise ValueError(
                f"indices and data must have one entry each per stored value, "
                f"got {len(a.indices)} and {nnz}"
            )
        if len(a.indptr) != n_rows + 1:
            raise ValueError(
                f"indptr must have n_rows + 1 = {n_rows + 1} entries, got {len(a.indptr)}"
            )
        if a.indptr[0] != 0 or a.indptr[-1] != nnz or np.any(np.diff(a.indptr) < 0):
            raise ValueError(f"indptr must rise from 0 to nnz = {nnz}, got {a.indptr}")
        check_in_range("column index", a.indices, n_cols, self.shape)
        starts_row = np.zeros(nnz, dtype=bool)
        starts_row[a.indptr[:-1][a.indptr[:-1] < nnz]] = True
        not_increasing = (np.diff(a.indices) <= 0) & ~starts_row[1:]  # within one row
        if np.any(not_increasing):
            row = int(np.searchsorted(a.indptr, np.argmax(not_increasing) + 1, "right")) - 1
            raise ValueError(
                f"the column indices of row {row} are not strictly increasing; "
                "use CSRMatrix.from_coo to sort them and sum duplicates"
            )

    def _set_arrays(self, a: CSRArrays) -> None:
        index_dtype = index_dtype_for(self.shape, len(a.data))
        self.data = a.data
        self.indices = a.indices.astype(index_dtype)
        self.indptr = a.indptr.astype(index_dtype)

    # --- construction -----------------------------------------------------------------
    @classmethod
    def from_coo(cls, rows: Any, cols: Any, values: Any, shape: Any) -> "CSRMatrix":
        """From triplets (rows[t], cols[t], values[t]); duplicates are summed, eq. (sp-coo)."""
        shape = check_shape(shape)
        rows, cols = as_index_array("rows", rows), as_index_array("cols", cols)
        values = as_real_array("values", values, ndim=1)
        if not len(rows) == len(cols) == len(values):
            raise ValueError(
                "rows, cols and values must have the same length, "
                f"got {len(rows)}, {len(cols)} and {len(values)}"
            )
        check_in_range("row index", rows, shape[0], shape)  # no negative wrap-around in COO
        check_in_range("column index", cols, shape[1], shape)
        return cls(*coo_to_csr(rows, cols, values, shape), shape)

    @classmethod
    def from_dense(cls, dense: Any) -> "CSRMatrix":
        """From a 2-D array; only its non-zero entries are stored."""
        dense = as_real_array("dense input", dense, ndim=2)
        return cls(*dense_to_csr(dense), dense.shape)

    @classmethod
    def from_scipy(cls, matrix: Any) -> "CSRMatrix":
        """From any scipy.sparse matrix or array (duplicates summed, indices sorted)."""
        if not sp.issparse(matrix):
            raise TypeError(f"expected a scipy.sparse matrix, got {type(matrix).__name__}")
        csr = sp.csr_array(matrix, copy=True)
        csr.sum_duplicates()  # sorts the indices too
        return cls(csr.data, csr.indices, csr.indptr, csr.shape)

    def arrays(self) -> CSRArrays:
        return CSRArrays(self.data, self.indices, self.indptr)

    def to_scipy(self) -> sp.csr_array:
        return sp.csr_array((self.data.copy(), self.indices.copy(), self.indptr.copy()), self.shape)

    def toarray(self) -> np.ndarray:
        return csr_to_dense(self.arrays(), self.shape)

    # --- properties -------------------------------------------------------------------
    @property
    def nnz(self) -> int:
        """Number of stored entries, explicit zeros included (as scipy's nnz)."""
        return len(self.data)

    @property
    def nbytes(self) -> int:
        """Bytes of the three arrays, M_CSR of eq. (sp-memory)."""
        return self.data.nbytes + self.indices.nbytes + self.indptr.nbytes

    def count_nonzero(self) -> int:
        return int(np.count_nonzero(self.data))

    def eliminate_zeros(self) -> None:
        """Remove the explicit zeros, in place."""
        self._set_arrays(drop_zeros(self.arrays()))

    def __repr__(self) -> str:
        n_rows, n_cols = self.shape
        density = self.nnz / (n_rows * n_cols) if n_rows * n_cols else 0.0
        text = (
            f"CSRMatrix(shape={self.shape}, nnz={self.nnz}, density={density:.3g}, "
            f"index dtype {self.indices.dtype})"
        )
        if self.nnz <= 20 and n_rows <= 20:
            text += f"\n  data={self.data}\n  indices={self.indices}\n  indptr={self.indptr}"
        return text

    # --- operations -------------------------------------------------------------------
    def __getitem__(self, key: Any) -> float:
        """A[i, j] by binary search, eq. (sp-get); negative indices count from the end."""
        if not (isinstance(key, tuple) and len(key) == 2 and all(is_integer(k) for k in key)):
            raise TypeError(f"index with two integers, A[i, j]; got {key!r}")
        i, j = int(key[0]), int(key[1])
        n_rows, n_cols = self.shape
        if not (-n_rows <= i < n_rows and -n_cols <= j < n_cols):
            raise IndexError(f"index ({i}, {j}) is out of range for shape {self.shape}")
        return csr_get(self.arrays(), i % n_rows, j % n_cols)

    def transpose(self) -> "CSRMatrix":
        """A^T by counting sort, eq. (sp-transpose); explicit zeros are kept."""
        n_rows, n_cols = self.shape
        return CSRMatrix(*csr_transpose(self.arrays(), n_cols), (n_cols, n_rows))

    @property
    def T(self) -> "CSRMatrix":
        return self.transpose()

    def matvec(self, x: Any) -> np.ndarray:
        """A x for a 1-D x, eq. (sp-matvec)."""
        x = as_real_array("x", x, ndim=1)
        check_aligned(self.shape, x.shape)
        return csr_matvec(self.arrays(), x)

    def __matmul__(self, other: Any) -> Any:
        if isinstance(other, CSRMatrix):  # sparse @ sparse, eq. (sp-gustavson)
            check_aligned(self.shape, other.shape)
            product = csr_matmul(self.arrays(), other.arrays(), other.shape[1])
            return CSRMatrix(*product, (self.shape[0], other.shape[1]))
        if isinstance(other, np.ndarray):
            if other.ndim == 1:
                return self.matvec(other)
            dense = as_real_array("right operand", other, ndim=2)
            check_aligned(self.shape, dense.shape)
            return csr_matmat_dense(self.arrays(), dense)  # (n_rows, k)
        return NotImplemented

    def __rmatmul__(self, other: Any) -> Any:
        """x @ A = (A^T x) for a 1-D x, X @ A = (A^T X^T)^T for a 2-D X."""
        if not isinstance(other, np.ndarray):
            return NotImplemented
        if other.ndim not in (1, 2):
            raise ValueError(f"matmul: the left operand must be 1-D or 2-D, got {other.shape}")
        check_aligned(other.shape, self.shape)
        return (self.T @ other.T).T

    def dot(self, other: Any) -> Any:
        return self @ other

    def __add__(self, other: Any) -> "CSRMatrix":
        if not isinstance(other, CSRMatrix):
            return NotImplemented
        if self.shape != other.shape:
            raise ValueError(f"add: shapes {self.shape} and {other.shape} differ")
        return CSRMatrix(*csr_add(self.arrays(), other.arrays(), self.shape[1]), self.shape)

    def __neg__(self) -> "CSRMatrix":
        return CSRMatrix(-self.data, self.indices, self.indptr, self.shape)

    def __sub__(self, other: Any) -> "CSRMatrix":
        if not isinstance(other, CSRMatrix):
            return NotImplemented
        return self + (-other)

    def __eq__(self, other: object) -> bool:
        """Same shape and the same values; explicit zeros do not matter."""
        if not isinstance(other, CSRMatrix):
            return NotImplemented
        return self.shape == other.shape and (self - other).nnz == 0


def check_aligned(left: tuple[int, ...], right: tuple[int, ...]) -> None:
    """ValueError naming both shapes unless left's last dimension is right's first."""
    if left[-1] != right[0]:
        raise ValueError(
            f"matmul: shapes {left} and {right} are not aligned: "
            f"{left[-1]} (last dim of the left operand) != {right[0]} (first dim of the right)"
        )


# %% [markdown]
# The errata's matrix through the class, from dense and from the triplets above:

# %%
A = CSRMatrix.from_dense(errata_dense)
A_from_triplets = CSRMatrix.from_coo(triplet_rows, triplet_cols, triplet_values, shape=(3, 3))
print(A)
print(A_from_triplets)
print("A @ 1 =", A @ np.ones(3), "   A[2, -2] =", A[2, -2])
print("A == A_from_triplets (the explicit zero does not count):", A == A_from_triplets)

# %% [markdown]
# ## Verification
#
# ### The errata's example against the stated arrays and scipy
#
# The errata give `data=[1,2,3,4,5]`, `indices=[0,2,2,0,1]`, `indptr=[0,2,3,5]` and
# $A\mathbf 1=[3,3,9]$, all equal to `scipy.sparse.csr_matrix`. The matrix built from the
# triplets must have scipy's arrays for the same triplets, explicit zero included, and the
# errata's arrays once that zero is eliminated.

# %%
errata_reference = sp.csr_matrix(errata_dense)
for name, expected in [
    ("data", [1, 2, 3, 4, 5]),
    ("indices", [0, 2, 2, 0, 1]),
    ("indptr", [0, 2, 3, 5]),
]:
    check_equal(f"errata A: {name} = {expected}", getattr(A, name), expected)
    check_equal(
        f"errata A: {name} vs scipy.sparse.csr_matrix",
        getattr(A, name),
        getattr(errata_reference, name),
    )
check_equal("errata A·1 = [3, 3, 9]", A @ np.ones(3), [3.0, 3.0, 9.0])
check_equal("errata A·1 vs scipy", A @ np.ones(3), errata_reference @ np.ones(3))

scipy_from_triplets = sp.csr_array((triplet_values, (triplet_rows, triplet_cols)), shape=(3, 3))
for name in ("data", "indices", "indptr"):
    check_equal(
        f"triplets with a duplicate and a zero: {name} vs scipy",
        getattr(A_from_triplets, name),
        getattr(scipy_from_triplets, name),
    )
A_from_triplets.eliminate_zeros()
check_equal("after eliminate_zeros: data = errata data", A_from_triplets.data, A.data)

# %% [markdown]
# ### Every operation on random matrices, against scipy.sparse and dense NumPy
#
# Random triplets for 13 shapes, from $0\times0$, $0\times5$ and $5\times0$ to $60\times45$,
# each at densities 0 (no entries), 0.02, 0.15, 0.5 and 1. The triplets repeat positions
# (about one in five is a duplicate) and include zeros (about one in ten), so rows are often
# empty, duplicates must be summed and explicit zeros kept. For each case every operation,
# the from-scratch loops included, is compared with scipy (`csr_array`) and dense NumPy.
# A sparse result must have *exactly* scipy's `indptr` and `indices` (otherwise its error
# counts as infinite) and values within $10^{-12}$, since the summation order may differ.
# scipy's kernel for $AB$ does not sort the columns of its result, so scipy's results are
# compared after `sort_indices()`. The first cell below shows the unsorted rows, and that two
# of our transposes sort them.


# %%
def random_triplets(
    generator: np.random.Generator, shape: tuple[int, int], density: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """COO triplets at about `density`, with ~20 % repeated positions and ~10 % zero values."""
    n_rows, n_cols = shape
    n_distinct = round(density * n_rows * n_cols)
    flat = generator.choice(n_rows * n_cols, size=n_distinct, replace=False)
    if n_distinct:
        flat = np.concatenate([flat, generator.choice(flat, size=n_distinct // 4)])
    values = np.round(generator.standard_normal(len(flat)), 3)
    values[generator.random(len(flat)) < 0.1] = 0.0
    return flat // max(n_cols, 1), flat % max(n_cols, 1), values


def max_abs_error(ours: Any, reference: Any) -> float:
    return float(np.max(np.abs(np.asarray(ours) - np.asarray(reference)), initial=0.0))


def csr_error(ours: CSRMatrix, reference: Any) -> float:
    """Max |data error| if shape, indptr and indices equal scipy's (sorted); inf otherwise."""
    reference = sp.csr_array(reference)
    reference.sort_indices()
    same_structure = (
        ours.shape == reference.shape
        and np.array_equal(ours.indptr, reference.indptr)
        and np.array_equal(ours.indices, reference.indices)
    )
    return max_abs_error(ours.data, reference.data) if same_structure else np.inf


def errors_against_scipy(
    generator: np.random.Generator, shape: tuple[int, int], density: float
) -> dict[str, float]:
    """Every operation on random A, B (same shape) and C (n_cols x 6): error of each."""
    n_rows, n_cols = shape
    r, c, v = random_triplets(generator, shape, density)
    A, A_ref = CSRMatrix.from_coo(r, c, v, shape), sp.csr_array((v, (r, c)), shape=shape)
    dense = np.zeros(shape)
    np.add.at(dense, (r, c), v)  # eq. (sp-coo), by brute force
    B = CSRMatrix.from_coo(*random_triplets(generator, shape, density), shape=shape)
    C = CSRMatrix.from_coo(*random_triplets(generator, (n_cols, 6), density), shape=(n_cols, 6))
    B_ref, C_ref = B.to_scipy(), C.to_scipy()
    x, X = generator.standard_normal(n_cols), generator.standard_normal((n_cols, 3))
    w = generator.standard_normal(n_rows)
    transpose_loop = CSRMatrix(*csr_transpose_loop(A.arrays(), n_cols), (n_cols, n_rows))
    sum_loop = CSRMatrix(*csr_add_loop(A.arrays(), B.arrays(), n_cols), shape)
    gustavson = CSRMatrix(*csr_matmul_gustavson(A.arrays(), C.arrays(), 6), (n_rows, 6))
    errors = {
        "from_coo vs scipy": csr_error(A, A_ref),
        "toarray vs dense": max_abs_error(A.toarray(), dense),
        "from_dense vs scipy": csr_error(CSRMatrix.from_dense(dense), sp.csr_array(dense)),
        "from_scipy vs scipy": csr_error(CSRMatrix.from_scipy(A_ref), A_ref),
        "A @ x vs scipy": max_abs_error(A @ x, A_ref @ x),
        "A @ x vs dense": max_abs_error(A @ x, dense @ x),
        "matvec loop vs scipy": max_abs_error(csr_matvec_loop(A.arrays(), x), A_ref @ x),
        "A @ X (dense, 3 columns) vs scipy": max_abs_error(A @ X, A_ref @ X),
        "w @ A vs scipy": max_abs_error(w @ A, w @ A_ref),
        "A.T vs scipy": csr_error(A.T, A_ref.T),
        "transpose loop vs scipy": csr_error(transpose_loop, A_ref.T),
        "A + B vs scipy": csr_error(A + B, A_ref + B_ref),
        "merge loop A + B vs scipy": csr_error(sum_loop, A_ref + B_ref),
        "A - B vs dense": max_abs_error((A - B).toarray(), dense - B.toarray()),
        "A @ C (sparse) vs scipy": csr_error(A @ C, A_ref @ C_ref),
        "Gustavson loop A @ C vs scipy": csr_error(gustavson, A_ref @ C_ref),
        "A @ C (sparse) vs dense": max_abs_error((A @ C).toarray(), dense @ C.toarray()),
    }
    if n_rows and n_cols:  # 40 random positions, negative indices included
        i, j = generator.integers(-n_rows, n_rows, 40), generator.integers(-n_cols, n_cols, 40)
        entries = [A[int(a), int(b)] for a, b in zip(i, j, strict=True)]
        errors["A[i, j] vs dense[i, j]"] = max_abs_error(entries, dense[i, j])
    return errors


# %%
scipy_product = sp.random_array((50, 40), density=0.1, rng=rng, format="csr") @ sp.random_array(
    (40, 30), density=0.1, rng=rng, format="csr"
)
n_unsorted_rows = sum(
    bool(np.any(np.diff(scipy_product.indices[start:end]) < 0))
    for start, end in zip(scipy_product.indptr[:-1], scipy_product.indptr[1:], strict=True)
)
print(f"scipy's 50 x 30 product: {n_unsorted_rows} of 50 rows have unsorted column indices")
product_arrays = CSRArrays(scipy_product.data, scipy_product.indices, scipy_product.indptr)
sorted_twice = csr_transpose(csr_transpose(product_arrays, n_cols=30), n_cols=50)
scipy_product.sort_indices()
check_equal("two transposes sort the rows: indices", sorted_twice.indices, scipy_product.indices)
check_equal("two transposes sort the rows: data", sorted_twice.data, scipy_product.data)

SHAPES = [
    (0, 0),
    (0, 5),
    (5, 0),
    (1, 1),
    (1, 7),
    (7, 1),
    (4, 4),
    (10, 3),
    (3, 10),
    (25, 25),
    (40, 17),
    (17, 40),
    (60, 45),
]
DENSITIES = [0.0, 0.02, 0.15, 0.5, 1.0]
TOLERANCE = 1e-12
worst: dict[str, float] = {}
for shape in SHAPES:
    for density in DENSITIES:
        for operation, error in errors_against_scipy(rng, shape, density).items():
            worst[operation] = max(worst.get(operation, 0.0), error)
n_cases = len(SHAPES) * len(DENSITIES)
for operation, error in worst.items():
    check_true(
        f"{operation}, {n_cases} cases",
        error <= TOLERANCE,
        f"max abs err {error:.2g} (atol {TOLERANCE:.0e}, structure identical)",
    )

# %% [markdown]
# The from-scratch code agrees with scipy on the stored structure, not only on the dense
# result: the same entries in the same order, explicit zeros kept where scipy keeps them
# (construction, transpose) and dropped where scipy drops them (sums and products).
#
# ### Algebraic identities
#
# Checks that need no reference: the transpose is an involution (explicit zeros included),
# it distributes over the sum and reverses products, and the sparse product is associative
# with a vector.

# %%
P = CSRMatrix.from_coo(*random_triplets(rng, (80, 60), 0.05), shape=(80, 60))
Q = CSRMatrix.from_coo(*random_triplets(rng, (80, 60), 0.05), shape=(80, 60))
R = CSRMatrix.from_coo(*random_triplets(rng, (60, 70), 0.05), shape=(60, 70))
x = rng.standard_normal(70)
P_twice = P.T.T
same_arrays = all(
    np.array_equal(getattr(P_twice, name), getattr(P, name))
    for name in ("data", "indices", "indptr")
)
n_explicit_zeros = P.nnz - P.count_nonzero()
check_true(
    "(A^T)^T has the arrays of A",
    same_arrays,
    f"{P.nnz} entries, {n_explicit_zeros} explicit zeros",
)
check_true("(A + B)^T == A^T + B^T", (P + Q).T == P.T + Q.T)
check_close("(A B)^T = B^T A^T", (P @ R).T.toarray(), (R.T @ P.T).toarray(), atol=1e-12)
check_close("(A B) x = A (B x)", (P @ R) @ x, P @ (R @ x), atol=1e-12)

# %% [markdown]
# ### Bad input: each error says what was wrong
#
# Every invalid call below must raise the stated exception; each line shows its message.

# %%
coo, M34 = CSRMatrix.from_coo, CSRMatrix.from_dense(np.arange(12.0).reshape(3, 4))
invalid_calls = [
    ("triplets of lengths 3, 2, 3", lambda: coo([0, 1, 2], [0, 1], [1, 2, 3], (3, 3)), ValueError),
    ("row index 3 with 3 rows", lambda: coo([0, 3], [0, 1], [1, 2], (3, 3)), ValueError),
    ("negative column index in COO", lambda: coo([0, 1], [0, -1], [1, 2], (3, 3)), ValueError),
    ("float row indices", lambda: coo([0.0, 1.0], [0, 1], [1, 2], (3, 3)), TypeError),
    ("non-integer shape", lambda: coo([0], [0], [1.0], (3.0, 3)), TypeError),
    ("negative shape", lambda: coo([], [], [], (-1, 3)), ValueError),
    ("1-D dense input", lambda: CSRMatrix.from_dense(np.ones(3)), ValueError),
    ("complex dense input", lambda: CSRMatrix.from_dense(np.ones((2, 2)) * 1j), TypeError),
    ("unsorted raw CSR indices", lambda: CSRMatrix([1, 2], [2, 0], [0, 2], (1, 3)), ValueError),
    ("raw CSR indptr too short", lambda: CSRMatrix([1], [0], [0, 1], (2, 3)), ValueError),
    ("A @ x, len(x) != n_cols", lambda: M34 @ np.ones(3), ValueError),
    ("A @ B, inner dims 4 and 3", lambda: M34 @ M34, ValueError),
    ("x @ A, len(x) != n_rows", lambda: np.ones(4) @ M34, ValueError),
    ("A + B of different shapes", lambda: M34 + M34.T, ValueError),
    ("A[3, 0] with 3 rows", lambda: M34[3, 0], IndexError),
    ("A[0, -5] with 4 columns", lambda: M34[0, -5], IndexError),
    ("A[0.5, 1]", lambda: M34[0.5, 1], TypeError),
    ("A + dense array", lambda: M34 + np.ones((3, 4)), TypeError),
]
for what, call, error in invalid_calls:
    try:
        call()
        raised, message = "nothing", ""
    except (TypeError, ValueError, IndexError) as exc:
        raised, message = type(exc).__name__, str(exc)
    check_true(f"{what} raises {error.__name__}", raised == error.__name__, message)

# %% [markdown]
# ## Experiments
#
# All times below are medians of repeated runs after warm-up runs (`time_call`), measured on
# one thread on a shared machine: single points are noisy, so read the orders of magnitude
# and the crossovers, which are computed from the medians and printed.


# %%
def median_seconds(function: Callable[..., Any], *args: Any, repeats: int, warmup: int) -> float:
    """Median wall-clock time of function(*args) over `repeats` runs after `warmup` runs."""
    return time_call(lambda: function(*args), repeats=repeats, warmup=warmup).median


def random_dense(generator: np.random.Generator, n: int, density: float) -> np.ndarray:
    """An n x n array whose entries are non-zero (standard normal) with probability density."""
    mask = generator.random((n, n)) < density
    dense = np.zeros((n, n))
    dense[mask] = generator.standard_normal(int(mask.sum()))
    return dense


# %% [markdown]
# ### 1. Memory: formula, measurement and break-even density
#
# Square matrices with $n=1000$ at densities from $10^{-4}$ to 0.9, each entry non-zero
# independently with probability $d$. The bytes of our CSR arrays and of scipy's (both with
# int32 indices) are compared with {eq}`sp-memory`, and the sign of "CSR minus dense" with
# the break-even density {eq}`sp-breakeven`.

# %%
N_MEMORY = 1000
MEMORY_DENSITIES = [1e-4, 1e-3, 1e-2, 0.05, 0.1, 0.2, 0.4, 0.6, 0.65, 0.7, 0.9]
VALUE_BYTES = 8


def csr_bytes(nnz: int, n_rows: int, index_bytes: int) -> int:
    """M_CSR of eq. (sp-memory)."""
    return nnz * (VALUE_BYTES + index_bytes) + (n_rows + 1) * index_bytes


def breakeven_density(n_rows: int, n_cols: int, index_bytes: int) -> float:
    """d* of eq. (sp-breakeven)."""
    n_entries = n_rows * n_cols
    return (n_entries * VALUE_BYTES - (n_rows + 1) * index_bytes) / (
        n_entries * (VALUE_BYTES + index_bytes)
    )


dense_bytes = N_MEMORY * N_MEMORY * VALUE_BYTES
nnz_measured, ours_bytes, scipy_bytes = [], [], []
for density in MEMORY_DENSITIES:
    dense = random_dense(rng, N_MEMORY, density)
    ours, reference = CSRMatrix.from_dense(dense), sp.csr_array(dense)
    nnz_measured.append(ours.nnz)
    ours_bytes.append(ours.nbytes)
    scipy_bytes.append(reference.data.nbytes + reference.indices.nbytes + reference.indptr.nbytes)
formula_bytes = [csr_bytes(nnz, N_MEMORY, index_bytes=4) for nnz in nnz_measured]
check_equal("CSRMatrix.nbytes vs eq. (sp-memory), int32 indices", ours_bytes, formula_bytes)
check_equal("scipy csr_array bytes vs eq. (sp-memory), int32 indices", scipy_bytes, formula_bytes)
d_star_32 = breakeven_density(N_MEMORY, N_MEMORY, index_bytes=4)
d_star_64 = breakeven_density(N_MEMORY, N_MEMORY, index_bytes=8)
check_close("d* with int32 indices vs 2/3", d_star_32, 2 / 3, atol=1e-3)
check_close("d* with int64 indices vs 1/2", d_star_64, 1 / 2, atol=1e-3)
check_equal(
    "CSR smaller than dense exactly where density < d*",
    [nbytes < dense_bytes for nbytes in ours_bytes],
    [nnz / N_MEMORY**2 < d_star_32 for nnz in nnz_measured],
)
print(
    f"n = {N_MEMORY}: dense {dense_bytes / 2**20:.1f} MiB; break-even density d* = {d_star_32:.4f} "
    f"(int32 indices), {d_star_64:.4f} (int64)"
)
for density, nbytes in zip(MEMORY_DENSITIES, ours_bytes, strict=True):
    ratio = nbytes / dense_bytes
    print(f"  density {density:<6g}  CSR {nbytes / 2**20:8.3f} MiB = {ratio:.4f} × dense")

# %%
grid = np.logspace(-4, 0, 200)
fig, ax = plt.subplots(figsize=(7.5, 4.5))
ax.axhline(dense_bytes / 2**20, color="black", label="dense float64")
for index_bytes, style in ((4, "-"), (8, "--")):
    ax.plot(
        grid,
        [csr_bytes(round(d * N_MEMORY * N_MEMORY), N_MEMORY, index_bytes) / 2**20 for d in grid],
        style,
        color=PALETTE[0],
        label=f"CSR, eq. (sp-memory), int{8 * index_bytes} indices",
    )
ax.plot(
    grid,
    grid * N_MEMORY * N_MEMORY * (VALUE_BYTES + 2 * 4) / 2**20,
    ":",
    color=PALETTE[2],
    label="COO, eq. (sp-memory), int32 indices",
)
ax.plot(
    np.array(nnz_measured) / N_MEMORY**2,
    np.array(ours_bytes) / 2**20,
    "o",
    color=PALETTE[1],
    label="CSRMatrix.nbytes (measured)",
)
ax.plot(
    np.array(nnz_measured) / N_MEMORY**2,
    np.array(scipy_bytes) / 2**20,
    "x",
    color="black",
    ms=8,
    label="scipy csr_array (measured)",
)
for d_star, style in ((d_star_32, "-"), (d_star_64, "--")):
    ax.axvline(d_star, color=PALETTE[3], ls=style, lw=1)
    ax.text(
        d_star * 0.93,
        0.05,
        f"d* = {d_star:.3f}",
        rotation=90,
        ha="right",
        va="bottom",
        color=PALETTE[3],
        fontsize=8,
    )
ax.set(xscale="log", yscale="log", xlabel="density d = nnz / n²", ylabel="memory (MiB)")
ax.legend(loc="upper left", fontsize=8)
ax.set_title(
    f"n = {N_MEMORY}: CSR takes less memory than dense below density {d_star_32:.2f}\n"
    f"with int32 indices, {d_star_64:.2f} with int64"
)
plt.show()

# %% [markdown]
# The measured bytes are the formula exactly, for our arrays and for scipy's, and the memory
# grows linearly in $d$ until it crosses the dense line at $d^{\ast}$. COO, with one more index
# per entry, crosses earlier (at $1/2$ with int32 indices).
#
# ### 2. Matrix-vector product: speed against dense NumPy and scipy
#
# Random matrices as in Experiment 1, now with $n=2000$ and densities $10^{-4}$ to 0.5.
# $y=Ax$ is computed four ways: dense `dense @ x` (BLAS), scipy's `csr_array @ x` (a compiled
# loop of {eq}`sp-matvec`), our vectorised `CSRMatrix @ x`, and our Python loop (only up to
# density $10^{-2}$, where it already takes tens of milliseconds). Medians of `N_REPEATS` runs
# after two warm-up runs (3 runs after one for the loop).

# %%
N = 2000
SPEED_DENSITIES = [1e-4, 1e-3, 1e-2, 0.05, 0.1, 0.2, 0.5]
LOOP_MAX_DENSITY = 1e-2
N_REPEATS = 7
matvec_times: dict[str, dict[float, float]] = {
    "dense NumPy": {},
    "scipy CSR": {},
    "CSRMatrix (NumPy)": {},
    "CSRMatrix (Python loop)": {},
}
x = rng.standard_normal(N)
for density in SPEED_DENSITIES:
    dense = random_dense(rng, N, density)
    ours, reference = CSRMatrix.from_dense(dense), sp.csr_array(dense)
    check_close(f"d = {density:g}: A @ x vs dense", ours @ x, dense @ x, atol=1e-9, quiet=True)
    for name, operand in [
        ("dense NumPy", dense),
        ("scipy CSR", reference),
        ("CSRMatrix (NumPy)", ours),
    ]:
        matvec_times[name][density] = median_seconds(
            operator.matmul, operand, x, repeats=N_REPEATS, warmup=2
        )
    if density <= LOOP_MAX_DENSITY:
        matvec_times["CSRMatrix (Python loop)"][density] = median_seconds(
            csr_matvec_loop, ours.arrays(), x, repeats=3, warmup=1
        )


def crossover_density(sparse_times: dict[float, float], dense_times: dict[float, float]) -> float:
    """Density where the sparse time reaches the dense one (log-log interpolation), else nan."""
    ds = sorted(sparse_times)
    log_ratio = np.log([sparse_times[d] / dense_times[d] for d in ds])
    for k in range(1, len(ds)):
        if log_ratio[k - 1] < 0 <= log_ratio[k]:
            w = -log_ratio[k - 1] / (log_ratio[k] - log_ratio[k - 1])
            return float(np.exp((1 - w) * np.log(ds[k - 1]) + w * np.log(ds[k])))
    return float("nan")


print(f"median time per matvec (µs), n = {N}")
print(f"{'density':<24}" + "".join(f"{d:>10g}" for d in SPEED_DENSITIES))
for name, by_density in matvec_times.items():
    print(
        f"{name:<24}"
        + "".join(
            f"{by_density[d] * 1e6:10.1f}" if d in by_density else " " * 10 for d in SPEED_DENSITIES
        )
    )
cross_scipy = crossover_density(matvec_times["scipy CSR"], matvec_times["dense NumPy"])
cross_ours = crossover_density(matvec_times["CSRMatrix (NumPy)"], matvec_times["dense NumPy"])
scipy_speedup = matvec_times["dense NumPy"][1e-3] / matvec_times["scipy CSR"][1e-3]
ours_vs_scipy = np.median(
    [matvec_times["CSRMatrix (NumPy)"][d] / matvec_times["scipy CSR"][d] for d in SPEED_DENSITIES]
)
loop_vs_numpy = (
    matvec_times["CSRMatrix (Python loop)"][LOOP_MAX_DENSITY]
    / matvec_times["CSRMatrix (NumPy)"][LOOP_MAX_DENSITY]
)
print(
    f"sparse matches dense at density ≈ {cross_scipy:.3g} (scipy), ≈ {cross_ours:.3g} (ours); "
    f"memory break-even {d_star_32:.3f}"
)
print(
    f"at density 1e-3 scipy's matvec is {scipy_speedup:.0f}× faster than dense; ours takes "
    f"{ours_vs_scipy:.1f}× scipy's time (median over densities); the Python loop "
    f"{loop_vs_numpy:.0f}× ours at density {LOOP_MAX_DENSITY:g}"
)

# %%
fig, ax = plt.subplots(figsize=(7.5, 4.5))
for (name, by_density), marker in zip(matvec_times.items(), "os^v", strict=True):
    ds = sorted(by_density)
    ax.loglog(ds, [by_density[d] * 1e3 for d in ds], marker=marker, label=name)
ax.axvline(d_star_32, color="black", lw=1, label=f"memory break-even d* = {d_star_32:.2f}")
if np.isfinite(cross_scipy):
    ax.axvline(
        cross_scipy,
        color="grey",
        ls=":",
        lw=1.5,
        label=f"speed break-even (scipy) ≈ {cross_scipy:.2g}",
    )
    finding = f"beats dense only below density ≈ {cross_scipy:.2g}"
else:
    finding = f"beats dense at every density up to {SPEED_DENSITIES[-1]}"
ax.set(xlabel="density d = nnz / n²", ylabel="median time per matvec (ms)")
ax.legend(loc="upper left", fontsize=8)
ax.set_title(
    f"n = {N}: scipy's CSR matvec {finding},\n"
    f"{scipy_speedup:.0f}× faster than dense at density 1e-3"
)
plt.show()

# %% [markdown]
# The dense product costs the same at every density: it reads all $n^2$ entries. The sparse
# ones grow linearly with $\text{nnz}$ and flatten at the lowest densities, where the $O(n)$
# work per row and the call overhead dominate. Per stored entry, CSR reads 12 bytes (value
# and int32 index) and gathers $x$ at a random position, while the dense product streams
# 8 bytes with neither, so the speed break-even (printed above) sits below the memory one.
# Our NumPy version is a constant factor slower than scipy's compiled loop: it writes and
# reads back a products array, NumPy converts the int32 `indices` to its native int64 before
# every gather, and each call pays NumPy's fixed overhead. The Python loop is slower by
# orders of magnitude, which is why the loop is for explaining and the vectorised version for
# running.
#
# ### 3. Sparse × sparse: fill-in and time
#
# $C=AB$ for $n=500$ square matrices with independent random patterns of equal density $d$.
# The density of $C$ is compared with {eq}`sp-fillin`, and the number of products with
# {eq}`sp-flops`. Times (medians of 3 runs after one warm-up) compare scipy (a compiled
# row-by-row product of the same kind), our expand–sort–compress `CSRMatrix @`, our Python
# Gustavson loop (lowest densities only, one run) and the dense product through BLAS, whose
# time does not depend on $d$.

# %%
N_MATMUL = 500
MATMUL_DENSITIES = [2e-3, 5e-3, 1e-2, 2e-2, 4e-2, 7e-2]
GUSTAVSON_MAX_DENSITY = 1e-2
fill_measured, fill_formula, n_products = [], [], []
matmul_times: dict[str, dict[float, float]] = {
    "dense NumPy (BLAS)": {},
    "scipy CSR": {},
    "CSRMatrix (expand-sort-compress)": {},
    "Gustavson (Python loop)": {},
}
for density in MATMUL_DENSITIES:
    dense_a, dense_b = random_dense(rng, N_MATMUL, density), random_dense(rng, N_MATMUL, density)
    ours_a, ours_b = CSRMatrix.from_dense(dense_a), CSRMatrix.from_dense(dense_b)
    product = ours_a @ ours_b
    check_close(
        f"d = {density:g}: A @ B vs dense",
        product.toarray(),
        dense_a @ dense_b,
        atol=1e-9,
        quiet=True,
    )
    d_a, d_b = ours_a.nnz / N_MATMUL**2, ours_b.nnz / N_MATMUL**2
    fill_measured.append(product.nnz / N_MATMUL**2)
    fill_formula.append(1 - (1 - d_a * d_b) ** N_MATMUL)  # eq. (sp-fillin)
    n_products.append(int(np.diff(ours_b.indptr)[ours_a.indices].sum()))  # eq. (sp-flops)
    for name, left, right in [
        ("dense NumPy (BLAS)", dense_a, dense_b),
        ("scipy CSR", sp.csr_array(dense_a), sp.csr_array(dense_b)),
        ("CSRMatrix (expand-sort-compress)", ours_a, ours_b),
    ]:
        matmul_times[name][density] = median_seconds(
            operator.matmul, left, right, repeats=3, warmup=1
        )
    if density <= GUSTAVSON_MAX_DENSITY:
        matmul_times["Gustavson (Python loop)"][density] = median_seconds(
            csr_matmul_gustavson, ours_a.arrays(), ours_b.arrays(), N_MATMUL, repeats=1, warmup=0
        )

check_close("density of A B vs eq. (sp-fillin)", fill_measured, fill_formula, atol=0.005)
check_close(
    "products per A B vs n³ d² (eq. sp-flops, expected value)",
    np.array(n_products) / (N_MATMUL**3 * np.array(MATMUL_DENSITIES) ** 2),
    np.ones(len(MATMUL_DENSITIES)),
    atol=0.2,
)
print("d        products    density of C (eq. sp-fillin)   median times (ms)")
for k, density in enumerate(MATMUL_DENSITIES):
    row = "  ".join(
        f"{name.split(' (')[0]} {by[density] * 1e3:.2f}"
        for name, by in matmul_times.items()
        if density in by
    )
    print(
        f"{density:<7g} {n_products[k]:>10,d}    {fill_measured[k]:.4f} ({fill_formula[k]:.4f})"
        f"        {row}"
    )
esc_vs_scipy = np.median(
    [
        matmul_times["CSRMatrix (expand-sort-compress)"][d] / matmul_times["scipy CSR"][d]
        for d in MATMUL_DENSITIES
    ]
)
matmul_crossover = crossover_density(matmul_times["scipy CSR"], matmul_times["dense NumPy (BLAS)"])
print(
    f"at d = {MATMUL_DENSITIES[-1]}, C is {fill_measured[-1]:.1%} full; expand-sort-compress "
    f"takes {esc_vs_scipy:.1f}× scipy's time (median over densities); scipy's sparse product "
    f"reaches the dense one at d ≈ {matmul_crossover:.2g} (nan: not within the range)"
)

# %%
fig, (ax_fill, ax_time) = plt.subplots(1, 2, figsize=(11, 4.3))
grid = np.logspace(-2.9, -1.0, 100)
ax_fill.loglog(grid, 1 - (1 - grid**2) ** N_MATMUL, color=PALETTE[0], label="eq. (sp-fillin)")
ax_fill.loglog(grid, grid, ":", color="black", label="density of A and B")
ax_fill.loglog(MATMUL_DENSITIES, fill_measured, "o", color=PALETTE[1], label="measured")
ax_fill.set(xlabel="density d of A and B", ylabel="density of C = AB")
ax_fill.legend(loc="lower right", fontsize=8)
ax_fill.set_title(f"Fill-in: at d = {MATMUL_DENSITIES[-1]}, AB is {fill_measured[-1]:.0%} full")
for (name, by_density), marker in zip(matmul_times.items(), "os^v", strict=True):
    ds = sorted(by_density)
    ax_time.loglog(ds, [by_density[d] * 1e3 for d in ds], marker=marker, label=name)
ax_time.set(xlabel="density d of A and B", ylabel="median time per product (ms)")
ax_time.set_xticks(MATMUL_DENSITIES, [f"{d:g}" for d in MATMUL_DENSITIES])
ax_time.minorticks_off()
ax_time.legend(loc="center left", fontsize=8)
if np.isfinite(matmul_crossover):
    ax_time.set_title(
        f"n = {N_MATMUL}: scipy's sparse product reaches dense BLAS at d ≈ {matmul_crossover:.2g}"
    )
else:
    ax_time.set_title(
        f"n = {N_MATMUL}: scipy's sparse product beats dense BLAS up to d = {MATMUL_DENSITIES[-1]}"
    )
plt.show()

# %% [markdown]
# The measured fill-in follows {eq}`sp-fillin` (within 0.005): at the densest setting the
# product is almost full while its factors are 7 % full, and storing it as CSR would take more
# memory than dense. The work follows the number of products, close to its expected value
# $n^3d^2$ for random patterns (within 20 %: at the lowest density only a few hundred products
# are drawn, so their count fluctuates), and the sparse times rise with a slope of about 2 on
# the log-log plot toward the dense BLAS product, whose time does not depend on $d$. Whether
# scipy reaches it within this range depends on the machine (the crossover is printed above,
# nan if there is none); where it does, the product is already mostly full, so a dense
# product would also have been the smaller one.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} COO, CSR, CSC, LIL, DOK: which one when?
# - **COO** to *build*: append triplets in any order, concatenate pieces, let duplicates sum.
#   Then convert once. No fast row or column access.
# - **CSR** to *compute by rows*: matvec, row slicing `A[i]`, sparse × sparse, and the
#   format scikit-learn and most iterative solvers expect for a data matrix $X$ (one sample
#   per row).
# - **CSC** (the CSR of $A^\top$) to compute by columns: column slicing, $A^\top x$, and
#   sparse direct solvers, which eliminate column by column {cite}`davis2006direct`.
# - **LIL** (a sorted list per row) and **DOK** (a dict $(i,j)\mapsto v$) to *edit*:
#   `A[i, j] = v` without moving the other entries, unlike CSR's $O(\text{nnz})$ insertion,
#   at the price of Python objects per entry. Edit there, convert to CSR, then compute.
# - **BSR** (small dense blocks) and **DIA** (diagonals) for matrices with that structure
#   {cite}`saad2003iterative`.
# :::
#
# :::{dropdown} Why is CSR the format for matvec, and what goes wrong with CSC?
# In CSR, row $i$ is one contiguous slice, its sum is built in a register, and $y_i$ is
# written once; rows are independent, so threads split the rows with no conflicting writes.
# In CSC the same product is a *scatter*: column $j$ adds $x_jA_{:,j}$ into $y$, each column
# writes to many $y_i$, and parallel threads need atomic adds or private copies of $y$.
# CSC is in turn the natural format for $A^\top x$ (Check yourself 3).
# :::
#
# :::{dropdown} Explicit zeros: what does `nnz` count?
# Stored entries. A triplet with value 0, duplicates that cancel, or `A.data[k] = 0` all
# leave a stored zero, which scipy keeps (and counts in `nnz`) until `eliminate_zeros()`.
# Keeping them can be deliberate: a solver may reuse a sparsity *structure* whose values
# change later. This chapter follows scipy: construction and transpose keep them, sums and
# products drop the zeros they create, and `A == B` compares values, so a stored zero equals
# an absent entry. `count_nonzero()` counts the non-zero values.
# :::
#
# :::{dropdown} "Two sparse matrices multiply into a sparse matrix." Do they?
# Not necessarily: Experiment 3 shows two 7 %-dense factors giving an almost full product,
# as {eq}`sp-fillin` predicts ($1-e^{-nd^2}$ is large once $nd^2\gtrsim1$). The cost is the
# number of products {eq}`sp-flops`, not $\text{nnz}(A)+\text{nnz}(B)$. Before forming $AB$,
# ask whether you only need $ABx$: then compute $A(Bx)$, two matvecs in
# $O(\text{nnz}(A)+\text{nnz}(B))$. Powers of a graph's adjacency matrix and Gram matrices
# $X^\top X$ are where this bites first.
# :::
#
# :::{dropdown} When do 32-bit indices overflow?
# `indptr` stores offsets up to $\text{nnz}$, so int32 overflows once
# $\text{nnz}>2^{31}-1\approx2.1\times10^9$, even if both dimensions are small; `indices`
# overflow once a dimension exceeds $2^{31}-1$ (hashed feature spaces can). In compiled code
# an overflowed offset wraps around to a negative number and reads the wrong memory. scipy
# switches to int64 when the sizes require it (so does `index_dtype_for` here), and
# `csr_array` also keeps int64 indices when built from int64 triplets; int64 moves the
# memory break-even from 2/3 to 1/2.
# :::
#
# :::{dropdown} Why can `np.add.reduceat` give wrong row sums?
# For an empty segment (`starts[k] == starts[k+1]`, an empty row) it returns
# `products[starts[k]]`, an element of the *next* row, instead of 0; and a start equal to
# the array's length (an empty last row) raises an IndexError. `segment_sums` calls it on the
# non-empty rows only. The property tests (`tests/unit/test_ml_15_sparse_matrix.py`) draw
# many empty rows and would catch the bug.
# :::
#
# :::{dropdown} In scipy, is `A * B` a matrix product?
# It depends on the class: for the older `csr_matrix`, `*` is the matrix product (like
# `np.matrix`); for `csr_array`, `*` is element-wise, like NumPy arrays. Write `@` for the
# matrix product, always {cite}`scipy2025sparse`.
# :::
#
# :::{dropdown} Would a dict `{(i, j): value}` not do?
# It is DOK, and it is fine for building. For computing it is slow and large: each entry is a
# tuple key holding two integers, a float object and a slot of the hash table, several times
# CSR's 12 bytes, and nothing can be vectorised because the entries are neither ordered nor
# in contiguous arrays.
# :::

# %% [markdown]
# ## Check yourself
#
# 1. Write the CSR arrays of $A^\top$ for the errata's $A$, and the product $A^\top\mathbf 1$.
#
#    :::{dropdown} Answer
#    $A^\top=\begin{bmatrix}1&0&4\\0&0&5\\2&3&0\end{bmatrix}$: `data=[1,4,5,2,3]`,
#    `indices=[0,2,2,0,1]`, `indptr=[0,2,3,5]` (the same `indices` and `indptr` as $A$, a
#    coincidence of this pattern), and $A^\top\mathbf 1$ is the vector of column sums of $A$,
#    $[5,5,5]$. The next cell checks both.
#    :::

# %%
A_transposed = A.T
check_equal("A^T data", A_transposed.data, [1, 4, 5, 2, 3])
check_equal("A^T indices", A_transposed.indices, [0, 2, 2, 0, 1])
check_equal("A^T indptr", A_transposed.indptr, [0, 2, 3, 5])
check_equal("A^T 1 = column sums of A", A_transposed @ np.ones(3), [5.0, 5.0, 5.0])

# %% [markdown]
# 2. A $10^5\times10^5$ matrix has 10 non-zeros per row. How many bytes does it take in CSR
#    with float64 values and int32 indices, how many dense, and how many rows could it have,
#    at 10 per row, before `indptr` needs int64?
#
#    :::{dropdown} Answer
#    By {eq}`sp-memory`: $\text{nnz}=10^6$, so $10^6\cdot12+(10^5+1)\cdot4=12\,400\,004$
#    bytes, about 12 MB, against $10^{10}\cdot8$ bytes = 80 GB dense. `indptr` holds offsets
#    up to $\text{nnz}=10\,n$, which must stay $\le2^{31}-1$: $n\le214\,748\,364$ rows. The
#    next cell builds such a matrix with scipy and compares its bytes with the formula.
#    :::

# %%
n_big, per_row = 100_000, 10
big = sp.random_array((n_big, n_big), density=per_row / n_big, format="csr", rng=rng)
big_bytes = big.data.nbytes + big.indices.nbytes + big.indptr.nbytes
check_equal("scipy CSR bytes vs eq. (sp-memory)", big_bytes, csr_bytes(big.nnz, n_big, 4))
check_equal("the answer's 12 400 004 bytes", csr_bytes(per_row * n_big, n_big, 4), 12_400_004)
check_equal("rows before indptr overflows int32", INT32_MAX // per_row, 214_748_364)
print(f"CSR {big_bytes / 1e6:.1f} MB vs dense {n_big**2 * VALUE_BYTES / 1e9:.0f} GB")

# %% [markdown]
# 3. You store $A$ in CSR and need $A^\top x$ many times. Do you build $A^\top$?
#
#    :::{dropdown} Answer
#    Not necessarily. $A^\top x=\sum_i x_iA_{i,:}$: walk the rows of $A$ and *scatter*
#    $x_i\,\texttt{data}_p$ into $y_{\texttt{indices}_p}$, one pass over the entries in
#    $O(\text{nnz}+n+m)$, with no transpose stored (in NumPy, one `np.bincount` with
#    weights). Building $A^\top$ once costs a similar pass plus $\text{nnz}$ more memory, and
#    pays off when the product runs often on many threads (no scattered writes). The next cell
#    checks the scatter against `A.T @ x` and scipy.
#    :::

# %%
M = CSRMatrix.from_coo(*random_triplets(rng, (300, 200), 0.05), shape=(300, 200))
x_rows = rng.standard_normal(300)
scatter = np.bincount(M.indices, weights=M.data * x_rows[csr_row_ids(M.indptr)], minlength=200)
check_close("A^T x by scatter vs A.T @ x", scatter, M.T @ x_rows, atol=1e-12)
check_close("A^T x by scatter vs scipy", scatter, M.to_scipy().T @ x_rows, atol=1e-12)

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`saad2003iterative`, Chapter 3 (Sections 3.4 and 3.5): the COO, CSR, CSC and
#   other storage schemes, and the CSR and CSC matrix-vector products.
# - {cite:t}`gustavson1978two`: the row-by-row sparse product with a dense accumulator
#   ({eq}`sp-gustavson`, {eq}`sp-flops`) and the transpose by counting
#   ({eq}`sp-transpose`).
# - {cite:t}`davis2006direct`, Chapter 2: compressed-column storage, conversion from
#   triplets with duplicates summed, transpose, addition and multiplication (the same
#   algorithms, by columns).
# - {cite:t}`virtanen2020scipy` (the `scipy.sparse` module) and {cite:t}`scipy2025sparse`:
#   the reference implementation, its names (`data`, `indices`, `indptr`, `nnz`,
#   `eliminate_zeros`, `sum_duplicates`), its canonical format, and `csr_matrix` vs
#   `csr_array` semantics.
