"""The static publish checks (docs/guide.md, section 4: checks 1, 4, 5 and 6).

Each check takes what it needs and returns a list of :class:`Problem`; none of them raises for a
finding, so that one report can name every problem at once. :func:`documentation_notes` returns
notes instead: what the report says without refusing.
"""

from __future__ import annotations

import re

from gilgamesh.errors import GilgameshError, Problem
from gilgamesh.notebook import ParsedNotebook
from gilgamesh.pyparse import parse_python
from gilgamesh.spelling import bad_spec_message, find_api_references, find_bad_specs, rewrite_at_spelling
from gilgamesh.versions import Version, check_name, spec_from_module_part

from gilgamesh.registry.surface.types import ENDPOINT_TYPES, endpoint_type_problem

__all__ = [
    "check_structure",
    "check_schema",
    "check_import_cells",
    "check_documentation",
    "documentation_notes",
    "check_endpoints",
    "check_dependencies",
    "without_magics",
    "ENDPOINT_TYPES",
]

_MAGIC_LINE = re.compile(r"^\s*(%|!)")


def check_structure(nb: ParsedNotebook, schema: bool = True) -> list[Problem]:
    """nbformat 4 schema, a Python kernel, and complete, well-formed ``metadata.gilgamesh``.

    ``schema=False`` leaves the schema out (:func:`check_schema`; the publish pipeline has the
    validation runner check it); its problem, if any, would come first.
    """
    problems = []
    raw = nb.raw
    if raw.get("nbformat") != 4:
        problems.append(Problem("structure", f"nbformat must be 4, found {raw.get('nbformat')!r}"))
    elif schema:
        problems += check_schema(nb)
    metadata = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
    # Read only as objects: any other kernelspec or language_info is the nbformat schema's to name.
    kernelspec, info = (metadata.get(k) if isinstance(metadata.get(k), dict) else {} for k in ("kernelspec", "language_info"))
    language = kernelspec.get("language") or info.get("name")
    if language not in (None, "python"):
        problems.append(Problem("structure", f"the notebook's kernel language is {language!r}; API notebooks are Python"))
    if "gilgamesh" not in metadata:
        problems.append(Problem("metadata", "metadata.gilgamesh is missing (it needs name, version and summary)"))
        return problems
    if not isinstance(metadata["gilgamesh"], dict):
        problems.append(Problem("metadata", "metadata.gilgamesh must be an object"))
        return problems
    meta = nb.metadata
    for key in ("name", "version", "summary"):
        if key not in meta:
            problems.append(Problem("metadata", f"metadata.gilgamesh.{key} is missing"))
    if "name" in meta:
        try:
            check_name(meta["name"])
        except GilgameshError as e:
            problems.append(Problem("metadata", f"metadata.gilgamesh.name: {e.message}"))
    if "version" in meta:
        try:
            Version(meta["version"])
        except GilgameshError as e:
            problems.append(Problem("metadata", f"metadata.gilgamesh.version: {e.message}"))
    summary = meta.get("summary")
    if "summary" in meta and (not isinstance(summary, str) or not summary.strip() or "\n" in summary.strip()):
        problems.append(Problem("metadata", "metadata.gilgamesh.summary must be one non-empty line of text"))
    endpoints = meta.get("endpoints", [])
    if not isinstance(endpoints, list) or not all(isinstance(e, str) for e in endpoints):
        problems.append(Problem("metadata", "metadata.gilgamesh.endpoints must be a list of function names"))
    authors = meta.get("authors", [])
    if not isinstance(authors, list) or not all(isinstance(a, str) for a in authors):
        problems.append(Problem("metadata", "metadata.gilgamesh.authors must be a list of names"))
    tolerance = meta.get("tolerance")
    if tolerance is not None and (isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 <= tolerance < 1):
        problems.append(Problem("metadata", "metadata.gilgamesh.tolerance must be a relative tolerance between 0 and 1"))
    from gilgamesh.registry.compat.verdict import changed_shape_problems
    from gilgamesh.registry.compare.sanitize import read_sanitizers

    problems += [Problem("metadata", message) for message in read_sanitizers(meta.get("sanitize"))[1]]
    problems += changed_shape_problems(meta)
    known = {"name", "version", "summary", "endpoints", "authors", "tolerance", "sanitize", "changed"}
    for key in sorted(set(meta) - known):
        problems.append(Problem("metadata", f"metadata.gilgamesh.{key} is not a known field (known: {', '.join(sorted(known))})"))
    return problems


def check_schema(nb: ParsedNotebook) -> list[Problem]:
    """The nbformat 4 schema (of a notebook whose ``nbformat`` is 4), checked by nbformat itself."""
    from gilgamesh.registry.validation.schema import schema_problem  # slow to import; only the publish path needs it

    message = schema_problem(nb.raw)
    return [Problem("structure", message)] if message else []


def check_import_cells(nb: ParsedNotebook) -> list[Problem]:
    """Cells that run on import must be plain Python: no magics, no ``!shell``, no syntax errors."""
    problems = []
    for cell in nb.import_cells():
        problems += _import_markers(cell)
        if find_bad_specs(cell.source):
            continue  # named by check_dependencies; Python would only say "invalid syntax"
        source = rewrite_at_spelling(cell.source)
        try:
            parse_python(source)
        except SyntaxError as e:
            lines = source.splitlines()
            magic = next((i for i, line in enumerate(lines, 1) if _MAGIC_LINE.match(line)), None)
            if magic is not None:
                problems.append(Problem(
                    "structure",
                    f"line {magic}: IPython magics and !shell lines cannot run on import "
                    f"({lines[magic - 1].strip()!r}); move them to a cell tagged 'example'",
                    cell.number,
                ))
            else:
                problems.append(Problem("structure", f"line {e.lineno}: syntax error: {e.msg}", cell.number))
    return problems


def without_magics(nb: ParsedNotebook) -> ParsedNotebook:
    """The notebook with each magic or ``!shell`` line of an import cell replaced by ``pass``.

    Such a line is refused by :func:`check_import_cells`; the other checks read the cell without
    it, so that its definitions are still seen (no false "function removed" or "endpoint is not a
    function" on top of the one true problem).
    """
    cells = []
    for cell in nb.cells:
        if cell.runs_on_import and any(_MAGIC_LINE.match(line) for line in cell.source.splitlines()):
            lines = [re.sub(r"^(\s*)[%!].*$", r"\1pass", line) for line in cell.source.split("\n")]
            cell = cell._replace(source="\n".join(lines))
        cells.append(cell)
    return nb._replace(cells=cells)


_IMPORT_BREAKING_TAGS = {"nbval-skip": "NBVAL_SKIP", "raises-exception": "NBVAL_RAISES_EXCEPTION"}
_IMPORT_BREAKING_COMMENT = re.compile(r"^\s*#\s*(NBVAL_SKIP|NBVAL_RAISES_EXCEPTION)\s*$", re.M)


def _import_markers(cell) -> list[Problem]:
    """nbval markers that let validation pass a cell that every import still runs."""
    found = [f"the tag {tag!r}" for tag in cell.tags if tag in _IMPORT_BREAKING_TAGS]
    found += [f"the comment '# {m}'" for m in _IMPORT_BREAKING_COMMENT.findall(cell.source)]
    problems = []
    for marker in found:
        what = "skip it" if "SKIP" in marker.upper().replace("-", "_") else "accept its error"
        problems.append(Problem(
            "structure",
            f"the cell runs on import but carries {marker}: validation would {what}, yet every import "
            "runs it and would fail; tag the cell 'example' (only validation runs it) or remove the marker",
            cell.number,
        ))
    return problems


def check_documentation(nb: ParsedNotebook, snapshot: dict) -> list[Problem]:
    """Every public function (and class) has a docstring or a markdown cell right above its cell
    that documents it (:func:`gilgamesh.notebook.documents`: it names it, or it is not a section
    of the notebook such as ``## References``)."""
    from gilgamesh.notebook import section_heading

    problems = []
    for name, entry in snapshot.items():
        if entry["kind"] not in ("function", "class") or entry.get("doc") or nb.markdown_above(entry["cell"], name):
            continue
        above = nb.markdown_above(entry["cell"])
        if above is None:
            message = f"public {entry['kind']} {name!r} has no docstring and no markdown cell right above its cell"
        else:
            message = (f"public {entry['kind']} {name!r} has no docstring, and the markdown cell {entry['cell'] - 1} "
                       f"right above its cell does not document it: it starts with the heading "
                       f"{section_heading(above)!r} and does not name {name!r}, so it is a section of the notebook; "
                       f"give {name!r} a docstring, or name it in that cell")
        problems.append(Problem("documentation", message, entry["cell"]))
    return problems


def documentation_notes(nb: ParsedNotebook, snapshot: dict, static: dict | None = None) -> list[str]:
    """What the report says of each public function (and class) whose documentation is the
    markdown cell above it rather than a docstring: which cell was taken. ``static``: the
    notebook read statically, whose ``doc`` is a docstring as written (a dataclass's generated
    ``__doc__`` is none)."""
    notes = []
    for name, entry in snapshot.items():
        if entry.get("kind") not in ("function", "class") or entry.get("cell") is None:
            continue
        written = (static or {}).get(name)
        has_docstring = written.get("doc") if written is not None and written.get("kind") == entry["kind"] else entry.get("doc")
        if not has_docstring and nb.markdown_above(entry["cell"], name):
            notes.append(f"{entry['kind']} {name!r} (cell {entry['cell']}) has no docstring: its documentation is "
                         f"the markdown cell {entry['cell'] - 1} right above it")
    return notes


def check_endpoints(nb: ParsedNotebook, snapshot: dict) -> list[Problem]:
    """Every name in ``metadata.gilgamesh.endpoints`` is a public function, fully annotated.

    ``snapshot`` is the public surface (:mod:`gilgamesh.registry.surface.snapshot`): an endpoint may be a
    ``def``, a lambda, a partial or a decorated function, as long as callers reach it.
    """
    endpoints = nb.metadata.get("endpoints", [])
    if not isinstance(endpoints, list):
        return []  # reported by check_structure
    problems = []
    for name in endpoints:
        if not isinstance(name, str):
            continue
        entry = snapshot.get(name)
        if entry is None or entry.get("kind") != "function":
            why = "no public name has it" if entry is None else f"it is a {entry.get('kind')}"
            problems.append(Problem("endpoints", f"endpoint {name!r} is not a function defined in a cell that runs on "
                                                 f"import and exported ({why})"))
            continue
        cell = entry.get("cell")
        params = entry.get("params")
        if params is None:
            problems.append(Problem("endpoints", f"endpoint {name!r} has no readable signature", cell))
            continue
        if any(p["kind"] in ("var_positional", "var_keyword") for p in params):
            problems.append(Problem("endpoints", f"endpoint {name!r} takes *args or **kwargs; endpoints need named parameters", cell))
        for p in params:
            if p["kind"] in ("var_positional", "var_keyword"):
                continue
            why = endpoint_type_problem(p.get("annotation"))
            if why:
                problems.append(Problem("endpoints", f"endpoint {name!r}: parameter {p['name']!r} {why}", cell))
        why = endpoint_type_problem(entry.get("returns"))
        if why:
            problems.append(Problem("endpoints", f"endpoint {name!r}: the return {why}", cell))
    return problems


def check_dependencies(nb: ParsedNotebook, own_name: str | None, reader) -> tuple[dict[str, str], list[Problem]]:
    """Resolve every ``gilgamesh.api`` import of the notebook; refuse bare (unpinned) ones.

    Returns ``({name: exact version}, problems)``. ``reader`` is the registry published to.
    """
    dependencies: dict[str, str] = {}
    problems = []
    for cell in nb.cells:
        if cell.kind != "code":
            continue
        bad = find_bad_specs(cell.source)
        for name, spec in bad:
            problems.append(Problem("dependencies", bad_spec_message(name, spec), cell.number))
        for ref in find_api_references(rewrite_at_spelling(cell.source)):
            label = f"gilgamesh.api.{ref.name}"
            if ref.part is None and any(ref.name == name for name, _ in bad):
                continue  # the bad spec is the problem, not a missing pin
            if ref.part is None:
                pin = _suggested_pin(reader, ref.name)
                problems.append(Problem(
                    "dependencies",
                    f"{label} is imported without a version; pin it, e.g. {label}@{pin} or {label}.v{pin.replace('.', '_')}",
                    cell.number,
                ))
                continue
            try:
                check_name(ref.name)
                spec = spec_from_module_part(ref.part)
                if ref.name == own_name:
                    problems.append(Problem("dependencies", f"the notebook imports its own API ({label}.{ref.part})", cell.number))
                    continue
                resolution = reader.resolve(ref.name, spec)
            except GilgameshError as e:
                problems.append(Problem("dependencies", f"{label}.{ref.part} does not resolve: {e.message}", cell.number))
                continue
            previous = dependencies.get(ref.name)
            if previous and previous != resolution.version:
                problems.append(Problem(
                    "dependencies",
                    f"{ref.name} is imported as two different versions ({previous} and {resolution.version})",
                    cell.number,
                ))
            dependencies[ref.name] = resolution.version
    return dependencies, problems


def _suggested_pin(reader, name: str) -> str:
    """``MAJOR.MINOR`` of the API's latest release (what a pin would usually name), else ``1.0``."""
    try:
        latest = reader.version_set(name).latest_release()
    except GilgameshError:
        latest = None
    return ".".join(latest.split(".")[:2]) if latest else "1.0"
