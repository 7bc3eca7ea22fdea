r"""Scores of a ranking: the area under the ROC curve and average precision, computed as scikit-learn does
(the tests compare with it, ties included).
"""

import torch
from torch import Tensor

from ...errors import InputError


def roc_auc(scores: Tensor, labels: Tensor) -> float:
    r"""Area under the ROC curve, as scikit-learn's ``roc_auc_score``: the Mann-Whitney statistic

    .. math::
        AUC = \frac{\sum_{i \in pos} r_i - P (P + 1) / 2}{P \, Q}

    with :math:`r_i` the rank of score ``i`` among all (1 = lowest, ties get their average rank), ``P``
    positives and ``Q`` negatives; a tie between a positive and a negative counts one half.
    """
    scores, labels = _check_scored(scores, labels)
    sorted_scores, order = scores.sort()
    _, inverse, counts = sorted_scores.unique_consecutive(return_inverse=True, return_counts=True)
    # a run of tied scores occupying ranks s+1 .. s+c has the average rank s + (c + 1) / 2
    first = counts.cumsum(0) - counts
    ranks = torch.empty_like(scores).scatter_(0, order, (first + (counts + 1) / 2).double()[inverse])
    p, q = int(labels.sum()), int((~labels).sum())
    return float((ranks[labels].sum() - p * (p + 1) / 2) / (p * q))


def average_precision(scores: Tensor, labels: Tensor) -> float:
    r"""Average precision, as scikit-learn's ``average_precision_score`` (no interpolation):

    .. math::
        AP = \sum_n (R_n - R_{n-1}) P_n

    over the distinct score thresholds from the highest down, :math:`P_n` and :math:`R_n` the precision
    and recall of predicting "positive" for every score at or above threshold ``n``.
    """
    scores, labels = _check_scored(scores, labels)
    sorted_scores, order = scores.sort(descending=True)
    hits = labels[order].double()
    # the counts at the last position of each run of tied scores: one threshold per distinct score
    last = torch.cat([sorted_scores[1:] != sorted_scores[:-1], sorted_scores.new_ones(1, dtype=torch.bool)])
    tp = hits.cumsum(0)[last]
    predicted = torch.arange(1, scores.numel() + 1, dtype=torch.float64)[last]
    recall = tp / tp[-1]
    return float(((recall - torch.cat([recall.new_zeros(1), recall[:-1]])) * tp / predicted).sum())


def _check_scored(scores: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    scores, labels = scores.detach().double().flatten().cpu(), labels.detach().flatten().cpu().bool()
    if scores.numel() != labels.numel():
        raise InputError(f"got {scores.numel()} scores for {labels.numel()} labels")
    if not labels.any() or labels.all():
        raise InputError("AUC and average precision need both positive and negative labels")
    return scores, labels
