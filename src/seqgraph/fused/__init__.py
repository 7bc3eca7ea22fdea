"""The fused loops behind :mod:`seqgraph.recurrent`: one autograd function per layer, each running the whole
sequence with its backward pass through time written out, one per module (:mod:`.lstm` for the LSTM and the
BiLSTM, :mod:`.gru`, :mod:`.peephole`, :mod:`.rnn`), and the products and tanh they share (:mod:`.kernels`).

The cells of :mod:`seqgraph.cells` stay the line-by-line reference for the equations; the tests tie each
function to its cell stepped by hand, to float64 references and to ``gradcheck``.
"""
