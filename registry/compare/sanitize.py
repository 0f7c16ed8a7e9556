"""``metadata.gilgamesh.sanitize``: regex substitutions applied to outputs before they are compared.

The registry's form of nbval's ``--nbval-sanitize-with`` file, kept in the notebook since a
registry cannot see a sanitize file beside it: a list of ``{"regex": ..., "replace": ...}``
objects (``replace`` defaults to ``""``), applied in order with :func:`re.sub` to every text
output value of the stored notebook and of the new run alike (images are compared as pixels and
never sanitized). Example: ``[{"regex": "0x[0-9a-f]+", "replace": "ADDRESS"}]``.
"""

from __future__ import annotations

import re

__all__ = ["FIELD", "read_sanitizers", "apply_sanitizers"]

FIELD = "metadata.gilgamesh.sanitize"
_KEYS = {"regex", "replace"}


def read_sanitizers(value) -> tuple[list[tuple[re.Pattern, str]], list[str]]:
    """``(compiled substitutions, problems)``: each problem names the entry and what is wrong with it."""
    if value is None:
        return [], []
    if not isinstance(value, list):
        return [], [f'{FIELD} must be a list of {{"regex": ..., "replace": ...}} objects']
    found, problems = [], []
    for i, entry in enumerate(value):
        where = f"{FIELD}[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("regex"), str):
            problems.append(f'{where} must be an object with a "regex" string (and a "replace" string)')
            continue
        unknown = sorted(set(entry) - _KEYS)
        if unknown:
            problems.append(f"{where} has unknown key(s) {', '.join(map(repr, unknown))} (known: regex, replace)")
            continue
        replace = entry.get("replace", "")
        if not isinstance(replace, str):
            problems.append(f'{where}.replace must be a string')
            continue
        try:
            pattern = re.compile(entry["regex"])
        except re.error as e:
            problems.append(f"{where}.regex {entry['regex']!r} is not a valid regular expression: {e}")
            continue
        try:
            pattern.sub(replace, "")  # compiles the template: a bad group reference is found now
        except (re.error, IndexError) as e:
            problems.append(f"{where}.replace {replace!r} does not fit its regex {entry['regex']!r}: {e}")
            continue
        found.append((pattern, replace))
    return found, problems


def apply_sanitizers(text: str, sanitizers: list[tuple[re.Pattern, str]]) -> str:
    for pattern, replace in sanitizers:
        text = pattern.sub(replace, text)
    return text
