"""Keep jsonschema's IRI format checker from loading in Gilgamesh's own processes.

jsonschema (under nbformat, nbclient and nbconvert) imports every optional format checker that is
installed. JupyterLab's server installs them all, and one, ``rfc3987_syntax``, builds a Lark
grammar when imported: about 1.3 s of CPU in every process that imports nbformat, where JupyterLab
shares the environment (``gilgamesh[lab]``, and most lab machines). No schema Gilgamesh
validates uses the ``iri`` formats, so its own entry points (the command line and the
validation runner) mark that module unavailable before anything imports jsonschema: jsonschema
then goes without that one checker, as it does where the module is not installed. Processes that
run other people's code (kernels, model workers) are left as they are.
"""

from __future__ import annotations

import sys

__all__ = ["skip_iri_format_checker"]


def skip_iri_format_checker() -> None:
    """Before jsonschema is imported in this process, make ``import rfc3987_syntax`` fail."""
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # None in sys.modules: ImportError on import
