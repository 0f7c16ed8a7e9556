"""Large model-call bodies are parsed and bound away from the event loop, by the same rules as small ones.

Past ``LARGE_BODY`` bytes the server hands the body to its body reader, a process of the lowest
priority (issue 31: parsing megabytes on the event loop held every other call up). What a client
sees must not change: the same result, the same 400 naming the same parameter, the same refusal
of bad JSON.
"""

from __future__ import annotations

import json
import os

import psutil
import pytest
from service_kit import Server, assert_error, http

from gilgamesh.service.calls.protocol import LARGE_BODY

PAD = " " * (LARGE_BODY + 1)  # whitespace is JSON too: the same arguments, a large body


@pytest.fixture(scope="module")
def server(seeded_registry, service_env):
    """The read-only registry's service with room for large bodies (the shared one allows 64 KiB)."""
    s = Server(seeded_registry, call_timeout=5, max_body_size=4 * 1024 * 1024, model_workers=2,
               max_model_workers=2).start()
    s.wait_workers_ready()
    yield s
    s.stop()


def call(server, path: str, body: bytes):
    return http("POST", f"{server.url}/models/{path}", body, headers={"Content-Type": "application/json"})


def small_and_large(arguments: dict) -> tuple[bytes, bytes]:
    small = json.dumps(arguments).encode()
    assert len(small) <= LARGE_BODY
    return small, small[:-1] + PAD.encode() + b"}"


@pytest.mark.parametrize("path, arguments, result", [
    ("geo/1/scale", {"x": 3}, 6.0),
    ("geo/1/ratio", {"a": 6, "b": 3}, 2.0),                       # positional-only, moved in the worker
    ("geo/1/stats", {"values": [[1, 2], [3, 4]]}, {"mean": 2.5, "std": 1.118033988749895, "ndim": 2}),  # an array
    ("geo/1/greet", {"name": "ada", "tags": ["x"]}, "hello ada #x"),
])
def test_a_large_body_gives_the_result_a_small_one_gives(server, path, arguments, result):
    small, large = small_and_large(arguments)
    assert len(large) > LARGE_BODY
    answers = [call(server, path, body) for body in (small, large)]
    assert [a.status for a in answers] == [200, 200], [a.body[:300] for a in answers]
    assert answers[0].json() == answers[1].json()
    assert answers[1].json()["result"] == pytest.approx(result) if isinstance(result, float) else result


def test_large_values_arrive_whole(server):
    values = [float(i) for i in range(20_000)]  # about 200 KB of JSON
    r = call(server, "geo/1/stats", json.dumps({"values": values}).encode())
    assert r.status == 200, r.body[:300]
    assert r.json()["result"]["mean"] == pytest.approx(sum(values) / len(values))
    name = "a" * (2 * LARGE_BODY)
    r = call(server, "geo/1/greet", json.dumps({"name": name}).encode())
    assert r.status == 200 and r.json()["result"] == f"hello {name}"


@pytest.mark.parametrize("path, arguments, fragments", [
    ("geo/1/greet", {"name": "ada", "tags": ["x", 1]}, ("parameter 'tags' at [1]", "expected a string")),
    ("geo/1/greet", {"nmae": "ada"}, ("unknown parameter 'nmae'", "missing required parameter 'name'")),
    ("geo/1/ratio", {"b": 3}, ("missing required parameter 'a'",)),
    ("geo/1/scale", {"x": "three"}, ("parameter 'x'", "expected a number, got a string")),
])
def test_a_bad_large_body_is_the_same_400_as_a_small_one(server, path, arguments, fragments):
    small, large = small_and_large(arguments)
    envelopes = [assert_error(call(server, path, body), 400, *fragments) for body in (small, large)]
    assert envelopes[0] == envelopes[1]  # message and the details naming each parameter


def test_a_large_body_that_is_not_json_or_not_an_object_is_refused_alike(server):
    broken = b'{"name": "' + b"a" * (LARGE_BODY + 10)  # never closed
    assert_error(call(server, "geo/1/greet", broken), 400, "the request body is not valid JSON")
    nan = b'{"x": NaN' + PAD.encode() + b"}"
    assert_error(call(server, "geo/1/scale", nan), 400, "NaN is not a JSON number")
    listed = b"[1" + PAD.encode() + b"]"
    assert_error(call(server, "geo/1/scale", listed), 400, "the body must be a JSON object of arguments, got an array")
    assert call(server, "geo/1/scale", json.dumps({"x": 1}).encode()).status == 200  # the worker serves on


def test_large_bodies_are_read_by_a_process_of_the_lowest_priority(server):
    """The body reader runs at nice 19, so parsing yields the cores to the event loop and the
    model workers; the workers themselves keep the service's priority."""
    assert call(server, "geo/1/scale", small_and_large({"x": 1})[1]).status == 200
    usual = os.getpriority(os.PRIO_PROCESS, 0)  # the service runs in this process (a thread)
    readers = [p for p in psutil.Process().children(recursive=True)
               if "spawn_main" in " ".join(p.cmdline())]
    assert readers and {p.nice() for p in readers} == {19}, [(p.pid, p.cmdline(), p.nice()) for p in readers]
    if os.path.exists("/proc/self/autogroup"):  # scheduling by session: the reader's group is the lowest too
        for reader in readers:
            with open(f"/proc/{reader.pid}/autogroup") as f:
                assert f.read().split()[-1] == "19"
            assert os.getsid(reader.pid) == reader.pid  # a session of its own
    workers = [p for pid in server.ctx.pool.pids() for p in [psutil.Process(pid), *psutil.Process(pid).children(True)]]
    assert workers and {p.nice() for p in workers} == {usual}
