"""The tables of README.md and of the manual (docs/) are what results/render.py makes of the committed results files:
the pages cannot drift from the evidence."""

import importlib.util
import json
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def renderer():
    spec = importlib.util.spec_from_file_location("render", ROOT / "results" / "render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_marked_table_equals_its_rendering_from_the_committed_results():
    render = renderer()
    pages = render.pages()
    assert ROOT / "README.md" in pages and ROOT / "docs" / "memory.md" in pages
    for path in pages:
        page = path.read_text()
        assert render.render(page) == page, f"{path.relative_to(ROOT)}: run python results/render.py"
    assert render.MARKED.findall((ROOT / "README.md").read_text()), "README.md marks no table"


def test_every_renderer_has_a_page_and_every_page_table_a_renderer():
    render = renderer()
    marked = {match["name"] for path in render.pages() for match in render.MARKED.finditer(path.read_text())}
    assert marked == set(render.tables())


def test_changing_one_committed_number_makes_the_check_fail(tmp_path):
    render = renderer()
    for relpath in ("results", "benchmarks/results"):
        shutil.copytree(ROOT / relpath, tmp_path / relpath)
    path = tmp_path / "results/graph-classify/mutag-gin/results.json"
    results = json.loads(path.read_text())
    results["holdout"]["mean"] += 0.1
    path.write_text(json.dumps(results))
    for page in (ROOT / "README.md", ROOT / "docs" / "graph-level.md"):
        text = page.read_text()
        assert render.render(text, tmp_path) != text


def test_the_readme_is_a_front_page_whose_first_commands_are_make_demo_and_make_test():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    first_block = re.search(r"```\w*\n(.*?)```", readme, re.DOTALL)[1]
    assert [line.split("#")[0].strip() for line in first_block.splitlines()] == ["make demo", "make test"]
