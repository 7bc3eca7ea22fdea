"""Forecasting datasets by name or path (:func:`load_signal`): the benchmarks of ``seqgraph graph forecast`` and a
user's own series."""

import os
import re
from pathlib import Path

from ...datadir import data_dir
from ...errors import InputError
from ..temporal.data import TemporalSignal
from .gvar import generate_gvar
from .pygt import FILES, load_pygt
from .traffic import DCRNN_DATASETS, load_los_loop, read_csv_folder, read_dcrnn

SIGNALS = ("los-loop", "metr-la", "pems-bay", "chickenpox", "pedalme", "england-covid", "gvar")
MAX_GENERATED = 2**31  # numbers in a generated series


def _graph_beside(h5: Path, root) -> Path:
    """The sensor-graph pickle of a speed file: the one ``.pkl`` beside it, else the data directory's graph of the
    benchmark the file is named after."""
    pickles = sorted(h5.parent.glob("*.pkl"))
    if len(pickles) == 1:
        return pickles[0]
    for h5_name, graph in DCRNN_DATASETS.values():
        if h5.name == h5_name:
            return data_dir(root) / "temporal" / graph
    raise InputError(f"{h5}: put its sensor graph (DCRNN's adj_mx.pkl layout) beside it, as the only .pkl file "
                     f"there (found {len(pickles)})")


def load_signal(spec: str, root: str | os.PathLike | None = None,
                missing_zeros: bool = False) -> tuple[TemporalSignal, str | None]:
    """The series named ``spec`` (one of :data:`SIGNALS`; ``gvar:NxT`` a generated one of ``N`` nodes and ``T``
    steps) or at the path ``spec`` (a folder of ``signal.csv`` and ``adjacency.csv``, or a METR-LA-layout ``.h5``
    file beside its graph pickle), and the benchmark whose protocol it takes (None for a user's own data).
    ``missing_zeros``: in a user's own data, a 0 is a missing reading."""
    name = spec.lower()
    if name == "los-loop":
        return load_los_loop(root), name
    if name in DCRNN_DATASETS:
        h5 = data_dir(root) / "temporal" / DCRNN_DATASETS[name][0]
        if not h5.exists():
            raise InputError(f"{h5} is missing: {name}'s speeds (DCRNN's {h5.name}) are not in the pinned data set; "
                             f"put the file there, or give its path as --dataset")
        return read_dcrnn(h5, _graph_beside(h5, root), name), name
    if name in FILES:
        return load_pygt(name, root), name
    match = re.fullmatch(r"gvar(?::(\d+)x(\d+))?", name)
    if match:
        nodes, steps = (int(match[1]), int(match[2])) if match[1] else (207, 34272)  # METR-LA's size by default
        if nodes * steps > MAX_GENERATED:
            raise InputError(f"{spec}: at most {MAX_GENERATED:,} values (nodes x steps)")
        return generate_gvar(nodes, steps), "gvar"
    path = Path(spec)
    if path.is_dir():
        return read_csv_folder(path, missing_zeros=missing_zeros), None
    if path.suffix in (".h5", ".hdf5") and path.exists():
        signal = read_dcrnn(path, _graph_beside(path, root), path.stem)
        known = next((n for n, (h5_name, _) in DCRNN_DATASETS.items() if path.name == h5_name), None)
        signal.missing_zeros = known is not None or missing_zeros
        return signal, known
    raise InputError(f"unknown dataset {spec!r}: choose {', '.join(SIGNALS)}, gvar:NODESxSTEPS, a folder holding "
                     "signal.csv and adjacency.csv, or a METR-LA-layout .h5 file")
