"""setuptools reads everything from pyproject.toml; this file adds the lab extension's build.

``build_py`` first builds ``labextension/`` (build_backend/labextension_build.py says how and when),
then the wheel installs the bundle as ``share/jupyter/labextensions/gilgamesh-lab`` and enables the
server extension (``etc/jupyter/jupyter_server_config.d/gilgamesh.json``), editable installs too.
"""

import os
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "build_backend"))

import labextension_build  # noqa: E402

DATA_FILES = labextension_build.data_files(with_bundle=False)  # filled in place once built


class BuildWithLabextension(build_py):
    def run(self):
        built = labextension_build.build()
        # install_data holds this very list (it may have been finalized already): change it in place.
        DATA_FILES[:] = labextension_build.data_files(with_bundle=built)
        super().run()
        if getattr(self, "editable_mode", False):
            # setuptools' editable_wheel asks the distribution has_data(), which it has not (it has
            # has_data_files()), and so never installs data files: install them into the wheel here.
            self.run_command("install_data")


setup(cmdclass={"build_py": BuildWithLabextension}, data_files=DATA_FILES)
