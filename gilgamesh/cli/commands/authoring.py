"""Commands of an author's loop: publish, validate, fork, run, diff, lock."""

from __future__ import annotations

import os
import shlex
import sys

from gilgamesh.cli.common import Command, emit, location_of, progress, registry_of, token_argument
from gilgamesh.errors import Conflict, GilgameshError, UsageError
from gilgamesh.versions import parse_name_spec


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
    on_start = None if args.json else (lambda path: progress(f"{verb} {path} ..."))
    results = registry_of(args).publish_many(files, dry_run=dry_run, on_start=on_start)
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
            if dry_run or r["created"]:  # what the report notes without refusing
                found += [f"  note: {note}" for note in r.get("notes") or []]
            if found:
                print("\n".join(found))
    failed = sum(not r["ok"] for r in results)
    emit(args, {"results": results, "failed": failed})
    return 1 if failed else 0


def _kernel_installed() -> bool:
    """Whether Jupyter finds a Gilgamesh kernel that runs this Python (only decides a hint)."""
    from gilgamesh.loader.kernelspec import installed_kernel

    return installed_kernel() is not None


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


def cmd_publish(args) -> int:
    return _publish_many(args, dry_run=args.dry_run)


def cmd_validate(args) -> int:
    return _publish_many(args, dry_run=True)


def cmd_fork(args) -> int:
    name, spec = parse_name_spec(args.spec)
    registry = registry_of(args)
    chosen, new_version = registry.fork_version(name, spec, args.bump)
    path = args.path or f"{name}-{new_version}.ipynb"
    if os.path.isdir(path) or path.endswith(("/", os.sep)):  # a directory, there or to be made
        path = os.path.join(path, f"{name}-{new_version}.ipynb")
    if os.path.exists(path) and not args.force:
        raise Conflict(f"{path} already exists; choose another path or pass --force to overwrite it")
    from gilgamesh.files import atomic_write
    from gilgamesh.loader.kernelspec import kernelspec_metadata

    # Jupyter then starts the Gilgamesh kernel, whose extension makes the first `@` import work.
    copy = registry.working_copy(name, chosen, new_version, kernelspec_metadata())
    # A directory that is not there yet is made, as `git clone` or `cp -r` make theirs: the
    # working copy is the user's own file, wherever they want it (`fork plasma@1 work/next.ipynb`).
    parent = os.path.dirname(os.path.abspath(path))
    made = None if os.path.isdir(parent) else (os.path.dirname(os.path.normpath(path)) or parent)
    if made is not None:
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as e:  # a file where a directory should be, or no permission
            raise GilgameshError(f"cannot write {path}: cannot make the directory {made}: {e.strerror}") from None
    try:
        atomic_write(os.path.abspath(path), copy)
    except OSError as e:
        raise GilgameshError(f"cannot write {path}: {e.strerror}") from None
    data = {"name": name, "from": chosen, "version": new_version, "path": path}
    quoted = shlex.quote(path)
    lines = [f"Forked {name}@{chosen} to {path} as {name}@{new_version}"
             + (f" (made the directory {made})." if made is not None else "."),
             f"Edit it, then: gilgamesh run {quoted} && gilgamesh validate {quoted} && gilgamesh publish {quoted}"]
    if not _kernel_installed():
        lines.append("Its kernel is 'Python 3 (Gilgamesh)': to open it in Jupyter, install the kernel once with "
                     "`gilgamesh kernel install`")
    emit(args, data, "\n".join(lines))
    return 0


def cmd_run(args) -> int:
    from gilgamesh.registry.validation.authoring import read_runnable, run_and_save

    location = location_of(args)
    for path in args.notebooks:  # every file is checked before any kernel starts
        read_runnable(path)
    results = []
    for path in args.notebooks:
        where = "its own directory" if args.here else "a scratch directory"
        progress(f"running {path} in a fresh kernel (registry {location}, in {where}) ...")
        result = run_and_save(path, location, here=args.here)
        results.append(result.to_dict())
        if not result.ok:
            saved = "; outputs saved up to that cell" if result.saved else "; nothing was saved"
            print(f"error: {path}: {result.failure}{saved}", file=sys.stderr)
        elif not args.json:
            print(f"{path}: ran {result.cells} code cell{'s' if result.cells != 1 else ''}"
                  f" in {result.seconds or 0:.1f} s; outputs saved")
    failed = sum(not r["ok"] for r in results)
    emit(args, {"results": results, "failed": failed})
    return 1 if failed else 0


def cmd_diff(args) -> int:
    data = registry_of(args).diff(args.old, args.new)
    n1, v1, v2, required, rows = data["name"], data["old"], data["new"], data["required"], data["changes"]
    left = f"{v1} ({data['old_path']})" if "old_path" in data else v1
    right = f"{v2} ({data['new_path']})" if "new_path" in data else v2
    lines = [f"{n1} {left} -> {right}: requires a {required.upper()} bump"]
    from gilgamesh.registry.compat.behaviour_changes import change_lines

    lines += change_lines(rows, "  ") or ["  no API changes"]  # the HTTP surface's under its own heading
    lines += [f"  note: {note}" for note in data.get("notes") or []]  # e.g. a definition __all__ leaves out
    emit(args, data, "\n".join(lines))
    return 0


def cmd_lock(args) -> int:
    from gilgamesh.lockfile import LOCK_FILENAME, build_lock, parse_lock, write_lock

    groups = _lock_sources(args.paths)
    reader = registry_of(args).reader
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
    emit(args, reports if len(reports) != 1 else reports[0], "\n".join(lines))
    return 0



def _publish_arguments(p, common) -> None:
    p.add_argument("notebooks", nargs="+", metavar="NB", help="notebook files (.ipynb)")
    p.add_argument("--dry-run", action="store_true", help="run every check, store nothing")
    token_argument(p)


def _validate_arguments(p, common) -> None:
    p.add_argument("notebooks", nargs="+", metavar="NB", help="notebook files (.ipynb)")


def _fork_arguments(p, common) -> None:
    p.add_argument("spec", metavar="NAME@SPEC", help="the version to start from")
    p.add_argument("path", nargs="?", help="where to write it (default ./NAME-NEXT.ipynb; into a directory, or a "
                                           "PATH ending in /, as NAME-NEXT.ipynb; a missing directory is made)")
    p.add_argument("--bump", choices=("patch", "minor", "major"), default="minor",
                   help="which version to name (default: minor, for new features)")
    p.add_argument("--force", action="store_true", help="overwrite PATH if it exists")


def _run_arguments(p, common) -> None:
    p.add_argument("notebooks", nargs="+", metavar="NB", help="notebook files (.ipynb)")
    p.add_argument("--here", action="store_true",
                   help="run in the notebook's own directory (to read files beside it) instead of a scratch directory")


def _diff_arguments(p, common) -> None:
    p.add_argument("old", metavar="NAME@A")
    p.add_argument("new", metavar="NAME@B|PATH.ipynb")


def _lock_arguments(p, common) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="notebooks (.ipynb), scripts (.py) or directories")
    p.add_argument("--upgrade", action="store_true", help="re-resolve every spec (default: keep what is locked)")


COMMANDS = [
    Command("publish", cmd_publish, "validate and publish API notebooks (dependencies first)", _publish_arguments),
    Command("validate", cmd_validate, "run every publish check without storing", _validate_arguments),
    Command("fork", cmd_fork, "write a working copy whose metadata names the next version", _fork_arguments),
    Command("run", cmd_run, "run notebooks top to bottom as validation does (a fresh kernel with the Gilgamesh "
                            "extension, @ imports from the registry) and save their outputs in place",
            _run_arguments,
            epilog="Each notebook runs in a fresh kernel in an empty scratch directory, under the registry's "
                   "validation limits (settings.json), so what it saves is what validate and publish compare. "
                   "Progress goes to stderr. A cell that raises stops the run: the outputs up to it are saved and "
                   "the command exits 1 naming it."),
    Command("diff", cmd_diff, "list the API changes between two versions (or a working copy, "
                              "NOTEBOOK.ipynb) and the bump they need", _diff_arguments),
    Command("lock", cmd_lock, "write gilgamesh.lock beside notebooks or scripts: the exact versions they import",
            _lock_arguments),
]
