"""Bruker OPUS binary files (``.0``, ``.1`` ...) through the optional ``brukeropus`` package.

OPUS files start with the magic bytes ``0A 0A FE FE``. ``brukeropus`` (PyPI, MIT) decodes the
block directory; specfit takes the spectral data blocks it finds: Raman spectra (``ra``, plotted
by OPUS against Raman shift, cm⁻¹) become ``raman_shift`` leaves with the laser wavenumber
(parameter ``RLW``) as ``laser_wavelength_nm``; other blocks (single-channel ``sm``/``rf``,
absorbance ``a``, transmittance ``t`` ...) become ``wavenumber`` leaves with technique ``other``.
Every parameter goes to ``original_metadata``.

Install the reader with ``pip install brukeropus`` (or ``pip install specfit[opus]``); without it
the reader raises a :class:`~specfit.errors.ReadError` saying so.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from ..conventions import make_leaf, node_name
from ..errors import CorruptFileError, ReadError
from .raman_common import metadata_json, raman_leaf
from .registry import register

__all__ = ["read_opus_file"]

MAGIC = b"\x0a\x0a\xfe\xfe"

#: data-block keys of brukeropus that hold spectra (not interferograms or phases)
_SPECTRAL_KEYS = ("ra", "a", "t", "r", "sm", "rf", "km", "e", "pw", "ab", "tr", "re", "r_ra", "ra_sm", "ra_rf")


def _params(obj) -> dict:
    try:
        return {str(k): (v if isinstance(v, int | float | str) else str(v)) for k, v in obj.items()}
    except Exception:  # brukeropus parameter containers differ between versions
        return {}


@register(
    name="bruker_opus",
    description="Bruker OPUS binary spectra (.0, .1, ...; FT-Raman, FT-IR) via the optional brukeropus package",
    extensions=tuple(f".{i}" for i in range(10)),
    techniques=("raman", "other"),
)
def read_opus_file(path: str | os.PathLike, *, technique: str | None = None) -> xr.DataTree:
    """Read a Bruker OPUS file (requires the ``brukeropus`` package)."""
    path = Path(path)
    try:
        from brukeropus import read_opus
    except ImportError:
        raise ReadError(
            path,
            "Bruker OPUS file recognised, but reading it needs the optional package 'brukeropus'"
            " (pip install brukeropus)",
        ) from None
    size = path.stat().st_size
    if size < 24:
        raise CorruptFileError(path, f"file is {size} bytes, too short for an OPUS header", offset=0)
    try:
        opus = read_opus(str(path))
    except Exception as exc:  # brukeropus raises assorted errors on damaged files
        raise CorruptFileError(path, f"damaged OPUS file ({type(exc).__name__}: {exc})") from exc
    keys = [k for k in getattr(opus, "data_keys", []) if k in _SPECTRAL_KEYS] or list(getattr(opus, "data_keys", []))
    if not keys:
        raise CorruptFileError(path, "the OPUS file holds no spectral data block (damaged or truncated)")
    params = _params(opus.params)
    children: dict[str, xr.DataTree] = {}
    taken: set[str] = set()
    for key in keys:
        block = getattr(opus, key)
        x = np.asarray(block.x, dtype=float)
        y = np.asarray(block.y, dtype=float)
        if x.ndim != 1 or y.shape[-1] != x.size or x.size < 2:
            raise CorruptFileError(path, f"data block {key!r}: {y.shape} values for {x.size} axis points")
        block_params = _params(block.params)
        attrs: dict = {
            "source_format": "bruker_opus",
            "instrument": f"Bruker {params.get('ins', '')}".strip(),
            "sample": str(params.get("snm", "")),
            "opus_block": key,
            "opus_block_label": str(getattr(block, "label", "")),
            "original_metadata": metadata_json({"parameters": params, "block_parameters": block_params}),
        }
        if block_params.get("dat"):
            attrs["acquired_at"] = f"{block_params.get('dat')} {block_params.get('tim', '')}".strip()
        if key == "ra":
            attrs["technique"] = technique or "raman"
            laser_wn = params.get("rlw")
            laser_nm = 1e7 / float(laser_wn) if isinstance(laser_wn, int | float) and laser_wn > 0 else None
            ds = raman_leaf(y, "raman_shift", x, laser_nm=laser_nm, units="arb", attrs=attrs)
        else:
            attrs["technique"] = technique or "other"
            ds = make_leaf(y, "wavenumber", x, units="arb", attrs=attrs)
        children[node_name(key, taken)] = xr.DataTree(ds)
    return xr.DataTree(children=children, dataset=xr.Dataset(attrs={"source_format": "bruker_opus"}))


@read_opus_file.sniffer
def _sniff(head: bytes, path: Path) -> float:
    return 1.0 if head.startswith(MAGIC) else 0.0
