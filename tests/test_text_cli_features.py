"""`text train/eval/sample`: the test split, left-to-right scores, --cell, --init-from, --top-p, --stop-at."""

import json

import pytest
import torch

from seqgraph.cli import main

from .test_text_cli import TEXT, TINY, run_json


@pytest.fixture(scope="module")
def trained(corpus_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    code = main(["text", "train", "--corpus", str(corpus_file), *TINY, "--steps", "8", "--eval-every", "4",
                 "--test-fraction", "0.1", "--out", str(out)])
    torch.set_num_threads(threads)
    assert code == 0
    return out


def one_line_error(capsys, *words):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and all(w in err for w in words), err


def test_test_split_is_scored_once_with_the_best_checkpoint(trained, capsys):
    results = json.loads((trained / "results.json").read_text())
    assert results["corpus"]["test_characters"] == round(len(TEXT) * 0.1)
    assert results["config"]["batching"] == "stateful"
    test = run_json(["text", "eval", "--checkpoint", str(trained / "best.pt"), "--split", "test"], capsys)
    assert test["characters"] == results["corpus"]["test_characters"]
    assert results["test"]["loss"] == pytest.approx(test["loss"], rel=1e-6)
    assert results["test"]["window_loss"] == pytest.approx(test["window_loss"], rel=1e-6)
    assert results["test"]["step"] == results["best_val"]["step"]
    val = run_json(["text", "eval", "--checkpoint", str(trained)], capsys)
    assert val["loss"] == pytest.approx(results["best_val"]["loss"], rel=1e-6) and val["loss"] != test["loss"]
    assert main(["text", "eval", "--checkpoint", str(trained), "--split", "test", "--corpus", "x.txt"]) == 2
    one_line_error(capsys, "--split chooses a part of the training corpus; --corpus is scored whole")


def test_eval_takes_a_named_corpus_as_train_does(trained, shared_data, capsys):
    # the book is read (it was looked for as a file named 'grimm'): the tiny model lacks most of its characters
    assert main(["text", "eval", "--checkpoint", str(trained), "--corpus", "grimm",
                 "--data-dir", str(shared_data)]) == 2
    one_line_error(capsys, "character(s) not in the model's vocabulary")


def test_one_sample_streams_the_same_text_as_json(trained, capsys):
    base = ["text", "sample", "--checkpoint", str(trained), "--prompt", "the ", "--length", "40", "--top-p", "0.9"]
    streamed = (main(base) == 0, capsys.readouterr().out)
    assert streamed == (True, run_json(base, capsys)["samples"][0] + "\n")


def test_stop_at_ends_each_sample_after_the_string(trained, capsys):
    base = ["text", "sample", "--checkpoint", str(trained), "--num", "4", "--length", "120", "--seed", "1"]
    free = run_json(base, capsys)["samples"]
    stopped = run_json(base + ["--stop-at", "e"], capsys)["samples"]
    for whole, cut in zip(free, stopped, strict=True):
        end = whole.find("e", 1)
        assert cut == (whole[: end + 1] if end > 0 else whole)


@pytest.mark.parametrize("flag, value", [("--top-p", "0"), ("--top-p", "1.5"), ("--top-p", "x")])
def test_bad_top_p_exits_2(flag, value, capsys):
    with pytest.raises(SystemExit) as info:
        main(["text", "sample", "--checkpoint", "x", flag, value])
    assert info.value.code == 2
    one_line_error(capsys, "--top-p")


def test_empty_stop_at_exits_2(trained, capsys):
    assert main(["text", "sample", "--checkpoint", str(trained), "--stop-at", ""]) == 2
    one_line_error(capsys, "--stop-at")


@pytest.mark.parametrize("greedy", [["--greedy"], ["--temperature", "0"]])
@pytest.mark.parametrize("flag, value", [("--top-k", "3"), ("--top-p", "0.9")])
def test_greedy_with_a_sampling_filter_exits_2(trained, capsys, greedy, flag, value):
    assert main(["text", "sample", "--checkpoint", str(trained), *greedy, flag, value]) == 2
    one_line_error(capsys, "greedy sampling (--greedy, --temperature 0) always takes the most likely character")


def test_fine_tuning_checks_the_checkpoint_and_the_vocabulary(trained, corpus_file, tmp_path, capsys):
    other = tmp_path / "other.txt"
    other_text = "The Union governs the people of the states.\n" * 30
    other.write_text(other_text, encoding="utf-8")
    base = ["text", "train", "--corpus", str(other), *TINY, "--steps", "2", "--init-from", str(trained)]
    assert main(base + ["--out", str(tmp_path / "a")]) == 2
    one_line_error(capsys, "outside the model's vocabulary", "'T'", "'U'", "--extend-vocab")
    assert main(base + ["--hidden", "32", "--extend-vocab", "--out", str(tmp_path / "b")]) == 2
    one_line_error(capsys, "hidden_size: 16 in checkpoint vs 32 now")
    (tmp_path / "bad.pt").write_bytes(b"garbage" * 50)
    assert main([*base[:-1], str(tmp_path / "bad.pt"), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err  # garbage, not a zip: the reason says so, not the unpickler's opcode
    assert "bad.pt is not a readable seqgraph checkpoint" in err and "not a zip archive" in err
    assert main(["text", "train", "--corpus", str(other), *TINY, "--extend-vocab", "--out", str(tmp_path / "d")]) == 2
    one_line_error(capsys, "--extend-vocab needs --init-from")
    assert main(base + ["--resume", str(trained), "--out", str(tmp_path / "f")]) == 2  # weights from both?
    one_line_error(capsys, "--init-from starts a new run", "give one of them")
    assert not (tmp_path / "f").exists()
    assert main(base + ["--extend-vocab", "--out", str(tmp_path / "e")]) == 0
    results = json.loads((tmp_path / "e" / "results.json").read_text())
    assert results["config"]["init_from"] == str(trained)
    assert results["corpus"]["vocab_size"] == len(set(TEXT + other_text))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_our_cells_train_and_sample(corpus_file, tmp_path, capsys, cell):
    out = tmp_path / cell
    assert main(["text", "train", "--corpus", str(corpus_file), *TINY, "--steps", "3", "--cell", cell,
                 "--out", str(out)]) == 0
    capsys.readouterr()
    sample = run_json(["text", "sample", "--checkpoint", str(out), "--length", "20"], capsys)
    assert len(sample["samples"][0]) == 21
