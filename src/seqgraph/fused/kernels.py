r"""The operations every fused loop of :mod:`seqgraph.fused` shares: matrix products and tanh.

Matrix products. :func:`linear` calls oneDNN's inner product, through ``torch.ops.mkldnn._linear_pointwise``
(the operator torch's own compiler emits for linear layers; oneDNN is the library behind ``torch.nn.LSTM`` on the
CPU, while ``torch.mm`` calls MKL), for float32 CPU tensors while ``torch.backends.mkldnn`` is enabled, and
``F.linear`` otherwise: float64, other devices, builds without oneDNN, or inside
``torch.backends.mkldnn.flags(enabled=False)``.

Weights a loop multiplies by at every step can be laid out for oneDNN once, before the loop (:func:`pack`, oneDNN's
prepacked weight through ``torch.ops.mkldnn._reorder_linear_weight``). Laying a weight out costs about as much as
one product with it and saves a few percent of each later one (``benchmarks/recurrent.py`` measures both for the
benchmark's LSTM step and the character model's), so loops of fewer steps than ``PACK_MIN_STEPS`` keep the plain
weight.

tanh. On the CPU ``torch.tanh`` of a ``(128, 128)`` tensor costs about nine sigmoids (39 us vs 4.5 us), so
:func:`tanh` computes $\tanh x = 2 \sigma(2x) - 1$ in four cheap operations.
"""

import math

import torch

_ONEDNN_LINEAR = getattr(torch.ops.mkldnn, "_linear_pointwise", None) if torch.backends.mkldnn.is_available() \
    else None
_ONEDNN_PACK = getattr(torch.ops.mkldnn, "_reorder_linear_weight", None) if _ONEDNN_LINEAR is not None else None


def onednn(x: torch.Tensor) -> bool:
    """Whether products with ``x`` go through oneDNN: float32 on the CPU, oneDNN built and enabled, and ``x`` not
    empty (oneDNN has no inner product over zero rows)."""
    return (_ONEDNN_LINEAR is not None and x.dtype == torch.float32 and x.device.type == "cpu"
            and torch.backends.mkldnn.enabled and x.numel() > 0)


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``x @ weight.T + bias`` without autograd: ``x`` ``(..., K)``, ``weight`` ``(N, K)``, ``bias`` ``(N)`` or
    None -> ``(..., N)``. Either matrix may be a slice or a transposed view."""
    if onednn(x):
        return _ONEDNN_LINEAR(_plain(x), weight if weight.is_mkldnn else _plain(weight), bias, "none", [], "")
    return torch.nn.functional.linear(x, weight, bias)


PACK_MIN_STEPS = 20  # the loop length from which laying a weight out once pays (see the module docstring)


def pack(weight: torch.Tensor, rows: int, steps: int) -> torch.Tensor | list[torch.Tensor]:
    """``weight`` ``(N, K)`` (or ``(D, N, K)``: each direction's) laid out once for oneDNN products of ``rows``
    rows, for a loop of ``steps`` steps that passes it to :func:`linear` or :func:`batched_linear` at every step;
    unchanged where those products do not go through oneDNN or the loop is shorter than ``PACK_MIN_STEPS``. The
    result serves those two functions only, and no gradient flows through it."""
    if _ONEDNN_PACK is None or not onednn(weight) or rows < 1 or steps < PACK_MIN_STEPS:
        return weight
    if weight.dim() == 3:
        return [pack(w, rows, steps) for w in weight]
    return _ONEDNN_PACK(weight.contiguous(), rows)


def batched_linear(x: torch.Tensor, weight: torch.Tensor, add: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``add + x @ weight.T`` for each of ``D`` independent directions into ``out`` (which may be ``add``): ``x``
    ``(D, B, K)``, ``weight`` ``(D, N, K)`` (or :func:`pack`'s), ``add`` and ``out`` ``(D, B, N)``. One
    ``torch.baddbmm``, or one oneDNN call per direction: torch has no batched product through oneDNN, and two
    oneDNN calls (241 us for the benchmark's LSTM step) beat MKL's ``baddbmm`` (368 us) on the CPU."""
    if onednn(x):
        for d in range(x.shape[0]):
            torch.add(add[d], linear(x[d], weight[d]), out=out[d])
        return out
    return torch.baddbmm(add, x, weight.transpose(1, 2), out=out)


def _plain(t: torch.Tensor) -> torch.Tensor:
    """``t``, or a contiguous copy unless it is contiguous or the transpose of a contiguous matrix: oneDNN
    re-lays out other strides slowly (a 1920 x 256 weight taken from a 1920 x 384 buffer: 1.5 s instead of
    2 ms), and even for a row slice copying first is faster (60 us instead of 100 us for 128 x 256)."""
    return t if t.is_contiguous() or (t.dim() == 2 and t.t().is_contiguous()) else t.contiguous()


def project(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """The input terms of every step in one product: ``x`` ``(T, B, I)`` -> ``(T, B, N)``, time-major so that
    each step's slice is contiguous."""
    return linear(x.reshape(-1, x.shape[-1]), weight, bias).view(*x.shape[:-1], weight.shape[0])


def project_backward(d_proj: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, needs: tuple[bool, ...]):
    """The gradients of :func:`project` that ``needs`` asks for (x, weight, bias; None for the others): the
    input's and the weight's in one product each over all steps."""
    d_x = linear(d_proj, weight.t()) if needs[0] else None  # (T, B, I)
    d_weight = weight_gradient(d_proj, x) if needs[1] else None  # (N, I)
    d_bias = d_proj.sum((0, 1)) if needs[2] else None
    return d_x, d_weight, d_bias


# steps x batch above which weight_gradient lets MKL's product take d transposed: a transposed copy of that many
# rows runs out of the caches and costs more than the product (benchmarks/recurrent.py, one thread: graph forecast's
# GRU on Los-loop, 12 x 13,248 rows, 35 ms against 94; the benchmark's LSTM, 15 x 128 rows, 3.5 against 3.2)
COPY_MAX_ROWS = 4096


def weight_gradient(d: torch.Tensor, *inputs: torch.Tensor) -> torch.Tensor:
    r"""$\sum_t d(t)^\top [\mathrm{inputs}(t)]$ over all steps and rows in one product: ``d`` ``(T, B, N)``,
    each of ``inputs`` ``(T, B, K_i)``, side by side -> ``(N, sum K_i)``, the gradient of a weight $W$ used as
    ``[inputs] @ W.T``. Up to ``COPY_MAX_ROWS`` rows it is computed as the transpose of ``[inputs]^T d``: with
    ``T * B`` as the inner dimension, oneDNN is 10% faster that way. Both operands reach oneDNN in the layouts it
    takes without copying them itself, the same numbers faster: ``[inputs]^T`` written contiguous in one copy
    (oneDNN would copy the transposed view, after the copy that puts the inputs side by side: 0.7 ms of 4.8 for the
    LSTM benchmark's), and ``d``'s rows made contiguous before its transpose is taken (``d`` a slice of a wider
    buffer, as the peephole LSTM's and the GRU's gate gradients are, would otherwise be copied transposed by
    :func:`_plain`). Above, on the CPU, ``torch.mm`` multiplies ``d^T`` by the inputs as they lie."""
    rows = math.prod(d.shape[:-1])
    if rows > COPY_MAX_ROWS and d.device.type == "cpu":
        side_by_side = torch.cat([x.reshape(rows, -1) for x in inputs], -1) if len(inputs) > 1 \
            else inputs[0].reshape(rows, -1)
        return torch.mm(d.reshape(rows, -1).t(), side_by_side)
    inputs_t = torch.cat([x.reshape(-1, x.shape[-1]).t() for x in inputs])  # (sum K_i, T * B)
    return linear(inputs_t, d.reshape(-1, d.shape[-1]).contiguous().t()).t()


def tanh(x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    r"""$\tanh x = 2 \sigma(2x) - 1$ into ``out`` (which may be ``x`` itself)."""
    return torch.add(x, x, out=out).sigmoid_().mul_(2).sub_(1)
