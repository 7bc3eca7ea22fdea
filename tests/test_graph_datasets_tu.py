import os
import shutil
import zipfile

import pytest
import torch

from seqgraph import datadir
from seqgraph.errors import InputError
from seqgraph.graph.datasets.tu import NAMES, load_tu, read_tu

from .conftest import missing_mirror


@pytest.fixture(scope="session")
def tu_root():
    """The data directory holding the mirrored TU datasets, or skip."""
    root = datadir.data_dir()
    if not all((root / "tu" / name).is_dir() for name in NAMES.values()):
        missing_mirror()
    return root


# The data README's statistics: graphs, average nodes, average undirected edges, class sizes (by mapped class),
# feature width (node-label values + attributes; IMDB-BINARY: distinct degrees).
PUBLISHED = {
    "mutag": (188, 17.93, 19.79, [63, 125], 7),
    "proteins": (1113, 39.06, 72.82, [663, 450], 3 + 1),
    "enzymes": (600, 32.63, 62.14, [100] * 6, 3 + 18),
    "nci1": (4110, 29.87, 32.30, [2053, 2057], 37),
    "imdb-binary": (1000, 19.77, 96.53, [500, 500], None),
}


@pytest.mark.parametrize("name", PUBLISHED)
def test_tu_counts_match_published_statistics(tu_root, name):
    graphs, nodes, edges, classes, width = PUBLISHED[name]
    dataset = load_tu(name, tu_root)
    assert len(dataset) == graphs
    assert round(dataset.num_nodes.double().mean().item(), 2) == nodes
    assert round(dataset.num_edges.double().mean().item() / 2, 2) == edges  # both directions stored
    assert torch.bincount(dataset.y).tolist() == classes
    if width is not None:
        assert dataset.num_features == width
    # every edge's reverse is there: the graphs are undirected, as published
    g = dataset.batch(torch.arange(len(dataset))).graph
    key = g.edge_index[0] * g.num_nodes + g.edge_index[1]
    assert torch.equal(key.sort().values, (g.edge_index[1] * g.num_nodes + g.edge_index[0]).sort().values)


def _pyg_dataset(tu_root, tmp_path, name):
    """PyG's TUDataset over a copy of the mirrored raw files in its root/NAME/raw/ layout (no download)."""
    from torch_geometric.datasets import TUDataset

    raw = tmp_path / name / "raw"
    shutil.copytree(tu_root / "tu" / name, raw)
    return TUDataset(str(tmp_path), name, use_node_attr=True)


def _edge_set(edge_index):
    return set(map(tuple, edge_index.t().tolist()))


@pytest.mark.parametrize("name", ["mutag", "proteins", "enzymes", "nci1", "imdb-binary"])
def test_tu_matches_pyg_tudataset(tu_root, tmp_path, name):
    ours = load_tu(name, tu_root)
    theirs = _pyg_dataset(tu_root, tmp_path, NAMES[name])
    assert len(ours) == len(theirs)
    assert torch.equal(ours.y, theirs.y)
    if theirs.num_node_features:  # IMDB-BINARY has no node features in PyG (ours are degrees)
        x, attrs = theirs.x, theirs.num_node_attributes  # PyG puts the attributes first, the one-hot labels after
        x = torch.cat([x[:, attrs:], x[:, :attrs]], dim=1)
        assert torch.allclose(ours.x, x)
    for i in range(0, len(ours), 7):
        assert _edge_set(ours.graph(i).edge_index) == _edge_set(theirs[i].edge_index), i


def write_tu(folder, name="TOY", **files):
    """A tiny TU dataset: each keyword is a file suffix and its lines."""
    folder.mkdir(parents=True, exist_ok=True)
    for suffix, lines in files.items():
        (folder / f"{name}_{suffix}.txt").write_text("".join(f"{line}\n" for line in lines))
    return folder


TOY = dict(A=["1, 2", "2, 1", "2, 3", "3, 2", "3, 3", "1, 2", "4, 5", "5, 4"],  # a self-loop and a duplicate
           graph_indicator=["1", "1", "1", "2", "2"], graph_labels=["1", "-1"], node_labels=["1", "3", "1", "2", "1"])


def test_tu_labels_mapped_one_hot_and_edges_coalesced(tmp_path):
    dataset = read_tu(write_tu(tmp_path, **TOY))
    assert dataset.label_values == [-1, 1] and dataset.y.tolist() == [1, 0]
    # 1-based node labels 1..3 -> one-hot columns 0..2
    assert dataset.x.tolist() == [[1, 0, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0], [1, 0, 0]]
    assert _edge_set(dataset.graph(0).edge_index) == {(0, 1), (1, 0), (1, 2), (2, 1)}  # loop dropped, duplicate merged
    assert _edge_set(dataset.graph(1).edge_index) == {(0, 1), (1, 0)}  # local ids


def test_tu_attributes_appended_and_degrees_without_labels(tmp_path):
    files = dict(TOY, node_attributes=["0.5, 1", "2, 3", "-1, 0", "4, 4", "2.5e-1, 2"])
    dataset = read_tu(write_tu(tmp_path / "a", **files))
    assert dataset.x[:, 3:].tolist() == [[0.5, 1], [2, 3], [-1, 0], [4, 4], [0.25, 2]]
    assert read_tu(tmp_path / "a", node_attributes=False).num_features == 3
    plain = {k: v for k, v in TOY.items() if k != "node_labels"}
    dataset = read_tu(write_tu(tmp_path / "b", **plain))
    # degrees 1, 2, 1 | 1, 1: one-hot over the distinct degrees {1, 2}
    assert dataset.x.tolist() == [[1, 0], [0, 1], [1, 0], [1, 0], [1, 0]]


@pytest.mark.parametrize("change, message", [
    (dict(graph_labels=None), r"TOY_graph_labels.txt is missing"),
    (dict(graph_labels=["1"]), r"TOY_graph_labels.txt has 1 lines"),
    (dict(node_labels=["1", "2"]), r"TOY_node_labels.txt has 2 lines"),
    (dict(A=["1, 2", "3, 4"]), r"TOY_A.txt line 2: edge 3, 4 joins graph 1 and graph 2"),
    (dict(A=["1, 2", "2, x"]), r"TOY_A.txt line 2: 'x' is not an integer"),
    (dict(A=["1, 2", "2, 1, 3"]), r"TOY_A.txt line 2: expected 2 comma-separated fields"),
    (dict(A=["1, 9"]), r"TOY_A.txt line 1: node id \[1, 9\] outside 1..5"),
    (dict(graph_indicator=["1", "1", "2", "1", "2"]), r"TOY_graph_indicator.txt line 4"),
    (dict(graph_indicator=[]), r"TOY_graph_indicator.txt is empty"),
    (dict(node_attributes=["1", "2", "nan", "4", "5"]), r"TOY_node_attributes.txt line 3: 'nan' is not a finite"),
])
def test_tu_bad_input_names_file_and_line(tmp_path, change, message):
    files = {k: v for k, v in {**TOY, **change}.items() if v is not None}
    with pytest.raises(InputError, match=message):
        read_tu(write_tu(tmp_path, **files), "TOY")


def test_tu_files_that_are_not_text_or_not_regular_are_refused(tmp_path):
    folder = write_tu(tmp_path, **TOY)
    (folder / "TOY_A.txt").write_bytes(b"1, 2\n\xe9\xe9\n")
    with pytest.raises(InputError, match=r"TOY_A.txt is not text: byte 5 is not UTF-8"):
        read_tu(folder, "TOY")
    (folder / "TOY_A.txt").unlink()
    os.mkfifo(folder / "TOY_A.txt")  # read, it would block for ever
    with pytest.raises(InputError, match=r"TOY_A.txt is not a regular file"):
        read_tu(folder, "TOY")


def test_tu_download_from_file_mirror_verifies_members(tu_root, tmp_path):
    assert datadir.source_url("tu/MUTAG.zip") == "https://www.chrsmrrs.com/graphkerneldatasets/MUTAG.zip"
    archive = tmp_path / "MUTAG.zip"
    with zipfile.ZipFile(archive, "w") as zf:  # the collection's layout: MUTAG/MUTAG_*.txt
        for path in (tu_root / "tu" / "MUTAG").iterdir():
            zf.write(path, f"MUTAG/{path.name}")
    dataset = load_tu("mutag", tmp_path / "data", url=archive.as_uri())
    assert torch.equal(dataset.x, load_tu("mutag", tu_root).x)
    assert not (tmp_path / "data" / "tu" / "MUTAG.zip").exists()

    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(tampered, "w") as zf:
        for path in (tu_root / "tu" / "MUTAG").iterdir():
            body = path.read_bytes()
            zf.writestr(f"MUTAG/{path.name}", body.replace(b"-1", b"1") if "graph_labels" in path.name else body)
    with pytest.raises(InputError, match="wrong sha256"):
        load_tu("mutag", tmp_path / "other", url=tampered.as_uri())
    assert not (tmp_path / "other" / "tu" / "MUTAG" / "MUTAG_graph_labels.txt").exists()


def test_tu_download_of_a_damaged_archive_leaves_no_temporary_file(tu_root, tmp_path):
    # a member whose compressed bytes are damaged fails while it is read (a CRC error), after its temporary file
    # was made: the file must go too, not only on a wrong checksum
    archive = tmp_path / "MUTAG.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted((tu_root / "tu" / "MUTAG").iterdir()):
            zf.write(path, f"MUTAG/{path.name}")
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("MUTAG/MUTAG_A.txt")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)  # the member's data
    data[start + info.compress_size // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(InputError, match="not a zip file"):
        load_tu("mutag", tmp_path / "data", url=archive.as_uri())
    folder = tmp_path / "data" / "tu" / "MUTAG"
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".") or p.name.startswith("tmp")]
