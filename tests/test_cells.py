import math

import pytest
import torch
from torch import nn

from seqgraph.cells import GRUCell, LSTMCell, PeepholeLSTMCell, RNNCell

CELLS = (RNNCell, LSTMCell, GRUCell, PeepholeLSTMCell)


@pytest.mark.parametrize("cls", CELLS)
def test_cell_shapes_repr_and_zero_state(cls):
    cell = cls(3, 5)
    assert str(cell) == f"{cls.__name__}(3, 5)"
    x = torch.randn(4, 3)
    state = cell(x)
    if cls in (LSTMCell, PeepholeLSTMCell):
        h, c = state
        assert h.shape == c.shape == (4, 5)
        assert torch.equal(cell(x, cell.zero_state(x))[1], c)
    else:
        assert state.shape == (4, 5)
        assert torch.equal(cell(x, torch.zeros(4, 5)), state)


def test_lstm_cell_parameter_names_and_shapes():
    cell = LSTMCell(3, 5)
    shapes = {name: tuple(p.shape) for name, p in cell.named_parameters()}
    assert shapes == {"weight_ih": (20, 3), "weight_hh": (20, 5), "bias": (20,)}


@pytest.mark.parametrize("cls", CELLS)
def test_cell_init_is_kaiming_normal_with_zero_bias(cls):
    torch.manual_seed(0)
    cell = cls(200, 300)
    # GRU: SPEC's W_z, W_r and W act on [h, x], so their fan-in is H + I
    fan_in_ih, fan_in_hh = (500, 500) if cls is GRUCell else (200, 300)
    assert cell.weight_ih.std().item() == pytest.approx(math.sqrt(2 / fan_in_ih), rel=0.02)
    assert cell.weight_hh.std().item() == pytest.approx(math.sqrt(2 / fan_in_hh), rel=0.02)
    assert cell.weight_ih.mean().abs().item() < 0.01
    if cls is GRUCell:
        assert cell.bias is None  # SPEC's GRU equations have none
    else:
        assert torch.count_nonzero(cell.bias) == 0


@pytest.mark.parametrize("shape", [(1, 1), (4, 7)])
def test_lstm_cell_matches_torch_lstm_cell(shape):
    batch, hidden = shape
    torch.manual_seed(0)
    ref = nn.LSTMCell(3, hidden)
    # Ensure same weights and bias:
    cell = LSTMCell.from_torch(ref)
    x, h, c = torch.randn(batch, 3), torch.randn(batch, hidden), torch.randn(batch, hidden)
    h_ref, c_ref = ref(x, (h, c))
    h_ours, c_ours = cell(x, (h, c))
    torch.testing.assert_close(h_ours, h_ref, rtol=0, atol=1e-6)
    torch.testing.assert_close(c_ours, c_ref, rtol=0, atol=1e-6)


def test_lstm_cell_from_torch_lstm_sums_the_two_biases_and_keeps_dtype():
    ref = nn.LSTM(3, 4, bidirectional=True).double()
    for reverse, suffix in ((False, "_l0"), (True, "_l0_reverse")):
        cell = LSTMCell.from_torch(ref, reverse=reverse)
        assert cell.weight_hh.dtype == torch.float64
        assert torch.equal(cell.weight_ih, getattr(ref, "weight_ih" + suffix))
        assert torch.equal(cell.bias, getattr(ref, "bias_ih" + suffix) + getattr(ref, "bias_hh" + suffix))
    assert torch.count_nonzero(LSTMCell.from_torch(nn.LSTMCell(3, 4, bias=False)).bias) == 0


def test_rnn_cell_matches_torch_rnn_cell():
    torch.manual_seed(0)
    ref = nn.RNNCell(3, 5)
    cell = RNNCell(3, 5)
    # Ensure same weights and bias:
    with torch.no_grad():
        cell.weight_ih.copy_(ref.weight_ih)
        cell.weight_hh.copy_(ref.weight_hh)
        cell.bias.copy_(ref.bias_ih + ref.bias_hh)
    x, h = torch.randn(4, 3), torch.randn(4, 5)
    torch.testing.assert_close(cell(x, h), ref(x, h), rtol=0, atol=1e-6)


def test_lstm_cell_from_torch_errors():
    with pytest.raises(ValueError, match="LSTMCell.from_torch: needs a one-layer"):
        LSTMCell.from_torch(nn.LSTM(3, 4, num_layers=2))
    for module in (nn.LSTM(3, 4), nn.LSTMCell(3, 4)):
        with pytest.raises(ValueError, match="reverse=True needs a bidirectional"):
            LSTMCell.from_torch(module, reverse=True)
    with pytest.raises(ValueError, match="expected nn.LSTM or nn.LSTMCell, got GRU"):
        LSTMCell.from_torch(nn.GRU(3, 4))


@pytest.mark.parametrize("cls", CELLS)
@pytest.mark.parametrize("sizes", [(0, 4), (3, -1), (3, 2.5), (True, 4)])
def test_cell_rejects_bad_sizes(cls, sizes):
    with pytest.raises(ValueError, match=f"{cls.__name__}: (input|hidden)_size must be a positive integer"):
        cls(*sizes)
