"""Model endpoints: arguments checked before any model code runs, results, and isolation of failures."""

from __future__ import annotations

import concurrent.futures
import time

import pytest
from service_kit import assert_error, http


def call(server, path: str, args, **kw):
    return http("POST", f"{server.url}/models/{path}", args, **kw)


def test_call_returns_result_name_version_and_header(server):
    r = call(server, "geo/1/scale", {"x": 3})
    assert r.status == 200
    assert r.json() == {"result": 6.0, "name": "geo", "version": "1.1.0"}
    assert r.header("Gilgamesh-Version") == "1.1.0"
    assert r.header("Content-Type").startswith("application/json")


@pytest.mark.parametrize("path, args, result", [
    ("geo/1.0/scale", {"x": 1.5, "factor": 4}, 6.0),                      # int accepted for float
    ("geo/1/stats", {"values": [1, 2, 3, 4]}, {"mean": 2.5, "std": 1.118033988749895, "ndim": 1}),
    ("geo/1/stats", {"values": [[1, 2], [3, 4]]}, {"mean": 2.5, "std": 1.118033988749895, "ndim": 2}),
    ("geo/1/grid", {"n": 2}, [[1.0, 0.0], [0.0, 1.0]]),                  # numpy array out
    ("geo/1/greet", {"name": "ada"}, "hello ada"),
    ("geo/1/greet", {"name": "ada", "loud": True, "tags": ["x", "y"]}, "HELLO ADA #X #Y"),
    ("geo/1/greet", {"name": "ada", "tags": None}, "hello ada"),
    ("geo/1/ratio", {"a": 6, "b": 3}, 2.0),                               # a is positional-only
    ("geo/1/ratio", {"a": 6}, 6.0),
    ("geo/1/nan_value", {}, [1.0, "NaN", "Infinity"]),                      # JSON has no NaN: spelled
    ("geo/1/cube", {"x": 2}, 8.0),
    ("geo/1.2.0/cube", {"x": 2}, 8.0),                                    # yanked, exact: served
    ("plain/0.1/twice", {"n": 21}, 42),
])
def test_results(server, path, args, result):
    r = call(server, path, args)
    assert r.status == 200, r.body
    expected = pytest.approx(result) if isinstance(result, float) else result
    assert r.json()["result"] == expected


def test_path_segments_are_percent_decoded_like_every_other_route(server):
    """A client that escapes the path (``%5F`` for ``_``, ``%2E`` for ``.``) reaches the same endpoint."""
    r = call(server, "g%65o/1%2E1/sc%61le", {"x": 3})
    assert r.status == 200, r.body
    assert r.json() == {"result": 6.0, "name": "geo", "version": "1.1.0"}
    assert call(server, "geo/1/nan%5Fvalue", {}).status == 200
    assert_error(call(server, "geo/1/%ff", {}), 400, "Invalid unicode in url")


def test_yanked_exact_call_warns(server):
    r = call(server, "geo/1.2.0/cube", {"x": 1})
    assert r.header("Gilgamesh-Version") == "1.2.0"
    assert "yanked" in r.header("Gilgamesh-Warning")


@pytest.mark.parametrize("args, fragments", [
    ({"x": "three"}, ["parameter 'x'", "expected a number, got a string"]),
    ({}, ["missing required parameter 'x'"]),
    ({"x": 1, "scale": 2}, ["unknown parameter 'scale'", "parameters: x, factor"]),
    ({"x": True}, ["parameter 'x'", "got a boolean"]),
    ({"x": None}, ["parameter 'x'", "got null"]),
    ([1, 2], ["must be a JSON object"]),
    ("not json", ["not valid JSON"]),
])
def test_bad_arguments_name_the_parameter(server, args, fragments):
    error = assert_error(call(server, "geo/1/scale", args), 400, *fragments)
    if isinstance(args, dict) and error["details"]:
        assert all(set(d) == {"parameter", "message"} for d in error["details"])


@pytest.mark.parametrize("path, args, fragments", [
    ("geo/1/stats", {"values": [[1, 2], [3]]}, ["parameter 'values'", "rectangular"]),
    ("geo/1/stats", {"values": [1, "a"]}, ["parameter 'values' at [1]", "expected a number"]),
    ("geo/1/stats", {"values": 3}, ["parameter 'values'", "an array of numbers"]),
    ("geo/1/greet", {"name": "a", "tags": ["x", 1]}, ["parameter 'tags' at [1]", "expected a string"]),
    ("geo/1/greet", {"name": "a", "loud": "yes"}, ["parameter 'loud'", "expected true or false"]),
    ("geo/1/grid", {"n": 2.5}, ["parameter 'n'", "expected an integer"]),
    ("geo/1/ratio", {"b": 2}, ["missing required parameter 'a'"]),
])
def test_bad_arguments_by_type(server, path, args, fragments):
    assert_error(call(server, path, args), 400, *fragments)


def test_bad_arguments_never_reach_the_model(server):
    """Checked before the worker: had crash() run, its worker would have been replaced."""
    pids, replaced = set(server.ctx.pool.pids()), server.ctx.pool.replaced
    assert_error(call(server, "geo/1/crash", {"code": "not an int"}), 400, "parameter 'code'")
    assert_error(call(server, "geo/1/crash", {}), 400, "missing required parameter 'code'")
    assert set(server.ctx.pool.pids()) == pids and server.ctx.pool.replaced == replaced


@pytest.mark.parametrize("path, fragment", [
    ("geo/1/nope", "geo@1.1.0 exposes no endpoint 'nope'"),
    ("geo/1.0/cube", "geo@1.0.0 exposes no endpoint 'cube'"),   # cube arrived in 1.1.0
    ("geo/5/scale", "no release of geo@5"),
    ("nope/1/scale", "no API named 'nope'"),
])
def test_no_such_endpoint(server, path, fragment):
    assert_error(call(server, path, {"x": 1}), 404, fragment)


def test_model_error_is_422_with_its_message(server):
    error = assert_error(call(server, "geo/1/fail", {"message": "probe saturated"}), 422,
                         "geo@1.1.0 fail raised ValueError: probe saturated")
    assert any("probe saturated" in line for line in error["details"])  # the model's traceback
    assert_error(call(server, "geo/1/ratio", {"a": 1, "b": 0}), 422, "ZeroDivisionError")


def test_body_over_the_limit_is_413(server):
    big = {"values": [1.5] * 20000}  # ~120 kB, the test server accepts 64 kB
    assert_error(call(server, "geo/1/stats", big), 413, "larger than this service accepts")
    # A chunked body (no Content-Length) is refused as it arrives.
    import http.client
    from urllib.parse import urlsplit

    conn = http.client.HTTPConnection(urlsplit(server.url).netloc, timeout=30)
    conn.putrequest("POST", "/models/geo/1/stats")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.putheader("Content-Type", "application/json")
    conn.endheaders()
    payload = b'{"values": [' + b"1.5, " * 30000 + b"1.5]}"
    try:
        for i in range(0, len(payload), 8192):
            piece = payload[i:i + 8192]
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        conn.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may close once it has answered
    response = conn.getresponse()
    assert response.status == 413
    assert b"larger than this service accepts" in response.read()
    conn.close()


def test_timeout_is_504_and_costs_only_its_call(server):
    """A hanging model: 504 for its call; calls meanwhile and after are served normally."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        hanging = pool.submit(call, server, "geo/1/nap", {"seconds": 30})
        # While it hangs, the other worker serves.
        for x in range(5):
            r = call(server, "geo/1/scale", {"x": x})
            assert r.status == 200 and r.json()["result"] == 2.0 * x, r.body
        r = hanging.result(timeout=30)
        elapsed = time.monotonic() - started
    assert_error(r, 504, "geo@1.1.0 nap ran past its time limit of 1.5 s")
    assert elapsed < 10
    assert call(server, "geo/1/scale", {"x": 2}).json()["result"] == 4.0
    assert call(server, "geo/1/nap", {"seconds": 0.01}).json()["result"] == 0.01


def test_crash_is_500_and_the_worker_is_replaced(server):
    pids_before = set(server.ctx.pool.pids())
    error = assert_error(call(server, "geo/1/crash", {"code": 3}), 500, "crashed the worker process", "exit status 3")
    assert "replaced" in error["message"]
    assert set(server.ctx.pool.pids()) != pids_before
    assert len(server.ctx.pool.pids()) == 2
    # The service and the other calls carry on.
    assert call(server, "geo/1/scale", {"x": 5}).json()["result"] == 10.0
    assert http("GET", server.url + "/healthz").status == 200


def test_concurrent_calls(server):
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda x: call(server, "geo/1/scale", {"x": x, "factor": 3}), range(64)))
    assert [r.json()["result"] for r in results] == [3.0 * x for x in range(64)]


def test_warm_workers_import_once(server):
    """Calls are served by at most two processes (the pool), each importing the module once."""
    ids = {call(server, "geo/1/whoami", {}).json()["result"] for _ in range(20)}
    assert 1 <= len(ids) <= len(server.ctx.pool.pids()) == 2


def test_calls_after_shutdown_are_503(seeded_registry, service_env):
    from service_kit import Server

    s = Server(seeded_registry, model_workers=1).start()
    try:
        assert call(s, "geo/1/scale", {"x": 1}).status == 200
        import asyncio

        asyncio.run_coroutine_threadsafe(s.ctx.pool.close(), s.loop).result(30)
        assert_error(call(s, "geo/1/scale", {"x": 1}), 503, "shutting down")
    finally:
        s.stop()


def test_model_traceback_names_the_cell_not_the_machine(server, service_env):
    error = assert_error(call(server, "geo/1/fail", {"message": "x"}), 422)
    frames = [line for line in error["details"] if line.strip().startswith("File ")]
    assert frames and all("cell" in line for line in frames)
    assert not any(service_env in line or "/" in line.split('"')[1] for line in frames)
