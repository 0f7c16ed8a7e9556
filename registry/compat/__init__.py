"""gilgamesh.registry.compat: compatibility: semver and behaviour replay."""
