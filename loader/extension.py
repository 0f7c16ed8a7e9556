"""The IPython extension: ``%load_ext gilgamesh`` (the kernel "Python 3 (Gilgamesh)" preloads it).

It installs the finder and adds an input transformer that rewrites the notebook spelling
``gilgamesh.api.langmuir@1.2`` to the Python spelling ``gilgamesh.api.langmuir.v1_2`` before a
cell runs, the same rewrite the loader applies to API notebooks' own code. ``@`` in strings and
comments is left alone, and so is the matrix-multiplication ``@`` of ordinary code.
"""

from __future__ import annotations

from gilgamesh.spelling import bad_spec_message, find_bad_specs, rewrite_at_spelling

__all__ = ["rewrite_cell_lines", "load_ipython_extension", "unload_ipython_extension"]


def rewrite_cell_lines(lines: list[str]) -> list[str]:
    """An IPython ``input_transformers_post`` entry: the ``@`` spelling of a cell rewritten."""
    source = "".join(lines)
    bad = find_bad_specs(source)
    if bad:
        # Else Python sees "gilgamesh.api.x@banana" and says only "invalid syntax".
        raise SyntaxError(bad_spec_message(*bad[0]))
    rewritten = rewrite_at_spelling(source)
    if rewritten == source:
        return lines
    return rewritten.splitlines(keepends=True)


def load_ipython_extension(ip) -> None:
    """Install the finder and the ``@`` rewrite in the shell ``ip`` (idempotent)."""
    import gilgamesh.api  # noqa: F401  (installs the finder)

    if rewrite_cell_lines not in ip.input_transformers_post:
        ip.input_transformers_post.append(rewrite_cell_lines)


def unload_ipython_extension(ip) -> None:
    """Stop rewriting; modules already imported stay."""
    while rewrite_cell_lines in ip.input_transformers_post:
        ip.input_transformers_post.remove(rewrite_cell_lines)
