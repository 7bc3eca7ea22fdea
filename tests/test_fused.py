import pytest
import torch

from seqgraph.fused import kernels
from seqgraph.fused.gru import GRUFunction
from seqgraph.fused.lstm import LSTMFunction
from seqgraph.fused.peephole import PeepholeLSTMFunction
from seqgraph.fused.rnn import RNNFunction
from seqgraph.recurrent import GRU, LSTM, RNN, BiLSTM, PeepholeLSTM

from .recurrent_references import projection_loss

T, B, I, H = 3, 2, 3, 2


def randn(*shape):
    return torch.randn(*shape, dtype=torch.float64, requires_grad=True)


# every input of every function, float64 and requiring gradients
FUNCTIONS = {
    "lstm": (LSTMFunction, lambda: [randn(T, 1, B, I), randn(1, 4 * H, I), randn(1, 4 * H), randn(1, 4 * H, H),
                                    randn(1, B, H), randn(1, B, H)]),
    "bilstm": (LSTMFunction, lambda: [randn(T, 2, B, I), randn(2, 4 * H, I), randn(2, 4 * H), randn(2, 4 * H, H),
                                      randn(2, B, H), randn(2, B, H)]),
    "gru": (GRUFunction, lambda: [randn(T, B, I), randn(3 * H, I), randn(3 * H, H), randn(B, H)]),
    "peephole": (PeepholeLSTMFunction, lambda: [randn(T, B, I), randn(4 * H, I), randn(4 * H), randn(3 * H, H),
                                                randn(B, H)]),
    "rnn": (RNNFunction, lambda: [randn(T, B, I), randn(H, I), randn(H), randn(H, H), randn(B, H)]),
}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_fused_backward_passes_gradcheck(name):
    # each hand-written backward pass through time against finite differences, in float64, for every input
    function, make_inputs = FUNCTIONS[name]
    torch.manual_seed(0)
    assert torch.autograd.gradcheck(function.apply, make_inputs())


@pytest.mark.parametrize("name", FUNCTIONS)
def test_fused_backward_with_only_the_input_requiring_gradients(name):
    # the branches that skip the gradients nobody asked for
    function, make_inputs = FUNCTIONS[name]
    torch.manual_seed(0)
    inputs = make_inputs()
    outputs = function.apply(*inputs)
    (d_x,) = torch.autograd.grad(projection_loss(outputs[0], tuple(outputs[1:])), inputs[0])
    for frozen in inputs[1:]:
        frozen.requires_grad_(False)
    outputs = function.apply(*inputs)
    (d_x_alone,) = torch.autograd.grad(projection_loss(outputs[0], tuple(outputs[1:])), inputs[0])
    torch.testing.assert_close(d_x_alone, d_x, rtol=0, atol=0)


@pytest.mark.skipif(not kernels.onednn(torch.zeros(1)), reason="torch built without oneDNN")
@pytest.mark.filterwarnings("ignore:TF32 acceleration")  # mkldnn.flags() also sets allow_tf32, for Intel GPUs
@pytest.mark.parametrize("layer_class", (RNN, LSTM, GRU, PeepholeLSTM, BiLSTM))
def test_onednn_and_torch_products_give_the_same_numbers(layer_class):
    # the float32 CPU loops take oneDNN's products (packed weights: T >= PACK_MIN_STEPS); with oneDNN off they
    # take torch.matmul's
    torch.manual_seed(0)
    layer = layer_class(5, 6)
    x = torch.randn(4, kernels.PACK_MIN_STEPS + 1, 5)
    runs = []
    for enabled in (True, False):
        with torch.backends.mkldnn.flags(enabled=enabled):
            x_run = x.clone().requires_grad_()
            outputs, final = layer(x_run)
            params = list(layer.parameters())
            grads = torch.autograd.grad(projection_loss(outputs, final), [x_run, *params])
        runs.append([outputs, *(final if isinstance(final, tuple) else (final,)), *grads])
    for a, b in zip(*runs, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


@pytest.mark.parametrize("layer_class", (RNN, LSTM, GRU, PeepholeLSTM, BiLSTM))
def test_layers_take_an_empty_batch(layer_class):
    # e.g. a graph's empty neighbourhood batch; oneDNN has no product over zero rows
    x = torch.randn(0, 5, 3, requires_grad=True)
    outputs, _ = layer_class(3, 4)(x)
    outputs.sum().backward()
    assert outputs.shape == (0, 5, 8 if layer_class is BiLSTM else 4) and x.grad.shape == x.shape


def test_linear_takes_slices_and_transposes():
    torch.manual_seed(0)
    buffer, weight = torch.randn(6, 9), torch.randn(4, 6)
    for x, w in ((buffer[:, :6], weight), (buffer[:, :4].t(), buffer[:4, :6]), (buffer[:, 3:7], weight.t()[:4])):
        torch.testing.assert_close(kernels.linear(x, w), x @ w.t())
    assert kernels.onednn(torch.zeros(1, dtype=torch.float64)) is False


def test_packed_weights_give_the_products_of_the_weights():
    # laid out once for a row count, a weight serves products of any row count; float64 is left as it is
    torch.manual_seed(0)
    weight = torch.randn(8, 5)
    steps = kernels.PACK_MIN_STEPS
    packed = kernels.pack(weight, 4, steps)
    assert packed.is_mkldnn == (kernels._ONEDNN_PACK is not None)
    for rows in (4, 1, 9):
        x = torch.randn(rows, 5)
        torch.testing.assert_close(kernels.linear(x, packed), x @ weight.t())
    per_direction = kernels.pack(torch.stack([weight, 2 * weight]), 3, steps)
    assert isinstance(per_direction, list) == (kernels._ONEDNN_PACK is not None)
    x = torch.randn(2, 3, 5)
    out = kernels.batched_linear(x, per_direction, torch.ones(2, 3, 8), out=torch.empty(2, 3, 8))
    torch.testing.assert_close(out, 1 + x @ torch.stack([weight, 2 * weight]).transpose(1, 2))
    assert torch.equal(kernels.pack(weight.double(), 4, steps), weight.double())
    assert kernels.pack(weight, 0, steps) is weight  # no rows: nothing goes through oneDNN
    assert kernels.pack(weight, 4, steps - 1) is weight  # too short a loop to pay for the layout


def test_tanh_is_torch_tanh():
    x = torch.linspace(-30, 30, 10001)
    torch.testing.assert_close(kernels.tanh(x, out=torch.empty_like(x)), torch.tanh(x), rtol=0, atol=3e-7)
