"""A published notebook rendered as an HTML page body: narrative, equations, code, figures.

nbconvert renders the cells (its ``basic`` template: the body only, no scripts of its own, and
images embedded as ``data:`` URIs); ammonia (``nh3``) then keeps only inert markup, so nothing a
notebook carries (``<script>``, event handlers, ``javascript:`` links, widget JavaScript, SVG with
scripts) can run in the page. The page template adds KaTeX from the service's own static files,
so equations render without internet; its Content-Security-Policy allows scripts from the
service alone, a second wall behind the sanitizer.

Below the notebook the page has an API reference: each public function and class with its
signature and its docstring rendered from the one structure of :mod:`gilgamesh.documentation.docstrings`
(parameters as a definition list with types and units, returns, raises, notes, references,
examples), so numpydoc's ``----------`` and reStructuredText's ````x```` never reach a page.

Rendering is slow (nbconvert imports in about a second, a page takes ~0.2 s), so it runs in an
executor and is cached by sha256 (published content never changes).
"""

from __future__ import annotations

import collections
import html
import threading

__all__ = [
    "render_notebook_body", "render_api_reference", "references_html", "docstring_html", "markdown_html", "sanitize_html",
    "DocsCache", "DISPLAY_PRIORITY",
]

# What a notebook output shows as, best first. JavaScript and widget views are left out: they
# could not run here anyway, and choosing them would hide the image or HTML beside them.
DISPLAY_PRIORITY = [
    "text/html", "text/markdown", "image/svg+xml", "image/png", "image/jpeg", "image/gif",
    "text/latex", "text/plain",
]

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del", "details",
    "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img",
    "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub",
    "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul", "var",
}
_ATTRIBUTES = {
    "*": {"class", "id", "title", "lang", "dir"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "ol": {"start"},
}
_IMAGE_DATA = ("data:image/png;", "data:image/jpeg;", "data:image/gif;", "data:image/svg+xml;", "data:image/webp;")


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    # data: URIs only as images (an <img> never runs script, even an SVG one); links go to the
    # web or within the page.
    if attribute == "src":
        return value if value.startswith(_IMAGE_DATA) else None
    if attribute == "href":
        if value.startswith("/") and not value.startswith("//"):
            return value  # a page of this service (a citation's entry in /bibliography)
        return value if value.startswith(("#", "http://", "https://", "mailto:")) else None
    return value


def sanitize_html(html: str) -> str:
    """Keep only inert markup: no script, no style, no event handler, no javascript: URL."""
    import nh3

    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        attribute_filter=_filter_attribute,
        url_schemes={"http", "https", "mailto", "data"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def _anchor(key: str) -> str:
    import urllib.parse

    return "ref-" + urllib.parse.quote(key, safe="")


def references_html(references: dict) -> str:
    """The version's cited entries as a numbered list, each anchored for the citations above it."""
    if not references:
        return ""
    import urllib.parse

    items = []
    for key, entry in references.items():
        links = [f'<a href="{html.escape(entry["url"])}">{html.escape(entry["url"])}</a>'] if entry.get("url") else []
        links.append(f'<a href="/bibliography#{urllib.parse.quote(key, safe="")}">BibTeX</a>')
        items.append(f'<li id="{html.escape(_anchor(key))}"><span class="reference-label">{html.escape(entry.get("label") or key)}</span> '
                     f'{html.escape(entry.get("text") or "")} {" · ".join(links)}</li>')
    return f'<section class="references" id="references"><h2>References</h2><ol>{"".join(items)}</ol></section>'


def render_notebook_body(data: bytes, references: dict | None = None) -> str:
    """The sanitized HTML of a notebook's cells (blocking: seconds on first use).

    Citations in markdown cells link to the list of ``references`` (the version's cited entries)
    that ends the body.
    """
    import nbformat
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    from gilgamesh.documentation.citations import link_citations

    config = Config()
    config.NbConvertBase.display_data_priority = DISPLAY_PRIORITY
    exporter = HTMLExporter(
        config=config, template_name="basic", exclude_input_prompt=True, exclude_output_prompt=True,
    )
    notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
    references = references or {}
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and "\\cite" in cell.source:
            cell.source = link_citations(cell.source, references, lambda key, _entry: "#" + _anchor(key))
    body, _ = exporter.from_notebook_node(notebook)
    return sanitize_html(body + references_html(references))


def markdown_html(markdown: str) -> str:
    """Markdown as HTML the way notebook cells render (LaTeX kept for KaTeX); not yet sanitized."""
    if not markdown:
        return ""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    return markdown2html_mistune(markdown)


def _kind_html(type_: str, unit: str, optional: bool = False, default: str = "") -> str:
    parts = []
    if type_:
        parts.append(f'<span class="type">{html.escape(type_)}</span>')
    if unit:
        parts.append(f'<span class="unit">[{html.escape(unit)}]</span>')
    if default:
        parts.append(f'<span class="optional">default <code>{html.escape(default)}</code></span>')
    elif optional:
        parts.append('<span class="optional">optional</span>')
    return " ".join(parts)


def _name_html(name: str) -> str:
    return f'<code class="param">{html.escape(name)}</code> ' if name else ""


def docstring_html(text: str) -> str:
    """A docstring (any style) as HTML: summary, description, then each section as a list."""
    from gilgamesh.documentation.docstrings import parse_docstring

    doc = parse_docstring(text)
    out = []
    if doc.summary:
        out.append(f'<div class="doc-summary">{markdown_html(doc.summary)}</div>')
    if doc.description:
        out.append(f'<div class="doc-description">{markdown_html(doc.description)}</div>')
    if doc.parameters:
        items = "".join(
            f'<dt><code class="param">{html.escape(p.name)}</code> {_kind_html(p.type, p.unit, p.optional, p.default)}'
            f"</dt><dd>{markdown_html(p.description)}</dd>" for p in doc.parameters)
        out.append(f'<h4 class="doc-section">Parameters</h4><dl class="doc-params">{items}</dl>')
    if doc.returns:
        items = "".join(
            f"<dt>{_name_html(r.name)}{_kind_html(r.type, r.unit)}"
            f"</dt><dd>{markdown_html(r.description)}</dd>" for r in doc.returns)
        out.append(f'<h4 class="doc-section">Returns</h4><dl class="doc-returns">{items}</dl>')
    if doc.raises:
        items = "".join(f'<dt><code class="exception">{html.escape(r.type)}</code></dt>'
                        f"<dd>{markdown_html(r.description)}</dd>" for r in doc.raises)
        out.append(f'<h4 class="doc-section">Raises</h4><dl class="doc-raises">{items}</dl>')
    for title, body in (("Notes", doc.notes), ("References", doc.references), ("Examples", doc.examples)):
        if body:
            out.append(f'<h4 class="doc-section">{title}</h4><div class="doc-{title.lower()}">{markdown_html(body)}</div>')
    return "".join(out)


def render_api_reference(data: bytes) -> str:
    """The sanitized HTML of a notebook's public functions and classes (blocking), read statically."""
    from gilgamesh.registry.surface.static_docs import from_notebook

    model = from_notebook(data)
    sections = []
    for m in model.members:
        prefix = "class " if m.kind == "class" else ""
        sections.append(
            f'<div class="member" id="api-{html.escape(m.name)}">'
            f'<h3><code>{prefix}{html.escape(m.name + m.signature)}</code></h3>{docstring_html(m.doc)}</div>')
    if not sections:
        return ""
    return sanitize_html('<h2 id="api-reference-title">API reference</h2>' + "".join(sections))


class DocsCache:
    """Rendered pages (notebook body, API reference) by sha256, the most recent ``size`` of them."""

    def __init__(self, size: int = 64):
        self.size = size
        self._items: collections.OrderedDict[str, tuple[str, str]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, sha256: str) -> tuple[str, str] | None:
        with self._lock:
            html = self._items.get(sha256)
            if html is not None:
                self._items.move_to_end(sha256)
            return html

    def put(self, sha256: str, html: tuple[str, str]) -> None:
        with self._lock:
            self._items[sha256] = html
            self._items.move_to_end(sha256)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
