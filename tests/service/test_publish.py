"""Writes over HTTP: publish and yank with bearer tokens, private reads, and the HTTP client."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.parse
import urllib.request

import service_apis as apis
import pytest
from service_kit import Server, assert_error, http

from gilgamesh import errors
from gilgamesh.registry.store.client import HttpReader, publish_over_http, unyank_over_http, yank_over_http
from gilgamesh.registry.store.tokens import create_token


@pytest.fixture(scope="module")
def writable(tmp_path_factory, service_env):
    """A server with validation on (the real publish gate), on a registry of its own."""
    from gilgamesh.registry.store.git_store import init_registry

    root = str(tmp_path_factory.mktemp("writable") / "registry")
    init_registry(root)
    s = Server(root, max_body_size=256 * 1024).start()
    s.tokens = {"alice": create_token(root, "alice"), "bob": create_token(root, "bob")}
    yield s
    s.stop()


def publish(server, data: bytes, token: str | None, query: str = ""):
    return http("POST", server.url + "/api/notebooks" + query, data, token=token,
                headers={"Content-Type": "application/x-ipynb+json"})


def test_publish_needs_a_token(writable):
    r = publish(writable, apis.small("tok", "1.0.0"), None)
    assert_error(r, 401, "need a token", "Authorization: Bearer")
    assert r.header("WWW-Authenticate").startswith("Bearer")
    assert_error(publish(writable, apis.small("tok", "1.0.0"), "ggm_not-a-real-token"), 401, "not known")
    assert http("GET", writable.url + "/api/notebooks/tok").status == 404  # nothing was written


def test_publish_validates_then_stores(writable):
    token = writable.tokens["alice"]
    dry = publish(writable, apis.small("inc", "1.0.0"), token, "?dry_run=1")
    assert dry.status == 200 and dry.json()["dry_run"] is True
    assert http("GET", writable.url + "/api/notebooks/inc").status == 404

    r = publish(writable, apis.small("inc", "1.0.0"), token)
    assert r.status == 201, r.body
    body = r.json()
    assert body["name"] == "inc" and body["version"] == "1.0.0" and body["created"] is True
    assert body["validation"]  # step 7 ran: the notebook was executed under nbval
    assert r.header("Location") == "/api/notebooks/inc/1.0.0"
    listed = http("GET", writable.url + "/api/notebooks/inc").json()
    assert listed["versions"][0]["publisher"] == "alice"
    # Served at once, models included, without a restart.
    call = http("POST", writable.url + "/models/inc/1/inc", {"x": 41})
    assert call.status == 200 and call.json()["result"] == 42.0

    again = publish(writable, apis.small("inc", "1.0.0"), token)
    assert again.status == 200 and again.json()["created"] is False  # same bytes: a no-op success


def test_publish_conflict_is_409(writable):
    token = writable.tokens["alice"]
    assert publish(writable, apis.small("conf", "1.0.0"), token).status == 201
    assert_error(publish(writable, apis.small("conf", "1.0.0", "return x + 2"), token), 409,
                 "already published with different content")


def test_refused_publish_is_422_with_every_problem(writable):
    nb = json.loads(apis.small("bad", "1.0.0"))
    nb["cells"][2]["source"] = "def inc(x):\n    return x + 1\n\ndef other(y: float) -> float:\n    return y"
    nb["metadata"]["gilgamesh"]["endpoints"] = ["inc", "missing"]
    error = assert_error(publish(writable, json.dumps(nb).encode(), writable.tokens["alice"]), 422, "was refused")
    messages = [d["message"] for d in error["details"]]
    assert {d["check"] for d in error["details"]} == {"endpoints"}
    assert any("parameter 'x' has no annotation" in m for m in messages)
    assert any("the return has no annotation" in m for m in messages)
    assert all(set(d) <= {"check", "message", "cell"} for d in error["details"])
    assert any("'missing'" in d["message"] for d in error["details"])


@pytest.mark.parametrize("body, status, fragment", [
    (b"", 400, "the request body is empty"),
    (b"not a notebook", 422, "not valid JSON"),
])
def test_publish_bad_bodies(writable, body, status, fragment):
    assert_error(publish(writable, body, writable.tokens["alice"]), status, fragment)


def test_publish_body_over_the_limit_is_413(writable):
    nb = json.loads(apis.small("huge", "1.0.0"))
    nb["cells"][0]["source"] += "x" * (300 * 1024)
    assert_error(publish(writable, json.dumps(nb).encode(), writable.tokens["alice"]), 413, "262,144 bytes")


def test_publishers_allow_list_gives_403(writable):
    """A known token whose user the registry's settings do not list may not write."""
    from gilgamesh.registry.store.layout import Layout

    settings = Layout(writable.root).settings_file
    with open(settings) as f:
        original = f.read()
    with open(settings, "w") as f:
        json.dump({**json.loads(original), "publishers": ["alice"]}, f)
    try:
        assert_error(publish(writable, apis.small("byb", "1.0.0"), writable.tokens["bob"]), 403, "'bob' may not publish")
        assert publish(writable, apis.small("bya", "1.0.0"), writable.tokens["alice"]).status == 201
        assert_error(http("POST", writable.url + "/api/notebooks/bya/1.0.0/yank", {"reason": "x"},
                          token=writable.tokens["bob"]), 403)
    finally:
        with open(settings, "w") as f:
            f.write(original)


@pytest.mark.parametrize("broken", [
    '{"publishers": ["alice"]',          # a typo: not JSON
    '{"publishers": "alice"}',           # a string, where "ali" would have matched as a substring
    '["alice"]',                         # not an object
])
def test_unreadable_publishers_setting_refuses_writes(writable, broken):
    """A broken settings.json never opens a restricted registry to every token holder (fail closed)."""
    from gilgamesh.registry.store.layout import Layout

    settings = Layout(writable.root).settings_file
    with open(settings) as f:
        original = f.read()
    with open(settings, "w") as f:
        f.write(broken)
    try:
        for user in ("alice", "bob"):
            assert_error(publish(writable, apis.small("broken", "1.0.0"), writable.tokens[user]), 500,
                         "settings.json")
        assert_error(http("POST", writable.url + "/api/notebooks/broken/1.0.0/yank", {"reason": "x"},
                          token=writable.tokens["alice"]), 500, "settings.json")
    finally:
        with open(settings, "w") as f:
            f.write(original)
    assert_error(http("GET", writable.url + "/api/notebooks/broken"), 404)  # nothing was stored


def test_yank_and_unyank(writable):
    token = writable.tokens["bob"]
    assert publish(writable, apis.small("yk", "1.0.0"), token).status == 201
    assert publish(writable, apis.small("yk", "1.1.0"), token).status == 201
    url = writable.url + "/api/notebooks/yk/1.1.0/yank"
    assert_error(http("POST", url, {"reason": "bad"}), 401)
    assert_error(http("POST", url, {}, token=token), 400, "needs a reason")
    assert_error(http("POST", url, {"reason": "  "}, token=token), 400, "needs a reason")
    assert_error(http("POST", writable.url + "/api/notebooks/yk/9.9.9/yank", {"reason": "x"}, token=token),
                 404, "no version 9.9.9")
    assert_error(http("POST", writable.url + "/api/notebooks/yk/1/yank", {"reason": "x"}, token=token),
                 400, "Invalid version")

    r = http("POST", url, {"reason": "off by one"}, token=token)
    assert r.status == 200
    assert r.json()["yanked"] is True and r.json()["yank_reason"] == "off by one"
    # Ranges skip it at once; the exact version is still served.
    assert http("GET", writable.url + "/api/notebooks/yk/1").json()["version"] == "1.0.0"
    assert http("POST", writable.url + "/models/yk/1/inc", {"x": 1}).header("Gilgamesh-Version") == "1.0.0"
    assert http("GET", writable.url + "/api/notebooks/yk/1.1.0").json()["yanked"] is True

    r = http("DELETE", url, token=token)
    assert r.status == 200 and r.json()["yanked"] is False
    assert http("GET", writable.url + "/api/notebooks/yk/1").json()["version"] == "1.1.0"


@pytest.mark.parametrize("route, field, text, fragment", [
    ("yank", "reason", "a\u0000b", "the reason may not contain a NUL character"),
    ("yank", "reason", "\udc00", "the reason holds an unpaired surrogate"),
    ("deprecate", "message", "use 2\u0000", "the message may not contain a NUL character"),
    ("deprecate", "message", "x\ud800y", "the message holds an unpaired surrogate"),
])
def test_a_record_text_that_is_not_text_is_a_400_naming_the_field_and_writes_nothing(writable, route, field, text,
                                                                                    fragment):
    from support import registry_state

    token = writable.tokens["bob"]
    if http("GET", writable.url + "/api/notebooks/rt/1.0.0").status != 200:
        assert publish(writable, apis.small("rt", "1.0.0"), token).status == 201
    before = registry_state(writable.root)
    assert_error(http("POST", f"{writable.url}/api/notebooks/rt/1.0.0/{route}", {field: text}, token=token),
                 400, fragment)
    assert registry_state(writable.root) == before
    # Any other text is stored as it was sent: newlines, accents, symbols, emoji.
    kept = "first line\nsecond: Te = 3 eV ± 2 %, Ω 🙂"
    r = http("POST", f"{writable.url}/api/notebooks/rt/1.0.0/{route}", {field: kept}, token=token)
    assert r.status == 200, r.body
    assert r.json()["yank_reason" if route == "yank" else "deprecation_message"] == kept
    assert http("DELETE", f"{writable.url}/api/notebooks/rt/1.0.0/{route}", token=token).status == 200


def test_http_client_reads_publishes_and_yanks(writable):
    token = writable.tokens["alice"]
    outcome = publish_over_http(writable.url, apis.small("cli", "1.0.0"), token)
    assert outcome["created"] is True and outcome["name"] == "cli"
    reader = HttpReader(writable.url)
    assert "cli" in reader.names()
    index = reader.api_index("cli")
    assert set(index["versions"]) == {"1.0.0"}
    assert reader.resolve("cli", "1").version == "1.0.0"
    data = reader.notebook_bytes("cli", "1.0.0")
    assert json.loads(data)["metadata"]["gilgamesh"]["name"] == "cli"

    entry = yank_over_http(writable.url, "cli", "1.0.0", "superseded", token)
    assert entry["yanked"] is True and entry["yank_reason"] == "superseded"
    assert reader.entry("cli", "1.0.0")["yanked"] is True
    assert unyank_over_http(writable.url, "cli", "1.0.0", token)["yanked"] is False
    assert yank_over_http(writable.url, "cli", "1.0.0", None, token)["yanked"] is False

    with pytest.raises(errors.ApiNotFound, match="no API named 'nope'"):
        reader.api_index("nope")
    with pytest.raises(errors.VersionNotFound):
        reader.notebook_bytes("cli", "3.0.0")
    with pytest.raises(errors.AuthenticationError):
        publish_over_http(writable.url, apis.small("cli", "1.0.1"), None)
    with pytest.raises(errors.Conflict):
        publish_over_http(writable.url, apis.small("cli", "1.0.0", "return x"), token)
    with pytest.raises(errors.PublishRefused) as refused:
        nb = json.loads(apis.small("cli2", "1.0.0"))
        nb["metadata"]["gilgamesh"]["endpoints"] = ["absent"]
        publish_over_http(writable.url, json.dumps(nb).encode(), token, dry_run=True)
    assert isinstance(refused.value.details[0], errors.Problem)
    assert "'absent'" in str(refused.value)


def test_http_client_token_from_environment(writable, monkeypatch):
    monkeypatch.setenv("GILGAMESH_TOKEN", writable.tokens["bob"])
    assert publish_over_http(writable.url, apis.small("envtok", "1.0.0"), None)["created"] is True


def test_http_client_unreachable_service():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        with pytest.raises(errors.RegistryUnavailable, match=f"127.0.0.1:{port}"):
            HttpReader(f"http://127.0.0.1:{port}").names()


@pytest.fixture
def html_site(tmp_path):
    """A real web server that is not a Gilgamesh service: every route is an HTML page (a proxy's sign-in)."""
    import functools
    import http.server
    import threading

    for route in ("api/notebooks", "api/notebooks/plasma", "api/notebooks/plasma/1"):
        (tmp_path / route).mkdir(parents=True, exist_ok=True)
        (tmp_path / route / "index.html").write_text("<html>please sign in</html>")
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(tmp_path))
    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{site.server_address[1]}"
    site.shutdown()
    site.server_close()
    thread.join(10)


def test_http_client_names_a_url_that_is_not_a_service(html_site):
    """A 200 HTML page is a clear error naming the URL, not a JSONDecodeError traceback."""
    reader = HttpReader(html_site)
    for read in (reader.names, lambda: reader.api_index("plasma"), lambda: reader.resolved("plasma", "1")):
        with pytest.raises(errors.RegistryUnavailable, match="did not answer with JSON.*'gilgamesh serve'"):
            read()


def test_tokens_and_hashes_never_leave_the_service(writable):
    token = writable.tokens["alice"]
    from gilgamesh.registry.store.tokens import _load

    hashes = [t["sha256"] for u in _load(writable.root)["users"].values() for t in u["tokens"]]
    for path in ("/api/notebooks", "/api/notebooks/inc", "/api/notebooks/inc/1", "/openapi.json", "/healthz"):
        body = http("GET", writable.url + path, token=token).body.decode()
        assert token not in body and not any(h in body for h in hashes)


@pytest.fixture(scope="module")
def private(tmp_path_factory, service_env):
    from gilgamesh.registry.publish.pipeline import publish as store_publish
    from gilgamesh.registry.store.git_store import init_registry

    root = str(tmp_path_factory.mktemp("private") / "registry")
    init_registry(root)
    store_publish(root, apis.small("sec", "1.0.0"), publisher="seed", validate=False)
    s = Server(root, private=True).start()
    s.token = create_token(root, "carol")
    yield s
    s.stop()


@pytest.mark.parametrize("method, path, body", [
    ("GET", "/api/notebooks", None),
    ("GET", "/api/notebooks/sec", None),
    ("GET", "/api/notebooks/sec/1", None),
    ("GET", "/api/notebooks/sec/1/notebook", None),
    ("GET", "/openapi.json", None),
    ("POST", "/models/sec/1/inc", {"x": 1}),
])
def test_private_reads_need_a_token(private, method, path, body):
    assert_error(http(method, private.url + path, body), 401, "private")
    assert_error(http(method, private.url + path, body, token="ggm_wrong"), 401, "not known")
    assert http(method, private.url + path, body, token=private.token).status == 200


def test_private_service_pages_ask_browsers_to_sign_in(private):
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(urllib.request.Request(private.url + "/docs/sec/1", headers={"Accept": "text/html"}))
        raise AssertionError("expected a redirect to /login")
    except urllib.error.HTTPError as e:
        assert e.code == 302 and e.headers["Location"].startswith("/login?next=")
    assert http("GET", private.url + "/healthz").status == 200  # liveness stays open
    assert http("GET", private.url + "/login", headers={"Accept": "text/html"}).status == 200
    r = http("POST", private.url + "/login", "token=ggm_wrong",
             headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"})
    assert r.status == 401 and b"not known" in r.body



def test_private_service_browser_sign_in_then_pages_and_calls(private):
    """A browser signs in once with its token; the signed cookie then opens pages and model calls."""
    import http.cookiejar

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = urllib.parse.urlencode({"token": private.token}).encode()
    with opener.open(urllib.request.Request(private.url + "/login?next=/ui/sec", data=form,
                                            headers={"Accept": "text/html"})) as r:
        assert r.status == 200 and r.url.endswith("/ui/sec")
        page = r.read().decode()
    assert 'data-url="/models/sec/1.0.0/inc"' in page
    assert private.token not in page and all(private.token not in c.value for c in jar)
    request = urllib.request.Request(private.url + "/models/sec/1/inc", data=b'{"x": 1}', method="POST",
                                     headers={"Content-Type": "application/json"})
    with opener.open(request) as r:
        assert json.loads(r.read())["result"] == 2.0
    # The cookie opens reads only: writing still needs the bearer token.
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(urllib.request.Request(private.url + "/api/notebooks/sec/1.0.0/yank", method="POST",
                                           data=b'{"reason": "x"}', headers={"Content-Type": "application/json"}))
    assert refused.value.code == 401
