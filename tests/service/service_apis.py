"""API notebooks the service tests serve: every endpoint type, a failure of each kind, docs content."""

from __future__ import annotations

import base64
import io

from nbfactory import code, markdown, notebook, to_bytes

GEO_ENDPOINTS = ["scale", "stats", "grid", "greet", "fail", "nap", "crash", "whoami", "ratio", "nan_value"]

# What a notebook may carry that must never run in the docs page.
HOSTILE_MARKDOWN = (
    '<script>window.__pwned = "script";</script>\n\n'
    '<img src="x" onerror="window.__pwned = \'onerror\'">\n\n'
    '<a href="javascript:window.__pwned = \'link\'">a link</a>'
)


def plot_png() -> str:
    """A real matplotlib figure, base64 PNG, as a notebook output stores it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2), dpi=60)
    ax.plot([0, 1, 2, 3], [0, 1, 4, 9])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def geo(version: str = "1.0.0", *, extra: list | None = None, png: str | None = None) -> bytes:
    """``geo``: one endpoint per annotation type and per way a model can fail."""
    cells = [
        markdown("# geo\n\nGeometry for the service tests. The area of a square of side $s$ is $A = s^2$, "
                 "and a display equation:\n\n$$E = m c^2$$"),
        markdown(HOSTILE_MARKDOWN),
        code("import math\nimport os\nimport time\n\nimport numpy as np\n\n_PROCESS_ID = os.urandom(8).hex()  # one per worker process"),
        markdown("Scale a length by a factor."),
        code("def scale(x: float, factor: float = 2.0) -> float:\n    return x * factor"),
        code('def stats(values: np.ndarray) -> dict[str, float]:\n'
             '    """Mean and standard deviation of the values."""\n'
             '    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "ndim": values.ndim}'),
        code('def grid(n: int) -> np.ndarray:\n    """The n-by-n identity matrix."""\n    return np.eye(n)'),
        code('def greet(name: str, loud: bool = False, tags: list[str] | None = None) -> str:\n'
             '    """A greeting, optionally loud and tagged."""\n'
             '    text = f"hello {name}" + "".join(" #" + t for t in (tags or []))\n'
             '    return text.upper() if loud else text'),
        code('def fail(message: str) -> float:\n    """Always raises ValueError with the message."""\n'
             '    raise ValueError(message)'),
        code('def nap(seconds: float) -> float:\n    """Sleeps, then returns how long."""\n'
             '    time.sleep(seconds)\n    return seconds'),
        code('def crash(code: int) -> int:\n    """Ends its own process."""\n    os._exit(code)'),
        code('def whoami() -> str:\n    """An id of the process running the call (a sandboxed pid is 2 in each worker)."""\n'
             '    return _PROCESS_ID'),
        code('def ratio(a: float, /, b: float = 1.0) -> float:\n    """a over b (a is positional-only)."""\n'
             '    return a / b'),
        code('def nan_value() -> list[float]:\n    """Not-a-number and infinity, which JSON cannot spell."""\n'
             '    return [1.0, float("nan"), float("inf")]'),
        *(extra or []),
        code("import matplotlib.pyplot as plt\nplt.plot([0, 1, 2, 3], [0, 1, 4, 9])", "example",
             outputs=[{"output_type": "display_data", "metadata": {},
                       "data": {"image/png": png or plot_png(), "text/plain": "<Figure>"}}]),
    ]
    endpoints = GEO_ENDPOINTS + [c for c in ("cube",) if extra]
    return to_bytes(notebook("geo", version, cells, summary="Geometry for the service tests.", endpoints=endpoints))


def geo_next(version: str, png: str) -> bytes:
    """A later geo: one more function (a MINOR change)."""
    return geo(version, png=png, extra=[
        code('def cube(x: float) -> float:\n    """x cubed."""\n    return x ** 3'),
    ])


def plain(version: str = "0.1.0") -> bytes:
    """A 0.x API with one endpoint (its own OpenAPI line per minor)."""
    cells = [
        markdown("# plain\n\nA pre-1.0 API."),
        markdown("Twice the input."),
        code("def twice(n: int) -> int:\n    return 2 * n"),
    ]
    return to_bytes(notebook("plain", version, cells, summary="A pre-1.0 API.", endpoints=["twice"]))


def small(name: str, version: str, body: str = "return x + 1") -> bytes:
    """A one-endpoint API for publish tests."""
    cells = [
        markdown(f"# {name}\n\nA small API."),
        markdown("Add one."),
        code(f"def inc(x: float) -> float:\n    {body}"),
    ]
    return to_bytes(notebook(name, version, cells, summary="A small API.", endpoints=["inc"]))
