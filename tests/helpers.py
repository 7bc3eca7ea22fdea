"""Small helpers shared by several test modules."""

import torch
import torch.nn.functional as F

TEXT = "the people of the union govern the states, and the states govern the towns.\n" * 40  # a tiny corpus


def training_losses(model, x, edge_index, y, steps: int = 30, lr: float = 0.05) -> list[float]:
    """Full-batch Adam on cross-entropy for ``steps`` steps; the loss before each step."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x, edge_index), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses

