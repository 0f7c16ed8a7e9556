"""A request body read as strict JSON: the one JSON policy of every route's body, model calls included.

Here rather than in the handlers so that a model worker, which parses a large model-call body
itself (:mod:`.worker`), reads it by the same rules without importing tornado.
"""

from __future__ import annotations

import json

from gilgamesh import errors

__all__ = ["loads_request_json"]


def _refuse_constant(name: str):
    """Python's json reads NaN and Infinity, which JSON has no spelling for: refuse them."""
    raise ValueError(f"{name} is not a JSON number")


# One decoder for every body: json.loads with a hook builds a new one per call, which on the
# model-call path costs more than parsing a small body.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def loads_request_json(data: bytes):
    """A request body parsed as strict JSON, or :class:`~gilgamesh.errors.UsageError` saying why not."""
    try:
        # As json.loads reads bytes: UTF-8, -16 or -32, told by the first bytes (a BOM included).
        return _DECODER.decode(data.decode(json.detect_encoding(data), "surrogatepass"))
    except (ValueError, UnicodeDecodeError) as e:
        raise errors.UsageError(f"the request body is not valid JSON: {e}") from None
    except RecursionError:
        raise errors.UsageError("the request body is not valid JSON: it is nested too deeply") from None
