"""Parsing Python source into an AST, safely from several threads at once.

CPython 3.11 keeps the AST constructor's recursion counter per interpreter, not per thread: two
threads building ASTs at once (a garbage collection that runs a finalizer is enough to switch
threads in the middle of one) corrupt it, and one of them fails with ``SystemError: AST
constructor recursion depth mismatch`` (python/cpython#106905). The service parses notebooks in
its executor threads (publish checks, OpenAPI, argument binders), so every ``ast.parse`` of the
product goes through one lock; a parse takes well under a millisecond per cell.
"""

from __future__ import annotations

import ast
import threading

__all__ = ["parse_python"]

_LOCK = threading.Lock()


def parse_python(source: str, mode: str = "exec") -> ast.AST:
    """``ast.parse(source, mode=mode)``, one thread at a time; raises ``SyntaxError`` as it does."""
    with _LOCK:
        return ast.parse(source, mode=mode)
