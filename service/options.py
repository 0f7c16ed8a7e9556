"""The options of one ``gilgamesh serve``, each with its one default and its help.

``make_app``, ``serve``, the service context, the worker pool and ``gilgamesh serve``'s flags all
read :class:`ServiceOptions`; a default written anywhere else would drift from this one. (A
NamedTuple: every command builds its parser from these defaults, and ``dataclasses`` costs each
command 5 ms to import.)
"""

from __future__ import annotations

from typing import NamedTuple

from gilgamesh.errors import UsageError

__all__ = ["ServiceOptions"]

HELP = {
    "private": "require a token for reads too",
    "model_workers": "warm processes that run model calls (default: one per core)",
    "max_model_workers": "how many the pool grows to while slow calls occupy it (default: 4 per core)",
    "queue_limit": "calls that may wait for a worker; past it a call gets 503 with Retry-After",
    "call_timeout": "time limit of one model call in seconds; past it the call gets 504",
    "import_timeout": "seconds a model worker may take to import a version",
    "max_body_size": "largest request body accepted; larger ones get 413",
    "body_timeout": "seconds a request body may take to arrive; past it the connection is closed (a client "
                    "trickling bytes holds a connection and its buffer no longer)",
    "validate": "run validation (step 7) on publishes over HTTP",
    "blocking_threads": "threads for blocking work (git, renders) off the event loop",
    "dask_scheduler": "run model calls as tasks on this Dask cluster (default: the registry's dask_scheduler setting)",
}


class ServiceOptions(NamedTuple):
    """How the service runs (the registry's ``settings.json`` holds what its owner decides)."""

    private: bool = False
    model_workers: int | None = None
    max_model_workers: int | None = None
    queue_limit: int = 256
    call_timeout: float = 30.0
    import_timeout: float = 120.0
    max_body_size: int = 20 * 1024 * 1024
    body_timeout: float = 60.0
    validate: bool = True
    blocking_threads: int = 4
    dask_scheduler: str | None = None

    def checked(self) -> ServiceOptions:
        """These options, or a :class:`UsageError` for a combination that cannot run."""
        if self.model_workers and self.max_model_workers and self.max_model_workers < self.model_workers:
            raise UsageError(f"--max-model-workers ({self.max_model_workers}) must be at least "
                             f"--model-workers ({self.model_workers})")
        return self

    def with_options(self, **overrides) -> ServiceOptions:
        """These options with some replaced by name (an unknown name is a TypeError), checked."""
        unknown = sorted(set(overrides) - set(self._fields))
        if unknown:
            raise TypeError(f"not a service option: {', '.join(unknown)}")
        return self._replace(**overrides).checked()

    @classmethod
    def default(cls, name: str):
        """The one default of option ``name``."""
        return cls._field_defaults[name]

    @classmethod
    def help(cls, name: str) -> str:
        return HELP[name]
