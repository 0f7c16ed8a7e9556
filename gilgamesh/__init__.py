"""Gilgamesh: versioned scientific models as documented Jupyter notebooks.

```python
import gilgamesh
from gilgamesh.api.langmuir.v1_2 import analyze     # langmuir@1.2, anywhere
lm = gilgamesh.use("langmuir@1.2")                  # the same module object
gilgamesh.docs("langmuir@1.2")                      # its narrative (rendered in Jupyter)
gilgamesh.refresh()                                 # forget resolved specs
```

In IPython and Jupyter, ``%load_ext gilgamesh`` (or the kernel "Python 3 (Gilgamesh)") adds the
notebook spelling ``from gilgamesh.api.langmuir@1.2 import analyze``.

Importing this package is cheap: everything here loads on first use. The code's map (layers,
packages, data flows) is docs/architecture.md.
"""

__version__ = "0.1.0"

__all__ = ["use", "docs", "refresh", "load_ipython_extension", "unload_ipython_extension", "__version__"]


def use(spec: str):
    """The module of ``"name@spec"`` (``"langmuir@1.2"``), as ``import gilgamesh.api.langmuir.v1_2``.

    Without ``@spec`` it is the highest release, with a warning that the import is unpinned.
    """
    from gilgamesh.loader.finder import use as _use

    return _use(spec)


def docs(spec):
    """The documentation of ``"name@spec"`` (or of an API module): rendered in Jupyter, text when printed."""
    from gilgamesh.loader.docs import docs as _docs
    from gilgamesh.loader.finder import summary_of, use as _use

    module = _use(spec) if isinstance(spec, str) else spec
    return _docs(module, summary_of(module))


def refresh() -> None:
    """Forget the versions specs resolved to in this process; the next import resolves anew."""
    from gilgamesh.loader.finder import refresh as _refresh

    _refresh()


def load_ipython_extension(ip) -> None:
    """``%load_ext gilgamesh``: the ``@`` spelling in cells, and the finder installed."""
    from gilgamesh.loader.extension import load_ipython_extension as _load

    _load(ip)


def unload_ipython_extension(ip) -> None:
    """``%unload_ext gilgamesh``: stop rewriting the ``@`` spelling."""
    from gilgamesh.loader.extension import unload_ipython_extension as _unload

    _unload(ip)
