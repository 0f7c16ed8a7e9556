"""The ``gilgamesh`` command line (README, Using it; docs/architecture.md, The entry points).

Exit codes: 0 success, 1 a refused or failed operation (the message says why), 2 a usage error.
``--json`` prints one JSON document on stdout; errors then print the service's error envelope.
Heavy modules (git, nbformat, tornado) are imported by the commands that need them only. The
commands are a table (:data:`COMMANDS`), one module a group in :mod:`gilgamesh.cli.commands`.
"""

from __future__ import annotations

import argparse
import json
import sys

from gilgamesh.cli.commands import authoring, reading, records, site
from gilgamesh.errors import GilgameshError, InvalidName, InvalidSpec, InvalidVersion
from gilgamesh.jsonschema_formats import skip_iri_format_checker

__all__ = ["main", "build_parser", "COMMANDS"]

_BY_NAME = {c.name: c for group in (site, authoring, reading, records) for c in group.COMMANDS}
# The order of `gilgamesh --help`: what a user meets first.
ORDER = ("init", "publish", "validate", "list", "versions", "resolve", "show", "fork", "run", "diff", "lock",
         "sync", "yank", "unyank", "deprecate", "undeprecate", "dependents", "bib", "cite", "serve", "token",
         "kernel")
COMMANDS = [_BY_NAME[name] for name in ORDER]


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--registry", metavar="PATH_OR_URL",
                        help="registry directory or http(s):// URL (default: $GILGAMESH_REGISTRY or ~/.gilgamesh/registry)")
    common.add_argument("--json", action="store_true", help="print one JSON document instead of text")

    parser = argparse.ArgumentParser(
        prog="gilgamesh",
        description="Versioned scientific models as documented notebooks: publish, import, document, serve.",
        epilog="Exit status: 0 success, 1 refused or failed (the message says why), 2 usage error.",
    )
    # Also accepted before the command (`gilgamesh --registry R list`); the command's own wins.
    parser.add_argument("--registry", dest="global_registry", metavar="PATH_OR_URL", help=argparse.SUPPRESS)
    parser.add_argument("--json", dest="global_json", action="store_true", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    for command in COMMANDS:
        extra = {"epilog": command.epilog} if command.epilog else {}
        p = sub.add_parser(command.name, parents=[common], help=command.help, description=command.help, **extra)
        p.set_defaults(func=command.run, command_parser=p)
        if command.arguments is not None:
            command.arguments(p, common)
    return parser


def _parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse ARGV; options may come between a command's positionals (``fork A --bump patch PATH``).

    argparse alone stops filling positionals at the first option, and reports what is left over
    with the top-level usage; the command's own parser re-reads its arguments intermixed instead,
    and any error then shows that command's usage.
    """
    args, extras = parser.parse_known_args(argv)
    if not extras:
        return args
    command_parser = args.command_parser
    if args.command in ("token", "kernel", "bib"):  # nested actions: argparse cannot intermix them
        command_parser.error("unrecognized arguments: " + " ".join(extras))
    argv = sys.argv[1:] if argv is None else list(argv)
    intermixed = command_parser.parse_intermixed_args(argv[argv.index(args.command) + 1:])
    intermixed.command = args.command
    intermixed.global_registry, intermixed.global_json = args.global_registry, args.global_json
    return intermixed


def main(argv: list[str] | None = None) -> int:
    skip_iri_format_checker()  # nbformat's import costs 1.3 s more without this where JupyterLab is installed
    parser = build_parser()
    args = _parse(parser, argv)
    if hasattr(args, "registry"):
        args.registry = args.registry or args.global_registry
        args.json = args.json or args.global_json
    try:
        return args.func(args)
    except GilgameshError as e:
        if isinstance(e, (InvalidName, InvalidSpec, InvalidVersion)):
            # Only the command's own arguments raise these here (notebook content is reported
            # through the publish report), so they are usage errors.
            e.exit_code = 2
        if getattr(args, "json", False):
            print(json.dumps(e.envelope(), indent=2))
        print(f"error: {e}", file=sys.stderr)
        if e.exit_code == 2:
            print(f"usage: see 'gilgamesh {args.command} --help'", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
