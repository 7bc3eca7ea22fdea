r"""Math for the manual without JavaScript or a network: LaTeX becomes MathML when the site is built.

MathJax from a CDN needs the network whenever a page is read. This renderer converts every ``:math:`` role and
``.. math::`` block with the pure-Python ``latex2mathml`` and writes MathML Core into the HTML, which browsers lay
out themselves (Chromium since version 109, Firefox, Safari), so the pages render offline and in CI's headless
Chromium. A command ``latex2mathml`` does not know would reach the page as raw LaTeX: it is a build warning
instead, and ``make docs`` (warnings as errors) fails on it.

The docstrings write inline math as ``$...$`` (as the annotated implementations that the style guide follows do);
:func:`dollar_math` turns each into a ``:math:`` role when autodoc reads a docstring. Dollars inside ````literals````
and ``::`` literal blocks are left alone.
"""

import re

from docutils import nodes
from latex2mathml.converter import convert
from sphinx.locale import _
from sphinx.util import logging
from sphinx.util.math import get_node_equation_number

logger = logging.getLogger(__name__)

# a LaTeX command that latex2mathml passed through unconverted: a text node starting with a backslash
UNCONVERTED = re.compile(r">(\\(?:[A-Za-z]+|[^\sA-Za-z<]))")
# $...$ on one line: no space just inside the dollars, no word character just outside (so "$5 and $6" and
# $SEQGRAPH_DATA-style names stay text)
DOLLARS = re.compile(r"(?<![\w$\\])\$(?=[^\s$])([^$\n]*?[^\s$\\])\$(?![\w$])")
LITERAL = re.compile(r"(``.+?``)")


def _mathml(self, node: nodes.Element, latex: str, display: bool) -> str:
    try:
        mathml = convert(latex, display="block" if display else "inline")
    except Exception as e:  # latex2mathml raises its own exception types for malformed input
        logger.warning("cannot convert %r to MathML: %s", latex, e, location=node)
        return self.encode(latex)
    unknown = sorted(set(UNCONVERTED.findall(mathml)))
    if unknown:
        logger.warning("latex2mathml does not know %s in %r", ", ".join(unknown), latex, location=node)
    return mathml


def visit_math(self, node: nodes.math) -> None:
    self.body.append(self.starttag(node, "span", "", CLASS="math notranslate"))
    self.body.append(_mathml(self, node, node.astext(), display=False) + "</span>")
    raise nodes.SkipNode


def _display(latex: str) -> str:
    r"""One block of a ``math`` directive as one expression: lines joined by ``\\`` (with ``&`` alignment, or
    paragraphs separated by blank lines) become the rows of a ``split`` environment, which latex2mathml lays out
    as a table. ``aligned``, which it does not know, is written as ``split``."""
    latex = latex.replace(r"\begin{aligned}", r"\begin{split}").replace(r"\end{aligned}", r"\end{split}")
    parts = [part.strip() for part in latex.split("\n\n") if part.strip()]
    latex = r" \\ ".join(parts)
    if r"\\" in latex and r"\begin{" not in latex:
        latex = r"\begin{split}" + latex + r"\end{split}"
    return latex


def visit_displaymath(self, node: nodes.math_block) -> None:
    self.body.append(self.starttag(node, "div", CLASS="math notranslate"))
    if node["number"]:
        self.body.append(f'<span class="eqno">({get_node_equation_number(self, node)})')
        self.add_permalink_ref(node, _("Link to this equation"))
        self.body.append("</span>")
    latex = node.astext() if node["nowrap"] else _display(node.astext())
    self.body.append(_mathml(self, node, latex, display=True) + "</div>\n")
    raise nodes.SkipNode


def dollar_math(app, what, name, obj, options, lines: list[str]) -> None:
    """``$x$`` in a docstring becomes ``:math:`x```, except in inline literals, ``::`` literal blocks and directives."""
    literal_indent = None  # inside a literal block (or a directive's content): the indentation of its opener
    for i, line in enumerate(lines):
        indent = len(line) - len(line.lstrip())
        if literal_indent is not None and (not line.strip() or indent > literal_indent):
            continue
        literal_indent = None
        pieces = LITERAL.split(line)
        lines[i] = "".join(piece if piece.startswith("``") else DOLLARS.sub(r":math:`\1`", piece)
                           for piece in pieces)
        if line.rstrip().endswith("::"):
            literal_indent = indent


def setup(app):
    app.add_html_math_renderer("mathml", (visit_math, None), (visit_displaymath, None))
    app.connect("autodoc-process-docstring", dollar_math)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
