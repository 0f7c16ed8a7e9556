"""gilgamesh.registry.store: the store: a registry's files and git repository."""
