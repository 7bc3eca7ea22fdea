"""Each benchmark's configuration, from its paper and its authors' code, as the default for its dataset.

The protocol and the training schedule belong to the dataset (the paper that published numbers on it); the
architecture belongs to the model (its own paper). :func:`default_config` combines them; every value can be
overridden (``seqgraph graph forecast`` has a flag for each).
"""

import dataclasses

from ...errors import InputError
from .models import MODELS
from .train import ForecastConfig

# T-GCN (Zhao et al. 2019), lehaifeng/T-GCN: the released Los-loop run (batch 64, 64 units, 5000 epochs)
TGCN_TRAINING = dict(protocol="tgcn-paper", window=12, horizon=3, batch_size=64, epochs=5000, lr=1e-3, eps=1e-8,
                     lr_milestones=(), loss="tgcn", weight_decay=0.0015, max_norm=None, patience=None, shuffle=False,
                     drop_last=True)
# DCRNN (Li et al. 2018), liyaguang/DCRNN data/model/dcrnn_la.yaml
DCRNN_TRAINING = dict(protocol="dcrnn", window=12, horizon=12, batch_size=64, epochs=100, lr=0.01, eps=1e-3,
                      lr_milestones=(20, 30, 40, 50), lr_decay=0.1, min_lr=2e-6, loss="masked-mae", weight_decay=0.0,
                      max_norm=5.0, patience=50, shuffle=True, drop_last=False)
# PyTorch Geometric Temporal's documented examples: Adam 0.01, 200 epochs, all training snapshots in one step
PYGT_TRAINING = dict(protocol="pygt", horizon=1, batch_size=0, epochs=200, lr=0.01, eps=1e-8, lr_milestones=(),
                     loss="mse", weight_decay=0.0, max_norm=None, patience=None, shuffle=False, drop_last=False)

DATASETS = {
    "los-loop": TGCN_TRAINING,
    "metr-la": DCRNN_TRAINING,
    "pems-bay": DCRNN_TRAINING,
    "gvar": DCRNN_TRAINING,
    # lags 4 and the documentation's temporal_signal_split; lags 4 and 8, the loaders' defaults, for the others
    "chickenpox": {**PYGT_TRAINING, "window": 4, "train_share": 0.2},
    "pedalme": {**PYGT_TRAINING, "window": 4, "train_share": 0.8},
    "england-covid": {**PYGT_TRAINING, "window": 8, "train_share": 0.8},
}
# The L2 weight λ on the epidemics: the lowest validation MSE, averaged over the models, on the training windows alone
# (benchmarks/forecast_select.py, results in benchmarks/results/forecast_select.json; the test windows play no part)
L2 = {"chickenpox": 0.01, "pedalme": 0.003, "england-covid": 0.03}
DEFAULT_MODEL = {"los-loop": "tgcn"}  # else DCRNN, the model of the other benchmarks' papers

# the models' own papers: DCRNN's code (2 layers of 64 units, 2 diffusion steps); T-GCN's (one layer of 64);
# GCRN's Chebyshev filters (K = 3 terms: 2 hops, as DCRNN's 2 steps); the baselines as the model they stand in for
ARCHITECTURES = {"dcrnn": dict(hidden_size=64, num_layers=2, K=2), "gconv-gru": dict(hidden_size=64, num_layers=1, K=3),
                 "gconv-lstm": dict(hidden_size=64, num_layers=1, K=3), "tgcn": dict(hidden_size=64, num_layers=1),
                 "tgcn-code": dict(hidden_size=64, num_layers=1), "gru": dict(hidden_size=64, num_layers=1),
                 "gcn": dict(hidden_size=64)}
# PyTorch Geometric Temporal's examples use 32 filters on its small epidemic graphs
SMALL = {"chickenpox", "pedalme", "england-covid"}


def default_config(dataset: str, model: str | None = None, **overrides) -> ForecastConfig:
    """The configuration of ``dataset``'s paper for ``model`` (its default model if None), then ``overrides``.
    ``dataset`` is a name of :data:`DATASETS`, or None for a user's own series (DCRNN's protocol)."""
    if dataset is not None and dataset not in DATASETS:
        raise InputError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    model = model or DEFAULT_MODEL.get(dataset, "dcrnn")
    if model not in MODELS:
        raise InputError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    values = {**DATASETS.get(dataset, DCRNN_TRAINING), **ARCHITECTURES.get(model, {}), "model": model}
    if dataset in L2:
        values["weight_decay"] = L2[dataset]
    if dataset in SMALL and "hidden_size" in values:
        values["hidden_size"] = 32
    fields = {f.name for f in dataclasses.fields(ForecastConfig)}
    unknown = set(overrides) - fields
    if unknown:
        raise InputError(f"unknown setting(s) {sorted(unknown)}")
    return ForecastConfig(**{**values, **overrides})
