"""gilgamesh.service: the Tornado service: HTTP routes, web pages, model calls.

Above the registry and the loader (docs/architecture.md, Layers); its routes are the README's table.
"""
