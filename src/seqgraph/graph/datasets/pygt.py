"""Epidemics and deliveries in PyTorch Geometric Temporal's JSON layout (Rozemberczki et al. 2021).

- ``chickenpox.json``: weekly chickenpox cases in the 20 Hungarian counties, 2005-2014: ``edges`` (pairs, self-loops
  included, unweighted), ``node_ids``, ``FX`` (521 weeks x 20 counties, already standardised per county).
- ``pedalme_london.json``: weekly deliveries of PedalMe's couriers in 15 London areas: ``edges``, ``weights``,
  ``X`` (35 weeks x 15 areas, already transformed upstream).
- ``england_covid.json``: daily COVID-19 cases in 129 English NUTS3 regions over 61 days (Panagopoulos et al. 2021),
  with a mobility graph per day: ``edge_mapping`` (``edge_index`` and ``edge_weight`` keyed by the day), ``y`` (61
  days x 129 regions, raw counts). PyTorch Geometric Temporal's loader standardises each region over all 61 days;
  :func:`load_pygt` does the same (its protocol), so its numbers are in those units.

The files are read from ``<data dir>/temporal/pygt/`` (the data directory's mirror of the library's repository;
its loaders fetch them from GitHub on every call).
"""

import json
import math
import os
from pathlib import Path

import numpy as np
import torch

from ...datadir import data_dir
from ...errors import InputError, require_regular_file
from ..temporal.data import TemporalSignal

FILES = {"chickenpox": "chickenpox.json", "pedalme": "pedalme_london.json", "england-covid": "england_covid.json"}


def _json(path: Path) -> dict:
    require_regular_file(path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path} is not a JSON file: {e}") from None
    if not isinstance(obj, dict):
        raise InputError(f"{path} does not hold a JSON object")
    return obj


def _refuse_constant(name: str):
    raise InputError(f"not a finite number: {name}")


def _array(obj, path: Path, key: str, dims: int, dtype=np.float64) -> np.ndarray:
    try:
        array = np.asarray(obj, dtype=dtype)
    except (TypeError, ValueError):
        raise InputError(f"{path}: '{key}' is not a regular array of numbers") from None
    if array.ndim != dims:
        raise InputError(f"{path}: '{key}' must have {dims} dimensions, got shape {array.shape}")
    return array


def _graph(path: Path, pairs, weights, num_nodes: int, key: str) -> tuple[torch.Tensor, torch.Tensor]:
    edges = _array(pairs, path, key, 2, np.int64)
    if edges.shape[1:] != (2,) or (edges.size and (edges.min() < 0 or edges.max() >= num_nodes)):
        raise InputError(f"{path}: '{key}' must be pairs of node ids in [0, {num_nodes})")
    weight = np.ones(len(edges)) if weights is None else _array(weights, path, key + " weights", 1)
    if weight.shape != (len(edges),) or not np.isfinite(weight).all():
        raise InputError(f"{path}: '{key}' needs one finite weight per edge")
    return torch.from_numpy(edges.T.copy()), torch.from_numpy(weight).float()


def read_pygt(path: Path, name: str) -> TemporalSignal:
    """One of the three files (by ``name``), checked key by key."""
    obj = _json(path)
    try:
        if name == "england-covid":
            counts = _array(obj["y"], path, "y", 2)
            mapping = obj["edge_mapping"]
            days = [str(t) for t in range(counts.shape[0])]
            graphs = [_graph(path, mapping["edge_index"][t], mapping["edge_weight"][t], counts.shape[1],
                             f"edge_mapping day {t}") for t in days]
            mean, std = counts.mean(0), counts.std(0)
            values = (counts - mean) / (std + 1e-10)  # PyTorch Geometric Temporal's loader: per region, every day
            edge_index, weight = graphs[0]
            return TemporalSignal(torch.from_numpy(values).float(), edge_index, weight, name, graphs=graphs)
        values = _array(obj["FX" if name == "chickenpox" else "X"], path, "FX/X", 2)
        edge_index, weight = _graph(path, obj["edges"], obj.get("weights"), values.shape[1], "edges")
    except KeyError as e:
        raise InputError(f"{path} lacks the key {e}") from None
    except (TypeError, AttributeError):
        raise InputError(f"{path} is not laid out as PyTorch Geometric Temporal's {FILES[name]}") from None
    if not np.isfinite(values).all() or math.isinf(float(np.abs(values).max(initial=0))):
        raise InputError(f"{path}: the series holds NaN or infinite values")
    return TemporalSignal(torch.from_numpy(values).float(), edge_index, weight, name)


def load_pygt(name: str, root: str | os.PathLike | None = None) -> TemporalSignal:
    """``chickenpox``, ``pedalme`` or ``england-covid`` from ``<data dir>/temporal/pygt/``."""
    return read_pygt(data_dir(root) / "temporal" / "pygt" / FILES[name], name)
