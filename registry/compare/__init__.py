"""gilgamesh.registry.compare: comparing outputs, figures and values."""
