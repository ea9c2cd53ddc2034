"""Helpers shared by the XPS readers (VAMAS, PHI, SPECS, Scienta, Thermo, CasaXPS text).

Private module (leading underscore): the registry does not import it as a format.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from ..conventions import make_leaf

__all__ = ["intensity_units", "is_missing", "snake", "xps_leaf"]

#: VAMAS and several vendors write 1E+37 for "not given".
_MISSING = 1e37


def is_missing(value: float | None) -> bool:
    """True for ``None``, NaN and the VAMAS "no value" marker 1E+37."""
    return value is None or not math.isfinite(value) or abs(value) >= _MISSING * 0.999


def snake(label: str) -> str:
    """Make a variable name from a label: ``"MFP Exponent"`` -> ``"mfp_exponent"``."""
    name = re.sub(r"[^0-9a-zA-Z]+", "_", label.replace("%", " percent ").strip()).strip("_").lower()
    return name or "variable"


def intensity_units(unit: str, label: str = "", context: str = "") -> str:
    """Map a vendor intensity unit/label to ``counts``, ``counts/s`` or ``arb``.

    ``unit`` is the unit string the file gives (VAMAS ``c/s``, ``d`` ...), ``label`` the variable
    label and ``context`` any other text that says what the numbers are (e.g. a CasaXPS block
    identifier "Counts per Second").
    """
    u = re.sub(r"\s+", "", unit.strip().lower())  # Avantage writes "Counts / s"
    text = re.sub(r"\s*/\s*", "/", f"{label} {context}".lower())
    if u in ("c/s", "cps", "counts/s", "counts per second", "1/s", "s-1", "hz"):
        return "counts/s"
    if re.search(r"count\s*rate|counts?\s*per\s*second|\bcps\b|counts?/s|c/s", text):
        return "counts/s"
    if u in ("c", "counts", "cts", "count") or re.search(r"\bcounts?\b|\bcts\b|pulse", text):
        return "counts"
    if u == "d" and re.search(r"intensity|signal", text):
        return "counts"
    if u == "d":
        return "counts"
    return "arb"


def xps_leaf(
    intensity: np.ndarray,
    axis: str,
    x: np.ndarray,
    *,
    excitation_energy: float | None,
    units: str,
    attrs: Mapping[str, Any],
    extra_dims: Mapping[str, np.ndarray] | None = None,
    variables: Mapping[str, tuple[tuple[str, ...], np.ndarray, Mapping[str, Any]]] | None = None,
    coords: Mapping[str, tuple[tuple[str, ...], np.ndarray, Mapping[str, Any]]] | None = None,
    axis_attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Build an XPS leaf on a binding-energy axis where possible.

    Parameters
    ----------
    axis
        ``"binding_energy"`` or ``"kinetic_energy"``: what ``x`` is, as the file stores it.
    excitation_energy
        hν in eV. When known, a kinetic-energy axis is converted to binding energy
        (BE = hν − KE, the convention of VAMAS/CasaXPS exports, whose kinetic energies are already
        referenced to the spectrometer work function) and the kinetic energy is kept as a non-index
        coordinate ``kinetic_energy``; a binding-energy axis gets the matching ``kinetic_energy``.
    variables
        Further data variables ``name -> (dims, values, attrs)`` (``transmission`` ...).
    coords
        Further non-index coordinates ``name -> (dims, values, attrs)``.
    """
    x = np.asarray(x, dtype=float)
    have_hv = excitation_energy is not None and not is_missing(excitation_energy)
    ax_attrs = dict(axis_attrs or {})
    if axis == "kinetic_energy" and have_hv:
        # rounded to 1 µeV so that hν − hν is 0, not -2e-13
        index_name, index_values = "binding_energy", np.round(excitation_energy - x, 6)
        other_name, other_values = "kinetic_energy", x
        ax_attrs.setdefault("derived_from", "excitation_energy - kinetic_energy")
    elif axis == "binding_energy" and have_hv:
        index_name, index_values = "binding_energy", x
        other_name, other_values = "kinetic_energy", np.round(excitation_energy - x, 6)
    else:
        index_name, index_values = axis, x
        other_name = None
    ds = make_leaf(
        intensity,
        index_name,
        index_values,
        units=units,
        attrs=attrs,
        extra_dims=extra_dims,
        axis_attrs=ax_attrs,
    )
    if other_name is not None:
        ds = ds.assign_coords(
            {
                other_name: (
                    index_name,
                    other_values,
                    {"units": "eV", "long_name": other_name.replace("_", " ").capitalize()},
                )
            }
        )
    for name, (dims, values, var_attrs) in (coords or {}).items():
        ds = ds.assign_coords({name: (dims, np.asarray(values), dict(var_attrs))})
    for name, (dims, values, var_attrs) in (variables or {}).items():
        ds[name] = (dims, np.asarray(values), dict(var_attrs))
    return ds
