"""gilgamesh.service.calls: model calls: routing, binding, the worker pool, workers, Dask.

Their flow, from the route to the JSON answer: docs/architecture.md, Model call.
"""
