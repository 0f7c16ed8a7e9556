"""Import errors that are also Gilgamesh errors.

An import of a name that does not resolve (no such API, no matching version, a malformed version
module) raises a ``ModuleNotFoundError``, as Python code expects from an import, that is also the
matching :class:`~gilgamesh.errors.GilgameshError` (message, exit code, HTTP status). Other
failures (registry unreachable, integrity) propagate as they are.
"""

from __future__ import annotations

from gilgamesh.errors import ApiNotFound, GilgameshError, InvalidName, InvalidSpec, VersionNotFound

__all__ = [
    "ApiNotFoundError",
    "VersionNotFoundError",
    "InvalidNameError",
    "InvalidVersionModuleError",
    "as_import_error",
]


class ApiNotFoundError(ApiNotFound, ModuleNotFoundError):
    """``import gilgamesh.api.X``: the registry has no API named X."""


class VersionNotFoundError(VersionNotFound, ModuleNotFoundError):
    """``import gilgamesh.api.X.vS``: no published version of X matches S."""


class InvalidNameError(InvalidName, ModuleNotFoundError):
    """``import gilgamesh.api.X``: X is not a valid API name."""


class InvalidVersionModuleError(InvalidSpec, ModuleNotFoundError):
    """``import gilgamesh.api.X.Y``: Y is not a version spelling (``v1``, ``v1_2``, ``v1_2_0``, ...)."""


_AS_IMPORT = (
    (ApiNotFound, ApiNotFoundError),
    (VersionNotFound, VersionNotFoundError),
    (InvalidName, InvalidNameError),
    (InvalidSpec, InvalidVersionModuleError),
)


def as_import_error(e: BaseException, fullname: str) -> BaseException:
    """The import error to raise for ``e`` met while importing ``fullname`` (``e`` itself if none)."""
    if not isinstance(e, GilgameshError) or isinstance(e, ModuleNotFoundError):
        return e
    for base, cls in _AS_IMPORT:
        if isinstance(e, base):
            err = cls(e.message, details=e.details)
            err.name = fullname
            return err
    return e
