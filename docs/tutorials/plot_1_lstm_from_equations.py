r"""
An LSTM from its equations, against ``nn.LSTM``
===============================================

You will learn how seqgraph's LSTM is written: one time step is the six equations
:ref:`(4)-(9) <eq-lstm>`, the layer runs that step over a sequence, and both give ``torch.nn.LSTM``'s numbers
when they hold its weights. You will also see where each symbol of the equations lives in the fused weight
tensors.
"""

import matplotlib.pyplot as plt
import torch
from torch import nn

from seqgraph.cells import LSTMCell
from seqgraph.recurrent import LSTM

torch.manual_seed(0)

# %%
# One step, written out
# ---------------------
# A cell stacks the matrices of the four gates by rows, in ``torch.nn.LSTM``'s order i, f, g, o: ``weight_ih``
# holds :math:`W_{ix}, W_{fx}, W_{gx}, W_{ox}`, ``weight_hh`` holds :math:`W_{ih}, W_{fh}, W_{gh}, W_{oh}`, and
# ``bias`` one bias per gate. Slicing them gives the symbols of the equations back, so a step can be computed by hand:
#
# .. math::
#     g &= \tanh(W_{gx} x + W_{gh} h + b_g), \quad i = \sigma(W_{ix} x + W_{ih} h + b_i), \\
#     f &= \sigma(W_{fx} x + W_{fh} h + b_f), \quad o = \sigma(W_{ox} x + W_{oh} h + b_o), \\
#     c' &= g \odot i + c \odot f, \quad h' = \tanh(c') \odot o

B, I, H = 4, 3, 5
cell = LSTMCell(I, H)
W_ix, W_fx, W_gx, W_ox = cell.weight_ih.chunk(4)
W_ih, W_fh, W_gh, W_oh = cell.weight_hh.chunk(4)
b_i, b_f, b_g, b_o = cell.bias.chunk(4)

x, h, c = torch.randn(B, I), torch.randn(B, H), torch.randn(B, H)
g = torch.tanh(x @ W_gx.T + h @ W_gh.T + b_g)  # (4)
i = torch.sigmoid(x @ W_ix.T + h @ W_ih.T + b_i)  # (5)
f = torch.sigmoid(x @ W_fx.T + h @ W_fh.T + b_f)  # (6)
o = torch.sigmoid(x @ W_ox.T + h @ W_oh.T + b_o)  # (7)
c_next = g * i + c * f  # (8)
h_next = torch.tanh(c_next) * o  # (9)

h_cell, c_cell = cell(x, (h, c))
print("largest difference, by hand vs LSTMCell:", (h_cell - h_next).abs().max().item())
assert torch.allclose(h_cell, h_next, atol=1e-6) and torch.allclose(c_cell, c_next, atol=1e-6)

# %%
# The same weights as ``nn.LSTM``
# -------------------------------
# ``torch.nn.LSTM`` keeps two biases per gate, ``bias_ih`` and ``bias_hh``; the equations have one, their sum.
# :meth:`~seqgraph.recurrent.LSTM.from_torch` copies a one-layer ``nn.LSTM`` into seqgraph's layer. Both are
# batch-first here: ``(B, T, I)`` in, the hidden state of every step ``(B, T, H)`` and the final ``(h, c)`` out.

T = 50
reference = nn.LSTM(I, H, batch_first=True)
ours = LSTM.from_torch(reference)
xs = torch.randn(B, T, I, requires_grad=True)

out_ref, (h_ref, c_ref) = reference(xs)
out_ours, (h_ours, c_ours) = ours(xs)
gap = (out_ours - out_ref).abs().amax(dim=(0, 2))  # the largest difference at each step   (T,)
print(f"outputs: largest difference {gap.max().item():.2e} over {T} steps")
assert torch.allclose(out_ours, out_ref, atol=1e-5)
assert torch.allclose(h_ours, h_ref.squeeze(0), atol=1e-5) and torch.allclose(c_ours, c_ref.squeeze(0), atol=1e-5)

# %%
# Gradients agree too
# -------------------
# seqgraph's layer runs its loop in one autograd function with backpropagation through time written out by hand
# (:mod:`seqgraph.fused`), so the gradients are worth checking as well: with respect to the input, and to every
# weight (``nn.LSTM``'s two biases each get the gradient of their sum).

out_ref.pow(2).sum().backward()
grad_ref = xs.grad.clone()
xs.grad = None
out_ours.pow(2).sum().backward()
print(f"input gradients: largest difference {(xs.grad - grad_ref).abs().max().item():.2e}")
assert torch.allclose(xs.grad, grad_ref, atol=1e-5)
weights = {"weight_ih": reference.weight_ih_l0, "weight_hh": reference.weight_hh_l0, "bias": reference.bias_ih_l0}
for name, theirs in weights.items():
    mine = getattr(ours.cell, name).grad
    print(f"{name}: largest gradient difference {(mine - theirs.grad).abs().max().item():.2e}")
    assert torch.allclose(mine, theirs.grad, atol=1e-5)

# %%
# How the agreement holds over time
# ---------------------------------
# Float32 rounding differs between the two loops (the sums run in another order), so the outputs are not bitwise
# equal; the difference stays at rounding level along the whole sequence instead of growing.

plt.figure(figsize=(6, 3))
plt.semilogy(range(1, T + 1), gap.detach().clamp(min=1e-10).numpy())
plt.xlabel("time step t")
plt.ylabel("largest |ours - nn.LSTM|")
plt.title("seqgraph's LSTM against nn.LSTM, same weights")
plt.tight_layout()
