r"""The GRU of :ref:`equations (29)-(32) <eq-gru>` (reset gate before the recurrent product) over all timesteps, with
backpropagation through time written out: the loop behind :class:`seqgraph.recurrent.GRU`."""

import torch
from torch.autograd.function import once_differentiable

from . import native
from .kernels import linear, onednn, pack, project, project_backward, tanh, weight_gradient


class GRUFunction(torch.autograd.Function):
    r""":ref:`Eq. (29)-(32) <eq-gru>` over all timesteps, time-major, as :class:`~seqgraph.cells.GRUCell` steps them.

    ``apply(x, weight_ih, weight_hh, h0)`` takes the inputs ``x`` ``(T, B, I)``, the cell's ``weight_ih``
    ``(3H, I)`` and ``weight_hh`` ``(3H, H)`` (row blocks z, r and $\tilde h$) and ``h0`` ``(B, H)``; it returns
    every hidden state ``(T, B, H)``. The input terms of all steps come from one product before the loop; the
    reset gate scales $h(t-1)$ before the candidate's product, so a step takes two products, the gates' and
    the candidate's. With $\delta h(t) = \partial L / \partial h(t)$ (the gradient of output $t$ plus what
    flows back from step $t + 1$) and $a$ the pre-activations,

    .. math::
        \delta a_{\tilde h} &= \delta h(t) \odot z \odot (1 - \tilde h^2), \qquad
        \delta a_z = \delta h(t) \odot (\tilde h - h(t-1)) \odot z (1 - z) \\
        \delta (r \odot h(t-1)) &= \delta a_{\tilde h} W_{\tilde h h}, \qquad
        \delta a_r = \delta (r \odot h(t-1)) \odot h(t-1) \odot r (1 - r) \\
        \delta h(t-1) &\mathrel{+}= \delta h(t) \odot (1 - z) + \delta (r \odot h(t-1)) \odot r
            + [\delta a_z, \delta a_r] \, [W_{zh}; W_{rh}]

    and the weight gradients are one product each over all steps: $\sum_t [\delta a_z, \delta a_r]^\top
    h(t-1)$, $\sum_t \delta a_{\tilde h}^\top (r \odot h(t-1))$ and $\sum_t \delta a^\top x(t)$. The factors
    that do not depend on $\delta$ are computed for all steps before the loop. The loops run in C++ where
    :mod:`.native` built them, in Python otherwise, with the same numbers.
    """

    @staticmethod
    def forward(ctx, x, weight_ih, weight_hh, h0):
        T, B, H = x.shape[0], x.shape[1], h0.shape[-1]
        x_proj = project(x, weight_ih, None)  # (T, B, 3H): z, r, h~
        weight_zr, weight_n = pack(weight_hh[: 2 * H], B, T), pack(weight_hh[2 * H :], B, T)
        zr = x.new_empty(T, B, 2 * H)  # z, r
        h_tilde = x.new_empty(T, B, H)
        rh = x.new_empty(T, B, H)  # r * h(t-1)
        h = x.new_empty(T, B, H)  # h(1..T)
        if native.runs(x):  # the same loop in C++
            native.ops().gru_forward(x_proj, weight_zr, weight_n, h0, zr, h_tilde, rh, h, onednn(h0))
        else:
            h_prev = h0
            for x_t, zr_t, h_tilde_t, rh_t, h_t in zip(x_proj, zr, h_tilde, rh, h, strict=True):
                # (29), (30): both gates' recurrent terms in one product
                torch.add(x_t[:, : 2 * H], linear(h_prev, weight_zr), out=zr_t).sigmoid_()
                z, r = zr_t.chunk(2, -1)
                # (31): the reset gate scales h(t-1) before the product
                torch.mul(r, h_prev, out=rh_t)
                tanh(torch.add(x_t[:, 2 * H :], linear(rh_t, weight_n), out=h_tilde_t), out=h_tilde_t)
                # (32): (1 - z) h(t-1) + z h~
                h_prev = torch.lerp(h_prev, h_tilde_t, z, out=h_t)
        ctx.save_for_backward(x, weight_ih, weight_hh, h0, zr, h_tilde, rh, h)
        return h

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_h):
        x, weight_ih, weight_hh, h0, zr, h_tilde, rh, h = ctx.saved_tensors
        T, B, H = h.shape
        weight_zr_t, weight_n_t = pack(weight_hh[: 2 * H].t(), B, T), pack(weight_hh[2 * H :].t(), B, T)
        h_prev = torch.cat((h0.unsqueeze(0), h[:-1]))  # h(0..T-1), (T, B, H)
        if native.runs(x):  # the same loop in C++
            d_proj, dh = native.ops().gru_backward(zr, h_tilde, h_prev, grad_h, weight_zr_t, weight_n_t, onednn(h0))
        else:
            d_proj, dh = _backward_loop(zr, h_tilde, h_prev, grad_h, weight_zr_t, weight_n_t)
        d_weight_hh = None
        if ctx.needs_input_grad[2]:
            d_zr, d_n = d_proj.split((2 * H, H), -1)
            d_weight_hh = torch.cat((weight_gradient(d_zr, h_prev), weight_gradient(d_n, rh)))  # (3H, H)
        d_x, d_weight_ih, _ = project_backward(d_proj, x, weight_ih, (*ctx.needs_input_grad[:2], False))
        return d_x, d_weight_ih, d_weight_hh, dh if ctx.needs_input_grad[3] else None


def _backward_loop(zr, h_tilde, h_prev, grad_h, weight_zr_t, weight_n_t):
    r""":class:`GRUFunction`'s loop back through time, ``h_prev`` holding $h(0..T-1)$: the gradients of the
    pre-activations ``d_proj`` ``(T, B, 3H)`` and $\delta h(0)$ ``(B, H)``."""
    T, B, H = h_tilde.shape
    z, r = zr.chunk(2, -1)
    # d_proj starts as the factors that do not depend on delta, for all steps at once:
    # z (1 - z)(h~ - h(t-1)), r (1 - r) h(t-1), z (1 - h~^2); the loop multiplies in delta
    d_proj = zr.new_empty(T, B, 3 * H)  # z, r, h~
    d_zr = d_proj[..., : 2 * H]
    torch.addcmul(zr, zr, zr, value=-1, out=d_zr)  # sigmoid' = s (1 - s)
    d_z, d_r, d_n = d_proj.chunk(3, -1)
    d_z.mul_(h_tilde - h_prev)
    d_r.mul_(h_prev)
    torch.addcmul(z, z, h_tilde * h_tilde, value=-1, out=d_n)
    one_minus_z = 1 - z
    dh = grad_h[-1].clone()  # delta h(T)
    for t in range(T - 1, -1, -1):
        d_z[t].mul_(dh)
        d_n[t].mul_(dh)
        d_rh = linear(d_n[t], weight_n_t)  # delta (r * h(t-1)), (B, H)
        d_r[t].mul_(d_rh)
        # delta h(t-1): through the gates' product, the interpolation (32) and the reset gate (31)
        dh_prev = linear(d_zr[t], weight_zr_t).addcmul_(dh, one_minus_z[t]).addcmul_(d_rh, r[t])
        dh = dh_prev.add_(grad_h[t - 1]) if t > 0 else dh_prev
    return d_proj, dh
