"""A registry's settings (``<root>/settings.json``): one table of named settings, each with its
default, its type and range, and its help.

Every reader goes through :func:`read_settings` (or :func:`check_settings` for a document it read
itself): the file's values checked against :data:`SETTINGS`, the defaults filled in. An unknown key
(a typo such as ``publisher`` for ``publishers``, which would leave publishing open to every token
holder) or a bad value (``"sandbox": "no"``, a negative time limit) is refused, naming the key,
what it expected and the file; nothing runs on a setting that was misread. The README's table of
settings is checked against this one by ``tests/test_docs.py``.

Read without git or nbformat, so that the service and the validation runner consult it cheaply.
"""

from __future__ import annotations

import json
import re
from typing import NamedTuple

from gilgamesh.errors import GilgameshError
from gilgamesh.registry.store.layout import Layout

__all__ = ["Setting", "SETTINGS", "SettingsError", "default_settings", "initial_settings", "check_settings",
           "read_settings"]


class Setting(NamedTuple):
    """One setting: its name, default, type (``kind``), range and help. (A NamedTuple: every
    command reads the table, and ``dataclasses`` costs a command 5 ms to import.)"""

    name: str
    default: object
    kind: str  # "bool", "int" (a whole number), "number", "str", "list[str]"
    help: str
    minimum: float | None = None  # the smallest value allowed, for numbers
    positive: bool = False  # numbers: greater than 0
    nullable: bool = False  # null is allowed (no limit, or not set)
    written: bool = True  # written into a new registry's settings.json by init
    what: str = ""  # what a value is, where the type alone does not say ("the address of a Dask scheduler")

    def expected(self) -> str:
        """What a value must be, in words."""
        words = self.what or {"bool": "true or false", "int": "a whole number", "number": "a number",
                              "str": "a non-empty string", "list[str]": "a list of non-empty strings"}[self.kind]
        if self.positive:
            words = words.replace("a ", "a positive ", 1)
        elif self.minimum is not None:
            words += f" of at least {self.minimum:g}"
        return words + (", or null" if self.nullable else "")

    def accepts(self, value) -> bool:
        if value is None:
            return self.nullable
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind in ("int", "number"):
            if isinstance(value, bool) or not isinstance(value, int if self.kind == "int" else (int, float)):
                return False
            if value != value:  # NaN is no number
                return False
            return (value > 0) if self.positive else (self.minimum is None or value >= self.minimum)
        if self.kind == "str":
            return isinstance(value, str) and bool(value.strip())
        return isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)


_SETTINGS = (
    Setting("validation_timeout", 300, "number",
            "seconds of wall clock for the whole run, counted once the kernel answers", positive=True),
    Setting("validation_startup_timeout", 120, "number",
            "seconds the kernel may take to start (a loaded machine is slow)", positive=True),
    Setting("validation_memory_mb", 2048, "int", "address-space limit of the kernel (0: none)", minimum=0),
    Setting("sandbox", True, "bool",
            "run notebook code (validation kernels, model workers) in the bubblewrap sandbox of "
            "registry/sandbox/launch.py; false only on a machine that trusts every notebook"),
    Setting("require_sandbox", False, "bool",
            "refuse to run notebook code when bwrap is missing, rather than run it unconfined "
            "(init writes true where bwrap is installed)"),
    Setting("sandbox_scratch_mb", 512, "int", "size of the scratch tmpfs (and of /dev/shm)", positive=True),
    Setting("sandbox_processes", 256, "int", "processes and threads of one sandbox", positive=True),
    Setting("sandbox_file_mb", 256, "int", "the largest file it may write", positive=True),
    Setting("sandbox_memory_mb", 4096, "int", "address-space limit of each sandboxed process (null: none)",
            positive=True, nullable=True),
    Setting("sandbox_cpu_seconds", 900, "int",
            "CPU seconds of each process of a validation run (a model call has its own time limit; null: none)",
            positive=True, nullable=True),
    Setting("cors_origins", [], "list[str]",
            "browser origins (scheme://host[:port]) whose pages may call the service"),
    Setting("publishers", None, "list[str]",
            "only these token holders may publish, yank and deprecate (null: every token holder)",
            nullable=True, written=False),
    Setting("dask_scheduler", None, "str", "serve model calls on the Dask cluster of this scheduler (tcp://host:8786)",
            nullable=True, written=False, what="the address of a Dask scheduler (tcp://host:8786)"),
    Setting("upstreams", [], "list[str]", "registries (paths or git URLs) that gilgamesh serve pulls from",
            written=False, what="a list of registry paths or git URLs"),
    Setting("sync_interval", 300, "number", "seconds between two pulls of the upstreams", positive=True, written=False),
)
SETTINGS: dict[str, Setting] = {s.name: s for s in _SETTINGS}
_ORIGIN = re.compile(r"^https?://[^/\s]+$", re.I)


class SettingsError(GilgameshError):
    """A settings file that is not what the table says: every problem, named, with the file."""


def default_settings() -> dict:
    """Every setting at its default (a registry without a settings file, or one over HTTP)."""
    return {s.name: _copy(s.default) for s in _SETTINGS}


def initial_settings(sandbox_available: bool) -> dict:
    """What ``init`` writes: the written settings at their defaults, requiring the sandbox where
    ``sandbox_available`` (bwrap is installed)."""
    written = {s.name: _copy(s.default) for s in _SETTINGS if s.written}
    return {**written, "require_sandbox": sandbox_available}


def _copy(value):
    return list(value) if isinstance(value, list) else value


def check_settings(raw, path: str) -> dict:
    """``raw`` (the parsed JSON of the settings file at ``path``) checked against the table, the
    defaults filled in; raise :class:`SettingsError` naming every unknown key and bad value."""
    if not isinstance(raw, dict):
        raise SettingsError(f"the registry's settings file {path} must hold a JSON object of settings")
    problems = []
    for key in sorted(raw):
        setting = SETTINGS.get(key)
        if setting is None:
            import difflib  # only for a key that is not a setting

            close = difflib.get_close_matches(key, SETTINGS, n=1)
            problems.append(f"{key!r} is not a setting" + (f" (did you mean {close[0]!r}?)" if close else "")
                            + f"; the settings are {', '.join(SETTINGS)}")
        elif not setting.accepts(raw[key]):
            problems.append(f"{key} must be {setting.expected()}, found {json.dumps(raw[key])}")
        elif key == "cors_origins":
            problems += [f"cors_origins: {o!r} is not an origin (scheme://host[:port])"
                         for o in raw[key] if not _ORIGIN.match(o.strip().rstrip("/"))]
    if problems:
        n = len(problems)
        raise SettingsError(f"the registry's settings file {path} was refused: {n} problem{'s' if n > 1 else ''}",
                            details=problems)
    return {**default_settings(), **raw}


def read_settings(root: str) -> dict:
    """The settings of the registry at ``root``: checked (:func:`check_settings`), defaults filled in."""
    path = Layout(root).settings_file
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return default_settings()
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise SettingsError(f"the registry's settings file {path} is not valid JSON: {e}") from None
    return check_settings(raw, path)
