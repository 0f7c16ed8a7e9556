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

    try:
        nbformat.validate(raw, version=4)
    except nbformat.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "notebook"
        return f"not a valid nbformat 4 notebook at {where}: {e.message}"
    return None
