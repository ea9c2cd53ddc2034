"""Access to ``reference_library/``: technique knowledge kept as data, each entry with its source.

The library is the top-level ``reference_library/`` folder of the repository (an editable install
or a checkout), or the copy installed inside the package as ``specfit/_reference_library``.
Set ``SPECFIT_REFERENCE_LIBRARY`` to use another folder (e.g. a user's extended library).
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path
from typing import Any

from .errors import SpecfitError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["load_toml", "reference_dir"]


def reference_dir() -> Path:
    """The folder of the reference library in use."""
    env = os.environ.get("SPECFIT_REFERENCE_LIBRARY")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve().parent
    candidates += [here.parent / "reference_library", here / "_reference_library"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise SpecfitError(f"reference library not found (looked in {', '.join(map(str, candidates))})")


@cache
def _load(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise SpecfitError(f"{path}: invalid TOML: {exc}") from exc


def load_toml(relative: str) -> dict[str, Any]:
    """Load a TOML file of the reference library, e.g. ``load_toml("xps/core_levels.toml")``."""
    path = reference_dir() / relative
    if not path.exists():
        raise SpecfitError(f"reference library has no {relative} (in {reference_dir()})")
    return _load(path)
