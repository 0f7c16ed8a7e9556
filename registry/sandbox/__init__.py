"""gilgamesh.registry.sandbox: containment of notebook code."""
