import collections
import os
import pickle
import shutil

import numpy as np
import pytest
import scipy.sparse
import torch
from torch_geometric.io import read_planetoid_data
from torch_geometric.transforms import NormalizeFeatures

from seqgraph import datadir
from seqgraph.errors import InputError
from seqgraph.graph.datasets.planetoid import SUFFIXES, load_planetoid, read_planetoid


@pytest.fixture
def cora_copy(shared_data, tmp_path):
    folder = tmp_path / "cora"
    shutil.copytree(shared_data / "planetoid" / "cora", folder, copy_function=shutil.copyfile)
    folder.chmod(0o755)  # the mirror is read-only
    return folder


def pyg_reference(folder, name):
    return NormalizeFeatures()(read_planetoid_data(str(folder), name))


def assert_same_as_pyg(graph, data):
    assert graph.num_nodes == data.num_nodes
    for name in ("x", "y", "edge_index", "train_mask", "val_mask", "test_mask"):
        assert torch.equal(getattr(graph, name), getattr(data, name)), name


def test_cora_equals_pyg_planetoid(cora_copy):
    graph = read_planetoid(cora_copy)
    assert_same_as_pyg(graph, pyg_reference(cora_copy, "cora"))
    assert (graph.num_nodes, graph.num_edges, graph.x.size(1), int(graph.y.max()) + 1) == (2708, 10556, 1433, 7)
    assert [int(m.sum()) for m in (graph.train_mask, graph.val_mask, graph.test_mask)] == [140, 500, 1000]
    assert torch.allclose(graph.x.sum(1), torch.ones(2708))  # row-normalised (no empty row on Cora)


def test_load_from_data_directory_equals_folder(shared_data, cora_copy):
    a, b = load_planetoid("cora", shared_data), read_planetoid(cora_copy, "cora")
    assert torch.equal(a.x, b.x) and torch.equal(a.edge_index, b.edge_index)


def write_planetoid(folder, name, seed=0, gaps=True):
    """A small Planetoid dataset (Python 3 pickles of the same classes). With ``gaps``, some test ids have no tx
    row, like Citeseer's isolated nodes."""
    rng = np.random.default_rng(seed)
    n_allx, n_train, features, classes = 600, 20, 30, 4
    # the test block starts right after allx, as in the real files
    later = rng.choice(np.arange(n_allx + 1, n_allx + 100), 79, replace=False) if gaps else np.arange(n_allx + 1, 700)
    test_index = rng.permutation(np.append(later, n_allx))
    n = int(test_index.max()) + 1

    def onehot(rows):
        return np.eye(classes, dtype=np.int64)[rng.integers(classes, size=rows)]

    def feats(rows):
        return scipy.sparse.csr_matrix((rng.random((rows, features)) < 0.2).astype(np.float32))

    allx, ally = feats(n_allx), onehot(n_allx)
    graph = collections.defaultdict(list)
    for i, j in rng.integers(n, size=(3 * n, 2)):
        graph[int(i)].append(int(j))
        graph[int(j)].append(int(i))
    graph[5] += [5, 6, 6]  # a self-loop and a duplicate, which the loader removes
    items = {"x": allx[:n_train], "y": ally[:n_train], "allx": allx, "ally": ally,
             "tx": feats(len(test_index)), "ty": onehot(len(test_index)), "graph": graph}
    folder.mkdir(parents=True, exist_ok=True)
    for suffix, obj in items.items():
        (folder / f"ind.{name}.{suffix}").write_bytes(pickle.dumps(obj, protocol=4))
    (folder / f"ind.{name}.test.index").write_text("\n".join(map(str, test_index)) + "\n")
    return test_index


def test_test_ids_with_gaps_are_handled_like_pyg_citeseer(tmp_path, monkeypatch):
    # PyG widens the test block for the name "citeseer" only, so the synthetic files carry that name: unpin it
    for relpath in [r for r in datadir.CHECKSUMS if r.startswith("planetoid/citeseer/")]:
        monkeypatch.delitem(datadir.CHECKSUMS, relpath)
    test_index = write_planetoid(tmp_path / "citeseer", "citeseer")
    graph = read_planetoid(tmp_path / "citeseer")
    assert_same_as_pyg(graph, pyg_reference(tmp_path / "citeseer", "citeseer"))
    missing = sorted(set(range(600, graph.num_nodes)) - set(test_index.tolist()))
    assert missing and not graph.x[missing].any() and not graph.test_mask[missing].any()
    # any name: the gap rule depends on the test ids, not on the name "citeseer"
    write_planetoid(tmp_path / "other", "mygraph")
    other = read_planetoid(tmp_path / "other")
    assert torch.equal(other.x, graph.x) and torch.equal(other.edge_index, graph.edge_index)


def test_contiguous_test_ids_equal_pyg(tmp_path):
    write_planetoid(tmp_path / "pubmed", "pubmed", seed=1, gaps=False)
    assert_same_as_pyg(read_planetoid(tmp_path / "pubmed"), pyg_reference(tmp_path / "pubmed", "pubmed"))


class Payload:
    """Unpickling this would create a folder: the restricted unpickler must refuse it."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.mkdir, (str(self.path),)


@pytest.mark.parametrize("suffix", ["graph", "x"])
def test_malicious_pickle_is_refused(tmp_path, suffix):
    write_planetoid(tmp_path / "evil", "evil")
    marker = tmp_path / "pwned"
    (tmp_path / "evil" / f"ind.evil.{suffix}").write_bytes(pickle.dumps(Payload(marker), protocol=2))
    with pytest.raises(InputError, match=r"refusing to load (posix|os)\.mkdir"):
        read_planetoid(tmp_path / "evil")
    assert not marker.exists()


@pytest.mark.parametrize("payload", [b"cbuiltins\neval\n(S'1+1'\ntR.", b"cnumpy\nload\n(S'x.npy'\ntR.",
                                     b"cscipy.sparse\nload_npz\n(S'x.npz'\ntR."])
def test_globals_outside_the_allow_list_are_refused(tmp_path, payload):
    write_planetoid(tmp_path / "evil", "evil")
    (tmp_path / "evil" / "ind.evil.ally").write_bytes(payload)
    with pytest.raises(InputError, match="refusing to load"):
        read_planetoid(tmp_path / "evil")


def test_bad_files(tmp_path, cora_copy):
    (cora_copy / "ind.cora.ty").unlink()
    with pytest.raises(InputError, match="lacks ind.cora.ty"):
        read_planetoid(cora_copy)
    write_planetoid(tmp_path / "bad", "bad")
    x = tmp_path / "bad" / "ind.bad.x"
    x.write_bytes(x.read_bytes()[:100])
    with pytest.raises(InputError, match="not a readable Planetoid pickle"):
        read_planetoid(tmp_path / "bad")
    with pytest.raises(InputError, match="exactly one Planetoid dataset"):
        read_planetoid(tmp_path)
    with pytest.raises(InputError, match="not a Planetoid dataset name"):
        read_planetoid(tmp_path / "bad", "../bad")


def test_known_file_with_wrong_checksum_is_refused(cora_copy):
    (cora_copy / "ind.cora.test.index").write_text("1708\n" * 1000)
    with pytest.raises(InputError, match="wrong sha256"):
        read_planetoid(cora_copy)


def test_every_suffix_is_read(cora_copy):
    assert set(SUFFIXES) == {p.name.removeprefix("ind.cora.") for p in cora_copy.iterdir()}
