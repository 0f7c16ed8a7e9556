"""gilgamesh.registry.store: the store: a registry's files and git repository.

The bottom layer of the registry, with sandbox/ (docs/architecture.md, Layers).
"""
