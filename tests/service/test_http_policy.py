"""The HTTP policy of every route, against a real server: CORS, authentication before the body,
the body timeout, the sign-in redirect, shared and capped first renders, non-finite results,
and no 500 for what a client or a notebook sent."""

from __future__ import annotations

import concurrent.futures
import json
import os
import socket

import pytest
from nbfactory import code, markdown, notebook, to_bytes
from service_kit import Server, assert_error, http

from gilgamesh.registry.publish.pipeline import publish
from gilgamesh.registry.store.git_store import init_registry
from gilgamesh.registry.store.tokens import create_token

DASHBOARD = "https://dash.lab.example"


def spelled(version: str = "1.0.0") -> bytes:
    """Results that JSON numbers cannot spell, in every shape a result takes."""
    cells = [
        markdown("# spelled\n\nNon-finite results."),
        code("import math\n\nimport numpy as np"),
        code('def ratio(a: float, b: float) -> float:\n    """a over b, infinite for b = 0."""\n'
             '    return a / b if b else math.copysign(math.inf, a) if a else math.nan'),
        code('def series() -> list[float]:\n    """A list with every non-finite value."""\n'
             '    return [1.5, math.nan, math.inf, -math.inf]'),
        code('def table() -> dict[str, float]:\n    """An object with one."""\n    return {"ok": 2.0, "bad": math.nan}'),
        code('def matrix(n: int) -> np.ndarray:\n    """An n-by-n array of infinities."""\n'
             '    return np.full((n, n), np.inf)'),
    ]
    return to_bytes(notebook("spelled", version, cells, summary="Non-finite results.",
                             endpoints=["ratio", "series", "table", "matrix"]))


def big_doc(version: str, cells: int = 400) -> bytes:
    """A notebook whose first render takes a while (a long narrative)."""
    body = [markdown(f"## Section {i}\n\nThe relation $E_{i} = m c^2$ in words, at length. " * 3)
            for i in range(cells)]
    return to_bytes(notebook("bigdoc", version, [*body, code("def one() -> int:\n    \"\"\"One.\"\"\"\n    return 1")],
                             summary="A long notebook.", endpoints=["one"]))


def hidden_endpoint() -> bytes:
    """An endpoint that ``__all__`` leaves out: publish refuses it, it never crashes."""
    cells = [
        markdown("# hidden\n\nAn endpoint left out of __all__."),
        code('__all__ = ["shown"]\n\n\ndef shown(x: float) -> float:\n    """Shown."""\n    return x\n\n\n'
             'def hidden(x: float) -> float:\n    """Hidden."""\n    return -x'),
    ]
    return to_bytes(notebook("hidden", "1.0.0", cells, summary="Left out.", endpoints=["shown", "hidden"]))


@pytest.fixture(scope="module")
def policy_server(tmp_path_factory, service_env):
    root = str(tmp_path_factory.mktemp("policy") / "registry")
    init_registry(root)
    for data in (spelled(), big_doc("1.0.0"), big_doc("1.0.1"), big_doc("1.0.2")):
        publish(root, data, publisher="seed", validate=False)
    with open(os.path.join(root, "settings.json"), "w") as f:
        json.dump({"cors_origins": [DASHBOARD + "/"]}, f)  # a trailing slash is forgiven
    s = Server(root, call_timeout=30, validate=False, body_timeout=1.0).start()
    s.token = create_token(root, "ada")
    s.wait_workers_ready()
    yield s
    s.stop()


# -- CORS ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("path, methods", [
    ("/models/spelled/1/ratio", {"POST", "OPTIONS"}),
    ("/api/notebooks", {"GET", "HEAD", "POST", "OPTIONS"}),
    ("/api/notebooks/spelled/1.0.0/yank", {"POST", "DELETE", "OPTIONS"}),
])
def test_a_listed_origin_gets_its_preflight_answered(policy_server, path, methods):
    r = http("OPTIONS", policy_server.url + path, headers={
        "Origin": DASHBOARD, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert r.status == 204 and r.body == b""
    assert r.header("Access-Control-Allow-Origin") == DASHBOARD
    assert set(r.header("Access-Control-Allow-Methods").split(", ")) == methods
    allowed_headers = {h.strip().lower() for h in r.header("Access-Control-Allow-Headers").split(",")}
    assert {"authorization", "content-type"} <= allowed_headers
    assert r.header("Vary") == "Origin"
    assert r.header("Access-Control-Allow-Credentials") is None  # tokens, never cookies, across origins


@pytest.mark.parametrize("origin", ["https://evil.example", "https://dash.lab.example.evil.example", "null"])
def test_no_other_origin_gets_a_cors_header(policy_server, origin):
    for method, path, body in (("OPTIONS", "/models/spelled/1/ratio", None),
                               ("POST", "/models/spelled/1/ratio", {"a": 1.0, "b": 2.0}),
                               ("GET", "/api/notebooks", None)):
        r = http(method, policy_server.url + path, body, headers={
            "Origin": origin, "Access-Control-Request-Method": "POST"})
        assert r.status in (200, 204), (method, path, r.status)
        assert not [h for h in r.headers if h.lower().startswith("access-control-")], (method, path, r.headers)


def test_a_listed_origin_reads_results_errors_and_headers(policy_server):
    origin = {"Origin": DASHBOARD}
    r = http("POST", policy_server.url + "/models/spelled/1/ratio", {"a": 1.0, "b": 4.0}, headers=origin)
    assert r.status == 200 and r.json()["result"] == 0.25
    assert r.header("Access-Control-Allow-Origin") == DASHBOARD
    assert "Gilgamesh-Version" in r.header("Access-Control-Expose-Headers")
    assert "Gilgamesh-Warning" in r.header("Access-Control-Expose-Headers")
    for method, path in (("POST", "/models/spelled/1/nothing"), ("GET", "/api/notebooks/nothing"),
                         ("GET", "/no/such/route")):
        r = http(method, policy_server.url + path, {} if method == "POST" else None, headers=origin)
        assert_error(r, 404)
        assert r.header("Access-Control-Allow-Origin") == DASHBOARD, (method, path)


@pytest.mark.parametrize("origin", [DASHBOARD, "https://evil.example", None])
@pytest.mark.parametrize("method, path", [("POST", "/models/spelled/1/nothing"), ("GET", "/api/notebooks"),
                                          ("GET", "/api/notebooks/nothing"), ("OPTIONS", "/api/notebooks"),
                                          ("OPTIONS", "/models/spelled/1/nothing")])
def test_every_answer_varies_by_origin_while_cors_is_on(policy_server, origin, method, path):
    headers = {"Origin": origin} if origin else {}
    if method == "OPTIONS":
        headers["Access-Control-Request-Method"] = "POST"
    r = http(method, policy_server.url + path, {} if method == "POST" else None, headers=headers)
    assert "Origin" in (r.header("Vary") or ""), (method, path, origin, r.status)
    assert (r.header("Access-Control-Allow-Origin") == DASHBOARD) == (origin == DASHBOARD)


def test_cors_origins_follow_the_settings_file(policy_server):
    settings = os.path.join(policy_server.root, "settings.json")
    other = "http://localhost:5173"
    url = policy_server.url + "/api/notebooks"
    assert http("GET", url, headers={"Origin": other}).header("Access-Control-Allow-Origin") is None
    with open(settings, "w") as f:
        json.dump({"cors_origins": []}, f)
    try:  # with no origin listed, no answer depends on one
        assert http("GET", url, headers={"Origin": other}).header("Vary") is None
    finally:
        with open(settings, "w") as f:
            json.dump({"cors_origins": [DASHBOARD]}, f)
    with open(settings, "w") as f:
        json.dump({"cors_origins": [DASHBOARD, other]}, f)
    try:
        assert http("GET", url, headers={"Origin": other}).header("Access-Control-Allow-Origin") == other
    finally:
        with open(settings, "w") as f:
            json.dump({"cors_origins": [DASHBOARD]}, f)
    assert http("GET", url, headers={"Origin": other}).header("Access-Control-Allow-Origin") is None


# -- the body: authentication first, a size limit, a time limit -------------------------------------
def _raw(server, head: str, body: bytes = b"", timeout: float = 60) -> bytes:
    """Send a request's head (and part of a body), then read until the server closes or answers."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        data = b""
        while b"\r\n\r\n" not in data or not _complete(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return True


@pytest.mark.parametrize("path, auth", [
    ("/api/notebooks", ""),
    ("/api/notebooks", "Authorization: Bearer not-a-token\n"),
    ("/api/notebooks/spelled/1.0.0/yank", ""),
    ("/api/notebooks/spelled/1.0.0/deprecate", "Authorization: Bearer not-a-token\n"),
])
def test_an_unauthenticated_write_is_refused_before_its_body_is_sent(policy_server, path, auth):
    """The 401 comes back while the client has sent the headers alone (19 MB announced, 0 sent)."""
    answer = _raw(policy_server, f"POST {path} HTTP/1.1\nHost: test\nContent-Length: 19000000\n"
                                 f"Content-Type: application/json\n{auth}")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 401 "), answer[:300]
    error = json.loads(body)["error"]
    assert error["status"] == 401 and "token" in error["message"]


def test_a_body_over_the_limit_is_refused_on_its_length_on_every_route(policy_server):
    too_big = policy_server.ctx.max_body_size + 1
    for path, auth in (("/models/spelled/1/ratio", ""), ("/api/notebooks", f"Authorization: Bearer {policy_server.token}\n")):
        answer = _raw(policy_server, f"POST {path} HTTP/1.1\nHost: test\nContent-Length: {too_big}\n{auth}")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413 "), (path, answer[:300])
        assert "larger than this service accepts" in json.loads(body)["error"]["message"]


@pytest.mark.parametrize("path", ["/models/spelled/1/ratio", "/api/notebooks?dry_run=1"])
def test_a_body_that_stops_arriving_is_dropped_after_the_body_timeout(policy_server, path):
    """The server (body_timeout 1 s here) closes the connection; the client never has to."""
    answer = _raw(policy_server, f"POST {path} HTTP/1.1\nHost: test\nContent-Length: 1000\n", b'{"a": 1', timeout=120)
    assert answer == b""  # closed, with nothing answered: there was no request to answer


# -- the sign-in redirect ------------------------------------------------------------------------
@pytest.mark.parametrize("target, expected", [
    ("/docs/spelled/1", "/docs/spelled/1"),
    ("/ui/spelled?x=1", "/ui/spelled?x=1"),
    ("/\\example.org", "/"), ("/\\/example.org", "/"), ("//example.org", "/"), ("https://example.org", "/"),
    ("/\t/example.org", "/"), ("example.org", "/"), ("", "/"),
])
def test_the_sign_in_page_sends_a_browser_only_within_the_site(target, expected):
    from gilgamesh.service.pages import same_site_path

    assert same_site_path(target) == expected


def test_the_sign_in_redirect_refuses_an_encoded_backslash(policy_server):
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    for next_, location in (("/%5Cexample.org", "/"), ("%2F%2Fexample.org", "/"), ("/ui/spelled", "/ui/spelled")):
        req = urllib.request.Request(f"{policy_server.url}/login?next={next_}", method="POST",
                                     data=f"token={policy_server.token}".encode())
        try:
            opener.open(req, timeout=30)
            raise AssertionError("no redirect")
        except urllib.error.HTTPError as e:
            assert e.code == 302 and e.headers["Location"] == location, (next_, e.code, e.headers["Location"])


# -- first renders of docs pages ------------------------------------------------------------------
def test_first_renders_are_shared_per_notebook_and_capped(policy_server):
    ctx = policy_server.ctx
    before = dict(ctx.render_stats)
    paths = [f"/docs/bigdoc/{v}" for v in ("1.0.0", "1.0.1", "1.0.2") for _ in range(4)]
    with concurrent.futures.ThreadPoolExecutor(len(paths) + 1) as pool:
        pages = list(pool.map(lambda p: http("GET", policy_server.url + p), paths))
        # Meanwhile a write still gets a thread of the executor.
        token = policy_server.token
        outcome = pool.submit(http, "POST", policy_server.url + "/api/notebooks?dry_run=1", spelled("1.0.1"),
                              token=token).result()
    assert all(p.status == 200 for p in pages), [p.status for p in pages]
    assert len({p.body for p in pages[:4]}) == 1 and b"Section 399" in pages[0].body
    assert ctx.render_stats["renders"] - before["renders"] == 3  # twelve views, three notebooks
    assert ctx.render_stats["peak"] <= ctx.render_slots < 4
    assert outcome.status == 200, outcome.body[:300]
    assert ctx.render_stats["running"] == 0 and not ctx._renders


# -- non-finite results ---------------------------------------------------------------------------
@pytest.mark.parametrize("function, arguments, result", [
    ("ratio", {"a": 1.0, "b": 0.0}, "Infinity"),
    ("ratio", {"a": -1.0, "b": 0.0}, "-Infinity"),
    ("ratio", {"a": 0.0, "b": 0.0}, "NaN"),
    ("ratio", {"a": 1.0, "b": 2.0}, 0.5),
    ("series", {}, [1.5, "NaN", "Infinity", "-Infinity"]),
    ("table", {}, {"ok": 2.0, "bad": "NaN"}),
    ("matrix", {"n": 2}, [["Infinity", "Infinity"], ["Infinity", "Infinity"]]),
])
def test_non_finite_results_are_spelled_never_null(policy_server, function, arguments, result):
    r = http("POST", f"{policy_server.url}/models/spelled/1/{function}", arguments)
    assert r.status == 200, r.body[:300]
    assert r.json()["result"] == result


def test_the_document_declares_the_non_finite_spelling(policy_server):
    document = http("GET", policy_server.url + "/openapi.json").json()
    assert document["components"]["schemas"]["NonFiniteNumber"]["enum"] == ["NaN", "Infinity", "-Infinity"]
    ok = document["paths"]["/models/spelled/1/ratio"]["post"]["responses"]["200"]["content"]["application/json"]
    result = json.dumps(ok["schema"]["properties"]["result"])
    assert "#/components/schemas/NonFiniteNumber" in result
    assert '"NaN"' in document["info"]["description"]


# -- no 500 for what a client or a notebook sent --------------------------------------------------
def test_an_endpoint_left_out_of_all_is_refused_not_a_500(policy_server):
    r = http("POST", policy_server.url + "/api/notebooks", hidden_endpoint(), token=policy_server.token)
    error = assert_error(r, 422, "'hidden'")
    assert any(d.get("check") == "endpoints" for d in error["details"]), error


def test_a_notebook_the_renderer_chokes_on_is_a_4xx_not_a_500(policy_server, monkeypatch):
    """Publish refuses what nbconvert cannot read, so the fault is injected: a renderer that raises."""
    import gilgamesh.service.app as app

    def broken(data):
        raise AttributeError("'list' object has no attribute 'replace'")

    monkeypatch.setattr(app, "render_notebook_body", broken)
    r = http("GET", policy_server.url + "/docs/spelled/1.0.0")
    assert_error(r, 422, "spelled@1.0.0 cannot be rendered", "/api/notebooks/spelled/1.0.0/notebook")
    monkeypatch.undo()
    assert http("GET", policy_server.url + "/docs/spelled/1.0.0").status == 200  # nothing was cached
