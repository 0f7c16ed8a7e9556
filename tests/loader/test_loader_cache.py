"""The caches: keyed by content, the warm path, tamper detection, atomic writes."""

from __future__ import annotations

import glob
import json
import marshal
import os
import sys

import pytest

import gilgamesh
from gilgamesh.errors import IntegrityError
from gilgamesh.loader import CacheIntegrityWarning, cache
from loader_kit import run_python

# Run in a fresh process: which modules did the import need?
PROBE = (
    "import sys\n"
    "before = set(sys.modules)\n"
    "import gilgamesh.api.langmuir.v1_2 as m\n"
    "print(m.__version__, sorted(set(sys.modules) - before))\n"
)


def _entry(api_registry: str, version: str) -> dict:
    with open(os.path.join(api_registry, "index", "langmuir.json")) as f:
        return json.load(f)["versions"][version]


def _cache_root() -> str:
    return os.environ["GILGAMESH_CACHE"]


def _forget() -> None:
    """A new session, as a fresh process would have (the cache on disk stays)."""
    gilgamesh.refresh()
    for key in [k for k in sys.modules if k.startswith("gilgamesh.api.")]:
        del sys.modules[key]


def test_warm_import_reads_the_code_cache_and_nothing_else():
    def probe() -> list[str]:
        result = run_python(PROBE)
        assert result.returncode == 0, result.stderr
        version, loaded = result.stdout.split(" ", 1)
        assert version == "1.2.1"
        return eval(loaded)

    cold = probe()
    assert "gilgamesh.loader.compiler" in cold and "json" in cold  # the probe sees the cold path
    loaded = probe()
    # No compiler, no notebook parsing, no json, no version grammar, no registry reader.
    for heavy in ("gilgamesh.loader.compiler", "gilgamesh.notebook", "gilgamesh.spelling", "json",
                  "tokenize", "gilgamesh.versions", "gilgamesh.registry", "typing", "hashlib", "linecache"):
        assert heavy not in loaded, heavy
    assert not [m for m in loaded if m.startswith(("nbformat", "IPython", "tornado", "importnb", "git", "packaging",
                                                   "docstring_parser", "bibtexparser", "gilgamesh.documentation.docstrings"))]


def test_import_gilgamesh_api_stays_lean():
    result = run_python("import sys\nimport gilgamesh.api\nprint(sorted(sys.modules))")
    loaded = eval(result.stdout)
    assert not [m for m in loaded if m.split(".")[0] in (
        "nbformat", "nbconvert", "IPython", "tornado", "importnb", "git", "packaging", "json", "typing",
        "docstring_parser", "bibtexparser")]


def test_code_cache_is_keyed_by_content_and_python(api_registry):
    import gilgamesh.api.langmuir.v1_2  # noqa: F401

    sha = _entry(api_registry, "1.2.1")["sha256"]
    path = cache.code_path(_cache_root(), sha)
    assert os.path.basename(path) == f"{sha}-{cache.MAGIC_NUMBER.hex()}-{cache.CODE_FORMAT}.code"
    assert os.path.exists(path)
    # Touching the registry (new mtimes, same bytes) changes nothing: the key is the content.
    for f in glob.glob(os.path.join(api_registry, "blobs", "*")) + glob.glob(os.path.join(api_registry, "index", "*")):
        os.utime(f, (1, 1))
    warm = run_python(PROBE)
    assert "gilgamesh.loader.compiler" not in warm.stdout


def test_notebook_cache_holds_verified_bytes(api_registry):
    import gilgamesh.api.langmuir.v1_2  # noqa: F401

    sha = _entry(api_registry, "1.2.1")["sha256"]
    with open(os.path.join(api_registry, "blobs", sha + ".ipynb"), "rb") as f:
        assert cache.read_notebook(_cache_root(), sha) == f.read()


def test_tampered_code_cache_is_detected_and_never_run(api_registry):
    import gilgamesh.api.langmuir.v1_2 as original

    expected_t = original.analyze([0.0, 3.0], [1.0, 2.718281828459045])["T_e"]
    path = cache.code_path(_cache_root(), _entry(api_registry, "1.2.1")["sha256"])
    with open(path, "rb") as f:
        data = f.read()
    # Replace the payload by valid compiled code of an attacker's choosing, keeping the header.
    header = data[:len(cache.CODE_TAG) + cache.DIGEST_SIZE]
    good = marshal.loads(data[len(header):])
    evil = compile("PWNED = True\ndef analyze(*a, **k):\n    return {'T_e': -1.0}\n", good["cells"][-1][1], "exec")
    tampered = {**good, "cells": ((6, good["cells"][-1][1], "evil", evil),)}
    with open(path, "wb") as f:
        f.write(header + marshal.dumps(tampered))
    with pytest.raises(IntegrityError, match="does not match its digest"):
        cache.read_code(path, _entry(api_registry, "1.2.1")["sha256"])

    _forget()
    with pytest.warns(CacheIntegrityWarning, match="does not match its digest.*compiled again"):
        module = gilgamesh.use("langmuir@1.2")
    assert not hasattr(module, "PWNED")
    assert module.analyze([0.0, 3.0], [1.0, 2.718281828459045])["T_e"] == expected_t
    # The entry was rebuilt: the next session reads it without a warning.
    assert cache.read_code(path, _entry(api_registry, "1.2.1")["sha256"])["version"] == "1.2.1"


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "other header", "empty"])
def test_damaged_code_cache_raises_integrity_error(api_registry, damage):
    import gilgamesh.api.langmuir.v1_2  # noqa: F401

    sha = _entry(api_registry, "1.2.1")["sha256"]
    path = cache.code_path(_cache_root(), sha)
    with open(path, "rb") as f:
        data = bytearray(f.read())
    if damage == "flip a byte":
        data[len(data) // 2] ^= 0x01
    elif damage == "truncate":
        del data[len(data) // 2:]
    elif damage == "other header":
        data[:9] = b"SOMETHING"
    else:
        data = bytearray()
    with open(path, "wb") as f:
        f.write(data)
    with pytest.raises(IntegrityError, match=f"integrity check failed for the cache file {path}"):
        cache.read_code(path, sha)


def test_code_cache_of_another_notebook_is_refused(api_registry):
    import gilgamesh.api.langmuir.v1_2  # noqa: F401

    sha_121 = _entry(api_registry, "1.2.1")["sha256"]
    sha_120 = _entry(api_registry, "1.2.0")["sha256"]
    os.replace(cache.code_path(_cache_root(), sha_121), cache.code_path(_cache_root(), sha_120))
    with pytest.raises(IntegrityError, match="holds the code of another notebook"):
        cache.read_code(cache.code_path(_cache_root(), sha_120), sha_120)


def test_tampered_notebook_cache_is_fetched_again(api_registry):
    import gilgamesh.api.langmuir.v1_2  # noqa: F401

    sha = _entry(api_registry, "1.2.1")["sha256"]
    nb_path = cache.notebook_path(_cache_root(), sha)
    with open(nb_path, "r+b") as f:
        f.write(b"{ tampered")
    os.unlink(cache.code_path(_cache_root(), sha))
    with pytest.raises(IntegrityError, match=f"expected sha256 {sha}"):
        cache.read_notebook(_cache_root(), sha)
    _forget()
    with pytest.warns(CacheIntegrityWarning, match="fetching it again"):
        module = gilgamesh.use("langmuir@1.2")
    assert module.__version__ == "1.2.1"
    assert cache.sha256_hex(cache.read_notebook(_cache_root(), sha)) == sha


def test_tampered_notebook_cache_offline_is_an_integrity_error(own_registry, tmp_path):
    import gilgamesh.api.langmuir.v1_2  # noqa: F401

    sha = _entry(own_registry, "1.2.1")["sha256"]
    with open(cache.notebook_path(_cache_root(), sha), "r+b") as f:
        f.write(b"{ tampered")
    os.unlink(cache.code_path(_cache_root(), sha))
    os.rename(own_registry, str(tmp_path / "moved-away"))
    result = run_python("import gilgamesh.api.langmuir.v1_2")
    assert result.returncode == 1
    assert "gilgamesh.errors.IntegrityError: integrity check failed for the cached notebook" in result.stderr


def test_tampered_resolution_memo_is_discarded(api_registry):
    import gilgamesh.api.langmuir.v1_2  # noqa: F401

    memos = glob.glob(os.path.join(_cache_root(), "index-*", "*", "langmuir", "*", "v1_2"))
    assert len(memos) == 1
    with open(memos[0], "r+b") as f:
        f.seek(-3, os.SEEK_END)
        f.write(b"2.0")
    _forget()
    with pytest.warns(CacheIntegrityWarning, match="discarded"):
        module = gilgamesh.use("langmuir@1.2")
    assert module.__version__ == "1.2.1"


def test_cache_files_are_written_whole():
    import gilgamesh.api.langmuir.v1_2  # noqa: F401
    import gilgamesh.api.plasma.v1  # noqa: F401

    files = [os.path.relpath(p, _cache_root()) for p in glob.glob(os.path.join(_cache_root(), "**"), recursive=True)]
    assert not [f for f in files if f.endswith(".tmp") or "/.tmp-" in f]
    assert len([f for f in files if f.startswith("code/")]) == 2


def test_seal_round_trip_and_refusals(tmp_path):
    sealed = cache.seal(b"TAG", b"payload")
    assert cache.unseal(b"TAG", sealed, "x") == b"payload"
    with pytest.raises(IntegrityError, match="unknown header"):
        cache.unseal(b"OTHER", sealed, "x")
    with pytest.raises(IntegrityError, match="does not match its digest"):
        cache.unseal(b"TAG", sealed[:-1] + b"X", "x")
    path = str(tmp_path / "memo")
    assert cache.write_memo(path, ("a", 1, None)) and cache.read_memo(path) == ("a", 1, None)
    assert cache.read_memo(str(tmp_path / "absent")) is None


def test_memos_of_a_replaced_index_are_removed(own_registry):
    from gilgamesh.registry.publish.pipeline import publish
    from loader_kit import fixture_bytes

    gilgamesh.use("langmuir@1.2")
    keys = glob.glob(os.path.join(_cache_root(), "index-*", "*", "langmuir", "*", "index"))
    assert len(keys) == 1
    newer = fixture_bytes("langmuir-1.2.1").replace(b'"version": "1.2.1"', b'"version": "1.2.2"')
    publish(own_registry, newer, validate=False)
    _forget()
    assert gilgamesh.use("langmuir@1.2").__version__ == "1.2.2"
    after = glob.glob(os.path.join(_cache_root(), "index-*", "*", "langmuir", "*", "index"))
    assert len(after) == 1 and after != keys
