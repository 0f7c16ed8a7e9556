"""The namespace of versioned imports: ``gilgamesh.api.<name>.v<spec>`` (README, Importing).

Importing this package installs the loader's finder; it stays lean on purpose (no nbformat,
IPython, json or packaging), since every model import goes through it. ``gilgamesh.api.<name>``
is found as an attribute too (``gilgamesh.api.langmuir.v1_2``), and ``dir(gilgamesh.api)``
lists the APIs of the registry.
"""

import sys as _sys

from gilgamesh.loader.finder import install as _install

_install()


def __getattr__(attr: str):
    if attr[:1] == "_":
        raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
    try:
        __import__(f"{__name__}.{attr}")
    except ModuleNotFoundError as e:
        raise AttributeError(str(e)) from e
    return _sys.modules[f"{__name__}.{attr}"]


def __dir__() -> list[str]:
    names = [n for n in globals() if not n.startswith("_")]
    try:
        from gilgamesh.registry import open_reader

        names += open_reader().names()
    except Exception:  # an unreachable registry lists nothing; dir() must not fail
        pass
    return sorted(set(names))
