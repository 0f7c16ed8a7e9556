"""One exception hierarchy for the whole product.

Every error subclasses the builtin it resembles (so ``except ValueError`` keeps working for
callers who do not know Gilgamesh) and carries the CLI exit code and the HTTP status that the
edges (``gilgamesh.cli`` and ``gilgamesh.service``) translate it to, once.

The classes are also the one table of errors by name: an error that crosses a process boundary
(a model worker's answer, a Dask task's) travels as its class name and is raised again on the
other side by :func:`rebuild`, with the status its class carries.
"""

from __future__ import annotations

__all__ = [
    "GilgameshError",
    "UsageError",
    "InvalidName",
    "InvalidVersion",
    "InvalidSpec",
    "NotFound",
    "ApiNotFound",
    "VersionNotFound",
    "Conflict",
    "PublishRefused",
    "BibliographyError",
    "Problem",
    "IntegrityError",
    "RegistryUnavailable",
    "AuthenticationError",
    "PermissionDenied",
    "ModelError",
    "ModelTimeout",
    "ModelCrashed",
    "BadArguments",
    "LockError",
    "BodyTooLarge",
    "MethodNotAllowed",
    "ServiceBusy",
    "TrustError",
    "VerificationFailed",
    "envelope",
    "by_name",
    "rebuild",
]


def envelope(status: int, message: str, details: list | tuple = ()) -> dict:
    """The one error envelope of the service (and of ``--json`` on the command line)."""
    return {"error": {
        "status": status,
        "message": message,
        "details": [d.to_dict() if hasattr(d, "to_dict") else str(d) for d in details],
    }}


class GilgameshError(Exception):
    """Base of every Gilgamesh error: a message, an exit code and an HTTP status."""

    exit_code = 1
    http_status = 500

    def __init__(self, message: str, *, details: list | None = None):
        super().__init__(message)
        self.message = message
        self.details = list(details or [])

    def __str__(self) -> str:
        if not self.details:
            return self.message
        lines = [self.message]
        lines.extend(f"  - {d}" for d in self.details)
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """The body of the service's error envelope."""
        return self.envelope()["error"]

    def envelope(self) -> dict:
        """``{"error": {"status", "message", "details"}}``."""
        return envelope(self.http_status, self.message, self.details)


class UsageError(GilgameshError, ValueError):
    """The command or request itself is malformed."""

    exit_code = 2
    http_status = 400


class InvalidName(GilgameshError, ValueError):
    """An API name outside ``[a-z][a-z0-9_]{0,63}`` (or a Python keyword)."""

    http_status = 400


class InvalidVersion(GilgameshError, ValueError):
    """A version outside the published-version grammar."""

    http_status = 400


class InvalidSpec(GilgameshError, ValueError):
    """A version spec that cannot choose among versions (``0``, ``1.x``, ...)."""

    http_status = 400


class NotFound(GilgameshError, LookupError):
    http_status = 404


class ApiNotFound(NotFound):
    """No API of that name in the registry."""


class VersionNotFound(NotFound):
    """The API exists but no published version matches the spec."""


class Conflict(GilgameshError):
    """A published (name, version) would change: published versions are immutable."""

    http_status = 409


class Problem:
    """One finding of a publish report: which check, what is wrong, where (cell, 1-based)."""

    __slots__ = ("check", "message", "cell")

    def __init__(self, check: str, message: str, cell: int | None = None):
        self.check = check
        self.message = message
        self.cell = cell

    def to_dict(self) -> dict:
        d = {"check": self.check, "message": self.message}
        if self.cell is not None:
            d["cell"] = self.cell
        return d

    def __str__(self) -> str:
        where = f" (cell {self.cell})" if self.cell is not None else ""
        return f"[{self.check}]{where} {self.message}"

    def __repr__(self) -> str:
        return f"Problem({self.check!r}, {self.message!r}, cell={self.cell!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Problem) and self.to_dict() == other.to_dict()


class PublishRefused(GilgameshError, ValueError):
    """The publish report found problems; ``details`` lists every one of them."""

    http_status = 422


class BibliographyError(GilgameshError, ValueError):
    """A BibTeX file that cannot join the registry's bibliography; ``details`` names each problem."""

    http_status = 422


class IntegrityError(GilgameshError):
    """Stored or cached content does not match its sha256."""

    http_status = 500


class LockError(GilgameshError, ValueError):
    """A session lock (``gilgamesh.lock``) that cannot be read or is malformed."""

    http_status = 500


class RegistryUnavailable(GilgameshError, ConnectionError):
    """The registry cannot be reached (and nothing usable is cached)."""

    http_status = 503


class AuthenticationError(GilgameshError, PermissionError):
    """No token, or a token that is not known."""

    http_status = 401


class PermissionDenied(GilgameshError, PermissionError):
    """A known token that may not do this."""

    http_status = 403


class BadArguments(GilgameshError, TypeError):
    """Arguments to a model endpoint that do not fit its signature."""

    http_status = 400


class ModelError(GilgameshError, RuntimeError):
    """The model itself raised while serving a call."""

    http_status = 422


class ModelTimeout(GilgameshError, TimeoutError):
    """A model call ran past its time limit."""

    http_status = 504


class ModelCrashed(GilgameshError, RuntimeError):
    """The process running a model call died: a worker of the service's pool (the model crashed
    it), or the Dask worker the call ran on."""

    http_status = 500


class BodyTooLarge(GilgameshError, ValueError):
    """A request body above the service's limit."""

    http_status = 413


class MethodNotAllowed(GilgameshError):
    """An HTTP method the route does not serve."""

    http_status = 405


class ServiceBusy(GilgameshError):
    """Every model worker is busy and the queue of waiting calls is full: retry after a while."""

    http_status = 503

    def __init__(self, message: str, *, retry_after: int = 1, details: list | None = None):
        super().__init__(message, details=details)
        self.retry_after = retry_after


class TrustError(GilgameshError, ValueError):
    """A key, signature, signed note, log statement or proof that cannot be used: missing,
    unreadable, malformed or of the wrong kind (``gilgamesh/trust/``)."""

    http_status = 422


class VerificationFailed(TrustError):
    """A well-formed signature, signed note or Merkle proof that does not verify: the content was
    changed, another key signed it, or a log is not the one its checkpoint says."""

    http_status = 422


def by_name(name) -> type[GilgameshError] | None:
    """The class of this module named ``name`` (``"ModelError"``), or None."""
    cls = globals().get(name) if isinstance(name, str) and name in __all__ else None
    return cls if isinstance(cls, type) and issubclass(cls, GilgameshError) else None


def rebuild(name, message: str, details: list | None = None, *, status: int | None = None,
            default: type[GilgameshError] = GilgameshError, retry_after: int | None = None) -> GilgameshError:
    """The error another process sent by name, raised again here.

    A name this module does not define (a subclass of another module) becomes ``default``. The
    status is the class's, unless the sender said another (``status``): the sender's word stands.
    """
    cls = by_name(name) or default
    if cls is ServiceBusy:
        return ServiceBusy(message, retry_after=retry_after or 1, details=details)
    error = cls(message, details=details)
    if status is not None and status != error.http_status:
        error.http_status = status
    return error
