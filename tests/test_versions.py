"""The version grammar and spec resolution (docs/guide.md, sections 2 and 5), as data tables."""

import random
import re
import sys

import packaging.version
import pytest
from hypothesis import given, strategies as st

from gilgamesh.errors import InvalidName, InvalidSpec, InvalidVersion, VersionNotFound
from gilgamesh.versions import (NAME_PATTERN, SPEC_PATTERN, VERSION_PATTERN, Spec, Version, VersionSet, check_name,
                                module_part_for, spec_from_module_part)


@pytest.mark.parametrize("text", ["0.0.0", "1.2.3", "10.20.30", "1.3.0rc1", "2.0.0a0", "2.0.0b12", "0.1.0"])
def test_valid_versions_equal_their_normalized_form(text):
    assert str(Version(text)) == text
    assert str(packaging.version.Version(text)) == text


@pytest.mark.parametrize("text", [
    "v1.0.0", "1.2", "1", "01.2.3", "1.02.3", "1.2.03", "1.2.3.4", "1.0.0.post1", "1.0.0.dev1",
    "1.0.0+local", "1.0.0-rc1", "1.0.0RC1", "1.0.0c1", "1.0.0rc", "1.0.0rc01", "", " 1.0.0", "1.0.0 ",
    "1.0.0alpha1", "1.0.0a1.post1",
])
def test_invalid_versions_are_refused(text):
    with pytest.raises(InvalidVersion, match="Invalid version"):
        Version(text)


@pytest.mark.parametrize("name", ["a", "langmuir", "plasma2", "helicon_m0", "x" * 64])
def test_valid_names(name):
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "Langmuir", "../x", "x/y", "2plasma", "_x", "class", "import", "x" * 65, "a-b", "a.b"])
def test_invalid_names(name):
    with pytest.raises(InvalidName):
        check_name(name)


def test_ordering_puts_prereleases_before_their_release():
    order = ["0.9.0", "1.0.0a1", "1.0.0a2", "1.0.0b1", "1.0.0rc1", "1.0.0", "1.0.1", "1.10.0", "2.0.0rc1"]
    shuffled = order[:]
    random.Random(1).shuffle(shuffled)
    assert [str(v) for v in sorted(map(Version, shuffled))] == order
    assert sorted(order, key=packaging.version.Version) == order


PUBLISHED = [
    ("0.1.0", False, None), ("0.2.0", False, None), ("0.2.1", False, None),
    ("1.0.0", False, None), ("1.1.0", False, None), ("1.2.0", False, None), ("1.2.1", False, None),
    ("1.2.2", True, "wrong sign in the ion term"), ("1.3.0rc1", False, None),
    ("2.0.0", True, "broken fit"), ("2.1.0a1", False, None),
]


@pytest.mark.parametrize("spec, expected, yanked", [
    ("1.2.0", "1.2.0", False),
    ("1.2", "1.2.1", False),          # highest 1.2.* release, yanked 1.2.2 skipped
    ("1", "1.2.1", False),            # 1.3.0rc1 is a pre-release, chosen only exactly
    ("1.3.0rc1", "1.3.0rc1", False),  # exact pre-release
    ("1.2.2", "1.2.2", True),         # yanked, served for an exact pin
    ("2.0.0", "2.0.0", True),
    ("0.2", "0.2.1", False),
    ("0.1", "0.1.0", False),
    (None, "1.2.1", False),           # unpinned: highest release not yanked (2.0.0 is yanked)
    ("", "1.2.1", False),
])
def test_resolution_table(spec, expected, yanked):
    r = VersionSet("langmuir", PUBLISHED).resolve(spec)
    assert (r.version, r.yanked) == (expected, yanked)
    if yanked:
        assert r.yank_reason in r.warning
    if not spec:
        assert "unpinned" in r.warning


@pytest.mark.parametrize("spec", ["2", "2.0", "1.4", "3", "1.2.9", "2.1", "1.3"])
def test_specs_without_a_match(spec):
    with pytest.raises(VersionNotFound):
        VersionSet("langmuir", PUBLISHED).resolve(spec)


@pytest.mark.parametrize("spec", ["0", "x", "1.x", "v1", "1.2.3.4", "01", "1.", "^1.2", ">=1", "1.2.3-rc1"])
def test_invalid_specs(spec):
    with pytest.raises(InvalidSpec):
        Spec(spec)


def test_zero_is_refused_with_a_reason():
    with pytest.raises(InvalidSpec, match="0.x has no compatibility promise"):
        Spec("0")


def test_a_number_longer_than_int_reads_is_outside_the_grammar():
    digits = sys.get_int_max_str_digits()
    assert Spec("9" * digits).parts == (int("9" * digits),)
    with pytest.raises(InvalidSpec):
        Spec("9" * (digits + 1))  # int() would raise ValueError: a 500 in a request
    with pytest.raises(InvalidVersion):
        Version("1." + "9" * (digits + 1) + ".0")


@pytest.mark.parametrize("pattern, check", [
    (NAME_PATTERN, check_name), (VERSION_PATTERN, Version), (SPEC_PATTERN, Spec)])
@pytest.mark.parametrize("text", [
    "0", "1", "0.1", "1.2", "1.2.3", "1.3.0rc1", "2.0.0a0", "01", "1.", "1.x", "1.2.3.4", "1.2.3-rc1", "v1",
    "a", "langmuir", "class", "import", "iff", "Langmuir", "_x", "x" * 64, "x" * 65, "a-b"])
def test_the_json_schema_patterns_are_the_grammar(pattern, check, text):
    """What /openapi.json declares for the path parameters is what the server accepts."""
    try:
        check(text)
        accepted = True
    except (InvalidName, InvalidSpec, InvalidVersion):
        accepted = False
    assert bool(re.search(pattern, text)) == accepted


@pytest.mark.parametrize("part, spec", [("v1", "1"), ("v1_2", "1.2"), ("v1_2_0", "1.2.0"), ("v1_3_0rc1", "1.3.0rc1"), ("v0_2", "0.2")])
def test_module_spelling_round_trip(part, spec):
    assert spec_from_module_part(part).text == spec
    assert module_part_for(spec) == part


@pytest.mark.parametrize("part", ["v", "1_2", "v01", "v1_", "v1__2", "vx", "v1_2_3_4", "v0"])
def test_invalid_module_parts(part):
    with pytest.raises(InvalidSpec):
        spec_from_module_part(part)


def test_predecessor_is_the_highest_version_below():
    vs = VersionSet("x", PUBLISHED)
    assert vs.predecessor("1.2.1") == "1.2.0"
    assert vs.predecessor("1.2.5") == "1.2.2"
    assert vs.predecessor("0.1.0") is None
    assert vs.predecessor("3.0.0") == "2.1.0a1"


versions_st = st.builds(
    lambda M, m, p, pre: f"{M}.{m}.{p}{pre}",
    st.integers(0, 3), st.integers(0, 3), st.integers(0, 3),
    st.sampled_from(["", "", "", "a1", "b2", "rc1"]),
)


@given(st.lists(st.tuples(versions_st, st.booleans()), min_size=1, max_size=30, unique_by=lambda t: t[0]),
       st.sampled_from(["", "0.1", "0.2", "1", "1.1", "2", "2.3", "3"]))
def test_ranges_never_pick_yanked_or_prereleases_and_pick_the_highest(entries, spec):
    vs = VersionSet("x", [(v, y, "r" if y else None) for v, y in entries])
    candidates = [
        Version(v) for v, y in entries
        if not y and not Version(v).is_prerelease and Version(v).release[: len(Spec(spec).parts)] == Spec(spec).parts
    ]
    if not candidates:
        with pytest.raises(VersionNotFound):
            vs.resolve(spec)
    else:
        assert vs.resolve(spec).version == str(max(candidates))
