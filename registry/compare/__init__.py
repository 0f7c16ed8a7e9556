"""gilgamesh.registry.compare: comparing outputs, figures and values.

Above store/ and sandbox/, below compat/ and validation/ (docs/architecture.md, Layers).
"""
