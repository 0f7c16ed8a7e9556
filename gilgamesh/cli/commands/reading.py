"""Commands that read a registry: list, versions, resolve, show, dependents, bib, cite."""

from __future__ import annotations

import os
import sys

from gilgamesh.cli.common import Command, emit, registry_of, token_argument
from gilgamesh.errors import UsageError
from gilgamesh.versions import check_name, parse_name_spec


def _list_text(rows: list[dict]) -> str:
    return "\n".join(
        f"{r['name']:<20} {r['latest'] or '-':<12} {len(r['versions']):>3} versions  {r['summary']}" for r in rows
    ) or "The registry is empty."


def _resolved_text(data: dict) -> str:
    """The lines ``resolve`` prints (and ``show`` ends with)."""
    from gilgamesh.environment import describe_environment

    deps = ", ".join(f"{n}@{v}" for n, v in data["dependencies"].items()) or "none"
    lines = [f"{data['name']}@{data['version']}", f"sha256:       {data['sha256']}", f"dependencies: {deps}",
             f"environment:  {describe_environment(data['environment'])}"]
    if data["yanked"]:
        lines.append(f"yanked:       {data['yank_reason']}")
    if data["deprecated"]:
        lines.append(f"deprecated:   {data['deprecation_message']}")
    from gilgamesh.registry.compat.behaviour_changes import changed_lines

    lines += changed_lines(data.get("changed"))
    return "\n".join(lines)


def cmd_list(args) -> int:
    rows = registry_of(args).listing()
    emit(args, rows, _list_text(rows))
    return 0


def cmd_versions(args) -> int:
    rows = registry_of(args).versions(check_name(args.name))
    lines = []
    for r in rows:
        flag = f"  YANKED: {r['yank_reason']}" if r["yanked"] else ("  (pre-release)" if r["prerelease"] else "")
        if r["deprecated"]:
            flag += f"  deprecated: {r['deprecation_message']}"
        lines.append(f"{r['version']:<14} {r['published_at'] or '':<26} {r['sha256'][:12]}{flag}")
    emit(args, rows, "\n".join(lines))
    return 0


def cmd_resolve(args) -> int:
    name, spec = parse_name_spec(args.spec)
    data = registry_of(args).resolved(name, spec)
    if data["warning"] and not args.json:
        print(f"warning: {data['warning']}", file=sys.stderr)
    emit(args, data, _resolved_text(data))
    return 0


def cmd_show(args) -> int:
    from gilgamesh.documentation.render import to_terminal

    name, spec = parse_name_spec(args.spec)
    registry = registry_of(args)
    data = registry.resolved(name, spec)
    text = to_terminal(registry.documentation(name, spec))
    data["text"] = text
    emit(args, data, text.rstrip("\n") + "\n\n" + _resolved_text(data))
    return 0


def cmd_dependents(args) -> int:
    name, spec = parse_name_spec(args.spec)
    if spec.is_unpinned:
        raise UsageError(f"'dependents' needs NAME@SPEC, e.g. {name}@1 (every 1.x) or {name}@1.0.0")
    data = registry_of(args).dependents(name, spec)
    rows = [f"{d['name']}@{d['version']}  (depends on {d['depends_on']})"
            + ("  YANKED" if d["yanked"] else "") + ("  deprecated" if d["deprecated"] else "")
            for d in data["dependents"]]
    chosen = ", ".join(data["versions"]) or "none"
    head = f"{name}@{spec.text} chooses {chosen}; "
    text = head + (f"{len(rows)} published version(s) depend on it:\n" + "\n".join(rows) if rows
                   else "no published version depends on it")
    emit(args, data, text)
    return 0


def cmd_bib(args) -> int:
    registry = registry_of(args)
    if args.bib_command == "list":
        entries = registry.bibliography()
        rows = [{"key": key, **entry} for key, entry in sorted(entries.items())]
        text = "\n".join(f"{r['key']:<24} {r['text']}" for r in rows) or "The bibliography is empty (add one with 'gilgamesh bib add refs.bib')."
        emit(args, {"entries": rows}, text)
        return 0
    try:
        with open(args.file, "rb") as f:
            data = f.read()
    except OSError as e:
        raise UsageError(f"cannot read {args.file}: {e.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UsageError(f"{args.file} is not UTF-8 text (byte {e.start}): save the BibTeX file as UTF-8") from None
    source = os.path.basename(args.file)
    out = registry.add_bibliography(text, source, replace=args.replace)
    parts = [f"{len(out['added'])} added"] + ([f"{len(out['replaced'])} replaced"] if out["replaced"] else [])
    parts.append(f"{len(out['unchanged'])} unchanged")
    emit(args, out, f"{source}: {', '.join(parts)}; the bibliography holds {out['entries']} entries")
    return 0


def cmd_cite(args) -> int:
    name, spec = parse_name_spec(args.spec)
    out = registry_of(args).citation(name, spec)
    emit(args, out, out["bibtex"].rstrip("\n"))
    return 0



def _versions_arguments(p, common) -> None:
    p.add_argument("name", help="API name, e.g. langmuir")


def _resolve_arguments(p, common) -> None:
    p.add_argument("spec", metavar="NAME@SPEC", help="e.g. langmuir@1.2")


def _show_arguments(p, common) -> None:
    p.add_argument("spec", metavar="NAME@SPEC", help="e.g. langmuir@1.2")


def _dependents_arguments(p, common) -> None:
    p.add_argument("spec", metavar="NAME@SPEC", help="e.g. plasma@1.0.0, or plasma@1 for every 1.x")


def _bib_arguments(p, common) -> None:
    bsub = p.add_subparsers(dest="bib_command", metavar="ACTION")
    bsub.required = True
    bp = bsub.add_parser("add", parents=[common], help="add the entries of a BibTeX file",
                         description="add the entries of a BibTeX file to the registry's bibliography")
    bp.add_argument("file", metavar="FILE", help="a BibTeX file (.bib), UTF-8")
    bp.add_argument("--replace", action="store_true", help="replace entries whose key is there already")
    token_argument(bp)
    bp.set_defaults(command_parser=bp)
    bp = bsub.add_parser("list", parents=[common], help="list the entries", description="list the bibliography's entries")
    bp.set_defaults(command_parser=bp)


def _cite_arguments(p, common) -> None:
    p.add_argument("spec", metavar="NAME@SPEC", help="e.g. langmuir@1.2")


COMMANDS = [
    Command("list", cmd_list, "list the APIs: name, latest release, versions, summary", None),
    Command("versions", cmd_versions, "list the versions of one API", _versions_arguments),
    Command("resolve", cmd_resolve, "show which version NAME@SPEC chooses", _resolve_arguments),
    Command("show", cmd_show, "print an API version's documentation", _show_arguments),
    Command("dependents", cmd_dependents, "list the published versions that depend on a version NAME@SPEC chooses",
            _dependents_arguments),
    Command("bib", cmd_bib, "the registry's bibliography, which notebooks cite with \\cite{key} (add FILE, list)",
            _bib_arguments),
    Command("cite", cmd_cite, "print the BibTeX entry that cites a version (NAME@SPEC)", _cite_arguments),
]
