"""Small helpers shared by several test modules."""

import torch
import torch.nn.functional as F

TEXT = "the people of the union govern the states, and the states govern the towns.\n" * 40  # a tiny corpus


def training_losses(model, x, edge_index, y, steps: int = 30, lr: float = 0.05) -> list[float]:
    """Full-batch Adam on cross-entropy for ``steps`` steps; the loss before each step."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x, edge_index), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def pyg_temporal():
    """PyTorch Geometric Temporal's recurrent cells, the test-only reference of seqgraph's graph-recurrent cells.

    Version 0.56.2 requires torch-sparse and torch-scatter, which have no wheels for this torch and take half an
    hour to build (the benchmarks do it); the cells compared here (DCRNN, GConvGRU, GConvLSTM) never call them, so
    where they are missing, empty stand-in modules are in place while the package imports, and removed after it.
    PyG itself is imported first, so that it sees the real absence of torch-sparse. The package is installed without
    its requirements by the Makefile; where it is missing the test skips, and fails on CI.
    """
    import importlib.util
    import sys
    import types

    import torch_geometric  # noqa: F401 (first: PyG decides on its own whether torch-sparse is there)

    def stand_in(attribute):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return type(attribute, (), {})  # the names the package imports at its top and never calls here

    added = [name for name in ("torch_sparse", "torch_scatter") if importlib.util.find_spec(name) is None]
    for name in added:
        sys.modules[name] = types.ModuleType(name)
        sys.modules[name].__getattr__ = stand_in
    try:
        from torch_geometric_temporal.nn import recurrent
    except ImportError as e:
        from .conftest import missing_reference

        missing_reference(f"torch-geometric-temporal is not installed ({e}): `make install` installs it")
    finally:
        for name in added:
            del sys.modules[name]
    return recurrent


def chebyshev_blocks(conv) -> torch.Tensor:
    """PyG's ChebConv keeps Θ_k as ``lins[k].weight`` ``(F', F)``: ours is their column block k."""
    return torch.cat([lin.weight for lin in conv.lins], 1)


@torch.no_grad()
def copy_pygt_gconv_gru(theirs, ours) -> None:
    """Their ``GConvGRU``'s weights into our ``GConvGRUCell``: their Z keeps the state, so our z = 1 - Z (its
    weights and biases negated); each of their six convolutions has a bias, ours the sums."""
    ours.input_conv.weight.copy_(torch.cat([-chebyshev_blocks(theirs.conv_x_z), chebyshev_blocks(theirs.conv_x_r),
                                            chebyshev_blocks(theirs.conv_x_h)]))
    ours.input_conv.bias.copy_(torch.cat([-(theirs.conv_x_z.bias + theirs.conv_h_z.bias),
                                          theirs.conv_x_r.bias + theirs.conv_h_r.bias,
                                          theirs.conv_x_h.bias + theirs.conv_h_h.bias]))
    ours.gate_conv.weight.copy_(torch.cat([-chebyshev_blocks(theirs.conv_h_z), chebyshev_blocks(theirs.conv_h_r)]))
    ours.candidate_conv.weight.copy_(chebyshev_blocks(theirs.conv_h_h))


@torch.no_grad()
def copy_pygt_gconv_lstm(theirs, ours) -> None:
    """Their ``GConvLSTM``'s weights into our ``GConvLSTMCell``, their diagonal peepholes set to 0 (GCRN model 2
    has them, ours does not); their names i, f, c, o are our gates i, f, g, o."""
    for name in ("w_c_i", "w_c_f", "w_c_o"):
        getattr(theirs, name).zero_()
    gates = "ifco"
    ours.input_conv.weight.copy_(torch.cat([chebyshev_blocks(getattr(theirs, f"conv_x_{g}")) for g in gates]))
    ours.hidden_conv.weight.copy_(torch.cat([chebyshev_blocks(getattr(theirs, f"conv_h_{g}")) for g in gates]))
    ours.input_conv.bias.copy_(torch.cat([getattr(theirs, f"conv_x_{g}").bias + getattr(theirs, f"conv_h_{g}").bias
                                          + getattr(theirs, f"b_{g}")[0] for g in gates]))
