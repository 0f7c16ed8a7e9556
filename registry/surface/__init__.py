"""gilgamesh.registry.surface: the public surface of a version.

Above store/ and sandbox/, below compat/ and validation/ (docs/architecture.md, Layers).
"""
