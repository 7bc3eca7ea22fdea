r"""Forecast errors as the benchmarks report them, on de-normalised values.

- DCRNN (Li et al. 2018, its code's ``masked_mae``/``masked_rmse``/``masked_mape``): a target of 0 is a missing
  reading and counts nowhere; over the :math:`n` valid entries,
  :math:`\mathrm{MAE} = \frac1n \sum |\hat y - y|`, :math:`\mathrm{RMSE} = \sqrt{\frac1n \sum (\hat y - y)^2}`,
  :math:`\mathrm{MAPE} = \frac1n \sum |\hat y - y| / |y|`. They are reported at a horizon step itself (step 3 is the
  15-minute forecast), not averaged over the steps up to it: :func:`masked_errors` gives one value per step.
- T-GCN (Zhao et al. 2019, the authors' ``evaluation``): every step up to the horizon pooled into one matrix
  :math:`Y` (steps x nodes, all windows), with RMSE, MAE, Accuracy :math:`= 1 - \|Y - \hat Y\|_F / \|Y\|_F`,
  :math:`R^2 = 1 - \sum (Y - \hat Y)^2 / \sum (Y - \bar Y)^2` and explained variance
  :math:`1 - \mathrm{Var}(Y - \hat Y) / \mathrm{Var}(Y)` (population variances over all entries): :func:`tgcn_errors`.
- PyTorch Geometric Temporal: the mean squared error over every node and window, in the standardised units of
  its datasets: ``mse`` of :func:`masked_errors`.
"""

import torch
from torch import Tensor


def masked_errors(pred: Tensor, true: Tensor, missing_zeros: bool) -> dict[str, Tensor]:
    """MAE, RMSE, MAPE (a fraction) and MSE per horizon step of ``pred``, ``true`` ``(S, H, N)``: each ``(H,)``.
    With ``missing_zeros`` the entries where ``true`` is 0 are left out (MAPE always leaves them out)."""
    error = (pred - true).double()
    valid = (true != 0) if missing_zeros else torch.ones_like(true, dtype=torch.bool)
    count = valid.sum((0, 2)).clamp(min=1)  # valid entries per step   (H,)
    nonzero = (true != 0).sum((0, 2)).clamp(min=1)
    mse = (error.square() * valid).sum((0, 2)) / count
    return {"mae": (error.abs() * valid).sum((0, 2)) / count, "rmse": mse.sqrt(), "mse": mse,
            "mape": torch.where(true != 0, error.abs() / true.double().abs(), 0.0).sum((0, 2)) / nonzero}


def tgcn_errors(pred: Tensor, true: Tensor) -> dict[str, float]:
    """T-GCN's five numbers for ``pred``, ``true`` ``(S, H', N)``, every step pooled (pass ``[:, :h]`` for the
    steps up to ``h``, or ``[:, h-1:h]`` for step ``h`` alone)."""
    y, error = true.double(), (pred - true).double()
    return {"rmse": float(error.square().mean().sqrt()), "mae": float(error.abs().mean()),
            "accuracy": float(1 - error.norm() / y.norm()),
            "r2": float(1 - error.square().sum() / (y - y.mean()).square().sum()),
            "var": float(1 - error.var(correction=0) / y.var(correction=0))}


def protocol_metrics(protocol: str, pred: Tensor, true: Tensor, missing_zeros: bool) -> dict:
    """A run's record of the errors of de-normalised ``pred``, ``true`` ``(S, H, N)``: :func:`masked_errors` at
    every step and their mean over the steps, and under T-GCN's protocols :func:`tgcn_errors` of the steps pooled
    (the paper's) and of the horizon step alone."""
    per_step = masked_errors(pred, true, missing_zeros)
    metrics = {name: [float(v) for v in values] for name, values in per_step.items()}  # at every step
    metrics["mean"] = {name: float(values.mean()) for name, values in per_step.items()}
    if protocol.startswith("tgcn"):
        metrics["pooled"] = tgcn_errors(pred, true)
        metrics["step"] = tgcn_errors(pred[:, -1:], true[:, -1:])
    return metrics
