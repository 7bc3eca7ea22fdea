import pytest
import torch
from torch import nn

from seqgraph.recurrent import GRU, LSTM, RNN, BiLSTM, LSTMFunction, PeepholeLSTM

LAYERS = (RNN, LSTM, GRU, PeepholeLSTM)


# --- References written directly from SPEC's equations, one time step per loop iteration. Each slices the
# --- fused parameters into SPEC's matrices as the cell docstrings say.

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
    return sum((t * torch.randn(t.shape, generator=gen, dtype=t.dtype)).sum() for t in terms)


def rel_err(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize("layer_class", LAYERS)
def test_layer_matches_spec_equations_in_float64(layer_class):
    torch.manual_seed(0)
    layer = layer_class(3, 5).double()
    if layer.cell.bias is not None:
        nn.init.normal_(layer.cell.bias)  # the zero init would leave the biases untested
    runs = []
    for run in (layer, lambda x, s: SPEC[layer_class](layer.cell, x, s)):
        torch.manual_seed(1)
        x = torch.randn(4, 6, 3, dtype=torch.float64, requires_grad=True)
        state = random_state(layer, 4, torch.float64)
        outputs, final = run(x, state)
        inputs = [x, *leaves(state), *layer.parameters()]
        grads = torch.autograd.grad(projection_loss(outputs, final), inputs, allow_unused=True)
        runs.append((outputs, final, grads))
    (out, final, grads), (out_ref, final_ref, grads_ref) = runs
    assert out.shape == (4, 6, 5)
    assert rel_err(out, out_ref) <= 1e-6
    for ours, ref in zip(final if isinstance(final, tuple) else (final,),
                         final_ref if isinstance(final_ref, tuple) else (final_ref,), strict=True):
        assert rel_err(ours, ref) <= 1e-6
    for ours, ref in zip(grads, grads_ref, strict=True):
        if ref is None:  # h(0) of the peephole LSTM, which SPEC's cell never reads
            assert ours is None or torch.count_nonzero(ours) == 0
        else:
            assert rel_err(ours, ref) <= 1e-6


@pytest.mark.parametrize("shape", [(1, 1), (3, 1), (1, 6), (5, 9)])
@pytest.mark.parametrize("with_state", [False, True])
def test_lstm_matches_torch_lstm(shape, with_state):
    batch, steps = shape
    torch.manual_seed(0)
    ref = nn.LSTM(3, 4, batch_first=True)
    # Ensure same weights and bias:
    ours = LSTM.from_torch(ref)
    x = torch.randn(batch, steps, 3)
    h0, c0 = torch.randn(batch, 4), torch.randn(batch, 4)
    x_ref, x_ours = x.clone().requires_grad_(), x.clone().requires_grad_()
    state_ref = (h0[None].clone().requires_grad_(), c0[None].clone().requires_grad_()) if with_state else None
    state_ours = (h0.clone().requires_grad_(), c0.clone().requires_grad_()) if with_state else None
    out_ref, (h_ref, c_ref) = ref(x_ref, state_ref)
    out, (h, c) = ours(x_ours, state_ours)
    for a, b in ((out, out_ref), (h, h_ref[0]), (c, c_ref[0])):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    projection_loss(out_ref, (h_ref[0], c_ref[0])).backward()
    projection_loss(out, (h, c)).backward()
    pairs = [(x_ours.grad, x_ref.grad), (ours.cell.weight_ih.grad, ref.weight_ih_l0.grad),
             (ours.cell.weight_hh.grad, ref.weight_hh_l0.grad), (ours.cell.bias.grad, ref.bias_ih_l0.grad),
             (ours.cell.bias.grad, ref.bias_hh_l0.grad)]
    if with_state:
        pairs += [(state_ours[0].grad, state_ref[0].grad[0]), (state_ours[1].grad, state_ref[1].grad[0])]
    for a, b in pairs:
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


def test_lstm_function_gradcheck():
    # the hand-written backward pass through time against finite differences, in float64
    torch.manual_seed(0)
    T, B, H = 3, 2, 2
    inputs = [torch.randn(T, B, 4 * H), torch.randn(B, H), torch.randn(B, H), torch.randn(4 * H, H)]
    inputs = [t.double().requires_grad_() for t in inputs]
    assert torch.autograd.gradcheck(LSTMFunction.apply, inputs)


@pytest.mark.parametrize("layer_class", LAYERS)
def test_layer_equals_its_cell_stepped_by_hand(layer_class):
    # what gradient-flow analyses do: unroll layer.cell themselves
    torch.manual_seed(0)
    layer = layer_class(3, 4)
    x = torch.randn(2, 5, 3)
    outputs, final = layer(x)
    state, stepped = None, []
    for t in range(x.shape[1]):
        state = layer.cell(x[:, t], state)
        stepped.append(state[0] if isinstance(state, tuple) else state)
    torch.testing.assert_close(outputs, torch.stack(stepped, 1), rtol=0, atol=1e-6)
    params = list(layer.parameters())
    grads = torch.autograd.grad(projection_loss(outputs, final), params)
    grads_stepped = torch.autograd.grad(projection_loss(torch.stack(stepped, 1), state), params)
    for a, b in zip(grads, grads_stepped, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


def test_bilstm_halves_are_lstms_over_the_sequence_and_its_reverse():
    torch.manual_seed(0)
    bi = BiLSTM(3, 4)
    x = torch.randn(2, 6, 3)
    outputs, (h, c) = bi(x)
    assert outputs.shape == (2, 6, 8) and h.shape == c.shape == (2, 8)
    fwd, bwd = LSTM(3, 4), LSTM(3, 4)
    fwd.load_state_dict(bi.forward_lstm.state_dict())
    bwd.load_state_dict(bi.backward_lstm.state_dict())
    out_fwd, (h_fwd, _) = fwd(x)
    out_bwd, (h_bwd, c_bwd) = bwd(x.flip(1))
    torch.testing.assert_close(outputs[..., :4], out_fwd)
    torch.testing.assert_close(outputs[..., 4:], out_bwd.flip(1))
    # the final state is H = [h_fwd(T); h_bwd(1)]: the backward LSTM's last step is position 1
    torch.testing.assert_close(h, torch.cat((h_fwd, h_bwd), 1))
    torch.testing.assert_close(h[:, 4:], outputs[:, 0, 4:])
    torch.testing.assert_close(c[:, 4:], c_bwd)


def test_bilstm_matches_torch_bidirectional_lstm_and_splits_its_initial_state():
    torch.manual_seed(0)
    ref = nn.LSTM(3, 4, batch_first=True, bidirectional=True)
    ours = BiLSTM.from_torch(ref)
    x = torch.randn(2, 5, 3)
    h0, c0 = torch.randn(2, 2, 4), torch.randn(2, 2, 4)  # torch: (direction, B, H)
    out_ref, (h_ref, c_ref) = ref(x, (h0, c0))
    out, (h, c) = ours(x, (torch.cat(tuple(h0), 1), torch.cat(tuple(c0), 1)))
    torch.testing.assert_close(out, out_ref, rtol=0, atol=1e-6)
    torch.testing.assert_close(h, torch.cat(tuple(h_ref), 1), rtol=0, atol=1e-6)
    torch.testing.assert_close(c, torch.cat(tuple(c_ref), 1), rtol=0, atol=1e-6)


def test_from_torch_rejects_the_wrong_direction():
    with pytest.raises(ValueError, match="LSTM.from_torch: got a bidirectional nn.LSTM"):
        LSTM.from_torch(nn.LSTM(3, 4, bidirectional=True))
    with pytest.raises(ValueError, match="BiLSTM.from_torch: expected a bidirectional nn.LSTM"):
        BiLSTM.from_torch(nn.LSTM(3, 4))


@pytest.mark.parametrize("layer_class", (*LAYERS, BiLSTM))
def test_layer_repr_and_inference_without_grad(layer_class):
    layer = layer_class(3, 4)
    assert "Cell(3, 4)" in str(layer)
    with torch.no_grad():
        outputs, _ = layer(torch.randn(1, 1, 3))
    assert outputs.shape == (1, 1, 8 if layer_class is BiLSTM else 4)


@pytest.mark.parametrize("layer_class", (*LAYERS, BiLSTM))
@pytest.mark.parametrize("x, message", [
    (torch.randn(2, 3), r"expected input of shape \(B, T, 3\), got \(2, 3\)"),
    (torch.randn(2, 5, 4), r"expected input of shape \(B, T, 3\), got \(2, 5, 4\)"),
    (torch.randn(2, 0, 3), "got sequences of length T=0"),
    (torch.ones(2, 5, 3, dtype=torch.long), "expected a floating-point tensor, got torch.int64"),
])
def test_layer_rejects_bad_input(layer_class, x, message):
    with pytest.raises(ValueError, match=f"{layer_class.__name__}: {message}"):
        layer_class(3, 4)(x)
