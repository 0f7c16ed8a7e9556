"""gilgamesh.registry.validation: running a notebook as validation does.

Above compat/, below publish/ (docs/architecture.md, Layers; step 3 of Publish).
"""
