"""The character model on seqgraph's own layers (--cell lstm|gru|rnn) against torch.nn.LSTM, and nucleus sampling."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqgraph.charlm.evaluate import stream_score
from seqgraph.charlm.model import CharLM, CharLMConfig, pick


def pair(layers=2):
    """A model on nn.LSTM and one on our LSTM holding the same weights (nn.LSTM's two biases summed into one)."""
    torch.manual_seed(0)
    config = CharLMConfig(11, embedding_dim=6, hidden_size=9, num_layers=layers)
    reference, ours = CharLM(config), CharLM(CharLMConfig(**{**config.__dict__, "cell": "lstm"}))
    with torch.no_grad():
        for name in ("embedding", "head"):
            getattr(ours, name).load_state_dict(getattr(reference, name).state_dict())
        for l, layer in enumerate(ours.layers):
            layer.cell.weight_ih.copy_(getattr(reference.lstm, f"weight_ih_l{l}"))
            layer.cell.weight_hh.copy_(getattr(reference.lstm, f"weight_hh_l{l}"))
            layer.cell.bias.copy_(getattr(reference.lstm, f"bias_ih_l{l}") + getattr(reference.lstm, f"bias_hh_l{l}"))
    return reference, ours


def test_our_lstm_matches_nn_lstm_in_outputs_state_and_gradients():
    reference, ours = pair(layers=3)
    x, y = torch.randint(11, (4, 13)), torch.randint(11, (4, 13))
    state = tuple(torch.randn(3, 4, 9) for _ in range(2))  # a carried state, as in stateful training
    outputs = [model(x, state) for model in (reference, ours)]
    assert torch.allclose(outputs[0][0], outputs[1][0], atol=1e-5, rtol=0)
    assert all(torch.allclose(a, b, atol=1e-5, rtol=0) for a, b in zip(outputs[0][1], outputs[1][1], strict=True))
    for logits, _ in outputs:
        F.cross_entropy(logits.flatten(0, 1), y.flatten()).backward()
    for name in ("embedding.weight", "head.weight", "head.bias"):
        assert torch.allclose(reference.get_parameter(name).grad, ours.get_parameter(name).grad, atol=1e-5, rtol=0)
    for l, layer in enumerate(ours.layers):
        grad = {name: getattr(reference.lstm, f"{name}_l{l}").grad for name in ("weight_ih", "weight_hh", "bias_ih")}
        assert torch.allclose(layer.cell.weight_ih.grad, grad["weight_ih"], atol=1e-5, rtol=0)
        assert torch.allclose(layer.cell.weight_hh.grad, grad["weight_hh"], atol=1e-5, rtol=0)
        assert torch.allclose(layer.cell.bias.grad, grad["bias_ih"], atol=1e-5, rtol=0)  # = grad of bias_hh too


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_stepping_our_cells_equals_the_layers_and_state_carries(cell):
    torch.manual_seed(1)
    model = CharLM(CharLMConfig(7, embedding_dim=4, hidden_size=5, num_layers=2, cell=cell)).double().eval()
    x = torch.randint(7, (3, 8))
    with torch.no_grad():
        logits, final = model(x)
        _, state = model(x[:, :1])
        step = model.stepper()
        for t in range(1, 8):
            step_logits, state = step(x[:, t], state)
        assert torch.allclose(step_logits, logits[:, -1], atol=1e-12)
        assert all(torch.allclose(a, b, atol=1e-12) for a, b in zip(state, final, strict=True))
        # two halves with the state carried = the whole
        first, carried = model(x[:, :3])
        second, _ = model(x[:, 3:], carried)
    assert torch.allclose(torch.cat([first, second], 1), logits, atol=1e-12)
    assert len(final) == (2 if cell == "lstm" else 1) and final[0].shape == (2, 3, 5)
    data = np.random.default_rng(0).integers(0, 7, 50)
    reference = F.cross_entropy(model(torch.from_numpy(data[None, :-1]))[0][0], torch.from_numpy(data[1:])).item()
    assert stream_score(model, data, window=6)["loss"] == pytest.approx(reference, rel=1e-12)


def test_nucleus_draws_only_from_the_smallest_set_reaching_p():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).repeat(2000, 1)
    drawn = pick(probs.log(), 1.0, top_p=0.75, generator=torch.Generator().manual_seed(0))
    assert set(drawn.tolist()) == {0, 1}  # 0.5 + 0.3 reaches 0.75, 0.5 alone does not
    assert abs((drawn == 0).float().mean().item() - 0.5 / 0.8) < 0.04  # renormalised over the nucleus
    drawn = pick(probs.log(), 1.0, top_p=0.85, generator=torch.Generator().manual_seed(0))
    assert set(drawn.tolist()) == {0, 1, 2}
    assert set(pick(probs.log(), 1.0, top_p=0.2).tolist()) == {0}  # the most likely always stays
    logits = torch.randn(50, 9)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(pick(logits, 0.7, top_p=1.0, generator=g1), pick(logits, 0.7, generator=g2))
