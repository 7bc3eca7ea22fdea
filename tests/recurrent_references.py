"""References written directly from SPEC's equations, one time step per loop iteration, and the helpers the
recurrent-layer tests share. Each reference slices the fused parameters into SPEC's matrices as the cell
docstrings say."""

import torch

from seqgraph.recurrent import GRU, LSTM, RNN, PeepholeLSTM


def spec_rnn(cell, x, h):
    W_hx, W_hh, b_h = cell.weight_ih, cell.weight_hh, cell.bias
    hs = []
    for t in range(x.shape[1]):
        h = torch.tanh(x[:, t] @ W_hx.T + h @ W_hh.T + b_h)  # (1)
        hs.append(h)
    return torch.stack(hs, 1), h


def spec_lstm(cell, x, state):
    W_ix, W_fx, W_gx, W_ox = cell.weight_ih.chunk(4)
    W_ih, W_fh, W_gh, W_oh = cell.weight_hh.chunk(4)
    b_i, b_f, b_g, b_o = cell.bias.chunk(4)
    h, c = state
    hs = []
    for t in range(x.shape[1]):
        x_t = x[:, t]
        g = torch.tanh(x_t @ W_gx.T + h @ W_gh.T + b_g)  # (4)
        i = torch.sigmoid(x_t @ W_ix.T + h @ W_ih.T + b_i)  # (5)
        f = torch.sigmoid(x_t @ W_fx.T + h @ W_fh.T + b_f)  # (6)
        o = torch.sigmoid(x_t @ W_ox.T + h @ W_oh.T + b_o)  # (7)
        c = g * i + c * f  # (8)
        h = torch.tanh(c) * o  # (9)
        hs.append(h)
    return torch.stack(hs, 1), (h, c)


def spec_gru(cell, x, h):
    H = cell.hidden_size
    # W_z, W_r and W act on the concatenation [h(t-1), x(t)]
    W_z = torch.cat((cell.weight_hh[:H], cell.weight_ih[:H]), 1)
    W_r = torch.cat((cell.weight_hh[H : 2 * H], cell.weight_ih[H : 2 * H]), 1)
    W = torch.cat((cell.weight_hh[2 * H :], cell.weight_ih[2 * H :]), 1)
    hs = []
    for t in range(x.shape[1]):
        x_t = x[:, t]
        z = torch.sigmoid(torch.cat((h, x_t), 1) @ W_z.T)  # (29)
        r = torch.sigmoid(torch.cat((h, x_t), 1) @ W_r.T)  # (30)
        h_tilde = torch.tanh(torch.cat((r * h, x_t), 1) @ W.T)  # (31)
        h = (1 - z) * h + z * h_tilde  # (32)
        hs.append(h)
    return torch.stack(hs, 1), h


def spec_peephole(cell, x, state):
    W_ix, W_fx, W_cx, W_ox = cell.weight_ih.chunk(4)
    W_ih, W_fh, W_oh = cell.weight_hh.chunk(3)
    b_i, b_f, b_c, b_o = cell.bias.chunk(4)
    _, c = state
    hs = []
    for t in range(x.shape[1]):
        x_t = x[:, t]
        f = torch.sigmoid(x_t @ W_fx.T + c @ W_fh.T + b_f)  # (35)
        i = torch.sigmoid(x_t @ W_ix.T + c @ W_ih.T + b_i)  # (36)
        o = torch.sigmoid(x_t @ W_ox.T + c @ W_oh.T + b_o)  # (37)
        c = torch.sigmoid(x_t @ W_cx.T + b_c) * i + c * f  # (38)
        h = torch.tanh(c) * o  # (39)
        hs.append(h)
    return torch.stack(hs, 1), (h, c)


SPEC = {RNN: spec_rnn, LSTM: spec_lstm, GRU: spec_gru, PeepholeLSTM: spec_peephole}


def random_state(layer, batch, dtype=torch.float32):
    h = torch.randn(batch, layer.hidden_size, dtype=dtype)
    return (h, torch.randn(batch, layer.hidden_size, dtype=dtype)) if layer.cell.has_cell_state else h


def leaves(state):
    return [s.requires_grad_() for s in (state if isinstance(state, tuple) else (state,))]


def projection_loss(outputs, state, seed=1):
    """A loss that reaches every output and the whole final state, with fixed random weights."""
    gen = torch.Generator().manual_seed(seed)
    terms = [outputs, *(state if isinstance(state, tuple) else (state,))]
    return sum((t * torch.randn(t.shape, generator=gen, dtype=torch.float64).to(t.dtype)).sum() for t in terms)


def rel_err(a, b):
    return ((a - b).norm() / b.norm()).item()
