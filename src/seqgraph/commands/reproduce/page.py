"""A report as a list of blocks, rendered to Markdown and to one self-contained HTML page.

Blocks are plain tuples so that experiments can build them without knowing the output format:
``("h2", text)``, ``("p", text)``, ``("pre", text)``, ``("table", headers, rows)`` and
``("img", path, caption)``. Text may hold Markdown's `code` and **bold** spans, which the HTML renders too.
Images are embedded in the HTML as base64 data URIs and linked by
relative path in the Markdown.
"""

import base64
import html
import os
import re
from pathlib import Path

# Counts images that failed to decode, so a headless browser can check the page renders.
_IMAGE_CHECK = """<script>
window.addEventListener("load", () => {
  const broken = [...document.images].filter(i => !i.complete || i.naturalWidth === 0).length;
  document.body.dataset.images = document.images.length;
  document.body.dataset.brokenImages = broken;
});
</script>"""

_STYLE = """<style>
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.5; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: .25rem .6rem; text-align: left; }
th { background: #f3f3f3; } td.number { text-align: right; }
img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .9rem; color: #555; }
pre { background: #f7f7f7; padding: .6rem; overflow-x: auto; white-space: pre-wrap; }
code { background: #f3f3f3; padding: 0 .2rem; font-size: .9em; }
</style>"""


def to_markdown(title: str, blocks: list[tuple], base: Path) -> str:
    lines = [f"# {title}", ""]
    for block in blocks:
        kind = block[0]
        if kind in ("h2", "h3"):
            lines += [("## " if kind == "h2" else "### ") + block[1], ""]
        elif kind == "p":
            lines += [block[1], ""]
        elif kind == "pre":
            lines += ["```", block[1].rstrip("\n"), "```", ""]
        elif kind == "table":
            headers, rows = block[1], block[2]
            lines.append("| " + " | ".join(map(str, headers)) + " |")
            lines.append("|" + "---|" * len(headers))
            lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
            lines.append("")
        elif kind == "img":
            lines += [f"![{block[2]}]({os.path.relpath(block[1], base)})", f"*{block[2]}*", ""]
        else:
            raise ValueError(f"unknown block kind {kind!r}")
    return "\n".join(lines)


def to_html(title: str, blocks: list[tuple]) -> str:
    parts = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{html.escape(title)}</title>", _STYLE, _IMAGE_CHECK, "</head><body>",
             f"<h1>{html.escape(title)}</h1>"]
    for block in blocks:
        kind = block[0]
        if kind in ("h2", "h3"):
            anchor = "".join(c if c.isalnum() else "-" for c in block[1].lower())
            parts.append(f'<{kind} id="{anchor}">{html.escape(block[1])}</{kind}>')
        elif kind == "p":
            parts.append(f"<p>{_inline(block[1])}</p>")
        elif kind == "pre":
            parts.append(f"<pre>{html.escape(block[1])}</pre>")
        elif kind == "table":
            head = "".join(f"<th>{html.escape(str(h))}</th>" for h in block[1])
            body = "".join("<tr>" + "".join(_cell(str(c)) for c in row) + "</tr>"
                           for row in block[2])
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif kind == "img":
            data = base64.b64encode(Path(block[1]).read_bytes()).decode()
            parts.append(f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(block[2])}">'
                         f"<figcaption>{html.escape(block[2])}</figcaption></figure>")
        else:
            raise ValueError(f"unknown block kind {kind!r}")
    parts.append("</body></html>")
    return "\n".join(parts)


def _cell(text: str) -> str:
    """A table cell; numbers (also "82.2 ± 0.7", "41 ± 6 (2/3 seeds)", "–") align right."""
    number = re.fullmatch(r"[-+–]?[\d,.]*( ± [\d,.]+)?( \(.*\))?", text) is not None and text != ""
    return f'<td class="number">{_inline(text)}</td>' if number else f"<td>{_inline(text)}</td>"


def _inline(text: str) -> str:
    """Escaped text with Markdown's `code` and **bold** spans as <code> and <strong>."""
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)
