"""``python -m gilgamesh``: the command line."""

import sys

from gilgamesh.cli import main

sys.exit(main())
