"""A registry's settings (``<root>/settings.json``): limits and policies its owner may change.

Read without git or nbformat, so that the service and the validation runner can consult it cheaply.
"""

from __future__ import annotations

import json

from gilgamesh.errors import GilgameshError

from gilgamesh.registry.store.layout import Layout

__all__ = ["DEFAULT_SETTINGS", "initial_settings", "read_settings"]

DEFAULT_SETTINGS = {
    "validation_timeout": 300,  # seconds for a whole nbval run, counted once the kernel answers
    "validation_startup_timeout": 120,  # seconds for the validating kernel to start
    "validation_memory_mb": 2048,  # address-space limit of the validating kernel
    # Run notebook code (validation kernels, model workers) in the bubblewrap sandbox of
    # registry/sandbox/launch.py: no network, an unprivileged uid, a minimal read-only file system, a
    # scratch tmpfs, an allow-listed environment. false only on a machine that trusts every notebook.
    "sandbox": True,
    # Browser origins ("https://dashboard.lab.example") whose pages may call the service (CORS).
    "cors_origins": [],
    # Refuse to run notebook code when bwrap is missing, rather than running it unconfined.
    # init writes it true where bwrap is installed; a registry without the key does not require it.
    "require_sandbox": False,
    # What each sandboxed launch may use (None: no limit): its scratch tmpfs, processes and threads,
    # the largest file, the address space of each process, CPU seconds of each process of a
    # validation run (a model call is bounded by its time limit: a warm worker lives long).
    "sandbox_scratch_mb": 512,
    "sandbox_processes": 256,
    "sandbox_file_mb": 256,
    "sandbox_memory_mb": 4096,
    "sandbox_cpu_seconds": 900,
    # "publishers": ["alice", ...]  optional: only these token holders may publish and yank
    # "dask_scheduler": "tcp://host:8786"  optional: serve model calls on that Dask cluster
}


def initial_settings() -> dict:
    """What ``init`` writes: the defaults, requiring the sandbox where bwrap is installed."""
    from gilgamesh.registry.sandbox.launch import sandbox_available

    return {**DEFAULT_SETTINGS, "require_sandbox": sandbox_available()}


def read_settings(root: str) -> dict:
    """The registry's settings, defaults filled in; a damaged file is an error naming it."""
    path = Layout(root).settings_file
    try:
        with open(path, "rb") as f:
            settings = json.loads(f.read())
    except FileNotFoundError:
        return dict(DEFAULT_SETTINGS)
    except (ValueError, UnicodeDecodeError) as e:
        raise GilgameshError(f"the registry's settings file {path} is not valid JSON: {e}") from None
    if not isinstance(settings, dict):
        raise GilgameshError(f"the registry's settings file {path} must hold a JSON object")
    return {**DEFAULT_SETTINGS, **settings}
