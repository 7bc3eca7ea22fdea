"""The one sparse product of the graph layers, against dense products written from its definition."""

import torch

from seqgraph.graph.sparse import CSR, Adjacency, propagate

from .test_graph_conv import random_graph


def test_propagate_is_the_sparse_product_and_differentiable_twice():
    x, edge_index = random_graph(9, n=6, e=15)
    h = x[:, :3].double().requires_grad_()
    src, dst = edge_index
    a = torch.sparse_coo_tensor(torch.stack([dst, src]), torch.ones(15, dtype=torch.float64), (6, 6),
                                check_invariants=True).to_dense()  # A[i, j] counts the edges j -> i
    torch.testing.assert_close(propagate(h, edge_index), a @ h)
    assert torch.autograd.gradcheck(propagate, (h, edge_index))
    assert torch.autograd.gradgradcheck(propagate, (h, edge_index))


def test_weighted_propagate_and_a_prebuilt_adjacency_are_the_same_product():
    x, edge_index = random_graph(4, n=7, e=20)
    h = x[:, :3].double().requires_grad_()
    weight = torch.rand(20, dtype=torch.float64)
    src, dst = edge_index
    a = torch.zeros(7, 7, dtype=torch.float64).index_put_((dst, src), weight, accumulate=True)  # A[i, j] = Σ w_ji
    torch.testing.assert_close(propagate(h, edge_index, weight), a @ h)
    assert torch.autograd.gradcheck(lambda h: propagate(h, edge_index, weight), (h,))
    # the transpose given up front (as a batch of graphs does) gives the same product and gradient
    by_source = edge_index[:, torch.argsort(src * 7 + dst)]
    adjacency = Adjacency(edge_index, 7, weight, by_source=CSR.from_edge_index(by_source.flip(0), 7,
                                                                              weight[torch.argsort(src * 7 + dst)]))
    torch.testing.assert_close(propagate(h, adjacency), a @ h)
    (g,) = torch.autograd.grad(propagate(h, adjacency).sum(), h)
    torch.testing.assert_close(g, a.t() @ torch.ones(7, 3, dtype=torch.float64))














