"""The from-scratch SFT loss of notebooks/training/01_sft.py: labels, reductions, accumulation."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from notebook_utils.gpt import GPT, GPTConfig
from notebook_utils.rl import SortTask, sft_loss
from tests.chapter_code import load_chapter_definitions

ch = load_chapter_definitions("notebooks/training/01_sft.py")


def _random_batch(
    seed: int, batch: int = 5, length: int = 7, vocab: int = 6
) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, length, vocab, generator=g, dtype=torch.float64)
    labels = torch.randint(0, vocab, (batch, length), generator=g)
    ignored = torch.rand(batch, length, generator=g) < 0.4
    ignored[:, 0] = False  # at least one counted label per sequence
    return logits, labels.masked_fill(ignored, ch.IGNORE_INDEX)


@pytest.mark.parametrize("seed", range(5))
def test_token_mean_equals_cross_entropy_with_ignore_index(seed: int) -> None:
    logits, labels = _random_batch(seed)
    expected = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
    assert torch.allclose(ch.masked_nll(logits, labels), expected, atol=1e-14)
    total = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="sum")
    assert torch.allclose(ch.masked_nll(logits, labels, "sum"), total, atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_sequence_reductions_against_a_loop(seed: int) -> None:
    logits, labels = _random_batch(seed)
    per_sequence = [
        F.cross_entropy(logits[b], labels[b], ignore_index=-100, reduction="sum")
        for b in range(len(labels))
    ]
    counts = [(labels[b] != -100).sum() for b in range(len(labels))]
    sequence_sum = torch.stack(per_sequence).mean()
    sequence_mean = torch.stack([s / n for s, n in zip(per_sequence, counts, strict=True)]).mean()
    assert torch.allclose(ch.masked_nll(logits, labels, "sequence_sum"), sequence_sum, atol=1e-12)
    assert torch.allclose(ch.masked_nll(logits, labels, "sequence_mean"), sequence_mean, atol=1e-12)


def test_equal_lengths_make_token_mean_and_sequence_mean_equal() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 6, 5, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 5, (4, 6), generator=g)
    labels[:, :2] = -100  # the same two masked positions in every sequence
    token_mean = ch.masked_nll(logits, labels, "token_mean")
    assert torch.allclose(token_mean, ch.masked_nll(logits, labels, "sequence_mean"), atol=1e-14)
    assert torch.allclose(4 * token_mean, ch.masked_nll(logits, labels, "sequence_sum"), atol=1e-12)


def test_errata_values() -> None:
    logits = torch.tensor([[[2, 0.5, 0.1], [0.3, 1.5, 0.2], [0.1, 0.2, 3]]], dtype=torch.float64)
    assert abs(ch.masked_nll(logits, torch.tensor([[-100, 1, 2]])).item() - 0.281524) < 5e-7
    quarter = torch.tensor([[[0.0, math.log(2.0), 0.0]]], dtype=torch.float64)
    assert abs(ch.masked_nll(quarter, torch.tensor([[0]])).item() - math.log(4)) < 1e-15


def test_labels_shift_and_mask_the_prompt() -> None:
    prompts = torch.tensor([[1, 2, 9], [3, 4, 9]])
    responses = torch.tensor([[1, 2], [3, 4]])
    tokens, counted = ch.sft_tokens(prompts, responses)
    inputs, labels = ch.next_token_labels(tokens, counted)
    assert inputs.tolist() == [[1, 2, 9, 1], [3, 4, 9, 3]]
    assert labels.tolist() == [[-100, -100, 1, 2], [-100, -100, 3, 4]]
    _, unmasked = ch.next_token_labels(*ch.sft_tokens(prompts, responses, mask_prompt=False))
    assert unmasked.tolist() == [[2, 9, 1, 2], [4, 9, 3, 4]]


def test_pad_batch_marks_only_response_tokens() -> None:
    tokens, counted = ch.pad_batch([([5, 9], [5]), ([1, 2, 9], [1, 2])], pad_id=11)
    assert tokens.tolist() == [[5, 9, 5, 11, 11], [1, 2, 9, 1, 2]]
    assert counted.tolist() == [[False, False, True, False, False], [False] * 3 + [True] * 2]


def test_empty_denominators_raise() -> None:
    logits = torch.zeros(1, 2, 3)
    with pytest.raises(ValueError, match="no counted token"):
        ch.masked_nll(logits, torch.full((1, 2), -100))
    with pytest.raises(ValueError, match="a sequence has no counted token"):
        ch.masked_nll(torch.zeros(2, 2, 3), torch.tensor([[0, 1], [-100, -100]]), "sequence_mean")
    with pytest.raises(ValueError, match="unknown reduction"):
        ch.reduce_nll(torch.zeros(1, 2), torch.ones(1, 2, dtype=torch.bool), "median")


def test_from_scratch_loss_equals_shared_sft_loss() -> None:
    task = SortTask(length=3, n_digits=5)
    torch.manual_seed(0)
    model = GPT(task.model_config(n_layer=1, d_model=16)).double()
    prompts, responses = task.batch(6, torch.Generator().manual_seed(1))
    ours = ch.sft_loss_from_scratch(model, prompts, responses)
    assert torch.allclose(ours, sft_loss(model, prompts, responses), atol=1e-14)


def test_whole_batch_accumulation_equals_the_full_batch_gradient() -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=8, block_size=8, n_layer=1, n_head=2, d_model=8)).double()
    pairs = [([1, 7], [2]), ([3, 4, 7], [3, 4]), ([1, 2, 3, 7], [1, 2, 3])]
    inputs, labels = ch.next_token_labels(*ch.pad_batch(pairs, pad_id=0))
    model.zero_grad()
    ch.masked_nll(model(inputs)[0], labels).backward()
    full = ch.flat_gradient(model).clone()
    micro = [(inputs[:1], labels[:1]), (inputs[1:], labels[1:])]
    correct = ch.accumulate_gradients(model, micro, "whole_batch")
    naive = ch.accumulate_gradients(model, micro, "micro_batch")
    assert torch.allclose(correct, full, atol=1e-13)
    assert not torch.allclose(naive, full, atol=1e-6)
