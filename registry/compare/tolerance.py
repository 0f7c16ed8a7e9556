"""How close a number in an output must come to the stored one: a relative tolerance.

Light on purpose (no nbval): the publishing process reads a notebook's tolerance without loading
the comparison code, which only the validation runner needs.
"""

from __future__ import annotations

__all__ = ["DEFAULT_TOLERANCE", "tolerance_of"]

DEFAULT_TOLERANCE = 1e-6  # relative; metadata.gilgamesh.tolerance overrides it


def tolerance_of(metadata: dict) -> float:
    """``metadata.gilgamesh.tolerance`` when it is a number in [0, 1), else the default (``0``:
    text compared exactly)."""
    value = metadata.get("tolerance")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1:
        return float(value)
    return DEFAULT_TOLERANCE
