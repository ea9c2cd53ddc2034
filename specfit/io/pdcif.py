"""Powder CIF (pdCIF): measured powder patterns in ``_pd_`` loops of a CIF data block.

Parsed with pymatgen's CIF tokenizer (:class:`pymatgen.io.cif.CifFile`). Each data block holding a ``_pd_``
intensity loop becomes a leaf:

- 2θ from a column (``_pd_meas_2theta_scan``, ``_pd_meas_angle_2theta``, ``_pd_proc_2theta_corrected``,
  ``_pd_proc_2theta_scan``) or, without one, from ``_pd_meas_2theta_range_{min,inc,max}`` (the ``_pd_proc_``
  range for processed intensities);
- the intensity from ``_pd_meas_counts_total``, ``_pd_meas_intensity_total``, ``_pd_proc_intensity_total`` or
  ``_pd_proc_intensity_net`` (first found); values written ``5540(160)`` give ``intensity_error`` = 160;
- calculated and background curves of a refinement (``_pd_calc_intensity_total``,
  ``_pd_proc_intensity_bkg_calc``) as extra data variables (``.``/``?`` become NaN);
- ``_diffrn_radiation_wavelength`` and ``_diffrn_radiation_probe`` (x-ray / neutron).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..conventions import make_leaf, node_name
from ..errors import CorruptFileError, UnknownFormatError
from ._xrd import to_float, wavelength_attrs
from .registry import register
from .text import decode_text

__all__ = ["read_pdcif"]

_X_COLUMNS = ("_pd_meas_2theta_scan", "_pd_meas_angle_2theta", "_pd_proc_2theta_corrected", "_pd_proc_2theta_scan")
_Y_COLUMNS = ("_pd_meas_counts_total", "_pd_meas_intensity_total", "_pd_proc_intensity_total",
              "_pd_proc_intensity_net")  # fmt: skip
_EXTRA = {"_pd_calc_intensity_total": "intensity_calc", "_pd_proc_intensity_bkg_calc": "background_calc",
          "_pd_proc_ls_weight": "weight"}  # fmt: skip
_VALUE = re.compile(r"^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?:\((\d+)\))?$")


def _parse_values(items: list[str], path: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Values and standard uncertainties from CIF numbers such as ``5540(160)`` or ``1.234(5)``."""
    values = np.full(len(items), np.nan)
    errors = np.full(len(items), np.nan)
    for i, item in enumerate(items):
        item = item.strip()
        if item in (".", "?", ""):
            continue
        match = _VALUE.match(item)
        if not match:
            raise CorruptFileError(path, f"{name}: value #{i + 1} {item[:30]!r} is not a number")
        values[i] = float(match[1])
        if match[2]:
            # the uncertainty applies to the last digits written: 1.234(5) -> 0.005
            decimals = len(match[1].split(".")[1]) if "." in match[1] and "e" not in match[1].lower() else 0
            errors[i] = int(match[2]) * 10.0**-decimals
    return values, errors


@register(
    name="pdcif",
    description="Powder CIF (pdCIF) with _pd_ intensity loops (measured pattern, refinement curves)",
    extensions=(".cif", ".rtv"),
    techniques=("xrd",),
)
def read_pdcif(
    path: str | os.PathLike, *, technique: str | None = None, wavelength: float | dict | None = None
) -> xr.DataTree:
    """Read the powder patterns of a pdCIF file (one leaf per data block with a pattern).

    Parameters
    ----------
    path
        The file.
    technique
        ``"xrd"`` or ``None``.
    wavelength
        Override ``_diffrn_radiation_wavelength``.
    """
    from pymatgen.io.cif import CifFile  # imported here: pymatgen is slow to import

    path = Path(path)
    text = decode_text(path.read_bytes(), path)
    try:
        cif = CifFile.from_str(text)
    except Exception as exc:  # pymatgen raises bare errors on malformed CIF
        raise CorruptFileError(path, f"malformed CIF: {type(exc).__name__}: {exc}") from None
    children: dict[str, xr.DataTree] = {}
    taken: set[str] = set()
    for block_name, block in cif.data.items():
        data = block.data
        y_name = next((c for c in _Y_COLUMNS if isinstance(data.get(c), list)), None)
        if y_name is None:
            continue
        y, err = _parse_values(data[y_name], path, y_name)
        n = y.size
        x_name = next((c for c in _X_COLUMNS if isinstance(data.get(c), list)), None)
        if x_name is not None:
            x, _ = _parse_values(data[x_name], path, x_name)
            if x.size != n or not np.all(np.isfinite(x)):
                raise CorruptFileError(path, f"block {block_name}: {x_name} does not match {y_name} ({x.size} vs {n})")
        else:
            prefix = "_pd_proc" if y_name.startswith("_pd_proc") else "_pd_meas"
            low, inc, high = (to_float(data.get(f"{prefix}_2theta_range_{k}")) for k in ("min", "inc", "max"))
            if low is None or inc is None or high is None or inc == 0:
                raise CorruptFileError(path, f"block {block_name}: no 2θ column and no {prefix}_2theta_range_*")
            expected = round((high - low) / inc) + 1
            if expected != n:
                raise CorruptFileError(
                    path, f"block {block_name}: 2θ range gives {expected} points, the loop holds {n} (truncated?)"
                )
            x = low + inc * np.arange(n)
        probe = str(data.get("_diffrn_radiation_probe", "")).strip().lower()
        lam = to_float(str(data.get("_diffrn_radiation_wavelength", "")).split("(")[0] or None)
        meta = {k: v for k, v in data.items() if not isinstance(v, list)}
        attrs: dict[str, Any] = {
            "technique": "xrd",
            "source_format": "pdcif",
            "radiation": probe or "x-ray",
            "original_metadata": {"block": block_name, "items": meta, "loops": block.loops},
        }
        if data.get("_pd_proc_info_datetime"):
            attrs["acquired_at"] = str(data["_pd_proc_info_datetime"])
        if wavelength is not None or lam is None:
            attrs.update(wavelength_attrs(override=wavelength))
        else:
            attrs.update({"wavelength_angstrom": lam, "wavelength_assumed": 0, "wavelength_source": "file"})
        units = "counts" if "counts" in y_name else "arb"
        ds = make_leaf(y, "two_theta", x, units=units, attrs=attrs)
        if np.isfinite(err).any():
            ds["intensity_error"] = ("two_theta", err, {"units": units})
        for column, var in _EXTRA.items():
            if isinstance(data.get(column), list) and len(data[column]) == n:
                ds[var] = ("two_theta", _parse_values(data[column], path, column)[0], {"units": units})
        children[node_name(block_name, taken)] = xr.DataTree(ds)
    if not children:
        raise UnknownFormatError(path, "CIF holds no _pd_ intensity loop (a structure-only CIF?)")
    return xr.DataTree(children=children, dataset=xr.Dataset(attrs={"source_format": "pdcif"}))


@read_pdcif.sniffer
def _sniff(head: bytes, path: Path) -> float:
    if b"data_" not in head:
        return 0.0
    return 0.9 if b"_pd_" in head else 0.0
