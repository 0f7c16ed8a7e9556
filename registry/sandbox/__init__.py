"""gilgamesh.registry.sandbox: containment of notebook code.

The bottom layer of the registry, with store/ (docs/architecture.md, Layers).
"""
