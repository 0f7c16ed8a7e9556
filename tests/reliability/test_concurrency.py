"""Concurrency over HTTP: many publishes at once, against two server processes sharing the port.

50 distinct versions of one API published at once must all land (each writer re-checks the
predecessor under the lock); 20 publishes of one version with different bytes at once must give
exactly one 201 and nineteen 409. Afterwards ``git fsck`` is clean and the index equals the tags.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import threading

import pytest
import requests

import nbfactory as f
from reliability_kit import Service, assert_registry_consistent

DISTINCT = 50
SAME_VERSION = 20


def _post_all(url: str, token: str, bodies: list[bytes]) -> list[requests.Response]:
    """POST every body to /api/notebooks at once (threads released together by a barrier)."""
    barrier = threading.Barrier(len(bodies))

    def post(body: bytes) -> requests.Response:
        barrier.wait()
        return requests.post(url + "/api/notebooks", data=body, timeout=600,
                             headers={"Authorization": f"Bearer {token}"})

    with concurrent.futures.ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(post, bodies))


@pytest.fixture
def busy_service(tmp_path, private_cache):
    from gilgamesh.registry.store.git_store import init_registry
    from gilgamesh.registry.store.tokens import create_token

    root = str(tmp_path / "registry")
    init_registry(root)
    token = create_token(root, "alice")
    service = Service(root, str(tmp_path / "service.log"), "--workers", "2")
    try:
        yield service, token
    finally:
        service.stop()


@pytest.mark.slow
def test_concurrent_publishes_all_land_and_one_version_is_written_once(busy_service, tmp_path, figures):
    service, token = busy_service
    url = service.url

    bodies = [f.simple_api("load", f"1.0.{i}") for i in range(DISTINCT)]
    # Meanwhile a reader lists and calls the API being published: never a 5xx, never a wrong result.
    done = threading.Event()
    reads: list[tuple[int, object]] = []

    def read() -> None:
        session = requests.Session()
        while not done.is_set():
            listing = session.get(url + "/api/notebooks", timeout=60)
            call = session.post(url + "/models/load/1/scale", json={"x": 1.5}, timeout=60)
            reads.append((listing.status_code, None))
            reads.append((call.status_code, call.json().get("result") if call.status_code == 200 else call.text[:300]))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        answers = _post_all(url, token, bodies)
    finally:
        done.set()
        reader.join()
    assert reads and all(status in (200, 404) for status, _ in reads), [r for r in reads if r[0] not in (200, 404)][:5]
    assert all(result == 3.0 for status, result in reads if status == 200 and result is not None)
    statuses = [r.status_code for r in answers]
    assert statuses == [201] * DISTINCT, [(r.status_code, r.text[:300]) for r in answers if r.status_code != 201]
    listed = requests.get(url + "/api/notebooks/load", timeout=30).json()
    by_version = {v["version"]: v["sha256"] for v in listed["versions"]}
    assert by_version == {f"1.0.{i}": hashlib.sha256(b).hexdigest() for i, b in enumerate(bodies)}
    assert requests.get(url + "/api/notebooks/load/1.0", timeout=30).json()["version"] == f"1.0.{DISTINCT - 1}"

    rivals = [f.simple_api("race", "1.0.0", extra=f"RIVAL = {i}") for i in range(SAME_VERSION)]
    answers = _post_all(url, token, rivals)
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201] + [409] * (SAME_VERSION - 1), [(r.status_code, r.text[:200]) for r in answers]
    winner = next(b for b, r in zip(rivals, answers) if r.status_code == 201)
    for r in answers:
        if r.status_code == 409:
            assert "race@1.0.0" in r.json()["error"]["message"]
    served = requests.get(url + "/api/notebooks/race/1.0.0/notebook", timeout=30)
    assert served.content == winner

    tags = assert_registry_consistent(service.root, str(tmp_path))
    assert len(tags) == DISTINCT + 1
    assert requests.get(url + "/healthz", timeout=30).status_code == 200
    assert "Traceback" not in service.log()
    figures("distinct versions published at once over HTTP (2 server processes), all 201", DISTINCT)
    figures("reads and model calls served during the 50 publishes (no 5xx, no wrong result)", len(reads))
    figures("publishes of one version with different bytes at once", f"{SAME_VERSION}: 1 x 201, {SAME_VERSION - 1} x 409")


def test_a_version_published_while_the_workers_are_warm_is_served(tmp_path, private_cache):
    """DESIGN 8: a newly published version is served without a restart, by workers already warm."""
    from gilgamesh.registry.publish.pipeline import publish
    from gilgamesh.registry.store.git_store import init_registry

    root = str(tmp_path / "registry")
    init_registry(root)
    publish(root, f.simple_api("warm", "1.0.0"), validate=False)
    service = Service(root, str(tmp_path / "service.log"))
    try:
        for _ in range(4):  # every worker of the pool has read the index
            r = requests.post(service.url + "/models/warm/1/scale", json={"x": 1}, timeout=60)
            assert r.status_code == 200 and r.headers["Gilgamesh-Version"] == "1.0.0", r.text
        publish(root, f.simple_api("warm", "1.0.1"), validate=False)
        for _ in range(4):
            r = requests.post(service.url + "/models/warm/1/scale", json={"x": 1}, timeout=60)
            assert r.status_code == 200 and r.headers["Gilgamesh-Version"] == "1.0.1", r.text[:300]
    finally:
        service.stop()
