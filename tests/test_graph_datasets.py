"""Amazon-Photo (against PyG's reader), the OGB layout (files written here), R-MAT, and the memory-mapped store."""

import gzip
import os

import numpy as np
import pytest
import torch

from seqgraph.datadir import data_dir, source_url
from seqgraph.errors import InputError
from seqgraph.graph.data import Graph
from seqgraph.graph.datasets.amazon import load_amazon_photo, random_split
from seqgraph.graph.datasets.ogb import read_ogb_node
from seqgraph.graph.datasets.synthetic import generate_rmat
from seqgraph.graph.scale.storage import GraphStore, open_store, save_store

from .conftest import missing_mirror


@pytest.fixture(scope="module")
def photo_path():
    path = data_dir() / "npz" / "amazon_electronics_photo.npz"
    if not path.is_file():
        missing_mirror()
    return path


def test_amazon_photo_matches_pyg_and_has_shchurs_split(photo_path):
    from torch_geometric.io import read_npz

    graph = load_amazon_photo(photo_path.parent.parent, split_seed=4)
    reference = read_npz(str(photo_path), to_undirected=True)  # PyG's reader: symmetrised, self-loops removed
    assert graph.num_nodes == 7650 and graph.num_edges == 238_162 == reference.edge_index.size(1)
    def keys(edge_index):
        return (edge_index[0] * 7650 + edge_index[1]).sort().values

    assert torch.equal(keys(graph.edge_index), keys(reference.edge_index))
    assert torch.equal(graph.y, reference.y)
    rows = reference.x.sum(1, keepdim=True).clamp(min=1)
    torch.testing.assert_close(graph.x, reference.x / rows)
    counts = [torch.bincount(graph.y[m], minlength=8) for m in (graph.train_mask, graph.val_mask)]
    assert counts[0].tolist() == [20] * 8 and counts[1].tolist() == [30] * 8
    assert int(graph.test_mask.sum()) == 7650 - 8 * 50
    assert not bool((graph.train_mask & graph.val_mask).any() | (graph.train_mask & graph.test_mask).any())
    other = random_split(graph.y, 5)
    assert not torch.equal(other[0], graph.train_mask) and torch.equal(random_split(graph.y, 4)[0], graph.train_mask)
    assert source_url("npz/amazon_electronics_photo.npz").endswith("/data/npz/amazon_electronics_photo.npz")


def test_random_split_refuses_a_class_too_small():
    with pytest.raises(InputError, match="class 1 has 10 nodes"):
        random_split(torch.tensor([0] * 60 + [1] * 10), 0)


def write_gz(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as f:
        f.write("".join(f"{line}\n" for line in lines))


def test_ogb_layout_reads_files_written_here(tmp_path):
    x = np.round(np.random.default_rng(0).standard_normal((5, 3)), 4)
    write_gz(tmp_path / "raw" / "num-node-list.csv.gz", ["5"])
    write_gz(tmp_path / "raw" / "edge.csv.gz", ["0,1", "1,2", "3,1", "4,4"])
    write_gz(tmp_path / "raw" / "node-feat.csv.gz", [",".join(map(str, row)) for row in x])
    write_gz(tmp_path / "raw" / "node-label.csv.gz", ["0", "2", "1", "1", "0"])
    for part, ids in (("train", ["0", "3"]), ("valid", ["1"]), ("test", ["2", "4"])):
        write_gz(tmp_path / "split" / "time" / f"{part}.csv.gz", ids)
    graph = read_ogb_node(tmp_path)
    assert graph.num_nodes == 5
    assert set(map(tuple, graph.edge_index.t().tolist())) == {(0, 1), (1, 0), (1, 2), (2, 1), (3, 1), (1, 3)}
    torch.testing.assert_close(graph.x, torch.from_numpy(x).float())
    assert graph.y.tolist() == [0, 2, 1, 1, 0]
    assert graph.train_mask.nonzero().squeeze(1).tolist() == [0, 3] and graph.test_mask.sum() == 2
    directed = read_ogb_node(tmp_path, undirected=False)
    assert set(map(tuple, directed.edge_index.t().tolist())) == {(0, 1), (1, 2), (3, 1)}
    write_gz(tmp_path / "raw" / "edge.csv.gz", ["0,1", "1,7"])
    with pytest.raises(InputError, match=r"outside \[0, 5\)"):
        read_ogb_node(tmp_path)
    write_gz(tmp_path / "raw" / "edge.csv.gz", ["0,1,2"])
    with pytest.raises(InputError, match="3 columns per line, expected 2"):
        read_ogb_node(tmp_path)
    with pytest.raises(InputError, match="valid.csv.gz is missing"):
        (tmp_path / "split" / "time" / "valid.csv.gz").unlink()
        write_gz(tmp_path / "raw" / "edge.csv.gz", ["0,1"])
        read_ogb_node(tmp_path)


def test_rmat_generator_writes_a_valid_seeded_graph_with_planted_classes(tmp_path):
    generate_rmat(tmp_path / "a", 3000, 40_000, num_features=8, num_classes=4, homophily=0.8, seed=1)
    generate_rmat(tmp_path / "b", 3000, 40_000, num_features=8, num_classes=4, homophily=0.8, seed=1)
    store = open_store(tmp_path / "a")
    assert store.csr.num_edges == 40_000 and store.csr.indices.dtype == torch.int32
    assert store.x.shape == (3000, 8) and torch.bincount(store.y).tolist() == [750] * 4
    for name in ("indptr", "indices", "x", "y", "train_idx"):
        assert np.array_equal(np.load(tmp_path / "a" / f"{name}.npy"), np.load(tmp_path / "b" / f"{name}.npy"))
    src, dst = store.csr.edge_index()
    assert not bool((src == dst).any())
    pairs = torch.stack([src, dst]).t().tolist()
    assert sorted(pairs) == sorted([b, a] for a, b in pairs)  # every pair both ways
    assert abs(float((store.y[src] == store.y[dst]).float().mean()) - 0.8) < 0.02
    degree = store.csr.degree()
    assert int(degree.max()) > 20 * float(degree.float().mean())  # R-MAT's heavy tail
    assert store.train_idx.numel() == 30 and not set(store.train_idx.tolist()) & set(store.test_idx.tolist())
    generate_rmat(tmp_path / "c", 3000, 40_000, num_features=8, num_classes=4, seed=2)
    assert not np.array_equal(np.load(tmp_path / "a" / "indices.npy"), np.load(tmp_path / "c" / "indices.npy"))
    with pytest.raises(InputError, match="even number of edges"):
        generate_rmat(tmp_path / "d", 100, 7)


@pytest.fixture
def saved(tmp_path):
    edge_index = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]])
    masks = [torch.tensor(m) for m in ([1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1])]
    graph = Graph(edge_index, 4, torch.randn(4, 3), torch.tensor([0, 1, 0, 1]), *(m.bool() for m in masks))
    save_store(GraphStore.from_graph(graph), tmp_path)
    return tmp_path, graph


def test_store_round_trip_is_memory_mapped(saved):
    folder, graph = saved
    store = open_store(folder)
    assert torch.equal(store.x, graph.x) and torch.equal(store.y, graph.y)
    assert store.train_idx.tolist() == [0, 1] and store.test_idx.tolist() == [3]
    assert set(map(tuple, store.csr.edge_index().t().tolist())) == set(map(tuple, graph.edge_index.t().tolist()))
    assert isinstance(np.load(folder / "x.npy", mmap_mode="r"), np.memmap)


@pytest.mark.parametrize("name, array, message", [
    ("x", np.zeros((5, 3), np.float32), r"x.npy has shape \(5, 3\), expected \(4, any\)"),
    ("x", np.zeros((4, 3), np.float64), "x.npy has dtype float64, expected float32"),
    ("y", np.zeros(4, np.float32), "y.npy has dtype float32, expected int64"),
    ("indices", np.zeros((2, 2), np.int64), r"indices.npy has shape \(2, 2\), expected \(any,\)"),
    ("indices", np.array([0, 1, 9, 3]), r"indices.npy holds values outside \[0, 4\)"),
    ("indptr", np.array([0, 2, 1, 3, 4]), "decreases somewhere"),
    ("indptr", np.array([0, 1, 2, 3, 3]), "must run from 0 to the 4 entries"),
    ("train_idx", np.array([4]), r"train_idx.npy holds values outside \[0, 4\)"),
])
def test_store_refuses_files_of_the_wrong_shape_dtype_or_values(saved, name, array, message):
    folder, _ = saved
    np.save(folder / f"{name}.npy", array)
    with pytest.raises(InputError, match=message):
        open_store(folder)


def test_store_refuses_missing_and_pickled_files(saved):
    folder, _ = saved
    np.save(folder / "y.npy", np.array([{"a": 1}] * 4, dtype=object))
    with pytest.raises(InputError, match="not a plain .npy array"):
        open_store(folder)
    (folder / "y.npy").unlink()
    with pytest.raises(InputError, match="y.npy is missing"):
        open_store(folder)
    os.mkfifo(folder / "y.npy")  # opening a FIFO would wait for a writer
    with pytest.raises(InputError, match="y.npy is not a regular file"):
        open_store(folder)
