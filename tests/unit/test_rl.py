"""The shared training pieces: the sort task, log-probs, rollouts, SFT, KL and advantages."""

import math

import pytest
import torch
import torch.nn.functional as F

from notebook_utils.gpt import GPT
from notebook_utils.rl import (
    SortTask,
    bradley_terry_loss,
    clipped_surrogate,
    dpo_loss,
    exact_kl,
    gae,
    greedy_exact_match,
    group_advantages,
    kl_estimates,
    response_logits,
    response_logprobs,
    sample_responses,
    sft_loss,
    token_logprobs,
    train_sft,
)

TASK = SortTask(length=4, n_digits=5)


def _model(task: SortTask = TASK, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(task.model_config(n_layer=1, d_model=32)).double().eval()


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_sort_task_prompts_solutions_and_rewards() -> None:
    prompts, responses = TASK.batch(50, _gen())
    assert prompts.shape == (50, 5) and responses.shape == (50, 4)
    assert (prompts[:, -1] == TASK.sep).all() and (prompts[:, :-1] < TASK.sep).all()
    assert (responses[:, 1:] >= responses[:, :-1]).all()
    assert (responses.sort(dim=1).values == prompts[:, :-1].sort(dim=1).values).all()
    assert TASK.reward(prompts, responses).tolist() == [1.0] * 50
    wrong = responses.clone()
    wrong[:, 0] = (wrong[:, 0] + 1) % TASK.n_digits
    assert TASK.reward(prompts, wrong).tolist() == [0.0] * 50
    assert torch.allclose(TASK.token_accuracy(prompts, wrong), torch.full((50,), 0.75))
    assert TASK.vocab_size == 6 and TASK.prompt_length == 5
    assert TASK.model_config().block_size == 9


def test_sort_task_rejects_bad_shapes_and_sizes() -> None:
    with pytest.raises(ValueError, match="length"):
        SortTask(length=0)
    with pytest.raises(ValueError, match="n_digits"):
        SortTask(n_digits=1)
    prompts, responses = TASK.batch(3, _gen())
    with pytest.raises(ValueError, match="prompts must have shape"):
        TASK.solve(prompts[:, :-1])
    with pytest.raises(ValueError, match="responses must have shape"):
        TASK.reward(prompts, responses[:, :-1])
    with pytest.raises(ValueError, match="batch"):
        TASK.prompts(0, _gen())


def test_response_logprobs_equal_the_token_by_token_chain_rule() -> None:
    model = _model()
    prompts, _ = TASK.batch(6, _gen(1))
    responses = torch.randint(0, TASK.vocab_size, (6, 4), generator=_gen(2))
    ours = response_logprobs(model, prompts, responses)  # (6, 4)
    seq = torch.cat([prompts, responses], dim=1)
    for t in range(4):
        logits, _ = model(seq[:, : prompts.shape[1] + t])  # prefix x, y_<t
        expected = logits[:, -1].log_softmax(-1).gather(1, responses[:, t : t + 1]).squeeze(1)
        assert torch.allclose(ours[:, t], expected, atol=1e-12)
    assert response_logits(model, prompts, responses).shape == (6, 4, TASK.vocab_size)


def test_token_logprobs_and_argument_checks() -> None:
    logits = torch.randn(3, 2, 5, dtype=torch.float64)
    tokens = torch.tensor([[0, 4], [2, 2], [1, 3]])
    expected = -F.cross_entropy(logits.reshape(-1, 5), tokens.reshape(-1), reduction="none")
    assert torch.allclose(token_logprobs(logits, tokens).reshape(-1), expected)
    with pytest.raises(ValueError, match="do not match"):
        token_logprobs(logits, tokens[:, :1])
    with pytest.raises(ValueError, match="batch sizes differ"):
        response_logprobs(_model(), tokens, tokens[:2])


def test_sft_loss_is_the_mean_negative_logprob_of_response_tokens_only() -> None:
    model = _model()
    prompts, responses = TASK.batch(8, _gen(3))
    loss = sft_loss(model, prompts, responses)
    assert torch.allclose(loss, -response_logprobs(model, prompts, responses).mean(), atol=1e-12)


def test_sample_responses_greedy_matches_generate_and_sampling_matches_softmax() -> None:
    model = _model()
    prompts, _ = TASK.batch(5, _gen(4))
    greedy = sample_responses(model, prompts, 4, temperature=0.0)
    assert torch.equal(greedy, model.generate(prompts, 4, use_cache=False)[:, 5:])
    # one-token rollouts from a single prompt: empirical frequencies vs the softmax
    one = prompts[:1].expand(20000, -1)
    tokens = sample_responses(model, one, 1, generator=_gen(5))[:, 0]
    freq = torch.bincount(tokens, minlength=TASK.vocab_size).double() / 20000
    probs = response_logits(model, prompts[:1], tokens[:1, None])[0, 0].softmax(-1)
    assert torch.allclose(freq, probs, atol=4 * math.sqrt(0.25 / 20000))
    model.train()
    sample_responses(model, prompts, 2, generator=_gen(6))
    assert model.training, "sampling must restore the training mode"
    with pytest.raises(ValueError, match="n_tokens"):
        sample_responses(model, prompts, 0)


def test_train_sft_improves_exact_match_and_accepts_custom_data() -> None:
    task = SortTask(length=3, n_digits=4)
    torch.manual_seed(0)
    model = GPT(task.model_config(n_layer=1, d_model=32))
    evalp = task.prompts(300, _gen(7))
    before = greedy_exact_match(model, task, evalp)
    losses = train_sft(model, task, steps=150, generator=_gen(8), lr=1e-2)
    after = greedy_exact_match(model, task, evalp)
    assert len(losses) == 150 and losses[-1] < losses[0]
    assert before < 0.2 < 0.8 < after
    seen: list[int] = []

    def data(b: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        seen.append(b)
        return task.batch(b, g)

    train_sft(model, task, steps=2, generator=_gen(9), batch_size=7, data=data)
    assert seen == [7, 7]


def test_kl_estimators_k1_and_k3_are_unbiased_exactly_and_k3_is_nonnegative() -> None:
    pi = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    ref = torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64)
    est = kl_estimates(pi.log(), ref.log())  # one value per token, drawn from pi
    kl = (pi * (pi / ref).log()).sum()
    assert abs(kl.item() - 0.223805) < 5e-7  # errata TR-05
    for name in ("k1", "k3"):
        assert torch.allclose((pi * est[name]).sum(), kl, atol=1e-15)
    assert not torch.allclose((pi * est["k2"]).sum(), kl, atol=1e-3)  # k2 is biased
    assert (est["k3"] >= 0).all() and (est["k1"] < 0).any()
    half = kl_estimates(torch.tensor([0.0]), torch.tensor([math.log(0.5)]))["k3"]
    assert abs(half.item() - (0.5 - 1 - math.log(0.5))) < 1e-7  # 0.193147
    assert torch.allclose(exact_kl(pi.log()[None], ref.log()[None]), kl[None])
    with pytest.raises(ValueError, match="shapes differ"):
        kl_estimates(pi, ref[:2])


def test_exact_kl_matches_torch_distributions() -> None:
    a, b = torch.randn(2, 7, 9, dtype=torch.float64, generator=_gen(10)).unbind(0)
    ref = torch.distributions.kl_divergence(
        torch.distributions.Categorical(logits=a), torch.distributions.Categorical(logits=b)
    )
    assert torch.allclose(exact_kl(a, b), ref, atol=1e-14)


def test_clipped_surrogate_edge_cases_and_zero_gradient_when_clipped() -> None:
    ratio = torch.tensor([1.5, 0.5, 1.5, 0.5], dtype=torch.float64)
    adv = torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=torch.float64)
    logp = ratio.log().requires_grad_()
    out = clipped_surrogate(logp, torch.zeros(4, dtype=torch.float64), adv, eps=0.2)
    assert torch.allclose(out, torch.tensor([1.2, -0.8, -1.5, 0.5], dtype=torch.float64))
    out.sum().backward()
    assert logp.grad is not None
    assert logp.grad[:2].abs().max() == 0 and (logp.grad[2:] != 0).all()
    with pytest.raises(ValueError, match="eps"):
        clipped_surrogate(logp, logp, adv, eps=0.0)


def test_gae_matches_the_errata_and_the_direct_sum() -> None:
    r = torch.tensor([0.0, 0.0, 1.0])
    v = torch.tensor([0.5, 0.6, 0.7])
    adv, target = gae(r, v, gamma=1.0, lam=1.0)
    assert torch.allclose(adv, torch.tensor([0.5, 0.4, 0.3]))
    assert torch.allclose(target, torch.tensor([1.0, 1.0, 1.0]))
    assert torch.allclose(gae(r, v, gamma=1.0, lam=0.0)[0], torch.tensor([0.1, 0.1, 0.3]))
    # random batch with episode ends: compare with sum_l (γλ)^l δ_{t+l} inside each episode
    g = _gen(11)
    B, T, gamma, lam = 3, 12, 0.9, 0.8
    rewards = torch.randn(B, T, generator=g, dtype=torch.float64)
    values = torch.randn(B, T, generator=g, dtype=torch.float64)
    dones = torch.rand(B, T, generator=g) < 0.2
    last = torch.randn(B, generator=g, dtype=torch.float64)
    ours, _ = gae(rewards, values, gamma=gamma, lam=lam, dones=dones, last_value=last)
    for b in range(B):
        for t in range(T):
            total, discount = 0.0, 1.0
            for k in range(t, T):
                nxt = 0.0 if dones[b, k] else (values[b, k + 1] if k + 1 < T else last[b])
                delta = rewards[b, k] + gamma * nxt - values[b, k]
                total += discount * float(delta)
                if dones[b, k]:
                    break
                discount *= gamma * lam
            assert abs(float(ours[b, t]) - total) < 1e-12
    with pytest.raises(ValueError, match="gamma"):
        gae(r, v, gamma=1.5, lam=1.0)


def test_group_advantages_population_sample_and_equal_groups() -> None:
    r = torch.tensor([[1.0, 0.0, 0.0, 1.0], [3.0, 3.0, 3.0, 3.0]])
    pop = group_advantages(r, eps=0.0 + 1e-12)
    assert torch.allclose(pop[0], torch.tensor([1.0, -1.0, -1.0, 1.0]), atol=1e-9)
    assert torch.equal(pop[1], torch.zeros(4))
    sample = group_advantages(r, std="sample", eps=1e-12)
    assert torch.allclose(sample[0], torch.tensor([1.0, -1, -1, 1]) * math.sqrt(3) / 2, atol=1e-6)
    assert torch.equal(group_advantages(r, std="none")[0], torch.tensor([0.5, -0.5, -0.5, 0.5]))
    with pytest.raises(ValueError, match="G >= 2"):
        group_advantages(torch.ones(3))
    with pytest.raises(ValueError, match="std must be"):
        group_advantages(r, std="max")  # type: ignore[arg-type]


def test_bradley_terry_and_dpo_losses() -> None:
    r_w, r_l = torch.tensor([2.0], dtype=torch.float64), torch.tensor([0.5], dtype=torch.float64)
    assert abs(bradley_terry_loss(r_w, r_l).item() - 0.201413) < 5e-7  # errata TR-04
    margins = torch.linspace(-40, 40, 81, dtype=torch.float64)
    bce = F.binary_cross_entropy_with_logits(margins, torch.ones_like(margins))
    assert torch.allclose(bradley_terry_loss(margins, torch.zeros_like(margins)), bce)
    logp = torch.randn(4, 5, dtype=torch.float64, generator=_gen(12))
    policy_w = logp[0].clone().requires_grad_()
    policy_l = logp[1].clone().requires_grad_()
    at_init = dpo_loss(policy_w, policy_l, logp[0], logp[1], beta=0.1)
    assert abs(at_init.item() - math.log(2)) < 1e-15  # errata ML-25
    at_init.backward()
    assert policy_w.grad is not None and policy_l.grad is not None
    assert torch.allclose(policy_w.grad, torch.full((5,), -0.05 / 5, dtype=torch.float64))
    assert torch.allclose(policy_l.grad, torch.full((5,), 0.05 / 5, dtype=torch.float64))
    beta = 0.3
    margin = beta * ((logp[2] - logp[0]) - (logp[3] - logp[1]))
    expected = F.binary_cross_entropy_with_logits(margin, torch.ones_like(margin))
    assert torch.allclose(dpo_loss(logp[2], logp[3], logp[0], logp[1], beta=beta), expected)
    with pytest.raises(ValueError, match="beta"):
        dpo_loss(logp[0], logp[1], logp[0], logp[1], beta=0.0)
    with pytest.raises(ValueError, match="shapes differ"):
        bradley_terry_loss(r_w, margins)
