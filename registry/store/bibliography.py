"""The registry's bibliography: BibTeX entries the API notebooks cite (docs/guide.md, section 2).

``gilgamesh bib add refs.bib`` parses the file with bibtexparser and merges its entries into the
bibliography, which the store keeps as ``bibliography.json`` on the branch ``bibliography`` (so
``git log bibliography`` is its history). A key already there keeps its entry unless ``replace``
is asked for: an entry that changes under a key changes what published docs point at.

At publish the keys a notebook's markdown cites (``\\cite{key}``, ``\\citep{a,b}``) are looked up;
a missing key refuses the publish naming it. The cited entries are stored with the version as
``references`` (gilgamesh/documentation/citations.py renders them), so a version's docs never change with the
bibliography and a mirror renders them without it.

Every version can be cited too: :func:`version_citation` is its "cite this version" entry.
"""

from __future__ import annotations

import io
import json
import re
import urllib.parse

from gilgamesh.documentation.citations import cited_keys
from gilgamesh.errors import BibliographyError, Problem

__all__ = [
    "BRANCH", "FILE", "parse_bibtex", "read_bibliography", "add_entries", "merge_bibliographies",
    "citation_problems", "version_citation", "entry_url",
]

BRANCH = "refs/heads/bibliography"
FILE = "bibliography.json"
FORMAT = 1
MAX_BIBTEX_BYTES = 4 * 1024 * 1024
_KEY = re.compile(r"^[^\s,{}\\#%~\"'()=]+$")


# -- parsing -----------------------------------------------------------------------------------
def _names(value) -> list[str]:
    """Authors as "First Last", from bibtexparser's name parts."""
    out = []
    for name in value if isinstance(value, list) else [value]:
        parts = [" ".join(getattr(name, p, [])) for p in ("first", "von", "last")] if hasattr(name, "last") else [str(name)]
        jr = " ".join(getattr(name, "jr", []) or [])
        text = " ".join(p for p in parts if p) + (f", {jr}" if jr else "")
        if text.strip():
            out.append(" ".join(text.split()))
    return out


def _last_names(value) -> list[str]:
    out = []
    for name in value if isinstance(value, list) else [value]:
        if hasattr(name, "last"):
            out.append(" ".join((name.von or []) + (name.last or [])) or " ".join(name.first or []))
        else:
            out.append(str(name).split()[-1] if str(name).split() else str(name))
    return [n for n in out if n]


def _label(lasts: list[str], year: str, key: str) -> str:
    if not lasts:
        return f"{key} {year}".strip() if year else key
    who = lasts[0] if len(lasts) == 1 else f"{lasts[0]} and {lasts[1]}" if len(lasts) == 2 else f"{lasts[0]} et al."
    return f"{who} {year or 'n.d.'}"


def entry_url(fields: dict) -> str | None:
    """The entry's link: its DOI, else its URL (http or https only)."""
    doi = (fields.get("doi") or "").strip()
    if doi:
        doi = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:)", "", doi, flags=re.I)
        return "https://doi.org/" + urllib.parse.quote(doi, safe="/:;()._-")
    url = (fields.get("url") or "").strip()
    return url if re.match(r"^https?://[^\s<>\"]+$", url) else None


def _text(names: list[str], fields: dict) -> str:
    """One line: authors (year). Title. Where, volume, pages."""
    who = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else (names[0] if names else "")
    title = fields.get("title", "").strip().rstrip(".")
    where = fields.get("journal") or fields.get("booktitle") or fields.get("publisher") or fields.get("howpublished") or ""
    detail = ", ".join(x for x in (where.strip(), fields.get("volume", "").strip(),
                                   fields.get("pages", "").strip().replace("--", "–")) if x)
    year = fields.get("year", "").strip()
    parts = [f"{who} ({year})." if who and year else (f"{who}." if who else (f"({year})." if year else ""))]
    parts += [f"{title}." if title else "", f"{detail}." if detail else ""]
    return " ".join(p for p in parts if p)


def parse_bibtex(text: str, source: str = "the BibTeX file") -> dict[str, dict]:
    """The entries of a BibTeX text, ``{key: {"type", "fields", "label", "text", "url", "bibtex"}}``.

    Raises :class:`BibliographyError` naming every block that does not parse, every duplicate
    key and every key that cannot be cited; nothing is returned then.
    """
    import bibtexparser
    from bibtexparser import middlewares

    # bibtexparser logs each failed block; the problems are reported below instead.
    import logging

    logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)
    library = bibtexparser.parse_string(text, append_middleware=[
        middlewares.LatexDecodingMiddleware(), middlewares.SeparateCoAuthors(), middlewares.SplitNameParts()])
    problems = []
    for block in library.failed_blocks:
        line = getattr(block, "start_line", None)
        where = f"line {line + 1}" if isinstance(line, int) else "a block"
        error = getattr(block, "error", None)
        if type(block).__name__ == "DuplicateBlockKeyBlock":
            problems.append(f"{where}: the key {getattr(block, 'key', '?')!r} is defined twice")
        else:
            raw = (getattr(block, "raw", "") or "").strip().splitlines()
            problems.append(f"{where}: cannot parse {raw[0][:60] if raw else 'the block'!r}"
                            + (f" ({str(error).splitlines()[0][:120]})" if error and str(error) else ""))
    entries: dict[str, dict] = {}
    for entry in library.entries:
        key = entry.key
        if not _KEY.match(key or ""):
            problems.append(f"line {entry.start_line + 1}: {key!r} cannot be cited as a key "
                            "(no spaces, commas, braces or quotes)")
            continue
        fields = {}
        authors = []
        for field in entry.fields:
            name = field.key.lower()
            if name in ("author", "editor"):
                if name == "author" or not authors:
                    authors = field.value
                fields[name] = " and ".join(_names(field.value))
            else:
                fields[name] = " ".join(str(field.value).split())
        names, lasts = _names(authors) if authors else [], _last_names(authors) if authors else []
        entries[key] = {
            "type": entry.entry_type.lower(),
            "fields": fields,
            "label": _label(lasts, fields.get("year", "").strip(), key),
            "text": _text(names, fields),
            "url": entry_url(fields),
            "bibtex": entry.raw.strip(),
        }
    if not entries and not problems:
        problems.append("it holds no BibTeX entry (@article{key, ...})")
    if problems:
        n = len(problems)
        raise BibliographyError(f"{source} was refused: {n} problem{'s' if n > 1 else ''}", details=problems)
    return entries


# -- the stored bibliography ---------------------------------------------------------------------
def read_bibliography(repo, commit: str | None = None) -> dict[str, dict]:
    """The bibliography stored in ``repo`` (a git.Repo): ``{key: entry}``, empty if none.

    ``commit``: the bibliography as that commit of the branch holds it (one fetched from elsewhere).
    """
    if commit is None:
        try:
            commit = repo.git.rev_parse("--verify", "--quiet", BRANCH)
        except Exception:  # noqa: BLE001 - no branch yet: an empty bibliography
            return {}
        if not commit:
            return {}
    blob = repo.commit(commit).tree[FILE]
    return json.loads(blob.data_stream.read())["entries"]


def _same_entry(a: dict, b: dict) -> bool:
    """One entry, whatever the BibTeX's spacing: the same text, or the same type and fields."""
    return a["bibtex"] == b["bibtex"] or (a["type"], a["fields"]) == (b["type"], b["fields"])


def _bibliography_bytes(entries: dict[str, dict]) -> bytes:
    return (json.dumps({"format": FORMAT, "entries": dict(sorted(entries.items()))}, indent=1,
                       ensure_ascii=False, sort_keys=True) + "\n").encode()


def _now() -> str:
    import datetime as _dt

    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def merge_bibliographies(store, ours: str | None, theirs: str, source: str) -> dict:
    """The bibliography holding the entries of both commits ``ours`` and ``theirs`` (``ours``' side
    wins a key both define differently); nothing is written but git objects.

    Returns ``{"commit"``: the merged commit to point the branch at, or None when ``ours`` holds
    every entry already; ``"added"``: the keys new to ``ours``; ``"conflicts"``: the keys both
    sides define differently, each ``{"key", "ours", "theirs"}`` (the entries' labels)``}``. With
    no conflict the merge has both commits as parents, so the next sync finds ``theirs`` merged;
    with one it has only ``ours``, so that every sync reports it again until a side changes.
    """
    from gilgamesh.registry.store.records import is_ancestor  # git: only where a store merges

    if ours == theirs or (ours is not None and is_ancestor(store.repo, theirs, ours)):
        return {"commit": None, "added": [], "conflicts": []}
    mine = read_bibliography(store.repo, ours) if ours else {}
    other = read_bibliography(store.repo, theirs)
    added = sorted(k for k in other if k not in mine)
    conflicts = [{"key": k, "ours": mine[k].get("label") or k, "theirs": other[k].get("label") or k}
                 for k in sorted(set(mine) & set(other)) if not _same_entry(mine[k], other[k])]
    if ours is None or is_ancestor(store.repo, ours, theirs):
        return {"commit": theirs, "added": added, "conflicts": []}  # a fast-forward
    if conflicts and not added:
        return {"commit": None, "added": [], "conflicts": conflicts}
    merged = {**mine, **{k: other[k] for k in added}}
    message = (f"bib merge {source}\n\nadded: {', '.join(added) or '-'}\n"
               + (f"kept this side's entry of: {', '.join(c['key'] for c in conflicts)}\n" if conflicts else ""))
    commit = store._commit({FILE: _bibliography_bytes(merged)}, message, [ours] if conflicts else [ours, theirs],
                           "gilgamesh", _now())
    return {"commit": commit, "added": added, "conflicts": conflicts}


def add_entries(store, new: dict[str, dict], who: str, replace: bool = False, source: str = "") -> dict:
    """Merge ``new`` into ``store``'s bibliography (the caller holds the writer lock).

    Returns ``{"added", "replaced", "unchanged"}`` (lists of keys) and ``"entries"`` (the count).
    An existing key with another entry is refused unless ``replace``; nothing is written then.
    """
    current = read_bibliography(store.repo)
    added, replaced, unchanged, clashes = [], [], [], []
    merged = dict(current)
    for key, entry in new.items():
        old = current.get(key)
        if old is None:
            added.append(key)
        elif _same_entry(old, entry):
            unchanged.append(key)
            continue
        elif replace:
            replaced.append(key)
        else:
            clashes.append(key)
            continue
        merged[key] = entry
    if clashes:
        raise BibliographyError(
            f"{source or 'the file'} was refused: {len(clashes)} key{'s' if len(clashes) > 1 else ''} "
            "already in the bibliography with another entry (add --replace to replace them; the docs "
            "of versions published already keep the entries they cited)", details=clashes)
    if added or replaced:
        parent = store._ref_sha(BRANCH)
        message = f"bib add {source}".strip() + f"\n\nadded: {', '.join(added) or '-'}\nreplaced: {', '.join(replaced) or '-'}\n"
        commit = store._commit({FILE: _bibliography_bytes(merged)}, message, parent, who, _now())
        if not store._update_ref(BRANCH, commit, parent):
            raise BibliographyError("the bibliography was changed by someone else meanwhile; add the file again")
    return {"added": added, "replaced": replaced, "unchanged": unchanged, "entries": len(merged)}


# -- at publish ------------------------------------------------------------------------------------
def citation_problems(nb, load_bibliography) -> tuple[list[Problem], dict]:
    """The problems of a notebook's citations, and its ``references`` (the cited entries, in order).

    ``load_bibliography()`` is called only if the notebook cites anything.
    """
    references: dict[str, dict] = {}
    missing: dict[str, int] = {}
    cited = [(cell.number, key) for cell in nb.cells if cell.kind == "markdown" for key in cited_keys(cell.source)]
    bibliography = load_bibliography() if cited else {}
    for number, key in cited:
        entry = bibliography.get(key)
        if entry is None:
            missing.setdefault(key, number)
        elif key not in references:
            references[key] = {k: entry[k] for k in ("label", "text", "url")}
    problems = [
        Problem("citations", f"\\cite{{{key}}}: the registry's bibliography has no entry {key!r}; add it with "
                             "'gilgamesh bib add refs.bib'", cell)
        for key, cell in missing.items()
    ]
    return problems, references


# -- cite this version -------------------------------------------------------------------------------
def _bibtex_value(text: str) -> str:
    text = " ".join(str(text).split())
    return text.replace("\\", "\\textbackslash{}").replace("{", "\\{").replace("}", "\\}")


def version_citation(name: str, version: str, entry: dict, notebook: bytes, url: str | None = None) -> dict:
    """The "cite this version" BibTeX entry of a published version: ``{"key", "bibtex"}``.

    ``entry`` is its index entry (summary, sha256, published_at); the authors come from the
    notebook's ``metadata.gilgamesh.authors``; ``url`` is its docs page where one is served.
    """
    try:
        meta = json.loads(notebook).get("metadata", {}).get("gilgamesh", {})
    except ValueError:
        meta = {}
    authors = meta.get("authors") or []
    names = []
    for a in authors if isinstance(authors, list) else [authors]:
        if isinstance(a, dict):
            a = a.get("name") or ""
        if isinstance(a, str) and a.strip():
            names.append(a.strip())
    published = str(entry.get("published_at") or "")
    key = f"{name}-{version}".replace("+", "-")
    summary = str(entry.get("summary") or "").strip().rstrip(".")
    fields = [("title", f"{name} {version}" + (f": {summary}" if summary else ""))]
    if names:
        fields.append(("author", " and ".join(names)))
    if published[:4].isdigit():
        fields.append(("year", published[:4]))
        if published[5:7].isdigit():
            fields.append(("month", str(int(published[5:7]))))
    fields.append(("version", version))
    if url:
        fields.append(("url", url))
    fields.append(("note", f"Gilgamesh API notebook, sha256 {entry.get('sha256', '')}"))
    out = io.StringIO()
    out.write(f"@software{{{key},\n")
    for field, value in fields:
        out.write(f"  {field:<7} = {{{_bibtex_value(value)}}},\n")
    out.write("}\n")
    return {"name": name, "version": version, "key": key, "bibtex": out.getvalue()}
