"""The TUDataset graph-classification benchmarks, read from their raw text files.

Morris et al., "TUDataset: A collection of benchmark datasets for learning with graphs" (ICML 2020 GRL+
workshop), https://arxiv.org/abs/2007.08663. A dataset ``NAME`` is a folder of plain-text files:

- ``NAME_A.txt``: one directed edge ``row, col`` per line, 1-based node ids over the whole collection;
- ``NAME_graph_indicator.txt``: line ``i`` is node ``i``'s graph (1-based, graphs in order);
- ``NAME_graph_labels.txt``: one class label per graph, of any integer values (-1/1, 1/2, 1..6);
- optional ``NAME_node_labels.txt`` (one or more integer columns) and ``NAME_node_attributes.txt``
  (comma-separated real numbers), one line per node. Edge labels and attributes are not read: none of
  the models here uses them.

What :func:`read_tu` makes of them:

- graph labels: the sorted distinct values mapped to classes ``0 .. C-1`` (``label_values[c]`` is the original);
- node features: each node-label column one-hot, whatever its base (the column's minimum becomes 0, the
  width is max - min + 1, as in PyG's ``read_tu_data``), then the node attributes appended;
- no node labels or attributes (IMDB-BINARY): the node's degree, one-hot over the distinct degrees found in
  the dataset, as GIN's code does (Xu et al. 2019, ``util.py``, ``degree_as_tag``);
- edges: self-loops dropped and duplicates merged (IMDB-BINARY lists every edge twice), as PyG's
  ``read_tu_data``; the files list both directions of every undirected edge and those are kept as they are.

Every line is checked: a missing file, a non-integer field, line counts that disagree, an edge joining two
graphs or an empty dataset raises :class:`~seqgraph.errors.InputError` naming the file and the line.
"""

import os
import re
import zipfile
from pathlib import Path

import numpy as np
import torch

from ...atomic import replacing
from ...datadir import data_dir, fetch, verify
from ...errors import InputError, require_regular_file
from ..data import coalesce, remove_self_loops
from ..level.batch import GraphDataset

# the mirrored datasets, by the name the command line uses
NAMES = {"mutag": "MUTAG", "proteins": "PROTEINS", "enzymes": "ENZYMES", "nci1": "NCI1", "imdb-binary": "IMDB-BINARY"}
REQUIRED = ("A", "graph_indicator", "graph_labels")
OPTIONAL = ("node_labels", "node_attributes")


def tu_name(folder: str | os.PathLike) -> str:
    """The ``NAME`` of the ``NAME_graph_indicator.txt`` in ``folder``."""
    found = sorted(Path(folder).glob("*_graph_indicator.txt"))
    if len(found) != 1:
        raise InputError(f"{folder} must hold exactly one <NAME>_graph_indicator.txt, found {len(found)}")
    return found[0].name.removesuffix("_graph_indicator.txt")


def load_tu(spec: str, root: str | os.PathLike | None = None, url: str | None = None,
            node_attributes: bool = True) -> GraphDataset:
    """A TU dataset: a folder of raw files, or a name (``mutag`` or ``MUTAG``; any other TUDataset name as it is
    spelled there) looked up in ``<data dir>/tu/NAME/`` and downloaded there if it is missing (``url`` overrides
    the source of the zip, for tests). ``node_attributes=False`` leaves the node attributes out of ``x``."""
    if Path(spec).is_dir():
        return read_tu(spec, node_attributes=node_attributes)
    name = NAMES.get(spec.lower(), spec)
    if not re.fullmatch(r"[A-Za-z0-9_.()-]+", name):
        raise InputError(f"{spec!r} is neither a folder nor a TUDataset name")
    folder = data_dir(root) / "tu" / name
    if not all((folder / f"{name}_{suffix}.txt").exists() for suffix in REQUIRED):
        download_tu(name, root, url)
    return read_tu(folder, name, node_attributes)


def download_tu(name: str, root: str | os.PathLike | None = None, url: str | None = None) -> Path:
    """Fetch ``NAME.zip`` from the TUDataset collection and extract its text files into ``<data dir>/tu/NAME/``.

    Each member with a pinned checksum (``seqgraph.datadir.CHECKSUMS``) is verified before it is moved into
    place; only ``NAME/NAME_*.txt`` and ``README.txt`` are extracted, by their base name (no path from the zip
    is trusted). The zip is deleted afterwards.
    """
    archive = fetch(f"tu/{name}.zip", root, url, checked_inside=True)
    folder = archive.parent / name
    folder.mkdir(exist_ok=True)
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.namelist()
                       if re.fullmatch(rf"({re.escape(name)}/)?({re.escape(name)}_\w+\.txt|README\.txt)", m)]
            if not any(m.endswith("_graph_indicator.txt") for m in members):
                raise InputError(f"{archive} holds no {name}_graph_indicator.txt")
            for member in members:
                base = member.rsplit("/", 1)[-1]
                with replacing(folder / base) as tmp:  # the member is in place only once its checksum matched
                    tmp.write_bytes(zf.read(member))
                    verify(tmp, f"tu/{name}/{base}")
    except zipfile.BadZipFile as e:
        raise InputError(f"{archive} is not a zip file: {e}") from e
    finally:
        archive.unlink(missing_ok=True)
    return folder


def read_table(path: Path, kind: type) -> np.ndarray:
    """A comma-separated table of ``kind`` (int or float) ``(lines, columns)``; InputError names the bad line."""
    require_regular_file(path)
    try:
        lines = path.read_text(encoding="utf-8").rstrip().splitlines()
    except UnicodeDecodeError as e:
        raise InputError(f"{path} is not text: byte {e.start} is not UTF-8") from None
    if not lines:
        raise InputError(f"{path} is empty")
    width = lines[0].count(",") + 1
    commas = np.fromiter((line.count(",") for line in lines), np.int64, len(lines))
    if bool((commas == width - 1).all()):
        try:  # fast path: one conversion of all fields
            table = np.array(" ".join(lines).replace(",", " ").split(), dtype=np.int64 if kind is int else np.float64)
            if table.size == len(lines) * width and (kind is int or bool(np.isfinite(table).all())):
                return table.reshape(len(lines), width)
        except ValueError:
            pass
    for number, line in enumerate(lines, 1):  # slow path: find the first bad line
        fields = line.split(",")
        if len(fields) != width:
            raise InputError(f"{path} line {number}: expected {width} comma-separated fields, got {line!r}")
        for field in fields:
            try:
                value = kind(field)
            except ValueError:
                raise InputError(f"{path} line {number}: {field.strip()!r} is not "
                                 f"{'an integer' if kind is int else 'a number'}") from None
            if kind is float and not np.isfinite(value):
                raise InputError(f"{path} line {number}: {field.strip()!r} is not a finite number")
    raise InputError(f"{path}: fields that are not numbers")  # unreachable unless a field splits on whitespace


def one_hot_columns(labels: np.ndarray) -> np.ndarray:
    """Each integer column one-hot (its minimum -> 0), the columns side by side."""
    blocks = []
    for column in labels.T:
        column = column - column.min()
        blocks.append(np.eye(int(column.max()) + 1, dtype=np.float32)[column])
    return np.concatenate(blocks, axis=1)


def read_tu(folder: str | os.PathLike, name: str | None = None, node_attributes: bool = True) -> GraphDataset:
    """Read the raw files of TU dataset ``name`` (default: found in ``folder``); see the module docstring."""
    folder = Path(folder)
    name = name or tu_name(folder)
    files = {suffix: folder / f"{name}_{suffix}.txt" for suffix in REQUIRED + OPTIONAL}
    for path in files.values():
        if path.exists():
            verify(path, f"tu/{name}/{path.name}")  # mirrored datasets: the pinned bytes only

    indicator = read_table(files["graph_indicator"], int)[:, 0]  # (N,) 1-based graph ids
    steps = np.diff(indicator)
    if indicator[0] != 1 or bool(((steps != 0) & (steps != 1)).any()):
        line = 1 if indicator[0] != 1 else int(np.flatnonzero((steps != 0) & (steps != 1))[0]) + 2
        raise InputError(f"{files['graph_indicator']} line {line}: graph ids must start at 1 and increase by 0 or 1 "
                         f"from line to line, got {indicator[line - 1]}")
    num_nodes, num_graphs = indicator.size, int(indicator[-1])

    graph_labels = read_table(files["graph_labels"], int)
    if graph_labels.shape != (num_graphs, 1):
        raise InputError(f"{files['graph_labels']} has {graph_labels.shape[0]} lines of {graph_labels.shape[1]} "
                         f"field(s); {files['graph_indicator'].name} names {num_graphs} graphs, one label each")
    label_values, y = np.unique(graph_labels[:, 0], return_inverse=True)

    edges = read_table(files["A"], int)
    if edges.shape[1] != 2:
        raise InputError(f"{files['A']} line 1: expected 'row, col', got {edges.shape[1]} fields")
    bad = np.flatnonzero((edges < 1).any(1) | (edges > num_nodes).any(1))
    if bad.size:
        raise InputError(f"{files['A']} line {bad[0] + 1}: node id {edges[bad[0]].tolist()} outside 1..{num_nodes} "
                         f"(the nodes of {files['graph_indicator'].name})")
    edges = edges - 1
    across = np.flatnonzero(indicator[edges[:, 0]] != indicator[edges[:, 1]])
    if across.size:
        row, col = edges[across[0]] + 1
        raise InputError(f"{files['A']} line {across[0] + 1}: edge {row}, {col} joins graph {indicator[row - 1]} "
                         f"and graph {indicator[col - 1]}")

    blocks, described = [], []
    for suffix, kind in (("node_labels", int), ("node_attributes", float)):
        if files[suffix].exists() and (kind is int or node_attributes):
            table = read_table(files[suffix], kind)
            if table.shape[0] != num_nodes:
                raise InputError(f"{files[suffix]} has {table.shape[0]} lines, "
                                 f"{files['graph_indicator'].name} has {num_nodes} (one per node)")
            blocks.append(one_hot_columns(table) if kind is int else table.astype(np.float32))
            described.append(f"{suffix.replace('_', ' ')} ({'one-hot' if kind is int else 'as given'})")

    # One coalesce over the whole collection: edges never cross graphs, so this is per graph, and sorting by
    # (target, source) global ids keeps each graph's edges together and in graph order.
    edge_index = coalesce(remove_self_loops(torch.from_numpy(edges.T.copy())), num_nodes)
    node_ptr = torch.from_numpy(np.concatenate([[0], np.cumsum(np.bincount(indicator - 1, minlength=num_graphs))]))
    graph_of_edge = torch.from_numpy(indicator - 1)[edge_index[1]]
    edge_ptr = torch.cat([node_ptr.new_zeros(1), torch.bincount(graph_of_edge, minlength=num_graphs).cumsum(0)])
    dataset = GraphDataset(
        x=torch.from_numpy(np.concatenate(blocks, axis=1)) if blocks else torch.zeros(num_nodes, 0),
        edge_index=edge_index - node_ptr[graph_of_edge], node_ptr=node_ptr, edge_ptr=edge_ptr,
        y=torch.from_numpy(y).long(), name=name, label_values=label_values.tolist(), features=", ".join(described))
    return dataset if blocks else degree_features(dataset)


def degree_features(dataset: GraphDataset) -> GraphDataset:
    """Node features for graphs without any: the degree, one-hot over the distinct degrees of the dataset."""
    degrees = dataset.degrees()
    values, tag = torch.unique(degrees, return_inverse=True)
    return dataset.with_features(torch.eye(values.numel())[tag],
                                 f"degree one-hot over the {values.numel()} distinct degrees (no node labels)")
