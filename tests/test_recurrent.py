import pytest
import torch
from torch import nn

from seqgraph.recurrent import GRU, LSTM, RNN, BiLSTM, PeepholeLSTM

from .recurrent_references import SPEC, leaves, projection_loss, random_state, rel_err

LAYERS = (RNN, LSTM, GRU, PeepholeLSTM)


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


def gradients(run, layer, dtype, seed=1):
    """Outputs, final state and the gradients of projection_loss for x, the initial state and every parameter."""
    torch.manual_seed(seed)  # the same numbers in float32 and float64: drawn in float64
    x = torch.randn(3, 5, layer.input_size, dtype=torch.float64).to(dtype).requires_grad_()
    state = random_state(layer, 3, torch.float64)
    state = tuple(s.to(dtype) for s in state) if isinstance(state, tuple) else state.to(dtype)
    outputs, final = run(x, state)
    inputs = [x, *leaves(state), *layer.parameters()]
    grads = torch.autograd.grad(projection_loss(outputs, final), inputs, allow_unused=True)
    return [outputs, *(final if isinstance(final, tuple) else (final,))], grads


def stepped(layer):
    """``layer.cell`` unrolled by hand, as gradient-flow analyses do."""
    def run(x, state):
        outputs = []
        for t in range(x.shape[1]):
            state = layer.cell(x[:, t], state)
            outputs.append(state[0] if isinstance(state, tuple) else state)
        return torch.stack(outputs, 1), state
    return run


@pytest.mark.parametrize("layer_class", LAYERS)
def test_layer_equals_its_cell_stepped_by_hand(layer_class):
    # the fused loop against the cell, in float32: outputs, final state and every gradient
    torch.manual_seed(0)
    layer = layer_class(3, 4)
    if layer.cell.bias is not None:
        nn.init.normal_(layer.cell.bias)
    (values, grads), (values_ref, grads_ref) = (gradients(run, layer, torch.float32) for run in (layer, stepped(layer)))
    for a, b in zip(values, values_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    for a, b in zip(grads, grads_ref, strict=True):
        if b is None:  # h(0) of the peephole LSTM, which its cell never reads
            assert a is None
        else:
            torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


@pytest.mark.parametrize("layer_class", LAYERS)
def test_float32_layer_matches_float64_spec_equations(layer_class):
    # the float32 loop (oneDNN's products where torch has them) against the equations in float64
    torch.manual_seed(0)
    layer = layer_class(3, 4)
    if layer.cell.bias is not None:
        nn.init.normal_(layer.cell.bias)
    values, grads = gradients(layer, layer, torch.float32)
    layer64 = layer_class(3, 4).double()
    layer64.load_state_dict(layer.state_dict())
    values_ref, grads_ref = gradients(lambda x, s: SPEC[layer_class](layer64.cell, x, s), layer64, torch.float64)
    for a, b in zip([*values, *grads], [*values_ref, *grads_ref], strict=True):
        if b is None:
            assert a is None
        else:
            torch.testing.assert_close(a.double(), b, rtol=1e-5, atol=1e-5)


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
    # Ensure same weights and bias:
    ours = BiLSTM.from_torch(ref)
    x = torch.randn(2, 5, 3)
    h0, c0 = torch.randn(2, 2, 4), torch.randn(2, 2, 4)  # torch: (direction, B, H)
    x_ref, h0_ref, c0_ref = (t.clone().requires_grad_() for t in (x, h0, c0))
    x_ours, h0_ours, c0_ours = (t.requires_grad_() for t in (x, torch.cat(tuple(h0), 1), torch.cat(tuple(c0), 1)))
    out_ref, (h_ref, c_ref) = ref(x_ref, (h0_ref, c0_ref))
    out, (h, c) = ours(x_ours, (h0_ours, c0_ours))
    torch.testing.assert_close(out, out_ref, rtol=0, atol=1e-6)
    torch.testing.assert_close(h, torch.cat(tuple(h_ref), 1), rtol=0, atol=1e-6)
    torch.testing.assert_close(c, torch.cat(tuple(c_ref), 1), rtol=0, atol=1e-6)
    projection_loss(out_ref, (torch.cat(tuple(h_ref), 1), torch.cat(tuple(c_ref), 1))).backward()
    projection_loss(out, (h, c)).backward()
    pairs = [(x_ours.grad, x_ref.grad), (h0_ours.grad, torch.cat(tuple(h0_ref.grad), 1)),
             (c0_ours.grad, torch.cat(tuple(c0_ref.grad), 1))]
    for lstm, suffix in ((ours.forward_lstm, "_l0"), (ours.backward_lstm, "_l0_reverse")):
        pairs += [(lstm.cell.weight_ih.grad, getattr(ref, "weight_ih" + suffix).grad),
                  (lstm.cell.weight_hh.grad, getattr(ref, "weight_hh" + suffix).grad),
                  (lstm.cell.bias.grad, getattr(ref, "bias_ih" + suffix).grad),
                  (lstm.cell.bias.grad, getattr(ref, "bias_hh" + suffix).grad)]
    for a, b in pairs:
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


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
