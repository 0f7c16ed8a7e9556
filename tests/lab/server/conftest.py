"""pytest-jupyter's fixtures (a real Jupyter server on a test port: jp_serverapp, jp_fetch), for
the tests of this directory only: its autouse fixtures and hooks stay out of the rest of the suite."""

from pytest_jupyter.jupyter_server import *  # noqa: F401,F403
