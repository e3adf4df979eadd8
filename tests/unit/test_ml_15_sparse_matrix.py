"""Property tests of the sparse matrix class of notebooks/ml/15_sparse_matrix.py.

Matrices are drawn as COO triplets with small integer values, so that duplicates, explicit
zeros and exact cancellations are frequent and every sum is exact in float64: results are
compared with scipy.sparse and dense NumPy for exact equality, structure included.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.chapter_code import load_chapter_definitions

ch = load_chapter_definitions("notebooks/ml/15_sparse_matrix.py")
CSRMatrix = ch.CSRMatrix

FAST = settings(max_examples=40, deadline=None)

Triplets = tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]


@st.composite
def triplets(draw: st.DrawFn, shape: tuple[int, int] | None = None, max_dim: int = 7) -> Triplets:
    """COO triplets of a random shape (0 allowed) with repeated positions and zero values."""
    if shape is None:
        shape = (draw(st.integers(0, max_dim)), draw(st.integers(0, max_dim)))
    n_rows, n_cols = shape
    n_entries = draw(st.integers(0, 3 * n_rows * n_cols)) if n_rows and n_cols else 0
    rows = draw(
        st.lists(st.integers(0, max(n_rows - 1, 0)), min_size=n_entries, max_size=n_entries)
    )
    cols = draw(
        st.lists(st.integers(0, max(n_cols - 1, 0)), min_size=n_entries, max_size=n_entries)
    )
    values = draw(st.lists(st.integers(-3, 3), min_size=n_entries, max_size=n_entries))
    return (
        np.array(rows, dtype=np.int64),
        np.array(cols, dtype=np.int64),
        np.array(values, dtype=float),
        shape,
    )


@st.composite
def two_with_shapes(draw: st.DrawFn, same_shape: bool) -> tuple[Triplets, Triplets]:
    """Two sets of triplets: of equal shape, or of shapes (n, k) and (k, m)."""
    n, k, m = (draw(st.integers(0, 6)) for _ in range(3))
    first = draw(triplets(shape=(n, k)))
    second = draw(triplets(shape=(n, k) if same_shape else (k, m)))
    return first, second


def build(case: Triplets) -> tuple[CSRMatrix, sp.csr_array, np.ndarray]:
    rows, cols, values, shape = case
    dense = np.zeros(shape)
    np.add.at(dense, (rows, cols), values)  # eq. (sp-coo)
    ours = CSRMatrix.from_coo(rows, cols, values, shape)
    reference = sp.csr_array((values, (rows, cols)), shape=shape)
    return ours, reference, dense


def assert_same_csr(ours: CSRMatrix, reference: sp.csr_array | sp.csr_matrix) -> None:
    """Exactly scipy's canonical arrays (scipy's column order sorted first)."""
    reference = sp.csr_array(reference)
    reference.sort_indices()
    assert ours.shape == reference.shape
    np.testing.assert_array_equal(ours.indptr, reference.indptr)
    np.testing.assert_array_equal(ours.indices, reference.indices)
    np.testing.assert_array_equal(ours.data, reference.data)


def assert_canonical(matrix: CSRMatrix) -> None:
    n_rows, n_cols = matrix.shape
    assert len(matrix.indptr) == n_rows + 1 and matrix.indptr[0] == 0
    assert matrix.indptr[-1] == matrix.nnz == len(matrix.indices)
    for i in range(n_rows):
        row = matrix.indices[matrix.indptr[i] : matrix.indptr[i + 1]]
        assert np.all(np.diff(row) > 0) and np.all((row >= 0) & (row < n_cols))


@FAST
@given(triplets())
def test_construction_matches_scipy_and_dense(case: Triplets) -> None:
    ours, reference, dense = build(case)
    assert_canonical(ours)
    assert_same_csr(ours, reference)  # duplicates summed, explicit zeros kept, as scipy
    np.testing.assert_array_equal(ours.toarray(), dense)
    from_dense = CSRMatrix.from_dense(dense)
    assert_same_csr(from_dense, sp.csr_array(dense))
    assert from_dense.nnz == np.count_nonzero(dense) == ours.count_nonzero()
    assert from_dense == ours
    assert_same_csr(CSRMatrix.from_scipy(reference), reference)
    assert_same_csr(ours, ours.to_scipy())


@FAST
@given(triplets())
def test_eliminate_zeros(case: Triplets) -> None:
    ours, reference, dense = build(case)
    ours.eliminate_zeros()
    reference.eliminate_zeros()
    assert_same_csr(ours, reference)
    assert ours.nnz == ours.count_nonzero() == np.count_nonzero(dense)


@FAST
@given(triplets(), st.data())
def test_matvec_and_dense_products(case: Triplets, data: st.DataObject) -> None:
    ours, reference, dense = build(case)
    n_rows, n_cols = ours.shape
    x = np.array(data.draw(st.lists(st.integers(-4, 4), min_size=n_cols, max_size=n_cols)), float)
    w = np.array(data.draw(st.lists(st.integers(-4, 4), min_size=n_rows, max_size=n_rows)), float)
    k = data.draw(st.integers(0, 3))
    X = np.arange(n_cols * k, dtype=float).reshape(n_cols, k) - 2
    np.testing.assert_array_equal(ours @ x, dense @ x)
    np.testing.assert_array_equal(ours @ x, reference @ x)
    np.testing.assert_array_equal(ours.matvec(x), ch.csr_matvec_loop(ours.arrays(), x))
    np.testing.assert_array_equal(ours.dot(X), dense @ X)
    np.testing.assert_array_equal(ours @ X, reference @ X)
    np.testing.assert_array_equal(w @ ours, dense.T @ w)


@FAST
@given(triplets())
def test_entry_access_with_negative_indices(case: Triplets) -> None:
    ours, _, dense = build(case)
    n_rows, n_cols = ours.shape
    for i in range(-n_rows, n_rows):
        for j in range(-n_cols, n_cols):
            assert ours[i, j] == dense[i, j]


@FAST
@given(triplets())
def test_transpose(case: Triplets) -> None:
    ours, reference, dense = build(case)
    assert_same_csr(ours.T, reference.T)
    looped = ch.csr_transpose_loop(ours.arrays(), ours.shape[1])
    for name in ("data", "indices", "indptr"):
        np.testing.assert_array_equal(getattr(ours.T, name), getattr(looped, name))
    np.testing.assert_array_equal(ours.transpose().toarray(), dense.T)
    twice = ours.T.T  # an involution, explicit zeros included
    for name in ("data", "indices", "indptr"):
        np.testing.assert_array_equal(getattr(twice, name), getattr(ours, name))


@FAST
@given(two_with_shapes(same_shape=True))
def test_addition(cases: tuple[Triplets, Triplets]) -> None:
    (a, a_ref, a_dense), (b, b_ref, b_dense) = (build(case) for case in cases)
    total = a + b
    assert_canonical(total)
    assert_same_csr(total, a_ref + b_ref)  # zeros of the sum dropped, as scipy
    merged = ch.csr_add_loop(a.arrays(), b.arrays(), a.shape[1])
    assert_same_csr(CSRMatrix(*merged, a.shape), a_ref + b_ref)
    np.testing.assert_array_equal(total.toarray(), a_dense + b_dense)
    np.testing.assert_array_equal((a - b).toarray(), a_dense - b_dense)
    assert (a + b).T == a.T + b.T
    assert a + b == b + a
    assert (a - a).nnz == 0


@FAST
@given(two_with_shapes(same_shape=False), st.data())
def test_sparse_product(cases: tuple[Triplets, Triplets], data: st.DataObject) -> None:
    (a, a_ref, a_dense), (b, b_ref, b_dense) = (build(case) for case in cases)
    product = a @ b
    assert_canonical(product)
    assert_same_csr(product, a_ref @ b_ref)
    gustavson = ch.csr_matmul_gustavson(a.arrays(), b.arrays(), b.shape[1])
    assert_same_csr(CSRMatrix(*gustavson, product.shape), a_ref @ b_ref)
    np.testing.assert_array_equal(product.toarray(), a_dense @ b_dense)
    m = b.shape[1]
    x = np.array(data.draw(st.lists(st.integers(-4, 4), min_size=m, max_size=m)), float)
    np.testing.assert_array_equal(product @ x, a @ (b @ x))  # (AB)x = A(Bx)
    assert product.T == b.T @ a.T


def test_errata_example() -> None:
    dense = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0], [4.0, 5.0, 0.0]])
    matrix = CSRMatrix.from_dense(dense)
    np.testing.assert_array_equal(matrix.data, [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(matrix.indices, [0, 2, 2, 0, 1])
    np.testing.assert_array_equal(matrix.indptr, [0, 2, 3, 5])
    np.testing.assert_array_equal(matrix @ np.ones(3), [3, 3, 9])
    assert_same_csr(matrix, sp.csr_matrix(dense))


def test_memory_formula_and_index_dtype() -> None:
    matrix = CSRMatrix.from_dense(np.eye(50))
    assert matrix.indices.dtype == np.int32 and matrix.indptr.dtype == np.int32
    assert matrix.nbytes == 50 * (8 + 4) + 51 * 4
    assert ch.index_dtype_for((10, 10), 2**31) == np.int64
    assert ch.index_dtype_for((2**31, 1), 0) == np.int64
    assert ch.index_dtype_for((2**31 - 1, 5), 2**31 - 1) == np.int32


def test_empty_rows_in_reduceat() -> None:
    # rows 0, 2 and 4 (the last) are empty: the case np.add.reduceat gets wrong by itself
    matrix = CSRMatrix.from_coo([1, 3, 3], [0, 0, 1], [2.0, 3.0, 4.0], (5, 2))
    np.testing.assert_array_equal(matrix @ np.ones(2), [0, 2, 0, 7, 0])
    np.testing.assert_array_equal(
        matrix @ np.ones((2, 2)), [[0, 0], [2, 2], [0, 0], [7, 7], [0, 0]]
    )


def _matrix() -> CSRMatrix:
    return CSRMatrix.from_dense(np.arange(12.0).reshape(3, 4))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: CSRMatrix.from_coo([0, 1, 2], [0, 1], [1, 2, 3], (3, 3)),
            ValueError,
            "same length, got 3, 2 and 3",
        ),
        (
            lambda: CSRMatrix.from_coo([0, 3], [0, 1], [1, 2], (3, 3)),
            ValueError,
            "row index 3 is out of range [0, 3)",
        ),
        (
            lambda: CSRMatrix.from_coo([0, 1], [0, -1], [1, 2], (3, 3)),
            ValueError,
            "column index -1 is out of range",
        ),
        (
            lambda: CSRMatrix.from_coo([0.0], [0], [1.0], (3, 3)),
            TypeError,
            "rows must hold integers",
        ),
        (lambda: CSRMatrix.from_coo([[0]], [0], [1.0], (3, 3)), ValueError, "rows must be a 1-D"),
        (lambda: CSRMatrix.from_coo([0], [0], ["a"], (3, 3)), TypeError, "real numbers"),
        (lambda: CSRMatrix.from_coo([0], [0], [1.0], (3.0, 3)), TypeError, "two integers"),
        (lambda: CSRMatrix.from_coo([0], [0], [1.0], (True, 3)), TypeError, "two integers"),
        (lambda: CSRMatrix.from_coo([0], [0], [1.0], (3,)), TypeError, "pair"),
        (lambda: CSRMatrix.from_coo([], [], [], (-1, 3)), ValueError, "non-negative"),
        (lambda: CSRMatrix.from_dense(np.ones(3)), ValueError, "2-D array, got shape (3,)"),
        (lambda: CSRMatrix.from_dense(np.ones((2, 2, 2))), ValueError, "2-D array"),
        (lambda: CSRMatrix.from_dense(np.ones((2, 2)) * 1j), TypeError, "real numbers"),
        (lambda: CSRMatrix.from_scipy(np.ones((2, 2))), TypeError, "scipy.sparse"),
        (lambda: CSRMatrix([1, 2], [2, 0], [0, 2], (1, 3)), ValueError, "not strictly increasing"),
        (lambda: CSRMatrix([1, 2], [1, 1], [0, 2], (1, 3)), ValueError, "not strictly increasing"),
        (lambda: CSRMatrix([1], [0], [0, 1], (2, 3)), ValueError, "n_rows + 1 = 3 entries"),
        (lambda: CSRMatrix([1], [0], [0, 2], (1, 3)), ValueError, "from 0 to nnz = 1"),
        (lambda: CSRMatrix([1], [0, 1], [0, 1], (1, 3)), ValueError, "got 2 and 1"),
        (lambda: CSRMatrix([1], [3], [0, 1], (1, 3)), ValueError, "column index 3"),
        (lambda: _matrix() @ np.ones(3), ValueError, "shapes (3, 4) and (3,) are not aligned"),
        (lambda: _matrix() @ _matrix(), ValueError, "shapes (3, 4) and (3, 4) are not aligned"),
        (lambda: _matrix() @ np.ones((3, 2)), ValueError, "shapes (3, 4) and (3, 2)"),
        (lambda: np.ones(4) @ _matrix(), ValueError, "shapes (4,) and (3, 4)"),
        (lambda: _matrix() @ np.ones((2, 2, 4)), ValueError, "2-D"),
        (lambda: _matrix() + _matrix().T, ValueError, "shapes (3, 4) and (4, 3) differ"),
        (lambda: _matrix()[3, 0], IndexError, "(3, 0) is out of range for shape (3, 4)"),
        (lambda: _matrix()[0, -5], IndexError, "(0, -5)"),
        (lambda: _matrix()[0.5, 1], TypeError, "two integers"),
        (lambda: _matrix()[0], TypeError, "two integers"),
        (lambda: _matrix()[True, 0], TypeError, "two integers"),
        (lambda: _matrix() + np.ones((3, 4)), TypeError, ""),
        (lambda: _matrix() @ [1, 2, 3, 4], TypeError, ""),
    ],
)
def test_invalid_input_raises_with_a_clear_message(
    call: Callable[[], object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message) if message else None):
        call()
