"""What the lab extension's tests share: a seeded registry, the Gilgamesh kernel in a Jupyter path."""

from __future__ import annotations

import os

import nbfactory as f


def seed_registry(root: str) -> str:
    """A registry of two APIs: plasma 1.0.0 (deprecated) and 1.1.0; demo 1.0.0 (yanked) and 1.1.0,
    whose first code cell imports ``gilgamesh.api.plasma@1``."""
    from gilgamesh.registry.facade import LocalRegistry
    from gilgamesh.registry.publish.pipeline import publish
    from gilgamesh.registry.store.git_store import init_registry

    init_registry(root)
    publish(root, f.simple_api("plasma", "1.0.0"), publisher="test", validate=False)
    publish(root, f.simple_api("plasma", "1.1.0"), publisher="test", validate=False)
    for version in ("1.0.0", "1.1.0"):
        cells = [
            f.markdown("# demo\n\nTwice a plasma scale: $y = 2 s x$."),
            f.code("from gilgamesh.api.plasma@1 import scale"),
            f.markdown("Twice the scaled length."),
            f.code('def double(x: float) -> float:\n    """Twice the plasma scale of x."""\n    return 2 * scale(x)'),
        ]
        publish(root, f.to_bytes(f.notebook("demo", version, cells, summary="Twice a plasma scale.")),
                publisher="test", validate=False)
    registry = LocalRegistry(root, "test")
    registry.set_yanked("demo", "1.0.0", "wrong factor")
    registry.set_deprecated("plasma", "1.0.0", "use 1.1")
    return root


def install_gilgamesh_kernel(data_dir: str) -> str:
    """The kernel "Python 3 (Gilgamesh)" of this Python in ``data_dir``/kernels (a JUPYTER_DATA_DIR)."""
    import json
    import sys

    from gilgamesh.loader.kernelspec import kernel_json

    path = os.path.join(data_dir, "kernels", "gilgamesh")
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "kernel.json"), "w", encoding="utf-8") as fh:
        json.dump(kernel_json(sys.executable), fh)
    return path
