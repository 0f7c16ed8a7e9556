"""nbval's output comparison, with floats in text compared under a relative tolerance.

The cell markers (tags ``nbval-skip``, ``nbval-ignore-output``, ``nbval-check-output``,
``raises-exception`` and the ``# NBVAL_*`` comments) are read by nbval's own functions, outputs are
merged by nbval's ``coalesce_streams`` and compared by nbval's ``IPyNbCell.compare_outputs``
(which keys are compared, how outputs are grouped per MIME type, what counts as a mismatch), so
its semantics hold. Two things differ, both on purpose:

* every string is wrapped in :class:`TolerantText`, whose equality reads the numbers in the text and
  compares floats with ``math.isclose(rel_tol=tolerance)``; integers and the text around the
  numbers must match exactly (only the padding next to a number may differ, as numpy's array
  printing pads columns to the widest value);
* the notebook's regex sanitizers (:mod:`.sanitize`) rewrite both sides' text first, as nbval's
  ``--nbval-sanitize-with`` does;
* images (``image/png``, ``image/jpeg``) are compared as decoded pixels (:mod:`.figures`), not as
  bytes (nbval without ``--nbdime`` leaves them out): a PNG re-encoded with other metadata is the
  same figure, a changed curve is not.

Importing this module loads ``nbval.plugin``'s code; outside pytest it does so without pytest and
coverage (:func:`_nbval_functions`). It runs in the validation runner, never on the import path of
``gilgamesh.api``.
"""

from __future__ import annotations

import math
import re
import sys
from collections import defaultdict
from typing import NamedTuple

from gilgamesh.registry.compare.sanitize import apply_sanitizers
from gilgamesh.registry.compare.tolerance import DEFAULT_TOLERANCE

__all__ = [
    "DEFAULT_TOLERANCE",
    "SKIP_COMPARE",
    "TolerantText",
    "Mismatch",
    "cell_options",
    "texts_match",
    "compare_outputs",
]


def _nbval_functions():
    """nbval.plugin's module namespace, loaded without importing pytest and coverage.

    The comparison code used here is plain functions and one method of ``IPyNbCell``; the module
    imports pytest only to subclass ``pytest.File``/``pytest.Item`` and coverage only for
    ``--nbval-cov``. Those two imports are 0.3 s of the validation runner's CPU, so outside a
    pytest process the module is executed with stand-ins for them and then forgotten again (a
    later ``import nbval.plugin`` loads the real thing). Should a future nbval need more of pytest
    at import, the real module is imported instead.
    """
    if "pytest" in sys.modules or "nbval.plugin" in sys.modules:
        import nbval.plugin

        return vars(nbval.plugin)
    import importlib
    import types

    pytest_stand_in = types.ModuleType("pytest")
    pytest_stand_in.File = type("File", (), {})
    pytest_stand_in.Item = type("Item", (), {})
    cover_stand_in = types.ModuleType("nbval.cover")
    cover_stand_in.setup_coverage = cover_stand_in.teardown_coverage = None
    stand_ins = {"pytest": pytest_stand_in, "nbval.cover": cover_stand_in}
    sys.modules.update(stand_ins)
    try:
        namespace = dict(vars(importlib.import_module("nbval.plugin")))
    except Exception:  # noqa: BLE001 - nbval changed: fall back to the ordinary import below
        namespace = None
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
        sys.modules.pop("nbval.plugin", None)
        nbval = sys.modules.get("nbval")
        for attribute in ("plugin", "cover"):
            if nbval is not None and hasattr(nbval, attribute):
                delattr(nbval, attribute)
    if namespace is None:
        import nbval.plugin

        return vars(nbval.plugin)
    return namespace


_nbval = _nbval_functions()
IPyNbCell = _nbval["IPyNbCell"]
coalesce_streams = _nbval["coalesce_streams"]
find_comment_markers = _nbval["find_comment_markers"]
find_metadata_tags = _nbval["find_metadata_tags"]
nocolors = _nbval["nocolors"]
transform_streams_for_comparison = _nbval["transform_streams_for_comparison"]
del _nbval

# nbval's IPyNbFile.skip_compare without --nbdime (it is built in IPyNbFile.__init__, which needs
# a pytest session, hence repeated here).
SKIP_COMPARE = (
    "metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
    "application/vnd.jupyter.widget-view+json", "image/png", "image/jpeg",
)

_NUMBER = re.compile(r"([-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)")
_PAD = " \t"


def cell_options(cell: dict) -> dict:
    """nbval's options for one code cell: ``skip``, ``check``, ``check_exception``.

    Comments win over tags, as in nbval; ``check`` defaults to True (``--nbval``, not lax).
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbval warns about conflicting markers; the last one wins
        options = defaultdict(bool, find_metadata_tags(cell.get("metadata", {})))
        options.update(dict(find_comment_markers(cell.get("source", ""))))
    options.setdefault("check", True)
    return options


def _is_int(token: str) -> bool:
    return not any(c in token for c in ".eE")


def _numbers_match(a: str, b: str, tolerance: float) -> bool:
    if a == b:
        return True
    if _is_int(a) and _is_int(b):
        return int(a) == int(b)
    return math.isclose(float(a), float(b), rel_tol=tolerance, abs_tol=0.0)


def texts_match(expected: str, got: str, tolerance: float = DEFAULT_TOLERANCE) -> bool:
    """Equal text, except that floats may differ by ``tolerance`` (relative); 0 means exact text."""
    if expected == got:
        return True
    if tolerance == 0:
        return False  # the author asked for exact text: "1000" is not "1000.0"
    a, b = _NUMBER.split(expected), _NUMBER.split(got)
    if len(a) != len(b):
        return False
    last = len(a) - 1
    for i, (x, y) in enumerate(zip(a, b)):
        if i % 2:  # a number
            if not _numbers_match(x, y, tolerance):
                return False
            continue
        if x == y:
            continue
        # Text between numbers: padding that touches a number may differ.
        if i > 0:
            x, y = x.lstrip(_PAD), y.lstrip(_PAD)
        if i < last:
            x, y = x.rstrip(_PAD), y.rstrip(_PAD)
        if x != y:
            return False
    return True


class TolerantText(str):
    """A string whose ``==`` is :func:`texts_match`: what nbval's comparison sees."""

    def __new__(cls, text: str, tolerance: float):
        obj = super().__new__(cls, text)
        obj.tolerance = tolerance
        return obj

    def __eq__(self, other) -> bool:
        if not isinstance(other, str):
            return NotImplemented
        return texts_match(str(self), str(other), self.tolerance)

    def __ne__(self, other) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = str.__hash__


class Mismatch(NamedTuple):
    """Why a cell's new outputs differ from the stored ones."""

    key: str  # the output key: a MIME type, a stream name ("stdout"), "ename", "evalue", ...
    expected: str | None  # None: the stored notebook has no such output
    got: str | None  # None: the new run produced no such output
    note: str | None = None  # a whole sentence instead of expected/got (figures)

    def describe(self, limit: int = 300) -> str:
        """One line for the publish report: which output, expected what, got what."""
        if self.note is not None:
            return self.note
        if self.expected is None:
            return f"the new run produced {self.key} output {_clip(self.got, limit)} that the stored notebook does not have"
        if self.got is None:
            return f"expected {self.key} output {_clip(self.expected, limit)}, but the new run produced none"
        where, expected, got = _first_difference(self.expected, self.got)
        return f"{self.key} output differs{where}: expected {_clip(expected, limit)}, got {_clip(got, limit)}"


def _clip(text, limit: int) -> str:
    text = text if isinstance(text, str) else repr(text)
    if len(text) > limit:
        text = text[:limit] + "..."
    return repr(text)


def _first_difference(expected, got) -> tuple[str, object, object]:
    """``(" at line N", expected line, got line)`` of the first differing line of two texts."""
    if not (isinstance(expected, str) and isinstance(got, str)):
        return "", expected, got
    tolerance = getattr(expected, "tolerance", DEFAULT_TOLERANCE)
    a, b = str(expected).splitlines(), str(got).splitlines()
    if len(a) <= 1 and len(b) <= 1:
        return "", str(expected), str(got)
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else "<no line>"
        y = b[i] if i < len(b) else "<no line>"
        if i >= len(a) or i >= len(b) or not texts_match(x, y, tolerance):
            return f" at line {i + 1}", x, y
    return "", str(expected), str(got)  # pragma: no cover - texts differ only in line endings


class _NbvalCell:
    """The attributes of nbval's ``IPyNbCell`` that its ``compare_outputs`` reads."""

    colors = nocolors

    def __init__(self, tolerance: float, sanitizers: list):
        self.tolerance = tolerance
        self.sanitizers = sanitizers
        self.parent = self  # compare_outputs reads self.parent.skip_compare
        self.skip_compare = SKIP_COMPARE
        self.comparison_traceback: list[str] = []
        self.value_mismatch: tuple | None = None

    def sanitize(self, value):
        if not isinstance(value, str):
            return value
        return TolerantText(apply_sanitizers(value, self.sanitizers), self.tolerance)

    def format_output_compare(self, key, left, right):
        self.value_mismatch = (key, left, right)


def _flatten(outputs: list) -> dict[str, list]:
    """nbval's grouping of outputs by key (MIME types flattened out of ``data``)."""
    grouped: dict[str, list] = defaultdict(list)
    for out in transform_streams_for_comparison(outputs):
        for key, value in out.items():
            if key in SKIP_COMPARE:
                continue
            if key == "data":
                for mime, v in value.items():
                    if mime not in SKIP_COMPARE:
                        grouped[mime].append(v)
            else:
                grouped[key].append(value)
    return grouped


def compare_outputs(reference: list, new: list, tolerance: float = DEFAULT_TOLERANCE,
                    sanitizers: list | None = None) -> Mismatch | None:
    """Compare one cell's stored outputs with its new ones as nbval does; None when they agree.

    Both lists hold nbformat output nodes (attribute access, as nbval expects); ``sanitizers``
    are ``(compiled regex, replacement)`` pairs (:func:`.sanitize.read_sanitizers`).
    """
    from gilgamesh.registry.compare.figures import compare_figures

    reference = coalesce_streams(list(reference))
    new = coalesce_streams(list(new))
    cell = _NbvalCell(tolerance, sanitizers or [])
    if IPyNbCell.compare_outputs(cell, new, reference):
        note = compare_figures(reference, new)
        return None if note is None else Mismatch("image", None, None, note)
    if cell.value_mismatch is not None:
        key, left, right = cell.value_mismatch
        return Mismatch(key, left, right)
    # A missing or extra key, or a different number of outputs under one key.
    ref, got = _flatten(reference), _flatten(new)
    for key in list(ref) + [k for k in got if k not in ref]:
        r, g = ref.get(key, []), got.get(key, [])
        if len(r) != len(g):
            return Mismatch(
                key,
                "\n".join(map(str, r)) if r else None,
                "\n".join(map(str, g)) if g else None,
            )
    return Mismatch("output", "\n".join(cell.comparison_traceback), None)  # pragma: no cover
