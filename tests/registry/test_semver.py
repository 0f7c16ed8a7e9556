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
    """An API notebook whose import cell is ``source`` (documented by the markdown cell right above it,
    which is not a section heading)."""
    return f.to_bytes(f.notebook(name, version, [f.markdown(f"# {name}"), f.markdown("The public API below."), f.code(source)]))


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
# Issue 26: names as their callers use them.
LIST_F = 'def f(n):\n    """F."""\n    return [n, n]\n'
GEN_F = 'def f(n):\n    """F."""\n    yield n\n    yield n\n'
CM = 'class K:\n    """K."""\n\n    @classmethod\n    def make(cls, x):\n        return x\n'
SM = 'class K:\n    """K."""\n\n    @staticmethod\n    def make(x):\n        return x\n'
PROP = 'class K:\n    """K."""\n\n    @property\n    def area(self):\n        return 1.0\n'
TD = 'from typing import NotRequired, Required, TypedDict\nclass Sweep(TypedDict):\n    """Sweep."""\n    V: list\n    I: list\n'
FROZEN = DC.replace("@dataclass", "@dataclass(frozen=True)")

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
    # [issue 26] How a call returns: a value, a generator, a coroutine, an async generator.
    ("[issue 26] list-returning function now yields", LIST_F, GEN_F, "major", ["kind-changed"]),
    ("[issue 26] generator now returns a list", GEN_F, LIST_F, "major", ["kind-changed"]),
    ("[issue 26] async to sync", "async " + F, F, "major", ["kind-changed"]),
    ("[issue 26] function to async generator", LIST_F, "async " + GEN_F, "major", ["kind-changed"]),
    ("[issue 26] method now yields", K, K.replace("        return b\n", "        yield b\n"), "major", ["kind-changed"]),
    ("[issue 26] wrapped generator, same form", GEN_F, "import functools\ndef _logged(fn):\n    @functools.wraps(fn)\n"
     "    def inner(*a, **k):\n        return fn(*a, **k)\n    return inner\n@_logged\n" + GEN_F, "patch", []),
    # [issue 26] Method kinds, by their uses through the class and through an instance.
    ("[issue 26] classmethod to staticmethod", CM, SM, "patch", ["method-kind-changed"]),
    ("[issue 26] staticmethod to classmethod", SM, CM, "patch", ["method-kind-changed"]),
    ("[issue 26] classmethod to staticmethod, param lost", CM, SM.replace("make(x)", "make()").replace("return x", "return 0"),
     "major", ["method-kind-changed", "parameter-removed"]),
    ("[issue 26] classmethod renamed cls, annotated", CM, CM.replace("make(cls, x)", "make(klass, x: float) -> float"),
     "patch", ["annotation-changed", "return-annotation-changed"]),
    ("[issue 26] staticmethod to instance method", SM, SM.replace("    @staticmethod\n", "").replace("make(x)", "make(self, x)"),
     "major", ["kind-changed"]),
    ("[issue 26] instance method to classmethod", K, K.replace("    def m(self, b)", "    @classmethod\n    def m(cls, b)"),
     "major", ["kind-changed"]),
    ("[issue 26] property to method", PROP, PROP.replace("    @property\n", ""), "major", ["kind-changed"]),
    ("[issue 26] method to property", PROP.replace("    @property\n", ""), PROP, "major", ["kind-changed"]),
    ("[issue 26] property's result narrowed", PROP.replace("area(self)", 'area(self) -> "float | None"'),
     PROP.replace("area(self)", "area(self) -> float"), "patch", ["return-type-narrowed"]),
    # [issue 26] Structured types: TypedDict keys and totality, frozen dataclasses, hashability.
    ("[issue 26] TypedDict key removed", TD, TD.replace("    I: list\n", ""), "major", ["typeddict-key-removed"]),
    ("[issue 26] TypedDict optional key added", TD, TD + "    note: NotRequired[str]\n", "minor", ["typeddict-optional-key-added"]),
    ("[issue 26] TypedDict required key added", TD, TD + "    T_e: float\n", "major", ["typeddict-required-key-added"]),
    ("[issue 26] TypedDict key now optional", TD, TD.replace("I: list", "I: NotRequired[list]"), "major",
     ["typeddict-key-now-optional"]),
    ("[issue 26] TypedDict key now required", TD + "    note: NotRequired[str]\n", TD + "    note: str\n", "major",
     ["typeddict-key-now-required"]),
    ("[issue 26] TypedDict key type changed", TD, TD.replace("V: list", "V: dict"), "major", ["typeddict-key-type-changed"]),
    ("[issue 26] TypedDict total=True to False", TD, TD.replace("(TypedDict)", "(TypedDict, total=False)"), "major",
     ["typeddict-key-now-optional"] * 2 + ["typeddict-total-changed"]),
    ("[issue 26] TypedDict total=False to True", TD.replace("(TypedDict)", "(TypedDict, total=False)"), TD, "major",
     ["typeddict-key-now-required"] * 2 + ["typeddict-total-changed"]),
    ("[issue 26] TypedDict total flipped, keys as they were", TD,
     TD.replace("(TypedDict)", "(TypedDict, total=False)").replace(": list", ": Required[list]"), "patch",
     ["typeddict-total-changed"]),
    ("[issue 26] dataclass made frozen", DC, FROZEN, "major", ["dataclass-now-frozen", "class-now-hashable"]),
    ("[issue 26] frozen dropped, hash kept", FROZEN, DC.replace("@dataclass", "@dataclass(unsafe_hash=True)"), "minor",
     ["dataclass-no-longer-frozen"]),
    ("[issue 26] frozen dropped, hash lost", FROZEN, DC, "major", ["dataclass-no-longer-frozen", "class-no-longer-hashable"]),
    ("[issue 26] __eq__ without __hash__", K, K + "\n    def __eq__(self, other):\n        return self.a == other.a\n", "major",
     ["name-added", "class-no-longer-hashable"]),
    ("[issue 26] enum member removed and one added", ENUM, ENUM.replace('    NE = "Ne"\n', '    KR = "Kr"\n'), "major",
     ["enum-member-removed", "enum-member-added"]),
    # [issue 26] The type of a constant, as the type grammar reads it (int is within float).
    ("[issue 26] constant int to str", "LIMIT = 10\n", 'LIMIT = "10"\n', "major", ["constant-type-changed"]),
    ("[issue 26] constant int to float", "LIMIT = 10\n", "LIMIT = 10.0\n", "major", ["constant-type-changed"]),
    ("[issue 26] constant float to int", "LIMIT = 1.5\n", "LIMIT = 2\n", "patch", ["constant-type-narrowed"]),
    ("[issue 26] constant bool to int", "STRICT = True\n", "STRICT = 1\n", "major", ["constant-type-changed"]),
    # [issue 26] Annotations added leave every call working.
    ("[issue 26] annotations added", F, 'def f(x: float, y: float) -> float:\n    """F."""\n    return x + y\n', "patch",
     ["annotation-changed"] * 2 + ["return-annotation-changed"]),
    ("[issue 26] method annotations added", K, K.replace("def m(self, b)", "def m(self, b: int) -> int"), "patch",
     ["annotation-changed", "return-annotation-changed"]),
]
IDS = [r[0] for r in RULES]

# What the change that decides the bump says: what changed, and the name (the bump is checked in the report).
MESSAGES = {
    "kind-changed (async)": "'f' changed from a function to an async function: a call now returns a coroutine to await, not its value",
    "method kind-changed": "K.m changed from a method to a staticmethod: calls through an instance (obj.m(...)) no longer pass it the instance",
    "enum-member-removed": "enum member Gas.NE was removed",
    "enum-member-added": "new enum member Gas.KR",
    "constant-type-changed": "constant 'LIMIT' changed type from float to tuple (1.5 to (1.5, 2.5)): callers that use it as a float break",
    "[issue 26] list-returning function now yields": "'f' changed from a function to a generator function: a call now returns a generator, not its value",
    "[issue 26] generator now returns a list": "'f' changed from a generator function to a function: a call now returns its value, not a generator",
    "[issue 26] async to sync": "'f' changed from an async function to a function: a call now returns its value, not a coroutine to await",
    "[issue 26] function to async generator": "'f' changed from a function to an async generator function",
    "[issue 26] method now yields": "K.m changed from a method to a generator method: a call now returns a generator, not its value",
    "[issue 26] classmethod to staticmethod": "K.make changed from a classmethod to a staticmethod: calls through the class (K.make(...)) and through an instance (obj.make(...)) still work",
    "[issue 26] staticmethod to classmethod": "K.make changed from a staticmethod to a classmethod: calls through the class",
    "[issue 26] classmethod to staticmethod, param lost": "K.make: parameter 'x' was removed",
    "[issue 26] staticmethod to instance method": "K.make changed from a staticmethod to a method: calls through an instance (obj.make(...)) now pass the instance as its first argument",
    "[issue 26] instance method to classmethod": "K.m changed from a method to a classmethod: calls through the class (K.m(obj, ...)) pass the instance as one argument too many",
    "[issue 26] property to method": "K.area changed from a property to a method: it was read as a value (obj.area); it is now a method to call",
    "[issue 26] method to property": "K.area changed from a method to a property: calls obj.area(...) now call the value it returns",
    "[issue 26] TypedDict key removed": "TypedDict Sweep lost its key 'I': callers that read it (d['I']) get KeyError",
    "[issue 26] TypedDict optional key added": "TypedDict Sweep gained the optional key 'note'",
    "[issue 26] TypedDict required key added": "TypedDict Sweep gained the required key 'T_e': callers that build it without 'T_e' break",
    "[issue 26] TypedDict key now optional": "TypedDict Sweep's key 'I' is no longer required: callers that read it (d['I']) may get KeyError",
    "[issue 26] TypedDict key now required": "TypedDict Sweep's key 'note' became required: callers that build it without 'note' break",
    "[issue 26] TypedDict key type changed": "the type of TypedDict Sweep's key 'V' changed from list to dict",
    "[issue 26] TypedDict total=True to False": "TypedDict Sweep's key 'V' is no longer required",
    "[issue 26] TypedDict total=False to True": "TypedDict Sweep's key 'V' became required",
    "[issue 26] TypedDict total flipped, keys as they were": "TypedDict Sweep changed from total=True to total=False",
    "[issue 26] dataclass made frozen": "dataclass D became frozen: callers that assign to its fields (obj.field = ...) get FrozenInstanceError",
    "[issue 26] frozen dropped, hash kept": "dataclass D is no longer frozen: its fields can now be assigned",
    "[issue 26] frozen dropped, hash lost": "instances of D are no longer hashable (a dataclass that is no longer frozen loses its generated __hash__)",
    "[issue 26] __eq__ without __hash__": "instances of K are no longer hashable: callers that put them in a set or use them as dict keys get TypeError",
    "[issue 26] enum member removed and one added": "enum member Gas.NE was removed",
    "[issue 26] constant int to str": "constant 'LIMIT' changed type from int to str (10 to '10'): callers that use it as an int break",
    "[issue 26] constant int to float": "constant 'LIMIT' changed type from int to float (10 to 10.0): callers that use it as an int break",
    "[issue 26] constant float to int": "constant 'LIMIT' changed type from float to int (1.5 to 2): every use of a float still works",
    "[issue 26] constant bool to int": "constant 'STRICT' changed type from bool to int",
    "[issue 26] annotations added": "f: the type of 'x' changed from None to float (annotated or unannotated",
}


def test_rule_names_are_distinct_registry_names():
    assert len({_name(r) for r in IDS}) == len(IDS)
    assert set(MESSAGES) <= set(IDS)


@pytest.mark.parametrize("rule, old, new, bump, kinds", RULES, ids=IDS)
def test_each_rule_fires_alone(probe_root, rule, old, new, bump, kinds):
    changes = diff_snapshots(live(old, probe_root), live(new, probe_root))
    assert sorted(c.kind for c in changes) == sorted(kinds)
    assert required_bump(changes, "1.0.0") == bump
    for c in changes:
        assert c.to_dict().keys() == {"kind", "name", "bump", "message"}
    if rule in MESSAGES:
        assert any(MESSAGES[rule] in c.message for c in changes), [c.message for c in changes]


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
        if rule in MESSAGES:  # the change that decides the bump is the one refused, with that bump
            assert any(MESSAGES[rule] in p.message and f"needs a {need.upper()} bump" in p.message for p in problems), \
                [p.message for p in problems]
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
    assert snap["A"] == {"kind": "constant", "cell": 3, "value": "(1, 2)"}


def test_the_static_reading_knows_forms_and_frozen():
    """Format 1 (code that cannot run) reads how a call returns and ``frozen=`` from the source."""
    snap = snapshot(GEN_F + 'async def g():\n    """G."""\n    def inner():\n        yield 1\n    return inner\n' + FROZEN + CM)
    assert (snap["f"]["form"], snap["g"]["form"]) == ("generator", "coroutine")  # a nested def's yield is its own
    assert snap["D"]["frozen"] is True and snap["K"]["methods"]["make"]["form"] == "function"
    assert [c.kind for c in diff_snapshots(snapshot(LIST_F), snapshot(GEN_F))] == ["kind-changed"]
    assert [c.kind for c in diff_snapshots(snapshot(CM), snapshot(SM))] == ["method-kind-changed"]
    assert [c.kind for c in diff_snapshots(snapshot(DC), snapshot(FROZEN))] == ["dataclass-now-frozen"]


_FORMAT_3 = ("form", "hashable", "frozen", "typeddict")  # what format 3 records that format 2 did not


def _as_format_2(surface: dict) -> dict:
    """A snapshot as format 2 stored it."""
    def strip(entry: dict) -> dict:
        entry = {k: v for k, v in entry.items() if k not in _FORMAT_3}
        if "methods" in entry:
            entry["methods"] = {m: strip(sig) for m, sig in entry["methods"].items()}
        return entry

    return {name: strip(entry) for name, entry in surface.items()}


@pytest.mark.parametrize("source", [GEN_F, "async " + GEN_F, CM, PROP, TD, FROZEN, K, ENUM, "LIMIT = 10\n"])
def test_a_format_2_snapshot_shows_no_false_change(probe_root, source):
    """What a format-2 predecessor lacks is unknown, not changed."""
    now = live(source, probe_root)
    assert diff_snapshots(_as_format_2(now), now) == []


class _Format2Reader:
    """A registry holding one version whose surface was stored in format 2."""

    def __init__(self, data: bytes, surface: dict):
        self.data, self.surface = data, surface

    def read_metadata(self, name, version):
        return {"api": self.surface, "api_format": 2}

    def entry(self, name, version):
        import hashlib

        return {"sha256": hashlib.sha256(self.data).hexdigest()}

    def notebook_bytes(self, name, version):
        return self.data


def test_a_predecessor_stored_in_format_2_is_described_again(probe_root):
    """Its import cells run again, so a generator that now returns a list is caught; if they no
    longer run, the stored surface is compared as it is, without false changes."""
    from gilgamesh.registry.publish.pipeline import version_surface
    from gilgamesh.registry.surface.snapshot import FORMAT

    new = live(LIST_F, probe_root)
    stored = _as_format_2(live(GEN_F, probe_root))
    again = version_surface(probe_root, _Format2Reader(api(GEN_F, "1.0.0"), stored), "demo", "1.0.0")
    assert again.format == FORMAT and again.api["f"]["form"] == "generator"
    assert [c.kind for c in diff_snapshots(again.api, new)] == ["kind-changed"]

    broken = api(GEN_F + "raise RuntimeError('no longer runs here')\n", "1.0.0")
    kept = version_surface(probe_root, _Format2Reader(broken, stored), "demo", "1.0.0")
    assert kept.format == FORMAT and kept.api == stored
    assert diff_snapshots(kept.api, new) == []  # generator or not is unknown there: no false change
