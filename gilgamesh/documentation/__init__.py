"""gilgamesh.documentation: documentation in one room: the model of a version's docs, docstrings,
citations, and the markdown and terminal renderers.

Part of the core (docs/architecture.md, What each package owns).
"""
