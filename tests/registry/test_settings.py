"""One settings table: every command and ``serve`` refuse an unknown key or a bad value, naming it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import nbfactory as f
from support import registry_state, run_cli, update_settings
from gilgamesh.registry.store.git_store import init_registry
from gilgamesh.registry.store.settings import SETTINGS, SettingsError, check_settings, default_settings, read_settings


@pytest.mark.parametrize("changes, fragments", [
    ({"publisher": ["alice"]}, ["'publisher' is not a setting", "did you mean 'publishers'?"]),
    ({"sandbox": "no"}, ["sandbox must be true or false, found \"no\""]),
    ({"validation_timeout": -5}, ["validation_timeout must be a positive number, found -5"]),
    ({"sandbox_processes": 2.5}, ["sandbox_processes must be a positive whole number, found 2.5"]),
    ({"publishers": "alice"}, ["publishers must be a list of non-empty strings, or null, found \"alice\""]),
    ({"cors_origins": ["dash.lab.example"]}, ["'dash.lab.example' is not an origin"]),
])
def test_every_command_refuses_a_bad_settings_file_naming_the_key_and_the_file(tmp_path, changes, fragments):
    root = str(tmp_path / "registry")
    init_registry(root)
    path = update_settings(root, **changes)
    notebook = tmp_path / "demo.ipynb"
    notebook.write_bytes(f.simple_api("demo", "1.0.0"))
    before = registry_state(root)
    for args in (("list",), ("publish", str(notebook)), ("yank", "demo@1.0.0", "--reason", "r"), ("init",)):
        out = run_cli(*args, "--registry", root)
        assert out.returncode == 1, (args, out.stdout, out.stderr)
        assert path in out.stderr and all(fragment in out.stderr for fragment in fragments), (args, out.stderr)
    assert registry_state(root) == before  # nothing written


def test_serve_refuses_a_bad_settings_file_before_it_listens(tmp_path):
    root = str(tmp_path / "registry")
    init_registry(root)
    update_settings(root, publisher=["alice"])
    done = subprocess.run([sys.executable, "-m", "gilgamesh", "serve", "--registry", root, "--port", "0"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "'publisher' is not a setting" in done.stderr and "Traceback" not in done.stderr
    assert "listening" not in (done.stdout + done.stderr).lower()


def test_the_table_fills_defaults_and_names_every_problem_at_once(tmp_path):
    assert check_settings({}, "s.json") == default_settings()
    assert set(default_settings()) == set(SETTINGS)
    assert check_settings({"sandbox": False, "publishers": ["alice"]}, "s.json")["publishers"] == ["alice"]
    with pytest.raises(SettingsError) as e:
        check_settings({"sandbox": 1, "validation_timeout": "300", "sync_interval": float("nan")}, "s.json")
    assert len(e.value.details) == 3 and "s.json" in e.value.message
    with pytest.raises(SettingsError, match="must hold a JSON object"):
        check_settings([], "s.json")
    root = str(tmp_path / "r")
    init_registry(root)
    written = json.loads(open(os.path.join(root, "settings.json")).read())
    assert set(written) == {s.name for s in SETTINGS.values() if s.written}  # init writes what it says
    assert read_settings(root) == {**default_settings(), **written}
    for setting in SETTINGS.values():
        assert setting.help and setting.accepts(setting.default), setting.name
