"""The web UI: the APIs, each API's versions and endpoints with a try-it form, rendered docs.

The try-it form shows each parameter's unit and the result's (from the docstring's brackets,
``Electron temperature [eV].``), and the result's numbers formatted for reading (``static/app.js``:
4 significant digits, powers of ten for the very large and small) above the exact JSON.

Pages are rendered on the server from the same registry view as the JSON routes; the only
script is the service's own (``static/app.js`` for the forms, KaTeX for equations), which the
pages' Content-Security-Policy enforces. On a ``--private`` service a browser signs in once
with a token (``/login``) and gets a signed cookie naming its user, never the token itself.
"""

from __future__ import annotations

import html
import json

from gilgamesh.documentation.model import format_params
from gilgamesh.environment import describe_environment
from gilgamesh.errors import BibliographyError, GilgameshError, UsageError

from gilgamesh.service.handlers import BaseHandler

__all__ = ["IndexPage", "ApiPage", "DocsPage", "BibliographyPage", "LoginPage", "LogoutPage", "PygmentsCss"]


class PageHandler(BaseHandler):
    """An HTML page: errors too are pages when a browser asks."""

    def prefers_html(self) -> bool:
        # Browsers ask for text/html; API clients (curl's */*, none at all) get the JSON envelope.
        return "text/html" in self.request.headers.get("Accept", "")

    def prepare(self) -> None:
        self.set_header("Content-Security-Policy", self.ctx.page_csp)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "same-origin")
        super().prepare()

    def authorize(self) -> None:
        if self.request.method in self.write_methods:
            return super().authorize()  # a write needs a token allowed to publish, page or not
        # A browser that has not signed in to a private service is sent to the sign-in page.
        if self.ctx.private and self.request.method in self.read_methods and not self.authenticated_user():
            if not self.prefers_html():
                self.require_user(write=False)  # 401 in the error envelope
            self.redirect("/login?next=" + _quote(self.request.uri))

    def get_template_namespace(self) -> dict:
        ns = super().get_template_namespace()
        ns.update(ctx=self.ctx, json=json, esc=html.escape, katex=self.ctx.katex_available,
                  describe_environment=describe_environment)
        return ns


def _quote(value: str) -> str:
    import urllib.parse

    return urllib.parse.quote(value, safe="")


def same_site_path(target: str | None) -> str:
    """``target`` if it is a path of this site, else ``/``: where a sign-in may send a browser.

    Only a path starting with one ``/`` qualifies, with no backslash anywhere (browsers read
    ``/\\host`` as ``//host``, another site) and no control character; ``target`` is the
    already-decoded query value.
    """
    if (not target or not target.startswith("/") or target.startswith("//") or "\\" in target
            or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target)):
        return "/"
    return target


def _endpoint_docs_html(data: bytes, sha256: str) -> dict[str, str]:
    """Each function's docstring as sanitized HTML (blocking: the markdown engine loads once)."""
    from gilgamesh.service.docs import docstring_html, sanitize_html
    from gilgamesh.service.openapi import function_docs

    return {f: sanitize_html(docstring_html(doc)) for f, doc in function_docs(data, sha256).items() if doc}


def _endpoint_units(data: bytes, sha256: str) -> dict[str, dict]:
    """Each function's units as its docstring writes them in brackets (``Electron temperature
    [eV].``): ``{"params": {parameter: unit}, "result": {"": the result's, key: a named value's}}``.

    A docstring with one return gives the whole result its unit (and its name, if numpydoc names
    it); several named returns give the keys of a dict result theirs, and so does one return whose
    description names each field with its unit (``T_e`` [eV]; ``V_f`` and ``V_p`` [V]).
    """
    from gilgamesh.documentation.docstrings import parse_docstring
    from gilgamesh.service.openapi import function_docs

    units = {}
    for function, doc in function_docs(data, sha256).items():
        parsed = parse_docstring(doc)
        result = {r.name: r.unit for r in parsed.returns if r.name and r.unit}
        for r in parsed.returns:  # a dict result whose description gives each field its unit
            result.update(r.field_units)
        if len(parsed.returns) == 1 and parsed.returns[0].unit:
            result[""] = parsed.returns[0].unit
        units[function] = {"params": {p.name: p.unit for p in parsed.parameters if p.unit}, "result": result}
    return units


def _endpoint_docs(data: bytes, sha256: str) -> tuple[dict[str, str], dict[str, dict]]:
    """The docstrings as HTML and the units of every function (blocking)."""
    return _endpoint_docs_html(data, sha256), _endpoint_units(data, sha256)


class IndexPage(PageHandler):
    """``GET /``: every API of the registry."""

    def get(self) -> None:
        self.render("index.html", apis=self.ctx.view.listing())


class ApiPage(PageHandler):
    """``GET /ui/{name}`` and ``/ui/{name}/{spec}``: versions, endpoints and their try-it forms."""

    async def get(self, name: str, spec: str | None = None) -> None:
        view = self.ctx.view
        index = view.api(name)
        name = index.name
        versions = [index.versions[v.text] | {"version": v.text} for v in reversed(list(index.version_set))]
        latest = index.version_set.latest_release()
        if spec:
            resolved = view.resolve(name, spec)
            current, warning = resolved.version, resolved.warning
        else:
            current = latest or (versions[0]["version"] if versions else None)
            warning = None
        entry = index.versions[current]
        try:
            docs, units = await self.run_blocking(_endpoint_docs, view.notebook_bytes(name, current), entry["sha256"])
        except GilgameshError:
            docs, units = {}, {}
        endpoints = []
        for function, signature in sorted((entry.get("endpoints") or {}).items()):
            binder = self.ctx.binder(name, current, function, entry)
            unit = units.get(function) or {"params": {}, "result": {}}
            endpoints.append({
                "name": function,
                "signature": function + format_params(signature),  # `*` and `/` as the notebook wrote them
                "doc": docs.get(function, ""),
                # Each field with the unit its docstring gives it (shown beside it; "" for none).
                "fields": [dict(f, unit=unit["params"].get(f["name"], "")) for f in binder.form_fields()],
                "returns": binder.returns.description,
                "result_units": unit["result"],
                "url": f"/models/{name}/{current}/{function}",
            })
        from gilgamesh.versions import Spec

        used_by = view.reader.dependents(name, Spec(current))["dependents"]
        self.render("api.html", name=name, versions=versions, latest=latest, current=current,
                     entry=entry, warning=warning, endpoints=endpoints, used_by=used_by)


class DocsPage(PageHandler):
    """``GET /docs/{name}/{spec}``: the notebook rendered, sanitized, with equations and figures."""

    async def get(self, name: str, spec: str) -> None:
        resolved = self.ctx.view.resolve(name, spec)
        body, api = await self.ctx.docs_body(resolved.name, resolved.version, resolved.sha256)
        index = self.ctx.view.api(resolved.name)
        others = [v.text for v in reversed(list(index.version_set))]
        self.set_header("Gilgamesh-Version", resolved.version)
        self.render("docs.html", name=resolved.name, version=resolved.version, entry=resolved.entry,
                    body=body, api=api, others=others, warning=resolved.warning)


class BibliographyPage(PageHandler):
    """``GET /bibliography``: the registry's BibTeX entries (a page for browsers, else JSON);
    ``POST`` adds the entries of a BibTeX body (a token is needed; ``?replace=1`` replaces keys).

    Each entry is anchored by its key, so a citation links to ``/bibliography#key``.
    """

    write_methods = ("POST",)

    async def get(self) -> None:
        entries = await self.run_blocking(self.ctx.bibliography)
        rows = [{"key": key, **entry} for key, entry in sorted(entries.items())]
        if self.prefers_html():
            self.render("bibliography.html", entries=rows)
        else:
            self.write_json({"entries": rows})

    async def post(self) -> None:
        user, replace = self.user, self.flag("replace")
        data = self.body()
        if not data:
            raise UsageError("the request body is empty: send the BibTeX file's bytes")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            # The file's content refused (422), as a notebook that is not UTF-8 is: a file upload's
            # schema (/openapi.json) can say bytes, not their encoding.
            problem = f"not UTF-8 text (byte {e.start})"
            raise BibliographyError(f"the request body was refused: {problem}", details=[problem]) from None
        self.write_json(await self.run_blocking(self.ctx.add_bibliography, text, user, replace))


class LoginPage(PageHandler):
    """``GET/POST /login``: a browser signs in to a private service with a token."""

    read_methods = ()

    def get(self) -> None:
        self.render("login.html", error=None, next=self._next())

    def _next(self) -> str:
        return same_site_path(self.get_argument("next", "/"))

    def post(self) -> None:
        token = self.get_body_argument_from_stream("token")
        user = self.ctx.verify_token(token) if token else None
        if user is None:
            self.set_status(401)
            self.render("login.html", error="That token is not known to this registry.", next=self._next())
            return
        self.set_signed_cookie("gilgamesh_user", user, expires_days=7, httponly=True, samesite="Strict")
        self.redirect(self._next())

    def get_body_argument_from_stream(self, key: str) -> str:
        import urllib.parse

        fields = urllib.parse.parse_qs(self.body().decode("utf-8", "replace"))
        return (fields.get(key) or [""])[0].strip()


class LogoutPage(PageHandler):
    """``POST /logout``: forget the browser's sign-in."""

    read_methods = ()

    def post(self) -> None:
        self.clear_cookie("gilgamesh_user")
        self.redirect("/")


class PygmentsCss(BaseHandler):
    """``GET /vendor/pygments.css``: code highlighting colours for the docs pages."""

    read_methods = ()
    _css: bytes | None = None

    def get(self) -> None:
        if PygmentsCss._css is None:
            from pygments.formatters import HtmlFormatter

            PygmentsCss._css = HtmlFormatter(style="default").get_style_defs(".highlight").encode()
        self.set_header("Content-Type", "text/css; charset=UTF-8")
        self.set_header("Cache-Control", "public, max-age=3600")
        self.finish(PygmentsCss._css)
