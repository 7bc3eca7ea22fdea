"""The forecasting datasets: the shipped files as their READMEs describe them, pandas' HDF5 layout read without
pandas, the sensor-graph pickles through the restricted unpickler, and bad files refused in one line naming them."""

import pickle

import numpy as np
import pytest
import torch

from seqgraph.errors import InputError
from seqgraph.graph.datasets.gvar import generate_gvar
from seqgraph.graph.datasets.pygt import load_pygt
from seqgraph.graph.datasets.signals import load_signal
from seqgraph.graph.datasets.traffic import load_los_loop, read_csv_folder, read_sensor_graph


def test_los_loop_is_207_sensors_over_7_days(shared_data):
    s = load_los_loop(shared_data)
    assert s.values.shape == (2016, 207) and s.edge_index.shape == (2, 2833)  # the unit diagonal included
    assert not s.missing_zeros and s.time_of_day is None and float(s.values.min()) > 0


@pytest.mark.parametrize("name, nodes, edges", [("metr-la-graph/adj_mx.pkl", 207, 1722),
                                                ("pems-bay-graph/adj_mx_bay.pkl", 325, 2694)])
def test_dcrnn_sensor_graphs_load_through_the_restricted_unpickler(shared_data, name, nodes, edges):
    ids, adjacency = read_sensor_graph(shared_data / "temporal" / name)
    assert len(ids) == nodes and adjacency.shape == (nodes, nodes) and int((adjacency != 0).sum()) == edges
    assert (np.diag(adjacency) == 1).all()


class Shell:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def test_a_graph_pickle_with_any_other_global_is_refused(tmp_path):
    path = tmp_path / "adj_mx.pkl"
    path.write_bytes(pickle.dumps([["1", "2"], {"1": 0, "2": 1}, Shell()], protocol=2))
    with pytest.raises(InputError, match=r"adj_mx.pkl: refusing to load (posix|os)\.system"):
        read_sensor_graph(path)
    path.write_bytes(b"\x80\x02not a pickle")
    with pytest.raises(InputError, match="not a readable sensor-graph pickle"):
        read_sensor_graph(path)


def write_speeds(path, ids, values, start="2012-03-01", freq="5min"):
    """A speed file as DCRNN's data release writes it: pandas' to_hdf, key df, timestamps x sensor ids."""
    import pandas as pd

    frame = pd.DataFrame(values, index=pd.date_range(start, periods=len(values), freq=freq), columns=ids)
    frame.to_hdf(path, key="df")


def write_graph(path, ids, adjacency):
    path.write_bytes(pickle.dumps([ids, {s: i for i, s in enumerate(ids)}, adjacency.astype(np.float32)], protocol=4))


def test_a_metr_la_layout_h5_file_beside_its_graph(tmp_path):
    ids = ["773869", "767541", "767542"]
    speeds = np.array([[60.0, 0.0, 55.5], [61.0, 58.0, 0.0], [59.0, 57.0, 54.0], [58.0, 56.0, 53.0]])
    write_speeds(tmp_path / "mine.h5", ids[::-1], speeds[:, ::-1])  # columns in another order than the graph's
    write_graph(tmp_path / "adj_mx.pkl", ids, np.eye(3) + np.diag([0.5, 0.5], 1))
    s, key = load_signal(str(tmp_path / "mine.h5"), missing_zeros=True)
    assert key is None and s.missing_zeros
    assert torch.equal(s.values, torch.tensor(speeds, dtype=torch.float32))  # reordered to the graph's sensors
    assert s.time_of_day.tolist() == pytest.approx([0, 5 / 1440, 10 / 1440, 15 / 1440])  # DCRNN's add_time_in_day
    assert s.edge_index.size(1) == 5


def test_metr_la_by_name_reads_the_speeds_from_the_data_directory(shared_data, tmp_path):
    # the real sensor graph with a short series of its 207 sensors in the layout of DCRNN's metr-la.h5
    (tmp_path / "temporal").mkdir()
    (tmp_path / "temporal" / "metr-la-graph").symlink_to(shared_data / "temporal" / "metr-la-graph")
    ids, _ = read_sensor_graph(shared_data / "temporal" / "metr-la-graph" / "adj_mx.pkl")
    values = np.random.default_rng(0).uniform(0, 70, (40, 207))
    write_speeds(tmp_path / "temporal" / "metr-la.h5", ids, values)
    s, key = load_signal("metr-la", tmp_path)
    assert key == "metr-la" and s.missing_zeros and s.values.shape == (40, 207) and s.edge_index.size(1) == 1722
    with pytest.raises(InputError, match="pems-bay.h5 is missing"):
        load_signal("pems-bay", tmp_path)


@pytest.mark.parametrize("case, message", [
    ("no df", "has no key 'df'"), ("decreasing", "timestamps do not increase"),
    ("other sensors", "its sensors are not those of"), ("nan", "NaN or infinite"),
])
def test_bad_h5_files_are_refused_naming_the_file(tmp_path, case, message):
    import pandas as pd

    ids, values = ["1", "2"], np.array([[50.0, 51.0], [52.0, 53.0], [54.0, 55.0]])
    path = tmp_path / "speeds.h5"
    write_graph(tmp_path / "adj_mx.pkl", ids, np.eye(2))
    if case == "no df":
        pd.DataFrame(values, columns=ids).to_hdf(path, key="speeds")
    elif case == "decreasing":
        frame = pd.DataFrame(values, index=pd.to_datetime(["2012-03-01 00:10", "2012-03-01 00:05",
                                                           "2012-03-01 00:15"]), columns=ids)
        frame.to_hdf(path, key="df")
    elif case == "other sensors":
        write_speeds(path, ["1", "3"], values)
    else:
        values[1, 0] = np.nan
        write_speeds(path, ids, values)
    with pytest.raises(InputError, match=message) as raised:
        load_signal(str(path))
    assert "speeds.h5" in str(raised.value)


@pytest.mark.parametrize("signal, adjacency, message", [
    ("a,b\n1,2\n3\n", "1,0\n0,1\n", "signal.csv, line 3: 1 values, but the table has 2 columns"),
    ("a,b\n1,x\n", "1,0\n0,1\n", "signal.csv, line 2: not a comma-separated row of numbers"),
    ("a,b\n1,nan\n2,3\n", "1,0\n0,1\n", "signal.csv: step 0 holds NaN or infinite values"),
    ("a,b\n1,2\n", "1,0,0\n0,1,0\n", "adjacency.csv: the adjacency must be square"),
    ("a,b\n1,2\n", "1,0,0\n0,1,0\n0,0,1\n", "adjacency.csv: the adjacency has 3 rows for 2 sensors"),
])
def test_a_users_csv_folder_with_a_bad_file_is_refused_naming_it(tmp_path, signal, adjacency, message):
    (tmp_path / "signal.csv").write_text(signal)
    (tmp_path / "adjacency.csv").write_text(adjacency)
    with pytest.raises(InputError, match=message):
        read_csv_folder(tmp_path)


def test_pyg_temporal_files_have_the_shapes_of_its_loaders(shared_data):
    chickenpox = load_pygt("chickenpox", shared_data)
    assert chickenpox.values.shape == (521, 20) and chickenpox.edge_index.shape == (2, 102)
    pedalme = load_pygt("pedalme", shared_data)
    assert pedalme.values.shape == (35, 15) and pedalme.edge_index.shape == (2, 225)
    england = load_pygt("england-covid", shared_data)
    assert england.values.shape == (61, 129) and len(england.graphs) == 61
    # standardised per region over all 61 days, as PyTorch Geometric Temporal's loader does
    torch.testing.assert_close(england.values.mean(0), torch.zeros(129), atol=1e-5, rtol=0)
    assert england.graphs[0][0].shape == (2, 2158)


def test_the_generator_is_seeded_and_knows_its_noise_floor():
    a, b = generate_gvar(30, 500, seed=3), generate_gvar(30, 500, seed=3)
    assert torch.equal(a.values, b.values) and torch.equal(a.edge_index, b.edge_index)
    assert a.noise_mse == pytest.approx(0.01) and a.values.shape == (500, 30)
    assert not torch.equal(a.values, generate_gvar(30, 500, seed=4).values)
    with pytest.raises(InputError, match="at most"):
        load_signal("gvar:100000x100000")
