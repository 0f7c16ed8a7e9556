"""Step 3, semantic versioning: a corpus of version pairs, each published for real.

Each row is (rule, old import cell, new import cell, bump on a 1.x line, expected change kinds).
For every row the new notebook is refused when it is bumped one level too little (the report
names the change and the bump it needs) and accepted when bumped right; the same on a 0.x line,
where what needs MAJOR needs MINOR. The surface is the module's as its code ran (the import
cells run in a sandboxed process, as for a working copy); validation (step 7) is off: these
tests are about step 3. The corpus holds the eight breaking changes that the static reading let
through as patches (marked "[issue 10]").
"""

from __future__ import annotations

import pytest

import nbfactory as f
from gilgamesh.errors import PublishRefused
from gilgamesh.notebook import parse_notebook
from gilgamesh.registry.publish.pipeline import publish
from gilgamesh.registry.compat.semver import bump_of, diff_snapshots, required_bump
from gilgamesh.registry.store.git_store import init_registry
from gilgamesh.registry.surface.snapshot import api_snapshot, probe_surface


def api(source: str, version: str, name: str = "demo") -> bytes:
    """An API notebook whose import cell is ``source`` (documented by the markdown above it)."""
    return f.to_bytes(f.notebook(name, version, [f.markdown(f"# {name}\n\nThe public API below."), f.code(source)]))


def snapshot(source: str) -> dict:
    """The format-1 (static) snapshot."""
    return api_snapshot(parse_notebook(api(source, "1.0.0")))


@pytest.fixture(scope="module")
def probe_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("probe") / "registry")
    init_registry(root)
    return root


def live(source: str, root: str) -> dict:
    """The format-2 snapshot: the import cells ran."""
    found, error = probe_surface(parse_notebook(api(source, "1.0.0")), root)
    assert error is None, error
    return found


F = 'def f(x, y):\n    """F."""\n    return x + y\n'
F_OPT = 'def f(x, y=1):\n    """F."""\n    return x + y\n'
K = 'class K:\n    """K."""\n    UNITS = "SI"\n\n    def __init__(self, a):\n        self.a = a\n\n    def m(self, b):\n        return b\n'

DC = 'from dataclasses import dataclass\n@dataclass\nclass D:\n    """D."""\n    a: int\n    b: float = 2.0\n'
NT = 'from typing import NamedTuple\nclass T(NamedTuple):\n    """T."""\n    n_e: float\n    T_e: float\n'
BASE = 'class Base:\n    """Base."""\n    def m(self, q):\n        """M."""\n        return q\n'
PARTIAL = 'import functools\ndef _impl(a, b, c=1):\n    return a + b\nf = functools.partial(_impl, 1)\n__all__ = ["f"]\n'
ENUM = 'import enum\nclass Gas(enum.Enum):\n    """Gas."""\n    AR = "Ar"\n    NE = "Ne"\n'

RULES = [
    # (rule, old, new, bump on 1.x, change kinds)
    ("name-removed", F + 'def g():\n    """G."""\n', F, "major", ["name-removed"]),
    ("kind-changed", F, 'class f:\n    """F."""\n    def __init__(self, x, y):\n        pass\n', "major", ["kind-changed"]),
    ("kind-changed (async)", F, "async " + F, "major", ["kind-changed"]),
    ("kind-changed (constant to function)", "f = 1\n", F, "major", ["kind-changed"]),
    ("parameter-removed", F, 'def f(x):\n    """F."""\n', "major", ["parameter-removed"]),
    ("parameter-removed (**kwargs)", 'def f(x, **kw):\n    """F."""\n', 'def f(x):\n    """F."""\n', "major", ["parameter-removed"]),
    ("parameter-renamed", F, 'def f(x, z):\n    """F."""\n', "major", ["parameter-renamed"]),
    ("parameters-reordered", F, 'def f(y, x):\n    """F."""\n', "major", ["parameters-reordered"]),
    ("parameter-moved", F_OPT, 'def f(x, w=0, y=1):\n    """F."""\n', "major", ["parameter-moved", "optional-parameter-added"]),
    ("parameter-kind-changed", F, 'def f(x, *, y):\n    """F."""\n', "major", ["parameter-kind-changed"]),
    ("parameter-kind-changed (positional-only)", F, 'def f(x, y, /):\n    """F."""\n', "major", ["parameter-kind-changed"] * 2),
    ("required-parameter-added", F, 'def f(x, y, z):\n    """F."""\n', "major", ["required-parameter-added"]),
    ("required-parameter-added (keyword-only)", F, 'def f(x, y, *, z):\n    """F."""\n', "major", ["required-parameter-added"]),
    ("parameter-now-required", F_OPT, F, "major", ["parameter-now-required"]),
    ("default-changed", F_OPT, 'def f(x, y=2):\n    """F."""\n', "major", ["default-changed"]),
    ("method removed", K, K.replace("    def m(self, b):\n        return b\n", ""), "major", ["name-removed"]),
    ("method kind-changed", K, K.replace("    def m(self, b)", "    @staticmethod\n    def m(b)"), "major", ["kind-changed"]),
    ("constructor parameter added", K, K.replace("(self, a)", "(self, a, c)"), "major", ["required-parameter-added"]),
    ("attribute-removed", K, K.replace('    UNITS = "SI"\n', ""), "major", ["attribute-removed"]),
    ("name-removed (via __all__)", "__all__ = ['f', 'g']\n" + F + 'def g():\n    """G."""\n',
     "__all__ = ['f']\n" + F + 'def g():\n    """G."""\n', "major", ["name-removed"]),
    ("name-added", F, F + 'def g():\n    """G."""\n', "minor", ["name-added"]),
    ("name-added (constant)", F, F + "LIMIT = 10\n", "minor", ["name-added"]),
    ("optional-parameter-added", F, 'def f(x, y, z=0):\n    """F."""\n', "minor", ["optional-parameter-added"]),
    ("optional-parameter-added (keyword-only)", F, 'def f(x, y, *, scale=1.0):\n    """F."""\n', "minor", ["optional-parameter-added"]),
    ("optional-parameter-added (**kwargs)", F, 'def f(x, y, **options):\n    """F."""\n', "minor", ["optional-parameter-added"]),
    ("parameter-now-optional", F, F_OPT, "minor", ["parameter-now-optional"]),
    ("parameter-kind-widened", 'def f(x, *, y=1):\n    """F."""\n', F_OPT, "minor", ["parameter-kind-widened"]),
    ("method added", K, K + "\n    def n(self):\n        return 1\n", "minor", ["name-added"]),
    ("attribute-added", K, K.replace('    UNITS = "SI"\n', '    UNITS = "SI"\n    LIMIT = 3\n'), "minor", ["attribute-added"]),
    ("positional-only-renamed", 'def f(x, /):\n    """F."""\n', 'def f(value, /):\n    """F."""\n', "patch", ["positional-only-renamed"]),
    ("parameter-type-widened", 'def f(x: int):\n    """F."""\n', 'def f(x: float):\n    """F."""\n', "patch", ["parameter-type-widened"]),
    ("parameter-type-changed", 'def f(x: float):\n    """F."""\n', 'def f(x: str):\n    """F."""\n', "major", ["parameter-type-changed"]),
    ("annotation-changed (added)", 'def f(x):\n    """F."""\n', 'def f(x: float):\n    """F."""\n', "patch", ["annotation-changed"]),
    ("return-annotation-changed", 'def f(x):\n    """F."""\n', 'def f(x) -> float:\n    """F."""\n', "patch", ["return-annotation-changed"]),
    ("return-type-changed (widened)", 'def f(x) -> int:\n    """F."""\n', 'def f(x) -> float:\n    """F."""\n', "major", ["return-type-changed"]),
    ("return-type-narrowed", 'def f(x) -> "float | None":\n    """F."""\n', 'def f(x) -> float:\n    """F."""\n', "patch", ["return-type-narrowed"]),
    ("one type, two spellings", 'from typing import Optional\nimport numpy as np\ndef f(x: Optional[np.ndarray]) -> "list[float]":\n    """F."""\n',
     'from typing import List, Union\nimport numpy\ndef f(x: Union[None, numpy.ndarray]) -> List[float]:\n    """F."""\n', "patch", []),
    ("same default, other quotes", 'def f(u="SI"):\n    """F."""\n', "def f(u='SI'):\n    \"\"\"F.\"\"\"\n", "patch", []),
    # The eight the static reading let through as patches.
    ("[issue 10] return type float to tuple", 'def f(x) -> float:\n    """F."""\n', 'def f(x) -> tuple[float, float]:\n    """F."""\n',
     "major", ["return-type-changed"]),
    ("[issue 10] lambda lost a parameter", "f = lambda x, y: x + y\n", "f = lambda x: x\n", "major", ["parameter-removed"]),
    ("[issue 10] dataclass became kw_only", DC, DC.replace("@dataclass", "@dataclass(kw_only=True)"), "major",
     ["parameter-kind-changed"] * 2 + ["field-now-keyword-only"] * 2),
    ("[issue 10] NamedTuple fields reordered", NT, NT.replace("    n_e: float\n    T_e: float\n", "    T_e: float\n    n_e: float\n"),
     "major", ["fields-reordered", "parameters-reordered"]),
    ("[issue 10] class lost its base and what it inherited", BASE + 'class K(Base):\n    """K."""\n',
     BASE + 'class K:\n    """K."""\n', "major", ["base-removed", "name-removed"]),
    ("[issue 10] a name exported with __all__ += removed", '__all__ = ["f"]\n' + F + '__all__ += ["g"]\ndef g():\n    """G."""\n',
     '__all__ = ["f"]\n' + F + 'def g():\n    """G."""\n', "major", ["name-removed"]),
    ("[issue 10] partial's target lost a parameter", PARTIAL, PARTIAL.replace("(a, b, c=1)", "(a, b)"), "major", ["parameter-removed"]),
    ("[issue 10] re-exported import dropped from __all__", 'from math import hypot\n__all__ = ["f", "hypot"]\n' + F,
     'from math import hypot\n__all__ = ["f"]\n' + F, "major", ["name-removed"]),
    # More of what the runtime shows.
    ("base-added", BASE + 'class K:\n    """K."""\n', BASE + 'class K(Base):\n    """K."""\n', "minor", ["base-added", "name-added"]),
    ("field-added (NamedTuple)", NT, NT.replace("    T_e: float\n", "    T_e: float\n    V_p: float = 0.0\n"), "major",
     ["field-added", "optional-parameter-added"]),
    ("field-added (dataclass)", DC, DC.replace("    b: float = 2.0\n", "    b: float = 2.0\n    c: int = 0\n"), "minor",
     ["field-added", "optional-parameter-added"]),
    ("field-removed", DC, DC.replace("    b: float = 2.0\n", ""), "major", ["field-removed", "parameter-removed"]),
    ("enum-member-removed", ENUM, ENUM.replace('    NE = "Ne"\n', ""), "major", ["enum-member-removed"]),
    ("enum-value-changed", ENUM, ENUM.replace('"Ne"', '"neon"'), "major", ["enum-value-changed"]),
    ("enum-member-added", ENUM, ENUM + '    KR = "Kr"\n', "minor", ["enum-member-added"]),
    ("constant-type-changed", "LIMIT = 1.5\n", "LIMIT = (1.5, 2.5)\n", "major", ["constant-type-changed"]),
    ("kind-changed (sync to async, as run)", F, "async " + F, "major", ["kind-changed"]),
    ("decorated function keeps its signature", F, "import functools\ndef _logged(fn):\n    @functools.wraps(fn)\n"
     "    def inner(*a, **k):\n        return fn(*a, **k)\n    return inner\n@_logged\n" + F, "patch", []),
    ("decorated function lost a parameter", F, "import functools\ndef _logged(fn):\n    @functools.wraps(fn)\n"
     "    def inner(*a, **k):\n        return fn(*a, **k)\n    return inner\n@_logged\n" + 'def f(x):\n    """F."""\n',
     "major", ["parameter-removed"]),
    ("constant-changed", "LIMIT = 1\n", "LIMIT = 2\n", "patch", ["constant-changed"]),
    ("body only", F, 'def f(x, y):\n    """F, faster."""\n    return y + x\n', "patch", []),
    ("*args renamed", 'def f(*args):\n    """F."""\n', 'def f(*values):\n    """F."""\n', "patch", []),
    ("private names are not API", F + "_cache = {}\n", F + "_cache = []\ndef _helper():\n    pass\n", "patch", []),
    ("an alias keeps the signature", F + "add = f\n", F + 'def add(x, y):\n    """Add."""\n    return x + y\n', "patch", []),
    ("definitions inside if/try count", 'try:\n    import numpy\nexcept ImportError:\n    pass\nif True:\n' + "    " + F.replace("\n    ", "\n        "),
     "try:\n    import numpy\nexcept ImportError:\n    pass\n", "major", ["name-removed"]),
]
IDS = [r[0] for r in RULES]


@pytest.mark.parametrize("rule, old, new, bump, kinds", RULES, ids=IDS)
def test_each_rule_fires_alone(probe_root, rule, old, new, bump, kinds):
    changes = diff_snapshots(live(old, probe_root), live(new, probe_root))
    assert sorted(c.kind for c in changes) == sorted(kinds)
    assert required_bump(changes, "1.0.0") == bump
    for c in changes:
        assert c.to_dict().keys() == {"kind", "name", "bump", "message"}


UNDER = {"major": "1.1.0", "minor": "1.0.1"}  # one level too little over 1.0.0
RIGHT = {"major": "2.0.0", "minor": "1.1.0", "patch": "1.0.1"}
UNDER_0 = {"major": "0.1.1", "minor": "0.1.1"}  # over 0.1.0: MAJOR needs only MINOR, MINOR stays MINOR
RIGHT_0 = {"major": "0.2.0", "minor": "0.2.0", "patch": "0.1.1"}


@pytest.fixture(scope="module")
def registries(tmp_path_factory):
    """One registry per rule and line, created on demand (rows publish different APIs into it)."""
    made = {}

    def get(key: str) -> str:
        if key not in made:
            made[key] = str(tmp_path_factory.mktemp("semver") / "registry")
            init_registry(made[key])
        return made[key]

    return get


def _name(rule: str) -> str:
    return "r" + "".join(c if c.isalnum() else "_" for c in rule.lower())[:40]


@pytest.mark.parametrize("line", ["1.x", "0.x"])
@pytest.mark.parametrize("rule, old, new, bump, kinds", RULES, ids=IDS)
def test_under_bumped_is_refused_and_bumped_right_is_accepted(registries, line, rule, old, new, bump, kinds):
    root = registries(line)
    name = _name(rule)
    first, under, right = ("1.0.0", UNDER, RIGHT) if line == "1.x" else ("0.1.0", UNDER_0, RIGHT_0)
    publish(root, api(old, first, name), validate=False)
    need = "minor" if (line == "0.x" and bump == "major") else bump
    if bump in under:
        with pytest.raises(PublishRefused) as info:
            publish(root, api(new, under[bump], name), validate=False)
        problems = info.value.details
        assert problems and all(p.check == "semver" for p in problems)
        made = bump_of(first, under[bump]).upper()
        assert any(f"needs a {need.upper()} bump over {name}@{first}, but {under[bump]} is a {made} bump" in p.message
                   for p in problems), [p.message for p in problems]
    out = publish(root, api(new, right[bump], name), validate=False)
    assert out.created and out.metadata["predecessor"] == first


def test_the_report_lists_each_change_with_the_bump_it_needs(tmp_path):
    root = str(tmp_path / "registry")
    init_registry(root)
    publish(root, api(F_OPT + 'def g():\n    """G."""\n', "1.0.0"), validate=False)
    new = 'def f(x, y=2):\n    """F."""\n\ndef h():\n    """H."""\n'
    with pytest.raises(PublishRefused) as info:
        publish(root, api(new, "1.0.1"), validate=False)
    assert sorted(p.message for p in info.value.details) == sorted([
        "f: the default of 'y' changed from 1 to 2: needs a MAJOR bump over demo@1.0.0, but 1.0.1 is a PATCH bump",
        "public function 'g' was removed: needs a MAJOR bump over demo@1.0.0, but 1.0.1 is a PATCH bump",
        "new public function 'h': needs a MINOR bump over demo@1.0.0, but 1.0.1 is a PATCH bump",
    ])
    with pytest.raises(PublishRefused) as info:
        publish(root, api(new, "1.1.0"), validate=False)
    assert len(info.value.details) == 2  # the addition is fine in a minor release
    assert publish(root, api(new, "2.0.0"), validate=False).created


def test_the_predecessor_is_the_highest_version_below(tmp_path):
    """A 1.1.0 published after 2.0.0 is compared with 1.0.0, not with 2.0.0."""
    root = str(tmp_path / "registry")
    init_registry(root)
    publish(root, api(F, "1.0.0"), validate=False)
    publish(root, api('def f(x):\n    """F."""\n', "2.0.0"), validate=False)
    out = publish(root, api(F + 'def g():\n    """G."""\n', "1.1.0"), validate=False)
    assert out.created and out.metadata["predecessor"] == "1.0.0"


BUMPS_MADE = [
    ("1.0.0", "2.0.0", "major"),
    ("1.2.3", "1.3.0", "minor"),
    ("1.2.3", "1.2.4", "patch"),
    ("0.1.0", "0.2.0", "minor"),
    ("0.1.0", "1.0.0", "major"),
    ("1.2.0", "1.3.0rc1", "minor"),
    ("1.2.0", "2.0.0a1", "major"),
    ("2.0.0rc1", "2.0.0", "major"),  # a pre-release promises nothing: the step is to a major release
    ("2.0.0a1", "2.0.0b1", "major"),
    ("1.3.0rc1", "1.3.0", "minor"),
    ("1.2.1rc1", "1.2.1", "patch"),
]


@pytest.mark.parametrize("old, new, made", BUMPS_MADE)
def test_bump_of(old, new, made):
    assert bump_of(old, new) == made


REQUIRED = [
    # (bumps of the changes, predecessor, required)
    ([], "1.0.0", "patch"),
    (["patch"], "1.0.0", "patch"),
    (["minor", "patch"], "1.0.0", "minor"),
    (["major", "minor"], "1.0.0", "major"),
    (["major"], "0.3.0", "minor"),  # MAJOR (MINOR for 0.x)
    (["minor"], "0.3.0", "minor"),  # additions still need MINOR
    (["patch"], "0.3.0", "patch"),
    (["major"], None, "major"),
]


@pytest.mark.parametrize("bumps, old, required", REQUIRED)
def test_required_bump(bumps, old, required):
    from gilgamesh.registry.compat.semver import Change

    changes = [Change("rule", "x", b, "m") for b in bumps]
    assert required_bump(changes, old) == required


def test_snapshots_record_what_the_rules_need():
    snap = snapshot(
        "import math\nfrom dataclasses import dataclass\n\n"
        "@dataclass\nclass P:\n    \"\"\"P.\"\"\"\n    n: float\n    t: float = 1.0\n\n"
        "    @property\n    def ratio(self):\n        return self.n / self.t\n\n"
        "    def __len__(self):\n        return 2\n\n    def _private(self):\n        pass\n\n"
        "async def fetch(url: str) -> bytes:\n    \"\"\"Fetch.\"\"\"\n\n"
        "A, B = 1, 2\n"
    )
    assert set(snap) == {"P", "fetch", "A", "B"}  # imported names (math, dataclass) are not API
    p = snap["P"]
    assert [q["name"] for q in p["methods"]["__init__"]["params"]] == ["self", "n", "t"]
    assert p["methods"]["ratio"]["kind"] == "property"
    assert "__len__" in p["methods"] and "_private" not in p["methods"]
    assert p["attributes"] == {"n": None, "t": "1.0"}
    assert snap["fetch"]["async"] is True and snap["fetch"]["returns"] == "bytes"
    assert snap["A"] == {"kind": "constant", "cell": 2, "value": "(1, 2)"}
