"""Character-level language model (SPEC Part 2): data, model, training."""
