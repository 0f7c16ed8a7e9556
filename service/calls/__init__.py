"""gilgamesh.service.calls: model calls: routing, binding, the worker pool, workers, Dask."""
