"""A registry's settings (``<root>/settings.json``): limits and policies its owner may change.

Read without git or nbformat, so that the service and the validation runner can consult it cheaply.
"""

from __future__ import annotations

import json

from .layout import Layout

__all__ = ["DEFAULT_SETTINGS", "read_settings"]

DEFAULT_SETTINGS = {
    "validation_timeout": 300,  # seconds for a whole nbval run
    "validation_memory_mb": 2048,  # address-space limit of the validating kernel
    # Run notebook code (validation kernels, model workers) in a bubblewrap file-system sandbox
    # when bwrap is installed: read-only but its scratch, and no tokens.json.
    "sandbox": True,
    # "publishers": ["alice", ...]  optional: only these token holders may publish and yank
}


def read_settings(root: str) -> dict:
    """The registry's settings, defaults filled in."""
    try:
        with open(Layout(root).settings_file, "rb") as f:
            return {**DEFAULT_SETTINGS, **json.loads(f.read())}
    except FileNotFoundError:
        return dict(DEFAULT_SETTINGS)
