import html
import json
import shutil

import pytest

from seqgraph.cli import build_parser, main
from seqgraph.commands.reproduce import EXPERIMENTS, PROFILES, part1, part3
from seqgraph.commands.reproduce.part1 import PART1
from seqgraph.commands.reproduce.part2 import PART2
from seqgraph.commands.reproduce.part3 import PART3
from seqgraph.graph.node import train as graph_train

from .test_reproduce_page import CHROMIUM, rendered_attributes


@pytest.fixture(scope="module")
def smoke_report(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("reproduce") / "report"
    assert main(["reproduce", "--profile", "smoke", "--out", str(out), "--data-dir", str(shared_data)]) == 0
    return out


@pytest.mark.slow
def test_smoke_profile_writes_every_section(smoke_report):
    page = (smoke_report / "index.html").read_text()
    markdown = (smoke_report / "report.md").read_text()
    for heading in (PART1, PART2, PART3, *(e.title for e in EXPERIMENTS if "smoke" in e.profiles)):
        assert html.escape(heading) in page and heading in markdown, heading
    results = json.loads((smoke_report / "results.json").read_text())
    assert all(e["status"] == "ran" for e in results["experiments"].values())
    assert "FAILED" not in markdown


def test_interrupted_reproduce_resumes_skipping_finished_experiments(smoke_report, tmp_path, capsys):
    report = shutil.copytree(smoke_report, tmp_path / "report")
    (report / "graph-gat" / "results.json").unlink()  # as if killed during the last experiment
    capsys.readouterr()
    assert main(["reproduce", "--profile", "smoke", "--out", str(report), "--only", "graph-gcn", "graph-gat",
                 "--json"]) == 0
    results = json.loads((report / "results.json").read_text())
    statuses = {name: e["status"] for name, e in results["experiments"].items()}
    assert statuses == {"graph-gcn": "cached", "graph-gat": "ran"}
    # stdout is --json's document alone; the [skip] and [run] lines go to stderr with the progress bar
    captured = capsys.readouterr()
    assert json.loads(captured.out) == results
    assert "[skip] graph-gcn" in captured.err and "[run]  graph-gat" in captured.err


def test_ctrl_c_stops_the_whole_run_instead_of_going_on_to_the_next_experiment(smoke_report, tmp_path, capsys,
                                                                              monkeypatch):
    report = shutil.copytree(smoke_report, tmp_path / "report")
    for name in ("graph-gcn", "graph-gat"):
        (report / name / "results.json").unlink()

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(graph_train, "fit_model", ctrl_c)
    assert main(["reproduce", "--profile", "smoke", "--out", str(report), "--only", "graph-gcn", "graph-gat"]) == 130
    captured = capsys.readouterr()
    assert "[run]  graph-gcn" in captured.err and "[run]  graph-gat" not in captured.err
    assert not (report / "graph-gcn" / "results.json").exists()


@pytest.mark.parametrize("profile", PROFILES)
def test_every_command_line_of_every_profile_parses(profile, tmp_path):
    # quick and full are too long for the suite; their command lines at least are valid ones
    parser = build_parser()
    for exp in (e for e in EXPERIMENTS if profile in e.profiles):
        argv = exp.argv(profile, tmp_path) + (["--json"] if exp.json_stdout else ["--out", str(tmp_path / exp.name)])
        parser.parse_args(argv)  # argparse exits (and the test fails) on a bad option or value


def test_a_data_dir_that_is_not_a_folder_fails_before_any_experiment(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    argv = ["reproduce", "--profile", "smoke", "--out", str(tmp_path / "out"), "--only", "params", "graph-gcn"]
    assert main([*argv, "--data-dir", str(tmp_path / "file")]) == 2
    assert capsys.readouterr().err.strip().endswith(f"the data directory {tmp_path / 'file'} is not a folder")
    assert not (tmp_path / "out").exists()


def test_unknown_experiment_is_a_usage_error(tmp_path, capsys):
    assert main(["reproduce", "--profile", "smoke", "--out", str(tmp_path), "--only", "nope"]) == 2
    assert "unknown experiment" in capsys.readouterr().err
    # an experiment of another profile only (Baum-Sweet runs in full) is not silently skipped
    assert main(["reproduce", "--profile", "smoke", "--out", str(tmp_path), "--only", "sanity-baumsweet"]) == 2
    assert "unknown experiment(s) ['sanity-baumsweet'] in profile smoke" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:  # it would run twice
        main(["reproduce", "--profile", "smoke", "--out", str(tmp_path), "--only", "params", "params"])
    assert info.value.code == 2 and "lists params more than once" in capsys.readouterr().err


def test_force_reuses_a_folder_of_another_profile(smoke_report, tmp_path, capsys):
    report = shutil.copytree(smoke_report, tmp_path / "report")
    argv = ["reproduce", "--profile", "quick", "--out", str(report), "--only", "params"]
    assert main(argv) == 2 and "another experiment" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 0


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it in CI)")
def test_report_figures_render_in_headless_chromium(smoke_report):
    attributes = rendered_attributes(smoke_report / "index.html")
    assert int(attributes["data-images"]) >= 10
    assert attributes["data-broken-images"] == "0"


def verdicts(blocks) -> list[str]:
    return [text for kind, text, *_ in blocks if kind == "p" and "the report**" in text]


def test_reproduce_verdicts_of_its_deterministic_sections(capsys):
    assert main(["params", "--model", "lstm", "--input-dim", "32", "--hidden", "128", "--classes", "10",
                 "--json"]) == 0
    params = verdicts(part1._render_params(json.loads(capsys.readouterr().out), None, "smoke"))
    assert main(["graph", "example", "--json"]) == 0
    example = verdicts(part3._render_example(json.loads(capsys.readouterr().out), None, "smoke"))
    assert len(params) == 1 and len(example) >= 2
    assert all("**matches the report**" in text for text in params + example), params + example
