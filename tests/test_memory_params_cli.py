import json
import subprocess
import sys

import pytest

from seqgraph import cli
from seqgraph.memory.classifier import CLASSIFIERS as MODELS


def test_params_lstm_prints_formula_beside_the_model(capsys):
    assert cli.main(["params", "--model", "lstm", "--input-dim", "32", "--hidden", "128", "--classes", "10"]) == 0
    out = capsys.readouterr().out
    assert "83,722" in out and "matches" in out
    assert "embedding (10 x 32)" in out and "320" in out


@pytest.mark.parametrize("model", MODELS)
def test_params_json(capsys, model):
    argv = ["params", "--model", model, "--input-dim", "4", "--hidden", "6", "--classes", "3", "--symbols", "5"]
    assert cli.main([*argv, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["embedding"] == 5 * 4
    assert result["head"] == (12 if model == "bilstm" else 6) * 3 + 3
    assert result["without_embedding"] == result["recurrent"] + result["head"]
    if model == "lstm":
        assert result["formula"] == result["without_embedding"] == 4 * (6 * 4 + 6 * 6 + 6) + 3 * 6 + 3
        assert result["matches_formula"] is True
    else:
        assert result["formula"] is None and result["matches_formula"] is None


def test_params_other_model_says_formula_is_lstm_only(capsys):
    assert cli.main(["params", "--model", "gru", "--input-dim", "4", "--hidden", "6", "--classes", "3"]) == 0
    assert "counts the LSTM only" in capsys.readouterr().out


@pytest.mark.parametrize("flag, value", [("--hidden", "0"), ("--input-dim", "x"), ("--model", "transformer")])
def test_params_bad_value_exits_2_with_one_line(capsys, flag, value):
    args = {"--model": "lstm", "--input-dim": "4", "--hidden": "6", "--classes": "3", flag: value}
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["params", *(item for pair in args.items() for item in pair)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"argument {flag}" in err


def test_params_command_line_exits_2():
    argv = ["params", "--input-dim", "4", "--classes", "3", "--hidden", "0"]
    proc = subprocess.run([sys.executable, "-m", "seqgraph", *argv], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr == "seqgraph params: error: argument --hidden: must be a positive integer, got 0\n"
