"""The README's tables are what results/render.py makes of the committed results files: the two cannot drift."""

import importlib.util
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def renderer():
    spec = importlib.util.spec_from_file_location("render", ROOT / "results" / "render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_marked_readme_table_equals_its_rendering_from_the_committed_results():
    render = renderer()
    readme = (ROOT / "README.md").read_text()
    assert render.MARKED.findall(readme), "README.md marks no table"
    assert render.render(readme) == readme, "run: python results/render.py"


def test_changing_one_committed_number_makes_the_check_fail(tmp_path):
    render = renderer()
    for relpath in ("results", "benchmarks/results"):
        shutil.copytree(ROOT / relpath, tmp_path / relpath)
    path = tmp_path / "results/graph-classify/mutag-gin/results.json"
    results = json.loads(path.read_text())
    results["holdout"]["mean"] += 0.1
    path.write_text(json.dumps(results))
    readme = (ROOT / "README.md").read_text()
    assert render.render(readme, tmp_path) != readme
