"""specfit's data conventions: names, units and required attributes, and their validator.

Every reader returns an :class:`xarray.DataTree` whose leaves are :class:`xarray.Dataset` objects,
one per measurement block. This module is the single place that says what those datasets look like;
:func:`validate` checks a tree or dataset against it and every reader's output passes it.

Conventions
-----------
- The measured signal is the data variable ``intensity`` with a ``units`` attribute
  (``counts``, ``counts/s``, ``arb`` ...). Optional companions: ``intensity_error``, ``transmission``.
- The spectral axis is a 1-D index coordinate named for what it is (:data:`SPECTRAL_AXES`), with
  ``units``. It may increase or decrease, as measured.
- Extra (series) dimensions come from :data:`SERIES_DIMS` (plus ``fragment`` for ToF-SIMS).
- Attributes are flat and JSON-serialisable: ``str``, ``int``, ``float`` or 1-D lists/arrays of
  numbers. Everything the file said that has no convention goes into ``original_metadata``, a JSON
  string (so that it survives NetCDF storage unchanged).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import xarray as xr

from .errors import ConventionError

__all__ = [
    "INTENSITY",
    "SERIES_DIMS",
    "SPECTRAL_AXES",
    "TECHNIQUES",
    "TECHNIQUE_AXES",
    "leaves",
    "make_leaf",
    "node_name",
    "original_metadata",
    "sanitize_attrs",
    "spectral_axis",
    "validate",
]

#: Name of the measured signal.
INTENSITY = "intensity"

#: Spectral axes: name -> (units, long name).
SPECTRAL_AXES: dict[str, tuple[str, str]] = {
    "binding_energy": ("eV", "Binding energy"),
    "kinetic_energy": ("eV", "Kinetic energy"),
    "raman_shift": ("cm-1", "Raman shift"),
    "wavelength": ("nm", "Wavelength"),
    "wavenumber": ("cm-1", "Absolute wavenumber"),
    "photon_energy": ("eV", "Photon energy"),
    "two_theta": ("deg", "2θ"),
    "mass": ("u", "Mass"),
    "sputter_time": ("s", "Sputter time"),
    "energy": ("eV", "Energy"),
}

#: Series (extra) dimensions: name -> units ("" when dimensionless / an index).
SERIES_DIMS: dict[str, str] = {
    "etch_time": "s",
    "etch_level": "",
    "sputter_time": "s",
    "depth": "nm",
    "x": "um",
    "y": "um",
    "z": "um",
    "time": "s",
    "scan": "",
    "cycle": "",
    "frame": "",
    "omega": "deg",
    "fragment": "",
    "sample": "",
    "state": "",
    "index": "",
}

TECHNIQUES = ("xps", "raman", "xrd", "tofsims", "aes", "other")

#: The conventional spectral axes of each technique (first is the preferred one).
TECHNIQUE_AXES: dict[str, tuple[str, ...]] = {
    "xps": ("binding_energy", "kinetic_energy"),
    "aes": ("kinetic_energy", "binding_energy"),
    "raman": ("raman_shift", "wavelength", "wavenumber", "photon_energy"),
    "xrd": ("two_theta",),
    "tofsims": ("sputter_time", "mass"),
    "other": tuple(SPECTRAL_AXES),
}

_ALLOWED_SCALARS = (str, int, float, np.integer, np.floating)


def node_name(name: str, taken: set[str] | None = None) -> str:
    """Return a DataTree-safe, unique node name derived from ``name``.

    Slashes are not allowed in node names; empty names become ``block``. When ``taken`` is given,
    a numeric suffix keeps the name unique and the result is added to ``taken``.
    """
    clean = str(name).replace("/", "_").strip() or "block"
    if taken is not None:
        base, i = clean, 2
        while clean in taken:
            clean = f"{base}_{i}"
            i += 1
        taken.add(clean)
    return clean


def _clean_value(key: str, value: Any) -> Any:
    """Make one attribute value JSON/NetCDF-safe, or raise."""
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, _ALLOWED_SCALARS):
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.floating):
            return float(value)
        # HDF5 variable-length strings cannot hold NUL (binary vendor headers pad with it)
        return value.replace("\x00", "") if isinstance(value, str) else value
    if isinstance(value, list | tuple | np.ndarray):
        arr = np.asarray(value)
        if arr.ndim == 1 and arr.size and arr.dtype.kind in "iuf":
            return [v.item() for v in arr]
        if arr.ndim == 1 and arr.size and all(isinstance(v, str) for v in value):
            return json.dumps(list(value))
        return json.dumps(jsonable(value))
    if isinstance(value, Mapping):
        return json.dumps(jsonable(value))
    if value is None:
        return ""
    return str(value)


def jsonable(value: Any) -> Any:
    """Convert nested metadata into JSON-ready Python values.

    numpy scalars become numbers, arrays become lists (structured arrays and arrays of more than
    10,000 elements are described, not dumped), bytes are decoded as Latin-1, non-finite floats
    become strings and anything else its ``str``.
    """
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        if value.dtype.names or value.size > 10000:
            return f"<array {value.shape} {value.dtype}>"
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def processing_history(obj: xr.Dataset | xr.DataArray) -> list[dict[str, Any]]:
    """The processing steps recorded on ``obj`` (attribute ``processing``, a JSON list; ``[]`` if none)."""
    raw = obj.attrs.get("processing", "")
    if not raw:
        return []
    try:
        history = json.loads(raw)
    except (TypeError, ValueError):
        return []
    return history if isinstance(history, list) else []


def record_processing(attrs: Mapping[str, Any], entry: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``attrs`` with ``entry`` (``{"step": ..., parameters}``) appended to its processing history."""
    history = processing_history(xr.Dataset(attrs=dict(attrs)))
    history.append(jsonable(dict(entry)))
    return {**attrs, "processing": json.dumps(history)}


def sanitize_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Return attributes made flat and JSON/NetCDF-serialisable.

    Booleans become 0/1, ``None`` becomes ``""``, mappings and nested or string lists become JSON
    strings, numpy scalars become Python numbers. Readers call this before returning.
    """
    return {str(k): _clean_value(str(k), v) for k, v in attrs.items()}


def original_metadata(ds: xr.Dataset | xr.DataTree) -> dict:
    """Decode the ``original_metadata`` attribute of a dataset (``{}`` when absent)."""
    raw = ds.attrs.get("original_metadata", "")
    if not raw:
        return {}
    return json.loads(raw)


def spectral_axis(ds: xr.Dataset | xr.DataArray) -> str:
    """Return the name of the spectral axis of a dataset (the index coordinate of ``intensity``).

    Raises
    ------
    ConventionError
        If no conventional spectral axis is among the dimensions.
    """
    da = ds[INTENSITY] if isinstance(ds, xr.Dataset) else ds
    axes = [d for d in da.dims if d in SPECTRAL_AXES]
    if not axes:
        raise ConventionError(
            f"no spectral axis among dimensions {tuple(da.dims)}; expected one of {tuple(SPECTRAL_AXES)}"
        )
    # a ToF-SIMS depth profile has sputter_time as its axis; otherwise the last spectral dim wins
    return axes[-1]


def leaves(tree: xr.DataTree) -> Iterator[tuple[str, xr.Dataset]]:
    """Yield ``(path, dataset)`` for every node of ``tree`` that holds ``intensity``."""
    for node in tree.subtree:
        if INTENSITY in node.ds.data_vars:
            yield node.path, node.to_dataset()


def make_leaf(
    intensity: np.ndarray,
    axis_name: str,
    axis_values: np.ndarray,
    *,
    units: str = "counts",
    attrs: Mapping[str, Any] | None = None,
    extra_dims: Mapping[str, np.ndarray] | None = None,
    axis_attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Build a conventional leaf dataset.

    Parameters
    ----------
    intensity
        The signal; its last axis runs along ``axis_name``, leading axes along ``extra_dims``
        (in order).
    axis_name
        A key of :data:`SPECTRAL_AXES`.
    axis_values
        The spectral axis values.
    units
        Units of the intensity.
    attrs
        Dataset attributes (sanitised here).
    extra_dims
        Leading series dimensions and their coordinate values.
    axis_attrs
        Extra attributes of the axis coordinate.
    """
    extra_dims = dict(extra_dims or {})
    dims = (*extra_dims, axis_name)
    ax_units, ax_long = SPECTRAL_AXES[axis_name]
    coords: dict[str, Any] = {
        axis_name: (axis_name, np.asarray(axis_values), {"units": ax_units, "long_name": ax_long, **(axis_attrs or {})})
    }
    for dim, values in extra_dims.items():
        coords[dim] = (dim, np.asarray(values), {"units": SERIES_DIMS.get(dim, "")})
    ds = xr.Dataset(
        {INTENSITY: (dims, np.asarray(intensity), {"units": units, "long_name": "Intensity"})},
        coords=coords,
        attrs=sanitize_attrs(attrs or {}),
    )
    return ds


def _validate_dataset(ds: xr.Dataset, where: str) -> list[str]:
    problems: list[str] = []
    if INTENSITY not in ds.data_vars:
        return [f"{where}: no '{INTENSITY}' data variable"]
    da = ds[INTENSITY]
    if "units" not in da.attrs:
        problems.append(f"{where}: '{INTENSITY}' has no 'units' attribute")
    if da.dtype.kind not in "iuf":
        problems.append(f"{where}: '{INTENSITY}' is not numeric (dtype {da.dtype})")
    try:
        axis = spectral_axis(ds)
    except ConventionError as exc:
        return [*problems, f"{where}: {exc}"]
    if axis not in ds.coords:
        problems.append(f"{where}: spectral axis '{axis}' has no coordinate")
    else:
        coord = ds.coords[axis]
        if coord.ndim != 1:
            problems.append(f"{where}: spectral axis '{axis}' is not 1-D")
        if coord.attrs.get("units") != SPECTRAL_AXES[axis][0]:
            problems.append(
                f"{where}: axis '{axis}' has units {coord.attrs.get('units')!r}, expected {SPECTRAL_AXES[axis][0]!r}"
            )
        values = np.asarray(coord.values, dtype=float)
        if values.size > 1 and not np.all(np.isfinite(values)):
            problems.append(f"{where}: axis '{axis}' holds non-finite values")
    for dim in da.dims:
        if dim == axis:
            continue
        if dim not in SERIES_DIMS and dim not in SPECTRAL_AXES:
            problems.append(f"{where}: dimension '{dim}' is not a conventional dimension")
    if "technique" in ds.attrs and ds.attrs["technique"] not in TECHNIQUES:
        problems.append(f"{where}: technique {ds.attrs['technique']!r} not one of {TECHNIQUES}")
    for key, value in ds.attrs.items():
        if not isinstance(value, (*_ALLOWED_SCALARS, list, np.ndarray)):
            problems.append(f"{where}: attribute {key!r} has non-serialisable type {type(value).__name__}")
    if "original_metadata" in ds.attrs:
        try:
            json.loads(ds.attrs["original_metadata"])
        except (TypeError, ValueError):
            problems.append(f"{where}: 'original_metadata' is not a JSON string")
    return problems


def validate(obj: xr.DataTree | xr.Dataset) -> None:
    """Check that a tree (every leaf) or a dataset follows the conventions.

    Raises
    ------
    ConventionError
        Listing every problem found.
    """
    problems: list[str] = []
    if isinstance(obj, xr.Dataset):
        problems = _validate_dataset(obj, "dataset")
    elif isinstance(obj, xr.DataTree):
        found = list(leaves(obj))
        if not found:
            problems.append("tree holds no measurement (no node with 'intensity')")
        for path, ds in found:
            problems.extend(_validate_dataset(ds, path))
            for required in ("technique", "source_format"):
                if required not in ds.attrs:
                    problems.append(f"{path}: required attribute {required!r} missing")
    else:
        raise ConventionError(f"expected an xarray DataTree or Dataset, got {type(obj).__name__}")
    if problems:
        raise ConventionError("; ".join(problems))
