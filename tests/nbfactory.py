"""Build API notebooks for tests: small, valid nbformat 4, with the metadata publish needs."""

from __future__ import annotations

import json


def code(source: str, *tags: str, outputs: list | None = None) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": {"tags": list(tags)} if tags else {},
            "outputs": outputs or [], "source": source}


def markdown(source: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def notebook(name: str, version: str, cells: list[dict], *, summary: str = "A test API.",
             endpoints: list[str] | None = None, executed: bool = True, **extra_meta) -> dict:
    """A notebook; ``executed``: when none of its code cells ran, they are saved as run, without outputs.

    (Publishing refuses a notebook that was never run; a fixture made of definitions is what
    Jupyter saves after "Run All": execution counts and no outputs.)
    """
    meta = {"name": name, "version": version, "summary": summary, **extra_meta}
    code_cells = [c for c in cells if c["cell_type"] == "code"]
    if executed and not any(c.get("execution_count") is not None or c.get("outputs") for c in code_cells):
        counts = iter(range(1, len(code_cells) + 1))
        cells = [dict(c, execution_count=next(counts)) if c["cell_type"] == "code" else c for c in cells]
    if endpoints is not None:
        meta["endpoints"] = endpoints
    return {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            "gilgamesh": meta,
        },
        "cells": [dict(c, id=f"cell-{i}") for i, c in enumerate(cells)],
    }


def to_bytes(nb: dict) -> bytes:
    return (json.dumps(nb, indent=1) + "\n").encode()


def simple_api(name: str = "demo", version: str = "1.0.0", *, extra: str = "", scale_default: str = "2.0") -> bytes:
    """A small documented API with one endpoint; ``extra`` is appended as another code cell."""
    cells = [
        markdown(f"# {name}\n\nA demonstration API. The area of a square is $A = s^2$."),
        code("import math\n\nUNIT = 'm'"),
        markdown("Scale a length by a factor."),
        code(f"def scale(x: float, factor: float = {scale_default}) -> float:\n    return x * factor"),
    ]
    if extra:
        cells.append(code(extra))
    return to_bytes(notebook(name, version, cells, endpoints=["scale"]))
