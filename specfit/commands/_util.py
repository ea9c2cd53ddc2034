"""Helpers shared by the sub-commands."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


def progress(items: Iterable[T], *, total: int | None = None, desc: str = "") -> Iterator[T]:
    """Iterate with a progress bar on stderr (shown when stderr is a terminal and there is >1 item)."""
    items = list(items) if total is None else items
    total = len(items) if total is None else total
    if total <= 1:
        yield from items
        return
    from tqdm.auto import tqdm

    yield from tqdm(items, total=total, desc=desc, file=sys.stderr, disable=None, leave=False)


def _default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def print_json(obj: Any) -> None:
    """Print ``obj`` as JSON (numpy values converted; NaN written as null)."""
    text = json.dumps(_replace_nan(obj), indent=2, default=_default, allow_nan=False)
    print(text)


def _replace_nan(obj: Any) -> Any:
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, np.floating) and not np.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _replace_nan(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_replace_nan(v) for v in obj]
    return obj
