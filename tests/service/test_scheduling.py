"""Fair scheduling of model calls, against a real server: slow calls never wait behind each other
while a worker could take them, never hold a fast call back, wait fairly, and a full queue is 503.

Slow calls here wait on a gate file that the test creates, so every assertion is an ordering
fact (this ran while that was still blocked), never a duration.
"""

from __future__ import annotations

import concurrent.futures
import threading

import pytest
from nbfactory import code, markdown, notebook, to_bytes
from service_kit import Server, assert_error, http
from support import unsandboxed

from gilgamesh.registry.publish.pipeline import publish
from gilgamesh.registry.store.git_store import init_registry


def gated() -> bytes:
    cells = [
        markdown("# gated\n\nCalls that wait for the test."),
        code("import os\nimport random\nimport time\n\n# Which process ran a call (inside a pid namespace every worker may be pid 2).\nPROCESS = random.random()"),
        code('def hold(gate: str) -> list[float]:\n'
             '    """Waits until the file gate exists; which process ran it, and when it began."""\n'
             '    began = time.time()\n'
             '    while not os.path.exists(gate):\n'
             '        time.sleep(0.005)\n'
             '    return [PROCESS, began]'),
        code('def other() -> list[float]:\n    """Another endpoint: which process ran it, and when."""\n'
             '    return [PROCESS, time.time()]'),
        code('def stamp() -> list[float]:\n    """A third endpoint: which process ran it, and when."""\n'
             '    return [PROCESS, time.time()]'),
        code('def fast(x: float) -> float:\n    """At once."""\n    return x'),
    ]
    return to_bytes(notebook("gated", "1.0.0", cells, summary="Gated calls.", endpoints=["hold", "other", "stamp", "fast"]))


@pytest.fixture(scope="module")
def gated_registry(tmp_path_factory, service_env):
    root = str(tmp_path_factory.mktemp("scheduling") / "registry")
    init_registry(root)
    # The gates are files in the test's tmp_path, which a contained worker cannot see by design
    # (no host /tmp in the sandbox): scheduling is tested here, containment in tests/reliability.
    unsandboxed(root)
    publish(root, gated(), publisher="seed", validate=False)
    return root


@pytest.fixture(scope="module")
def roomy(gated_registry):
    """Two warm workers, growing to three."""
    s = Server(gated_registry, model_workers=2, max_model_workers=3).start()
    s.wait_workers_ready()
    warm(s)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def single(gated_registry):
    """One worker that never grows: calls wait in the queue."""
    s = Server(gated_registry, model_workers=1, max_model_workers=1).start()
    s.wait_workers_ready()
    warm(s)
    yield s
    s.stop()


def warm(server) -> None:
    """Every worker imports the module first: a gate opened while a worker still imports would not hold."""
    for _ in range(4 * len(server.ctx.pool.workers)):
        assert call(server, "fast", {"x": 0.0}).status == 200


def call(server, function: str, arguments: dict):
    return http("POST", f"{server.url}/models/gated/1/{function}", arguments, timeout=300)


def wait_for(predicate, what: str, timeout: float = 120) -> None:
    """Poll the server's state (generous deadline: the machine may be loaded)."""
    done = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        done.wait(0.02)
    raise AssertionError(f"never saw: {what}")


def in_flight(server) -> list[int]:
    return sorted(len(w.inflight) for w in list(server.ctx.pool.workers))


def test_slow_calls_each_get_a_worker_of_their_own(roomy, tmp_path):
    """Four slow calls, room for three: three run at once, one per worker; the fourth waits in the
    pool's queue, never behind another slow call on a busy worker."""
    gate = str(tmp_path / "open")
    pool = roomy.ctx.pool
    with concurrent.futures.ThreadPoolExecutor(4) as clients:
        calls = [clients.submit(call, roomy, "hold", {"gate": gate}) for _ in range(4)]
        wait_for(lambda: in_flight(roomy).count(1) == 3 and len(pool.pending) == 1,
                 "three slow calls in flight on three workers, one waiting")
        assert max(in_flight(roomy)) == 1  # none batched behind another
        assert not any(c.done() for c in calls)
        open(gate, "w").close()
        results = [c.result() for c in calls]
    assert all(r.status == 200 for r in results), [r.body for r in results]
    processes = [r.json()["result"][0] for r in results]
    assert len(set(processes)) == 3, processes


def test_a_fast_call_is_not_held_behind_slow_ones(roomy, tmp_path):
    gate = str(tmp_path / "open")
    with concurrent.futures.ThreadPoolExecutor(2) as clients:
        slow = [clients.submit(call, roomy, "hold", {"gate": gate}) for _ in range(2)]
        wait_for(lambda: in_flight(roomy).count(1) >= 2, "both slow calls in flight")
        for x in range(20):  # answered while both slow calls are still blocked on the gate
            r = call(roomy, "fast", {"x": float(x)})
            assert r.status == 200 and r.json()["result"] == x, r.body
        assert not any(c.done() for c in slow)
        open(gate, "w").close()
        assert all(c.result().status == 200 for c in slow)
    assert roomy.ctx.pool.cheap("gated@1.0.0 fast") and not roomy.ctx.pool.cheap("gated@1.0.0 hold")


def test_the_pool_shrinks_back_to_its_warm_workers_when_idle(roomy, tmp_path):
    pool = roomy.ctx.pool
    gate = str(tmp_path / "open")
    with concurrent.futures.ThreadPoolExecutor(3) as clients:
        held = [clients.submit(call, roomy, "hold", {"gate": gate}) for _ in range(3)]
        wait_for(lambda: in_flight(roomy) == [1, 1, 1], "three slow calls on three workers")
        open(gate, "w").close()
        assert all(c.result().status == 200 for c in held)
    saved, pool.idle_retire = pool.idle_retire, 0.2
    try:
        wait_for(lambda: len(pool.workers) == pool.size == 2, "the extra worker stopped")
    finally:
        pool.idle_retire = saved
    assert call(roomy, "fast", {"x": 1.0}).json()["result"] == 1.0


def test_waiting_calls_are_served_fairly_across_endpoints(single, tmp_path):
    """Five calls of one endpoint queued before one of another: the other runs second, not sixth."""
    gate = str(tmp_path / "open")
    pool = single.ctx.pool
    with concurrent.futures.ThreadPoolExecutor(7) as clients:
        blocker = clients.submit(call, single, "hold", {"gate": gate})
        wait_for(lambda: in_flight(single) == [1], "the blocker in flight")
        burst = [clients.submit(call, single, "other", {}) for _ in range(5)]
        wait_for(lambda: len(pool.pending) == 5, "the burst waiting")
        late = clients.submit(call, single, "stamp", {})
        wait_for(lambda: len(pool.pending) == 6, "the other endpoint's call waiting")
        assert not blocker.done()
        open(gate, "w").close()
        began = sorted(c.result().json()["result"][1] for c in burst)
        late_began = late.result().json()["result"][1]
        assert blocker.result().status == 200
    assert began[0] < late_began < began[1], (began, late_began)


def test_a_full_queue_answers_503_with_retry_after(single, tmp_path):
    gate = str(tmp_path / "open")
    pool = single.ctx.pool
    saved = pool.queue_limit
    pool.queue_limit = 2
    try:
        with concurrent.futures.ThreadPoolExecutor(3) as clients:
            held = [clients.submit(call, single, "hold", {"gate": gate}) for _ in range(3)]
            wait_for(lambda: in_flight(single) == [1] and len(pool.pending) == 2, "one running, two waiting")
            refused_before = pool.refused
            for function, arguments in (("hold", {"gate": gate}), ("fast", {"x": 1.0})):
                r = call(single, function, arguments)
                assert_error(r, 503, "busy", "queue limit")
                assert int(r.header("Retry-After")) >= 1
            assert pool.refused == refused_before + 2
            open(gate, "w").close()
            assert all(c.result().status == 200 for c in held)  # what was queued is served
    finally:
        pool.queue_limit = saved
    assert call(single, "fast", {"x": 2.0}).json()["result"] == 2.0
