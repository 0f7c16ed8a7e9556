"""Write the loader's fixture notebooks (``python tests/notebooks/loader/make_fixtures.py``).

The notebooks are committed; this script documents how they were made and rewrites them after a
change. The APIs:

- ``langmuir`` 1.1.0, 1.2.0, 1.2.1, 1.3.0rc1, 2.0.0 (the tests yank 1.1.0): a narrative with
  equations, a function documented only by the markdown cell above it, a function that raises
  from a known line, an ``example`` cell with a side effect (and a magic, which would not even
  compile on import), and ``@`` inside a string and a comment;
- ``plasma`` 1.0.0: imports ``langmuir@1.2`` with the ``@`` spelling, and carries a
  ``from __future__`` import over to later cells;
- ``broken`` 1.0.0: raises at import, from cell 3;
- ``uses_two_majors.ipynb``: a user notebook (not an API) run in the Gilgamesh kernel.
"""

from __future__ import annotations

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def _md(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(text: str, *tags: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": {"tags": list(tags)} if tags else {},
            "outputs": [], "source": text}


def _notebook(cells: list[dict], gilgamesh: dict | None = None) -> dict:
    metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                "language_info": {"name": "python"}}
    if gilgamesh:
        metadata["gilgamesh"] = gilgamesh
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": metadata,
            "cells": [dict(c, id=f"cell-{i + 1}") for i, c in enumerate(cells)]}


def langmuir(version: str) -> dict:
    major = int(version.split(".")[0])
    if major >= 2:  # 2.0: area becomes keyword-only and the result gains the saturation current
        signature = "V: list[float], I: list[float], *, area: float = 1e-06"
        extra = '        "I_sat": i_sat,\n'
    else:
        signature = "V: list[float], I: list[float], area: float = 1e-06"
        extra = ""
    cells = [
        _md("# Langmuir probe analysis\n\n"  # 1
            "A planar probe in a Maxwellian plasma. Above the floating potential the electron "
            "current grows as\n\n"
            "$$I_e = I_{es} \\exp\\left(\\frac{e (V - V_p)}{k_B T_e}\\right)$$\n\n"
            "so the electron temperature $T_e$ is the inverse slope of $\\ln I_e$ against $V$."),
        _code("import math\n\n"  # 2
              f"VERSION = {version!r}\n"
              "E_CHARGE = 1.602176634e-19\n"
              "# a comment naming gilgamesh.api.plasma@1 stays as written\n"
              "NOTE = 'strings keep their @: gilgamesh.api.plasma@1'"),
        _md("## Electron temperature\n\n"  # 3
            "The inverse slope of $\\ln I$ against $V$, in eV, from the points of positive current."),
        _code("def electron_temperature(V, I):\n"  # 4
              "    pairs = [(v, math.log(i)) for v, i in zip(V, I) if i > 0]\n"
              "    n = len(pairs)\n"
              "    mv = sum(p[0] for p in pairs) / n\n"
              "    ml = sum(p[1] for p in pairs) / n\n"
              "    slope = sum((v - mv) * (l - ml) for v, l in pairs) / sum((v - mv) ** 2 for v, _ in pairs)\n"
              "    return 1.0 / slope"),
        _md("## Analysis"),  # 5
        _code(f"def analyze({signature}) -> dict[str, float]:\n"  # 6
              '    """Electron temperature (eV) and ion saturation current density (A/m^2) of one sweep."""\n'
              "    if len(V) != len(I):\n"
              '        raise ValueError(f"V and I differ in length ({len(V)} != {len(I)})")\n'
              "    i_sat = -min(I)\n"
              "    return {\n"
              '        "T_e": electron_temperature(V, I),\n'
              '        "j_is": i_sat / area,\n'
              f"{extra}"
              "    }"),
    ]
    if major >= 2:  # 2.0 adds a dataclass documented by the markdown cell above it
        cells += [
            _md("A sweep as measured: voltages (V), currents (A) and the probe area (m$^2$)."),
            _code("from dataclasses import dataclass\n\n\n"
                  "@dataclass\n"
                  "class Sweep:\n"
                  "    V: list[float]\n"
                  "    I: list[float]\n"
                  "    area: float = 1e-06\n\n"
                  "    def analyze(self) -> dict[str, float]:\n"
                  "        return analyze(self.V, self.I, area=self.area)"),
        ]
    cells += [
        _md("## Example\n\nA synthetic sweep at $T_e = 3$ eV."),
        _code("%matplotlib inline\n"  # never compiled on import (the magic is not Python)
              "EXAMPLE_RAN = True\n"
              "print('EXAMPLE RAN')\n"
              "V = [0.5 * k for k in range(-20, 1)]\n"
              "analyze(V, [1e-3 * math.exp(v / 3.0) - 1e-5 for v in V])", "example"),
    ]
    meta = {"name": "langmuir", "version": version, "summary": "Planar Langmuir probe analysis",
            "endpoints": ["analyze"], "authors": ["A. Physicist"]}
    return _notebook(cells, meta)


def plasma() -> dict:
    cells = [
        _md("# Plasma parameters\n\n"  # 1
            "The Debye length $\\lambda_D = \\sqrt{\\varepsilon_0 T_e / (n_e e)}$ for $T_e$ in eV."),
        _code("from __future__ import annotations"),  # 2: carries over to the later cells
        _code("import math\n\n"  # 3
              "import gilgamesh.api.langmuir@1.2 as langmuir  # the @ spelling, as in a notebook\n"
              "from gilgamesh.api.langmuir@1.2 import analyze\n\n"
              "EPS0 = 8.8541878128e-12\n"
              "E_CHARGE = 1.602176634e-19\n"
              "NOTE = \"'gilgamesh.api.langmuir@1.2' in a string is text\""),
        _md("The Debye length in m, for a density in m^-3 and a temperature in eV."),  # 4
        _code("def debye_length(n_e: float, T_e: float) -> float:\n"  # 5
              "    return math.sqrt(EPS0 * T_e / (n_e * E_CHARGE))"),
        _code("def temperature_from_sweep(V: list[float], I: list[float]) -> float:\n"  # 6
              '    """The electron temperature of a sweep, by langmuir@1.2."""\n'
              '    return analyze(V, I)["T_e"]'),
    ]
    return _notebook(cells, {"name": "plasma", "version": "1.0.0", "summary": "Basic plasma parameters"})


def broken() -> dict:
    cells = [
        _md("# Broken\n\nNeeds a calibration file that is not there."),
        _code("CALIBRATION = 'probe-17.csv'"),
        _code("def load(path):\n"
              '    """Read a calibration."""\n'
              "    raise FileNotFoundError(path)\n\n"
              "TABLE = load(CALIBRATION)"),
    ]
    return _notebook(cells, {"name": "broken", "version": "1.0.0", "summary": "Fails at import"})


def uses_two_majors() -> dict:
    cells = [
        _md("# Two majors side by side\n\nRun in the kernel \"Python 3 (Gilgamesh)\"."),
        _code("from gilgamesh.api.langmuir@1.2 import analyze as analyze_1\n"
              "import gilgamesh.api.langmuir@2 as lm2\n"
              "V = [0.5 * k for k in range(-20, 1)]\n"
              "import math\n"
              "I = [1e-3 * math.exp(v / 3.0) - 1e-5 for v in V]\n"
              "r1, r2 = analyze_1(V, I), lm2.analyze(V, I, area=2e-6)\n"
              "print(sorted(r1), sorted(r2))\n"
              "print(round(r1['T_e'], 6) == round(r2['T_e'], 6))"),
        _code("import sys, gilgamesh\n"
              "print(analyze_1.__module__, lm2.__name__)\n"
              "print(gilgamesh.use('langmuir@1.2.1').analyze is analyze_1)\n"
              "print(sorted(k for k in sys.modules if k.startswith('gilgamesh.api.langmuir.')))"),
        _code("note = 'gilgamesh.api.langmuir@1.2'  # the @ in a string stays\n"
              "print(note)"),
        _code("from IPython import get_ipython\n"
              "print(get_ipython().object_inspect_text('lm2.electron_temperature'))"),
        _code("lm2"),
    ]
    return _notebook(cells)


def main() -> None:
    files = {f"langmuir-{v}.ipynb": langmuir(v) for v in ("1.1.0", "1.2.0", "1.2.1", "1.3.0rc1", "2.0.0")}
    files["plasma-1.0.0.ipynb"] = plasma()
    files["broken-1.0.0.ipynb"] = broken()
    files["uses_two_majors.ipynb"] = uses_two_majors()
    for name, nb in files.items():
        with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
            f.write(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
