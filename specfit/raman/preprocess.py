"""Raman preprocessing as composable, pure functions on xarray objects.

Every function takes a :class:`xarray.DataArray` (a spectrum or any stack of spectra) or a
:class:`xarray.Dataset` with an ``intensity`` variable, works along the spectral axis (found with
:func:`specfit.conventions.spectral_axis`, or named with ``dim=``) whatever other dimensions there
are (maps, series), returns a new object and never modifies its input. Each step appends an entry
``{"step": ..., parameters...}`` to the JSON list in the attribute ``processing``, so a processed
spectrum says what was done to it.

Steps:

- :func:`despike` — cosmic-ray spike removal after Whitaker & Hayes (2018), modified z-scores of the
  first difference;
- :func:`remove_baseline` — baselines from :mod:`pybaselines` (``asls``, ``arpls``, ``airpls``,
  ``snip``, ``modpoly``) returning the corrected data and the baseline;
- :func:`smooth` — Savitzky–Golay smoothing (:func:`scipy.signal.savgol_filter`);
- :func:`crop` — keep a spectral window;
- :func:`normalize` — divide by the maximum, the area, or the height of a band.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import xarray as xr
from scipy.ndimage import uniform_filter1d
from scipy.signal import savgol_filter

from ..conventions import INTENSITY, SPECTRAL_AXES, jsonable, processing_history, record_processing
from ..errors import SpecfitError

__all__ = [
    "BASELINE_DEFAULTS",
    "crop",
    "despike",
    "modified_z_scores",
    "normalize",
    "processing_history",
    "remove_baseline",
    "smooth",
]

Obj = TypeVar("Obj", xr.DataArray, xr.Dataset)

#: Default parameters of each baseline method (pybaselines names). ``lam`` values follow the
#: pybaselines defaults for the Whittaker methods, which suit spectra of ~500–3000 points;
#: ``max_half_window`` of SNIP is set from the data (see :func:`remove_baseline`).
BASELINE_DEFAULTS: dict[str, dict[str, Any]] = {
    "asls": {"lam": 1e6, "p": 0.01},
    "arpls": {"lam": 1e6},
    "airpls": {"lam": 1e6},
    "snip": {},
    "modpoly": {"poly_order": 3},
}


# ---------------------------------------------------------------------------------------------
# plumbing
# ---------------------------------------------------------------------------------------------


def _split(obj: xr.DataArray | xr.Dataset) -> tuple[xr.DataArray, xr.Dataset | None]:
    if isinstance(obj, xr.Dataset):
        if INTENSITY not in obj:
            raise SpecfitError(f"dataset has no {INTENSITY!r} variable to process")
        return obj[INTENSITY], obj
    if isinstance(obj, xr.DataArray):
        return obj, None
    raise SpecfitError(f"expected an xarray DataArray or Dataset, got {type(obj).__name__}")


def _axis_dim(da: xr.DataArray, dim: str | None) -> str:
    if dim is not None:
        if dim not in da.dims:
            raise SpecfitError(f"dimension {dim!r} not among {tuple(da.dims)}")
        return dim
    axes = [d for d in da.dims if d in SPECTRAL_AXES]
    if not axes:
        if da.ndim == 1:
            return str(da.dims[0])
        raise SpecfitError(f"no spectral axis among {tuple(da.dims)}; pass dim=")
    return axes[-1]


def _merge(
    obj: xr.DataArray | xr.Dataset,
    new: xr.DataArray,
    entry: dict[str, Any],
    extra: dict[str, xr.DataArray] | None = None,
) -> xr.DataArray | xr.Dataset:
    """Put the processed intensity back in the caller's container, with the step recorded."""
    da, ds = _split(obj)
    new = new.assign_attrs(record_processing(new.attrs, entry))
    if ds is None:
        return new
    out = ds.copy()
    # crop changes the spectral coordinate: drop variables that no longer align
    out = out.drop_vars([INTENSITY])
    if new.sizes != da.sizes:
        out = out.sel({d: new[d] for d in new.dims if d in out.dims})
    out[INTENSITY] = new
    for name, value in (extra or {}).items():
        out[name] = value
    out.attrs = record_processing(ds.attrs, entry)
    return out


def _apply(func: Callable[..., np.ndarray], da: xr.DataArray, dim: str, **kwargs) -> xr.DataArray:
    """Apply a 1-D function along ``dim`` to every spectrum (vectorised over the other dims)."""
    return xr.apply_ufunc(
        func,
        da,
        input_core_dims=[[dim]],
        output_core_dims=[[dim]],
        vectorize=True,
        dask="parallelized",
        output_dtypes=[float],
        kwargs=kwargs,
        keep_attrs=True,
    ).transpose(*da.dims)


# ---------------------------------------------------------------------------------------------
# despiking
# ---------------------------------------------------------------------------------------------


def modified_z_scores(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Modified z-scores ``0.6745 (x - median) / MAD`` along ``axis`` (Iglewicz & Hoaglin 1993).

    A zero MAD (flat data) gives zero scores rather than a division by zero.
    """
    values = np.asarray(values, dtype=float)
    median = np.nanmedian(values, axis=axis, keepdims=True)
    mad = np.nanmedian(np.abs(values - median), axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = 0.6745 * (values - median) / mad
    return np.where(mad > 0, z, 0.0)


def _spike_mask(z: np.ndarray, threshold: float, max_width: int) -> np.ndarray:
    """Points of a spectrum that are spikes, from the modified z-scores ``z`` of its differences.

    A (positive) spike of width w starting at point i makes the difference ``y[i] - y[i-1]`` an
    outlier upwards and ``y[i+w] - y[i+w-1]`` an outlier downwards; the points in between are the
    spike. Each outlying difference is paired with the next outlier of opposite sign at most
    ``max_width`` points further. Unpaired outliers are not spikes — they are the steep flanks of
    strong, well-resolved bands (their rise and fall are a band width apart) — except at the ends
    of the spectrum, where a spike has only one flank.
    """
    n = z.size + 1
    spike = np.zeros(n, bool)
    outliers = np.nonzero(np.abs(z) > threshold)[0]
    used = np.zeros(z.size, bool)
    for j in outliers:  # bounded by the number of points
        if used[j]:
            continue
        partner = None
        for k in outliers[(outliers > j) & (outliers <= j + max_width)]:
            if not used[k] and np.sign(z[k]) != np.sign(z[j]):
                partner = k
                break
        if partner is not None:
            spike[j + 1 : partner + 1] = True
            used[j] = used[partner] = True
        elif j == 0 and z[j] < 0:
            spike[0] = True  # a spike on the first point: only its falling flank is in the data
        elif j == z.size - 1 and z[j] > 0:
            spike[n - 1] = True  # a spike on the last point
        used[j] = True
    return spike


def _despike_1d(y: np.ndarray, threshold: float, window: int, max_width: int, max_iterations: int) -> np.ndarray:
    y = np.array(y, dtype=float)
    n = y.size
    if n < 3 or not np.all(np.isfinite(y)):
        return y
    for _ in range(max_iterations):
        z = modified_z_scores(np.diff(y))
        flagged_diff = np.abs(z) > threshold
        if not flagged_diff.any():
            break
        spike = _spike_mask(z, threshold, max_width)
        if not spike.any() or spike.all():
            break
        # Whitaker & Hayes: replace each spike point by the mean of the non-spike points within
        # ±window (here with an edge-safe moving sum)
        good = ~spike
        size = 2 * window + 1
        sums = uniform_filter1d(np.where(good, y, 0.0), size, mode="nearest") * size
        counts = uniform_filter1d(good.astype(float), size, mode="nearest") * size
        replacement = np.where(counts > 0.5, sums / np.maximum(counts, 1e-12), np.nan)
        if np.any(spike & ~np.isfinite(replacement)):
            # a spike wider than the window: interpolate linearly across it instead
            idx = np.arange(n)
            replacement = np.where(np.isfinite(replacement), replacement, np.interp(idx, idx[good], y[good]))
        y = np.where(spike, replacement, y)
    return y


def despike(
    obj: Obj,
    *,
    threshold: float = 7.0,
    window: int = 3,
    max_width: int = 3,
    max_iterations: int = 3,
    dim: str | None = None,
) -> Obj:
    """Remove cosmic-ray spikes (Whitaker & Hayes 2018).

    Spikes are points whose first difference has a modified z-score above ``threshold``; each is
    replaced by the mean of the non-spike points within ``±window`` points. Repeated up to
    ``max_iterations`` times (wide spikes reveal themselves after the first pass).

    Parameters
    ----------
    obj
        Spectrum / spectra (DataArray) or a dataset with ``intensity``.
    threshold
        Modified z-score above which a difference is a spike. The default 7 leaves Raman bands a few
        points wide untouched at ordinary signal-to-noise ratios; lower it for weak spikes.
    window
        Half-width (points) of the neighbourhood whose mean replaces a spike point.
    max_width
        Widest spike (points). Cosmic rays hit 1–3 CCD pixels; a band narrower than this many points
        (an undersampled sharp line) could be taken for a spike, so keep it below the narrowest band
        width in points.
    max_iterations
        Passes over the spectrum.

    References
    ----------
    D. A. Whitaker, K. Hayes, "A simple algorithm for despiking Raman spectra", Chemometrics and
    Intelligent Laboratory Systems 179 (2018) 82–84, doi:10.1016/j.chemolab.2018.06.009.
    """
    if threshold <= 0 or window < 1 or max_width < 1 or max_iterations < 1:
        raise SpecfitError("despike: threshold must be > 0, and window, max_width, max_iterations >= 1")
    da, _ = _split(obj)
    d = _axis_dim(da, dim)
    new = _apply(
        _despike_1d,
        da,
        d,
        threshold=threshold,
        window=int(window),
        max_width=int(max_width),
        max_iterations=int(max_iterations),
    )
    changed = int(np.count_nonzero(np.asarray(new.values) != np.asarray(da.values)))
    entry = {
        "step": "despike",
        "method": "Whitaker-Hayes modified z-score of the first difference",
        "doi": "10.1016/j.chemolab.2018.06.009",
        "threshold": threshold,
        "window": int(window),
        "max_width": int(max_width),
        "max_iterations": int(max_iterations),
        "points_replaced": changed,
    }
    return _merge(obj, new, entry)


# ---------------------------------------------------------------------------------------------
# baseline
# ---------------------------------------------------------------------------------------------


def _baseline_1d(y: np.ndarray, x: np.ndarray, method: str, params: dict) -> np.ndarray:
    from pybaselines import Baseline

    if not np.all(np.isfinite(y)):
        return np.full_like(y, np.nan, dtype=float)
    order = np.argsort(x)
    fitter = Baseline(x_data=x[order])
    base_sorted, _info = getattr(fitter, method)(np.asarray(y, float)[order], **params)
    base = np.empty_like(base_sorted)
    base[order] = base_sorted
    return base


def remove_baseline(
    obj: Obj,
    method: str = "arpls",
    *,
    dim: str | None = None,
    **params: Any,
) -> tuple[Obj, xr.DataArray]:
    """Estimate and subtract a baseline with :mod:`pybaselines`.

    Parameters
    ----------
    obj
        Spectrum / spectra or a dataset with ``intensity``.
    method
        ``"asls"``, ``"arpls"``, ``"airpls"``, ``"snip"`` or ``"modpoly"`` (any other pybaselines
        method name is passed through).
    **params
        Parameters of the pybaselines method; missing ones come from :data:`BASELINE_DEFAULTS`.
        For ``snip`` the default ``max_half_window`` is 1/20 of the number of points (at least 10),
        i.e. wider than Raman bands and narrower than fluorescence backgrounds.

    Returns
    -------
    (corrected, baseline)
        ``corrected`` is the same kind of object as ``obj`` (for a dataset, with the baseline
        added as the variable ``baseline``); ``baseline`` is a DataArray like the intensity.
    """
    from pybaselines import Baseline

    if not hasattr(Baseline, method):
        raise SpecfitError(f"unknown baseline method {method!r}; try one of {sorted(BASELINE_DEFAULTS)}")
    da, _ = _split(obj)
    d = _axis_dim(da, dim)
    full = {**BASELINE_DEFAULTS.get(method, {}), **params}
    if method == "snip" and "max_half_window" not in full:
        full["max_half_window"] = max(10, da.sizes[d] // 20)
    x = np.asarray(da[d].values, dtype=float) if d in da.coords else np.arange(da.sizes[d], dtype=float)
    baseline = xr.apply_ufunc(
        _baseline_1d,
        da,
        input_core_dims=[[d]],
        output_core_dims=[[d]],
        vectorize=True,
        dask="parallelized",
        output_dtypes=[float],
        kwargs={"x": x, "method": method, "params": full},
    ).transpose(*da.dims)
    baseline = baseline.assign_attrs(units=da.attrs.get("units", ""), long_name=f"Baseline ({method})")
    corrected = (da - baseline).assign_attrs(da.attrs)
    entry = {"step": "baseline", "method": method, "library": "pybaselines", **jsonable(full)}
    out = _merge(obj, corrected, entry, extra={"baseline": baseline})
    return out, baseline


# ---------------------------------------------------------------------------------------------
# smoothing, cropping, normalisation
# ---------------------------------------------------------------------------------------------


def smooth(obj: Obj, window: int = 11, polyorder: int = 3, *, dim: str | None = None) -> Obj:
    """Savitzky–Golay smoothing along the spectral axis.

    The filter assumes evenly spaced points; on the slightly non-uniform axes of CCD spectra it
    smooths per point, which is what instrument software does too.

    Parameters
    ----------
    window
        Window length in points (odd, > ``polyorder``).
    polyorder
        Polynomial order.
    """
    window = int(window)
    if window % 2 == 0 or window <= polyorder:
        raise SpecfitError(f"smooth: window must be odd and larger than polyorder ({window=}, {polyorder=})")
    da, _ = _split(obj)
    d = _axis_dim(da, dim)
    if da.sizes[d] < window:
        raise SpecfitError(f"smooth: window {window} longer than the spectrum ({da.sizes[d]} points)")
    axis = da.get_axis_num(d)
    values = savgol_filter(np.asarray(da.values, dtype=float), window, polyorder, axis=axis, mode="interp")
    new = da.copy(data=values)
    return _merge(obj, new, {"step": "smooth", "method": "savitzky-golay", "window": window, "polyorder": polyorder})


def crop(obj: Obj, low: float, high: float, *, dim: str | None = None) -> Obj:
    """Keep the points with ``low <= axis <= high`` (whatever the axis direction)."""
    if high <= low:
        raise SpecfitError(f"crop: high ({high}) must exceed low ({low})")
    da, _ = _split(obj)
    d = _axis_dim(da, dim)
    x = np.asarray(da[d].values, dtype=float)
    keep = (x >= low) & (x <= high)
    if keep.sum() < 2:
        raise SpecfitError(f"crop: fewer than 2 points of {d} lie in [{low}, {high}] (axis spans {x.min()}–{x.max()})")
    new = da.isel({d: np.nonzero(keep)[0]})
    return _merge(obj, new, {"step": "crop", "dim": d, "low": float(low), "high": float(high)})


def normalize(
    obj: Obj,
    method: str | tuple[float, float] = "max",
    *,
    dim: str | None = None,
) -> Obj:
    """Normalise every spectrum.

    Parameters
    ----------
    method
        ``"max"`` (divide by the maximum), ``"area"`` (divide by the absolute trapezoid area over the
        spectral axis), a window ``(low, high)`` (divide by the maximum inside it), or the name of a
        band of the reference library (``"PS4"``; see :func:`specfit.raman.library.bands`), whose
        position window is used.
    """
    da, _ = _split(obj)
    d = _axis_dim(da, dim)
    entry: dict[str, Any] = {"step": "normalize"}
    if method == "max":
        scale = da.max(d)
        entry["method"] = "max"
    elif method == "area":
        x = np.asarray(da[d].values, dtype=float)
        order = np.argsort(x)
        area = np.trapezoid(np.take(da.values, order, axis=da.get_axis_num(d)), x[order], axis=da.get_axis_num(d))
        scale = xr.DataArray(
            np.abs(area),
            dims=[k for k in da.dims if k != d],
            coords={k: da[k] for k in da.dims if k != d and k in da.coords},
        )
        entry["method"] = "area"
    else:
        if isinstance(method, str):
            from .library import band_window

            low, high = band_window(method)
            entry.update(method="band", band=method)
        else:
            low, high = (float(v) for v in method)
            entry["method"] = "window"
        x = np.asarray(da[d].values, dtype=float)
        inside = (x >= low) & (x <= high)
        if not inside.any():
            raise SpecfitError(f"normalize: no point of {d} inside the band window [{low}, {high}]")
        scale = da.isel({d: np.nonzero(inside)[0]}).max(d)
        entry.update(low=float(low), high=float(high))
    with np.errstate(divide="ignore", invalid="ignore"):
        new = (da / scale.where(scale != 0)).assign_attrs({**da.attrs, "units": "normalized"})
    return _merge(obj, new, entry)
