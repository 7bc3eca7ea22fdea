"""The manual builds as `make docs` builds it, with warnings as errors: every reference resolves, every docstring
parses, every equation converts, every tutorial runs. Its equations then render as math in a browser that has no
network (they are MathML written at build time, not LaTeX waiting for a script)."""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .test_reproduce_page import CHROMIUM, rendered_attributes

ROOT = Path(__file__).resolve().parent.parent
DOCS_TOOLS = ("sphinx", "sphinx_gallery", "myst_parser", "latex2mathml")
GENERATED = ("_build", "generated", "auto_tutorials", "sg_execution_times.rst", "__pycache__")  # the build's output
TUTORIALS = sorted(path.stem for path in (ROOT / "docs" / "tutorials").glob("*.py"))
# an API page whose equations hold fractions, roots, sums and superscripts
API_PAGE = "generated/seqgraph.graph.conv.gcn.html"

# Run in the page after load: how the browser laid out its MathML, as attributes of <body>. Without MathML layout a
# fraction's numerator sits beside its denominator and a superscript on the baseline; LaTeX left unconverted would
# show as text.
MEASURE = """<script>
window.addEventListener("load", () => {
  const all = (name) => [...document.querySelectorAll(name)];
  const box = (element) => element.getBoundingClientRect();
  const maths = all("math"), fractions = all("mfrac"), superscripts = all("msup");
  const found = {
    math: maths.length,
    visible: maths.filter((m) => box(m).width > 0 && box(m).height > 0).length,
    fractions: fractions.length,
    stacked: fractions.filter((f) => box(f.children[0]).bottom <= box(f.children[1]).top + 1).length,
    superscripts: superscripts.length,
    raised: superscripts.filter((s) => box(s.children[1]).bottom < box(s.children[0]).bottom).length,
    latex: /\\\\(frac|sigma|tanh|sum|tilde|hat|odot)\\b/.test(document.body.innerText),
  };
  for (const [key, value] of Object.entries(found)) document.body.setAttribute("data-" + key, String(value));
});
</script>"""


def require_docs_tools() -> None:
    """Skip without the docs extra; on CI (whose `make test` installs it) fail instead, so that a broken install
    cannot turn the manual's build into a silent skip."""
    missing = [name for name in DOCS_TOOLS if importlib.util.find_spec(name) is None]
    if missing:
        message = f"the docs extra is not installed ({', '.join(missing)}): make install installs it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def site(tmp_path_factory, shared_data) -> Path:
    """The manual built from a copy of docs/ (the build writes the API pages and the tutorials' pages into its
    source folder; a fresh copy keeps them out of the working tree and runs every tutorial)."""
    require_docs_tools()
    source = tmp_path_factory.mktemp("manual") / "docs"
    shutil.copytree(ROOT / "docs", source, ignore=shutil.ignore_patterns(*GENERATED))
    html = source / "_build" / "html"
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q", "-b", "html", str(source),
                           str(html)], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "SEQGRAPH_DATA": str(shared_data)})
    assert done.returncode == 0, f"the manual does not build:\n{done.stderr[-6000:]}"
    return html


@pytest.mark.slow
def test_the_manual_builds_with_warnings_as_errors_and_runs_every_tutorial(site):
    pages = [path.stem for path in (ROOT / "docs").glob("*.md")]
    for page in pages + ["api", "auto_tutorials/index", "generated/seqgraph.cells"]:
        assert (site / f"{page}.html").is_file(), page
    assert len(TUTORIALS) >= 4
    for name in TUTORIALS:
        page = (site / "auto_tutorials" / f"{name}.html").read_text()
        assert "sphx-glr-script-out" in page, f"{name}: no output, so it did not run"
        assert f"{name}.ipynb" in page, f"{name}: not offered as a notebook"


@pytest.mark.slow
def test_the_equations_page_is_mathml_with_the_assignments_numbers(site):
    equations = (site / "equations.html").read_text()
    assert len(re.findall(r"<math ", equations)) > 50
    assert "\\begin" not in equations and "\\frac" not in equations  # no LaTeX left for a script to typeset
    # every equation the code cites by number is on the page with that number
    cited = [1, 2, *range(4, 12), *range(29, 33), *range(35, 40), *range(44, 50)]
    numbered = {int(n) for n in re.findall(r"<mo stretchy=\"false\">&#x00028;</mo><mn>(\d+)</mn>", equations)}
    assert set(cited) <= numbered, sorted(set(cited) - numbered)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it in CI)")
def test_equations_render_as_math_in_headless_chromium_without_a_network(site):
    for page, fractions in (("index.html", False), (API_PAGE, True), ("equations.html", True)):
        path = site / page
        probe = path.with_name(f"probe-{path.name}")  # beside the page, so that its styles and links resolve
        probe.write_text(path.read_text().replace("</body>", MEASURE + "</body>"))
        found = rendered_attributes(probe)
        assert int(found["data-math"]) > 0, page
        assert found["data-visible"] == found["data-math"], page
        assert found["data-stacked"] == found["data-fractions"], page
        assert found["data-raised"] == found["data-superscripts"], page
        assert found["data-latex"] == "false", page
        if fractions:
            assert int(found["data-fractions"]) > 0 and int(found["data-superscripts"]) > 0, page
