"""Graph neural networks (SPEC Part 3), written from their equations."""
