"""Property tests of the bit-reversal functions of notebooks/ml/16_reverse_bits.py."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.chapter_code import load_chapter_definitions

ch = load_chapter_definitions("notebooks/ml/16_reverse_bits.py")

INT_METHODS = [ch.reverse_bits_string, ch.reverse_bits_loop, ch.reverse_bits_swap]
BYTES_METHODS = [
    ch.reverse_bytes_string,
    ch.reverse_bytes_loop,
    ch.reverse_bytes_bigint,
    ch.reverse_bytes_table,
    ch.reverse_bytes_numpy_bits,
    ch.reverse_bytes_numpy_table,
]


@st.composite
def width_and_value(draw: st.DrawFn) -> tuple[int, int]:
    width = draw(st.integers(min_value=1, max_value=200))
    return width, draw(st.integers(min_value=0, max_value=(1 << width) - 1))


def by_definition(x: int, width: int) -> int:
    """rev_w(x) as the sum over bits, eq. (bits-rev)."""
    return sum(((x >> i) & 1) << (width - 1 - i) for i in range(width))


@given(width_and_value())
def test_int_methods_agree_with_definition(case: tuple[int, int]) -> None:
    width, x = case
    expected = by_definition(x, width)
    for method in INT_METHODS:
        assert method(x, width) == expected, method.__name__


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_explicit_32_bit_masks(x: int) -> None:
    assert ch.reverse_bits_swap32(x) == ch.reverse_bits_string(x, 32)


@given(width_and_value())
def test_int_involution_and_popcount(case: tuple[int, int]) -> None:
    width, x = case
    reversed_x = ch.reverse_bits_swap(x, width)
    assert 0 <= reversed_x < 1 << width
    assert ch.reverse_bits_swap(reversed_x, width) == x
    assert reversed_x.bit_count() == x.bit_count()


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_bytes_methods_agree(data: bytes) -> None:
    expected = ch.reverse_bytes_string(data)
    assert len(expected) == len(data)
    for method in BYTES_METHODS:
        assert method(data) == expected, method.__name__
        assert method(bytearray(data)) == expected, method.__name__


@given(st.binary(max_size=300))
def test_bytes_involution_popcount_and_bytewise_rule(data: bytes) -> None:
    reversed_data = ch.reverse_bytes_table(data)
    assert ch.reverse_bytes_table(reversed_data) == data
    assert (
        int.from_bytes(reversed_data, "big").bit_count() == int.from_bytes(data, "big").bit_count()
    )
    # eq. (bits-bytes): byte n-1-j of the result is rev_8 of byte j
    n = len(data)
    assert all(reversed_data[n - 1 - j] == ch.reverse_bits_loop(data[j], 8) for j in range(n))


@given(st.binary(max_size=100), st.binary(max_size=100))
def test_reversal_of_concatenation(a: bytes, b: bytes) -> None:
    # eq. (bits-concat): rev(a || b) = rev(b) || rev(a)
    for method in BYTES_METHODS:
        assert method(a + b) == method(b) + method(a), method.__name__


@given(st.text(alphabet="01", max_size=200))
def test_str_bitstring_matches_int_reversal(bits: str) -> None:
    reversed_bits = ch.reverse_bitstring(bits)
    assert ch.reverse_bitstring(reversed_bits) == bits
    if bits:
        assert int(reversed_bits, 2) == ch.reverse_bits_string(int(bits, 2), len(bits))


@given(st.binary(min_size=1, max_size=50))
def test_byte_order_reversal_is_not_bit_reversal(data: bytes) -> None:
    # The notes' operation agrees with bit reversal only when every byte is a bit palindrome.
    all_palindromes = all(ch.reverse_bits_loop(byte, 8) == byte for byte in data)
    assert (ch.reverse_byte_order(data) == ch.reverse_bytes_table(data)) == all_palindromes


def test_errata_constants() -> None:
    data = b"\xad\xde\xde\xc0"
    assert ch.reverse_byte_order(data).hex() == "c0dedead"
    assert ch.reverse_bits_swap(0xADDEDEC0, 32) == 0x037B7BB5
    for method in BYTES_METHODS:
        assert method(data).hex() == "037b7bb5"


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: ch.reverse_bits_swap(-1, 8), ValueError),
        (lambda: ch.reverse_bits_string(256, 8), ValueError),
        (lambda: ch.reverse_bits_loop(0, 0), ValueError),
        (lambda: ch.reverse_bits_loop(0, -3), ValueError),
        (lambda: ch.reverse_bits_swap(3, 8.0), TypeError),
        (lambda: ch.reverse_bits_swap(True, 8), TypeError),
        (lambda: ch.reverse_bits_string(3.0, 8), TypeError),
        (lambda: ch.reverse_bytes_table("ADDEDEC0"), TypeError),
        (lambda: ch.reverse_bytes_numpy_bits([1, 2]), TypeError),
        (lambda: ch.reverse_bytes_bigint(None), TypeError),
        (lambda: ch.reverse_bitstring("0120"), ValueError),
        (lambda: ch.reverse_bitstring(b"01"), TypeError),
        (lambda: ch.swap_masks(12), ValueError),
    ],
)
def test_invalid_input_raises(call: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        call()  # type: ignore[operator]
