import json

import pytest

from seqgraph import outdir
from seqgraph.errors import InputError


def test_prepare_writes_run_file_and_accepts_the_same_experiment(tmp_path):
    out = outdir.prepare(tmp_path / "run", "toy", {"lr": 1e-3, "lengths": (6, 11)})
    assert json.loads((out / "run.json").read_text()) == {"command": "toy", "config": {"lr": 1e-3, "lengths": [6, 11]}}
    outdir.prepare(tmp_path / "run", "toy", {"lr": 1e-3, "lengths": (6, 11)})


def test_prepare_refuses_another_experiment_unless_forced(tmp_path):
    outdir.prepare(tmp_path / "run", "toy", {"lr": 1e-3})
    (tmp_path / "run" / "results.json").write_text("{}")
    with pytest.raises(InputError, match="another experiment"):
        outdir.prepare(tmp_path / "run", "toy", {"lr": 1e-2})
    with pytest.raises(InputError, match="another experiment"):
        outdir.prepare(tmp_path / "run", "graph train", {"lr": 1e-3})
    assert (tmp_path / "run" / "results.json").read_text() == "{}"  # nothing overwritten
    outdir.prepare(tmp_path / "run", "toy", {"lr": 1e-2}, force=True)


def test_a_run_continues_with_larger_counts_of_the_keys_named_and_nothing_else(tmp_path):
    config = {"epochs": 20, "lr": 1e-3, "milestones": (20, 30)}
    outdir.prepare(tmp_path / "run", "forecast", config)
    (tmp_path / "run" / "results.json").write_text("{}")
    longer = {**config, "epochs": 40}
    for other, named in ((longer, ()), ({**config, "epochs": 10}, ("epochs",)), ({**longer, "lr": 1e-2}, ("epochs",)),
                         ({**config, "lr": 1.0}, ("lr",))):  # not named, fewer, another change, not a count
        with pytest.raises(InputError, match="another experiment"):
            outdir.prepare(tmp_path / "run", "forecast", other, longer=named)
    outdir.prepare(tmp_path / "run", "forecast", longer, longer=("epochs",))
    assert json.loads((tmp_path / "run" / "run.json").read_text())["config"]["epochs"] == 40
    assert outdir.continues(longer, {**longer, "milestones": [20, 30]})  # as stored in JSON
    seeds = {"seeds": [0, 1]}
    assert outdir.continues(seeds, {"seeds": [0, 1, 2]}, longer=("seeds",))  # entries after its own
    assert not any(outdir.continues(seeds, {"seeds": other}, longer=("seeds",))
                   for other in ([1, 0, 2], [0], [2, 0, 1]))


def test_prepare_takes_over_a_folder_where_a_run_stopped_before_writing_anything(tmp_path):
    # e.g. `text train --corpus typo --out run` exits 2 after writing run.json; the corrected command may follow
    outdir.prepare(tmp_path / "run", "text train", {"corpus": "typo"})
    outdir.prepare(tmp_path / "run", "text train", {"corpus": "democracy"})
    assert json.loads((tmp_path / "run" / "run.json").read_text())["config"] == {"corpus": "democracy"}


def test_prepare_refuses_unknown_results_and_files(tmp_path):
    (tmp_path / "results.json").write_text("{}")
    with pytest.raises(InputError, match="unknown run"):
        outdir.prepare(tmp_path, "toy", {})
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        outdir.prepare(tmp_path / "file", "toy", {})
