"""Docs that cannot drift: every CLI command, HTTP route and setting is documented.

The lists come from the code itself (the argparse parser, the Tornado route table, the settings
table), never from a copy here, so a command, route or setting added without its line in the
README or the guide fails this test. (datasette's tests/test_docs.py does the same.)
"""

from __future__ import annotations

import argparse
import json
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _read(*parts: str) -> str:
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def _docs() -> str:
    return _read("README.md") + "\n" + _read("docs", "guide.md")


# -- the command line ------------------------------------------------------------------------------
def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and subcommand of ``parser``, walking its subparsers: ``("token", "create")``."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append(prefix + (name,))
                found += _commands(sub, prefix + (name,))
    return found


def _cli_commands() -> list[tuple[str, ...]]:
    from gilgamesh.cli import build_parser

    return _commands(build_parser())


def _mentions_command(text: str, command: tuple[str, ...]) -> bool:
    """``gilgamesh token create`` (words separated by any whitespace, a line break included)."""
    return re.search(r"\bgilgamesh\s+" + r"\s+".join(map(re.escape, command)) + r"(?![\w-])", text) is not None


def test_the_cli_has_commands_and_subcommands():
    commands = _cli_commands()
    assert ("publish",) in commands and ("token", "create") in commands  # the walk reaches both levels


@pytest.mark.parametrize("command", _cli_commands(), ids=" ".join)
def test_every_cli_command_is_documented(command):
    assert _mentions_command(_docs(), command), (
        f"`gilgamesh {' '.join(command)}` is not mentioned in README.md or docs/guide.md")


# -- the HTTP routes -------------------------------------------------------------------------------
_GROUP = re.compile(r"\((?!\?)((?:[^()\\]|\\.)*)\)")


def _route_path(pattern: str) -> str:
    """A route's regex as the docs spell it: ``/api/notebooks/([^/]+)/?$`` is ``/api/notebooks/{}``.

    A group holding a literal (tornado's ``/(favicon\\.ico)``) is that literal; any other group
    is a ``{}`` placeholder (the docs name it, ``{name}``, ``{spec}``; the name is not compared).
    """
    path = pattern.removesuffix("$").removesuffix("/?")

    def group(m: re.Match) -> str:
        inner = m.group(1)
        literal = re.sub(r"\\(.)", r"\1", inner)
        return literal if re.fullmatch(r"[\w.-]+", literal) and not re.search(r"(?<!\\)[.*+?\[\]]", inner) else "{}"

    path = _GROUP.sub(group, path)
    return re.sub(r"\\(.)", r"\1", path) or "/"


def _methods(target) -> tuple[str, ...]:
    """The HTTP methods a route's handler implements (OPTIONS and HEAD come with every route)."""
    import tornado.web

    if isinstance(target, type) and issubclass(target, tornado.web.RequestHandler):
        base = tornado.web.RequestHandler
        return tuple(m for m in METHODS if getattr(target, m.lower()) is not getattr(base, m.lower()))
    return ()  # the model calls' fast path (not a RequestHandler): any documented method will do


@pytest.fixture(scope="module")
def routes(tmp_path_factory) -> list[tuple[str, tuple[str, ...]]]:
    """``(path, methods)`` of every rule of the real application's route table."""
    from gilgamesh.registry.store.git_store import init_registry
    from gilgamesh.service.app import make_app

    root = str(tmp_path_factory.mktemp("docs") / "registry")
    init_registry(root)
    app = make_app(root)
    found = []
    for rule in app.wildcard_router.rules:
        found.append((_route_path(rule.matcher.regex.pattern), _methods(rule.target)))
    return found


def _documented_routes(text: str) -> set[tuple[str, str]]:
    """``(METHOD, path)`` for every ``GET /path`` (or ``GET, POST /path``) the docs mention, with
    each ``{placeholder}`` as ``{}``."""
    methods = "|".join(METHODS)
    found = set()
    for m in re.finditer(rf"\b((?:{methods})(?:\s*[,/]\s*(?:{methods}))*)\s+(/[^\s`'\")|,;]*)", text):
        path = re.sub(r"\{[^}/]*\}", "{}", m.group(2).split("?")[0].split("#")[0])
        path = path.rstrip(".:") if len(path) > 1 else path
        for method in re.findall(methods, m.group(1)):
            found.add((method, path))
    return found


def test_route_paths_read_as_the_docs_spell_them():
    assert _route_path(r"/api/notebooks/([^/]+)/([^/]+)/?$") == "/api/notebooks/{}/{}"
    assert _route_path(r"/openapi\.json$") == "/openapi.json"
    assert _route_path(r"/(favicon\.ico)$") == "/favicon.ico"
    assert _route_path(r"/static/(.*)$") == "/static/{}"
    assert _route_path(r"/$") == "/"
    assert ("POST", "/api/notebooks/{}/{}/yank") in _documented_routes(
        "`POST /api/notebooks/{name}/{version}/yank` (`DELETE` unyanks); `GET, POST /login`")
    assert ("POST", "/login") in _documented_routes("`GET, POST /login`")


def test_the_route_table_is_read(routes):
    paths = dict(routes)
    assert paths["/api/notebooks"] == ("GET", "POST") and "/models/{}/{}/{}" in paths
    assert len(routes) > 15


def test_every_http_route_is_documented(routes):
    documented = _documented_routes(_docs())
    missing = []
    for path, methods in routes:
        if methods:
            missing += [f"{m} {path}" for m in methods if (m, path) not in documented]
        elif not any(p == path for _, p in documented):
            missing.append(f"{path} (any method)")
    assert not missing, ("routes of the service that neither README.md nor docs/guide.md documents "
                         "(as `METHOD /path`, placeholders in braces): " + ", ".join(missing))


# -- the settings -----------------------------------------------------------------------------------
OPTIONAL_SETTINGS = ("publishers", "dask_scheduler", "upstreams", "sync_interval")


def _settings_table() -> dict[str, object]:
    """Every setting with its default: the settings table of ``registry/store/settings.py``."""
    from gilgamesh.registry.store import settings

    table = getattr(settings, "SETTINGS", None)
    if table is not None:
        return {name: s.default for name, s in table.items()}
    defaults = dict(settings.DEFAULT_SETTINGS)
    return {**{key: None for key in OPTIONAL_SETTINGS}, **defaults}


def _readme_settings() -> dict[str, str]:
    """``{name: default as written}`` from the README's table of settings (``| setting | default |``)."""
    rows = {}
    in_table = False
    for line in _read("README.md").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.lstrip().startswith("|") else None
        if cells is None:
            in_table = False
        elif cells[:2] == ["setting", "default"]:
            in_table = True
        elif in_table and re.fullmatch(r"`\w+`", cells[0]):
            rows[cells[0].strip("`")] = cells[1]
    return rows


def test_the_readme_has_a_settings_table():
    assert "validation_timeout" in _readme_settings()


@pytest.mark.parametrize("name", sorted(set(_settings_table()) | set(OPTIONAL_SETTINGS)))
def test_every_setting_is_in_the_readme_table(name):
    documented = _readme_settings()
    assert name in documented, f"the setting {name!r} is not a row of README.md's table of settings"
    written = documented[name].strip("`")
    try:
        value = json.loads(written)
    except ValueError:
        return  # a default the README says in words ("true where bwrap is installed at init")
    assert value == _settings_table().get(name), (
        f"README.md gives {name!r} the default {written}, the settings table {_settings_table().get(name)!r}")
