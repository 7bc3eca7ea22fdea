"""Part 1 of the report: recurrent classifiers on synthetic memory tasks.

``tasks`` generates the tasks, ``classifier`` wraps a recurrent layer of :mod:`seqgraph.recurrent` into a sequence
classifier, ``train`` is the report's training protocol with its termination rules, ``gradients`` measures how far
back the loss's gradient reaches.
"""
