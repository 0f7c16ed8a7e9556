"""Cross-site scripting: a notebook full of script, opened in headless Chromium, runs none of it.

The notebook carries script tags, event handlers, ``javascript:`` URLs, iframes, SVG with script,
JavaScript outputs and HTML outputs, in its markdown, its outputs, its metadata (summary, authors)
and its endpoint docstring. It is published through the service (validation included), then its
docs page, its web UI page and the index are opened in Debian's Chromium, twice: once as served
(Content-Security-Policy on) and once with the CSP bypassed, so that the sanitizer alone must
hold. Every payload would record itself in ``window.top.__xss`` and request ``/xss-beacon/...``;
neither may happen, and the page's DOM may hold no handler, no script of the notebook's, no
``javascript:`` URL and no frame.
"""

from __future__ import annotations

import json
import os
import re

import pytest
import requests

import nbfactory as f
from support import CHROMIUM, CHROMIUM_ARGS



def js(label: str) -> str:
    """A payload that, if it ever runs, leaves two traces (no double quotes: it sits in attributes)."""
    return (f"window.top.__xss=(window.top.__xss||[]).concat(['{label}']);"
            f"new Image().src='/xss-beacon/{label}'")


MARKDOWN = "\n\n".join([
    "# hostile\n\nA notebook that tries to run script in the reader's browser.",
    f"<script>{js('md-script')}</script>",
    f'<img src="x" onerror="{js("md-img-onerror")}">',
    f'<svg onload="{js("md-svg-onload")}"><circle r="4"/></svg>',
    f'<a id="js-link" href="javascript:{js("md-js-link")}">a javascript: link</a>',
    f'<iframe srcdoc="<script>{js("md-iframe")}</script>"></iframe>',
    f'<div id="hover-me" onmouseover="{js("md-mouseover")}">hover over me</div>',
    f'<details open ontoggle="{js("md-ontoggle")}"><summary>s</summary>x</details>',
    f'<object data="javascript:{js("md-object")}"></object><embed src="javascript:{js("md-embed")}">',
    f'<math><mtext><table><mglyph><style><img src=x onerror="{js("md-mxss")}">',
    f'<form action="javascript:{js("md-form")}"><button id="form-button">submit</button></form>',
    f'<meta http-equiv="refresh" content="0;url=javascript:{js("md-meta")}">',
    f"[a markdown link](javascript:{js('md-markdown-link')})",
    f"An equation with a link: $\\href{{javascript:{js('md-katex-href')}}}{{x}}$.",
])

OUTPUT_BUNDLES = [
    {"text/html": f"<b>html output</b><script>{js('out-html-script')}</script>"
                  f'<img src="x" onerror="{js("out-html-onerror")}">'},
    {"application/javascript": js("out-javascript"), "text/plain": "javascript output"},
    {"image/svg+xml": f'<svg xmlns="http://www.w3.org/2000/svg" onload="{js("out-svg-onload")}">'
                      f"<script>{js('out-svg-script')}</script></svg>"},
    {"text/markdown": f'markdown output <img src="x" onerror="{js("out-markdown")}">'},
]
PRINTED = f"<script>{js('out-stream')}</script>"


def hostile_notebook() -> bytes:
    example_source = "from IPython.display import display\n" + "".join(
        f"display({json.dumps(bundle)}, raw=True)\n" for bundle in OUTPUT_BUNDLES) + f"print({PRINTED!r})"
    outputs = [{"output_type": "display_data", "data": b, "metadata": {}} for b in OUTPUT_BUNDLES]
    outputs.append({"output_type": "stream", "name": "stdout", "text": PRINTED + "\n"})
    cells = [
        f.markdown(MARKDOWN),
        f.code(f'def probe(x: float) -> float:\n    """Doubles x. <img src=x onerror="{js("docstring")}">"""\n    return 2 * x'),
        f.code(example_source, "example", outputs=outputs),
    ]
    nb = f.notebook("hostile", "1.0.0", cells, endpoints=["probe"],
                    summary=f"Hostile <script>{js('summary')}</script> summary",
                    authors=[f'<img src=x onerror="{js("author")}">'])
    nb["cells"][2]["execution_count"] = 1
    return f.to_bytes(nb)


# What the DOM of a page may not hold once the notebook is in it.
DOM_PROBE = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      if (a.name.startsWith('on')) bad.push(el.tagName + '[' + a.name + ']');
      if (/^\\s*javascript:/i.test(a.value)) bad.push(el.tagName + '[' + a.name + '=javascript:]');
    }
  }
  for (const s of document.querySelectorAll('script')) {
    if (!s.src || new URL(s.src).origin !== location.origin) bad.push('script ' + (s.src || s.textContent.slice(0, 40)));
  }
  for (const el of document.querySelectorAll('iframe, object, embed, frame, meta[http-equiv], base')) bad.push(el.tagName);
  return bad;
}"""


@pytest.mark.browser
def test_nothing_a_notebook_carries_runs_in_the_browser(seeded_service, figures):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: 'make browser' installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    s = seeded_service
    published = requests.post(s.url + "/api/notebooks", data=hostile_notebook(), headers=s.auth(), timeout=300)
    assert published.status_code in (200, 201), published.text
    pages = ["/docs/hostile/1", "/ui/hostile", "/"]

    ran, beacons, dialogs, outside, dom = [], [], [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for bypass_csp in (False, True):
                context = browser.new_context(bypass_csp=bypass_csp)

                def route(r, mode="csp bypassed" if bypass_csp else "csp on"):
                    url = r.request.url
                    if "/xss-beacon/" in url:
                        beacons.append((mode, url))
                        r.abort()
                    elif url.startswith(s.url):
                        r.continue_()
                    else:
                        outside.append((mode, url))
                        r.abort()

                context.route("**/*", route)
                page = context.new_page()
                page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
                for path in pages:
                    page.goto(s.url + path, wait_until="networkidle")
                    if path.startswith("/docs/"):
                        assert "hover over me" in page.inner_text("body")  # the notebook is on the page
                        page.hover("#hover-me")
                        for selector in ("#js-link", "#form-button"):
                            if page.locator(selector).count():
                                page.click(selector, timeout=5000)
                                page.wait_for_load_state("networkidle")
                                if not page.url.startswith(s.url + path):
                                    page.goto(s.url + path, wait_until="networkidle")
                    ran += [(bypass_csp, path, x) for x in page.evaluate("window.top.__xss || []")]
                    dom += [(bypass_csp, path, x) for x in page.evaluate(DOM_PROBE)]
                context.close()
        finally:
            browser.close()
    assert not ran, f"notebook script ran: {ran}"
    assert not beacons, f"notebook script ran: {beacons}"
    assert not dialogs and not outside, (dialogs, outside)
    assert not dom, f"the page holds live markup from the notebook: {dom}"
    payloads = len(set(re.findall(r"xss-beacon/([\w-]+)", hostile_notebook().decode())))
    assert payloads == 24
    figures("script payloads in one notebook (markdown, outputs, metadata, docstring)", payloads)
    figures("pages opened in Chromium x (CSP on, CSP bypassed): payloads that ran", 0)
