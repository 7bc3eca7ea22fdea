"""Every layer on the device named by ``SEQGRAPH_TEST_DEVICE`` (default ``cpu``) against the same module on the CPU
and against its torch / PyG / PyTorch Geometric Temporal counterpart on that device: outputs and gradients.

In the normal suite the device is the CPU, so these tests repeat the CPU comparisons of test_recurrent.py,
test_fused.py, test_graph_conv*.py and test_graph_temporal_*.py and pass; ``benchmarks/gpu.py`` runs this file with
``SEQGRAPH_TEST_DEVICE=cuda``, where they compare the CUDA paths (cuBLAS, cuSPARSE, cuDNN inside ``torch.nn.LSTM``,
the Python loops of :mod:`seqgraph.fused`) with the CPU ones. TF32 is off on the device, so float32 tolerances hold.

The fused loops take CPU-only code for CPU tensors alone (:mod:`seqgraph.fused.native`'s C++ loops, oneDNN's products
and weight packing in :mod:`seqgraph.fused.kernels`): the last tests show that the device alone chooses, on any
machine, with tensors of the ``meta`` device (every torch build has it) standing in for CUDA ones.
"""

import copy
import os
from collections import Counter

import pytest
import torch
import torch_geometric.nn as pyg_nn
from torch import nn

from seqgraph.fused import kernels, native
from seqgraph.graph.conv import GATConv, GCNConv, GINConv, SAGEConv, sage
from seqgraph.graph.data import remove_self_loops, to_csr
from seqgraph.graph.datasets.gvar import generate_gvar
from seqgraph.graph.level.models import mlp
from seqgraph.graph.temporal import DCGRUCell, ForecastTrainer, GConvGRUCell, GConvLSTMCell, TGCNCell, default_config
from seqgraph.graph.temporal.operators import gcn_operator, random_walks, scaled_laplacian
from seqgraph.recurrent import GRU, LSTM, RNN, BiLSTM, PeepholeLSTM

from .helpers import copy_pygt_gconv_gru, copy_pygt_gconv_lstm, pyg_temporal
from .test_fused import outputs_and_gradients, stepped_cells
from .test_graph_conv import random_graph
from .test_graph_conv import randomise as randomise_graph_layer
from .test_graph_temporal_cells import B, H, I, N, ring
from .test_graph_temporal_cells import inputs as temporal_inputs
from .test_graph_temporal_cells import randomise as randomise_cell
from .test_graph_temporal_conv import weighted_graph

DEVICE = torch.device(os.environ.get("SEQGRAPH_TEST_DEVICE", "cpu"))
CPU = torch.device("cpu")
TOLERANCE = dict(rtol=1e-4, atol=1e-5)  # float32, sums taken in another order on another device
RECURRENT = (RNN, LSTM, GRU, PeepholeLSTM, BiLSTM)


@pytest.fixture(autouse=True)
def float32_on_the_device(monkeypatch):
    """Fail (not skip) where a GPU was asked for and torch sees none; turn TF32 off there (it rounds float32
    products to 10 bits of mantissa, far outside float32 tolerances)."""
    if DEVICE.type == "cuda":
        if not torch.cuda.is_available():
            pytest.fail(f"SEQGRAPH_TEST_DEVICE={DEVICE}, but torch {torch.__version__} sees no GPU")
        monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
        monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)


def on_cpu(value):
    """``value`` (a tensor, None or a tuple of them) on the CPU; differentiable."""
    if isinstance(value, tuple):
        return tuple(on_cpu(v) for v in value)
    return None if value is None else value.cpu()


def assert_all_close(ours: list, reference: list) -> None:
    assert len(ours) == len(reference)
    for i, (a, b) in enumerate(zip(ours, reference, strict=True)):
        if b is None:  # h(0) of the peephole LSTM, which its cell never reads
            assert a is None or torch.count_nonzero(a) == 0, i
        else:
            torch.testing.assert_close(a, b, **TOLERANCE, msg=lambda m, i=i: f"value {i}: {m}")


# --- the recurrent layers -----------------------------------------------------------------------------------------


def recurrent_case(layer_class):
    """A layer with every parameter drawn (its biases' zero init would leave them untested), inputs ``(5, 7, 3)``
    and a random initial state, all on the CPU."""
    torch.manual_seed(0)
    layer = layer_class(3, 4)
    for p in layer.parameters():
        nn.init.normal_(p, std=0.5)
    width = 2 * layer.hidden_size if layer.bidirectional else layer.hidden_size
    state = (torch.randn(5, width), torch.randn(5, width)) if layer_class in (LSTM, PeepholeLSTM, BiLSTM) \
        else (torch.randn(5, width),)
    return layer, torch.randn(5, 7, 3), state


def on(device, module, x, state, forward=None, parameters=None):
    """test_fused's ``outputs_and_gradients`` of ``module`` moved to ``device`` (``forward(moved)``, by default the
    module itself, runs it; ``parameters(moved)``, by default its parameters, are those differentiated) with the
    inputs moved there, returned on the CPU. The loss is taken on the CPU, where projection_loss draws its weights:
    ``.cpu()`` is differentiable, so the backward pass still runs on the device."""
    module = copy.deepcopy(module).to(device)
    run = forward(module) if forward else module

    def run_then_cpu(x, state):
        outputs, final = run(x, state)
        assert outputs.device.type == device.type
        return outputs.cpu(), on_cpu(final)

    values = outputs_and_gradients(parameters(module) if parameters else module, x.to(device),
                                   tuple(s.to(device) for s in state), run_then_cpu)
    return [on_cpu(v) for v in values]


def torch_counterpart(layer_class):
    """Our layer and torch's with the same weights: ``nn.RNN(tanh)`` for the RNN (our one bias is the sum of its
    two), ``nn.LSTM`` for the LSTM and the BiLSTM (through ``from_torch``)."""
    torch.manual_seed(0)
    if layer_class is RNN:
        reference, layer = nn.RNN(3, 4, batch_first=True), RNN(3, 4)
        with torch.no_grad():
            layer.cell.weight_ih.copy_(reference.weight_ih_l0)
            layer.cell.weight_hh.copy_(reference.weight_hh_l0)
            layer.cell.bias.copy_(reference.bias_ih_l0 + reference.bias_hh_l0)
        return layer, reference
    reference = nn.LSTM(3, 4, batch_first=True, bidirectional=layer_class is BiLSTM)
    return layer_class.from_torch(reference), reference


def torch_forward(reference):
    """``reference`` (a batch-first ``nn.RNN`` or ``nn.LSTM``) called as our layers are: states ``(B, D H)`` in and
    out, torch's ``(D, B, H)`` inside."""
    D, H = 1 + reference.bidirectional, reference.hidden_size

    def to_torch(s):
        return s.view(s.shape[0], D, H).transpose(0, 1).contiguous()

    def to_ours(s):
        return s.transpose(0, 1).reshape(s.shape[1], D * H)

    def run(x, state):
        if isinstance(state, tuple):
            outputs, (h, c) = reference(x, tuple(map(to_torch, state)))
            return outputs, (to_ours(h), to_ours(c))
        outputs, h = reference(x, to_torch(state))
        return outputs, to_ours(h)
    return run


def torch_parameters(reference):
    """``reference``'s parameters in the order of our layer's (weight_ih, weight_hh, bias per direction); the
    gradient of our bias is that of each of torch's two."""
    suffixes = ("_l0", "_l0_reverse") if reference.bidirectional else ("_l0",)
    return nn.ParameterList(getattr(reference, f"{name}{suffix}") for suffix in suffixes
                            for name in ("weight_ih", "weight_hh", "bias_ih"))


@pytest.mark.parametrize("layer_class", RECURRENT)
def test_recurrent_layer_on_the_device_equals_it_on_the_cpu(layer_class):
    layer, x, state = recurrent_case(layer_class)
    assert_all_close(on(DEVICE, layer, x, state), on(CPU, layer, x, state))


@pytest.mark.parametrize("layer_class", RECURRENT)
def test_recurrent_layer_on_the_device_equals_its_cell_stepped_by_hand_there(layer_class):
    # the reference of the GRU and the peephole LSTM, which torch does not have (its GRU resets after the product)
    layer, x, state = recurrent_case(layer_class)
    stepped = on(DEVICE, layer, x, state, forward=lambda moved: lambda x, s: stepped_cells(moved, x, s))
    assert_all_close(on(DEVICE, layer, x, state), stepped)


@pytest.mark.parametrize("layer_class", (RNN, LSTM, BiLSTM))
def test_recurrent_layer_on_the_device_equals_torch_there(layer_class):
    # on CUDA torch.nn.LSTM and nn.RNN run cuDNN's kernels
    layer, reference = torch_counterpart(layer_class)
    _, x, state = recurrent_case(layer_class)
    theirs = on(DEVICE, reference, x, state, forward=torch_forward, parameters=torch_parameters)
    assert_all_close(on(DEVICE, layer, x, state), theirs)


# --- the graph layers ---------------------------------------------------------------------------------------------


def gradients_on(device, module, inputs, run, names=None, seed=0):
    """``run(module, *inputs)`` with copies of ``module`` and ``inputs`` on ``device``, then backward from a fixed
    random gradient of each output: the outputs, each input's gradient and each parameter's (by our name;
    ``names`` maps our names to ``module``'s, and leaves the others out), in one dict on the CPU."""
    module = copy.deepcopy(module).to(device)
    inputs = [t.to(device, copy=True).requires_grad_() for t in inputs]
    outputs = run(module, *inputs)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    assert all(o.device.type == device.type for o in outputs)
    g = torch.Generator().manual_seed(seed)
    torch.autograd.backward(outputs, [torch.randn(o.shape, generator=g).to(device) for o in outputs])
    parameters = dict(module.named_parameters())
    names = {name: name for name in parameters} if names is None else names
    results = {**{f"output {i}": o.detach() for i, o in enumerate(outputs)},
               **{f"gradient of input {i}": t.grad for i, t in enumerate(inputs)},
               **{f"gradient of {ours}": parameters[theirs].grad for ours, theirs in names.items()}}
    return {key: value.cpu() for key, value in results.items()}


def assert_same(ours: dict, reference: dict) -> None:
    assert ours.keys() == reference.keys()
    for key, value in ours.items():
        torch.testing.assert_close(value, reference[key], **TOLERANCE, msg=lambda m, k=key: f"{k}: {m}")


def graph_layer(name):
    """Ours for 12 input features with every parameter drawn, PyG's with the same weights, and PyG's name of each of
    our parameters."""
    if name == "gin":
        torch.manual_seed(0)
        ours = GINConv(mlp(12, 16, 7), eps=0.3, train_eps=True)
        theirs = pyg_nn.GINConv(mlp(12, 16, 7), eps=0.3, train_eps=True)  # resets its MLP: the weights are copied
        theirs.load_state_dict(ours.state_dict())  # the same names: nn.*, eps
        return ours, theirs, {name: name for name, _ in ours.named_parameters()}
    ours = {"gcn": lambda: GCNConv(12, 7), "gat": lambda: GATConv(12, 5, heads=3),
            "sage": lambda: SAGEConv(12, 7, "mean")}[name]()
    randomise_graph_layer(ours, 0)
    if name == "sage":  # PyG's lin_l takes the neighbours' mean (with the bias), lin_r the node itself
        theirs = pyg_nn.SAGEConv(12, 7, aggr="mean")
        names = {"lin_neigh.weight": "lin_l.weight", "bias": "lin_l.bias", "lin_self.weight": "lin_r.weight"}
        with torch.no_grad():
            for our_name, their_name in names.items():
                theirs.get_parameter(their_name).copy_(ours.get_parameter(our_name))
        return ours, theirs, names
    theirs = {"gcn": lambda: pyg_nn.GCNConv(12, 7), "gat": lambda: pyg_nn.GATConv(12, 5, heads=3)}[name]()
    theirs.load_state_dict(ours.state_dict())  # PyG's names and layout
    return ours, theirs, {name: name for name, _ in ours.named_parameters()}


GRAPH_LAYERS = ("gcn", "gat", "sage", "gin")


def on_graph(edge_index):
    """A graph layer's forward on ``edge_index`` moved to the layer's device."""
    def run(module, x):
        return module(x, edge_index.to(x.device))
    return run


@pytest.mark.parametrize("name", GRAPH_LAYERS)
def test_graph_layer_on_the_device_equals_it_on_the_cpu(name):
    ours, _, _ = graph_layer(name)
    x, edge_index = random_graph(0)
    run = on_graph(edge_index)
    assert_same(gradients_on(DEVICE, ours, [x], run), gradients_on(CPU, ours, [x], run))


@pytest.mark.parametrize("name", GRAPH_LAYERS)
def test_graph_layer_on_the_device_equals_pyg_there(name):
    ours, theirs, names = graph_layer(name)
    x, edge_index = random_graph(0)
    if name == "sage":  # ours drops self-loops; PyG's SAGEConv would count them as neighbours
        edge_index = remove_self_loops(edge_index)
    run = on_graph(edge_index)
    assert_same(gradients_on(DEVICE, ours, [x], run, names={ours: ours for ours in names}),
                gradients_on(DEVICE, theirs, [x], run, names=names))


def test_gcn_takes_sparse_features_on_the_device():
    # bag-of-words features stay a sparse CSR matrix in node classification, on the GPU too
    ours, _, _ = graph_layer("gcn")
    x, edge_index = random_graph(0)
    x = x * (torch.rand(x.shape, generator=torch.Generator().manual_seed(0)) < 0.2)
    ours, x, edge_index = ours.to(DEVICE), x.to(DEVICE), edge_index.to(DEVICE)
    torch.testing.assert_close(ours(to_csr(x), edge_index), ours(x, edge_index), **TOLERANCE)


def test_lstm_aggregator_on_the_device_equals_it_on_the_cpu(monkeypatch):
    # the neighbours are drawn on the CPU, the same order for both devices; the LSTM then reads them where it runs
    real = sage.sample_neighbours

    def same_draw(edge_index, num_nodes, num_samples, generator=None):
        index, lengths = real(edge_index.cpu(), num_nodes, num_samples, torch.Generator().manual_seed(0))
        return index.to(edge_index.device), lengths.to(edge_index.device)

    monkeypatch.setattr(sage, "sample_neighbours", same_draw)
    torch.manual_seed(0)
    ours = SAGEConv(12, 7, "lstm", num_samples=5)
    randomise_graph_layer(ours, 0)
    x, edge_index = random_graph(0)
    run = on_graph(edge_index)
    assert_same(gradients_on(DEVICE, ours, [x], run), gradients_on(CPU, ours, [x], run))


def test_neighbour_samples_are_drawn_where_the_graph_is():
    _, edge_index = random_graph(0, device=DEVICE)
    index, lengths = sage.sample_neighbours(edge_index, 40, 5)
    assert index.device.type == lengths.device.type == DEVICE.type
    assert torch.equal((index >= 0).sum(1), lengths)


# --- the recurrent graph cells and forecasters --------------------------------------------------------------------


def operators_of(name):
    """The cell's graph operators, built on the CPU (the builders' convention) and moved by ``run``: DCGRU's random
    walks, the Chebyshev cells' scaled Laplacian, T-GCN's normalised adjacency."""
    graph = weighted_graph(n=N, symmetric=name != "dcgru")
    if name == "dcgru":
        return random_walks(*graph, N)
    return gcn_operator(*graph, N) if name == "tgcn" else scaled_laplacian(*graph, N)


CELLS = {"dcgru": lambda: DCGRUCell(I, H, K=2), "gconv-gru": lambda: GConvGRUCell(I, H, K=3),
         "gconv-lstm": lambda: GConvLSTMCell(I, H, K=3), "tgcn": lambda: TGCNCell(I, H)}


def cell_run(operators):
    """One step of a graph cell from ``(x, h)`` or ``(x, h, c)``, with ``operators`` moved to the inputs' device."""
    def run(cell, x, *state):
        moved = tuple(o.to(x.device) for o in operators) if isinstance(operators, tuple) else operators.to(x.device)
        return cell(x, state if len(state) > 1 else state[0], moved)
    return run


@pytest.mark.parametrize("name", CELLS)
def test_graph_cell_on_the_device_equals_it_on_the_cpu(name):
    torch.manual_seed(0)
    cell = CELLS[name]()
    randomise_cell(cell)
    x, h = (t.float() for t in temporal_inputs())
    state = [h, torch.randn_like(h)] if cell.has_cell_state else [h]
    run = cell_run(operators_of(name))
    assert_same(gradients_on(DEVICE, cell, [x, *state], run), gradients_on(CPU, cell, [x, *state], run))


def ours_from_pygt_dcrnn(theirs):
    """A DCGRUCell with the weights of PyTorch Geometric Temporal's ``DCRNN(I, H, K=2)``: their K = 2 terms are X and
    one step each way (our K = 1); their Z keeps the state, as our u; their two k = 0 terms are our one."""
    ours = DCGRUCell(I, H, K=1)

    def blocks(conv, part):  # their weight (2 directions, K, in + out, out) -> our (out, [X | P_f X | P_b X])
        w = conv.weight[:, :, :I] if part == "x" else conv.weight[:, :, I:]
        return torch.cat([(w[0, 0] + w[1, 0]).t(), w[0, 1].t(), w[1, 1].t()], 1)

    with torch.no_grad():
        ours.input_conv.weight.copy_(torch.cat([blocks(theirs.conv_x_r, "x"), blocks(theirs.conv_x_z, "x"),
                                                blocks(theirs.conv_x_h, "x")]))
        ours.input_conv.bias.copy_(torch.cat([theirs.conv_x_r.bias, theirs.conv_x_z.bias, theirs.conv_x_h.bias]))
        ours.gate_conv.weight.copy_(torch.cat([blocks(theirs.conv_x_r, "h"), blocks(theirs.conv_x_z, "h")]))
        ours.candidate_conv.weight.copy_(blocks(theirs.conv_x_h, "h"))
    return ours


def ours_from_pygt_gconv_gru(theirs):
    """A GConvGRUCell with the weights of their ``GConvGRU(I, H, 3)``."""
    ours = GConvGRUCell(I, H, K=3)
    copy_pygt_gconv_gru(theirs, ours)
    return ours


def ours_from_pygt_gconv_lstm(theirs):
    """A GConvLSTMCell with the weights of their ``GConvLSTM(I, H, 3)`` (its peepholes set to 0)."""
    ours = GConvLSTMCell(I, H, K=3)
    copy_pygt_gconv_lstm(theirs, ours)
    return ours


# their class, its arguments, ours with their weights, and the graph both run on (DCRNN: a ring, where every way of
# normalising and transposing the random walks gives the same matrix; tests/test_graph_temporal_cells.py says why)
PYGT = {"dcgru": ("DCRNN", 2, ours_from_pygt_dcrnn, lambda: ring(N)),
        "gconv-gru": ("GConvGRU", 3, ours_from_pygt_gconv_gru, lambda: weighted_graph(4, n=N, symmetric=True)),
        "gconv-lstm": ("GConvLSTM", 3, ours_from_pygt_gconv_lstm, lambda: weighted_graph(4, n=N, symmetric=True))}


@pytest.mark.parametrize("name", PYGT)
def test_graph_cell_on_the_device_equals_pytorch_geometric_temporal_there(name):
    recurrent = pyg_temporal()
    class_name, K, from_theirs, graph = PYGT[name]
    torch.manual_seed(0)
    theirs = getattr(recurrent, class_name)(I, H, K)
    randomise_cell(theirs)
    ours = from_theirs(theirs)
    edge_index, weight = graph()
    weight = weight.float()
    operators = random_walks(edge_index, weight, N) if name == "dcgru" else scaled_laplacian(edge_index, weight, N)

    def their_run(cell, x, *state):  # their cells take one sample (N, F) at a time
        e, w = edge_index.to(x.device), weight.to(x.device)
        steps = [cell(x[:, b], e, w, *(s[:, b] for s in state)) for b in range(B)]
        if isinstance(steps[0], tuple):  # (h, c)
            return tuple(torch.stack(parts, 1) for parts in zip(*steps, strict=True))
        return torch.stack(steps, 1)

    x, h = (t.float() for t in temporal_inputs(4))
    state = [h, torch.randn_like(h)] if ours.has_cell_state else [h]
    # outputs and the gradients of the inputs and states; parameter gradients are compared device to CPU above
    assert_same(gradients_on(DEVICE, ours, [x, *state], cell_run(operators), names={}),
                gradients_on(DEVICE, theirs, [x, *state], their_run, names={}))


@pytest.mark.parametrize("model", ["dcrnn", "gconv-gru", "gconv-lstm", "tgcn"])
def test_forecaster_training_step_on_the_device_equals_it_on_the_cpu(model):
    # the whole model through ForecastTrainer: windows gathered on the device, the encoder-decoder loop, the loss
    signal = generate_gvar(5, 80)
    config = default_config("gvar", model, batch_size=4, hidden_size=6, window=4, horizon=3)
    runs = []
    for device in (DEVICE, CPU):
        trainer = ForecastTrainer(signal, config, seed=0, device=device)  # seeded: the same weights on both
        starts = trainer.batches()[0]
        pred, _ = trainer.forward(starts, train=True)
        loss, _ = trainer.loss(pred, starts)
        loss.backward()
        assert pred.device.type == device.type
        runs.append([pred.detach().cpu(), *(p.grad.cpu() for p in trainer.model.parameters())])
    assert_all_close(*runs)


# --- which loops run: chosen by the device alone ------------------------------------------------------------------


def refuse(*args, **kwargs):
    raise AssertionError("a tensor off the CPU reached CPU-only code")


@pytest.mark.parametrize("layer_class", RECURRENT)
def test_tensors_off_the_cpu_never_reach_the_cpu_only_code(layer_class, monkeypatch):
    # meta tensors stand in for CUDA ones on any machine: the C++ loops and oneDNN would fail on them, so they refuse
    # here, and the layer must run its Python loops and torch's products forward and backward
    off_cpu = torch.empty(2, 3, device="meta")
    assert not native.runs(off_cpu) and not kernels.onednn(off_cpu)
    assert kernels.pack(off_cpu, 2, kernels.PACK_MIN_STEPS) is off_cpu
    monkeypatch.setattr(native, "ops", refuse)
    monkeypatch.setattr(kernels, "_ONEDNN_LINEAR", refuse)
    monkeypatch.setattr(kernels, "_ONEDNN_PACK", refuse)
    layer = layer_class(3, 4).to("meta")
    x = torch.empty(2, kernels.PACK_MIN_STEPS + 1, 3, device="meta", requires_grad=True)
    outputs, _ = layer(x)
    grads = torch.autograd.grad(outputs.sum(), [x, *layer.parameters()])
    assert outputs.is_meta and all(g.is_meta and g.shape == p.shape for g, p in zip(grads, [x, *layer.parameters()],
                                                                                       strict=True))


@pytest.mark.parametrize("layer_class", RECURRENT)
def test_the_device_chooses_the_cpu_only_code(layer_class, monkeypatch):
    # on the CPU the float32 loops call the C++ loops (where they built) and oneDNN (where torch has it); on the
    # device of SEQGRAPH_TEST_DEVICE, when it is not the CPU, neither is ever called
    calls = Counter()

    def counted(name, function):
        def call(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)
        return call

    monkeypatch.setattr(native, "ops", counted("native", native.ops))
    if kernels._ONEDNN_LINEAR is not None:
        monkeypatch.setattr(kernels, "_ONEDNN_LINEAR", counted("onednn", kernels._ONEDNN_LINEAR))
    torch.manual_seed(0)
    layer = layer_class(3, 4).to(DEVICE)
    x = torch.randn(2, kernels.PACK_MIN_STEPS + 1, 3, device=DEVICE, requires_grad=True)
    outputs, _ = layer(x)
    outputs.sum().backward()
    on_the_cpu = DEVICE.type == "cpu"
    assert (calls["native"] > 0) == (on_the_cpu and native.available())
    assert (calls["onednn"] > 0) == (on_the_cpu and kernels.onednn(x))
