"""Preprocessing of powder diffraction patterns: background, Kα2 stripping, zero shift, masking.

Every function is pure: it takes an xarray object (a leaf :class:`~xarray.Dataset` with ``intensity`` on
``two_theta``, a :class:`~xarray.DataArray`, or a whole :class:`~xarray.DataTree`, each leaf handled in turn)
and returns a new one; extra (series) dimensions such as ``scan`` or ``omega`` are carried along and each
pattern is processed on its own. Every step appends a record to the attribute ``processing`` (a JSON list of
``{"step": …, parameters …}``), so a saved result says how it was made.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import xarray as xr
from pybaselines import Baseline

from ..conventions import INTENSITY, jsonable, leaves, processing_history, record_processing, spectral_axis
from ..errors import SpecfitError

__all__ = ["correct_zero_shift", "mask_regions", "processing_history", "strip_kalpha2", "subtract_background"]

XrObj = TypeVar("XrObj", xr.Dataset, xr.DataArray, xr.DataTree)

#: Used when neither the call nor the data state the Kα1/Kα2 wavelengths (Cu, as in specfit.io._xrd).
_DEFAULT_KALPHA = (1.540598, 1.544426)


def _record(obj: xr.Dataset | xr.DataArray, step: dict[str, Any]) -> None:
    obj.attrs = record_processing(obj.attrs, step)


def _per_leaf(obj: XrObj, func: Callable[[Any], Any]) -> XrObj:
    """Apply ``func`` to a Dataset/DataArray, or to every measurement leaf of a DataTree."""
    if isinstance(obj, xr.DataTree):
        out = obj.copy()
        for path, ds in leaves(obj):
            node = out[path] if path != "/" else out
            node.dataset = func(ds)
        return out
    if isinstance(obj, xr.Dataset | xr.DataArray):
        return func(obj)
    raise SpecfitError(f"expected an xarray Dataset, DataArray or DataTree, got {type(obj).__name__}")


def _signal(obj: xr.Dataset | xr.DataArray) -> xr.DataArray:
    return obj[INTENSITY] if isinstance(obj, xr.Dataset) else obj


def _replace(obj: xr.Dataset | xr.DataArray, new: xr.DataArray) -> xr.Dataset | xr.DataArray:
    if isinstance(obj, xr.Dataset):
        out = obj.copy()
        out[INTENSITY] = new
        return out
    return new


def _axis_values(da: xr.DataArray, axis: str) -> np.ndarray:
    x = np.asarray(da[axis].values, dtype=float)
    if x.size < 3:
        raise SpecfitError(f"pattern has {x.size} points on {axis!r}; at least 3 are needed")
    return x


# ----------------------------------------------------------------------------------------------- background


def subtract_background(
    obj: XrObj,
    method: str = "snip",
    *,
    half_window_deg: float = 1.0,
    keep_background: bool = True,
    **method_options: Any,
) -> XrObj:
    """Subtract a background estimated by a :mod:`pybaselines` method (SNIP by default).

    Parameters
    ----------
    obj
        A pattern (leaf dataset, data array or tree).
    method
        Any method of :class:`pybaselines.Baseline` (``"snip"``, ``"arpls"``, ``"asls"``, ``"modpoly"``,
        ``"rolling_ball"`` …).
    half_window_deg
        For ``"snip"`` without an explicit ``max_half_window``: the largest clipping half-window, in degrees
        2θ, turned into points with the pattern's mean step. It should exceed the half-width of the broadest
        Bragg peak and stay below the width of real background features (amorphous humps are background only
        if they are broader than this).
    keep_background
        Store the estimate as the data variable ``background`` (datasets only).
    **method_options
        Passed to the pybaselines method (e.g. ``max_half_window=``, ``decreasing=True``, ``lam=``). For SNIP,
        ``filter_order`` defaults to 4 here (pybaselines: 2), which follows curved backgrounds.

    Returns
    -------
    Same type as ``obj``
        Background-subtracted intensity; NaN points (masked regions) stay NaN and are bridged by linear
        interpolation while the background is estimated.
    """

    def apply(item: xr.Dataset | xr.DataArray) -> xr.Dataset | xr.DataArray:
        da = _signal(item)
        axis = spectral_axis(da)
        x = _axis_values(da, axis)
        options = dict(method_options)
        if method == "snip" and "max_half_window" not in options:
            step = float(np.nanmean(np.abs(np.diff(x))))
            options["max_half_window"] = max(1, min(round(half_window_deg / step), (x.size - 1) // 2))
        if method == "snip":
            # 4th-order clipping follows a curved background (amorphous humps) where the 2nd-order default of
            # pybaselines cuts under it: on the synthetic test pattern (hump of 20° width) the 2nd order leaves
            # a 4 % background error at a 1° half-window, the 4th order < 0.1 % (Morháč & Matoušek 2008,
            # Appl. Spectrosc. 62, 91, doi:10.1366/000370208783412762).
            options.setdefault("filter_order", 4)
        fitter = Baseline(x_data=x, check_finite=False)
        try:
            algorithm = getattr(fitter, method)
        except AttributeError:
            raise SpecfitError(f"pybaselines has no baseline method {method!r}") from None

        def one(y: np.ndarray) -> np.ndarray:
            finite = np.isfinite(y)
            if finite.sum() < 3:
                return np.full_like(y, np.nan, dtype=float)
            filled = y if finite.all() else np.interp(x, x[finite], y[finite])
            return np.asarray(algorithm(filled, **options)[0], dtype=float)

        background = xr.apply_ufunc(
            one, da.astype(float), input_core_dims=[[axis]], output_core_dims=[[axis]], vectorize=True
        ).transpose(*da.dims)
        corrected = (da - background).assign_attrs(da.attrs)
        out = _replace(item, corrected)
        if keep_background and isinstance(out, xr.Dataset):
            out["background"] = background.assign_attrs(units=da.attrs.get("units", ""), method=method)
        _record(out, {"step": "subtract_background", "method": method, **jsonable(options)})
        return out

    return _per_leaf(obj, apply)


# ------------------------------------------------------------------------------------------------- Kα2 strip


def _rachinger(x: np.ndarray, y: np.ndarray, ratio: float, lam1: float, lam2: float) -> np.ndarray:
    """Rachinger (1948) Kα2 removal on an increasing 2θ grid.

    A Kα1 reflection at 2θ₁ has its Kα2 twin at 2θ₂ with sin θ₂ = (λ₂/λ₁) sin θ₁. Walking up in 2θ,
    I₁(2θ) = I(2θ) − R · I₁(2θ − Δ(2θ)), where Δ is the doublet separation at 2θ and I₁ below the current point
    is already known (linear interpolation between grid points). Written as a loop because each point depends
    on earlier results; the work is O(n).
    """
    theta = np.radians(x) / 2.0
    s = np.clip(np.sin(theta) * lam1 / lam2, -1.0, 1.0)
    # position 2θ₁ whose Kα2 line falls on x: sin θ₁ = (λ₁/λ₂) sin θ
    source = np.degrees(2.0 * np.arcsin(s))
    y = np.asarray(y, dtype=float)
    out = y.copy()
    x0, n = x[0], x.size
    j = 0
    for i in range(n):
        target = source[i]
        if target < x0:
            continue
        while j + 1 < n and x[j + 1] <= target:
            j += 1
        if j >= i:  # the doublet separation rounds to nothing here
            continue
        frac = (target - x[j]) / (x[j + 1] - x[j])
        if j + 1 < i:
            value = out[j] * (1.0 - frac) + out[j + 1] * frac
            if math.isfinite(value):
                out[i] = y[i] - ratio * value
        else:
            # separation below one step: the interpolation involves the unknown I1(x_i) itself; solve
            # I1_i = y_i - R((1-f) I1_j + f I1_i) for I1_i
            if math.isfinite(out[j]):
                out[i] = (y[i] - ratio * (1.0 - frac) * out[j]) / (1.0 + ratio * frac)
    return out


def strip_kalpha2(
    obj: XrObj,
    *,
    ratio: float | None = None,
    kalpha1: float | None = None,
    kalpha2: float | None = None,
) -> XrObj:
    """Remove the Kα2 contribution from a pattern measured with a Kα1/Kα2 doublet (Rachinger's method).

    Parameters
    ----------
    obj
        A pattern on ``two_theta`` (leaf dataset, data array or tree).
    ratio
        Kα2/Kα1 intensity ratio; default: the ``kalpha2_ratio`` attribute, else 0.5. A ratio of 0 (the file
        says Kα2 is absent, e.g. behind a Johansson monochromator) returns the pattern unchanged (recorded).
    kalpha1, kalpha2
        Wavelengths in Å; default: the ``wavelength_angstrom`` / ``wavelength_kalpha2_angstrom`` attributes,
        else Cu (1.540598 / 1.544426 Å).

    Returns
    -------
    Same type as ``obj``
        The Kα1-only pattern; attributes ``kalpha2_ratio`` becomes 0 and ``kalpha2_stripped`` 1.

    Notes
    -----
    Rachinger, W. A. (1948), J. Sci. Instrum. 25, 254, doi:10.1088/0950-7671/25/7/125. The method propagates
    noise upward in 2θ and leaves small residues where the ratio or the wavelengths are off; its accuracy is
    best where the doublet is resolved by several steps.
    """

    def apply(item: xr.Dataset | xr.DataArray) -> xr.Dataset | xr.DataArray:
        da = _signal(item)
        axis = spectral_axis(da)
        if axis != "two_theta":
            raise SpecfitError(f"Kα2 stripping needs a two_theta axis, not {axis!r}")
        attrs = item.attrs
        r = ratio if ratio is not None else attrs.get("kalpha2_ratio", 0.5)
        lam1 = kalpha1 or attrs.get("wavelength_angstrom") or _DEFAULT_KALPHA[0]
        lam2 = (
            kalpha2
            or attrs.get("wavelength_kalpha2_angstrom")
            or (_DEFAULT_KALPHA[1] if "wavelength_angstrom" not in attrs or kalpha1 else None)
        )
        if lam2 is None:
            raise SpecfitError("the data state no Kα2 wavelength; pass kalpha2= (and ratio=)")
        if not (0 <= float(r) < 1) or lam2 <= lam1:
            raise SpecfitError(f"implausible Kα2 settings: ratio {r}, Kα1 {lam1} Å, Kα2 {lam2} Å")
        x = _axis_values(da, axis)
        order = np.argsort(x)
        if r == 0:
            out = item.copy()
        else:

            def one(y: np.ndarray) -> np.ndarray:
                result = np.empty_like(y, dtype=float)
                result[order] = _rachinger(x[order], y[order], float(r), float(lam1), float(lam2))
                return result

            stripped = xr.apply_ufunc(
                one, da.astype(float), input_core_dims=[[axis]], output_core_dims=[[axis]], vectorize=True
            ).transpose(*da.dims)
            out = _replace(item, stripped.assign_attrs(da.attrs))
        out.attrs["kalpha2_ratio_before_stripping"] = float(r)
        out.attrs["kalpha2_ratio"] = 0.0
        out.attrs["kalpha2_stripped"] = 1
        _record(
            out,
            {
                "step": "strip_kalpha2",
                "method": "rachinger",
                "ratio": float(r),
                "kalpha1": float(lam1),
                "kalpha2": float(lam2),
            },
        )
        return out

    return _per_leaf(obj, apply)


# ----------------------------------------------------------------------------------------------- zero shift


def correct_zero_shift(obj: XrObj, zero_offset_deg: float) -> XrObj:
    """Correct a goniometer zero error: 2θ_true = 2θ_measured − ``zero_offset_deg``.

    Parameters
    ----------
    obj
        A pattern on ``two_theta``.
    zero_offset_deg
        The zero error in degrees 2θ (positive when peaks appear too high), e.g. from a Si/LaB6 standard or a
        refinement.
    """

    def apply(item: xr.Dataset | xr.DataArray) -> xr.Dataset | xr.DataArray:
        axis = spectral_axis(_signal(item))
        if axis != "two_theta":
            raise SpecfitError(f"zero-shift correction needs a two_theta axis, not {axis!r}")
        coord = item[axis]
        shifted = item.assign_coords({axis: (axis, coord.values - float(zero_offset_deg), coord.attrs)})
        shifted.attrs["zero_offset_deg"] = float(item.attrs.get("zero_offset_deg", 0.0)) + float(zero_offset_deg)
        _record(shifted, {"step": "correct_zero_shift", "zero_offset_deg": float(zero_offset_deg)})
        return shifted

    return _per_leaf(obj, apply)


# ------------------------------------------------------------------------------------------------- masking


def mask_regions(obj: XrObj, regions: Sequence[tuple[float, float]], *, drop: bool = False) -> XrObj:
    """Mask 2θ ranges (e.g. the amorphous humps of a Kapton/polyimide window, a detector artefact).

    Parameters
    ----------
    obj
        A pattern.
    regions
        ``[(low, high), …]`` in the units of the spectral axis (inclusive). Take the ranges from a blank
        measurement of the same cell: specfit ships no default, because where a window's humps fall depends
        on the window, its distance and the wavelength.
    drop
        Remove the points instead of setting them to NaN.
    """
    ranges = [(float(min(a, b)), float(max(a, b))) for a, b in regions]

    def apply(item: xr.Dataset | xr.DataArray) -> xr.Dataset | xr.DataArray:
        da = _signal(item)
        axis = spectral_axis(da)
        x = np.asarray(item[axis].values, dtype=float)
        inside = np.zeros(x.size, dtype=bool)
        for low, high in ranges:
            inside |= (x >= low) & (x <= high)
        if drop:
            out = item.isel({axis: ~inside})
        else:
            mask = xr.DataArray(inside, dims=(axis,), coords={axis: item[axis]})
            out = _replace(item, da.astype(float).where(~mask).assign_attrs(da.attrs))
        _record(
            out,
            {
                "step": "mask_regions",
                "regions": [list(r) for r in ranges],
                "drop": bool(drop),
                "points": int(inside.sum()),
            },
        )
        return out

    return _per_leaf(obj, apply)
