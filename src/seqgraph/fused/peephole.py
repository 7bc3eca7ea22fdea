r"""The peephole LSTM of :ref:`equations (35)-(39) <eq-peephole>` over all timesteps with backpropagation through time
written out: the loop behind :class:`seqgraph.recurrent.PeepholeLSTM`."""

import torch
from torch.autograd.function import once_differentiable

from . import native
from .kernels import linear, onednn, pack, project, project_backward, tanh, weight_gradient


def _ifo_first(rows: torch.Tensor, H: int) -> torch.Tensor:
    """``rows`` (blocks of H along dim 0) in the order i, f, o, c instead of the cell's i, f, c, o, and back:
    swapping the last two blocks is its own inverse."""
    return torch.cat((rows[: 2 * H], rows[3 * H :], rows[2 * H : 3 * H]))


class PeepholeLSTMFunction(torch.autograd.Function):
    r""":ref:`Eq. (35)-(39) <eq-peephole>` over all timesteps, time-major, as
    :class:`~seqgraph.cells.PeepholeLSTMCell` steps them: the gates read $c(t-1)$ through full matrices and $h$ is
    not fed back.

    ``apply(x, weight_ih, bias, weight_hh, c0)`` takes the inputs ``x`` ``(T, B, I)``, the cell's parameters
    (``weight_ih`` ``(4H, I)`` and ``bias`` ``(4H)`` or None in the order i, f, c, o; ``weight_hh`` ``(3H, H)``
    in the order i, f, o) and ``c0`` ``(B, H)``; it returns every hidden state ``(T, B, H)`` and ``c(T)``.
    Inside, the input rows are reordered to i, f, o, c so that the three gates that read $c(t-1)$ are
    adjacent: one product per step adds their peephole terms, and the cell input $\sigma(W_{cx} x + b_c)$,
    which does not depend on the state, is computed for all steps before the loop.

    Going back from $t = T$, with $\delta h(t) = \partial L / \partial h(t)$ (the output's gradient only: $h$
    is not fed back) and $a$ the pre-activations of i, f, o and the cell input $\gamma = \sigma(a_c)$,

    .. math::
        \delta a_o &= \delta h(t) \odot \tanh c(t) \odot o (1 - o) \quad \text{(all steps at once)} \\
        \delta c(t) &= \delta h(t) \odot o \odot (1 - \tanh^2 c(t)) + \delta c(t+1) \odot f(t+1)
            + [\delta a_i, \delta a_f, \delta a_o](t+1) \, W_{hh} \\
        \delta a_i &= \delta c(t) \odot \gamma \odot i (1 - i), \quad
        \delta a_f = \delta c(t) \odot c(t-1) \odot f (1 - f), \quad
        \delta a_c = \delta c(t) \odot i \odot \gamma (1 - \gamma)

    and the weight gradients are one product each over all steps, $\sum_t [\delta a_i, \delta a_f,
    \delta a_o]^\top c(t-1)$ and $\sum_t \delta a^\top x(t)$. The loops run in C++ where :mod:`.native` built
    them, in Python otherwise, with the same numbers.
    """

    @staticmethod
    def forward(ctx, x, weight_ih, bias, weight_hh, c0):
        T, B, H = x.shape[0], x.shape[1], c0.shape[-1]
        weight_ifoc = _ifo_first(weight_ih, H)
        gates = project(x, weight_ifoc, None if bias is None else _ifo_first(bias, H))  # (T, B, 4H): i, f, o, c
        c = x.new_empty(T + 1, B, H)  # c(0..T)
        tanh_c = x.new_empty(T, B, H)  # tanh c(1..T)
        h = x.new_empty(T, B, H)  # h(1..T)
        c[0] = c0
        weight = pack(weight_hh, B, T)
        if native.runs(x):  # the same loop in C++, which takes the cell input's sigmoid row by row
            native.ops().peephole_forward(gates, weight, h, c, tanh_c, onednn(c0))
        else:
            # (38)'s cell input sigmoid(W_cx x + b_c) for all steps at once
            gates[..., 3 * H :].sigmoid_()
            for a, c_prev, c_t, tanh_c_t, h_t in zip(gates, c[:-1], c[1:], tanh_c, h, strict=True):
                # (35)-(37): the peephole terms of the three gates in one product
                a[:, : 3 * H].add_(linear(c_prev, weight)).sigmoid_()
                i, f, o, c_in = a.chunk(4, -1)
                # (38)
                torch.mul(c_prev, f, out=c_t).addcmul_(c_in, i)
                # (39)
                torch.mul(tanh(c_t, out=tanh_c_t), o, out=h_t)
        ctx.save_for_backward(x, weight_ifoc, weight_hh, gates, c, tanh_c)
        return h, c[T]

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_h, grad_c_last):
        x, weight_ifoc, weight_hh, gates, c, tanh_c = ctx.saved_tensors
        T, B, H = tanh_c.shape
        weight_t = pack(weight_hh.t(), B, T)
        if native.runs(x):  # the same loop in C++
            d_gates, dc = native.ops().peephole_backward(gates, c, tanh_c, grad_h, grad_c_last, weight_t, onednn(c))
        else:
            d_gates, dc = _backward_loop(gates, c, tanh_c, grad_h, grad_c_last, weight_t)
        d_ifo = d_gates[..., : 3 * H]  # the gates that read c(t-1)
        d_c0 = linear(d_ifo[0], weight_t).addcmul_(dc, gates[0, :, H : 2 * H]) if ctx.needs_input_grad[4] else None
        d_weight_hh = weight_gradient(d_ifo, c[:-1]) if ctx.needs_input_grad[3] else None  # (3H, H)
        d_x, d_weight_ih, d_bias = project_backward(d_gates, x, weight_ifoc, ctx.needs_input_grad[:3])
        d_weight_ih, d_bias = (None if d is None else _ifo_first(d, H) for d in (d_weight_ih, d_bias))
        return d_x, d_weight_ih, d_bias, d_weight_hh, d_c0


def _backward_loop(gates, c, tanh_c, grad_h, grad_c_last, weight_t):
    r""":class:`PeepholeLSTMFunction`'s loop back through time: the gates' gradients ``d_gates`` ``(T, B, 4H)``
    and $\delta c(1)$ ``(B, H)``."""
    T, B, H = tanh_c.shape
    i, f, o, c_in = gates.chunk(4, -1)  # (T, B, H) each
    # d_gates starts as the factors that do not depend on delta c, for all steps at once:
    # i (1 - i) c_in, f (1 - f) c(t-1), the whole of delta a_o, c_in (1 - c_in) i
    d_gates = torch.addcmul(gates, gates, gates, value=-1)  # sigmoid' = s (1 - s), (T, B, 4H)
    d_i, d_f, d_o, d_c_in = d_gates.chunk(4, -1)
    d_i.mul_(c_in)
    d_f.mul_(c[:-1])
    d_o.mul_(tanh_c).mul_(grad_h)
    d_c_in.mul_(i)
    dc_from_h = torch.addcmul(o, o, tanh_c * tanh_c, value=-1).mul_(grad_h)  # delta h o (1 - tanh^2 c)
    d_if = d_gates.view(T, B, 4, H)[:, :, :2]  # i and f at once, (T, B, 2, H)
    d_ifo = d_gates[..., : 3 * H]  # the gates that read c(t-1)
    dc = grad_c_last + dc_from_h[-1]  # delta c(T)
    for t in range(T - 1, -1, -1):
        if t < T - 1:  # the gates of step t + 1 read c(t)
            dc = linear(d_ifo[t + 1], weight_t).addcmul_(dc, f[t + 1]).add_(dc_from_h[t])
        d_if[t].mul_(dc.unsqueeze(1))
        d_c_in[t].mul_(dc)
    return d_gates, dc
