"""gilgamesh.loader: versioned imports of API notebooks (docs/architecture.md, Import).

``import gilgamesh.api`` installs :class:`~gilgamesh.loader.finder.ApiFinder`; from then on
``gilgamesh.api.<name>.v<spec>`` imports a published notebook as a module. The modules:

- ``finder``      the warm import path: the meta-path finder, the API handle and module types,
                  the resolution of specs once per process, reading the caches
- ``cache``       the on-disk caches: their layout and the sealed file format, read and write
- ``fetch``       the cold import path: resolving anew, offline fallback, fetching notebooks,
                  compiling them, parsing session locks, comparing environments
- ``compiler``    notebook bytes -> per-cell code objects and the documentation data
- ``errors``      import errors that are also Gilgamesh errors
- ``docs``        documentation for Jupyter (markdown) and the terminal
- ``extension``   the IPython extension (the ``@`` spelling)
- ``kernelspec``  the "Python 3 (Gilgamesh)" kernel

This package sits on the path of every ``gilgamesh.api`` import: it defines only the warning
categories and imports the rest on demand.
"""

import os
import sys

__all__ = [
    "GilgameshWarning",
    "UnpinnedImportWarning",
    "YankedVersionWarning",
    "OfflineWarning",
    "CacheIntegrityWarning",
    "DeprecatedVersionWarning",
    "EnvironmentMismatchWarning",
    "UnlockedImportWarning",
    "warn",
]


class GilgameshWarning(UserWarning):
    """Base of the warnings the loader issues."""


class UnpinnedImportWarning(GilgameshWarning):
    """An import without a version spec: it gets the latest release, which may change."""


class YankedVersionWarning(GilgameshWarning):
    """An exact pin of a yanked version; the message carries the yank reason."""


class OfflineWarning(GilgameshWarning):
    """The registry is unreachable: resolved from the last index seen, code from the cache."""


class CacheIntegrityWarning(GilgameshWarning):
    """A cache entry did not match its digest; it was discarded and rebuilt from the registry."""


class DeprecatedVersionWarning(GilgameshWarning):
    """A deprecated version still imports; the message says what to use instead."""


class EnvironmentMismatchWarning(GilgameshWarning):
    """This environment differs (major or minor) from the one the version was validated in.

    ``GILGAMESH_ENVIRONMENT_WARNINGS=0`` silences it (so does a ``warnings`` filter on this class).
    """


class UnlockedImportWarning(GilgameshWarning):
    """A session lock is in force but does not cover this import; it resolved as usual."""


# Frames in these directories (and importlib's) are skipped when a warning is attributed to a
# line: the user should see the import or the ``use()`` call that caused it, not the loader.
_OWN_DIRS = (
    os.path.dirname(os.path.abspath(__file__)) + os.sep,
    os.path.dirname(os.path.abspath(sys.modules["gilgamesh"].__file__)) + os.sep,
)


def warn(message: str, category: type) -> None:
    """``warnings.warn`` attributed to the first frame outside importlib and Gilgamesh."""
    import importlib
    import warnings

    skip = _OWN_DIRS + (os.path.dirname(importlib.__file__) + os.sep,)
    frame = sys._getframe(0)
    level = 1
    while True:
        # ``warnings`` itself steps over importlib's bootstrap frames when it counts a stacklevel.
        caller = frame.f_back
        while caller is not None and "importlib" in caller.f_code.co_filename \
                and "_bootstrap" in caller.f_code.co_filename:
            caller = caller.f_back
        if caller is None:
            break
        frame, level = caller, level + 1
        if not frame.f_code.co_filename.startswith(skip):
            break
    warnings.warn(message, category, stacklevel=level)
