import pytest
import torch
from torch import nn

from seqgraph.fused import kernels, native
from seqgraph.fused.gru import GRUFunction
from seqgraph.fused.lstm import LSTMFunction
from seqgraph.fused.peephole import PeepholeLSTMFunction
from seqgraph.fused.rnn import RNNFunction
from seqgraph.recurrent import GRU, LSTM, RNN, BiLSTM, PeepholeLSTM

from .recurrent_references import leaves, projection_loss

T, B, I, H = 3, 2, 3, 2


def randn(*shape):
    return torch.randn(*shape, dtype=torch.float64, requires_grad=True)


# every input of every function, float64 and requiring gradients
FUNCTIONS = {
    "lstm": (LSTMFunction, lambda: [randn(1, T, B, I), randn(1, 4 * H, I), randn(1, 4 * H), randn(1, 4 * H, H),
                                    randn(1, B, H), randn(1, B, H)]),
    "bilstm": (LSTMFunction, lambda: [randn(2, T, B, I), randn(2, 4 * H, I), randn(2, 4 * H), randn(2, 4 * H, H),
                                      randn(2, B, H), randn(2, B, H)]),
    "gru": (GRUFunction, lambda: [randn(T, B, I), randn(3 * H, I), randn(3 * H, H), randn(B, H)]),
    "peephole": (PeepholeLSTMFunction, lambda: [randn(T, B, I), randn(4 * H, I), randn(4 * H), randn(3 * H, H),
                                                randn(B, H)]),
    "rnn": (RNNFunction, lambda: [randn(T, B, I), randn(H, I), randn(H), randn(H, H), randn(B, H)]),
}


@pytest.fixture(params=["python", "native"])
def backend(request):
    """The loops of seqgraph.fused in Python, then in C++ (skipped where the C++ loops did not build)."""
    if request.param == "python":
        with native.python_loops():
            yield
    elif native.available():
        yield
    else:
        pytest.skip("the C++ loops did not build")


@pytest.fixture(params=["copy", "transposed"])
def weight_products(request, monkeypatch):
    """Weight gradients through both of kernels.weight_gradient's products: the copy below COPY_MAX_ROWS rows, and
    MKL's transposed product above (here for every size)."""
    if request.param == "transposed":
        monkeypatch.setattr(kernels, "COPY_MAX_ROWS", 0)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_fused_backward_passes_gradcheck(name, backend, weight_products):
    # each hand-written backward pass through time against finite differences, in float64, for every input
    function, make_inputs = FUNCTIONS[name]
    torch.manual_seed(0)
    assert torch.autograd.gradcheck(function.apply, make_inputs())


@pytest.mark.parametrize("name", FUNCTIONS)
def test_fused_backward_with_only_the_input_requiring_gradients(name, backend):
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
def test_onednn_and_torch_products_give_the_same_numbers(layer_class, backend):
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
def test_layers_take_an_empty_batch(layer_class, backend):
    # e.g. a graph's empty neighbourhood batch; oneDNN has no product over zero rows
    x = torch.randn(0, 5, 3, requires_grad=True)
    outputs, _ = layer_class(3, 4)(x)
    outputs.sum().backward()
    assert outputs.shape == (0, 5, 8 if layer_class is BiLSTM else 4) and x.grad.shape == x.shape


def outputs_and_gradients(layer, x, state=None, run=None):
    """``run(x, state)`` (by default ``layer``'s forward): outputs, final state and the gradients of
    projection_loss for x, the initial state and every parameter of ``layer``."""
    x = x.clone().requires_grad_()
    state_leaves = [] if state is None else leaves(tuple(s.clone() for s in state))
    state = None if state is None else tuple(state_leaves) if len(state_leaves) > 1 else state_leaves[0]
    outputs, final = (run or layer)(x, state)
    grads = torch.autograd.grad(projection_loss(outputs, final), [x, *state_leaves, *layer.parameters()],
                                allow_unused=True)
    return [outputs, *(final if isinstance(final, tuple) else (final,)), *grads]


def stepped_cells(layer, x, state):
    """The layer's cell (for the BiLSTM: each direction's) unrolled by hand over ``x`` ``(B, T, I)``."""
    if isinstance(layer, BiLSTM):
        H = layer.hidden_size
        (h, c) = state
        fwd, (h_f, c_f) = stepped_cells(layer.forward_lstm, x, (h[:, :H], c[:, :H]))
        bwd, (h_b, c_b) = stepped_cells(layer.backward_lstm, x.flip(1), (h[:, H:], c[:, H:]))
        return torch.cat((fwd, bwd.flip(1)), -1), (torch.cat((h_f, h_b), -1), torch.cat((c_f, c_b), -1))
    outputs = []
    for t in range(x.shape[1]):
        state = layer.cell(x[:, t], state)
        outputs.append(state[0] if isinstance(state, tuple) else state)
    return torch.stack(outputs, 1), state


@pytest.mark.parametrize("layer_class", (RNN, LSTM, GRU, PeepholeLSTM, BiLSTM))
def test_fused_loops_equal_their_cells_stepped_by_hand(layer_class, backend, weight_products):
    # each fused path against its cell in float32: outputs, final state and every gradient
    torch.manual_seed(0)
    layer = layer_class(3, 4)
    for p in layer.parameters():
        nn.init.normal_(p, std=0.5)  # the biases too: their zero init would leave them untested
    x = torch.randn(5, 7, 3)
    width = 2 * layer.hidden_size if layer.bidirectional else layer.hidden_size
    state = (torch.randn(5, width), torch.randn(5, width)) if layer_class in (LSTM, PeepholeLSTM, BiLSTM) \
        else (torch.randn(5, width),)
    ours = outputs_and_gradients(layer, x, state)
    reference = outputs_and_gradients(layer, x, state, run=lambda x, s: stepped_cells(layer, x, s))
    for a, b in zip(ours, reference, strict=True):
        if b is None:  # h(0) of the peephole LSTM, which its cell never reads
            assert a is None or torch.count_nonzero(a) == 0
        else:
            torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


# (B, T, I, H): odd sizes, so that torch computes some elements of its elementwise kernels one by one rather
# than vectorised, and batches large enough for two threads to split an operation (mid-row for some)
SHAPES = [(4, 9, 3, 5), (3, 4, 3, 16), (301, 3, 4, 50), (700, 2, 3, 33)]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layer_class", (RNN, LSTM, GRU, PeepholeLSTM, BiLSTM))
def test_native_loops_give_the_python_loops_numbers_bit_for_bit(layer_class, shape, threads):
    if not native.available():
        pytest.skip("the C++ loops did not build")
    torch.set_num_threads(threads)  # the one_thread fixture restores it
    B, T, I, H = shape
    torch.manual_seed(0)
    layer = layer_class(I, H)
    for p in layer.parameters():
        nn.init.normal_(p, std=0.5)
    x = torch.randn(B, T, I)
    ours = outputs_and_gradients(layer, x)
    with native.python_loops():
        reference = outputs_and_gradients(layer, x)
    for a, b in zip(ours, reference, strict=True):
        assert torch.equal(a, b)


def test_linear_takes_slices_and_transposes():
    torch.manual_seed(0)
    buffer, weight = torch.randn(6, 9), torch.randn(4, 6)
    for x, w in ((buffer[:, :6], weight), (buffer[:, :4].t(), buffer[:4, :6]), (buffer[:, 3:7], weight.t()[:4])):
        torch.testing.assert_close(kernels.linear(x, w), x @ w.t())
    assert kernels.onednn(torch.zeros(1, dtype=torch.float64)) is False


@pytest.mark.parametrize("rows", [kernels.COPY_MAX_ROWS, kernels.COPY_MAX_ROWS + 1])
def test_weight_gradient_on_either_side_of_the_copy_limit(rows):
    # sum_t d(t)^T [x(t), h(t)] against float64, d a slice of a wider buffer as the GRU's gate gradients are
    torch.manual_seed(0)
    buffer, x, h = torch.randn(rows, 1, 12), torch.randn(rows, 1, 3), torch.randn(rows, 1, 5)
    d = buffer[..., :8]
    expected = d.double().reshape(rows, 8).t() @ torch.cat((x, h), -1).double().reshape(rows, 8)
    torch.testing.assert_close(kernels.weight_gradient(d, x, h).double(), expected, rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(kernels.weight_gradient(d, h).double(), expected[:, 3:], rtol=1e-5, atol=1e-3)


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
