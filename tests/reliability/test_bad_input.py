"""Bad input (corpus.py): each case is refused with exit 1 or a 4xx naming the problem.

Nothing may be written (every file of the registry hashes the same before and after) and the
service must stay healthy (``/healthz`` after every case, a real model call and a real publish at
the end).
"""

from __future__ import annotations

import concurrent.futures
import html
import json
import os
import re
import subprocess
import sys

import pytest
import requests

import nbfactory as f
from corpus import NOTEBOOKS, request_cases
from reliability_kit import tree_snapshot
from support import assert_envelope


def _cli_publish(path: str, root: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gilgamesh", "publish", path, "--registry", root],
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.slow  # a validation kernel for most of the corpus's 49 notebooks
def test_every_bad_notebook_exits_1_naming_the_problem_and_writes_nothing(seeded_service, tmp_path, figures):
    # The CLI writes to the service's registry directory directly, as a lab member on the server
    # would; the validation runs it caches make the HTTP pass below quicker.
    cli_registry = seeded_service.root
    env = dict(os.environ, GILGAMESH_CACHE=str(tmp_path / "cache"))
    paths = {}
    for case in NOTEBOOKS:
        paths[case.id] = str(tmp_path / f"{case.id}.ipynb")
        with open(paths[case.id], "wb") as fh:
            fh.write(case.data)
    before = tree_snapshot(cli_registry)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = dict(zip(paths, pool.map(lambda p: _cli_publish(p, cli_registry, env), paths.values())))
    failures = []
    for case in NOTEBOOKS:
        out = results[case.id]
        if out.returncode != 1 or case.expected not in out.stderr or "Traceback" in out.stderr:
            failures.append(f"{case.id}: exit {out.returncode}, stderr {out.stderr[-600:]!r}")
    assert not failures, "\n".join(failures)
    assert tree_snapshot(cli_registry) == before
    figures("bad notebooks refused by 'gilgamesh publish' (exit 1, problem named)", len(NOTEBOOKS))


def envelope_problem(response: requests.Response, expected: str) -> str | None:
    """What is wrong with an error answer (None if nothing).

    JSON routes answer with the one error shape of the README's routes (Over HTTP), its status equal to the
    response's; HTML pages (``/docs``, the web UI) with a page. Either way ``expected`` must be
    in what the user reads: the message and details, or the page's text.
    """
    content_type = response.headers.get("Content-Type", "")
    if content_type.startswith("text/html") and "/docs/" in response.url:
        text = html.unescape(re.sub(r"<[^>]+>", " ", response.text))
    elif not content_type.startswith("application/json"):
        return f"not JSON: {content_type} {response.text[:200]!r}"
    else:
        try:
            error = assert_envelope(response.status_code, content_type, response.content)
        except (ValueError, AssertionError):
            return f"not the error envelope: {response.text[:300]!r}"
        details = [d.get("message", json.dumps(d)) if isinstance(d, dict) else str(d) for d in error["details"]]
        text = "\n".join([error["message"], *details])
    if expected not in text:
        return f"{expected!r} not named in {text[:400]!r}"
    return None


def _healthy(url: str) -> None:
    health = requests.get(url + "/healthz", timeout=30)
    assert health.status_code == 200 and health.json()["status"] == "ok"


@pytest.mark.slow  # a validation kernel for most of the corpus's 49 notebooks
def test_every_bad_notebook_is_a_4xx_naming_the_problem_over_http(seeded_service, figures):
    s = seeded_service
    before = tree_snapshot(s.root)
    failures = []
    for case in NOTEBOOKS:
        r = requests.post(s.url + "/api/notebooks", data=case.data, headers=s.auth(), timeout=300)
        if not 400 <= r.status_code < 500:
            failures.append(f"{case.id}: HTTP {r.status_code} {r.text[:300]}")
            continue
        problem = envelope_problem(r, case.expected)
        if problem:
            failures.append(f"{case.id}: HTTP {r.status_code} {problem}")
        _healthy(s.url)
    assert not failures, "\n".join(failures)
    assert tree_snapshot(s.root) == before
    assert s.service.alive()
    figures("bad notebooks refused by POST /api/notebooks (4xx, problem named)", len(NOTEBOOKS))


def test_every_bad_request_is_a_4xx_naming_the_problem(seeded_service, figures):
    from gilgamesh.service.options import ServiceOptions

    s = seeded_service
    cases = request_cases(ServiceOptions.default("max_body_size"))
    before = tree_snapshot(s.root)
    failures = []
    for case in cases:
        headers = dict(case.headers or {})
        if case.token:
            headers.update(s.auth())
        request = requests.Request(case.method, s.url + case.path, data=case.body, headers=headers).prepare()
        if case.headers and "Content-Length" in case.headers:
            request.headers["Content-Length"] = case.headers["Content-Length"]
        try:
            r = requests.Session().send(request, timeout=120)
        except requests.ConnectionError as e:
            # A server may close the connection on a refused oversized body; it must have answered first.
            failures.append(f"{case.id}: no answer ({e})")
            _healthy(s.url)
            continue
        if r.status_code != case.status:
            failures.append(f"{case.id}: expected {case.status}, got {r.status_code} {r.text[:300]}")
        elif problem := envelope_problem(r, case.expected):
            failures.append(f"{case.id}: {problem}")
        _healthy(s.url)
    assert not failures, "\n".join(failures)
    assert tree_snapshot(s.root) == before
    figures("bad requests refused over HTTP (4xx, problem named)", len(cases))


def test_the_service_still_serves_and_publishes_after_the_corpus(seeded_service):
    s = seeded_service
    call = requests.post(s.url + "/models/demo/1/scale", json={"x": 1.5}, timeout=60)
    assert call.status_code == 200 and call.json()["result"] == 3.0
    total = requests.post(s.url + "/models/arrays/1/total", json={"values": [0.5] * 100_000}, timeout=60)
    assert total.status_code == 200 and total.json()["result"] == 50_000.0, total.text[:500]
    fresh = f.simple_api("after", "1.0.0")
    r = requests.post(s.url + "/api/notebooks", data=fresh, headers=s.auth(), timeout=300)
    assert r.status_code == 201, r.text
    assert requests.post(s.url + "/models/after/1/scale", json={"x": 2}, timeout=60).json()["result"] == 4.0
    assert "Traceback" not in s.service.log(), s.service.log()[-3000:]
