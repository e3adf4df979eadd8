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
# # 16. Reverse the bits of a bitstring
#
# **The question.** Reverse a bitstring: given a bytestring such as `b'\xAD\xDE\xDE\xC0'` (or a
# fixed-width integer, or a `str` of `'0'` and `'1'`), return its bits in reverse order.
#
# **What you will be able to answer.** What bit reversal is and why it is not byte reversal;
# four ways to compute it (string slicing, the $O(\log w)$ mask swap, a 256-entry table, NumPy)
# with their costs; and where it shows up (the FFT's bit-reversal permutation).

# %%
from collections.abc import Callable
from functools import cache, lru_cache

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import to_rgb

from notebook_utils.checks import check_close, check_equal, check_true
from notebook_utils.seeding import seed_everything
from notebook_utils.style import PALETTE, use_book_style
from notebook_utils.timing import time_call

use_book_style()
rng = seed_everything(0)

# %% [markdown]
# ## Short answer
#
# - For a **width-$w$ integer**, bit $i$ moves to position $w-1-i$:
#   $\mathrm{rev}_w(x)=\sum_{i=0}^{w-1}\mathrm{bit}_i(x)\,2^{w-1-i}$. The width is part of the
#   question: $\mathrm{rev}_8(1)=128$ but $\mathrm{rev}_{32}(1)=2^{31}$. In Python,
#   `int(f"{x:0{w}b}"[::-1], 2)`; for a `str` bitstring, `s[::-1]`.
# - For a **bytestring**, reversing all its bits means reversing the order of the bytes *and*
#   the bits inside each byte. The notes' `bytearray(data).reverse()` does only the first: it
#   swaps the endianness, turning `ADDEDEC0` into `C0DEDEAD`, whereas the bit reversal is
#   `037B7BB5`. The notes' snippet also returns nothing (`reverse()` works in place).
# - Fast ways: the **mask swap** exchanges adjacent bits, then pairs, nibbles, bytes and
#   half-words ($\log_2 w$ steps with masks `0x55555555`, `0x33333333`, `0x0F0F0F0F`,
#   `0x00FF00FF`, then a 16-bit rotation for $w=32$); a **256-entry table** of reversed bytes
#   applied with `bytes.translate` and a slice `[::-1]`; or NumPy's `unpackbits`/`packbits`.
#   All agree on every input (checked exhaustively below); on long inputs the table and NumPy
#   are orders of magnitude faster than a Python loop over bits (Experiment 2).

# %% [markdown]
# ## Derivation
#
# ### Bit reversal of a fixed-width integer
#
# Write a non-negative integer $x<2^w$ in binary, $x=\sum_{i=0}^{w-1}\mathrm{bit}_i(x)\,2^i$
# with $\mathrm{bit}_i(x)=\lfloor x/2^i\rfloor \bmod 2$. Its bit reversal in width $w$ mirrors
# the positions:
#
# $$
# \mathrm{rev}_w(x)=\sum_{i=0}^{w-1}\mathrm{bit}_i(x)\,2^{\,w-1-i}
# $$ (bits-rev)
#
# Mirroring twice is the identity, $\mathrm{rev}_w(\mathrm{rev}_w(x))=x$, and it moves bits
# without changing them, so the number of ones (the popcount) is preserved. The width matters
# because leading zeros count: $1$ is $\texttt{00000001}$ in 8 bits and becomes
# $\texttt{10000000}=128$. Python's integers have no fixed width, so every function below takes
# $w$ as an argument.
#
# ### Bit reversal of a bytestring
#
# A bytestring $B_0B_1\dots B_{n-1}$ is a string of $8n$ bits. Read it as one big-endian integer
# $X=\sum_{j=0}^{n-1}B_j\,2^{8(n-1-j)}$ (`int.from_bytes(data, "big")`). Bit $i$ of byte $B_j$
# sits at position $p=8(n-1-j)+i$ of $X$, and {eq}`bits-rev` with $w=8n$ moves it to
# $8n-1-p=8j+(7-i)$: position $7-i$ of the byte of significance $j$, which is byte $n-1-j$ of the
# output. So
#
# $$
# \mathrm{rev}(B_0B_1\dots B_{n-1})=\mathrm{rev}_8(B_{n-1})\,\mathrm{rev}_8(B_{n-2})\dots
# \mathrm{rev}_8(B_0)
# $$ (bits-bytes)
#
# Two operations: reverse the byte order, and reverse the 8 bits within each byte. Reading $X$
# little-endian instead gives the same bytes (the same computation with $j$ and $n-1-j$
# swapped), so bit reversal of a bytestring does not depend on an endianness convention, as long
# as input and output use the same one; the Verification section checks this.
# The notes' `bytearray.reverse()` is only the first half of {eq}`bits-bytes`: the
# byte-order (endianness) swap. {eq}`bits-bytes` also gives the rule for concatenations:
#
# $$
# \mathrm{rev}(a\,\|\,b)=\mathrm{rev}(b)\,\|\,\mathrm{rev}(a)
# $$ (bits-concat)
#
# ### Reversal in $\log_2 w$ steps: the mask swap
#
# For $w=2^k$, split the word into blocks of $s$ bits and swap each even block with its odd
# neighbour, for $s=1,2,4,\dots,w/2$. With $m_s$ the mask of the low block of every $2s$-bit
# group,
#
# $$
# x \leftarrow \big((x \gg s)\ \&\ m_s\big)\ \big|\ \big((x\ \&\ m_s) \ll s\big),
# \qquad
# m_s=\frac{2^w-1}{2^{2s}-1}\,(2^s-1)
# $$ (bits-swap)
#
# ($\gg,\ll,\&,|$ are shifts, AND and OR, and the product stays below $2^w$). The quotient
# $(2^w-1)/(2^{2s}-1)$ has a one every $2s$ bits ($2s$ divides $w$), and multiplying by
# $2^s-1$ fills the low $s$ bits of each group: for $w=32$, $m_1=\texttt{0x55555555}$,
# $m_2=\texttt{0x33333333}$, $m_4=\texttt{0x0F0F0F0F}$, $m_8=\texttt{0x00FF00FF}$ and
# $m_{16}=\texttt{0x0000FFFF}$, the last swap being a rotation by 16. Why it works: write a bit's
# position as $k$ binary digits; the swap at block size $2^t$ flips digit $t$ of every position.
# After all $k$ swaps every digit is flipped, so position $p$ goes to $(2^k-1)-p=w-1-p$,
# which is {eq}`bits-rev`. Each step costs a few word operations, so a word takes $O(\log w)$
# operations instead of $w$ for the loop over bits {cite}`warren2012hackers`.
#
# For a width $w$ that is not a power of two, reverse in the next power of two $P\ge w$ and
# shift back: the top $P-w$ bits of $x$ are zero, and
#
# $$
# \mathrm{rev}_w(x)=\mathrm{rev}_P(x)\gg(P-w),
# $$ (bits-pad)
#
# since bit $i<w$ lands at $P-1-i\ge P-w$ and then at $w-1-i$.

# %% [markdown]
# ## Implementation from scratch
#
# ### Input validation
#
# Every integer function takes the value and its width and refuses what has no width-$w$
# reversal: a negative value, a value with more than $w$ bits, a width below 1, and non-integers
# (`bool` included, although Python counts it as an `int`). Byte functions take `bytes` or
# `bytearray` and refuse a `str`, whose bits depend on an encoding the caller has to choose.


# %%
def check_width_value(x: int, width: int) -> None:
    """Raise TypeError / ValueError unless 0 <= x < 2**width with an int width >= 1."""
    if not isinstance(width, int) or isinstance(width, bool):
        raise TypeError(f"width must be an int, got {type(width).__name__}")
    if width < 1:
        raise ValueError(f"width must be a positive number of bits, got {width}")
    if not isinstance(x, int) or isinstance(x, bool):
        raise TypeError(f"x must be an int, got {type(x).__name__}")
    if x < 0:
        raise ValueError(f"x must be non-negative (no two's complement width is implied), got {x}")
    if x >> width:
        raise ValueError(f"x = {x} does not fit in {width} bits (it needs {x.bit_length()})")


def check_bytes(data: bytes | bytearray) -> bytes:
    """`data` as immutable bytes; TypeError for anything that is not bytes or bytearray."""
    if isinstance(data, str):
        raise TypeError(
            "expected bytes, got str: encode it first (data.encode()), or use "
            "reverse_bitstring for a str of '0' and '1'"
        )
    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"expected bytes or bytearray, got {type(data).__name__}")
    return bytes(data)


# %% [markdown]
# ### (a) Strings: the definition, readable
#
# {eq}`bits-rev` is "write $w$ binary digits, read them backwards". A `str` bitstring is
# reversed by slicing; an integer goes through its zero-padded binary string; a bytestring
# through the string of its $8n$ bits ({eq}`bits-bytes` is then automatic).


# %%
def reverse_bitstring(bits: str) -> str:
    """Reverse a str of '0' and '1' characters."""
    if not isinstance(bits, str):
        raise TypeError(f"expected a str of '0' and '1', got {type(bits).__name__}")
    if bits.strip("01"):
        raise ValueError(f"a bitstring holds only '0' and '1', got {bits!r}")
    return bits[::-1]


def reverse_bits_string(x: int, width: int) -> int:
    """rev_w(x) of eq. (bits-rev), through the width-w binary string of x."""
    check_width_value(x, width)
    return int(f"{x:0{width}b}"[::-1], 2)


def reverse_bytes_string(data: bytes | bytearray) -> bytes:
    """Bit reversal of a bytestring, eq. (bits-bytes), through the string of its 8n bits."""
    data = check_bytes(data)
    if not data:
        return b""
    bits = "".join(f"{byte:08b}" for byte in data)  # B_0's bits first, most significant first
    return int(bits[::-1], 2).to_bytes(len(data), "big")


# %% [markdown]
# The loop over bits, which interviewers often expect first: shift the answer left and append
# the lowest bit of $x$, $w$ times. For a bytestring it runs on each byte, in reverse byte order.
# It is the slow baseline of Experiment 2.


# %%
def reverse_bits_loop(x: int, width: int) -> int:
    """rev_w(x) of eq. (bits-rev), one bit per iteration."""
    check_width_value(x, width)
    reversed_x = 0
    for _ in range(width):
        reversed_x = (reversed_x << 1) | (x & 1)  # the lowest bit of x becomes the next bit
        x >>= 1
    return reversed_x


def reverse_bytes_loop(data: bytes | bytearray) -> bytes:
    """Bit reversal of a bytestring, eq. (bits-bytes), with a Python loop over every bit."""
    data = check_bytes(data)
    return bytes(reverse_bits_loop(byte, 8) for byte in reversed(data))


# %% [markdown]
# ### (b) The mask swap
#
# The 32-bit version with the masks written out, as it appears in C code, then the general one,
# whose masks come from {eq}`bits-swap` and which handles any width with {eq}`bits-pad`.


# %%
def reverse_bits_swap32(x: int) -> int:
    """rev_32(x) with five mask swaps, eq. (bits-swap)."""
    check_width_value(x, 32)
    x = ((x >> 1) & 0x55555555) | ((x & 0x55555555) << 1)  # swap adjacent bits
    x = ((x >> 2) & 0x33333333) | ((x & 0x33333333) << 2)  # swap pairs
    x = ((x >> 4) & 0x0F0F0F0F) | ((x & 0x0F0F0F0F) << 4)  # swap nibbles
    x = ((x >> 8) & 0x00FF00FF) | ((x & 0x00FF00FF) << 8)  # swap bytes
    return ((x >> 16) | (x << 16)) & 0xFFFFFFFF  # rotate by 16: swap half-words


@lru_cache(maxsize=32)
def swap_masks(width: int) -> tuple[tuple[int, int], ...]:
    """The (s, m_s) pairs of eq. (bits-swap) for a power-of-two width, s = 1, 2, ..., w/2."""
    if width < 2 or width & (width - 1):
        raise ValueError(f"the mask swap needs a power-of-two width >= 2, got {width}")
    masks = []
    s = 1
    while s < width:
        mask, period = (1 << s) - 1, 2 * s  # the low s bits of one 2s-bit group
        while period < width:  # copy the pattern by doubling: linear cost, unlike the division
            mask |= mask << period
            period *= 2
        masks.append((s, mask))  # = (2^w - 1) / (2^2s - 1) * (2^s - 1), eq. (bits-swap)
        s *= 2
    return tuple(masks)


def reverse_bits_swap(x: int, width: int) -> int:
    """rev_w(x) in ceil(log2 w) mask swaps, eq. (bits-swap), padded by eq. (bits-pad)."""
    check_width_value(x, width)
    padded_width = 1 << max(width - 1, 1).bit_length()  # next power of two P >= max(w, 2)
    for s, mask in swap_masks(padded_width):
        x = ((x >> s) & mask) | ((x & mask) << s)  # eq. (bits-swap)
    return x >> (padded_width - width)  # eq. (bits-pad)


# %% [markdown]
# ### (c) A 256-entry table, applied with `bytes.translate`
#
# A byte has only 256 values, so their reversals can be computed once. `bytes.translate(table)`
# maps every byte through a 256-byte table in C, and the slice `[::-1]` reverses the byte
# order: both halves of {eq}`bits-bytes` without a Python-level loop {cite}`python2025bytes`.
# The table is built inside a cached function (built on first use, then reused).


# %%
@cache
def byte_reverse_table() -> bytes:
    """The 256-byte table whose entry b is rev_8(b)."""
    return bytes(reverse_bits_string(byte, 8) for byte in range(256))


def reverse_bytes_table(data: bytes | bytearray) -> bytes:
    """Bit reversal of a bytestring, eq. (bits-bytes): table per byte, then byte order."""
    return check_bytes(data).translate(byte_reverse_table())[::-1]


# %% [markdown]
# ### (d) NumPy
#
# `np.unpackbits` turns a `uint8` array into its bits, by default most significant first;
# with `bitorder="little"` least significant first {cite}`numpy2025packbits`. Unpacking the
# byte-reversed array little-first and packing it back big-first therefore reverses the bits
# of every byte: {eq}`bits-bytes` in two vectorised calls. The table also works on arrays, as
# fancy indexing.


# %%
def reverse_bytes_numpy_bits(data: bytes | bytearray) -> bytes:
    """Bit reversal of a bytestring, eq. (bits-bytes), with np.unpackbits / np.packbits."""
    byte_array = np.frombuffer(check_bytes(data), dtype=np.uint8)  # (n,)
    bits = np.unpackbits(byte_array[::-1], bitorder="little")  # (8n,): each byte LSB first
    return np.packbits(bits, bitorder="big").tobytes()  # (n,): packed MSB first


def reverse_bytes_numpy_table(data: bytes | bytearray) -> bytes:
    """Bit reversal of a bytestring, eq. (bits-bytes), as a table lookup on a uint8 array."""
    byte_array = np.frombuffer(check_bytes(data), dtype=np.uint8)  # (n,)
    table = np.frombuffer(byte_reverse_table(), dtype=np.uint8)  # (256,)
    return table[byte_array[::-1]].tobytes()  # (n,)


# %% [markdown]
# ### (e) The whole bytestring as one big integer
#
# Python's integers are unbounded, so the mask swap runs on all $8n$ bits at once:
# `int.from_bytes`, {eq}`bits-swap` with $w=8n$ (padded by {eq}`bits-pad`), `to_bytes`.
# Each of the $\log_2 8n$ steps is a handful of big-integer operations of cost $O(n)$.


# %%
def reverse_bytes_bigint(data: bytes | bytearray) -> bytes:
    """Bit reversal of a bytestring, eq. (bits-bytes), as rev_{8n} of one big integer."""
    data = check_bytes(data)
    if not data:
        return b""
    as_int = int.from_bytes(data, "big")
    return reverse_bits_swap(as_int, 8 * len(data)).to_bytes(len(data), "big")


# %% [markdown]
# And the notes' code, made into a function that returns its result, to compare with:


# %%
def reverse_byte_order(data: bytes | bytearray) -> bytes:
    """The notes' operation: reverse the order of the bytes (an endianness swap), not the bits."""
    reversed_bytes = bytearray(check_bytes(data))
    reversed_bytes.reverse()  # in place; returns None, which the notes' snippet never handles
    return bytes(reversed_bytes)


# %%
INT_METHODS: dict[str, Callable[[int, int], int]] = {
    "loop": reverse_bits_loop,
    "mask swap": reverse_bits_swap,
}
BYTES_METHODS: dict[str, Callable[[bytes], bytes]] = {
    "bit string": reverse_bytes_string,
    "per-bit loop": reverse_bytes_loop,
    "big int + swap": reverse_bytes_bigint,
    "table + translate": reverse_bytes_table,
    "NumPy unpack/pack": reverse_bytes_numpy_bits,
    "NumPy table": reverse_bytes_numpy_table,
}

# %% [markdown]
# ## Verification
#
# ### The errata's example
#
# The notes' snippet run as written, then every method on `0xADDEDEC0`: the notes produce the
# byte swap `C0DEDEAD`; the bit reversal is `037B7BB5`, and every method must give it.

# %%
data = b"\xad\xde\xde\xc0"
my_data = bytearray(data)  # the notes' three lines, verbatim
my_data.reverse()
check_equal("notes' bytearray.reverse() is the byte swap 0xC0DEDEAD", my_data.hex(), "c0dedead")
check_equal("reverse_byte_order(0xADDEDEC0)", reverse_byte_order(data), bytes(my_data))

word = int.from_bytes(data, "big")
check_equal("rev_32(0xADDEDEC0), string method", reverse_bits_string(word, 32), 0x037B7BB5)
check_equal("rev_32(0xADDEDEC0), explicit 32-bit masks", reverse_bits_swap32(word), 0x037B7BB5)
for name, method in INT_METHODS.items():
    check_equal(f"rev_32(0xADDEDEC0), {name}", method(word, 32), 0x037B7BB5)
for name, method in BYTES_METHODS.items():
    check_equal(f"bit reversal of b'\\xAD\\xDE\\xDE\\xC0', {name}", method(data).hex(), "037b7bb5")
print(
    f"byte swap: 0x{reverse_byte_order(data).hex().upper()}, "
    f"bit reversal: 0x{reverse_bytes_table(data).hex().upper()}"
)

# %% [markdown]
# The masks built by doubling are {eq}`bits-swap`'s quotient formula (checked for $w$ up
# to 1024), and for $w=32$ they are the textbook constants:

# %%
check_true(
    "swap_masks(w) = (2^w - 1) / (2^2s - 1) · (2^s - 1) for w = 2, 4, ..., 1024",
    all(
        mask == ((1 << w) - 1) // ((1 << (2 * s)) - 1) * ((1 << s) - 1)
        for w in (2**k for k in range(1, 11))
        for s, mask in swap_masks(w)
    ),
)
check_equal(
    "swap_masks(32) vs 0x55555555, 0x33333333, 0x0F0F0F0F, 0x00FF00FF, 0x0000FFFF",
    [mask for _, mask in swap_masks(32)],
    [0x55555555, 0x33333333, 0x0F0F0F0F, 0x00FF00FF, 0x0000FFFF],
)

# %% [markdown]
# ### Every 8- and 16-bit input
#
# The string method, which is {eq}`bits-rev` read literally, is the reference. Each other
# method is run on all $2^8$ and all $2^{16}$ values; the byte methods see each value as its 1-
# or 2-byte big-endian bytestring. The reference is itself checked against the sum
# {eq}`bits-rev` computed with NumPy.

# %%
for width in (8, 16):
    values = np.arange(2**width)  # (2^w,)
    positions = np.arange(width)  # (w,)
    bits = (values[:, None] >> positions) & 1  # (2^w, w): bit_i(x)
    by_formula = (bits << (width - 1 - positions)).sum(axis=1)  # eq. (bits-rev)
    reference = np.array([reverse_bits_string(int(x), width) for x in values])
    check_equal(f"{width}-bit: string method vs the sum (bits-rev)", reference, by_formula)
    results = {
        name: [method(int(x), width) for x in values] for name, method in INT_METHODS.items()
    }
    if width == 16:
        results["explicit 32-bit masks, shifted"] = [
            reverse_bits_swap32(int(x)) >> 16 for x in values
        ]
    n_bytes = width // 8
    for name, method in BYTES_METHODS.items():
        results[name] = [
            int.from_bytes(method(int(x).to_bytes(n_bytes, "big")), "big") for x in values
        ]
    for name, result in results.items():
        check_equal(f"{width}-bit, all {2**width} inputs: {name} vs string", result, reference)

# %% [markdown]
# ### Random 32- and 64-bit words, other widths, random bytestrings
#
# Random words for the integer methods (the 64-bit results compared as `uint64` arrays, every
# width from 1 to 70 for the padding of {eq}`bits-pad`), and random bytestrings of random
# lengths from 0 to 300 bytes for the bytestring methods. The same draws check the
# involution $\mathrm{rev}(\mathrm{rev}(x))=x$ and that the popcount is preserved.

# %%
for width in (32, 64):
    words = [int(w) for w in rng.integers(0, 2**width, size=2000, dtype=np.uint64)]
    reference = np.array([reverse_bits_string(w, width) for w in words], dtype=np.uint64)
    for name, method in INT_METHODS.items():
        ours = np.array([method(w, width) for w in words], dtype=np.uint64)
        check_equal(f"{width}-bit, 2000 random words: {name} vs string", ours, reference)
    twice = np.array([reverse_bits_swap(int(r), width) for r in reference], dtype=np.uint64)
    check_equal(f"{width}-bit: involution rev(rev(x)) = x", twice, np.array(words, np.uint64))

odd_width_ok = all(
    reverse_bits_swap(x, w) == reverse_bits_string(x, w)
    for w in range(1, 71)
    for x in [0, 1, (1 << w) - 1, *(int(v) % (1 << w) for v in rng.integers(0, 2**63, size=20))]
)
check_true("mask swap vs string for every width 1..70 (padding, eq. bits-pad)", odd_width_ok)

# %%
random_strings = [rng.bytes(int(n)) for n in rng.integers(0, 301, size=300)]
reference = [reverse_bytes_string(s) for s in random_strings]
for name, method in BYTES_METHODS.items():
    if method is reverse_bytes_string:
        continue  # the reference itself
    same = [method(s) == r for s, r in zip(random_strings, reference, strict=True)]
    check_true(f"300 random bytestrings (0-300 B): {name} vs bit string", all(same))
check_true(
    "bytestrings: involution and preserved popcount",
    all(
        reverse_bytes_table(r) == s
        and int.from_bytes(r, "big").bit_count() == int.from_bytes(s, "big").bit_count()
        for s, r in zip(random_strings, reference, strict=True)
    ),
)
check_true(
    "same result with the bytestring read little-endian",
    all(
        reverse_bits_string(int.from_bytes(s, "little"), 8 * len(s)).to_bytes(len(s), "little") == r
        for s, r in zip(random_strings, reference, strict=True)
        if s
    ),
)

# %% [markdown]
# ### Input validation
#
# Each invalid input raises the stated error:

# %%
invalid_calls = [
    ("negative x", lambda: reverse_bits_swap(-1, 8), ValueError),
    ("x ≥ 2^w", lambda: reverse_bits_string(256, 8), ValueError),
    ("width 0", lambda: reverse_bits_loop(0, 0), ValueError),
    ("float width", lambda: reverse_bits_swap(3, 8.0), TypeError),
    ("float x", lambda: reverse_bits_string(3.0, 8), TypeError),
    ("str instead of bytes", lambda: reverse_bytes_table("ADDEDEC0"), TypeError),
    ("list instead of bytes", lambda: reverse_bytes_numpy_bits([1, 2]), TypeError),
    ("bitstring with a '2'", lambda: reverse_bitstring("0120"), ValueError),
]
for what, call, error in invalid_calls:
    message = ""
    try:
        call()
        raised = "nothing"
    except (TypeError, ValueError) as exc:
        raised = type(exc).__name__
        message = str(exc)
    check_true(f"{what} raises {error.__name__}", raised == error.__name__, message)

# %% [markdown]
# ## Experiments
#
# ### 1. Byte reversal and bit reversal of `0xADDEDEC0`, bit by bit
#
# The 32 bits of the word, most significant first, coloured by the input byte they come from
# (pale cells are zeros). Both operations move whole bytes to the mirrored slot; only the bit
# reversal also mirrors the pattern inside each byte.


# %%
def bits_msb_first(value: int, width: int) -> np.ndarray:
    """The width bits of value, most significant first, shape (width,)."""
    return (value >> np.arange(width - 1, -1, -1)) & 1


rows = {
    "original": word,
    "bytes reversed\n(the notes)": int.from_bytes(reverse_byte_order(data), "big"),
    "bits reversed": reverse_bits_swap(word, 32),
}
source_byte = {  # for each output bit (MSB first), the index of the input byte it came from
    "original": np.arange(32) // 8,
    "bytes reversed\n(the notes)": 3 - np.arange(32) // 8,
    "bits reversed": 3 - np.arange(32) // 8,
}
fig, ax = plt.subplots(figsize=(11, 2.8))
image = np.ones((3, 32, 3))  # (rows, bits, RGB)
for r, (label, value) in enumerate(rows.items()):
    bit_row = bits_msb_first(value, 32)
    for k in range(32):
        colour = np.array(to_rgb(PALETTE[source_byte[label][k]]))
        image[r, k] = colour if bit_row[k] else 0.8 + 0.2 * colour  # zeros pale
        ax.text(
            k,
            r,
            str(bit_row[k]),
            ha="center",
            va="center",
            fontsize=8,
            color="white" if bit_row[k] else "0.3",
        )
ax.imshow(image, aspect="auto")
for boundary in (7.5, 15.5, 23.5):
    ax.axvline(boundary, color="black", lw=1.5)
ax.set_yticks(range(3), [f"{label}  0x{value:08X}" for label, value in rows.items()])
ax.set_xticks(range(0, 32, 4), [str(31 - k) for k in range(0, 32, 4)])
ax.set_xlabel("bit position (31 = most significant)")
ax.grid(False)
ax.set_title("Byte reversal keeps each byte's bit pattern; bit reversal also mirrors it")
plt.show()

# %% [markdown]
# ### 2. Time per method on growing bytestrings
#
# Each method reverses random bytestrings of 10 B to 1 MB; the time is the median of
# `N_REPEATS` runs (3 from 100 kB on) after one warm-up run (`time_call`). The per-bit loop
# costs about $8n$ Python iterations, so it stops at `LOOP_MAX_BYTES`; the other methods run up
# to 1 MB. Times are wall-clock on a shared machine, so single points are noisy; the gaps
# between methods are orders of magnitude, far above the noise.

# %%
SIZES = [10, 100, 1_000, 10_000, 100_000, 1_000_000]
LOOP_MAX_BYTES = 10_000
N_REPEATS = 5
timings: dict[str, dict[int, float]] = {name: {} for name in BYTES_METHODS}
for size in SIZES:
    payload = rng.bytes(size)
    for name, method in BYTES_METHODS.items():
        if name == "per-bit loop" and size > LOOP_MAX_BYTES:
            continue
        repeats = N_REPEATS if size < 100_000 else 3
        timings[name][size] = time_call(
            lambda m=method, p=payload: m(p), repeats=repeats, warmup=1
        ).median

# %%
print(f"median time in µs ({N_REPEATS} runs below 100 kB, 3 from 100 kB on), sizes {SIZES} B")
for name, by_size in timings.items():
    row = "  ".join(f"{by_size[s] * 1e6:10.1f}" if s in by_size else " " * 10 for s in SIZES)
    print(f"{name:>18} (µs): {row}")
loop_vs_table = (
    timings["per-bit loop"][LOOP_MAX_BYTES] / timings["table + translate"][LOOP_MAX_BYTES]
)
string_vs_table_1mb = timings["bit string"][SIZES[-1]] / timings["table + translate"][SIZES[-1]]
string_vs_numpy_1mb = timings["bit string"][SIZES[-1]] / timings["NumPy table"][SIZES[-1]]
print(f"at {LOOP_MAX_BYTES} B the per-bit loop is {loop_vs_table:.0f}× slower than the table")
print(
    f"at 1 MB the bit string is {string_vs_table_1mb:.0f}× slower than table + translate "
    f"and {string_vs_numpy_1mb:.0f}× slower than the NumPy table"
)

# %%
fig, ax = plt.subplots(figsize=(8, 5))
for (name, by_size), marker in zip(timings.items(), "os^vDP", strict=True):
    sizes = sorted(by_size)
    ax.loglog(sizes, [by_size[s] for s in sizes], marker=marker, label=name)
ax.set(xlabel="bytestring length (bytes)", ylabel="median time per call (s)")
ax.legend(loc="upper left")
ax.set_title(
    f"table + translate is {loop_vs_table:.0f}× faster than a per-bit loop at "
    f"{LOOP_MAX_BYTES // 1000} kB\nand {string_vs_table_1mb:.0f}× faster than the bit string "
    "at 1 MB"
)
plt.show()

# %% [markdown]
# Read the printed table, not only the plot: at 10 B every method costs microseconds and the
# fixed overhead of a call (NumPy's array creation in particular) dominates; from a few kB on,
# the methods that never run Python code per byte (`translate`, the NumPy pair) pull away, with
# the slope of 1 of a linear-time method. The bit string is linear too, but it builds an $8n$
# character string; the big integer swap does $\log_2(8n)$ passes over the whole number.

# %% [markdown]
# ## Pitfalls and follow-up questions
#
# :::{dropdown} "Reversing the bytearray reverses the bits." Does it?
# No. `bytearray.reverse()` reverses the order of the bytes, an endianness swap
# (`ADDEDEC0` → `C0DEDEAD`); each byte keeps its bits. Bit reversal also mirrors every byte
# ({eq}`bits-bytes`), giving `037B7BB5`. Experiment 1 shows the two side by side. The two agree
# only when every byte is a bit palindrome (such as `0x00`, `0xFF`, `0x81`, `0x3C`).
# :::
#
# :::{dropdown} Why does the width matter? Python has no 32-bit ints.
# Because leading zeros become trailing zeros: $\mathrm{rev}_8(1)=128$,
# $\mathrm{rev}_{16}(1)=2^{15}$, $\mathrm{rev}_{32}(1)=2^{31}$ (checked in Check yourself).
# Python's integers are unbounded, and `bin(x)` drops leading zeros, so `int(bin(x)[:1:-1], 2)`
# answers a different question (reverse the significant bits only: 1 stays 1). Always ask for
# the width, and validate that $x<2^w$.
# :::
#
# :::{dropdown} What about negative numbers?
# A negative Python integer has no fixed bit pattern (two's complement of what width?). The
# functions here refuse it; to reverse the 32-bit two's complement pattern of $x<0$, pass
# `x & 0xFFFFFFFF`, and reinterpret the result as signed if needed.
# :::
#
# :::{dropdown} Which method would you write in an interview, and which in production?
# Start with the definition (string or bit loop, $O(w)$) and state the width; then the mask swap
# for a machine word, $O(\log w)$ operations with no memory. For long byte buffers in Python,
# the 256-byte table with `bytes.translate` plus `[::-1]` is one line and runs in C; NumPy's
# `unpackbits`/`packbits` or a table lookup on a `uint8` array is equally fast
# (Experiment 2). In C, a table of 256 bytes (or 65 536 16-bit entries) or the mask swap are the
# classic choices {cite}`warren2012hackers`.
# :::
#
# :::{dropdown} Do CPUs have an instruction for it?
# ARM does: `RBIT` reverses the bits of a register (the bit order), and `REV` the bytes. x86 has
# `BSWAP`, which reverses the bytes of a 32- or 64-bit register, but no general-purpose
# instruction that reverses bits, which is why compilers fall back to the mask swap or a table
# there.
# :::
#
# :::{dropdown} Where does bit reversal appear in ML and signal processing?
# In the iterative radix-2 FFT {cite}`cooley1965algorithm`: the Cooley–Tukey recursion splits
# the input into even and odd indices, again and again, so when the recursion is unrolled into
# in-place butterflies the input must first be put in *bit-reversed order*: element $k$ goes to
# position $\mathrm{rev}_{\log_2 n}(k)$. The cell below builds that FFT with
# `reverse_bits_swap` and checks it against `np.fft.fft`.
# :::


# %%
def fft_radix2(signal: np.ndarray) -> np.ndarray:
    """Iterative radix-2 FFT of a length-2^k signal: bit-reversal permutation, then butterflies."""
    n = len(signal)
    n_bits = n.bit_length() - 1
    order = [reverse_bits_swap(k, n_bits) for k in range(n)] if n_bits else [0]
    values = signal.astype(complex)[order]  # (n,): the bit-reversal permutation
    half = 1
    while half < n:
        twiddles = np.exp(-2j * np.pi * np.arange(half) / (2 * half))  # (half,)
        blocks = values.reshape(-1, 2 * half)  # (n / 2half, 2half)
        even, odd = blocks[:, :half], blocks[:, half:] * twiddles  # (n / 2half, half) each
        values = np.concatenate([even + odd, even - odd], axis=1).reshape(n)
        half *= 2
    return values


signal = rng.standard_normal(1024)
check_close(
    "radix-2 FFT with bit-reversed input vs np.fft.fft",
    fft_radix2(signal),
    np.fft.fft(signal),
    atol=1e-9,
)

# %% [markdown]
# ## Check yourself
#
# 1. What is $\mathrm{rev}_w(1)$ for $w=8$, 16 and 32, and $\mathrm{rev}_{32}(0x000000FF)$?
#
#    :::{dropdown} Answer
#    $2^{w-1}$: 128, 32768 and 2147483648. Reversing `0x000000FF` in 32 bits moves the eight
#    ones to the top: `0xFF000000`. The next cell checks all four with every integer method.
#    :::

# %%
for width, x, expected in [(8, 1, 128), (16, 1, 2**15), (32, 1, 2**31), (32, 0xFF, 0xFF000000)]:
    answers = [method(x, width) for method in INT_METHODS.values()]
    check_equal(
        f"rev_{width}(0x{x:X}) = 0x{expected:X}, every method", answers, [expected] * len(answers)
    )

# %% [markdown]
# 2. How many $w$-bit integers are their own reversal (bit palindromes)?
#
#    :::{dropdown} Answer
#    A palindrome is fixed by its first $\lceil w/2\rceil$ bits (the rest mirror them), so
#    there are $2^{\lceil w/2\rceil}$: 16 of the 256 bytes, 256 of the 65 536 16-bit values and
#    64 of the 2048 11-bit ones. These 16 bytes are exactly the ones on which the notes' byte
#    swap happens to give the right answer. The next cell counts them exhaustively.
#    :::

# %%
for width in (8, 11, 16):
    n_palindromes = sum(reverse_bits_swap(x, width) == x for x in range(2**width))
    check_equal(f"{width}-bit palindromes = 2^ceil(w/2)", n_palindromes, 2 ** -(-width // 2))

# %% [markdown]
# 3. Two bytestrings `a` and `b`: how do you get the bit reversal of `a + b` from those of `a`
#    and `b`, and why does that let you reverse a huge file in chunks?
#
#    :::{dropdown} Answer
#    By {eq}`bits-concat`, $\mathrm{rev}(a\|b)=\mathrm{rev}(b)\|\mathrm{rev}(a)$: reverse each
#    chunk independently and write the chunks in reverse order. Memory stays at one chunk, and
#    the chunks can be processed in parallel. The property tests of this chapter
#    (`tests/unit/test_ml_16_reverse_bits.py`) check it on arbitrary bytes.
#    :::

# %% [markdown]
# ## References
#
# Each entry says what the chapter used from it; the full entries are in the book's
# bibliography.
#
# - {cite:t}`warren2012hackers`, Section 7–1 (reversing bits and bytes): the mask swap of
#   {eq}`bits-swap` and table-based reversal.
# - {cite:t}`cooley1965algorithm`: the radix-2 FFT whose in-place form needs the bit-reversal
#   permutation.
# - {cite:t}`numpy2025packbits`: `np.unpackbits` / `np.packbits` and their `bitorder` argument.
# - {cite:t}`python2025bytes`: `bytes.translate`, `int.from_bytes` / `int.to_bytes` and
#   `int.bit_count`.
