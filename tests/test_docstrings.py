"""The one docstring structure: numpydoc, Google, reST fields and markdown read alike."""

from __future__ import annotations

import pytest

from gilgamesh.documentation.docstrings import Parameter, Raised, Returned, parse_docstring, rst_to_markdown, to_markdown

NUMPYDOC = """Debye length [m].

Parameters
----------
T_e : float
    Electron temperature [eV].
n_e : float, optional
    Electron density [m^-3], default ``1e17``.

Returns
-------
float
    The length [m].

Raises
------
ValueError
    If T_e is not positive.
"""

GOOGLE = """Debye length [m].

Args:
    T_e (float): Electron temperature [eV].
    n_e (float, optional): Electron density [m^-3], default ``1e17``.

Returns:
    float: The length [m].

Raises:
    ValueError: If T_e is not positive.
"""

REST = """Debye length [m].

:param T_e: Electron temperature [eV].
:type T_e: float
:param n_e: Electron density [m^-3], default ``1e17``.
:type n_e: float, optional
:returns: The length [m].
:rtype: float
:raises ValueError: If T_e is not positive.
"""


@pytest.mark.parametrize("text", [NUMPYDOC, GOOGLE, REST], ids=["numpydoc", "google", "rest"])
def test_every_style_gives_the_same_structure(text):
    doc = parse_docstring(text)
    assert doc.summary == "Debye length [m]."
    assert doc.parameters == (
        Parameter("T_e", "float", "eV", "Electron temperature.", False, ""),
        Parameter("n_e", "float", "m^-3", "Electron density, default `1e17`.", True, ""),
    )
    assert doc.returns == (Returned("", "float", "m", "The length."),)
    assert doc.raises == (Raised("ValueError", "If T_e is not positive."),)


@pytest.mark.parametrize("text, summary, description", [
    ("One line.", "One line.", ""),
    ("## Heading\n\nThe text $x_1$.", "Heading", "The text $x_1$."),
    ("First.\n\nSecond paragraph.", "First.", "Second paragraph."),
    ("$$a = b$$\n\nthen.", "", "$$a = b$$\n\nthen."),
    ("", "", ""),
])
def test_prose_docstrings(text, summary, description):
    doc = parse_docstring(text)
    assert (doc.summary, doc.description, doc.parameters) == (summary, description, ())


@pytest.mark.parametrize("rst, markdown", [
    ("``x + 1``", "`x + 1`"),
    (":math:`\\alpha^2`", "$\\alpha^2$"),
    ("see :func:`~gilgamesh.use`", "see `gilgamesh.use`"),
    (".. math:: E = mc^2", "$$\nE = mc^2\n$$"),
    (".. math::\n\n   a = b\n   c = d\n\nafter", "$$\na = b\nc = d\n$$\n\nafter"),
    (".. note:: Mind the units.", "**Note.** Mind the units."),
    ("as in [1]_", "as in [1]"),
    ("plain *markdown* stays", "plain *markdown* stays"),
])
def test_rst_to_markdown(rst, markdown):
    assert rst_to_markdown(rst) == markdown


@pytest.mark.parametrize("description, unit, rest", [
    ("Electron temperature [eV].", "eV", "Electron temperature."),
    ("Field [T] (zero allowed).", "T", "Field (zero allowed)."),
    ("See [the docs](https://x.org).", "", "See [the docs](https://x.org)."),
    ("As in [1].", "", "As in [1]."),
    ("Element x[0] of the array.", "", "Element x[0] of the array."),
])
def test_units_come_out_of_the_brackets(description, unit, rest):
    p = parse_docstring(f"S.\n\nParameters\n----------\nx : float\n    {description}\n").parameters[0]
    assert (p.unit, p.description) == (unit, rest)


def test_markdown_sections_are_labels_over_lists():
    markdown = to_markdown(parse_docstring(NUMPYDOC))
    assert markdown == (
        "Debye length [m].\n\n"
        "**Parameters**\n\n"
        "- **T\\_e** (`float` [eV]): Electron temperature.\n"
        "- **n\\_e** (`float`, optional [m^-3]): Electron density, default `1e17`.\n\n"
        "**Returns**\n\n- `float` [m]: The length.\n\n"
        "**Raises**\n\n- `ValueError`: If T_e is not positive."
    )
