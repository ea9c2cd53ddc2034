"""Repository-wide pytest setup: notebook runs (nbmake) use this checkout of specfit.

nbmake starts each notebook in a fresh Jupyter kernel (the current interpreter's ``python3`` kernel), which
inherits the environment but not pytest's ``pythonpath`` setting; putting the repository root on
``PYTHONPATH`` makes the notebooks import the code under test even where specfit is not installed.
(Test helpers live in ``tests/conftest.py``; this file must stay free of names tests import.)
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent)
if ROOT not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH", "")) if p)
