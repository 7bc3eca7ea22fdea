"""`seqgraph graph train --batch-size B --fanout 25 10 ...`: the mini-batch mode of `graph train`.

Neighbour-sampled blocks, exact layer-wise evaluation, data-parallel under torchrun (seqgraph.graph.scale.train).
The graph is a Planetoid name or folder, ``amazon-photo`` (Shchur's split, drawn with each run's seed), or a folder
of memory-mapped ``.npy`` files (``seqgraph graph generate``). A checkpoint of each seed is written after every
epoch; Ctrl-C or SIGTERM to any process stops every process after the same epoch, and ``--resume`` continues the run
in ``--out``.
"""

import dataclasses
import sys
from pathlib import Path

from .... import checkpoint, distributed, threads
from ....errors import InputError
from ....graph.datasets import load_dataset
from ....graph.datasets.amazon import load_amazon_photo
from ....graph.node.models import KINDS
from ....graph.scale.sampler import check_fanouts
from ....graph.scale.storage import GraphStore, is_store, open_store
from ....graph.scale.train import KIND, MiniBatchTrainer, check_run, minibatch_config
from ....outdir import write_json
from ....stats import mean_std, pm
from ...flags import MAX_LAYERS, MAX_SIZE, bounded_int, fanout, naming
from ...options import resolve_device
from ...output import prepare_out, print_json
from ...training_io import StopRequest, TrainingIO, refuse_restart

PHOTO = "amazon-photo"


def add_options(p) -> None:
    """The flags of the mini-batch mode (``--batch-size`` selects it)."""
    p.add_argument("--batch-size", type=bounded_int(MAX_SIZE), help="mini-batch mode: seed nodes per global batch, "
                   f"split across torchrun's processes, at most {MAX_SIZE:,} (default: full-batch training)")
    p.add_argument("--fanout", type=fanout, nargs="+", default=None,
                   help="mini-batch mode: neighbours sampled per node at hop 1 (the seeds), 2, ...; -1 takes all, "
                   f"at most {MAX_SIZE:,}; one per layer (default: 25 10)")
    p.add_argument("--layers", type=bounded_int(MAX_LAYERS), default=2,
                   help=f"mini-batch mode: graph layers, at most {MAX_LAYERS} (default: 2)")
    p.add_argument("--resume", action="store_true",
                   help="mini-batch mode: continue the run stopped in --out from its checkpoints")


def _graph(dataset: str, data_dir: str | None, seed: int) -> tuple[GraphStore, str]:
    if Path(dataset).is_dir() and is_store(dataset):
        return open_store(dataset), Path(dataset).name
    if dataset == PHOTO:
        return GraphStore.from_graph(load_amazon_photo(data_dir, split_seed=seed)), PHOTO
    graph, name = load_dataset(dataset, data_dir)
    return GraphStore.from_graph(graph), name


def _config(args):
    if args.model not in KINDS:
        raise InputError(f"--model {args.model}: mini-batch mode trains {', '.join(KINDS)}")
    overrides = {field: getattr(args, flag) for flag, field in
                 (("epochs", "epochs"), ("lr", "lr"), ("weight_decay", "weight_decay"), ("hidden", "hidden_size"),
                  ("heads", "heads"), ("output_heads", "output_heads"), ("dropout", "dropout"))
                 if getattr(args, flag) is not None}
    fanouts = tuple(args.fanout) if args.fanout is not None else (25, 10)[: args.layers] + (10,) * (args.layers - 2)
    config = minibatch_config(args.model, batch_size=args.batch_size, fanouts=fanouts, num_layers=args.layers,
                              patience=args.patience or None, **overrides)
    with naming(f"--fanout {' '.join(map(str, fanouts))}"):
        check_fanouts(fanouts, args.layers)
    with naming(f"--batch-size {args.batch_size}"):
        distributed.shard(args.batch_size)
    return config


def _threads(store: GraphStore, config):
    """The threads of this run's work (:mod:`seqgraph.threads`): the first layer's product over a batch's sampled
    nodes, at most the whole graph's."""
    sampled = config.batch_size
    for hop in config.fanouts:
        sampled = min(sampled * (store.num_nodes if hop < 0 else hop + 1), store.num_nodes)
    return threads.for_work(threads.graph_work(sampled, store.x.shape[1], config.hidden_size))


def _checkpoint_path(out: Path, seed: int) -> Path:
    return out / f"checkpoint-seed{seed}.pt"


def _progress(ckpt: dict) -> tuple[str, bool] | None:
    """How far a checkpoint of mini-batch training got (see :func:`~seqgraph.commands.training_io.refuse_restart`)."""
    epoch, epochs = ckpt.get("epoch"), ckpt.get("config", {}).get("epochs")
    if ckpt.get("kind") != KIND or not isinstance(epoch, int) or not isinstance(epochs, int):
        return None
    return f"epoch {epoch} of {epochs}", bool(ckpt.get("finished", epoch >= epochs))


def run(args) -> int:
    with distributed.session(resolve_device(args.device)) as device:
        return _run(args, device)


def _run(args, device) -> int:
    config = _config(args)
    out = Path(args.out)
    run_config = {"dataset": args.dataset, "seeds": args.seeds, "mode": "mini-batch", **dataclasses.asdict(config)}
    stores = {seed: _graph(args.dataset, args.data_dir, seed) for seed in args.seeds[:1]}  # checked before writing
    check_run(stores[args.seeds[0]][0], config)
    if distributed.is_main():
        prepare_out(args, "graph train", run_config, resume=args.resume, only_check=True)
    if not args.resume and not args.force:
        refuse_restart(out, [(f" of seed {seed}", _checkpoint_path(out, seed)) for seed in args.seeds], _progress)
    distributed.main_first(lambda: prepare_out(args, "graph train", run_config, resume=args.resume), others=False)
    results = []
    with StopRequest() as stop, _threads(stores[args.seeds[0]][0], config):
        for seed in args.seeds:
            store, name = stores.pop(seed) if seed in stores else _graph(args.dataset, args.data_dir, seed)
            trainer = MiniBatchTrainer(store, config, seed, device)
            path = _checkpoint_path(out, seed)
            if args.resume and path.exists():
                with checkpoint.complete(path):
                    trainer.load_state_dict(checkpoint.load(path), str(path))
            with TrainingIO(None, config.epochs, trainer.epoch, f"{config.model} {name} seed {seed}", stop,
                            unit="epoch") as io:
                def on_epoch(record, trainer=trainer, io=io, path=path):
                    io.save(trainer.state_dict(), path)  # every rank builds it: it gathers their random states
                    io.step(loss=f"{record['train_loss']:.4f}",
                            **({"val": f"{100 * record['val_acc']:.1f}%"} if "val_acc" in record else {}))

                if trainer.run(on_epoch, stop=io.stopping):  # every process stops after the same epoch
                    if io.main:
                        print(f"seqgraph graph train: stopped at epoch {trainer.epoch} of seed {seed}; checkpoint "
                              f"saved, continue with --resume --out {out}", file=sys.stderr)
                    return 128 + io.signum
            results.append(trainer.result())
    if not distributed.is_main():
        return 0
    per_seed = [{"seed": r.seed, "best_epoch": r.best_epoch, "val_acc_best": 100 * r.val_acc_best,
                 "test_acc_best_val": 100 * r.test_acc_best_val, "seconds_per_epoch": r.seconds_per_epoch}
                for r in results]
    summary = {"dataset": name, "model": config.model, "mode": "mini-batch", "headline": "test_acc_best_val",
               "units": "accuracy in %", "runs": per_seed, "config": run_config, "device": str(device),
               "processes": distributed.world_size(),
               "test_acc_best_val": mean_std(r["test_acc_best_val"] for r in per_seed)}
    write_json(out / "results.json", summary)
    if args.json:
        print_json(summary)
    else:
        print(f"{config.model.upper()} on {name}, mini-batch (batch {config.batch_size}, fan-out "
              f"{' '.join(map(str, config.fanouts))}), test accuracy at the best validation epoch over "
              f"{len(per_seed)} seed(s): {pm(summary['test_acc_best_val'], runs=len(per_seed))}")
        print(f"wrote {out / 'results.json'}")
    return 0

