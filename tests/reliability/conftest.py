"""The reliability and security suite (issue 7): shared checks, figures, and the marker.

Every test under ``tests/reliability/`` is marked ``reliability`` (``pytest -m reliability`` runs
the suite alone). Tests record the figures they measured with the ``figures`` fixture; the terminal
summary prints them, which is how ``docs/RELIABILITY.md`` is filled from real runs.
"""

from __future__ import annotations

import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))

_FIGURES: list[tuple[str, str, str]] = []  # (test, figure, value), in recording order


def pytest_collection_modifyitems(config, items):
    for item in items:
        if str(item.fspath).startswith(HERE + os.sep):
            item.add_marker(pytest.mark.reliability)


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory):
    """Keep the user's cache (and other test runs) out: every process here uses its own cache."""
    old = os.environ.get("GILGAMESH_CACHE")
    os.environ["GILGAMESH_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield os.environ["GILGAMESH_CACHE"]
    if old is None:
        del os.environ["GILGAMESH_CACHE"]
    else:
        os.environ["GILGAMESH_CACHE"] = old


@pytest.fixture
def figures(request):
    """``figures(name, value)`` records a measured figure for the terminal summary."""

    def record(name: str, value) -> None:
        _FIGURES.append((request.node.name, name, str(value)))

    return record


def pytest_terminal_summary(terminalreporter):
    if not _FIGURES:
        return
    terminalreporter.section("reliability figures")
    for test, name, value in _FIGURES:
        terminalreporter.write_line(f"{test}: {name} = {value}")


class SeededService:
    """A running service over a registry seeded with ``corpus.SEED_APIS``, and a publish token."""

    def __init__(self, service, root: str, token: str, user: str):
        self.service, self.root, self.token, self.user = service, root, token, user
        self.url = service.url

    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="session")
def seeded_service(tmp_path_factory):
    # Session-scoped, so it has its own cache: module-scoped ones come and go under it.
    """One service for the HTTP tests that only read, or write nothing that others read."""
    from reliability_kit import Service, seed_registry

    base = tmp_path_factory.mktemp("seeded")
    root = str(base / "registry")
    token = seed_registry(root)
    service = Service(root, str(base / "service.log"), env={"GILGAMESH_CACHE": str(base / "cache")})
    try:
        yield SeededService(service, root, token, "alice")
    finally:
        service.stop()
