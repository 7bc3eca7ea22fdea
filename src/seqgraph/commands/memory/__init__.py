"""The commands of the report's Part 1: `seqgraph toy` (the memory tasks), `seqgraph gradients` (gradient flow) and
`seqgraph params` (parameter counts), one module each."""
