"""What every graph experiment command does around its training: dataset options, the device and dataset, the
output folder, a progress bar, and at the end results.json, a figure and the printed table (or JSON)."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ... import threads
from ...graph.data import Graph
from ...graph.datasets import load_dataset
from ...graph.node.train import check_training_fits
from ...outdir import write_json
from ..flags import Distinct, seed_value
from ..options import resolve_device
from ..output import prepare_out, print_json
from ..progress import Progress


def add_dataset_options(p, seeds: int = 10) -> None:
    p.add_argument("--dataset", default="cora",
                   help="cora, citeseer, pubmed (from the data directory) or a folder holding ind.<name>.* files "
                   "(default: cora)")
    p.add_argument("--seeds", type=seed_value, nargs="+", action=Distinct, default=list(range(seeds)),
                   help=f"seeds, one run each (default: {' '.join(map(str, range(seeds)))})")


@dataclass
class GraphRun:
    """One run of a graph command: where it computes, the graph it trains on and the folder it writes."""

    args: object  # the parsed command line (--device, --dataset, --data-dir, --out, --force, --json)
    device: torch.device
    graph: Graph
    name: str  # the dataset's name
    out: Path | None = None

    @classmethod
    def load(cls, args) -> "GraphRun":
        """Resolve the device and load the dataset: every input is checked before :meth:`prepare` writes."""
        device = resolve_device(args.device)
        graph, name = load_dataset(args.dataset, args.data_dir)
        return cls(args, device, graph, name)

    def prepare(self, command: str, config: dict, builds: Iterable[Callable[[int, int], nn.Module]] = ()) -> Path:
        """Claim ``--out`` for ``command`` with ``config`` (refused if it holds another experiment), once each model
        ``build(in_channels, num_classes)`` that the command will train has been found to fit in memory."""
        for build in builds:
            check_training_fits(build, self.graph)
        self.out = prepare_out(self.args, command, config)
        return self.out

    def threads(self, hidden: int):
        """The threads of this graph's work (:mod:`seqgraph.threads`): a layer's ``(N, F) @ (F, hidden)``."""
        features = 1 if self.graph.x is None else self.graph.x.shape[1]
        return threads.for_work(threads.graph_work(self.graph.num_nodes, features, hidden))

    @staticmethod
    def progress(total: int, desc: str) -> Progress:
        """A progress bar over epochs on stderr."""
        return Progress(total=total, desc=desc, unit="epoch")

    def finish(self, results: dict, figure: str, plot: Callable[[Path], None], table: str) -> int:
        return finish(self.args, self.out, results, figure, plot, table)


def finish(args, out: Path, results: dict, figure: str, plot: Callable[[Path], None], table: str) -> int:
    """Write ``out``/results.json and the figure ``figure``, then print ``table`` (or the results as JSON with
    ``--json``)."""
    write_json(out / "results.json", results)
    plot(out / figure)
    if args.json:
        print_json(results)
    else:
        print(table)
        print(f"wrote {out / 'results.json'}, {out / figure}")
    return 0
