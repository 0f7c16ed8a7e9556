"""nbformat 4's JSON schema, checked by nbformat itself (step 1 of publishing).

nbformat is slow to import (and to tear down: about 0.5 s of a process's CPU in all), so the publish
pipeline asks the validation runner, which loads it anyway to read the notebook, to check the schema
before it runs anything; only when no runner runs does the publishing process check it itself.
"""

from __future__ import annotations

__all__ = ["schema_problem"]


def schema_problem(raw: dict) -> str | None:
    """Why the notebook JSON ``raw`` (``"nbformat": 4``) is not a valid nbformat 4 notebook, or None."""
    import nbformat

    unreadable = _unreadable(raw)
    if unreadable:
        return f"not a valid nbformat 4 notebook at {unreadable}"
    try:
        nbformat.validate(raw, version=4)
    except nbformat.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "notebook"
        return f"not a valid nbformat 4 notebook at {where}: {e.message}"
    return None


def _unreadable(raw: dict) -> str | None:
    """What nbformat reads before its schema speaks, and fails on with a TypeError or an assertion
    instead of a ValidationError: ``nbformat_minor`` (an integer), each cell (an object) and its
    ``cell_type`` (a string)."""
    if "nbformat_minor" in raw and type(raw["nbformat_minor"]) is not int:
        return f"nbformat_minor: {raw['nbformat_minor']!r} is not of type 'integer'"
    for i, cell in enumerate(raw.get("cells") or []):
        if not isinstance(cell, dict):
            return f"cells/{i}: {cell!r} is not of type 'object'"
        if not isinstance(cell.get("cell_type", ""), str):
            return f"cells/{i}/cell_type: {cell['cell_type']!r} is not one of 'markdown', 'code', 'raw'"
    return None
