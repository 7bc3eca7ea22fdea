"""Character-level language model (the report's Part 2, :doc:`/text`): data, model, training."""
