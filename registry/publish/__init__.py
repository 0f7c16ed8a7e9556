"""gilgamesh.registry.publish: the publish pipeline."""
