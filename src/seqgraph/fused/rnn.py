r"""The vanilla RNN of :ref:`equation (1) <eq-rnn>` over all timesteps, with backpropagation through time written out:
the loop behind :class:`seqgraph.recurrent.RNN`."""

import torch
from torch.autograd.function import once_differentiable

from . import native
from .kernels import linear, onednn, pack, project, project_backward, tanh, weight_gradient


class RNNFunction(torch.autograd.Function):
    r""":ref:`Eq. (1) <eq-rnn>`, $h(t) = \tanh(W_{hx} x(t) + W_{hh} h(t-1) + b_h)$, over all timesteps, time-major, as
    :class:`~seqgraph.cells.RNNCell` steps it.

    ``apply(x, weight_ih, bias, weight_hh, h0)`` takes the inputs ``x`` ``(T, B, I)``, the cell's parameters
    (``weight_ih`` ``(H, I)``, ``bias`` ``(H)`` or None, ``weight_hh`` ``(H, H)``) and ``h0`` ``(B, H)``; it
    returns every hidden state ``(T, B, H)``. The input terms of all steps come from one product before the
    loop, into the buffer that then holds $h$; a step adds one product and applies tanh in place. Backwards,
    with $\delta h(t)$ the gradient of output $t$ plus what flows back from step $t + 1$,

    .. math::
        \delta a(t) = \delta h(t) \odot (1 - h(t)^2), \qquad \delta h(t-1) \mathrel{+}= \delta a(t) \, W_{hh}

    and the weight gradients are one product each over all steps, $\sum_t \delta a^\top h(t-1)$ and
    $\sum_t \delta a^\top x(t)$. The loops run in C++ where :mod:`.native` built them, in Python otherwise,
    with the same numbers.
    """

    @staticmethod
    def forward(ctx, x, weight_ih, bias, weight_hh, h0):
        h = project(x, weight_ih, bias)  # (T, B, H): W_hx x(t) + b_h, then h(t) in place
        weight = pack(weight_hh, h0.shape[0], h.shape[0])
        if native.runs(x):  # the same loop in C++
            native.ops().rnn_forward(h, h0, weight, onednn(h0))
        else:
            h_prev = h0
            for h_t in h:
                # (1)
                h_prev = tanh(h_t.add_(linear(h_prev, weight)), out=h_t)
        ctx.save_for_backward(x, weight_ih, weight_hh, h0, h)
        return h

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_h):
        x, weight_ih, weight_hh, h0, h = ctx.saved_tensors
        T = h.shape[0]
        weight_t = pack(weight_hh.t(), h0.shape[0], T)
        if native.runs(x):  # the same loop in C++
            d_a = native.ops().rnn_backward(h, grad_h, weight_t, onednn(h0))
        else:
            d_a = 1 - h * h  # tanh' = 1 - h^2; the loop multiplies in delta
            dh = grad_h[-1]  # delta h(T)
            for t in range(T - 1, -1, -1):
                d_a[t].mul_(dh)
                if t > 0:
                    dh = linear(d_a[t], weight_t).add_(grad_h[t - 1])
        d_h0 = linear(d_a[0], weight_t) if ctx.needs_input_grad[4] else None
        d_weight_hh = None
        if ctx.needs_input_grad[3]:
            d_weight_hh = weight_gradient(d_a, torch.cat((h0.unsqueeze(0), h[:-1])))  # h(0..T-1)
        d_x, d_weight_ih, d_bias = project_backward(d_a, x, weight_ih, ctx.needs_input_grad[:3])
        return d_x, d_weight_ih, d_bias, d_weight_hh, d_h0
