"""Build hook: ship the top-level ``reference_library/`` inside the package as ``specfit/_reference_library``.

Everything else is configured in pyproject.toml. Editable installs and checkouts read
``reference_library/`` in place (see specfit/reference.py).
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithReferenceLibrary(build_py):
    def run(self):
        super().run()
        source = Path(__file__).resolve().parent / "reference_library"
        target = Path(self.build_lib) / "specfit" / "_reference_library"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithReferenceLibrary})
