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
