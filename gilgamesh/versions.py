"""Names, versions and specs (docs/guide.md, sections 2 and 5), and choosing a version for a spec.

This module sits on the import path of ``gilgamesh.api``, so it uses only ``re``, ``bisect``,
``keyword`` and ``sys``. The published-version grammar is a strict subset of PEP 440 whose strings
are already in normalized form; ``packaging`` agrees with it (tests check that), but is not needed
here. ``NAME_PATTERN``, ``VERSION_PATTERN`` and ``SPEC_PATTERN`` are the same grammar as JSON Schema
patterns (what ``/openapi.json`` declares for the path parameters).
"""

from __future__ import annotations

import keyword
import re
import sys
from bisect import bisect_left, bisect_right
from typing import Iterable, NamedTuple

from gilgamesh.errors import InvalidName, InvalidSpec, InvalidVersion, VersionNotFound

__all__ = [
    "Version",
    "Spec",
    "VersionSet",
    "Resolution",
    "check_name",
    "parse_name_spec",
    "spec_from_module_part",
    "module_part_for",
    "next_version",
    "NAME_PATTERN",
    "VERSION_PATTERN",
    "SPEC_PATTERN",
]

_NAME = r"[a-z][a-z0-9_]{0,63}"
_NAME_RE = re.compile(_NAME + r"\Z")
# int() reads at most sys.get_int_max_str_digits() digits (0: any number): a longer number is
# outside the grammar, an InvalidVersion rather than a ValueError from deep inside a request.
_DIGITS = sys.get_int_max_str_digits()
_NUM = rf"(?:0|[1-9][0-9]{{0,{_DIGITS - 1}}})" if _DIGITS else r"(?:0|[1-9][0-9]*)"
_VERSION = rf"({_NUM})\.({_NUM})\.({_NUM})(?:(a|b|rc)({_NUM}))?"
_SPEC = rf"({_NUM})(?:\.({_NUM})(?:\.({_NUM})(?:(a|b|rc)({_NUM}))?)?)?"
_VERSION_RE = re.compile(_VERSION + r"\Z")
_SPEC_RE = re.compile(_SPEC + r"\Z")
_NAME_KEYWORDS = "|".join(k for k in keyword.kwlist if _NAME_RE.match(k))
NAME_PATTERN = rf"^(?!(?:{_NAME_KEYWORDS})$){_NAME}$"
VERSION_PATTERN = rf"^{_VERSION}$"
SPEC_PATTERN = rf"^(?!0$){_SPEC}$"  # a bare 0 promises nothing (Spec says why)
_PRE_RANK = {"a": 0, "b": 1, "rc": 2}
_RELEASE_RANK = 3  # a release sorts after its own pre-releases


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid API name, else raise :class:`InvalidName`."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or keyword.iskeyword(name):
        raise InvalidName(
            f"Invalid API name: {name!r} (expected [a-z][a-z0-9_]{{0,63}}, not a Python keyword)"
        )
    return name


class Version:
    """A published version: ``MAJOR.MINOR.PATCH`` with an optional ``aN``/``bN``/``rcN``."""

    __slots__ = ("text", "key")

    def __init__(self, text: str):
        m = _VERSION_RE.match(text) if isinstance(text, str) else None
        if not m:
            raise InvalidVersion(
                f"Invalid version: {text!r} (expected MAJOR.MINOR.PATCH, optionally followed by "
                "aN, bN or rcN, without leading zeros, 'v', '.post', '.dev' or '+local')"
            )
        major, minor, patch, pre, pre_n = m.groups()
        pre_key = (_PRE_RANK[pre], int(pre_n)) if pre else (_RELEASE_RANK, 0)
        self.text = text
        self.key = (int(major), int(minor), int(patch)) + pre_key

    @property
    def major(self) -> int:
        return self.key[0]

    @property
    def minor(self) -> int:
        return self.key[1]

    @property
    def patch(self) -> int:
        return self.key[2]

    @property
    def release(self) -> tuple[int, int, int]:
        return self.key[:3]

    @property
    def is_prerelease(self) -> bool:
        return self.key[3] != _RELEASE_RANK

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Version({self.text!r})"

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other) -> bool:
        return isinstance(other, Version) and self.key == other.key

    def __lt__(self, other: "Version") -> bool:
        return self.key < other.key

    def __le__(self, other: "Version") -> bool:
        return self.key <= other.key

    def __gt__(self, other: "Version") -> bool:
        return self.key > other.key

    def __ge__(self, other: "Version") -> bool:
        return self.key >= other.key


class Spec:
    """What an import asks for: an exact version, ``X.Y``, ``X``, or nothing (the latest)."""

    __slots__ = ("text", "parts", "exact")

    def __init__(self, text: str | None):
        text = "" if text is None else text
        self.text = text
        self.exact: Version | None = None
        if text == "":
            self.parts: tuple[int, ...] = ()
            return
        m = _SPEC_RE.match(text) if isinstance(text, str) else None
        if not m:
            raise InvalidSpec(
                f"Invalid version spec: {text!r} (expected X, X.Y, X.Y.Z or an exact pre-release "
                "such as 1.3.0rc1)"
            )
        major, minor, patch, pre, _ = m.groups()
        if pre is not None:
            self.exact = Version(text)
            self.parts = self.exact.release
        elif patch is not None:
            self.exact = Version(text)
            self.parts = self.exact.release
        elif minor is not None:
            self.parts = (int(major), int(minor))
        else:
            if major == "0":
                raise InvalidSpec(
                    "Invalid version spec: '0' (0.x has no compatibility promise; pin 0.Y instead)"
                )
            self.parts = (int(major),)

    @property
    def is_unpinned(self) -> bool:
        return self.text == ""

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Spec({self.text!r})"


class Resolution(NamedTuple):
    """The outcome of choosing a version for a spec."""

    version: str
    yanked: bool
    yank_reason: str | None
    warning: str | None


class VersionSet:
    """The published versions of one API, sorted once, resolved by bisection.

    ``entries`` are ``(version, yanked, yank_reason)`` triples; order does not matter.
    """

    __slots__ = ("name", "_keys", "_versions", "_yanked")

    def __init__(self, name: str, entries: Iterable[tuple[str, bool, str | None]]):
        self.name = name
        rows = sorted((Version(v), bool(y), r) for v, y, r in entries)
        self._versions = [v for v, _, _ in rows]
        self._keys = [v.key for v in self._versions]
        self._yanked = {v.text: r or "" for v, y, r in rows if y}

    def __len__(self) -> int:
        return len(self._versions)

    def __iter__(self):
        return iter(self._versions)

    def latest_release(self) -> str | None:
        """The highest release that is not yanked (what an unpinned import gets)."""
        try:
            return self.resolve(Spec("")).version
        except VersionNotFound:
            return None

    def predecessor(self, version: str) -> str | None:
        """The highest published version strictly below ``version`` (yanked ones included)."""
        i = bisect_left(self._keys, Version(version).key) - 1
        return self._versions[i].text if i >= 0 else None

    def resolve(self, spec: Spec | str | None) -> Resolution:
        """Choose the version ``spec`` names; raise :class:`VersionNotFound` if none fits."""
        if not isinstance(spec, Spec):
            spec = Spec(spec)
        label = f"{self.name}@{spec.text}" if spec.text else self.name
        if spec.exact is not None:
            key = spec.exact.key
            i = bisect_right(self._keys, key) - 1
            if i < 0 or self._keys[i] != key:
                raise VersionNotFound(f"{self.name} has no version {spec.text}")
            reason = self._yanked.get(spec.exact.text)
            warning = None
            if reason is not None:
                warning = f"{self.name}@{spec.text} is yanked: {reason or 'no reason given'}"
            return Resolution(spec.exact.text, reason is not None, reason, warning)
        # A range: the highest non-yanked release whose release tuple starts with spec.parts.
        n = len(spec.parts)
        if n:
            upper = spec.parts + (float("inf"),) * (5 - n)
            i = bisect_right(self._keys, upper) - 1
        else:
            i = len(self._keys) - 1
        while i >= 0:
            key = self._keys[i]
            if key[:n] != spec.parts:
                break
            v = self._versions[i]
            if key[3] == _RELEASE_RANK and v.text not in self._yanked:
                warning = None
                if spec.is_unpinned:
                    warning = (
                        f"unpinned import of {self.name} resolved to {v.text}; "
                        f"pin it, e.g. {self.name}@{v.major}.{v.minor}"
                    )
                return Resolution(v.text, False, None, warning)
            i -= 1
        if not self._versions:
            raise VersionNotFound(f"{self.name} has no published versions")
        raise VersionNotFound(f"no release of {label} (yanked versions and pre-releases are skipped by ranges)")


def parse_name_spec(text: str) -> tuple[str, Spec]:
    """Split ``"langmuir@1.2"`` into a checked name and a :class:`Spec`."""
    name, _, spec = text.partition("@")
    if "@" in text and spec == "":
        raise InvalidSpec(f"Invalid version spec in {text!r}: nothing after '@'")
    return check_name(name), Spec(spec)


_MODULE_PART_RE = re.compile(rf"v{_NUM}(?:_{_NUM}(?:_{_NUM}(?:(?:a|b|rc){_NUM})?)?)?\Z")


def spec_from_module_part(part: str) -> Spec:
    """``v1_2`` -> ``Spec("1.2")``; ``v1_3_0rc1`` -> ``Spec("1.3.0rc1")``."""
    if not _MODULE_PART_RE.match(part):
        raise InvalidSpec(
            f"Invalid version module {part!r}: expected v<MAJOR>[_<MINOR>[_<PATCH>[aN|bN|rcN]]]"
        )
    return Spec(part[1:].replace("_", "."))


def module_part_for(spec: Spec | str) -> str:
    """``"1.2"`` -> ``"v1_2"``, the Python spelling of a spec."""
    text = spec.text if isinstance(spec, Spec) else spec
    return "v" + text.replace(".", "_")


def next_version(version: str, bump: str) -> str:
    """The version after ``version`` by a ``bump`` (a pre-release's patch is its release)."""
    v = Version(version)
    if v.is_prerelease and bump == "patch":
        return f"{v.major}.{v.minor}.{v.patch}"
    if bump == "major":
        return f"{v.major + 1}.0.0"
    if bump == "minor":
        return f"{v.major}.{v.minor + 1}.0"
    return f"{v.major}.{v.minor}.{v.patch + 1}"
