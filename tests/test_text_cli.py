import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from seqgraph import checkpoint
from seqgraph.cli import main

from .helpers import TEXT

TINY = ["--batch", "4", "--seq-len", "10", "--hidden", "16", "--embedding", "8", "--seed", "3"]



@pytest.fixture(scope="module")
def trained(corpus_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    code = main(["text", "train", "--corpus", str(corpus_file), *TINY, "--steps", "12", "--eval-every", "4",
                 "--checkpoint-every", "4", "--out", str(out)])
    torch.set_num_threads(threads)
    assert code == 0
    return out


def run_json(args, capsys):
    assert main(args + ["--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_train_writes_checkpoints_curves_samples_and_results(trained):
    for name in ("checkpoint.pt", "best.pt", "curves.png", "samples.md", "results.json", "run.json"):
        assert (trained / name).is_file(), name
    assert list((trained / "tb").glob("events.out.tfevents.*"))
    results = json.loads((trained / "results.json").read_text())
    assert results["steps"] == 12 and [s["step"] for s in results["samples"]] == [4, 8, 12]
    assert results["final_val"]["bits"] == pytest.approx(results["final_val"]["loss"] / 0.6931471805599453)
    assert results["best_val"]["loss"] <= results["final_val"]["loss"]
    assert 0 <= results["clip_fraction"] <= 1
    assert "## Step 12 of 12 (3/3)" in (trained / "samples.md").read_text()
    ckpt = checkpoint.load(trained / "checkpoint.pt")
    assert ckpt["step"] == 12 and ckpt["vocab"] == "".join(sorted(set(TEXT)))


def test_sample_complete_and_eval(trained, capsys):
    out = run_json(["text", "sample", "--checkpoint", str(trained), "--num", "3", "--length", "25"], capsys)
    assert len(out["samples"]) == 3 and all(len(s) == 26 for s in out["samples"])  # start character + 25
    out = run_json(["text", "sample", "--checkpoint", str(trained), "--prompt", "the ", "--length", "9"], capsys)
    assert out["samples"][0].startswith("the ") and len(out["samples"][0]) == 13
    done = run_json(["text", "complete", "--checkpoint", str(trained), "the people", "states"], capsys)
    assert [d["prompt"] for d in done] == ["the people", "states"] and all(len(d["completion"]) == 30 for d in done)
    val = run_json(["text", "eval", "--checkpoint", str(trained)], capsys)
    results = json.loads((trained / "results.json").read_text())
    assert val["loss"] == pytest.approx(results["best_val"]["loss"], rel=1e-6)  # best.pt on the same split


def test_inverse_temperature_is_one_over_temperature(trained, capsys):
    base = ["text", "sample", "--checkpoint", str(trained), "--num", "2", "--length", "60", "--seed", "4"]
    tau = run_json(base + ["--inverse-temperature", "2"], capsys)
    temperature = run_json(base + ["--temperature", "0.5"], capsys)
    one = run_json(base + ["--temperature", "1"], capsys)
    assert tau["samples"] == temperature["samples"] != one["samples"]
    greedy = run_json(base + ["--greedy"], capsys)
    assert greedy["samples"] == run_json(base + ["--temperature", "0"], capsys)["samples"]


def test_unknown_prompt_characters(trained, capsys):
    args = ["text", "sample", "--checkpoint", str(trained), "--prompt", "Thé people", "--length", "5"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "'T'" in err and "'é'" in err and err.count("\n") == 1
    assert main(args + ["--skip-unknown"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("h people") and "warning" in captured.err


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    (b"", "is empty"),
    (b"\x00\x01\x02\xff\xfe binary", "UTF-8"),
    (b"too short", "sequence length"),
])
def test_bad_corpora_exit_2(tmp_path, capsys, content, message):
    path = tmp_path / "corpus.txt"
    if content is not None:
        path.write_bytes(content)
    assert main(["text", "train", "--corpus", str(path), *TINY, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_the_corrected_command_reuses_the_folder_of_a_mistyped_corpus(corpus_file, tmp_path):
    out = str(tmp_path / "out")
    assert main(["text", "train", "--corpus", str(tmp_path / "typo.txt"), *TINY, "--out", out]) == 2
    assert main(["text", "train", "--corpus", str(corpus_file), *TINY, "--steps", "2", "--out", out]) == 0


def test_corrupt_or_truncated_checkpoint_exits_2(trained, tmp_path, capsys):
    data = (trained / "best.pt").read_bytes()
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint " * 60)
    for name in ("truncated.pt", "garbage.pt", "missing.pt"):
        assert main(["text", "sample", "--checkpoint", str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        # (torch's explanation of a refused pickle, quoted for garbage.pt, spans several lines)
        assert err.startswith("seqgraph text: error: ") and str(tmp_path / name) in err and "Traceback" not in err
        # a zip cut short gets torch's own reason; garbage is named for what it is, not by an unpickler's opcode
        assert ("not a zip archive" in err) == (name == "garbage.pt")


@pytest.mark.parametrize("args", [
    ["sample", "--checkpoint", "x", "--temperature", "-1"],
    ["sample", "--checkpoint", "x", "--length", "0"],
    ["sample", "--checkpoint", "x", "--temperature", "1", "--greedy"],
    ["sample", "--checkpoint", "x", "--inverse-temperature", "0"],
    ["train", "--out", "x", "--batch", "0"],
    ["train", "--out", "x", "--steps", "-5"],
    ["train", "--out", "x", "--val-fraction", "0"],
])
def test_invalid_numbers_exit_2_at_parse_time(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(["text", *args])
    assert info.value.code == 2 and capsys.readouterr().err.count("\n") == 1


def test_out_folder_of_another_experiment_and_mismatched_resume_are_refused(trained, corpus_file, tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    (other / "run.json").write_text(json.dumps({"command": "toy", "config": {}}))
    (other / "results.json").write_text("{}")
    assert main(["text", "train", "--corpus", str(corpus_file), *TINY, "--out", str(other)]) == 2
    assert "another experiment" in capsys.readouterr().err
    assert main(["text", "train", "--corpus", str(corpus_file), *TINY, "--steps", "12", "--hidden", "32",
                 "--resume", str(trained), "--out", str(tmp_path / "new")]) == 2
    assert "hidden_size: 16 in checkpoint vs 32 now" in capsys.readouterr().err


def test_a_run_resumed_into_another_folder_is_whole_there(trained, corpus_file, tmp_path, capsys):
    # the fixture's run is finished: resuming it trains no step, yet the new folder gets its checkpoints and samples
    assert main(["text", "train", "--corpus", str(corpus_file), *TINY, "--steps", "12", "--eval-every", "4",
                 "--checkpoint-every", "4", "--resume", str(trained), "--out", str(tmp_path / "branch")]) == 0
    for name in ("checkpoint.pt", "best.pt", "samples.md"):
        assert (tmp_path / "branch" / name).read_bytes() == (trained / name).read_bytes(), name
    capsys.readouterr()
    assert main(["text", "sample", "--checkpoint", str(tmp_path / "branch"), "--length", "5"]) == 0


def _start(args, out):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "seqgraph", *args, "--out", str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out / "checkpoint.pt").exists():  # the first checkpoint: training runs, handlers are set
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    return proc


INTERRUPTED = ["--dropout", "0.1", "--steps", "200", "--eval-every", "100", "--checkpoint-every", "9"]


@pytest.fixture(scope="module")
def straight(corpus_file, tmp_path_factory):
    """The parameters at the end of an uninterrupted run."""
    out = tmp_path_factory.mktemp("straight")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    assert main(["text", "train", "--corpus", str(corpus_file), *TINY, *INTERRUPTED, "--out", str(out)]) == 0
    torch.set_num_threads(threads)
    return checkpoint.load(out / "checkpoint.pt")["model"]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_interrupted_run_resumes_to_bitwise_identical_parameters(corpus_file, straight, tmp_path, sig):
    args = ["text", "train", "--corpus", str(corpus_file), *TINY, *INTERRUPTED]
    proc = _start(args, tmp_path / "cut")
    proc.send_signal(sig)
    code = proc.wait(timeout=120)
    ckpt = checkpoint.load(tmp_path / "cut" / "checkpoint.pt")
    assert 0 < ckpt["step"] < 200
    if sig == signal.SIGTERM:  # saved where it stopped, said so, and exited with 128 + 15
        assert code == 143 and json.loads((tmp_path / "cut" / "results.json").read_text())["interrupted"] == 15
    assert main(args + ["--resume", str(tmp_path / "cut")]) == 0
    resumed = checkpoint.load(tmp_path / "cut" / "checkpoint.pt")["model"]
    assert resumed.keys() == straight.keys()
    assert all(torch.equal(resumed[k], straight[k]) for k in straight)
