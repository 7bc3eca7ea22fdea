"""Each graph-recurrent cell reduces to seqgraph's plain cell when the graph operator is the identity, and equals
PyTorch Geometric Temporal's cell with copied weights where their definitions agree."""

import torch

from seqgraph.cells import GRUCell, LSTMCell
from seqgraph.graph.temporal.cells import DCGRUCell, GConvGRUCell, GConvLSTMCell, TGCNCell, TGCNCodeCell
from seqgraph.graph.temporal.operators import gcn_operator, product, random_walks, scaled_laplacian

from .helpers import copy_pygt_gconv_gru, copy_pygt_gconv_lstm, pyg_temporal
from .test_graph_temporal_conv import weighted_graph

N, B, I, H = 6, 3, 2, 4


def inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, B, I, generator=g, dtype=torch.float64)
    h = torch.randn(N, B, H, generator=g, dtype=torch.float64)
    return x, h


def randomise(module, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))


def rows(t):
    """Node-major ``(N, B, F)`` as the rows ``(N B, F)`` of a plain cell's batch."""
    return t.reshape(-1, t.size(-1))


def test_dcgru_without_diffusion_is_the_gru_with_u_equal_to_one_minus_z():
    torch.manual_seed(0)
    gru = GRUCell(I, H).double()
    cell = DCGRUCell(I, H, K=0).double()  # no diffusion step: Θ ⋆ X = X Θ
    with torch.no_grad():  # Ensure same weights: r as is, u = 1 - z (its pre-activation negated), C = the candidate
        cell.input_conv.weight.copy_(torch.cat([gru.weight_ih[H:2 * H], -gru.weight_ih[:H], gru.weight_ih[2 * H:]]))
        cell.input_conv.bias.zero_()  # the paper's GRU (29)-(32) has no biases
        cell.gate_conv.weight.copy_(torch.cat([gru.weight_hh[H:2 * H], -gru.weight_hh[:H]]))
        cell.candidate_conv.weight.copy_(gru.weight_hh[2 * H:])
    x, h = inputs()
    walks = random_walks(*weighted_graph(n=N), N)
    torch.testing.assert_close(rows(cell(x, h, walks)), gru(rows(x), rows(h)))


def test_gconv_gru_and_lstm_with_one_chebyshev_term_are_the_gru_and_the_lstm():
    torch.manual_seed(0)
    laplacian = scaled_laplacian(*weighted_graph(n=N, symmetric=True), N)
    x, h = inputs(1)
    gru, cell = GRUCell(I, H).double(), GConvGRUCell(I, H, K=1).double()
    with torch.no_grad():  # Ensure same weights: the same gate order z, r, h̃
        cell.input_conv.weight.copy_(gru.weight_ih)
        cell.input_conv.bias.zero_()
        cell.gate_conv.weight.copy_(gru.weight_hh[:2 * H])
        cell.candidate_conv.weight.copy_(gru.weight_hh[2 * H:])
    torch.testing.assert_close(rows(cell(x, h, laplacian)), gru(rows(x), rows(h)))
    lstm, cell = LSTMCell(I, H).double(), GConvLSTMCell(I, H, K=1).double()
    randomise(lstm)
    with torch.no_grad():  # Ensure same weights and bias: the gate order i, f, g, o of both
        cell.input_conv.weight.copy_(lstm.weight_ih)
        cell.input_conv.bias.copy_(lstm.bias)
        cell.hidden_conv.weight.copy_(lstm.weight_hh)
    c = torch.randn_like(h)
    ours = cell(x, (h, c), laplacian)
    theirs = lstm(rows(x), (rows(h), rows(c)))
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(rows(a), b)


def dense_matrix(operator):
    """The operator's matrix, read back by multiplying it with the identity."""
    return product(operator, torch.eye(N, dtype=torch.float64)[:, None, :]).squeeze(1)


def test_tgcn_cell_is_its_papers_equations():
    a_hat = gcn_operator(*weighted_graph(n=N, symmetric=True), N)
    cell = TGCNCell(I, H).double()
    randomise(cell)
    x, h = inputs(2)
    m = dense_matrix(a_hat)  # Â

    def gcn(t):
        return torch.einsum("ij,jbf->ibf", m, t)

    f = torch.sigmoid(gcn(torch.relu(gcn(x) @ cell.gcn0.weight.t())) @ cell.gcn1.weight.t())  # (2)
    w, b, u_ = cell.input_proj.weight, cell.input_proj.bias, cell.weight_hh
    u = torch.sigmoid(f @ w[:H].t() + b[:H] + h @ u_[:H].t())  # (3)
    r = torch.sigmoid(f @ w[H:2 * H].t() + b[H:2 * H] + h @ u_[H:2 * H].t())  # (4)
    c = torch.tanh(f @ w[2 * H:].t() + b[2 * H:] + (r * h) @ u_[2 * H:].t())  # (5)
    torch.testing.assert_close(cell(x, h, a_hat), u * h + (1 - u) * c)  # (6)


def test_tgcn_code_cell_is_the_authors_code():
    # lehaifeng/T-GCN's TGCNGraphConvolution: Â [x, h] W + b with W of (I + H) rows; the code's cell on top of it
    a_hat = gcn_operator(*weighted_graph(n=N, symmetric=True), N)
    cell = TGCNCodeCell(I, H).double()
    randomise(cell)
    x, h = inputs(3)
    m = dense_matrix(a_hat)
    w_g = torch.cat([cell.input_proj.weight[:2 * H], cell.gate_weight.weight], 1).t()  # (I + H, 2H)
    w_c = torch.cat([cell.input_proj.weight[2 * H:], cell.candidate_weight.weight], 1).t()  # (I + H, H)
    b_g, b_c = cell.input_proj.bias[:2 * H], cell.input_proj.bias[2 * H:]

    def graph_conv(x, h, w, b):
        return torch.einsum("ij,jbf->ibf", m, torch.cat([x, h], -1)) @ w + b

    r, u = torch.sigmoid(graph_conv(x, h, w_g, b_g)).chunk(2, -1)
    c = torch.tanh(graph_conv(x, r * h, w_c, b_c))
    torch.testing.assert_close(cell(x, h, a_hat), u * h + (1 - u) * c)
    fresh = TGCNCodeCell(I, H)
    assert bool((fresh.input_proj.bias[:2 * H] == 1).all()) and bool((fresh.input_proj.bias[2 * H:] == 0).all())


def ring(n=N):
    """An undirected ring: every node has degree 2, so the forward and reverse random walks are one and the same
    symmetric matrix, whichever way a library normalises or transposes them."""
    i = torch.arange(n)
    edge_index = torch.cat([torch.stack([i, (i + 1) % n]), torch.stack([(i + 1) % n, i])], 1)
    return edge_index, torch.ones(edge_index.size(1), dtype=torch.float64)


def test_dcgru_matches_pyg_temporal_dcrnn_with_copied_weights():
    recurrent = pyg_temporal()
    torch.manual_seed(0)
    theirs = recurrent.DCRNN(I, H, K=2)  # K = 2 terms: X and one step each way (our K = 1); float32 (their degrees)
    randomise(theirs)
    ours = DCGRUCell(I, H, K=1)

    def blocks(conv, part):  # their weight (2 directions, K, in + out, out) -> our (out, [X | P_f X | P_b X] columns)
        w = conv.weight[:, :, :I] if part == "x" else conv.weight[:, :, I:]
        return torch.cat([(w[0, 0] + w[1, 0]).t(), w[0, 1].t(), w[1, 1].t()], 1)

    with torch.no_grad():  # Ensure same weights and bias: their Z is our u (it keeps the state), R our r
        ours.input_conv.weight.copy_(torch.cat([blocks(theirs.conv_x_r, "x"), blocks(theirs.conv_x_z, "x"),
                                                blocks(theirs.conv_x_h, "x")]))
        ours.input_conv.bias.copy_(torch.cat([theirs.conv_x_r.bias, theirs.conv_x_z.bias, theirs.conv_x_h.bias]))
        ours.gate_conv.weight.copy_(torch.cat([blocks(theirs.conv_x_r, "h"), blocks(theirs.conv_x_z, "h")]))
        ours.candidate_conv.weight.copy_(blocks(theirs.conv_x_h, "h"))
    edge_index, weight = ring()
    x, h = (t.float() for t in inputs(3))
    walks = random_walks(edge_index, weight.float(), N)
    for b in range(B):
        torch.testing.assert_close(ours(x, h, walks)[:, b], theirs(x[:, b], edge_index, weight.float(), h[:, b]))


def test_gconv_gru_and_lstm_match_pyg_temporal_with_copied_weights():
    recurrent = pyg_temporal()
    torch.manual_seed(0)
    K = 3
    edge_index, weight = weighted_graph(4, n=N, symmetric=True)
    laplacian = scaled_laplacian(edge_index, weight, N)
    x, h = inputs(4)

    theirs, ours = recurrent.GConvGRU(I, H, K).double(), GConvGRUCell(I, H, K).double()
    randomise(theirs)
    copy_pygt_gconv_gru(theirs, ours)
    for b in range(B):
        torch.testing.assert_close(ours(x, h, laplacian)[:, b], theirs(x[:, b], edge_index, weight, h[:, b]))

    theirs, ours = recurrent.GConvLSTM(I, H, K).double(), GConvLSTMCell(I, H, K).double()
    randomise(theirs)
    copy_pygt_gconv_lstm(theirs, ours)  # their diagonal peepholes off (GCRN model 2 has them)
    c = torch.randn_like(h)
    for b in range(B):
        h_theirs, c_theirs = theirs(x[:, b], edge_index, weight, h[:, b], c[:, b])
        h_ours, c_ours = ours(x, (h, c), laplacian)
        torch.testing.assert_close(h_ours[:, b], h_theirs)
        torch.testing.assert_close(c_ours[:, b], c_theirs)
