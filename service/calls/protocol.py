"""The wire between the server and its model workers: length-prefixed frames over a socketpair.

Server -> worker: ``<I length>`` + a pickled request tuple, the arguments bound already::

    (CALL, call id, name, version, function, positional, keywords, arrays)

or, for a large body, the arguments as the body reader bound and pickled them (the server
forwards them without decoding: see :mod:`.body_reader`)::

    (CALL_BOUND, call id, name, version, function, pickled (positional, keywords, arrays))

Worker -> server: ``<I length><Q call id><B kind><f seconds>`` + payload, where ``seconds`` is
how long the call ran in the worker (0 for the other kinds; the server learns from it which
endpoints are cheap enough to batch), and the payload of ``OK`` is the
result already encoded as JSON (the server splices it into the response without decoding it)
and that of ``ERROR`` is a JSON object ``{"type", "message", "details"}`` naming the
:mod:`gilgamesh.errors` class to raise. ``IMPORTING``/``IMPORTED`` bracket the first import of a
module so that the server applies the import time limit to it instead of the call's.

Calls run one at a time in arrival order, so the server knows which call a worker is running:
the oldest one it has not answered.
"""

from __future__ import annotations

import struct

__all__ = ["CALL", "CALL_BOUND", "LARGE_BODY", "OK", "ERROR", "READY", "IMPORTING", "IMPORTED", "REQUEST_HEADER", "REPLY_HEADER"]

CALL = 1
CALL_BOUND = 2

# Bytes of body past which a model call's arguments are parsed by the body reader: below it
# parsing on the event loop costs less than a millisecond, above it the loop would hold every
# other call up.
LARGE_BODY = 64 * 1024

OK = 0
ERROR = 1
READY = 2
IMPORTING = 3
IMPORTED = 4

REQUEST_HEADER = struct.Struct("<I")
REPLY_HEADER = struct.Struct("<IQBf")  # length of what follows the length field, call id, kind, seconds
