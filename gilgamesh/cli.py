"""The ``gilgamesh`` command line (DESIGN.md section 7).

Exit codes: 0 success, 1 a refused or failed operation (the message says why), 2 a usage error.
``--json`` prints one JSON document on stdout; errors then print the service's error envelope.
Heavy modules (git, nbformat, tornado) are imported by the commands that need them only.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys

from gilgamesh.config import is_url, registry_location
from gilgamesh.errors import GilgameshError, InvalidName, InvalidSpec, InvalidVersion, UsageError
from gilgamesh.versions import Spec, Version, check_name, parse_name_spec

__all__ = ["main", "build_parser"]


# -- output helpers -------------------------------------------------------------------------
def _emit(args, data, text: str | None = None) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False))
    elif text is not None:
        print(text)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _location(args) -> str:
    explicit = getattr(args, "registry", None) or os.environ.get("GILGAMESH_REGISTRY") or ""
    if "://" in explicit and not is_url(explicit):  # else it would become a relative directory
        raise UsageError(f"unsupported registry URL {explicit!r}: give a directory or an http(s):// URL")
    return registry_location(getattr(args, "registry", None))


def _registry(args):
    from gilgamesh.registry.facade import open_registry

    return open_registry(_location(args))


def _local_root(args, what: str) -> str:
    location = _location(args)
    if is_url(location):
        raise UsageError(f"'{what}' needs a registry directory, not a URL ({location})")
    return location


def _exact(text: str) -> tuple[str, str]:
    name, spec = parse_name_spec(text)
    if spec.exact is None:
        raise UsageError(f"{text!r} must name an exact version, e.g. {name}@1.2.0")
    return name, spec.text


# -- commands -------------------------------------------------------------------------------
def cmd_init(args) -> int:
    from gilgamesh.registry.store.git_store import init_registry

    root = _local_root(args, "init")
    adopted = init_registry(root).adopted
    if adopted is None:
        _emit(args, {"registry": root, "created": True, "adopted": None}, f"Created registry at {root}")
        return 0
    new = sum(len(v) for v in adopted["versions"].values())
    total = len(adopted["apis"])
    lines = [f"Adopted the registry at {root}: {total} API{'s' if total != 1 else ''}"
             + (f", {new} version(s) newly indexed" if new else ", its index already current")]
    lines += [f"  {name}: {', '.join(versions)}" for name, versions in adopted["versions"].items()]
    if adopted["records"]:
        lines.append(f"  yank or deprecation brought up to date: {', '.join(adopted['records'])}")
    lines.append("  the hook refusing a push that moves or deletes a version tag is installed")
    _emit(args, {"registry": root, "created": False, "adopted": adopted}, "\n".join(lines))
    return 0


def cmd_sync(args) -> int:
    report = _registry(args).sync(args.source, push=args.push)
    lines = []
    for name, versions in report.adopted.items():
        lines.append(f"adopted {name}: {', '.join(versions)}")
    if report.records:
        lines.append(f"yank or deprecation merged: {', '.join(report.records)}")
    bib = report.bibliography
    if bib["added"]:
        lines.append(f"bibliography: {len(bib['added'])} entr{'y' if len(bib['added']) == 1 else 'ies'} added "
                     f"({', '.join(bib['added'])})")
    if report.pushed:
        lines.append(f"pushed {len(report.pushed)} ref(s) to {args.source}")
    if bib["pushed"]:
        lines.append(f"bibliography: {len(bib['pushed'])} entr{'y' if len(bib['pushed']) == 1 else 'ies'} sent "
                     f"to {args.source} ({', '.join(bib['pushed'])})")
    for c in report.conflicts:
        print(f"conflict: {c['name']}@{c['version']} differs at {args.source} (sha256 {c['theirs'][:12]}, "
              f"here {c['ours'][:12]}): this side's version kept, theirs kept apart at {c['kept_at']}",
              file=sys.stderr)
    for c in bib["conflicts"]:
        print(f"conflict: the bibliography entry {c['key']!r} differs at {args.source} ({c['theirs']}, here "
              f"{c['ours']}): this side's entry kept, theirs kept apart at {c['kept_at']}", file=sys.stderr)
    for r in report.refused + report.push_rejected:
        print(f"refused: {r['ref']}: {r['reason']}", file=sys.stderr)
    if not lines:
        lines.append(f"Nothing to sync: up to date with {args.source}" if report.ok else "Nothing else synced")
    _emit(args, report.to_dict(), "\n".join(lines))
    return 0 if report.ok else 1


def _read_notebook_files(paths: list[str]) -> list[tuple[str, bytes]]:
    files = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                files.append((path, f.read()))
        except OSError as e:
            raise UsageError(f"cannot read {path}: {e.strerror}") from None
    return files


def _publish_many(args, dry_run: bool) -> int:
    files = _read_notebook_files(args.notebooks)
    verb = "validating" if dry_run else "publishing"
    on_start = None if args.json else (lambda path: _progress(f"{verb} {path} ..."))
    results = _registry(args).publish_many(files, dry_run=dry_run, on_start=on_start)
    for r in results:
        if not r["ok"]:
            message = f"{r['path']}: {r.pop('exception')}"
            print(message.replace("gilgamesh run NOTEBOOK.ipynb", f"gilgamesh run {shlex.quote(r['path'])}"),
                  file=sys.stderr)
        elif not args.json:
            label = f"{r['name']}@{r['version']}"
            if dry_run:
                print(f"{r['path']}: {label} is valid and can be published")
            elif r["created"]:
                print(f"{r['path']}: published {label} (sha256 {r['sha256'][:12]})")
            else:
                print(f"{r['path']}: {label} is already published with the same content; nothing changed")
            from gilgamesh.registry.compat.behaviour_changes import publish_lines

            found = publish_lines(r) if dry_run or r["created"] else []  # the API and behaviour changes
            if found:
                print("\n".join(found))
    failed = sum(not r["ok"] for r in results)
    _emit(args, {"results": results, "failed": failed})
    return 1 if failed else 0


def cmd_publish(args) -> int:
    return _publish_many(args, dry_run=args.dry_run)


def cmd_validate(args) -> int:
    return _publish_many(args, dry_run=True)


def cmd_list(args) -> int:
    rows = _registry(args).listing()
    _emit(args, rows, _list_text(rows))
    return 0


def _list_text(rows: list[dict]) -> str:
    return "\n".join(
        f"{r['name']:<20} {r['latest'] or '-':<12} {len(r['versions']):>3} versions  {r['summary']}" for r in rows
    ) or "The registry is empty."


def cmd_versions(args) -> int:
    rows = _registry(args).versions(check_name(args.name))
    lines = []
    for r in rows:
        flag = f"  YANKED: {r['yank_reason']}" if r["yanked"] else ("  (pre-release)" if r["prerelease"] else "")
        if r["deprecated"]:
            flag += f"  deprecated: {r['deprecation_message']}"
        lines.append(f"{r['version']:<14} {r['published_at'] or '':<26} {r['sha256'][:12]}{flag}")
    _emit(args, rows, "\n".join(lines))
    return 0


def cmd_resolve(args) -> int:
    name, spec = parse_name_spec(args.spec)
    data = _registry(args).resolved(name, spec)
    if data["warning"] and not args.json:
        print(f"warning: {data['warning']}", file=sys.stderr)
    _emit(args, data, _resolved_text(data))
    return 0


def _resolved_text(data: dict) -> str:
    """The lines ``resolve`` prints (and ``show`` ends with)."""
    from gilgamesh.environment import describe_environment

    deps = ", ".join(f"{d['name']}@{d['version']}" for d in data["dependencies"]) or "none"
    lines = [f"{data['name']}@{data['version']}", f"sha256:       {data['sha256']}", f"dependencies: {deps}",
             f"environment:  {describe_environment(data['environment'])}"]
    if data["yanked"]:
        lines.append(f"yanked:       {data['yank_reason']}")
    if data["deprecated"]:
        lines.append(f"deprecated:   {data['deprecation_message']}")
    from gilgamesh.registry.compat.behaviour_changes import changed_lines

    lines += changed_lines(data.get("changed"))
    return "\n".join(lines)


def cmd_show(args) -> int:
    from gilgamesh.documentation.render import render_terminal

    name, spec = parse_name_spec(args.spec)
    registry = _registry(args)
    data = registry.resolved(name, spec)
    text = render_terminal(name, spec.text, registry.reader)
    data["text"] = text
    _emit(args, data, text.rstrip("\n") + "\n\n" + _resolved_text(data))
    return 0


def cmd_fork(args) -> int:
    name, spec = parse_name_spec(args.spec)
    registry = _registry(args)
    chosen, new_version = registry.fork_version(name, spec, args.bump)
    path = args.path or f"{name}-{new_version}.ipynb"
    if os.path.isdir(path):
        path = os.path.join(path, f"{name}-{new_version}.ipynb")
    if os.path.exists(path) and not args.force:
        raise GilgameshError(f"{path} already exists; choose another path or pass --force to overwrite it")
    from gilgamesh.loader.kernelspec import kernelspec_metadata

    nb = json.loads(registry.reader.notebook_bytes(name, chosen))
    meta = nb.setdefault("metadata", {}).setdefault("gilgamesh", {})
    meta["version"] = new_version
    meta.pop("changed", None)  # the reasons were for the version forked from
    # Jupyter then starts the Gilgamesh kernel, whose extension makes the first `@` import work.
    nb["metadata"]["kernelspec"] = kernelspec_metadata()
    from gilgamesh.registry.store.git_store import atomic_write

    try:
        atomic_write(os.path.abspath(path), (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode())
    except OSError as e:
        raise GilgameshError(f"cannot write {path}: {e.strerror}") from None
    data = {"name": name, "from": chosen, "version": new_version, "path": path}
    quoted = shlex.quote(path)
    lines = [f"Forked {name}@{chosen} to {path} as {name}@{new_version}.",
             f"Edit it, then: gilgamesh run {quoted} && gilgamesh validate {quoted} && gilgamesh publish {quoted}"]
    if not _kernel_installed():
        lines.append("Its kernel is 'Python 3 (Gilgamesh)': to open it in Jupyter, install the kernel once with "
                     "`gilgamesh kernel install`")
    _emit(args, data, "\n".join(lines))
    return 0


def cmd_run(args) -> int:
    from gilgamesh.registry.validation.authoring import read_runnable, run_and_save

    location = _location(args)
    for path in args.notebooks:  # every file is checked before any kernel starts
        read_runnable(path)
    results = []
    for path in args.notebooks:
        where = "its own directory" if args.here else "a scratch directory"
        _progress(f"running {path} in a fresh kernel (registry {location}, in {where}) ...")
        result = run_and_save(path, location, here=args.here)
        results.append(result.to_dict())
        if not result.ok:
            saved = "; outputs saved up to that cell" if result.saved else "; nothing was saved"
            print(f"error: {path}: {result.failure}{saved}", file=sys.stderr)
        elif not args.json:
            print(f"{path}: ran {result.cells} code cell{'s' if result.cells != 1 else ''}"
                  f" in {result.seconds or 0:.1f} s; outputs saved")
    failed = sum(not r["ok"] for r in results)
    _emit(args, {"results": results, "failed": failed})
    return 1 if failed else 0


def _kernel_installed() -> bool:
    from gilgamesh.loader.kernelspec import KERNEL_NAME

    try:
        from jupyter_client.kernelspec import KernelSpecManager

        return KERNEL_NAME in KernelSpecManager().find_kernel_specs()
    except Exception:  # noqa: BLE001 - only decides whether a hint is printed
        return False


def _diff_side(reader, location: str, text: str):
    """``(name, version, label, surface, metadata.gilgamesh or None)`` of a published NAME@SPEC or a
    notebook path (a working copy)."""
    from gilgamesh.registry.publish.pipeline import notebook_surface, version_surface

    if text.endswith(".ipynb") or os.path.sep in text or os.path.isfile(text):
        from gilgamesh.notebook import parse_notebook

        try:
            with open(text, "rb") as f:
                nb = parse_notebook(f.read())
        except OSError as e:
            raise GilgameshError(f"cannot read {text}: {e.strerror}") from None
        name, version = nb.metadata.get("name"), nb.metadata.get("version")
        if not isinstance(name, str) or not isinstance(version, str):
            raise GilgameshError(f"{text}: metadata.gilgamesh needs a name and a version to be diffed")
        check_name(name)
        Version(version)
        return name, version, text, notebook_surface(nb, location), nb.metadata
    name, spec = parse_name_spec(text)
    version = reader.resolve(name, spec).version
    return name, version, version, version_surface(location, reader, name, version), None


def cmd_diff(args) -> int:
    from gilgamesh.registry.compat.behaviour_changes import diff_rows
    from gilgamesh.registry.publish.pipeline import comparable
    from gilgamesh.registry.compat.semver import bump_of, diff_snapshots, effective_bump, required_bump

    reader = _registry(args).reader
    location = _location(args)
    n1, v1, label1, old, _ = _diff_side(reader, location, args.old)
    n2, v2, label2, new, working = _diff_side(reader, location, args.new)
    if n1 != n2:
        raise UsageError(f"diff compares two versions of one API, not {n1} and {n2}")
    changes = diff_snapshots(*comparable(old, new))
    required = required_bump(changes, v1)
    # Each change's bump as it applies over v1 (a 0.x line needs MINOR where 1.x needs MAJOR).
    rows = [{**c.to_dict(), "bump": effective_bump(c.bump, v1)} for c in changes]
    rows += diff_rows(reader, n1, v1, v2, working)  # accepted behaviour changes, with their reasons
    data = {"name": n1, "old": v1, "new": v2, "changes": rows,
            "required": required, "bump": bump_of(v1, v2) if Version(v2) > Version(v1) else None}
    if label1 != v1:
        data["old_path"] = label1
    if label2 != v2:
        data["new_path"] = label2
    left = v1 if label1 == v1 else f"{v1} ({label1})"
    right = v2 if label2 == v2 else f"{v2} ({label2})"
    lines = [f"{n1} {left} -> {right}: requires a {required.upper()} bump"]
    lines += [f"  {r['bump'].upper():<5} {r['message']}" for r in rows] or ["  no API changes"]
    _emit(args, data, "\n".join(lines))
    return 0


def _yank(args, reason: str | None) -> int:
    name, version = _exact(args.spec)
    entry = _registry(args).set_yanked(name, version, reason)
    verb = "Yanked" if reason is not None else "Unyanked"
    data = {"name": name, **entry}
    dependents = entry.get("dependents")
    if dependents:
        named = ", ".join(f"{d['name']}@{d['version']}" for d in dependents)
        print(f"warning: {len(dependents)} published version(s) depend on {name}@{version}: {named}",
              file=sys.stderr)
    _emit(args, data, f"{verb} {name}@{version}" + (f": {reason}" if reason else ""))
    return 0


def cmd_yank(args) -> int:
    if not args.reason.strip():
        raise UsageError("--reason must say why the version is withdrawn")
    return _yank(args, args.reason.strip())


def cmd_unyank(args) -> int:
    return _yank(args, None)


def _deprecate(args, message: str | None) -> int:
    name, version = _exact(args.spec)
    entry = _registry(args).set_deprecated(name, version, message)
    text = f"Deprecated {name}@{version}: {message}" if message else f"Undeprecated {name}@{version}"
    _emit(args, {"name": name, **entry}, text)
    return 0


def cmd_deprecate(args) -> int:
    if not args.message.strip():
        raise UsageError("--message must tell its users what to do instead, e.g. 'use 1.3'")
    return _deprecate(args, args.message.strip())


def cmd_undeprecate(args) -> int:
    return _deprecate(args, None)


def cmd_dependents(args) -> int:
    name, spec = parse_name_spec(args.spec)
    if spec.is_unpinned:
        raise UsageError(f"'dependents' needs NAME@SPEC, e.g. {name}@1 (every 1.x) or {name}@1.0.0")
    data = _registry(args).dependents(name, spec)
    rows = [f"{d['name']}@{d['version']}  (depends on {d['depends_on']})"
            + ("  YANKED" if d["yanked"] else "") + ("  deprecated" if d["deprecated"] else "")
            for d in data["dependents"]]
    chosen = ", ".join(data["versions"]) or "none"
    head = f"{name}@{spec.text} chooses {chosen}; "
    text = head + (f"{len(rows)} published version(s) depend on it:\n" + "\n".join(rows) if rows
                   else "no published version depends on it")
    _emit(args, data, text)
    return 0


def _lock_sources(paths: list[str]) -> dict[str, list[str]]:
    """``{directory: [files]}``: the notebooks and scripts named (a directory: those in it)."""
    groups: dict[str, list[str]] = {}
    for path in paths:
        if os.path.isdir(path):
            found = sorted(os.path.join(path, n) for n in os.listdir(path) if n.endswith((".ipynb", ".py")))
            if not found:
                raise UsageError(f"{path} holds no notebook (.ipynb) or script (.py) to lock")
        elif os.path.isfile(path):
            found = [path]
        else:
            raise UsageError(f"{path}: no such file or directory")
        for file in found:
            directory = os.path.dirname(os.path.abspath(file))
            if os.path.abspath(file) not in groups.setdefault(directory, []):
                groups[directory].append(os.path.abspath(file))
    return groups


def cmd_lock(args) -> int:
    from gilgamesh.lockfile import LOCK_FILENAME, build_lock, parse_lock, write_lock

    groups = _lock_sources(args.paths)
    reader = _registry(args).reader
    planned = []
    for directory, files in groups.items():  # every lock is made before any is written
        target = os.path.join(directory, LOCK_FILENAME)
        previous = None
        if not args.upgrade and os.path.exists(target):
            with open(target, "rb") as f:
                previous = parse_lock(f.read(), target)
        planned.append((target, build_lock(files, reader, previous)))
    reports, lines = [], []
    for target, doc in planned:
        try:
            write_lock(target, doc)
        except OSError as e:
            raise GilgameshError(f"cannot write {target}: {e.strerror or e}") from None
        reports.append({"path": target, **doc})
        locked = ", ".join(f"{p['name']}@{p['version']}" for p in doc["packages"]) or "nothing"
        lines.append(f"Locked {len(doc['packages'])} version(s) in {target}: {locked}")
        for p in doc["packages"]:
            entry = reader.entry(p["name"], p["version"])
            if entry.get("yanked"):
                print(f"warning: {p['name']}@{p['version']} is yanked: {entry.get('yank_reason') or 'no reason given'}",
                      file=sys.stderr)
        if not doc["requested"]:
            print(f"warning: no gilgamesh.api imports found in {', '.join(doc['sources'])}", file=sys.stderr)
    _emit(args, reports if len(reports) != 1 else reports[0], "\n".join(lines))
    return 0


def cmd_bib(args) -> int:
    registry = _registry(args)
    if args.bib_command == "list":
        entries = registry.bibliography()
        rows = [{"key": key, **entry} for key, entry in sorted(entries.items())]
        text = "\n".join(f"{r['key']:<24} {r['text']}" for r in rows) or "The bibliography is empty (add one with 'gilgamesh bib add refs.bib')."
        _emit(args, {"entries": rows}, text)
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
    _emit(args, out, f"{source}: {', '.join(parts)}; the bibliography holds {out['entries']} entries")
    return 0


def cmd_cite(args) -> int:
    name, spec = parse_name_spec(args.spec)
    out = _registry(args).citation(name, spec)
    _emit(args, out, out["bibtex"].rstrip("\n"))
    return 0


def cmd_serve(args) -> int:
    from gilgamesh.service.app import serve

    if args.model_workers and args.max_model_workers and args.max_model_workers < args.model_workers:
        raise UsageError(f"--max-model-workers ({args.max_model_workers}) must be at least "
                         f"--model-workers ({args.model_workers})")
    root = _local_root(args, "serve")
    if args.dask_scheduler:
        from gilgamesh.service.calls.dask import require_distributed

        require_distributed()
    if not os.path.isdir(os.path.join(root, "store.git")):
        from gilgamesh.registry.store.git_store import init_registry

        init_registry(root)
    serve(args.host, args.port, root, workers=args.workers, private=args.private,
          model_workers=args.model_workers, call_timeout=args.call_timeout,
          max_body_size=int(args.max_body_mb * 1024 * 1024), body_timeout=args.body_timeout,
          max_model_workers=args.max_model_workers, queue_limit=args.queue_limit, dask_scheduler=args.dask_scheduler)
    return 0


def cmd_token(args) -> int:
    from gilgamesh.registry.store import tokens

    root = _local_root(args, "token")
    from gilgamesh.registry.store.reader import LocalReader

    LocalReader(root)  # a clear error if there is no registry
    if args.token_command == "create":
        token = tokens.create_token(root, args.user)
        if args.json:
            _emit(args, {"user": args.user, "token": token})
        else:
            print(f"Created a token for {args.user}. It is shown once; only its hash is kept:")
            print(token)
    elif args.token_command == "remove":
        n = tokens.remove_user(root, args.user)
        _emit(args, {"user": args.user, "revoked": n}, f"Removed {args.user} and revoked {n} token(s)")
    else:
        users = tokens.list_users(root)
        _emit(args, users, "\n".join(f"{u:<24} {n} token(s)" for u, n in users.items()) or "No tokens.")
    return 0


def cmd_kernel(args) -> int:
    from gilgamesh.loader.kernelspec import install_kernelspec

    path = install_kernelspec(user=not (args.sys_prefix or args.prefix), prefix=sys.prefix if args.sys_prefix else args.prefix)
    _emit(args, {"path": path}, f"Installed the kernel 'Python 3 (Gilgamesh)' in {path}")
    return 0


# -- the parser -----------------------------------------------------------------------------
def _bounded(kind, low, high=None):
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

    def add(name, func, help_text, **kw):
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text, **kw)
        p.set_defaults(func=func, command_parser=p)
        return p

    add("init", cmd_init, "create a registry, or adopt one (or a git mirror of its store.git) and say what it holds")
    p = add("publish", cmd_publish, "validate and publish API notebooks (dependencies first)")
    p.add_argument("notebooks", nargs="+", metavar="NB", help="notebook files (.ipynb)")
    p.add_argument("--dry-run", action="store_true", help="run every check, store nothing")
    p = add("validate", cmd_validate, "run every publish check without storing")
    p.add_argument("notebooks", nargs="+", metavar="NB", help="notebook files (.ipynb)")
    add("list", cmd_list, "list the APIs: name, latest release, versions, summary")
    p = add("versions", cmd_versions, "list the versions of one API")
    p.add_argument("name", help="API name, e.g. langmuir")
    p = add("resolve", cmd_resolve, "show which version NAME@SPEC chooses")
    p.add_argument("spec", metavar="NAME@SPEC", help="e.g. langmuir@1.2")
    p = add("show", cmd_show, "print an API version's documentation")
    p.add_argument("spec", metavar="NAME@SPEC", help="e.g. langmuir@1.2")
    p = add("fork", cmd_fork, "write a working copy whose metadata names the next version")
    p.add_argument("spec", metavar="NAME@SPEC", help="the version to start from")
    p.add_argument("path", nargs="?", help="where to write it (default ./NAME-NEXT.ipynb)")
    p.add_argument("--bump", choices=("patch", "minor", "major"), default="minor",
                   help="which version to name (default: minor, for new features)")
    p.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    p = add("run", cmd_run, "run notebooks top to bottom as validation does (a fresh kernel with the Gilgamesh "
                            "extension, @ imports from the registry) and save their outputs in place",
            epilog="Each notebook runs in a fresh kernel in an empty scratch directory, under the registry's "
                   "validation limits (settings.json), so what it saves is what validate and publish compare. "
                   "Progress goes to stderr. A cell that raises stops the run: the outputs up to it are saved and "
                   "the command exits 1 naming it.")
    p.add_argument("notebooks", nargs="+", metavar="NB", help="notebook files (.ipynb)")
    p.add_argument("--here", action="store_true",
                   help="run in the notebook's own directory (to read files beside it) instead of a scratch directory")
    p = add("diff", cmd_diff, "list the API changes between two versions (or a working copy, "
                                 "NOTEBOOK.ipynb) and the bump they need")
    p.add_argument("old", metavar="NAME@A")
    p.add_argument("new", metavar="NAME@B|PATH.ipynb")
    p = add("lock", cmd_lock, "write gilgamesh.lock beside notebooks or scripts: the exact versions they import")
    p.add_argument("paths", nargs="+", metavar="PATH", help="notebooks (.ipynb), scripts (.py) or directories")
    p.add_argument("--upgrade", action="store_true", help="re-resolve every spec (default: keep what is locked)")
    p = add("sync", cmd_sync, "bring the versions, yanks and deprecations of another registry (no version moved or lost)")
    p.add_argument("source", metavar="SOURCE", help="a registry directory, or a git://, http(s)://, ssh:// URL of its store")
    p.add_argument("--push", action="store_true", help="also send SOURCE what it lacks (never moves a tag there)")
    p = add("yank", cmd_yank, "withdraw a version (reversible; ranges skip it, exact pins warn)")
    p.add_argument("spec", metavar="NAME@VERSION")
    p.add_argument("--reason", required=True, help="why it is withdrawn (shown to its users)")
    p = add("unyank", cmd_unyank, "undo a yank")
    p.add_argument("spec", metavar="NAME@VERSION")
    p = add("deprecate", cmd_deprecate, "mark a version deprecated: it still imports, with a warning carrying M")
    p.add_argument("spec", metavar="NAME@VERSION")
    p.add_argument("--message", required=True, metavar="M", help="what its users should do instead")
    p = add("undeprecate", cmd_undeprecate, "undo a deprecation")
    p.add_argument("spec", metavar="NAME@VERSION")
    p = add("dependents", cmd_dependents, "list the published versions that depend on a version NAME@SPEC chooses")
    p.add_argument("spec", metavar="NAME@SPEC", help="e.g. plasma@1.0.0, or plasma@1 for every 1.x")
    p = add("bib", cmd_bib, "the registry's bibliography, which notebooks cite with \\cite{key} (add FILE, list)")
    bsub = p.add_subparsers(dest="bib_command", metavar="ACTION")
    bsub.required = True
    bp = bsub.add_parser("add", parents=[common], help="add the entries of a BibTeX file",
                         description="add the entries of a BibTeX file to the registry's bibliography")
    bp.add_argument("file", metavar="FILE", help="a BibTeX file (.bib), UTF-8")
    bp.add_argument("--replace", action="store_true", help="replace entries whose key is there already")
    bp.set_defaults(command_parser=bp)
    bp = bsub.add_parser("list", parents=[common], help="list the entries", description="list the bibliography's entries")
    bp.set_defaults(command_parser=bp)
    p = add("cite", cmd_cite, "print the BibTeX entry that cites a version (NAME@SPEC)")
    p.add_argument("spec", metavar="NAME@SPEC", help="e.g. langmuir@1.2")
    p = add("serve", cmd_serve, "run the HTTP service (API, model endpoints, docs, web UI)")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_bounded(int, 0, 65535), default=8765, help="port (default 8765)")
    p.add_argument("--workers", type=_bounded(int, 1), default=1, help="server processes sharing the port (default 1)")
    p.add_argument("--private", action="store_true", help="require a token for reads too")
    p.add_argument("--model-workers", type=_bounded(int, 1), default=None, metavar="N",
                   help="warm processes that run model calls (default: one per core)")
    p.add_argument("--max-model-workers", type=_bounded(int, 1), default=None, metavar="N",
                   help="how many the pool grows to while slow calls occupy it (default: 4 per core)")
    p.add_argument("--queue-limit", type=_bounded(int, 0), default=256, metavar="N",
                   help="calls that may wait for a worker; past it a call gets 503 with Retry-After (default 256)")
    p.add_argument("--call-timeout", type=_bounded(float, 0.001), default=30.0, metavar="SECONDS",
                   help="time limit of one model call; past it the call gets 504 (default 30)")
    p.add_argument("--max-body-mb", type=_bounded(float, 0.001), default=20.0, metavar="MB",
                   help="largest request body accepted; larger ones get 413 (default 20)")
    p.add_argument("--body-timeout", type=_bounded(float, 0.001), default=60.0, metavar="SECONDS",
                   help="time a request body may take to arrive; past it the connection is closed (default 60)")
    p.add_argument("--dask-scheduler", metavar="ADDRESS", default=None,
                   help="run model calls as tasks on this Dask cluster (tcp://host:8786; workers started with "
                        "--preload gilgamesh.dask; needs gilgamesh[dask]; default: the registry's dask_scheduler setting)")
    p = add("token", cmd_token, "manage publish tokens (create USER, remove USER, list)")
    tsub = p.add_subparsers(dest="token_command", metavar="ACTION")
    tsub.required = True
    for action, help_text in (("create", "create a token for USER; printed once"),
                              ("remove", "remove USER and revoke all of their tokens")):
        tp = tsub.add_parser(action, parents=[common], help=help_text, description=help_text)
        tp.add_argument("user", metavar="USER")
        tp.set_defaults(command_parser=tp)
    tp = tsub.add_parser("list", parents=[common], help="list users holding tokens", description="list users holding tokens")
    tp.set_defaults(command_parser=tp)
    p = add("kernel", cmd_kernel, "install the Jupyter kernel 'Python 3 (Gilgamesh)'")
    ksub = p.add_subparsers(dest="kernel_command", metavar="ACTION")
    ksub.required = True
    kp = ksub.add_parser("install", parents=[common], help="install the kernelspec (default: for this user)",
                         description="install the Jupyter kernel 'Python 3 (Gilgamesh)' (default: for this user)")
    kp.set_defaults(command_parser=kp)
    kp.add_argument("--sys-prefix", action="store_true", help="install into this Python environment")
    kp.add_argument("--prefix", help="install under this prefix")
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
