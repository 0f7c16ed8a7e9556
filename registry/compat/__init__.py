"""gilgamesh.registry.compat: compatibility: semver and behaviour replay.

Above surface/ and compare/, below validation/ and publish/ (docs/architecture.md, Layers).
"""
