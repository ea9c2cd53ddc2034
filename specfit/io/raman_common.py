"""Helpers shared by the Raman/optical readers: spectral-axis conversion and rosettasciio signals.

Raman files store their spectral axis in whatever unit the acquisition used: Raman shift (cm⁻¹),
absolute wavelength (nm), absolute wavenumber (cm⁻¹) or photon energy (eV). specfit's preferred
Raman axis is ``raman_shift``; when the file gives the laser wavelength, the readers convert the
native axis to Raman shift and keep the native values as a non-index coordinate (``wavelength``,
``wavenumber`` or ``photon_energy``) so nothing is lost. Where no laser wavelength is known, the
native axis stays the index and the attribute ``axis_note`` says why.

This module registers no reader.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import xarray as xr

from ..conventions import jsonable, make_leaf

__all__ = [
    "HC_EV_CM",
    "quiet_rsciio",
    "raman_leaf",
    "rsciio_axis_values",
    "rsciio_signal_to_leaf",
    "shift_from_native",
]

#: h·c in eV·cm (CODATA 2018: 1.239 841 984e-4 eV cm), to turn photon energy into wavenumber.
HC_EV_CM = 1.239841984e-4


def shift_from_native(values: np.ndarray, axis: str, laser_nm: float) -> np.ndarray:
    """Raman shift (cm⁻¹, Stokes positive) from a native spectral axis and the laser wavelength.

    Parameters
    ----------
    values
        The native axis values.
    axis
        ``"wavelength"`` (nm), ``"wavenumber"`` (absolute, cm⁻¹) or ``"photon_energy"`` (eV).
    laser_nm
        Excitation wavelength in nm (in air, as the instruments report it).
    """
    values = np.asarray(values, dtype=float)
    laser_wavenumber = 1e7 / laser_nm
    if axis == "wavelength":
        return laser_wavenumber - 1e7 / values
    if axis == "wavenumber":
        return laser_wavenumber - values
    if axis == "photon_energy":
        return laser_wavenumber - values / HC_EV_CM
    raise ValueError(f"cannot convert axis {axis!r} to Raman shift")


def raman_leaf(
    intensity: np.ndarray,
    native_axis: str,
    native_values: np.ndarray,
    *,
    laser_nm: float | None,
    units: str = "counts",
    attrs: Mapping[str, Any] | None = None,
    extra_dims: Mapping[str, np.ndarray] | None = None,
    extra_coords: Mapping[str, tuple] | None = None,
    axis_attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Build a Raman leaf, converting the native axis to Raman shift where the laser is known.

    Parameters
    ----------
    intensity
        Signal, spectral axis last, leading axes along ``extra_dims``.
    native_axis
        ``raman_shift``, ``wavelength``, ``wavenumber`` or ``photon_energy``: what the file stores.
    native_values
        The axis values as stored.
    laser_nm
        Laser wavelength (nm) or ``None`` when the file does not give it.
    extra_coords
        Further (non-index) coordinates along the series dimensions, ``name -> (dims, values, attrs)``.

    Notes
    -----
    A native wavelength/wavenumber/energy axis whose converted shift is negative everywhere (the
    whole spectrum on the anti-Stokes side of the stated laser) is kept as it is: that happens
    with photoluminescence files whose stored laser line is not the one used, and a negative
    "Raman shift" axis would be a silent wrong answer.
    """
    attrs = dict(attrs or {})
    native_values = np.asarray(native_values, dtype=float)
    axis_name = native_axis
    values = native_values
    coords: dict[str, tuple] = dict(extra_coords or {})
    if laser_nm is not None and not (np.isfinite(laser_nm) and laser_nm > 0):
        laser_nm = None
    if laser_nm is not None:
        attrs["laser_wavelength_nm"] = float(laser_nm)
    if native_axis != "raman_shift":
        if laser_nm is None:
            attrs["axis_note"] = (
                f"spectral axis kept as {native_axis}: the file gives no laser wavelength to convert it to Raman shift"
            )
        else:
            shift = shift_from_native(native_values, native_axis, laser_nm)
            if np.all(shift < 0):
                attrs["axis_note"] = (
                    f"spectral axis kept as {native_axis}: the whole axis lies on the anti-Stokes side of the stated"
                    f" laser line ({laser_nm} nm), so the laser wavelength in the file is not the excitation of this"
                    " spectrum (e.g. a photoluminescence measurement)"
                )
            else:
                axis_name = "raman_shift"
                values = shift
                native_units = {"wavelength": "nm", "wavenumber": "cm-1", "photon_energy": "eV"}[native_axis]
                coords[native_axis] = (
                    ("raman_shift",),
                    native_values,
                    {"units": native_units, "long_name": f"native axis ({native_axis})"},
                )
                attrs["axis_note"] = (
                    f"Raman shift computed from the stored {native_axis} axis and the laser wavelength"
                    f" {laser_nm} nm; the stored values are the coordinate {native_axis!r}"
                )
    ds = make_leaf(
        intensity,
        axis_name,
        values,
        units=units,
        attrs=attrs,
        extra_dims=extra_dims,
        axis_attrs=axis_attrs,
    )
    for name, (dims, vals, cattrs) in coords.items():
        ds = ds.assign_coords({name: (tuple(dims), np.asarray(vals), dict(cattrs))})
    return ds


@contextmanager
def quiet_rsciio():
    """Silence rosettasciio's logger and warnings while reading (we record what matters in attrs)."""
    logger = logging.getLogger("rsciio")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def rsciio_axis_values(axis: Mapping[str, Any]) -> np.ndarray:
    """Values of a rosettasciio axis dict (non-uniform ``axis`` array or offset/scale/size)."""
    if "axis" in axis and axis["axis"] is not None:
        return np.asarray(axis["axis"], dtype=float)
    size = int(axis["size"])
    offset = float(axis.get("offset", 0.0) or 0.0)
    scale = float(axis.get("scale", 1.0) or 1.0)
    return offset + scale * np.arange(size)


_NATIVE_AXES = {
    ("raman shift", "1/cm"): "raman_shift",
    ("wavenumber", "1/cm"): "wavenumber",
    ("wavelength", "nm"): "wavelength",
    ("energy", "ev"): "photon_energy",
}


def native_axis_name(name: str, units: str | None) -> str | None:
    """Map a rosettasciio signal-axis (name, units) to a specfit axis name (``None`` if unknown)."""
    key = (str(name).strip().lower(), str(units or "").strip().lower())
    if key in _NATIVE_AXES:
        return _NATIVE_AXES[key]
    unit = key[1]
    if unit in ("nm",):
        return "wavelength"
    if unit in ("ev",):
        return "photon_energy"
    if unit in ("1/cm", "cm-1") and "shift" in key[0]:
        return "raman_shift"
    return None


def metadata_json(value: Any) -> str:
    """JSON text of a nested metadata dict (numpy values converted, big arrays summarised)."""
    return json.dumps(jsonable(value))


def intensity_units(quantity: str | None) -> str:
    """specfit intensity units from a rosettasciio ``Signal.quantity`` like 'Intensity (Counts/s)'."""
    q = (quantity or "").lower()
    if "counts/s" in q or "cps" in q or "counts per second" in q:
        return "counts/s"
    if "count" in q:
        return "counts"
    return "arb"


def rsciio_signal_to_leaf(
    signal: Mapping[str, Any],
    path: str | os.PathLike,
    *,
    source_format: str,
    instrument: str | None = None,
    nav_dims: Mapping[str, str] | None = None,
    extra_attrs: Mapping[str, Any] | None = None,
    nav_values: Mapping[str, np.ndarray] | None = None,
) -> xr.Dataset:
    """Turn one rosettasciio signal dict into a conventional Raman leaf.

    Parameters
    ----------
    signal
        A dict of ``file_reader``'s list (``data``, ``axes``, ``metadata``, ``original_metadata``).
    nav_dims
        Map of rosettasciio navigation-axis names (``"X"``, ``"Abs. Distance"`` ...) to specfit
        series dimensions (``x``, ``y``, ``z``, ``time`` ...).
    nav_values
        Replacement coordinate values for navigation dimensions (by specfit name).
    """
    from ..errors import ReadError

    data = np.asarray(signal["data"])
    axes = sorted(signal["axes"], key=lambda a: a.get("index_in_array", 0))
    sig_axes = [a for a in axes if not a.get("navigate", False)]
    nav_axes = [a for a in axes if a.get("navigate", False)]
    # rosettasciio marks a time series' time axis as a signal axis in some readers (TriVista)
    if len(sig_axes) > 1:
        nav_axes = sig_axes[:-1] + nav_axes
        sig_axes = sig_axes[-1:]
        nav_axes.sort(key=lambda a: a.get("index_in_array", 0))
    if len(sig_axes) != 1:
        raise ReadError(path, f"expected one spectral axis, found {len(sig_axes)}")
    sig = sig_axes[0]
    metadata = signal.get("metadata", {})
    laser = metadata.get("Acquisition_instrument", {}).get("Laser", {}).get("wavelength")
    laser_nm = float(laser) if laser is not None else None
    native = native_axis_name(sig.get("name", ""), sig.get("units"))
    attrs: dict[str, Any] = {"technique": "raman", "source_format": source_format}
    if instrument:
        attrs["instrument"] = instrument
    if native is None:
        # the file does not say what the axis is; WiRE's 'Unknown' axis type, for instance
        native = "raman_shift"
        attrs["axis_assumed"] = 1
        attrs["axis_note_file"] = (
            f"the file does not say what the spectral axis is (name {sig.get('name')!r}, units"
            f" {sig.get('units')!r}); its values are taken as Raman shift in cm-1 — check before use"
        )
    nav_dims = dict(nav_dims or {})
    extra_dims: dict[str, np.ndarray] = {}
    for ax in nav_axes:
        name = str(ax.get("name", ""))
        dim = nav_dims.get(name)
        if dim is None:
            raise ReadError(path, f"navigation axis {name!r} has no specfit dimension")
        values = rsciio_axis_values(ax) if ("axis" in ax or "size" in ax) else np.arange(data.shape[len(extra_dims)])
        if nav_values and dim in nav_values:
            values = np.asarray(nav_values[dim])
        if values.size != data.shape[len(extra_dims)]:
            values = np.arange(data.shape[len(extra_dims)], dtype=float)
        extra_dims[dim] = values
    general = metadata.get("General", {})
    if general.get("title"):
        attrs["title"] = general["title"]
    date, time = general.get("date"), general.get("time")
    if date:
        attrs["acquired_at"] = _iso_datetime(date, time)
    detector = metadata.get("Acquisition_instrument", {}).get("Detector", {})
    for key, attr in (
        ("integration_time", "integration_time_s"),
        ("exposure_per_frame", "exposure_per_frame_s"),
        ("frames", "frames"),
        ("temperature", "detector_temperature_c"),
        ("model", "detector"),
    ):
        if detector.get(key) is not None:
            value = detector[key]
            if attr == "frames" and float(value).is_integer():
                value = int(value)
            attrs[attr] = value
    grating = metadata.get("Acquisition_instrument", {}).get("Spectrometer", {}).get("Grating", {})
    if grating.get("groove_density") is not None:
        attrs["grating_lines_per_mm"] = grating["groove_density"]
    attrs.update(extra_attrs or {})
    attrs["original_metadata"] = metadata_json(
        {"metadata": metadata, "original_metadata": signal.get("original_metadata", {})}
    )
    units = intensity_units(metadata.get("Signal", {}).get("quantity"))
    ds = raman_leaf(
        data.astype(float) if data.dtype.kind not in "f" else data,
        native,
        rsciio_axis_values(sig),
        laser_nm=laser_nm,
        units=units,
        attrs=attrs,
        extra_dims=extra_dims,
    )
    if "axis_note_file" in attrs:
        ds.attrs["axis_note"] = attrs["axis_note_file"]
        del ds.attrs["axis_note_file"]
    return ds


def _iso_datetime(date: str, time: str | None) -> str:
    """ISO 8601 text from rosettasciio's date ('2022-06-27' or '27.06.2022') and time."""
    date = str(date).strip()
    if "." in date and len(date.split(".")) == 3:
        d, m, y = date.split(".")
        date = f"{y}-{int(m):02d}-{int(d):02d}"
    return f"{date}T{time}" if time else date
