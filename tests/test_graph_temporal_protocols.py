"""The benchmark protocols on hand-made arrays: window and split counts, scalers that see the training split only,
masked metrics, scheduled sampling, and metrics at a horizon step rather than averaged up to it."""

import math

import numpy as np
import pytest
import torch

from seqgraph.errors import InputError
from seqgraph.graph.temporal.data import TemporalSignal, batch
from seqgraph.graph.temporal.metrics import masked_errors, tgcn_errors
from seqgraph.graph.temporal.models import sampling_probability
from seqgraph.graph.temporal.protocols import fit_scaler, input_step_counts, make_splits, split_first, split_samples


def signal(steps, nodes=3, seed=0, **kwargs):
    g = torch.Generator().manual_seed(seed)
    return TemporalSignal(torch.rand(steps, nodes, generator=g) * 60, torch.tensor([[0, 1], [1, 0]]),
                          torch.ones(2), "test", **kwargs)


def test_dcrnn_split_of_metr_la_is_23974_3425_6850():
    s = signal(34272)  # METR-LA's 34,272 five-minute steps
    splits = make_splits("dcrnn", s, 12, 12, 0.2)
    assert splits.sizes() == {"train": 23974, "val": 3425, "test": 6850}
    # by sample index, in order: the test windows are the last ones, the last reaching the series' end
    assert int(splits.test[-1]) + 24 == 34272 and int(splits.train[-1]) + 1 == int(splits.val[0])
    assert split_samples(10, 0.7, 0.2).sizes() == {"train": 7, "val": 1, "test": 2}


def test_tgcn_parts_give_the_authors_window_counts_on_los_loop():
    s = signal(2016)  # Los-loop: 7 days of 5-minute steps
    paper = make_splits("tgcn-paper", s, 12, 3, 0.2)
    # train part 1612 steps -> 1612 - 12 - 3 = 1597 windows; test part 404 -> 389 (one short of what would fit)
    assert paper.sizes() == {"train": 1597, "val": 0, "test": 389}
    assert int(paper.test[0]) == 1612 and int(paper.train[-1]) + 15 < 1612  # no window crosses the split
    honest = make_splits("tgcn-honest", s, 12, 3, 0.2)
    assert torch.equal(honest.test, paper.test)  # the same test windows
    assert int(honest.val[0]) == int(2016 * 0.7) and int(honest.val[-1]) + 15 < int(2016 * 0.8)


def test_pyg_temporal_split_is_the_first_share_of_the_snapshots():
    s = signal(521, nodes=20)  # chickenpox: 521 weeks, lags 4 -> 517 snapshots
    assert make_splits("pygt", s, 4, 1, 0.2).sizes() == {"train": 103, "val": 0, "test": 414}
    assert split_first(517, 0.2, 0.05).sizes() == {"train": 78, "val": 25, "test": 414}


def test_scalers_see_only_what_their_protocol_allows():
    s = signal(200)
    with torch.no_grad():
        s.values[150:] *= 10  # the test part is much larger
    paper = make_splits("tgcn-paper", s, 12, 3, 0.2)
    assert fit_scaler("tgcn-paper", s, paper, 12).scale == pytest.approx(float(s.values.max()))  # all, as the authors
    honest = make_splits("tgcn-honest", s, 12, 3, 0.2)
    last = int(honest.train[-1]) + 12
    assert fit_scaler("tgcn-honest", s, honest, 12).scale == pytest.approx(float(s.values[:last].max()))
    assert fit_scaler("tgcn-honest", s, honest, 12).scale < float(s.values[150:].max())


def test_dcrnn_scaler_is_the_mean_and_std_of_the_stacked_training_inputs_zeros_included():
    s = signal(120, seed=3)
    with torch.no_grad():
        s.values[::7] = 0  # missing readings count in the statistics, as in DCRNN's code
    splits = make_splits("dcrnn", s, 12, 12, 0.2)
    x_train = np.stack([s.values[t:t + 12].numpy() for t in splits.train.tolist()])  # DCRNN's x_train[..., 0]
    scaler = fit_scaler("dcrnn", s, splits, 12)
    assert scaler.shift == pytest.approx(float(x_train.mean()), rel=1e-6)
    assert scaler.scale == pytest.approx(float(x_train.std()), rel=1e-6)
    counts = input_step_counts(splits.train, 12, 120)
    assert counts[0] == 1 and counts[11] == 12 and counts[-1] == 0


def test_masked_metrics_equal_hand_computations():
    true = torch.tensor([[[10.0, 0.0], [20.0, 5.0]]])  # (S=1, H=2, N=2); one missing reading at step 1
    pred = torch.tensor([[[12.0, 7.0], [17.0, 5.0]]])
    masked = masked_errors(pred, true, missing_zeros=True)
    assert masked["mae"].tolist() == pytest.approx([2.0, 1.5])  # step 1: |12 - 10| only; step 2: (3 + 0) / 2
    assert masked["rmse"].tolist() == pytest.approx([2.0, math.sqrt(4.5)])
    assert masked["mape"].tolist() == pytest.approx([0.2, (3 / 20) / 2])
    unmasked = masked_errors(pred, true, missing_zeros=False)
    assert unmasked["mae"].tolist() == pytest.approx([4.5, 1.5])  # the 0 counts as a reading of 0


def test_horizon_metrics_are_at_the_step_not_averaged_up_to_it():
    g = torch.Generator().manual_seed(0)
    true = torch.rand(50, 12, 4, generator=g) * 50 + 10
    pred = true + torch.arange(1, 13)[None, :, None] * torch.randn(50, 12, 4, generator=g)  # errors grow with h
    mae = masked_errors(pred, true, missing_zeros=True)["mae"]
    step3 = (pred[:, 2] - true[:, 2]).abs().mean()
    assert float(mae[2]) == pytest.approx(float(step3))
    assert float(mae[2]) > float(mae[:3].mean())  # averaging up to step 3 would report less


def test_tgcn_metrics_match_the_definitions_and_scikit_learn():
    from sklearn.metrics import explained_variance_score, mean_absolute_error, mean_squared_error, r2_score

    g = torch.Generator().manual_seed(1)
    true = torch.rand(30, 3, 5, generator=g) * 60
    pred = true + torch.randn(30, 3, 5, generator=g) * 3
    y, p = true.double().reshape(-1).numpy(), pred.double().reshape(-1).numpy()
    ours = tgcn_errors(pred, true)
    assert ours["rmse"] == pytest.approx(math.sqrt(mean_squared_error(y, p)))
    assert ours["mae"] == pytest.approx(mean_absolute_error(y, p))
    assert ours["accuracy"] == pytest.approx(1 - np.linalg.norm(y - p) / np.linalg.norm(y))
    assert ours["r2"] == pytest.approx(r2_score(y, p))  # pooled over every entry, as the authors' code
    assert ours["var"] == pytest.approx(explained_variance_score(y, p))


def test_scheduled_sampling_follows_the_inverse_sigmoid_decay():
    k = 2000
    assert sampling_probability(0, k) == pytest.approx(k / (k + 1))
    assert sampling_probability(2000, k) == pytest.approx(k / (k + math.e))
    assert sampling_probability(round(k * math.log(k)), k) == pytest.approx(0.5, abs=1e-3)  # about step 15,202
    assert sampling_probability(10**9, k) == 0.0 and sampling_probability(10, 0) == 0.0


def test_windows_are_gathered_per_batch_from_one_array():
    s = signal(30, nodes=2)
    features = s.features(s.values)
    x, y = batch(features, s.values, torch.tensor([0, 5]), 4, 2)
    assert x.shape == (2, 4, 2, 1) and y.shape == (2, 2, 2)
    assert torch.equal(x[1, :, :, 0], s.values[5:9]) and torch.equal(y[1], s.values[9:11])


def test_a_horizon_longer_than_the_series_is_refused():
    with pytest.raises(InputError, match="too few for a window of 12 inputs and 24 steps ahead"):
        signal(30).check_windows(12, 24)
    with pytest.raises(InputError, match="leaves no val windows"):
        make_splits("tgcn-honest", signal(60), 12, 3, 0.2)  # the validation part, 6 steps, holds no window


def test_the_epidemics_l2_weights_are_those_chosen_on_their_training_windows():
    import json
    from pathlib import Path

    from seqgraph.graph.temporal.presets import L2, default_config

    chosen = json.loads((Path(__file__).parent.parent / "benchmarks/results/forecast_select.json").read_text())
    for dataset, result in chosen["datasets"].items():
        assert L2[dataset] == float(result["chosen"]) == float(min(result["mean"], key=result["mean"].get))
        for model in result["validation_mse"]["0.0"]:
            assert default_config(dataset, model).weight_decay == L2[dataset], (dataset, model)
    assert default_config("los-loop", "tgcn").weight_decay == 0.0015  # T-GCN's own
