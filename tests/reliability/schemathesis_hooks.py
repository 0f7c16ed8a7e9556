"""schemathesis's hooks for test_schemathesis.py (``SCHEMATHESIS_HOOKS``): what no JSON Schema can say.

A numpy array parameter is nested arrays whose rows all have one length: the document says so in
words ("every row the same length"), JSON Schema has no keyword for it, and the server refuses a
ragged one (400 naming the parameter). So the arrays of a valid (positive) model call are cut to
the shape their rows share; invalid (negative) calls are sent as generated.
"""

from __future__ import annotations

import schemathesis


def _shape(value) -> tuple:
    """The shape nested arrays can be cut to: at each depth, the shortest row there."""
    if not isinstance(value, list):
        return ()
    if not value or not all(isinstance(v, list) for v in value):
        return (len(value),)
    rows = [_shape(v) for v in value]
    return (len(value),) + tuple(min(row[i] for row in rows) for i in range(min(map(len, rows))))


def _cut(value, shape: tuple):
    return [_cut(v, shape[1:]) for v in value[:shape[0]]] if shape and isinstance(value, list) else value


def rectangular(value):
    """``value`` with every nested array cut to a rectangle (objects' values too)."""
    if isinstance(value, dict):
        return {k: rectangular(v) for k, v in value.items()}
    return _cut(value, _shape(value))


@schemathesis.hook
def map_case(context, case):
    meta = case.meta
    if (meta is not None and meta.generation.mode.is_positive and case.operation.path.startswith("/models/")
            and isinstance(case.body, dict)):
        case.body = rectangular(case.body)
    return case
