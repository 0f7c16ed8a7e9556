"""The options of one ``gilgamesh serve``, each with its one default and its help.

``make_app``, ``serve``, the service context, the worker pool and ``gilgamesh serve``'s flags all
read :class:`ServiceOptions`; a default written anywhere else would drift from this one.
"""

from __future__ import annotations

import dataclasses

from gilgamesh.errors import UsageError

__all__ = ["ServiceOptions"]


def _option(default, help: str):
    return dataclasses.field(default=default, metadata={"help": help})


@dataclasses.dataclass(frozen=True)
class ServiceOptions:
    """How the service runs (the registry's ``settings.json`` holds what its owner decides)."""

    private: bool = _option(False, "require a token for reads too")
    model_workers: int | None = _option(None, "warm processes that run model calls (default: one per core)")
    max_model_workers: int | None = _option(
        None, "how many the pool grows to while slow calls occupy it (default: 4 per core)")
    queue_limit: int = _option(256, "calls that may wait for a worker; past it a call gets 503 with Retry-After")
    call_timeout: float = _option(30.0, "time limit of one model call in seconds; past it the call gets 504")
    import_timeout: float = _option(120.0, "seconds a model worker may take to import a version")
    max_body_size: int = _option(20 * 1024 * 1024, "largest request body accepted; larger ones get 413")
    body_timeout: float = _option(
        60.0, "seconds a request body may take to arrive; past it the connection is closed (a client "
              "trickling bytes holds a connection and its buffer no longer)")
    validate: bool = _option(True, "run validation (step 7) on publishes over HTTP")
    blocking_threads: int = _option(4, "threads for blocking work (git, renders) off the event loop")
    dask_scheduler: str | None = _option(
        None, "run model calls as tasks on this Dask cluster (default: the registry's dask_scheduler setting)")

    def __post_init__(self):
        if self.model_workers and self.max_model_workers and self.max_model_workers < self.model_workers:
            raise UsageError(f"--max-model-workers ({self.max_model_workers}) must be at least "
                             f"--model-workers ({self.model_workers})")

    @classmethod
    def default(cls, name: str):
        """The one default of option ``name``."""
        return cls.__dataclass_fields__[name].default

    @classmethod
    def help(cls, name: str) -> str:
        return cls.__dataclass_fields__[name].metadata["help"]
