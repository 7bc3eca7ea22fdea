"""The fused loops behind :mod:`seqgraph.recurrent`: one autograd function per layer, each running the whole
sequence with its backward pass through time written out, one per module (:mod:`.lstm` for the LSTM and the
BiLSTM, :mod:`.gru`, :mod:`.peephole`, :mod:`.rnn`), and the products and tanh they share (:mod:`.kernels`).

Each loop over time runs in C++ (``loops.cpp``, built on first use by :mod:`.native`) or, where that cannot be
built, in Python, with the same numbers bit for bit; :func:`backend` says which (``"native"`` or ``"python"``),
and ``SEQGRAPH_FUSED=python`` in the environment forces the Python loops.

The cells of :mod:`seqgraph.cells` stay the line-by-line reference for the equations; the tests tie each
function, in both backends, to its cell stepped by hand, to float64 references and to ``gradcheck``.
"""

from .native import backend

__all__ = ["backend"]
