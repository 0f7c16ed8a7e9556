"""Commands that withdraw or deprecate a version (records on the log): yank, unyank, deprecate, undeprecate."""

from __future__ import annotations

import sys

from gilgamesh.cli.common import Command, emit, exact, registry_of, token_argument
from gilgamesh.errors import UsageError


def _yank(args, reason: str | None) -> int:
    name, version = exact(args.spec)
    entry = registry_of(args).set_yanked(name, version, reason)
    verb = "Yanked" if reason is not None else "Unyanked"
    data = {"name": name, **entry}
    dependents = entry.get("dependents")
    if dependents:
        named = ", ".join(f"{d['name']}@{d['version']}" for d in dependents)
        print(f"warning: {len(dependents)} published version(s) depend on {name}@{version}: {named}",
              file=sys.stderr)
    emit(args, data, f"{verb} {name}@{version}" + (f": {reason}" if reason else ""))
    return 0


def _deprecate(args, message: str | None) -> int:
    name, version = exact(args.spec)
    entry = registry_of(args).set_deprecated(name, version, message)
    text = f"Deprecated {name}@{version}: {message}" if message else f"Undeprecated {name}@{version}"
    emit(args, {"name": name, **entry}, text)
    return 0


def cmd_yank(args) -> int:
    if not args.reason.strip():
        raise UsageError("--reason must say why the version is withdrawn")
    return _yank(args, args.reason.strip())


def cmd_unyank(args) -> int:
    return _yank(args, None)


def cmd_deprecate(args) -> int:
    if not args.message.strip():
        raise UsageError("--message must tell its users what to do instead, e.g. 'use 1.3'")
    return _deprecate(args, args.message.strip())


def cmd_undeprecate(args) -> int:
    return _deprecate(args, None)



def _yank_arguments(p, common) -> None:
    p.add_argument("spec", metavar="NAME@VERSION")
    p.add_argument("--reason", required=True, help="why it is withdrawn (shown to its users)")
    token_argument(p)


def _unyank_arguments(p, common) -> None:
    p.add_argument("spec", metavar="NAME@VERSION")
    token_argument(p)


def _deprecate_arguments(p, common) -> None:
    p.add_argument("spec", metavar="NAME@VERSION")
    p.add_argument("--message", required=True, metavar="M", help="what its users should do instead")
    token_argument(p)


def _undeprecate_arguments(p, common) -> None:
    p.add_argument("spec", metavar="NAME@VERSION")
    token_argument(p)


COMMANDS = [
    Command("yank", cmd_yank, "withdraw a version (reversible; ranges skip it, exact pins warn)", _yank_arguments),
    Command("unyank", cmd_unyank, "undo a yank", _unyank_arguments),
    Command("deprecate", cmd_deprecate, "mark a version deprecated: it still imports, with a warning carrying M",
            _deprecate_arguments),
    Command("undeprecate", cmd_undeprecate, "undo a deprecation", _undeprecate_arguments),
]
