"""gilgamesh.registry.publish: the publish pipeline.

Its flow, from the CLI or HTTP to the index: docs/architecture.md, Publish.
"""
