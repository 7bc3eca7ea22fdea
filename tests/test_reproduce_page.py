import re
import shutil
import subprocess

import matplotlib
import pytest

from seqgraph.commands.reproduce import page as report

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _figure(path):
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1, 2], [1, 0, 1])
    fig.savefig(path)
    plt.close(fig)
    return path


@pytest.fixture
def blocks(tmp_path):
    (tmp_path / "figs").mkdir()
    return [("h2", "Part 1"), ("p", "a <b> & c"), ("table", ["model", "acc"], [["lstm", "1.00"]]),
            ("img", _figure(tmp_path / "figs" / "a.png"), "curve"), ("pre", "sample text")]


def test_markdown_has_every_block_with_relative_image_links(blocks, tmp_path):
    md = report.to_markdown("T", blocks, tmp_path)
    for expected in ("## Part 1", "| lstm | 1.00 |", "![curve](figs/a.png)", "```\nsample text\n```"):
        assert expected in md


def test_html_is_self_contained_and_escaped(blocks):
    page = report.to_html("T", blocks)
    assert "a &lt;b&gt; &amp; c" in page
    assert re.search(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]{100,}"', page)
    assert "<td>lstm</td>" in page and '<td class="number">1.00</td>' in page


def test_html_renders_markdown_code_and_bold_spans_escaped():
    page = report.to_html("T", [("p", "Ran `a <b>` and **matches**."), ("table", ["x"], [["`y`"]])])
    assert "<p>Ran <code>a &lt;b&gt;</code> and <strong>matches</strong>.</p>" in page
    assert "<td><code>y</code></td>" in page


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it in CI)")
def test_html_images_render_in_headless_chromium(blocks, tmp_path):
    broken = list(blocks) + [("img", tmp_path / "bad.png", "broken on purpose")]
    (tmp_path / "bad.png").write_bytes(b"not a png")
    for page_blocks, expected_broken in ((blocks, "0"), (broken, "1")):
        page = tmp_path / "index.html"
        page.write_text(report.to_html("T", page_blocks))
        assert rendered_attributes(page)["data-broken-images"] == expected_broken


def rendered_attributes(page) -> dict:
    """The <body> attributes after load, as headless Chromium sees them."""
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--virtual-time-budget=3000",
         f"--user-data-dir={page.parent / 'chromium-profile'}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    body = re.search(r"<body([^>]*)>", dom).group(1)
    return dict(re.findall(r'([\w-]+)="([^"]*)"', body))
