"""The pure parts of the service: argument binding against annotations, HTML sanitizing, version lines."""

from __future__ import annotations

import pytest

from gilgamesh.errors import BadArguments
from gilgamesh.service.calls.binder import Binder, default_value, parse_annotation
from gilgamesh.service.docs import sanitize_html
from gilgamesh.service.openapi import version_lines
from gilgamesh.versions import VersionSet


def p(name, annotation, default=None, kind="positional_or_keyword"):
    return {"name": name, "kind": kind, "annotation": annotation, "default": default}


@pytest.mark.parametrize("annotation, value, expected", [
    ("float", 3, 3.0),
    ("float", 2.5, 2.5),
    ("int", 4, 4),
    ("int", 4.0, 4),
    ("bool", False, False),
    ("str", "x", "x"),
    ("list[float]", [1, 2.5], [1.0, 2.5]),
    ("List[int]", [], []),
    ("dict[str, int]", {"a": 1}, {"a": 1}),
    ("float | None", None, None),
    ("Optional[str]", "s", "s"),
    ("'list[float]'", [1], [1.0]),            # a string annotation (from __future__ import annotations)
    ("np.ndarray", [[1, 2], [3, 4]], [[1, 2], [3, 4]]),
    ("numpy.ndarray | None", None, None),
    ("np.ndarray", [[[[1.5]]]], [[[[1.5]]]]),                     # four dimensions: the most it takes unsaid
    ("np.ndarray[tuple[int, int], np.dtype[np.float64]]", [[1, 2]], [[1, 2]]),  # the rank it states
    ("numpy.ndarray[tuple[int], numpy.dtype[numpy.float64]] | None", [], []),
    ("SomethingElse", {"any": "thing"}, {"any": "thing"}),
])
def test_values_that_fit(annotation, value, expected):
    assert parse_annotation(annotation).check(value) == expected


@pytest.mark.parametrize("annotation, value", [
    ("float", "1"), ("float", True), ("float", None), ("int", 1.5), ("int", True), ("bool", 1), ("str", 1),
    ("list[float]", [1, "x"]), ("list[float]", {"a": 1}), ("dict[str, int]", {"a": "b"}),
    ("float | None", "x"), ("np.ndarray", [[1, 2], [3]]), ("np.ndarray", [1, None]), ("np.ndarray", 5),
    ("np.ndarray", [[[[[1]]]]]), ("np.ndarray", [1, [2]]),
    ("np.ndarray[tuple[int, int], np.dtype[np.float64]]", [1, 2]),
    ("np.ndarray[tuple[int], np.dtype[np.float64]]", [[1, 2]]),
])
def test_values_that_do_not_fit(annotation, value):
    from gilgamesh.service.calls.binder import _Mismatch

    with pytest.raises(_Mismatch):
        parse_annotation(annotation).check(value)


def test_binder_collects_every_problem():
    b = Binder("api@1.0.0 f", {"params": [p("x", "float"), p("n", "int", "3")], "returns": "float"})
    with pytest.raises(BadArguments) as e:
        b.bind({"x": "a", "n": "b", "extra": 1})
    names = [d.parameter for d in e.value.details]
    assert names == ["x", "n", "extra"]
    assert "parameter 'x': expected a number, got a string" in e.value.message


def test_binder_positional_only_and_arrays():
    b = Binder("api@1.0.0 f", {"params": [p("a", "np.ndarray", kind="positional_only"),
                                          p("b", "float", "1.0", kind="positional_only"),
                                          p("c", "np.ndarray", kind="keyword_only")], "returns": "float"})
    positional, keywords, arrays = b.bind({"a": [1, 2], "c": [3]})
    assert positional == [[1, 2]] and keywords == {"c": [3]} and arrays == (0, "c")
    positional, keywords, arrays = b.bind({"a": [1], "b": 2, "c": [3]})
    assert positional == [[1], 2.0] and arrays == (0, "c")


@pytest.mark.parametrize("text, value", [("2.0", 2.0), ("None", None), ("(1, 2)", [1, 2]), ("'s'", "s"),
                                         ("math.pi", "no"), ("float('nan')", "no")])
def test_default_values(text, value):
    from gilgamesh.service.calls.binder import NO_DEFAULT

    got = default_value(text)
    assert (got is NO_DEFAULT) if value == "no" else got == value


@pytest.mark.parametrize("html, kept, dropped", [
    ("<p>a <b>b</b></p>", ["<p>a <b>b</b></p>"], []),
    ("<script>alert(1)</script>ok", ["ok"], ["<script", "alert"]),
    ('<img src="x" onerror="alert(1)">', ["<img"], ["onerror", 'src="x"']),
    ('<img src="data:image/png;base64,AAAA">', ['src="data:image/png;base64,AAAA"'], []),
    ('<a href="javascript:alert(1)">x</a>', ["x</a>"], ["javascript:"]),
    ('<a href="data:text/html,<script>alert(1)</script>">x</a>', ["x</a>"], ["data:text/html"]),
    ('<a href="https://example.org">x</a>', ['href="https://example.org"'], []),
    ("<style>body{display:none}</style>t", ["t"], ["<style", "display"]),
    ('<div style="background:url(x)" class="c">t</div>', ['class="c"'], ["style="]),
    ("<svg><script>alert(1)</script></svg>", [], ["<svg", "<script"]),
    ("<iframe src='https://x'></iframe><form><input></form>", [], ["<iframe", "<form", "<input"]),
])
def test_sanitizer(html, kept, dropped):
    clean = sanitize_html(html)
    for k in kept:
        assert k in clean
    for d in dropped:
        assert d not in clean


def test_version_lines():
    vs = VersionSet("x", [("0.1.0", False, None), ("0.2.0", False, None), ("0.2.1", True, "bad"),
                          ("1.0.0", False, None), ("1.4.0", False, None), ("2.0.0rc1", False, None),
                          ("3.0.0", True, "withdrawn")])
    assert version_lines(vs) == [("0.1", "0.1.0"), ("0.2", "0.2.0"), ("1", "1.4.0")]


@pytest.mark.parametrize("annotation, ranks", [
    ("np.ndarray", [1, 2, 3, 4]),
    ("npt.NDArray[np.float64]", [1, 2, 3, 4]),
    ("np.ndarray[tuple[int, int, int], np.dtype[np.float64]]", [3]),
    ("np.ndarray[tuple[int, ...], np.dtype[np.float64]]", [1, 2, 3, 4]),
])
def test_an_array_schema_is_one_fixed_depth_array_per_rank(annotation, ranks):
    """What generators can type (no array without items), and what the check accepts."""
    schema = parse_annotation(annotation).schema()
    options = schema.get("anyOf", [schema])

    def depth(s):
        return 1 + depth(s["items"]) if s.get("type") == "array" else 0

    assert [depth(o) for o in options] == ranks
    for option, rank in zip(options, ranks):
        leaf = option
        for _ in range(rank):
            leaf = leaf["items"]
        assert leaf == {"type": "number"}


def test_errors_cross_the_worker_protocols_by_one_table():
    """The local pool's worker answers and the Dask tasks' are rebuilt from the same table: the
    classes of gilgamesh.errors, each with its status; a crash is one type whoever ran the call."""
    import json

    from gilgamesh import errors
    from gilgamesh.service.calls import dask, pool

    for cls in (errors.ModelError, errors.BadArguments, errors.NotFound, errors.VersionNotFound, errors.ModelTimeout,
                errors.IntegrityError, errors.ModelCrashed, errors.RegistryUnavailable):
        local = pool._rebuild(json.dumps({"type": cls.__name__, "message": "m", "details": ["d"]}).encode())
        remote = dask._rebuild(("error", cls.__name__, "m", ["d"], cls.http_status, None))
        assert type(local) is type(remote) is cls and local.http_status == remote.http_status == cls.http_status
        assert local.details == remote.details == ["d"]
    assert errors.ModelCrashed.http_status == 500
    busy = dask._rebuild(("error", "ServiceBusy", "full", [], 503, 7))
    assert isinstance(busy, errors.ServiceBusy) and busy.retry_after == 7
    # A name of another module: the local pool's default is a model error, a Dask task's keeps its status.
    assert type(pool._rebuild(b'{"type": "Elsewhere", "message": "m"}')) is errors.ModelError
    other = dask._rebuild(("error", "VersionNotFoundError", "gone", [], 404, None))
    assert type(other) is errors.GilgameshError and other.http_status == 404
    assert errors.by_name("envelope") is None and errors.by_name("Problem") is None
