"""What every command shares: the registry it names, its output, argument types."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Callable, NamedTuple

from gilgamesh.config import is_url, registry_location
from gilgamesh.errors import UsageError
from gilgamesh.versions import parse_name_spec

__all__ = ["Command", "emit", "progress", "location_of", "registry_of", "local_root", "exact", "bounded",
           "token_argument"]


class Command(NamedTuple):
    """One ``gilgamesh`` command: its name, what runs it, its help and its own arguments."""

    name: str
    run: Callable
    help: str
    arguments: Callable | None = None  # (its parser, the parser of the options every command takes)
    epilog: str | None = None


def emit(args, data, text: str | None = None) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False))
    elif text is not None:
        print(text)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def location_of(args) -> str:
    explicit = getattr(args, "registry", None) or os.environ.get("GILGAMESH_REGISTRY") or ""
    if "://" in explicit and not is_url(explicit):  # else it would become a relative directory
        raise UsageError(f"unsupported registry URL {explicit!r}: give a directory or an http(s):// URL")
    return registry_location(getattr(args, "registry", None))


def registry_of(args):
    from gilgamesh.registry.facade import open_registry

    return open_registry(location_of(args), token=getattr(args, "token", None))


def token_argument(p) -> None:
    """``--token``, of the commands that write to a registry over HTTP (publish, yank, bib add ...)."""
    p.add_argument("--token", metavar="TOKEN",
                   help="the publish token sent to an http(s) registry (default: $GILGAMESH_TOKEN, which keeps it "
                        "out of the shell history and the process list; a registry directory needs none)")


def local_root(args, what: str) -> str:
    location = location_of(args)
    if is_url(location):
        raise UsageError(f"'{what}' needs a registry directory, not a URL ({location})")
    return location


def exact(text: str) -> tuple[str, str]:
    name, spec = parse_name_spec(text)
    if spec.exact is None:
        raise UsageError(f"{text!r} must name an exact version, e.g. {name}@1.2.0")
    return name, spec.text


def bounded(kind, low, high=None):
    """An argparse type: a ``kind`` number in [low, high], or a usage error naming the bounds."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {text}")
        return value
    return parse
