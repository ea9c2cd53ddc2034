"""Build hooks: ship the top-level ``reference_library/`` inside the package as
``specfit/_reference_library``, and build the optional compiled fitting kernels.

Everything else is configured in pyproject.toml. Editable installs and checkouts read
``reference_library/`` in place (see specfit/reference.py).
"""

import platform
import shutil
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_py import build_py


class BuildPyWithReferenceLibrary(build_py):
    def run(self):
        super().run()
        source = Path(__file__).resolve().parent / "reference_library"
        target = Path(self.build_lib) / "specfit" / "_reference_library"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def compiled_kernels() -> list[Extension]:
    """``specfit._ckernels`` (specfit/_ckernels.c): the stack fitter's GL line kernels, a plain C library
    loaded with ctypes. x86-64 Linux only (AVX2/FMA code with glibc's vectorised exp; specfit checks the
    CPU before loading it) and optional: where it does not build, specfit uses its numpy code.

    The math flags go to the compile step only: linking a shared library with -ffast-math (GCC < 13)
    would add crtfastmath.o, which switches the whole process to flush-to-zero when loaded.
    """
    if not (sys.platform.startswith("linux") and platform.machine().lower() in ("x86_64", "amd64")):
        return []
    flags = ["-O3", "-fno-math-errno", "-funsafe-math-optimizations", "-ffinite-math-only", "-fopenmp-simd"]
    return [
        Extension(
            "specfit._ckernels",
            sources=["specfit/_ckernels.c"],
            extra_compile_args=[*flags, "-mavx2", "-mfma"],
            libraries=["m"],
            optional=True,
        )
    ]


setup(cmdclass={"build_py": BuildPyWithReferenceLibrary}, ext_modules=compiled_kernels())
