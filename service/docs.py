"""A published notebook rendered as an HTML page body: narrative, equations, code, figures.

nbconvert renders the cells (its ``basic`` template: the body only, no scripts of its own, and
images embedded as ``data:`` URIs); ammonia (``nh3``) then keeps only inert markup, so nothing a
notebook carries (``<script>``, event handlers, ``javascript:`` links, widget JavaScript, SVG with
scripts) can run in the page. The page template adds KaTeX from the service's own static files,
so equations render without internet; its Content-Security-Policy allows scripts from the
service alone, a second wall behind the sanitizer.

Rendering is slow (nbconvert imports in about a second, a page takes ~0.2 s), so it runs in an
executor and is cached by sha256 (published content never changes).
"""

from __future__ import annotations

import collections
import threading

__all__ = ["render_notebook_body", "sanitize_html", "DocsCache", "DISPLAY_PRIORITY"]

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


def render_notebook_body(data: bytes) -> str:
    """The sanitized HTML of a notebook's cells (blocking: seconds on first use)."""
    import nbformat
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    config = Config()
    config.NbConvertBase.display_data_priority = DISPLAY_PRIORITY
    exporter = HTMLExporter(
        config=config, template_name="basic", exclude_input_prompt=True, exclude_output_prompt=True,
    )
    notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
    body, _ = exporter.from_notebook_node(notebook)
    return sanitize_html(body)


class DocsCache:
    """Rendered bodies by sha256, the most recent ``size`` of them."""

    def __init__(self, size: int = 64):
        self.size = size
        self._items: collections.OrderedDict[str, str] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, sha256: str) -> str | None:
        with self._lock:
            html = self._items.get(sha256)
            if html is not None:
                self._items.move_to_end(sha256)
            return html

    def put(self, sha256: str, html: str) -> None:
        with self._lock:
            self._items[sha256] = html
            self._items.move_to_end(sha256)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
