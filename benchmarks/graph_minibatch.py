"""Mini-batch (sampled blocks, exact layer-wise evaluation) vs full-batch training: test accuracy on Cora and
Amazon-Photo for GCN and GraphSAGE-mean, over seeds.

Both modes train the same model (seqgraph.graph.node.models.LayerStack) with the same hyperparameters, epochs and
seed; full-batch is one Adam step per epoch on every training node (seqgraph.graph.node.train.fit_model), mini-batch
one step per batch of --batch-size seed nodes with fan-outs --fanouts. The headline of a run is the test accuracy
at the best validation epoch. Cora uses its public split; Amazon-Photo Shchur's random split drawn with the run's
seed (20 / 30 per class).

    OMP_NUM_THREADS=1 python benchmarks/graph_minibatch.py --datasets cora photo --models gcn sage --seeds 10

Writes benchmarks/results/graph_minibatch.json after every run (a partial table survives an interruption).
"""

import argparse
import functools
import json
import os
import statistics
import time
from pathlib import Path

import torch

from seqgraph.datadir import data_dir
from seqgraph.graph.datasets.amazon import load_amazon_photo
from seqgraph.graph.datasets.planetoid import load_planetoid
from seqgraph.graph.node.train import fit_model
from seqgraph.graph.scale.storage import GraphStore
from seqgraph.graph.scale.train import build_model, fit_minibatch, minibatch_config

# Cora: the papers' settings (GCN: Kipf & Welling; GraphSAGE-mean: 64 hidden). Amazon-Photo: 64 hidden for both.
SETTINGS = {"cora": {"gcn": {}, "sage": {}}, "photo": {"gcn": {"hidden_size": 64}, "sage": {}}}


def load(name: str, seed: int):
    return load_planetoid("cora", data_dir()) if name == "cora" else load_amazon_photo(data_dir(), split_seed=seed)


def summary(values: list[float]) -> dict:
    return {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "n": len(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["cora", "photo"], choices=sorted(SETTINGS))
    parser.add_argument("--models", nargs="+", default=["gcn", "sage"], choices=["gcn", "sage", "gat"])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--fanouts", type=int, nargs="+", default=[25, 10])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "graph_minibatch.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    results["settings"] = {"batch_size": args.batch_size, "fanouts": args.fanouts, "threads": args.threads,
                           "torch": torch.__version__, "load_avg_start": os.getloadavg()}
    for name in args.datasets:
        for model in args.models:
            config = minibatch_config(model, batch_size=args.batch_size, fanouts=tuple(args.fanouts),
                                      **SETTINGS[name].get(model, {}))
            row = results.setdefault(name, {}).setdefault(model, {"config": vars(config) | {"fanouts": args.fanouts},
                                                                   "runs": []})
            done = {r["seed"] for r in row["runs"]}
            for seed in range(args.seeds):
                if seed in done:
                    continue
                graph = load(name, seed)
                start = time.perf_counter()
                full, _ = fit_model(functools.partial(build_model, config), graph, config, seed)
                middle = time.perf_counter()
                mini, _ = fit_minibatch(GraphStore.from_graph(graph), config, seed)
                end = time.perf_counter()
                row["runs"].append({"seed": seed, "full_batch": full.test_acc_best_val,
                                    "mini_batch": mini.test_acc_best_val, "full_seconds": middle - start,
                                    "mini_seconds": end - middle})
                for mode in ("full_batch", "mini_batch"):
                    row[mode] = summary([r[mode] for r in row["runs"]])
                row["difference_points"] = 100 * (row["mini_batch"]["mean"] - row["full_batch"]["mean"])
                print(f"{name} {model} seed {seed}: full {full.test_acc_best_val:.4f} ({middle - start:.0f} s), "
                      f"mini {mini.test_acc_best_val:.4f} ({end - middle:.0f} s)", flush=True)
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
