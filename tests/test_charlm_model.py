import math

import torch

from seqgraph import checkpoint
from seqgraph.charlm.model import CharLM, CharLMConfig, pick
from seqgraph.charlm.train import cross_entropy, load_model


def tiny_model(vocab_size=7, hidden=6, layers=2, dtype=torch.float32, seed=0):
    torch.manual_seed(seed)
    return CharLM(CharLMConfig(vocab_size, embedding_dim=4, hidden_size=hidden, num_layers=layers)).to(dtype)


def test_charlm_shapes_and_repr():
    model = tiny_model()
    logits, (h, c) = model(torch.randint(7, (3, 5)))
    assert logits.shape == (3, 5, 7)
    assert h.shape == c.shape == (2, 3, 6)
    assert "LSTM(4, 6, num_layers=2, batch_first=True)" in str(model)


def test_loss_equals_hand_computation():
    model = tiny_model(vocab_size=3, hidden=2, layers=1)
    x = torch.tensor([[0, 2, 1], [1, 1, 0]])
    y = torch.tensor([[2, 1, 0], [1, 0, 2]])
    logits, _ = model(x)
    # eq. 42-43 by hand: L_t = -log(exp(p_t[y_t]) / sum_k exp(p_t[k])), averaged over t and the batch
    hand = 0.0
    for b in range(2):
        for t in range(3):
            p = logits[b, t].tolist()
            hand += -(p[y[b, t]] - math.log(sum(math.exp(v) for v in p)))
    assert math.isclose(cross_entropy(logits, y).item(), hand / 6, rel_tol=1e-6)


def test_carried_state_equals_rerunning_the_prefix_float64():
    model = tiny_model(vocab_size=11, hidden=8, layers=3, dtype=torch.float64).eval()
    x = torch.randint(11, (4, 12))
    step = model.stepper()
    with torch.no_grad():
        logits, state = model(x[:, :1])
        logits = logits[:, -1]  # (B, V)
        for t in range(1, 12):
            rerun = model(x[:, :t])[0][:, -1]  # the whole prefix again
            assert torch.allclose(torch.softmax(logits, -1), torch.softmax(rerun, -1), atol=1e-10, rtol=0)
            logits, state = step(x[:, t], state)


def test_stepper_matches_nn_lstm_state():
    model = tiny_model().eval()
    x = torch.randint(7, (2, 6))
    _, (h_ref, c_ref) = model(x)
    _, state = model(x[:, :1])
    step = model.stepper()
    with torch.no_grad():
        for t in range(1, 6):
            _, state = step(x[:, t], state)
    assert torch.allclose(state[0], h_ref, atol=1e-6) and torch.allclose(state[1], c_ref, atol=1e-6)


def test_greedy_generation_is_deterministic_and_is_the_argmax_of_the_prefix():
    model = tiny_model(dtype=torch.float64)
    prompt = torch.tensor([[1, 2, 3], [4, 0, 6]])
    first = model.generate(prompt, 10, temperature=0)
    assert torch.equal(first, model.generate(prompt, 10, temperature=0))
    seq = prompt
    for _ in range(10):  # the slow way: re-run everything, take the argmax
        seq = torch.cat([seq, model(seq)[0][:, -1].argmax(-1, keepdim=True)], 1)
    assert torch.equal(first, seq[:, 3:])
    assert model.training  # generate() leaves the mode as it found it


def test_low_temperature_approaches_greedy():
    torch.manual_seed(0)
    logits = torch.randn(200, 9) * 3
    greedy = pick(logits, 0.0)
    agree = [(pick(logits, t, generator=torch.Generator().manual_seed(1)) == greedy).float().mean().item()
             for t in (2.0, 1.0, 0.3, 0.05, 1e-4)]
    assert agree == sorted(agree) and agree[0] < 0.7 and agree[-1] == 1.0


def test_top_k_draws_only_among_the_k_most_likely():
    logits = torch.randn(500, 10)
    top3 = logits.topk(3, -1).indices
    drawn = pick(logits, 5.0, top_k=3, generator=torch.Generator().manual_seed(0))
    assert (drawn[:, None] == top3).any(1).all()
    assert torch.equal(pick(logits, 1.0, top_k=1), logits.argmax(-1))


def test_generation_draws_reproducibly_with_a_seed():
    model = tiny_model()
    prompt = torch.zeros(3, 1, dtype=torch.long)
    a = model.generate(prompt, 20, 1.0, generator=torch.Generator().manual_seed(5))
    b = model.generate(prompt, 20, 1.0, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.shape == (3, 20)


def test_checkpoint_round_trip_restores_identical_outputs(tmp_path):
    model = tiny_model()
    ckpt = {"kind": "charlm", "config": {"embedding_dim": 4, "hidden_size": 6, "num_layers": 2, "dropout": 0.0},
            "vocab": "abcdefg", "model": model.state_dict(), "step": 0}
    checkpoint.save_atomic(ckpt, tmp_path / "m.pt")
    loaded, vocab = load_model(checkpoint.load(tmp_path / "m.pt"))
    x = torch.randint(7, (2, 9))
    assert vocab == "abcdefg"
    assert torch.equal(model.eval()(x)[0], loaded(x)[0])
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(model.generate(x, 15, 0.8, generator=g1), loaded.generate(x, 15, 0.8, generator=g2))
