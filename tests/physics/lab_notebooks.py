"""Where the lab's API notebooks live and the order they publish in (dependencies first)."""

from __future__ import annotations

import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOTEBOOKS = os.path.join(REPO, "api_notebooks")
# The sha256 of every published notebook, frozen: a published version never changes, in the
# registry or here. A fix is a new version (`gilgamesh fork`, edit, `gilgamesh run`, publish),
# added below with its hash. Listed in the order `gilgamesh publish api_notebooks/*/*.ipynb`
# publishes them (dependencies and lower versions first).
PUBLISHED = {
    ("plasma", "1.0.0"): "39ecc9033ed09a38ba35a8559e1d6ec73ac2cb21f6ae0c0bbf7382e4bc901ce5",
    ("plasma", "1.1.0"): "7ddda4e7baff65f013d54a76da2754c137ce6e21854738d72a6ba69c37438ee5",
    ("langmuir", "1.0.0"): "24176527613d381bdf9e49e177c91a9503a0326f5394e7c790bd6d943b015b48",
    ("langmuir", "1.1.0"): "a3a0677d61c70e7bbdcf4de88393686bfdd48018841f9426ed27e5c9dadd5db1",
    ("langmuir", "1.2.0"): "d6254bf947aae823a0985250b63e1ebce0171d10cd70cd6fdda77b8e0af38632",
    ("langmuir", "2.0.0"): "79835848a33f3f50b617eb608d4001bea15cd17a3e884a0cd7e4d307e980de00",
    ("langmuir", "2.1.0"): "33f3bbeaf53e861fcdb281a0a3595eb779d49b14593f0bc56b7ccc01dc7e15ff",
    ("langmuir", "2.1.1"): "836bc3c9713bb1b16c19be6fed4901e518f1e24a33b46ab8de2e7b5ce9b07e38",
    ("helicon", "1.0.0"): "de1188c48195371bf4dd7e548507680871926dd91b5087ea8cc88b85957ae94f",
}
PUBLISH_ORDER = list(PUBLISHED)


def notebook_path(name: str, version: str) -> str:
    return os.path.join(NOTEBOOKS, name, f"{version}.ipynb")


def read_notebook(name: str, version: str) -> bytes:
    with open(notebook_path(name, version), "rb") as f:
        return f.read()


# The versions made after the generator went: forked, run with `gilgamesh run` and published as
# notebooks. They carry the Gilgamesh kernelspec that `fork` writes.
FORKED = {("plasma", "1.1.0"), ("langmuir", "2.1.0"), ("langmuir", "2.1.1")}


def add_lab_bibliography(root: str) -> None:
    """The lab's bibliography into the registry at ``root``, as ``make seed`` adds it first."""
    from gilgamesh.registry.facade import LocalRegistry

    with open(os.path.join(NOTEBOOKS, "references.bib"), encoding="utf-8") as f:
        LocalRegistry(root, "test").add_bibliography(f.read(), "references.bib")
