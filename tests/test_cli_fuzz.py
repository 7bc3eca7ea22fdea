"""Every command driven with random flag values and random small files (a fixed draw, derandomised, so that CI
runs the examples checked here): it exits 0, 2 or 3, never with a
traceback, touches no file outside ``--out`` and changes no file inside it that it did not write itself."""

import os
import shutil
import signal

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from seqgraph import checkpoint, resources
from seqgraph.cli import main
from seqgraph.graph.scale.storage import FILES

from .test_graph_datasets_tu import write_tu
from .test_reliability import TEXT, exit_code, snapshot

NUMBERS = st.sampled_from(["0", "-1", "1", "2", "3", "0.5", "1e308", "inf", "nan", "-0", "abc", "", "4294967296",
                           "99999999999999999999", "1e-30"])
FILE_BYTES = st.one_of(st.binary(max_size=64), st.sampled_from([TEXT.encode(), b"", b"\x00" * 10,
                                                                 "é".encode("latin-1") * 5]))

# command prefix, flags that take a number, fixed flags before the drawn ones (a drawn value overrides them), fixed
# flags after them (they override a drawn value that parsed, so that no run is long)
COMMANDS = {
    "text train": (["text", "train"], ["--steps", "--batch", "--seq-len", "--hidden", "--embedding", "--layers",
                                       "--dropout", "--lr", "--max-norm", "--val-fraction", "--eval-every", "--seed"],
                   ["--steps", "2", "--batch", "2", "--seq-len", "8", "--hidden", "8", "--embedding", "4"],
                   ["--steps", "2"]),
    "toy": (["toy"], ["--length", "--seeds", "--lr", "--batch", "--hidden", "--embedding", "--max-steps",
                      "--max-norm", "--eval-batches", "--eval-batch-size"],
            ["--max-steps", "2", "--hidden", "8", "--batch", "4", "--eval-batches", "1", "--eval-batch-size", "4",
             "--length", "4", "--seeds", "1"], ["--max-steps", "2", "--eval-batches", "1"]),
    "gradients": (["gradients"], ["--length", "--trained-steps", "--hidden", "--batch", "--seed", "--radii"],
                  ["--length", "3", "--hidden", "4", "--batch", "4", "--radii", "1"], ["--trained-steps", "1"]),
    "graph train": (["graph", "train"], ["--epochs", "--patience", "--lr", "--weight-decay", "--hidden", "--heads",
                                         "--output-heads", "--dropout", "--seeds"],
                    ["--model", "gat", "--hidden", "2", "--heads", "2"], ["--epochs", "2", "--seeds", "0"]),
    "graph train mini-batch": (["graph", "train"], ["--batch-size", "--fanout", "--layers", "--hidden", "--lr",
                                                    "--dropout"],
                               ["--batch-size", "64", "--hidden", "4"], ["--epochs", "1", "--seeds", "0"]),
    "graph depth": (["graph", "depth"], ["--layers", "--hidden", "--dropout", "--lr", "--weight-decay", "--epochs"],
                    ["--layers", "2", "--hidden", "4", "--variants", "plain"], ["--epochs", "2", "--seeds", "0"]),
    "graph compare": (["graph", "compare"], ["--epochs", "--seeds"], ["--models", "gcn"],
                      ["--epochs", "2", "--seeds", "0"]),
    "graph linkpred": (["graph", "linkpred"], ["--hidden", "--latent", "--lr", "--recommend", "--top", "--epochs"],
                       ["--hidden", "4", "--latent", "2"], ["--epochs", "2", "--seeds", "0"]),
    "graph classify": (["graph", "classify"], ["--folds", "--hidden", "--layers", "--batch-size", "--lr", "--lr-step",
                                               "--lr-decay", "--dropout", "--holdout", "--set2set-steps", "--seed"],
                       ["--model", "gin-set2set", "--hidden", "4", "--layers", "2"], ["--epochs", "1"]),
    "graph generate": (["graph", "generate"], ["--nodes", "--edges", "--features", "--classes", "--homophily",
                                               "--signal", "--seed"],
                       ["--nodes", "200", "--edges", "600", "--features", "3", "--classes", "2"], []),
}
GRAPH_FILES = ("_A.txt", "_graph_indicator.txt", "_graph_labels.txt")  # a TUDataset folder made of drawn bytes


def files_outside(root, out):
    return {p: b for p, b in (snapshot(root) or {}).items() if out.name not in p.parts}


@pytest.mark.parametrize("name", COMMANDS)
@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_flags_and_files_exit_cleanly(tmp_path_factory, capsys, shared_data, name, data):
    root = tmp_path_factory.mktemp("fuzz")
    prefix, numeric, fixed, bounds = COMMANDS[name]
    content = data.draw(FILE_BYTES, label="file")
    corpus = root / "book.txt"
    corpus.write_bytes(content)
    out = root / "out"
    if data.draw(st.booleans(), label="out holds a file of the user's"):
        out.mkdir()
        (out / "mine.txt").write_text("mine")
    flags = data.draw(st.lists(st.sampled_from(numeric), max_size=3, unique=True), label="flags")
    argv = [*prefix, *fixed, *(x for flag in flags for x in (flag, data.draw(NUMBERS, label=flag))), *bounds,
            "--out", str(out)]
    if name != "graph generate":
        argv += ["--device", "cpu"]
    if name == "text train":
        argv += ["--corpus", str(corpus)]
    if name.startswith("graph") and name != "graph generate":
        argv += ["--data-dir", str(shared_data)]
    if name == "graph classify":
        folder = root / "RND"
        folder.mkdir()
        for suffix in GRAPH_FILES:
            (folder / f"RND{suffix}").write_bytes(content)
        argv += ["--folds", "2", "--dataset", str(folder)]  # MUTAG itself: test_graph_classify_cli
    before_outside, before_mine = files_outside(root, out), (out / "mine.txt").exists()
    capsys.readouterr()
    code = exit_code(argv)
    err = capsys.readouterr().err
    assert code in (0, 2, 3), (argv, code, err)
    assert "Traceback" not in err, err
    assert files_outside(root, out) == before_outside
    if before_mine:
        assert (out / "mine.txt").read_text() == "mine" and code == 2  # a folder of the user's is refused


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=FILE_BYTES, command=st.sampled_from(["sample", "complete", "eval"]))
def test_random_checkpoint_files_exit_2(tmp_path_factory, capsys, content, command):
    root = tmp_path_factory.mktemp("ckpt")
    (root / "checkpoint.pt").write_bytes(content)
    before = snapshot(root)
    assert exit_code(["text", command, "--checkpoint", str(root / "checkpoint.pt")]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert snapshot(root) == before


@settings(max_examples=25, deadline=None, derandomize=True)
@given(values=st.lists(NUMBERS, min_size=4, max_size=4), model=st.sampled_from(["lstm", "gru", "rnn"]))
def test_params_with_random_numbers_exits_0_or_2_in_one_line(values, model):
    argv = ["params", "--model", model, *(x for flag, v in zip(("--input-dim", "--hidden", "--classes", "--symbols"),
                                                              values, strict=True) for x in (flag, v)), "--json"]
    assert exit_code(argv) in (0, 2)


@settings(max_examples=10, deadline=None, derandomize=True)
@given(length=NUMBERS, num=NUMBERS)
def test_text_sample_lengths_and_counts_are_bounded_before_any_checkpoint_is_read(length, num):
    code = exit_code(["text", "sample", "--checkpoint", "/nonexistent", "--length", length, "--num", num])
    assert code == 2  # a bad number (parse) or the missing checkpoint: never an allocation of 10**20 characters


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=NUMBERS, seed=NUMBERS)
def test_graph_example_with_random_numbers_exits_0_or_2(steps, seed, capsys):
    capsys.readouterr()
    code = exit_code(["graph", "example", "--steps", steps, "--seed", seed, "--json"])
    err = capsys.readouterr().err
    assert code in (0, 2) and "Traceback" not in err, err  # --seed 99999999999999999999 was a traceback


# ---------------------------------------------- issue 26: values inside data files, checkpoints, a full disk

INTEGERS = st.one_of(st.integers(-3, 12), st.sampled_from([10**4, 2**31, 2**62, 2**63 - 1, -2**63, 2**63, -2**63 - 1,
                                                           10**20]))  # int64's limits and beyond
REALS = st.one_of(st.floats(width=64).map(repr), st.sampled_from(["1e39", "-3.4e38", "3.4e38", "1e-46", "nan", "inf",
                                                                   "1_0", "١", "0x10", "", " 2 "]))  # float32's
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.text(max_size=4),
                   st.lists(st.integers(-3, 3), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                              max_size=2),
                   st.builds(lambda shape, dtype: torch.zeros(shape, dtype=dtype),
                             st.lists(st.integers(0, 3), max_size=3),
                             st.sampled_from([torch.float32, torch.float64, torch.int64, torch.uint8])))
FUZZ = settings(max_examples=15, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def small_memory(monkeypatch):
    """1 GiB for the memory checks: a drawn size that passes them cannot take the machine's memory either."""
    monkeypatch.setattr(resources, "physical_memory", lambda: 2**30)


def exits_cleanly(capsys, argv, root=None, out=None) -> int:
    before = files_outside(root, out) if root else None
    capsys.readouterr()
    code = exit_code(argv)
    err = capsys.readouterr().err
    assert code in (0, 2, 3), (argv, code, err)
    assert "Traceback" not in err and (code != 2 or len([e for e in err.splitlines() if "error:" in e]) == 1), err
    if root:
        assert files_outside(root, out) == before
    return code


@FUZZ
@given(labels=st.lists(INTEGERS, min_size=8, max_size=8), attributes=st.lists(REALS, min_size=8, max_size=8),
       graph_labels=st.lists(INTEGERS, min_size=4, max_size=4), edge=st.tuples(INTEGERS, INTEGERS))
def test_drawn_tu_labels_attributes_and_ids_exit_cleanly(tmp_path_factory, capsys, small_memory, labels, attributes,
                                                         graph_labels, edge):
    folder = tmp_path_factory.mktemp("tu") / "RND"
    write_tu(folder, "RND", A=["1, 2", "2, 1", "3, 4", "4, 3", "5, 6", "6, 5", "7, 8", f"{edge[0]}, {edge[1]}"],
             graph_indicator=[1, 1, 2, 2, 3, 3, 4, 4], graph_labels=graph_labels, node_labels=labels,
             node_attributes=attributes)
    exits_cleanly(capsys, ["graph", "classify", "--dataset", str(folder), "--folds", "2", "--epochs", "1", "--hidden",
                           "4", "--holdout", "0", "--out", str(folder.parent / "out")], folder.parent, folder / "out")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    out = tmp_path_factory.mktemp("store") / "graph"
    assert main(["graph", "generate", "--nodes", "400", "--edges", "2000", "--features", "3", "--classes", "3",
                 "--out", str(out)]) == 0
    return out


@FUZZ
@given(name=st.sampled_from([f.removesuffix(".npy") for f in FILES]), form=st.sampled_from(["npy", "npz", "bytes"]),
       descr=st.sampled_from(["<i8", "<i4", "<f4", "<f8", "|b1", ">i8", "|O"]),
       shape=st.lists(st.sampled_from([0, 1, 3, 400, 401, 2**31, 2**40]), max_size=3),
       length=st.sampled_from([0, 0.5, 1]), pattern=st.binary(max_size=16))
def test_drawn_store_headers_and_sizes_exit_cleanly(tmp_path_factory, capsys, small_memory, store, name, form, descr,
                                                    shape, length, pattern):
    root = tmp_path_factory.mktemp("store")
    graph = shutil.copytree(store, root / "graph", ignore=shutil.ignore_patterns(".seqgraph.lock", "run.json"))
    path = graph / f"{name}.npy"
    if form == "bytes":  # no header at all (an empty file when ``pattern`` is)
        path.write_bytes(pattern)
    elif form == "npz":  # an archive under the name of an array
        with open(path, "wb") as f:
            np.savez(f, **{name: np.load(store / f"{name}.npy")})
    else:  # a header promising ``shape``, then ``length`` of its data
        with open(path, "wb") as f:
            np.lib.format.write_array_header_1_0(f, {"descr": descr, "fortran_order": False, "shape": tuple(shape)})
            size = int(np.prod(shape)) * np.dtype(descr).itemsize
            f.write(((pattern or b"\0") * (1 << 20))[: min(int(size * length), 1 << 20)])
    exits_cleanly(capsys, ["graph", "train", "--dataset", str(graph), "--batch-size", "16", "--hidden", "4",
                           "--epochs", "1", "--seeds", "0", "--out", str(root / "out")], root, root / "out")


def stopped_after_one(monkeypatch, cls, method: str, argv) -> None:
    """Run ``argv`` until ``cls.method`` (a step or an epoch) returned once, then SIGTERM: an unfinished run."""
    original = getattr(cls, method)

    def once(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)
        return result
    with monkeypatch.context() as m:
        m.setattr(cls, method, once)
        assert main(argv) == 128 + signal.SIGTERM


@pytest.fixture(scope="module")
def runs(tmp_path_factory, store):
    """Per checkpoint reader: a folder, its checkpoint, the command that reads it, and where in the checkpoint the
    model and Adam's state are. The runs that resume are stopped after their first step or epoch."""
    from seqgraph.charlm.train import Trainer
    from seqgraph.graph.scale.train import MiniBatchTrainer
    from seqgraph.graph.temporal.train import ForecastTrainer
    from seqgraph.memory.train import ToyTrainer

    root = tmp_path_factory.mktemp("runs")
    (root / "book.txt").write_text(TEXT, encoding="utf-8")
    text = ["text", "train", "--corpus", str(root / "book.txt"), "--batch", "4", "--seq-len", "8", "--hidden", "8",
            "--embedding", "4", "--steps", "3", "--eval-every", "1"]
    toy = ["toy", "--hidden", "8", "--batch", "8", "--eval-batches", "1", "--eval-batch-size", "8", "--length", "4",
           "--seeds", "1", "--max-steps", "3", "--checkpoint-every", "1"]
    minibatch = ["graph", "train", "--dataset", str(store), "--batch-size", "64", "--hidden", "4", "--epochs", "2",
                 "--seeds", "0"]
    forecast = ["graph", "forecast", "--dataset", "gvar:8x200", "--model", "gru", "--window", "4", "--horizon", "2",
                "--hidden", "4", "--epochs", "2", "--seeds", "0"]
    with pytest.MonkeyPatch.context() as mp:
        for cls, method, argv, name in ((Trainer, "train_step", text, "text"), (ToyTrainer, "train_step", toy, "toy"),
                                        (MiniBatchTrainer, "train_epoch", minibatch, "minibatch"),
                                        (ForecastTrainer, "train_epoch", forecast, "forecast")):
            stopped_after_one(mp, cls, method, [*argv, "--out", str(root / name)])
    assert main([*text, "--out", str(root / "finished")]) == 0
    return {
        "text train --resume": (root / "text", "checkpoint.pt", [*text, "--resume", "{run}"], [], []),
        "text train --init-from": (root / "finished", "checkpoint.pt",
                                   [*text, "--init-from", "{run}/checkpoint.pt", "--out", "{run}/../tuned"], [], []),
        "text eval --checkpoint": (root / "finished", "checkpoint.pt", ["text", "eval", "--checkpoint", "{run}"], [],
                                   []),
        "toy --resume": (root / "toy", "checkpoints/length4-seed1.pt", [*toy, "--out", "{run}", "--resume"],
                         ["trainer"], ["trainer"]),
        "graph train --resume": (root / "minibatch", "checkpoint-seed0.pt", [*minibatch, "--out", "{run}", "--resume"],
                                 [], []),
        "graph forecast --resume": (root / "forecast", "checkpoint-seed0.pt", [*forecast, "--out", "{run}", "--resume"],
                                    [], []),
    }


def mutate(ckpt: dict, where: list[str], what: str, data) -> None:
    """One drawn change: a top-level entry dropped or replaced, a weight dropped, replaced or cut, Adam's moments
    cut, or another kind."""
    inner = ckpt
    for key in where:
        inner = inner[key]
    if what == "drop":
        del ckpt[data.draw(st.sampled_from(sorted(ckpt)), label="key")]
    elif what == "replace":
        ckpt[data.draw(st.sampled_from(sorted(ckpt)), label="key")] = data.draw(VALUES, label="value")
    elif what == "kind":
        ckpt["kind"] = data.draw(st.sampled_from(["charlm", "toy", "graph-minibatch", "graph-forecast", "x"]))
    elif what.startswith("weight"):
        model = inner["model"]
        key = data.draw(st.sampled_from(sorted(model)), label="weight")
        if what == "weight drop":
            del model[key]
        elif what == "weight cut":
            model[key] = model[key][..., :1] if model[key].dim() else model[key][None]
        else:
            model[key] = data.draw(VALUES, label="value")
    else:  # Adam's moments of one parameter
        state = inner["optimizer"]["state"]
        if state:
            moments = state[data.draw(st.sampled_from(sorted(state)), label="parameter")]
            moments["exp_avg"] = data.draw(VALUES, label="moment")


@pytest.mark.parametrize("reader", ["text train --resume", "text train --init-from", "text eval --checkpoint",
                                    "toy --resume", "graph train --resume", "graph forecast --resume"])
@settings(FUZZ, max_examples=25, phases=[Phase.explicit, Phase.generate])  # report, not minutes shrinking
@given(data=st.data())
def test_drawn_checkpoints_for_every_resume_and_init_from_exit_cleanly(tmp_path_factory, capsys, runs, reader, data):
    folder, name, argv, model_at, optimizer_at = runs[reader]
    root = tmp_path_factory.mktemp("resume")
    run = shutil.copytree(folder, root / "run")
    path = run / name
    ckpt = checkpoint.load(path)
    what = data.draw(st.sampled_from(["drop", "replace", "kind", "weight drop", "weight cut", "weight replace",
                                      "moments"]), label="change")
    mutate(ckpt, model_at if what.startswith("weight") else optimizer_at, what, data)
    checkpoint.save_atomic(ckpt, path)
    argv = [a.replace("{run}", str(run)) for a in argv]
    tuned = root / "tuned"
    exits_cleanly(capsys, argv, root, tuned if reader == "text train --init-from" else run)


@FUZZ
@given(command=st.sampled_from(["text", "toy", "graph train"]), free=st.integers(0, 2**21),
       hidden=st.sampled_from(["8", "64", "256"]))
def test_a_full_disk_exits_cleanly(tiny_disk, capsys, store, command, free, hidden):
    for entry in tiny_disk.iterdir():
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    (tiny_disk / "filler").write_bytes(b"\0" * max(0, shutil.disk_usage(tiny_disk).free - free))
    book = tiny_disk.parent / "book.txt"
    book.write_text(TEXT, encoding="utf-8")
    argv = {"text": ["text", "train", "--corpus", str(book), "--batch", "2", "--seq-len", "8",
                     "--embedding", "4", "--steps", "2", "--checkpoint-every", "1"],
            "toy": ["toy", "--batch", "8", "--eval-batches", "1", "--eval-batch-size", "8", "--length", "4",
                    "--seeds", "1", "--max-steps", "2", "--checkpoint-every", "1"],
            "graph train": ["graph", "train", "--dataset", str(store), "--batch-size", "64", "--epochs", "1",
                            "--seeds", "0"]}[command]
    exits_cleanly(capsys, [*argv, "--hidden", hidden, "--device", "cpu", "--out", str(tiny_disk / "out")])
