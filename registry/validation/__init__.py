"""gilgamesh.registry.validation: running a notebook as validation does."""
