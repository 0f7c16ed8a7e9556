"""Gilgamesh's validation gives nbval's verdicts on equivalents of nbval's own test notebooks.

nbval's repository tests plain passes, stored mismatches, missing and unexpected outputs, unrun
reference cells, ``NBVAL_IGNORE_OUTPUT``, ``NBVAL_CHECK_OUTPUT``, ``NBVAL_SKIP``,
``NBVAL_RAISES_EXCEPTION`` (comments and tags), LaTeX outputs, coalesced streams and sanitized
outputs (its ``sanitize_defaults.cfg``). Each case here is one cell of one notebook, so that one
``pytest --nbval`` run and one validation decide them all (two kernels): the table states the
verdict nbval is known to give, the real nbval gives it, and Gilgamesh gives the same one. Where
nbval reads a sanitize file, the notebook carries the same regexes in ``metadata.gilgamesh.sanitize``.
The cell that raises unexpectedly comes last: validation stops at it (nothing after it could be
trusted), where nbval goes on.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

import nbfactory as f
from gilgamesh.errors import PublishRefused
from gilgamesh.registry.publish.pipeline import publish

pytestmark = pytest.mark.slow


def out(text: str, name: str = "stdout") -> dict:
    return {"output_type": "stream", "name": name, "text": text}


def result(data: dict) -> dict:
    return {"output_type": "execute_result", "execution_count": 1, "data": data, "metadata": {}}


def error(ename: str, evalue: str) -> dict:
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": [f"{ename}: {evalue}"]}


LATEX = "<IPython.core.display.Latex object>"
ADDRESS = "<__main__.Probe at 0x7f3a1c2b9e40>"  # how IPython shows an object without a repr
# nbval's tests/sanitize_defaults.cfg, the parts these cases use.
SANITIZE = [{"regex": r"(<[a-zA-Z_][0-9a-zA-Z_.]* at )(0x[0-9a-fA-F]+)(>)", "replace": r"\1MEMORY_ADDRESS\3"},
            {"regex": r"\d\d\d\d-\d\d-\d\d", "replace": "DATESTAMP"}]

# (case, source, stored outputs, tags, ran, verdict); ran=False stores the cell as never executed.
CASES = [
    ("plain pass", "print('hello')", [out("hello\n")], (), True, "pass"),
    ("stored stream mismatch", "print(1 + 1)", [out("3\n")], (), True, "fail"),
    ("stored result mismatch", "6 * 7", [result({"text/plain": "41"})], (), True, "fail"),
    ("stored output missing now", "x = 1", [out("1\n")], (), True, "fail"),
    ("new output not stored", "print('new')", [], (), True, "fail"),
    ("stdout stored, stderr now", "import sys\nprint('x', file=sys.stderr)", [out("x\n")], (), True, "fail"),
    ("unrun reference without outputs", "print('unrun')", [], (), False, "pass"),
    ("unrun reference with outputs", "print('unrun')", [out("unrun\n")], (), False, "fail"),
    ("streams coalesced", "print('a')\nprint('b')", [out("a\n"), out("b\n")], (), True, "pass"),
    ("NBVAL_IGNORE_OUTPUT comment", "# NBVAL_IGNORE_OUTPUT\nimport random\nprint(random.random())",
     [out("0.5\n")], (), True, "pass"),
    ("nbval-ignore-output tag", "print('different')", [out("stored\n")], ("nbval-ignore-output",), True, "pass"),
    ("NBVAL_CHECK_OUTPUT matching", "# NBVAL_CHECK_OUTPUT\nprint(2 ** 10)", [out("1024\n")], (), True, "pass"),
    ("NBVAL_CHECK_OUTPUT mismatch", "# NBVAL_CHECK_OUTPUT\nprint(2 ** 10)", [out("1000\n")], (), True, "fail"),
    ("NBVAL_SKIP comment", "# NBVAL_SKIP\nraise RuntimeError('never run')", [out("stale\n")], (), True, "pass"),
    ("nbval-skip tag", "raise RuntimeError('never run')", [], ("nbval-skip",), True, "pass"),
    ("NBVAL_RAISES_EXCEPTION, error as stored", "# NBVAL_RAISES_EXCEPTION\n1 / 0",
     [error("ZeroDivisionError", "division by zero")], (), True, "pass"),
    ("raises-exception tag, other error stored", "int('x')",
     [error("ValueError", "invalid literal for int() with base 10: 'y'")], ("raises-exception",), True, "fail"),
    ("NBVAL_RAISES_EXCEPTION, nothing raised", "# NBVAL_RAISES_EXCEPTION\nprint('fine')", [out("fine\n")], (),
     True, "pass"),
    ("LaTeX as stored", "from IPython.display import Latex\nLatex(r'$\\alpha$')",
     [result({"text/latex": "$\\alpha$", "text/plain": LATEX})], (), True, "pass"),
    ("LaTeX changed", "Latex(r'$\\beta$')", [result({"text/latex": "$\\alpha$", "text/plain": LATEX})], (), True, "fail"),
    ("sanitized address", "class Probe:\n    pass\n\nProbe()", [result({"text/plain": ADDRESS})], (), True, "pass"),
    ("sanitized date", "import datetime\nprint('today is', datetime.date.today())", [out("today is 2001-01-01\n")],
     (), True, "pass"),
    ("sanitized date, other text changed", "print('run 2 on', datetime.date.today())", [out("run 1 on 2001-01-01\n")],
     (), True, "fail"),
    ("unexpected exception", "raise ValueError('boom')", [], (), True, "fail"),
]


def _cell(source, outputs, tags, ran) -> dict:
    # Tagged example: the cases are about validation, not about what an import may run.
    cell = f.code(source, "example", *tags, outputs=outputs)
    cell["execution_count"] = 1 if ran else None
    return cell


def _notebook() -> bytes:
    cells = [f.markdown("# verdicts\n\nnbval's cases, one a cell.")]
    cells += [_cell(source, outputs, tags, ran) for _, source, outputs, tags, ran, _ in CASES]
    return f.to_bytes(f.notebook("verdicts", "1.0.0", cells, sanitize=SANITIZE))


def _nbval_verdicts(tmp_path, data: bytes) -> list[str]:
    """Run the real ``pytest --nbval --nbval-sanitize-with`` and read its verdict per code cell."""
    work = tmp_path / "nbval"
    work.mkdir()
    (work / "verdicts.ipynb").write_bytes(data)
    (work / "sanitize.cfg").write_text("".join(f"regex: {s['regex']}\nreplace: {s['replace']}\n\n" for s in SANITIZE))
    report = tmp_path / "junit.xml"
    subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "--nbval-sanitize-with", str(work / "sanitize.cfg"),
         "-p", "no:importnb", "-p", "no:cacheprovider", "-q", f"--junitxml={report}", "--rootdir", str(work),
         str(work / "verdicts.ipynb")],
        capture_output=True, text=True, timeout=600, cwd=work,
    )
    verdicts = {}
    for case in ET.parse(report).iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        verdicts[int(case.get("name").split()[-1])] = "fail" if failed else "pass"  # "Cell N", code cells from 0
    return [verdicts.get(i, "missing") for i in range(len(CASES))]


def _gilgamesh_verdicts(registry: str, data: bytes) -> list[str]:
    """Validate the notebook; a code cell fails when validation names it."""
    try:
        publish(registry, data, dry_run=True)
        named = set()
    except PublishRefused as refusal:
        assert {p.check for p in refusal.details} == {"validation"}, refusal.details
        named = {p.cell for p in refusal.details}
    # Code cell i is notebook cell i + 2 (the markdown title is cell 1); validation stops at the
    # unexpected exception, so nothing after it is named (it is last).
    return ["fail" if i + 2 in named else "pass" for i in range(len(CASES))]


def test_gilgamesh_gives_nbvals_verdicts_on_nbvals_cases(registry, tmp_path):
    data = _notebook()
    expected = [case[-1] for case in CASES]
    nbval = _nbval_verdicts(tmp_path, data)
    gilgamesh = _gilgamesh_verdicts(registry, data)
    table = [(case[0], e, n, g) for case, e, n, g in zip(CASES, expected, nbval, gilgamesh)]
    assert [row for row in table if not row[1] == row[2] == row[3]] == [], "case, expected, nbval, gilgamesh"
