r"""The LSTM of :ref:`equations (4)-(9) <eq-lstm>` over all timesteps, in one or two directions, with backpropagation
through time written out: the loop behind :class:`seqgraph.recurrent.LSTM` and :class:`seqgraph.recurrent.BiLSTM`."""

import torch
from torch.autograd.function import once_differentiable

from . import native
from .kernels import batched_linear, linear, onednn, pack, project, project_backward, tanh, weight_gradient


class LSTMFunction(torch.autograd.Function):
    r""":ref:`Eq. (4)-(9) <eq-lstm>` for ``D`` independent directions at once (1: an LSTM, 2: a bidirectional LSTM whose
    second direction reads its input reversed), time-major within each direction.

    ``apply(x, weight_ih, bias, weight_hh, h0, c0)`` takes each direction's input in the order it reads it,
    ``x`` ``(D, T, B, I)``, its parameters (``weight_ih`` ``(D, 4H, I)``, ``bias`` ``(D, 4H)`` or None,
    ``weight_hh`` ``(D, 4H, H)``, gates in the order i, f, g, o as in :class:`~seqgraph.cells.LSTMCell`) and
    its initial state ``(D, B, H)`` each; it returns every hidden state ``(D, T, B, H)`` and ``c(T)``
    ``(D, B, H)``. The directions share one loop: step ``t`` does each direction's recurrent product and then
    the gate arithmetic of all directions, in place in preallocated buffers. The input terms of all steps come
    from one product per direction before the loop; the recurrent products of all directions are one batched
    product per step (:func:`~.kernels.batched_linear`: on the CPU, one oneDNN call per direction). The loop
    runs in C++ where :mod:`.native` has it, in Python otherwise, with the same numbers.

    Going back from $t = T$ with $\delta h(t) = \partial L / \partial h(t)$ (the gradient of output $t$ plus
    what flows back from step $t + 1$), the gates' gradients before their nonlinearities $\delta a$ are

    .. math::
        \delta c(t) &= \delta h(t) \odot o \odot (1 - \tanh^2 c(t)) + \delta c(t+1) \odot f(t+1) \\
        \delta a_i &= \delta c(t) \odot g \odot i (1 - i), \qquad
        \delta a_f = \delta c(t) \odot c(t-1) \odot f (1 - f) \\
        \delta a_g &= \delta c(t) \odot i \odot (1 - g^2), \qquad
        \delta a_o = \delta h(t) \odot \tanh c(t) \odot o (1 - o) \\
        \delta h(t-1) &\mathrel{+}= \delta a(t) \, W_{hh}, \qquad
        \partial L / \partial W_{hh} = \textstyle\sum_t \delta a(t)^\top h(t-1)

    and $\partial L / \partial W_{ih} = \sum_t \delta a(t)^\top x(t)$, $\partial L / \partial b = \sum_t
    \delta a(t)$: the loop leaves one product per direction and step, and both weight gradients come from one
    product over all steps.
    """

    @staticmethod
    def forward(ctx, x, weight_ih, bias, weight_hh, h0, c0):
        D, T, B, H = x.shape[0], x.shape[1], x.shape[2], h0.shape[-1]
        # g's pre-activation doubled (its rows of W_ih, b and W_hh), so that one sigmoid serves all four gates:
        # tanh(a) = 2 sigmoid(2a) - 1
        scale = x.new_ones(4 * H, 1)
        scale[2 * H : 3 * H] = 2
        x_proj = [project(x[d], weight_ih[d] * scale, None if bias is None else bias[d] * scale[:, 0])
                  for d in range(D)]  # (T, B, 4H) each
        weight_hh_2g = pack(weight_hh * scale, B, T)
        # the input terms become the gates: i, f, sigmoid(2 a_g), o; time-major, so that a step's slice of all
        # directions is contiguous
        gates = x_proj[0].unsqueeze(1) if D == 1 else x.new_empty(T, D, B, 4 * H)  # (T, D, B, 4H)
        h = x.new_empty(D, T, B, H)  # h(1..T)
        c = x.new_empty(T + 1, D, B, H)  # c(0..T)
        tanh_c = x.new_empty(T, D, B, H)  # tanh c(1..T)
        c[0] = c0
        if native.runs(x):  # the same loop in C++, which fills the gates of two directions as it goes
            native.ops().lstm_forward(x_proj, list(weight_hh_2g), h0, gates, h, c, tanh_c, onednn(h0))
        else:
            if D > 1:
                torch.stack(x_proj, 1, out=gates)
            h_prev = h0
            for a, c_prev, c_t, tanh_c_t, h_t in zip(gates, c[:-1], c[1:], tanh_c, h.unbind(1), strict=True):
                batched_linear(h_prev, weight_hh_2g, a, out=a)  # (D, B, 4H)
                # (5)-(7), and (4) as sigmoid(2 a_g)
                a.sigmoid_()
                i, f, sigmoid_2g, o = a.chunk(4, -1)  # torch.nn.LSTM's gate order
                # (8) with (4): c(t) = f c(t-1) + i g, g = 2 sigmoid(2 a_g) - 1
                torch.mul(c_prev, f, out=c_t).addcmul_(i, sigmoid_2g, value=2).sub_(i)
                # (9)
                h_prev = torch.mul(tanh(c_t, out=tanh_c_t), o, out=h_t)
        ctx.save_for_backward(x, weight_ih, weight_hh, h0, gates, h, c, tanh_c)
        return h, c[T]

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_h, grad_c_last):
        x, weight_ih, weight_hh, h0, gates, h, c, tanh_c = ctx.saved_tensors
        D, T, B, H = h.shape
        weight_hh_t = pack(weight_hh.transpose(1, 2), B, T)  # (D, H, 4H)
        # the gates' gradients, (D, T, B, 4H), each direction's contiguous for the products over all steps below:
        # the C++ loop writes them so, the Python loop's time-major buffer is copied (for D > 1)
        if native.runs(x):  # the same loop in C++
            d_gates, dc = native.ops().lstm_backward(gates, c, tanh_c, grad_h, grad_c_last, list(weight_hh_t),
                                                     onednn(h0))
        else:
            d_gates, dc = _backward_loop(gates, c, tanh_c, grad_h.transpose(0, 1), grad_c_last, weight_hh_t)
            d_gates = d_gates.transpose(0, 1).contiguous()
        d_h0 = torch.stack([linear(d_gates[d, 0], weight_hh_t[d]) for d in range(D)]) \
            if ctx.needs_input_grad[4] else None
        d_c0 = dc * gates[0, ..., H : 2 * H] if ctx.needs_input_grad[5] else None  # f(1)
        d_weight_ih = d_weight_hh = None
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[3]:
            # both weight gradients in one product over all steps, sum_t delta a(t)^T [x(t), h(t-1)]: one product
            # with T * B as its inner dimension costs less than two (2.5 ms instead of 3.0 for the benchmark's)
            h_prev = torch.cat((h0.unsqueeze(1), h[:, :-1]), 1)  # h(0..T-1), (D, T, B, H)
            d_weight = torch.stack([weight_gradient(d_gates[d], x[d], h_prev[d]) for d in range(D)])  # (D, 4H, I + H)
            d_weight_ih, d_weight_hh = d_weight.split((x.shape[-1], H), -1)
        # per direction (d_x, -, d_bias), stacked over directions
        needs = (ctx.needs_input_grad[0], False, ctx.needs_input_grad[2])
        d_input = zip(*(project_backward(d_gates[d], x[d], weight_ih[d], needs) for d in range(D)), strict=True)
        d_x, _, d_bias = (None if grads[0] is None else torch.stack(grads) for grads in d_input)  # d_x: (D, T, B, I)
        return d_x, d_weight_ih, d_bias, d_weight_hh, d_h0, d_c0


def _backward_loop(gates, c, tanh_c, grad_h, grad_c_last, weight_hh_t):
    r""":class:`LSTMFunction`'s loop back through time, time-major: the gates' gradients ``d_gates``
    ``(T, D, B, 4H)`` and $\delta c(1)$ ``(D, B, H)``."""
    T, D, B, H = tanh_c.shape
    i, f, sigmoid_2g, o = gates.chunk(4, -1)  # (T, D, B, H) each
    g = sigmoid_2g * 2 - 1  # (4)
    # d_gates starts as the factors that do not depend on delta, for all steps at once:
    # i (1 - i) g, f (1 - f) c(t-1), i (1 - g^2), o (1 - o) tanh c(t); the loop multiplies in delta
    d_gates = torch.addcmul(gates, gates, gates, value=-1)  # sigmoid' = s (1 - s), (T, D, B, 4H); g's below
    d_i, d_f, d_g, d_o = d_gates.chunk(4, -1)
    d_i.mul_(g)
    d_f.mul_(c[:-1])
    torch.addcmul(i, i, g * g, value=-1, out=d_g)
    d_o.mul_(tanh_c)
    dh_to_dc = torch.addcmul(o, o, tanh_c * tanh_c, value=-1)  # o (1 - tanh^2 c), (T, D, B, H)
    d_ifg = d_gates.view(T, D, B, 4, H)[..., :3, :]
    dc = grad_c_last.clone()  # (D, B, H)
    dc_column = dc.unsqueeze(-2)  # (D, B, 1, H), a view of dc for the three gates at once
    dh = torch.empty_like(dc)
    d_next = f_next = None  # delta a(t + 1) and f(t + 1), from the step after
    per_step = zip(grad_h, f, dh_to_dc, d_gates, d_ifg, d_o, strict=True)
    for grad_h_t, f_t, dh_to_dc_t, d_t, d_ifg_t, d_o_t in reversed(list(per_step)):
        if d_next is None:
            dh.copy_(grad_h_t)
        else:  # delta h(t), (D, B, H)
            batched_linear(d_next, weight_hh_t, grad_h_t, out=dh)
            dc.mul_(f_next)
        dc.addcmul_(dh, dh_to_dc_t)  # delta c(t)
        d_ifg_t.mul_(dc_column)
        d_o_t.mul_(dh)
        d_next, f_next = d_t, f_t
    return d_gates, dc
