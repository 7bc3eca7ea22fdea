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

Every line is checked: a missing file, a field that is not an ASCII decimal number (Python's ``int`` would take
"١" and "1_0", other readers do not), an integer beyond int64, a real beyond float32 (the features' precision), line
counts that disagree, an edge joining two graphs or an empty dataset raises :class:`~seqgraph.errors.InputError`
naming the file and the line. The sizes the files imply (the lines of a table, the one-hot columns the largest
label makes, the distinct degrees) are checked against the memory before the arrays are made
(:func:`~seqgraph.resources.check_allocation`).
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
from ...resources import check_allocation
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


# Numbers as other readers of TU files take them: ASCII decimal, no digit separators ("1_0") and no other scripts'
# digits ("١"), which Python's int and float would accept.
_INTEGER = re.compile(r"\s*[+-]?[0-9]+\s*", re.ASCII)
_REAL = re.compile(r"\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*", re.ASCII)
_REAL_WORD = re.compile(r"\s*[+-]?(nan|inf|infinity)\s*", re.ASCII | re.IGNORECASE)
FLOAT32_MAX = float(np.finfo(np.float32).max)
EDGE_BYTES = 160  # per line of NAME_A.txt: the edge parsed, coalesced and sorted into a GraphDataset (150 measured)


def read_table(path: Path, kind: type, then: int = 0) -> np.ndarray:
    """A comma-separated table ``(lines, columns)``: int64 for ``kind=int``, float32 for ``kind=float`` (the precision
    the features are used in, so 1e39 is refused rather than becoming inf); InputError names the file and the first
    bad line. The line count, known after one pass over the bytes, gives the memory of the table, plus the ``then``
    bytes per line that the caller will allocate from it, which are refused before anything is parsed."""
    require_regular_file(path)
    data = path.read_bytes().rstrip()
    if not data.isascii():  # the grammar below refuses any other character; say first whether the file is text
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"{path} is not text: byte {e.start} is not UTF-8") from None
    if not data:
        raise InputError(f"{path} is empty")
    lines, width = data.count(b"\n") + 1, data[:data.find(b"\n")].count(b",") + 1
    del data  # numpy reads the file again, in chunks
    # numpy's parser holds one 8-byte number per field and grows its array by copies; a float32 copy of reals
    check_allocation(f"{path}: {lines:,} lines of {width} numbers", (24 * width + then) * lines)
    try:
        table = np.loadtxt(path, dtype=np.int64 if kind is int else np.float64, delimiter=",", comments=None,
                           ndmin=2, encoding="ascii")  # skips empty lines: the count below catches them
    except ValueError:  # a bad field, a row of another width, a character outside ASCII
        table = None
    if table is not None and table.shape == (lines, width):
        if kind is int:
            return table
        with np.errstate(over="ignore"):
            table = table.astype(np.float32)
        if np.isfinite(table).all():
            return table
    raise _first_bad_line(path, width, kind)


def _first_bad_line(path: Path, width: int, kind: type) -> InputError:
    """The error of the first line that is not ``width`` numbers of ``kind``, read line by line."""
    grammar, name = (_INTEGER, "an integer") if kind is int else (_REAL, "a number")
    with open(path, encoding="utf-8", newline="") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            fields = line.split(",")
            if len(fields) != width:
                return InputError(f"{path} line {number}: expected {width} comma-separated fields, got {line!r}")
            for field in fields:
                if not grammar.fullmatch(field):
                    what = "a finite number" if kind is float and _REAL_WORD.fullmatch(field) else name  # nan, inf
                    return InputError(f"{path} line {number}: {field.strip()!r} is not {what}")
                value = kind(field)
                if kind is int and not -2**63 <= value < 2**63:
                    return InputError(f"{path} line {number}: {field.strip()} is outside the 64-bit integer range")
                if kind is float and not abs(value) <= FLOAT32_MAX:
                    return InputError(f"{path} line {number}: {field.strip()} is not a finite float32 number "
                                      f"(at most {FLOAT32_MAX:.4g} in magnitude)")
    return InputError(f"{path}: a line that is not {width} numbers")  # unreachable: numpy and the grammar agree


def one_hot_width(labels: np.ndarray) -> int:
    """Columns of :func:`one_hot_columns`: ``max - min + 1`` per label column, in Python's integers (no overflow at
    int64's limits), so that their memory is known before they are made."""
    return sum(int(column.max()) - int(column.min()) + 1 for column in labels.T)


def one_hot_columns(labels: np.ndarray) -> np.ndarray:
    """Each integer column one-hot (its minimum -> 0), the columns side by side: ``(N, one_hot_width)`` float32."""
    out = np.zeros((labels.shape[0], one_hot_width(labels)), dtype=np.float32)
    offset = 0
    for column in labels.T:
        column = column - column.min()
        out[np.arange(len(column)), offset + column] = 1
        offset += int(column.max()) + 1
    return out


def read_tu(folder: str | os.PathLike, name: str | None = None, node_attributes: bool = True) -> GraphDataset:
    """Read the raw files of TU dataset ``name`` (default: found in ``folder``); see the module docstring."""
    folder = Path(folder)
    name = name or tu_name(folder)
    files = {suffix: folder / f"{name}_{suffix}.txt" for suffix in REQUIRED + OPTIONAL}
    for path in files.values():
        if path.is_file():  # a FIFO is refused by read_table, not read for ever here
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

    edges = read_table(files["A"], int, then=EDGE_BYTES)
    if edges.shape[1] != 2:
        raise InputError(f"{files['A']} line 1: expected 'row, col', got {edges.shape[1]} fields")
    bad = np.flatnonzero((edges < 1).any(1) | (edges > num_nodes).any(1))
    if bad.size:
        raise InputError(f"{files['A']} line {bad[0] + 1}: node id {edges[bad[0]].tolist()} outside 1..{num_nodes} "
                         f"(the nodes of {files['graph_indicator'].name})")
    edges -= 1
    across = np.flatnonzero(indicator[edges[:, 0]] != indicator[edges[:, 1]])
    if across.size:
        row, col = edges[across[0]] + 1
        raise InputError(f"{files['A']} line {across[0] + 1}: edge {row}, {col} joins graph {indicator[row - 1]} "
                         f"and graph {indicator[col - 1]}")

    tables = {}
    for suffix, kind in (("node_labels", int), ("node_attributes", float)):
        if os.path.lexists(files[suffix]) and (kind is int or node_attributes):  # a broken link is refused
            tables[suffix] = read_table(files[suffix], kind)
            if tables[suffix].shape[0] != num_nodes:
                raise InputError(f"{files[suffix]} has {tables[suffix].shape[0]} lines, "
                                 f"{files['graph_indicator'].name} has {num_nodes} (one per node)")
    if "node_labels" in tables:  # the largest label, not the file's size, says how wide the features are
        labels = tables["node_labels"]
        width = one_hot_width(labels) + (tables["node_attributes"].shape[1] if "node_attributes" in tables else 0)
        # float32 features, twice: the one-hot columns, then the features they are concatenated into
        check_allocation(f"{files['node_labels']}: its labels, {labels.min()} to {labels.max()}, one-hot in "
                         f"{one_hot_width(labels):,} columns for {num_nodes:,} nodes,", 8 * num_nodes * width)
        tables["node_labels"] = one_hot_columns(labels)
    blocks = list(tables.values())
    described = [f"{suffix.replace('_', ' ')} ({'one-hot' if suffix == 'node_labels' else 'as given'})"
                 for suffix in tables]

    # One coalesce over the whole collection: edges never cross graphs, so this is per graph, and sorting by
    # (target, source) global ids keeps each graph's edges together and in graph order.
    edge_index = coalesce(remove_self_loops(torch.from_numpy(edges.T.copy())), num_nodes)
    del edges
    node_ptr = torch.from_numpy(np.concatenate([[0], np.cumsum(np.bincount(indicator - 1, minlength=num_graphs))]))
    graph_of_edge = torch.from_numpy(indicator - 1)[edge_index[1]]
    edge_ptr = torch.cat([node_ptr.new_zeros(1), torch.bincount(graph_of_edge, minlength=num_graphs).cumsum(0)])
    dataset = GraphDataset(
        x=torch.from_numpy(np.concatenate(blocks, axis=1) if len(blocks) > 1 else blocks[0]) if blocks
        else torch.zeros(num_nodes, 0),
        edge_index=edge_index - node_ptr[graph_of_edge], node_ptr=node_ptr, edge_ptr=edge_ptr,
        y=torch.from_numpy(y).long(), name=name, label_values=label_values.tolist(), features=", ".join(described))
    return dataset if blocks else degree_features(dataset, str(files["A"]))


def degree_features(dataset: GraphDataset, source: str = "the dataset") -> GraphDataset:
    """Node features for graphs without any: the degree, one-hot over the distinct degrees of the dataset (refused,
    naming ``source``, when they would not fit in memory)."""
    degrees = dataset.degrees()
    values, tag = torch.unique(degrees, return_inverse=True)
    check_allocation(f"{source}: its {values.numel():,} distinct degrees, one-hot for {degrees.numel():,} nodes,",
                     4 * degrees.numel() * values.numel())
    x = torch.zeros(degrees.numel(), values.numel()).index_put_((torch.arange(degrees.numel()), tag),
                                                                torch.tensor(1.0))
    return dataset.with_features(x, f"degree one-hot over the {values.numel()} distinct degrees (no node labels)")
