"""Traffic speeds on sensor graphs: Los-loop (T-GCN), METR-LA and PEMS-BAY (DCRNN), and a user's own folder.

- Los-loop (Zhao et al. 2019): ``los_speed.csv``, a header row of the 207 sensor ids, then one row of speeds (mph) per
  5-minute step (2016 rows, 7 days, gaps already filled by the authors); ``los_adj.csv``, the ``207 x 207`` weighted
  adjacency without a header. A user's own data in a folder is the same layout under plain names: ``signal.csv``
  and ``adjacency.csv``.
- METR-LA and PEMS-BAY (Li et al. 2018): the speeds are a pandas HDF5 file (``metr-la.h5``, ``pems-bay.h5``: key
  ``df``, timestamps x sensor ids, 0 where a reading is missing), read here with h5py alone (pandas' "fixed" layout:
  ``axis0`` the columns, ``axis1`` the index, ``block0_values`` the array), and the sensor graph is DCRNN's pickle
  ``[sensor_ids, sensor_id_to_ind, adj_mx]``, read by an unpickler that allows numpy's array reconstruction only.
  The speed files are not in the data directory's pinned set (57 MB and 130 MB): put them there (``temporal/``)
  or give the ``.h5`` file's path (:func:`~seqgraph.graph.datasets.signals.load_signal`); the graph files are.

Every file is parsed, never evaluated; a ragged row, a value that is not a number, NaN or infinite speeds, an
adjacency that is not square or does not match the sensors, a pickle with another global, an HDF5 file without
``df`` or with timestamps that do not increase: one line naming the file (:class:`~seqgraph.errors.InputError`).
"""

import io
import os
from pathlib import Path

import numpy as np
import torch

from ...datadir import data_dir
from ...errors import InputError, require_regular_file
from ..temporal.data import TemporalSignal
from .planetoid import NUMPY_ARRAYS, RefusedGlobal, RestrictedUnpickler

DCRNN_DATASETS = {"metr-la": ("metr-la.h5", "metr-la-graph/adj_mx.pkl"),
                  "pems-bay": ("pems-bay.h5", "pems-bay-graph/adj_mx_bay.pkl")}
MAX_BYTES = 4 << 30  # of a CSV read into memory at once


def read_table(path: Path, header: bool) -> tuple[list[str] | None, np.ndarray]:
    """A comma-separated table of numbers ``(rows, columns)`` and its header row; InputError names the bad line."""
    require_regular_file(path)
    if path.stat().st_size > MAX_BYTES:
        raise InputError(f"{path} is larger than {MAX_BYTES >> 30} GiB: split it or use the HDF5 layout")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as e:
        raise InputError(f"{path} is not UTF-8 text: byte {e.start} is not UTF-8") from None
    names = [c.strip() for c in lines.pop(0).split(",")] if header and lines else None
    rows = []
    for number, line in enumerate(lines, start=2 if header else 1):
        if not line.strip():
            continue
        try:
            rows.append([float(v) for v in line.split(",")])
        except ValueError:
            raise InputError(f"{path}, line {number}: not a comma-separated row of numbers") from None
        if len(rows[-1]) != len(rows[0]) or (names is not None and len(rows[-1]) != len(names)):
            raise InputError(f"{path}, line {number}: {len(rows[-1])} values, but the table has "
                             f"{len(names) if names is not None else len(rows[0])} columns")
    if not rows:
        raise InputError(f"{path} holds no rows of numbers")
    return names, np.asarray(rows, dtype=np.float64)


def _edges(adjacency: np.ndarray, num_nodes: int, path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The non-zero entries of a square weighted adjacency as edges ``i -> j`` and weights."""
    if adjacency.ndim != 2 or adjacency.shape[0] != adjacency.shape[1]:
        raise InputError(f"{path}: the adjacency must be square, got {adjacency.shape[0]} x "
                         f"{adjacency.shape[1] if adjacency.ndim == 2 else '?'}")
    if adjacency.shape[0] != num_nodes:
        raise InputError(f"{path}: the adjacency has {adjacency.shape[0]} rows for {num_nodes} sensors")
    if not np.isfinite(adjacency).all() or (adjacency < 0).any():
        raise InputError(f"{path}: the adjacency must hold finite, non-negative weights")
    i, j = np.nonzero(adjacency)
    return torch.from_numpy(np.stack([i, j])).long(), torch.from_numpy(adjacency[i, j]).float()


def _check_series(values: np.ndarray, path: Path) -> torch.Tensor:
    if not np.isfinite(values).all():
        row = int(np.argwhere(~np.isfinite(values))[0, 0])
        raise InputError(f"{path}: step {row} holds NaN or infinite values")
    if np.abs(values).max(initial=0) > np.finfo(np.float32).max:
        raise InputError(f"{path}: values beyond float32's range")
    return torch.from_numpy(values.astype(np.float32))


def read_csv_folder(folder: Path, signal_name: str = "signal.csv", adjacency_name: str = "adjacency.csv",
                    name: str | None = None, missing_zeros: bool = False) -> TemporalSignal:
    """A series CSV (header of node ids, a row per step) and its ``N x N`` adjacency CSV (no header)."""
    signal_path, adjacency_path = folder / signal_name, folder / adjacency_name
    ids, values = read_table(signal_path, header=True)
    _, adjacency = read_table(adjacency_path, header=False)
    series = _check_series(values, signal_path)
    edge_index, weight = _edges(adjacency, series.size(1), adjacency_path)
    return TemporalSignal(series, edge_index, weight, name or folder.name, missing_zeros=missing_zeros,
                          step_minutes=5.0 if signal_name == "los_speed.csv" else None)


def load_los_loop(root: str | os.PathLike | None = None) -> TemporalSignal:
    """Los-loop from ``<data dir>/temporal/los-loop/`` (T-GCN's speeds and adjacency)."""
    folder = data_dir(root) / "temporal" / "los-loop"
    return read_csv_folder(folder, "los_speed.csv", "los_adj.csv", name="los-loop")


def read_sensor_graph(path: Path) -> tuple[list[str], np.ndarray]:
    """DCRNN's ``adj_mx.pkl``: the sensor ids and the ``N x N`` weights, through the restricted unpickler."""
    require_regular_file(path)
    try:
        with open(path, "rb") as f:
            loaded = RestrictedUnpickler(io.BytesIO(f.read()), allowed=NUMPY_ARRAYS, what="DCRNN's sensor graphs",
                                         encoding="latin1").load()
    except RefusedGlobal as e:
        raise InputError(f"{path}: {e}") from None
    except Exception as e:  # malformed data fails in many ways; none may escape as a traceback
        raise InputError(f"{path} is not a readable sensor-graph pickle: {type(e).__name__}: {e}") from None
    if not (isinstance(loaded, (list, tuple)) and len(loaded) == 3 and isinstance(loaded[0], list)
            and isinstance(loaded[2], np.ndarray)):
        raise InputError(f"{path} is not DCRNN's [sensor_ids, sensor_id_to_ind, adj_mx]")
    return [str(s) for s in loaded[0]], loaded[2].astype(np.float64)


_TIME_UNITS = {"datetime64": 1e-9, "datetime64[ns]": 1e-9, "datetime64[us]": 1e-6, "datetime64[ms]": 1e-3,
               "datetime64[s]": 1.0}


def read_speed_h5(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """pandas' HDF5 layout, key ``df``: (sensor ids, timestamps in seconds ``(T,)``, speeds ``(T, N)``)."""
    import h5py  # a dependency of this loader alone

    require_regular_file(path)
    try:
        with h5py.File(path, "r") as f:
            if "df" not in f or not isinstance(f["df"], h5py.Group):
                raise InputError(f"{path} has no key 'df' (pandas' to_hdf(key='df') layout)")
            group = f["df"]
            if any(name not in group for name in ("axis0", "axis1", "block0_values")) or \
                    int(group.attrs.get("nblocks", 1)) != 1:
                raise InputError(f"{path}: 'df' is not one numeric table in pandas' fixed layout")
            columns, index, values = group["axis0"][:], group["axis1"], group["block0_values"][:]
            kind = index.attrs.get("kind", b"")
            kind = kind.decode() if isinstance(kind, bytes) else str(kind)
            if kind not in _TIME_UNITS:
                raise InputError(f"{path}: the index of 'df' holds {kind or 'no'} timestamps, not datetimes")
            seconds = index[:].astype(np.float64) * _TIME_UNITS[kind]
    except OSError as e:
        raise InputError(f"{path} is not a readable HDF5 file: {e}") from None
    if values.ndim != 2 or values.shape != (seconds.size, columns.size) or values.dtype.kind not in "fiu":
        raise InputError(f"{path}: 'df' is not a numeric table of {seconds.size} timestamps x {columns.size} sensors")
    if seconds.size > 1 and not (np.diff(seconds) > 0).all():
        raise InputError(f"{path}: the timestamps do not increase (step {int(np.argmin(np.diff(seconds) > 0)) + 1})")
    ids = [c.decode() if isinstance(c, bytes) else str(c) for c in columns.tolist()]
    return ids, seconds, values.astype(np.float64)


def read_dcrnn(h5_path: Path, graph_path: Path, name: str) -> TemporalSignal:
    """Speeds from ``h5_path`` on the sensor graph of ``graph_path``; the time of day from the timestamps."""
    ids, seconds, values = read_speed_h5(h5_path)
    sensors, adjacency = read_sensor_graph(graph_path)
    if sorted(ids) != sorted(sensors):
        raise InputError(f"{h5_path}: its sensors are not those of {graph_path} ({len(ids)} against {len(sensors)})")
    order = [ids.index(s) for s in sensors]  # the graph's order
    series = _check_series(values[:, order], h5_path)
    edge_index, weight = _edges(adjacency, len(sensors), graph_path)
    time_of_day = torch.from_numpy((seconds % 86400) / 86400).float()  # DCRNN's add_time_in_day
    return TemporalSignal(series, edge_index, weight, name, time_of_day=time_of_day, missing_zeros=True,
                          step_minutes=5.0)
