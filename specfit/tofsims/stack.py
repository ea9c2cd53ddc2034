"""3-D ToF-SIMS image stacks ``(scan, y, x, fragment)``: ROI depth profiles, maps, slices.

A stack is an :class:`xarray.DataArray` of counts with dimensions ``scan`` (one per sputter
cycle), ``y``, ``x`` and ``fragment``, and optionally ``sputter_time`` (s) as a coordinate along
``scan``. It has no spectral axis of its own, so it is an analysis object rather than a reader
leaf; :func:`roi_profile` turns it into a conventional depth-profile dataset.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ..conventions import make_leaf
from ..errors import SpecfitError

__all__ = ["lateral_map", "make_stack", "orthogonal_slices", "roi_profile"]

DIMS = ("scan", "y", "x", "fragment")


def make_stack(
    counts: np.ndarray,
    fragments: list[str],
    *,
    sputter_time: np.ndarray | None = None,
    pixel_size_um: float | None = None,
    attrs: dict[str, Any] | None = None,
) -> xr.DataArray:
    """Wrap a ``(scan, y, x, fragment)`` array as a stack with coordinates."""
    counts = np.asarray(counts)
    if counts.ndim != 4 or counts.shape[3] != len(fragments):
        raise SpecfitError(f"expected counts of shape (scan, y, x, {len(fragments)}), got {counts.shape}")
    n_scan, ny, nx, _ = counts.shape
    coords: dict[str, Any] = {"scan": np.arange(1, n_scan + 1), "fragment": list(fragments)}
    if sputter_time is not None:
        if len(sputter_time) != n_scan:
            raise SpecfitError("sputter_time must have one value per scan")
        coords["sputter_time"] = ("scan", np.asarray(sputter_time, dtype=float), {"units": "s"})
    step = pixel_size_um or 1.0
    coords["y"] = ("y", np.arange(ny) * step, {"units": "um" if pixel_size_um else "pixel"})
    coords["x"] = ("x", np.arange(nx) * step, {"units": "um" if pixel_size_um else "pixel"})
    return xr.DataArray(counts, dims=DIMS, coords=coords, attrs={"units": "counts", **(attrs or {})})


def _check(stack: xr.DataArray) -> None:
    missing = [d for d in DIMS if d not in stack.dims]
    if missing:
        raise SpecfitError(f"a stack needs dimensions {DIMS}; missing {missing}")


def roi_profile(stack: xr.DataArray, mask: np.ndarray | xr.DataArray | None = None) -> xr.Dataset:
    """Depth profile ``(sputter_time, fragment)`` summed over the pixels where ``mask`` is true.

    Without ``sputter_time`` on the stack, the scan number is used as the time axis.
    """
    _check(stack)
    if mask is None:
        mask = np.ones((stack.sizes["y"], stack.sizes["x"]), dtype=bool)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (stack.sizes["y"], stack.sizes["x"]):
        raise SpecfitError(f"mask shape {mask.shape} does not match the image ({stack.sizes['y']}, {stack.sizes['x']})")
    if not mask.any():
        raise SpecfitError("the region of interest is empty")
    m = xr.DataArray(mask, dims=("y", "x"))
    summed = stack.where(m).sum(("y", "x")).transpose("scan", "fragment")
    t = stack["sputter_time"].values if "sputter_time" in stack.coords else stack["scan"].values.astype(float)
    ds = make_leaf(
        summed.values.T,
        "sputter_time",
        t,
        units=stack.attrs.get("units", "counts"),
        attrs={"technique": "tofsims", "measurement": "depth_profile", "roi_pixels": int(mask.sum())},
        extra_dims={"fragment": [str(f) for f in stack["fragment"].values]},
    ).transpose("sputter_time", "fragment")
    return ds.assign_coords(scan=("sputter_time", stack["scan"].values))


def lateral_map(stack: xr.DataArray, scans: slice | tuple[int, int] | None = None, fragment: str | None = None):
    """Image ``(y, x[, fragment])`` summed over a range of scans (inclusive scan numbers)."""
    _check(stack)
    sub = stack
    if scans is not None:
        lo, hi = (scans.start, scans.stop) if isinstance(scans, slice) else scans
        sub = stack.sel(scan=slice(lo, hi))
        if sub.sizes["scan"] == 0:
            raise SpecfitError(f"no scans in {lo}..{hi}")
    out = sub.sum("scan")
    return out.sel(fragment=fragment) if fragment is not None else out


def orthogonal_slices(stack: xr.DataArray, *, x: int | None = None, y: int | None = None) -> dict[str, xr.DataArray]:
    """Vertical sections through the stack: ``xz`` at row ``y`` and ``yz`` at column ``x`` (indices).

    Defaults are the centre row and column. Each section has dimensions ``(scan, x|y, fragment)``.
    """
    _check(stack)
    y = stack.sizes["y"] // 2 if y is None else y
    x = stack.sizes["x"] // 2 if x is None else x
    if not (0 <= y < stack.sizes["y"] and 0 <= x < stack.sizes["x"]):
        raise SpecfitError(f"slice position (x={x}, y={y}) is outside the image")
    return {"xz": stack.isel(y=y), "yz": stack.isel(x=x)}
