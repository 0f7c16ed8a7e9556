"""Where the lab's API notebooks live and the order they publish in (dependencies first)."""

from __future__ import annotations

import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOTEBOOKS = os.path.join(REPO, "api_notebooks")
PUBLISH_ORDER = [("plasma", "1.0.0"), ("langmuir", "1.0.0"), ("langmuir", "1.1.0"), ("langmuir", "1.2.0"),
                 ("langmuir", "2.0.0"), ("helicon", "1.0.0")]


def notebook_path(name: str, version: str) -> str:
    return os.path.join(NOTEBOOKS, name, f"{version}.ipynb")


def read_notebook(name: str, version: str) -> bytes:
    with open(notebook_path(name, version), "rb") as f:
        return f.read()
