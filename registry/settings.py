"""A registry's settings (``<root>/settings.json``): limits and policies its owner may change.

Read without git or nbformat, so that the service and the validation runner can consult it cheaply.
"""

from __future__ import annotations

import json

from gilgamesh.errors import GilgameshError

from .layout import Layout

__all__ = ["DEFAULT_SETTINGS", "read_settings"]

DEFAULT_SETTINGS = {
    "validation_timeout": 300,  # seconds for a whole nbval run, counted once the kernel answers
    "validation_startup_timeout": 120,  # seconds for the validating kernel to start
    "validation_memory_mb": 2048,  # address-space limit of the validating kernel
    # Run notebook code (validation kernels, model workers) in a bubblewrap file-system sandbox
    # when bwrap is installed: read-only but its scratch, and no tokens.json.
    "sandbox": True,
    # Browser origins ("https://dashboard.lab.example") whose pages may call the service (CORS).
    "cors_origins": [],
    # "publishers": ["alice", ...]  optional: only these token holders may publish and yank
}


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
