r"""The LSTM of SPEC eq. (4)-(9) over all timesteps, in one or two directions, with backpropagation through
time written out: the loop behind :class:`seqgraph.recurrent.LSTM` and :class:`seqgraph.recurrent.BiLSTM`."""

import torch
from torch.autograd.function import once_differentiable

from .kernels import batched_linear, linear, pack, project, project_backward, tanh, weight_gradient


class LSTMFunction(torch.autograd.Function):
    r"""SPEC eq. (4)-(9) for ``D`` independent directions at once (1: an LSTM, 2: a bidirectional LSTM whose
    second direction reads its input reversed), time-major.

    ``apply(x, weight_ih, bias, weight_hh, h0, c0)`` takes each direction's input in the order it reads it,
    ``x`` ``(T, D, B, I)``, its parameters (``weight_ih`` ``(D, 4H, I)``, ``bias`` ``(D, 4H)`` or None,
    ``weight_hh`` ``(D, 4H, H)``, gates in the order i, f, g, o as in :class:`~seqgraph.cells.LSTMCell`) and
    its initial state ``(D, B, H)`` each; it returns every hidden state ``(T, D, B, H)`` and ``c(T)``
    ``(D, B, H)``. The directions share one loop: step ``t`` does each direction's recurrent product and then
    the gate arithmetic of all directions at once, in place in preallocated buffers. The input terms of all
    steps come from one product per direction before the loop; the recurrent products of all directions are
    one batched product per step (:func:`~.kernels.batched_linear`: on the CPU, one oneDNN call per direction).

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
    \delta a(t)$. The factors that do not depend on $\delta$ are computed for all steps at once before the
    loop, which leaves one product per direction and four elementwise operations per step; both weight
    gradients come from one product over all steps.
    """

    @staticmethod
    def forward(ctx, x, weight_ih, bias, weight_hh, h0, c0):
        T, D, B, H = x.shape[0], x.shape[1], x.shape[2], h0.shape[-1]
        # g's pre-activation doubled (its rows of W_ih, b and W_hh), so that one sigmoid serves all four gates:
        # tanh(a) = 2 sigmoid(2a) - 1
        scale = x.new_ones(4 * H, 1)
        scale[2 * H : 3 * H] = 2
        x_proj = [project(x[:, d], weight_ih[d] * scale, None if bias is None else bias[d] * scale[:, 0])
                  for d in range(D)]  # (T, B, 4H) each
        weight_hh_2g = pack(weight_hh * scale, B, T)
        # the input terms become the gates in place: i, f, sigmoid(2 a_g), o; time-major, so that a step's
        # slice of all directions is contiguous
        gates = torch.stack(x_proj, 1) if D > 1 else x_proj[0].unsqueeze(1)  # (T, D, B, 4H)
        h = x.new_empty(T, D, B, H)  # h(1..T)
        c = x.new_empty(T + 1, D, B, H)  # c(0..T)
        tanh_c = x.new_empty(T, D, B, H)  # tanh c(1..T)
        c[0] = c0
        h_prev = h0
        for a, c_prev, c_t, tanh_c_t, h_t in zip(gates, c[:-1], c[1:], tanh_c, h, strict=True):
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
        T, D, B, H = h.shape
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
        weight_hh_t = pack(weight_hh.transpose(1, 2), B, T)  # (D, H, 4H)
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
        d_h0 = torch.stack([linear(d_gates[0, d], weight_hh_t[d]) for d in range(D)]) \
            if ctx.needs_input_grad[4] else None
        d_c0 = dc * f[0] if ctx.needs_input_grad[5] else None
        # the products over all steps take one direction at a time, (T, B, .) each: contiguous copies for D > 1
        d_dirs = [d_gates[:, d].contiguous() for d in range(D)]
        d_weight_ih = d_weight_hh = None
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[3]:
            # both weight gradients in one product over all steps, sum_t delta a(t)^T [x(t), h(t-1)]: one product
            # with T * B as its inner dimension costs less than two (2.5 ms instead of 3.0 for the benchmark's)
            inputs = torch.cat((x, torch.cat((h0.unsqueeze(0), h[:-1]))), -1)  # (T, D, B, I + H)
            d_weight = torch.stack([weight_gradient(d_dirs[d], inputs[:, d]) for d in range(D)])  # (D, 4H, I + H)
            d_weight_ih, d_weight_hh = d_weight.split((x.shape[-1], H), -1)
        # per direction (d_x, -, d_bias), stacked over directions
        needs = (ctx.needs_input_grad[0], False, ctx.needs_input_grad[2])
        d_input = zip(*(project_backward(d_dirs[d], x[:, d], weight_ih[d], needs) for d in range(D)), strict=True)
        d_x, _, d_bias = (None if grads[0] is None else torch.stack(grads, dim)
                          for grads, dim in zip(d_input, (1, 0, 0), strict=True))  # d_x: (T, D, B, I)
        return d_x, d_weight_ih, d_bias, d_weight_hh, d_h0, d_c0
