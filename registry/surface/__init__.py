"""gilgamesh.registry.surface: the public surface of a version."""
