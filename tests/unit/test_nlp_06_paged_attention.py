"""Property tests of the block allocator, the paged KV cache and paged attention of
notebooks/nlp/06_paged_attention.py."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from notebook_utils.gpt import GPT, GPTConfig
from tests.chapter_code import load_chapter_definitions

ch = load_chapter_definitions("notebooks/nlp/06_paged_attention.py")

N_LAYERS, N_KV, HEAD_DIM = 2, 1, 2


class PagedCacheMachine(RuleBasedStateMachine):
    """Random sequences of allocate / append / fork / free, against a contiguous reference."""

    @initialize(block_size=st.integers(1, 4), num_blocks=st.integers(1, 12))
    def setup(self, block_size: int, num_blocks: int) -> None:
        self.cache = ch.PagedKVCache(
            N_LAYERS, N_KV, HEAD_DIM, block_size, num_blocks, dtype=torch.float64
        )
        empty = torch.zeros(N_LAYERS, N_KV, 0, HEAD_DIM, dtype=torch.float64)
        self.empty = empty
        self.reference: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # (L, g, T, d_h) each
        self.next_id = 0
        self.next_value = 0.0

    def _fresh(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values (L, g, n, d_h) whose entries appear nowhere else in the cache."""
        size = N_LAYERS * N_KV * n * HEAD_DIM
        values = self.next_value + 1 + torch.arange(2 * size, dtype=torch.float64)
        self.next_value += 2 * size
        shape = (N_LAYERS, N_KV, n, HEAD_DIM)
        return values[:size].reshape(shape), values[size:].reshape(shape)

    def _state(self) -> tuple[object, ...]:
        alloc = self.cache.allocator
        tables = {s: list(t) for s, t in self.cache.block_tables.items()}
        return tables, dict(self.cache.lengths), list(alloc.free_blocks), list(alloc.ref_counts)

    def _append(self, seq: int, n: int) -> None:
        cache = self.cache
        keys, values = self._fresh(n)
        counts = cache.allocator.ref_counts
        shared = [b for b in range(cache.allocator.num_blocks) if counts[b] > 1]
        shared_before = [
            torch.stack([pool[b] for pool in cache.key_pools + cache.value_pools]) for b in shared
        ]
        if cache.blocks_needed(seq, n) > cache.allocator.num_free:
            before = self._state()
            with pytest.raises(ch.OutOfBlocksError, match="blocks"):
                cache.append_slots(seq, n)
            assert self._state() == before  # a failed append changes nothing
            return
        blocks, offsets = cache.append_slots(seq, n)
        # every slot written belongs to a block this sequence owns alone
        assert all(cache.allocator.ref_counts[int(b)] == 1 for b in blocks)
        assert all(0 <= int(o) < cache.block_size for o in offsets)
        for layer in range(N_LAYERS):
            cache.write(layer, blocks, offsets, keys[layer], values[layer])
        # copy-on-write never mutates a block that was shared
        for b, contents in zip(shared, shared_before, strict=True):
            now = torch.stack([pool[b] for pool in cache.key_pools + cache.value_pools])
            assert torch.equal(now, contents)
        old_k, old_v = self.reference[seq]
        self.reference[seq] = (torch.cat([old_k, keys], dim=2), torch.cat([old_v, values], dim=2))

    @rule(n=st.integers(0, 6))
    def allocate(self, n: int) -> None:
        seq, self.next_id = self.next_id, self.next_id + 1
        self.cache.add_sequence(seq)
        self.reference[seq] = (self.empty, self.empty)
        self._append(seq, n)

    @precondition(lambda self: bool(self.reference))
    @rule(data=st.data(), n=st.integers(0, 5))
    def append(self, data: st.DataObject, n: int) -> None:
        self._append(data.draw(st.sampled_from(sorted(self.reference))), n)

    @precondition(lambda self: bool(self.reference))
    @rule(data=st.data())
    def fork(self, data: st.DataObject) -> None:
        parent = data.draw(st.sampled_from(sorted(self.reference)))
        child, self.next_id = self.next_id, self.next_id + 1
        free_before = self.cache.allocator.num_free
        self.cache.fork(parent, child)
        assert self.cache.allocator.num_free == free_before  # a fork allocates nothing
        self.reference[child] = self.reference[parent]

    @precondition(lambda self: bool(self.reference))
    @rule(data=st.data(), n=st.integers(1, 5), write_to_child=st.booleans())
    def fork_then_append(self, data: st.DataObject, n: int, write_to_child: bool) -> None:
        """The pattern that triggers copy-on-write: fork, then write into one of the two."""
        parent = data.draw(st.sampled_from(sorted(self.reference)))
        child, self.next_id = self.next_id, self.next_id + 1
        self.cache.fork(parent, child)
        self.reference[child] = self.reference[parent]
        self._append(child if write_to_child else parent, n)

    @precondition(lambda self: bool(self.reference))
    @rule(data=st.data())
    def free(self, data: st.DataObject) -> None:
        seq = data.draw(st.sampled_from(sorted(self.reference)))
        self.cache.free(seq)
        del self.reference[seq]

    @invariant()
    def bookkeeping(self) -> None:
        if not hasattr(self, "cache"):
            return
        alloc, b = self.cache.allocator, self.cache.block_size
        references = Counter(blk for t in self.cache.block_tables.values() for blk in t)
        # reference counts = number of (table, entry) pairs that point at the block
        assert alloc.ref_counts == [references.get(i, 0) for i in range(alloc.num_blocks)]
        # free list: no duplicates, exactly the blocks nobody refers to; free + used = total
        assert len(set(alloc.free_blocks)) == len(alloc.free_blocks)
        assert set(alloc.free_blocks) == {i for i in range(alloc.num_blocks) if not references[i]}
        assert alloc.num_free + len(references) == alloc.num_blocks
        for seq, table in self.cache.block_tables.items():
            assert len(table) == math.ceil(self.cache.lengths[seq] / b)
            assert len(set(table)) == len(table)

    @invariant()
    def gathered_kv_equal_the_reference(self) -> None:
        if not hasattr(self, "cache"):
            return
        assert set(self.reference) == set(self.cache.block_tables)
        for seq, (keys, values) in self.reference.items():
            for layer in range(N_LAYERS):
                k, v = self.cache.gather(layer, seq)
                assert torch.equal(k, keys[layer])
                assert torch.equal(v, values[layer])


PagedCacheMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=25, deadline=None
)
test_paged_cache_state_machine = PagedCacheMachine.TestCase


def _contiguous_sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """q (h, T, d) for the last T positions, k, v (g, S, d)."""
    h, T, _ = q.shape
    S = k.shape[1]
    k, v = k.repeat_interleave(h // k.shape[0], 0), v.repeat_interleave(h // v.shape[0], 0)
    mask = torch.ones(T, S, dtype=torch.bool).tril(diagonal=S - T)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 20), min_size=1, max_size=4),
    block_size=st.integers(1, 5),
    n_queries=st.integers(1, 3),
    heads=st.sampled_from([(1, 1), (2, 1), (2, 2), (4, 2), (4, 1)]),
    seed=st.integers(0, 2**16),
)
def test_paged_attention_equals_contiguous_attention(
    lengths: list[int], block_size: int, n_queries: int, heads: tuple[int, int], seed: int
) -> None:
    h, g = heads
    gen = torch.Generator().manual_seed(seed)
    n_blocks = sum(math.ceil(n / block_size) for n in lengths) + 2
    cache = ch.PagedKVCache(1, g, 3, block_size, n_blocks, dtype=torch.float64)
    reference = {s: ([], []) for s in range(len(lengths))}
    for s in range(len(lengths)):
        cache.add_sequence(s)
    order = torch.cat([torch.full((n,), s) for s, n in enumerate(lengths)])
    for s in order[torch.randperm(len(order), generator=gen)].tolist():  # interleaved appends
        k = torch.randn(1, g, 1, 3, generator=gen, dtype=torch.float64)
        v = torch.randn(1, g, 1, 3, generator=gen, dtype=torch.float64)
        cache.append(s, k, v)
        reference[s][0].append(k[0])
        reference[s][1].append(v[0])
    live = torch.zeros(n_blocks, block_size, dtype=torch.bool)
    for s, table in cache.block_tables.items():
        for t in range(cache.lengths[s]):
            live[table[t // block_size], t % block_size] = True
    for pool in cache.key_pools + cache.value_pools:
        pool.masked_fill_(~live[:, None, :, None], float("nan"))  # stale slots must not leak
    T = min(n_queries, *lengths)
    q = torch.randn(len(lengths), h, T, 3, generator=gen, dtype=torch.float64)
    tables, lens = cache.block_table_tensor(list(range(len(lengths))))
    ours = ch.paged_attention(q, cache.key_pools[0], cache.value_pools[0], tables, lens)
    expected = torch.stack(
        [
            _contiguous_sdpa(q[s], torch.cat(reference[s][0], 1), torch.cat(reference[s][1], 1))
            for s in range(len(lengths))
        ]
    )
    torch.testing.assert_close(ours, expected, atol=1e-12, rtol=0)


@st.composite
def small_configs(draw: st.DrawFn) -> GPTConfig:
    n_head = draw(st.sampled_from([1, 2, 4]))
    return GPTConfig(
        vocab_size=draw(st.integers(5, 30)),
        block_size=40,
        n_layer=draw(st.integers(1, 2)),
        n_head=n_head,
        d_model=4 * n_head,
        n_kv_head=draw(st.sampled_from([g for g in (1, 2, 4) if n_head % g == 0])),
        norm=draw(st.sampled_from(["layernorm", "rmsnorm"])),
        norm_position=draw(st.sampled_from(["pre", "post"])),
        position=draw(st.sampled_from(["learned", "sinusoidal", "rope", "none"])),
        mlp=draw(st.sampled_from(["gelu", "swiglu"])),
        bias=draw(st.booleans()),
    )


@settings(max_examples=15, deadline=None)
@given(
    small_configs(),
    st.lists(st.integers(1, 9), min_size=1, max_size=3),
    st.integers(1, 6),
    st.integers(1, 4),
)
def test_paged_greedy_decode_equals_full_forward(
    cfg: GPTConfig, prompt_lengths: list[int], n_new: int, block_size: int
) -> None:
    torch.manual_seed(0)
    model = GPT(cfg).double().eval()
    prompts = [torch.randint(0, cfg.vocab_size, (p,)) for p in prompt_lengths]
    cache = ch.PagedKVCache.for_model(model, block_size, num_blocks=40)
    sequences, step_logits = ch.paged_greedy_decode(model, prompts, n_new, cache)
    for s, (prompt, sequence) in enumerate(zip(prompts, sequences, strict=True)):
        with torch.no_grad():
            full = model(sequence[None])[0][0]  # (P + n_new, V)
        P = len(prompt)
        torch.testing.assert_close(step_logits[s], full[P - 1 : -1], atol=1e-12, rtol=0)


@settings(max_examples=10, deadline=None)
@given(small_configs(), st.integers(1, 9), st.integers(1, 4), st.integers(1, 5), st.integers(1, 4))
def test_parallel_sampling_shares_blocks_and_matches_full_forward(
    cfg: GPTConfig, prompt_len: int, n_samples: int, n_new: int, block_size: int
) -> None:
    torch.manual_seed(0)
    model = GPT(cfg).double().eval()
    prompt = torch.randint(0, cfg.vocab_size, (prompt_len,))
    cache = ch.PagedKVCache.for_model(model, block_size, num_blocks=60)
    gen = torch.Generator().manual_seed(1)
    tokens, logits = ch.paged_parallel_sample(model, prompt, n_samples, n_new, cache, gen)
    with torch.no_grad():
        full = model(tokens)[0]
    torch.testing.assert_close(logits, full[:, prompt_len - 1 : -1], atol=1e-12, rtol=0)
    assert cache.allocator.num_used == ch.shared_blocks(n_samples, prompt_len, n_new, block_size)
    expected_copies = n_samples - 1 if prompt_len % block_size else 0
    assert cache.copies == expected_copies


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 6), st.integers(1, 60), st.integers(1, 30), st.integers(1, 8))
def test_sharing_formula_and_saving(n: int, prompt_len: int, n_new: int, b: int) -> None:
    shared, _ = ch.measure_blocks(n, prompt_len, n_new, b, share=True)
    separate, _ = ch.measure_blocks(n, prompt_len, n_new, b, share=False)
    assert shared == ch.shared_blocks(n, prompt_len, n_new, b)
    assert separate == ch.separate_blocks(n, prompt_len, n_new, b)
    assert separate - shared == (n - 1) * (prompt_len // b)


def _holes(regions: dict[int, tuple[int, int]], capacity: int) -> list[int]:
    """Sizes of the gaps between sorted regions (and after the last one)."""
    holes, cursor = [], 0
    for start, size in sorted(regions.values()):
        holes.append(start - cursor)
        cursor = start + size
    return [*holes, capacity - cursor]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 30)), max_size=40))
def test_first_fit_places_in_a_hole_or_fails_for_lack_of_one(
    operations: list[tuple[bool, int]],
) -> None:
    allocator, owner = ch.FirstFitAllocator(64), 0
    for allocate, size in operations:
        if allocate or not allocator.regions:
            largest_hole = max(_holes(allocator.regions, 64))
            assert allocator.allocate(owner, size) == (size <= largest_hole)
            owner += 1
        else:
            allocator.free(sorted(allocator.regions)[size % len(allocator.regions)])
        spans = sorted(allocator.regions.values())
        for (start, size_a), (next_start, _) in itertools.pairwise(spans):
            assert start + size_a <= next_start  # regions never overlap
        assert all(start >= 0 and start + s <= 64 for start, s in spans)


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**16), st.sampled_from([1, 4, 16]))
def test_simulators_conserve_memory(seed: int, block_size: int) -> None:
    prompts, outputs = ch.sample_requests(20, np.random.default_rng(seed), 100.0, 100.0)
    budget = 4 * ch.MAX_LEN
    for run in (
        ch.simulate_contiguous(prompts, outputs, budget, reserve_max=True),
        ch.simulate_contiguous(prompts, outputs, budget, reserve_max=False),
        ch.simulate_paged(prompts, outputs, budget, block_size),
    ):
        assert sum(run.memory.values()) == pytest.approx(budget, abs=1e-6)
        assert 0.0 <= run.waste < 1.0
        assert run.steps >= int(outputs.max())
    paged = ch.simulate_paged(prompts, outputs, budget, block_size)
    assert paged.memory["internal fragmentation"] <= (block_size - 1) * paged.mean_batch + 1e-9
    assert ch.simulate_contiguous(prompts, outputs, budget, True).max_batch <= 4


def test_errata_numbers() -> None:
    cache = ch.PagedKVCache(1, 1, 1, block_size=16, num_blocks=63)
    cache.add_sequence(0)
    cache.append_slots(0, 1000)
    assert len(cache.block_tables[0]) == 63 == math.ceil(1000 / 16)
    assert 16 * 63 - 1000 == 8
    assert cache.allocator.num_free == 0
    with pytest.raises(ch.OutOfBlocksError, match="1 more blocks"):
        cache.append_slots(0, 9)  # the last block has room for 8 more
    cache.append_slots(0, 8)
    assert ch.MAX_LEN - 1000 == 1048


def test_allocator_errors() -> None:
    alloc = ch.BlockAllocator(2)
    a = alloc.allocate()
    b = alloc.allocate()
    with pytest.raises(ch.OutOfBlocksError, match="all 2 blocks"):
        alloc.allocate()
    alloc.share(a)
    alloc.free(a)
    assert alloc.num_free == 0  # still referenced once
    alloc.free(a)
    alloc.free(b)
    assert alloc.num_free == 2
    with pytest.raises(ValueError, match="double free"):
        alloc.free(a)
    with pytest.raises(ValueError, match="free"):
        alloc.share(b)
    with pytest.raises(ValueError):
        ch.BlockAllocator(0)
