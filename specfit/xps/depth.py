"""XPS depth profiles: one model fitted to every etch level, species fractions against etch time and depth.

:func:`depth_profile` fits the stack with the engine's stack path (:func:`specfit.fit`: the batch
solver when installed, else lmfit spectrum by spectrum), then reports per etch level each
component's total area (both spin-orbit lines) and its fraction of the region, with errors, on the
etch-time axis and -- given a sputter rate -- on a depth axis (``depth = rate × etch time``; a
constant rate is the usual first approximation: preferential sputtering and rate changes between
layers are not modelled). :func:`plot_depth_profile` draws the fractions.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import FitError, SpecfitError
from ..model import Model

__all__ = ["TIME_COORDS", "depth_profile", "plot_depth_profile", "profile_records"]

#: coordinates read as the etch time (s), in this order
TIME_COORDS = ("etch_time", "sputter_time", "time")


def _time_axis(obj: xr.Dataset | xr.DataArray, dim: str) -> np.ndarray | None:
    for name in TIME_COORDS:
        if name in obj.coords and obj[name].dims == (dim,):
            return np.asarray(obj[name].values, dtype=float)
    return None


def depth_profile(
    data: Any,
    model: Model | str | Path,
    *,
    rate_nm_per_s: float | None = None,
    region: str | None = None,
    **fit_options: Any,
) -> xr.Dataset:
    """Fit every etch level with one model and tabulate species fractions against etch time and depth.

    Parameters
    ----------
    data
        A tree or dataset holding a stack: intensity over one series dimension (``etch_level``,
        ``etch_time``, ``sputter_time`` ...) and the energy axis. The etch time is the series
        dimension itself when it is a time, else a coordinate ``etch_time``/``sputter_time``/``time``
        along it (in seconds).
    model
        A :class:`~specfit.model.Model`, model file or template name.
    rate_nm_per_s
        Sputter rate; gives the ``depth`` coordinate (nm). ``None``: no depth axis.
    region
        Which spectrum of a tree (as in :func:`specfit.fit`).
    fit_options
        Passed to :func:`specfit.fit` (``solver``, ``seed``, ``weights``, ``range`` ...).

    Returns
    -------
    xarray.Dataset
        Over ``(<series dim>, component)``: ``area``, ``area_error`` (component totals),
        ``fraction``, ``fraction_error`` (of the region's total, 0-1), ``position`` (main line);
        over the series dim: ``redchi``, ``success``; coordinates ``etch_time`` (s) and ``depth``
        (nm) when known. ``attrs`` hold the rate, the region and the model as TOML.

    Raises
    ------
    FitError
        When the data is not a stack with one series dimension, or no etch time is found but a
        rate is given.
    """
    from ..fitting import fit
    from ..fitting.engine import _pick_dataset
    from ..model import load_model
    from ..results import FitStackResult

    if not isinstance(model, Model):
        model = load_model(model)
    if rate_nm_per_s is not None and not (math.isfinite(rate_nm_per_s) and rate_nm_per_s > 0):
        raise SpecfitError(f"sputter rate must be a positive number (nm/s), got {rate_nm_per_s!r}")
    leaf = _pick_dataset(data, region)
    result = fit(leaf, model, **fit_options)
    if not isinstance(result, FitStackResult):
        raise FitError("a depth profile needs a stack (intensity over etch levels and energy); this is one spectrum")
    ds = result.dataset
    dims = list(ds["chisqr"].dims)
    if len(dims) != 1:
        raise FitError(f"a depth profile has one series dimension; this stack has {dims}")
    dim = dims[0]
    time = _time_axis(leaf, dim)
    if time is None and dim in ("etch_time", "sputter_time", "time"):
        time = np.asarray(ds[dim].values, dtype=float)
    if time is None and rate_nm_per_s is not None:
        raise FitError(f"no etch time along {dim!r} (coordinate {' / '.join(TIME_COORDS)}): cannot convert to depth")

    owners = [str(v) for v in ds["component"].values]
    # one row per component: its first (main) line, which carries the component's total area
    main = [j for j, owner in enumerate(owners) if owners.index(owner) == j]
    components = [owners[j] for j in main]

    def pick(name: str) -> xr.DataArray:
        return ds[name].isel(line=main).rename(line="component").assign_coords(component=components)

    out = xr.Dataset(
        {
            "area": pick("component_area"),
            "area_error": pick("component_area_error"),
            "fraction": pick("component_area_fraction"),
            "fraction_error": pick("component_area_fraction_error"),
            "position": pick("position"),
            "redchi": ds["redchi"],
            "success": ds["success"].astype(bool),
        }
    )
    out = out.drop_vars("line", errors="ignore")
    if time is not None:
        out = out.assign_coords(etch_time=(dim, time, {"units": "s"}))
        if rate_nm_per_s is not None:
            out = out.assign_coords(depth=(dim, time * float(rate_nm_per_s), {"units": "nm"}))
    attrs = getattr(leaf, "attrs", {})
    out.attrs = {
        "region": str(attrs.get("region", region or "")),
        "sample": str(attrs.get("sample", "")),
        "rate_nm_per_s": float(rate_nm_per_s) if rate_nm_per_s is not None else float("nan"),
        "model": model.to_toml(),
        "solver": str(ds.attrs.get("solver", "")),
    }
    for key in ("charge_shift_ev", "charge_reference"):  # the referencing the fitted data carried
        if key in attrs:
            out.attrs[key] = attrs[key]
    return out


def profile_records(profile: xr.Dataset) -> list[dict[str, Any]]:
    """One JSON-ready entry per etch level: coordinates, and per component area, fraction (with errors)."""
    dim = next(d for d in profile["area"].dims if d != "component")
    comps = [str(c) for c in profile["component"].values]
    records = []
    for i in range(profile.sizes[dim]):
        level = profile.isel({dim: i})
        entry: dict[str, Any] = {dim: level[dim].item() if dim in level.coords else i}
        for coord in ("etch_time", "depth"):
            if coord in level.coords:
                entry[coord] = float(level[coord])
        entry["success"] = bool(level["success"])
        entry["redchi"] = float(level["redchi"])
        entry["components"] = {
            c: {
                "area": float(level["area"].sel(component=c)),
                "area_error": float(level["area_error"].sel(component=c)),
                "fraction": float(level["fraction"].sel(component=c)),
                "fraction_error": float(level["fraction_error"].sel(component=c)),
                "position": float(level["position"].sel(component=c)),
            }
            for c in comps
        }
        records.append(entry)
    return records


def plot_depth_profile(profile: xr.Dataset, ax=None, *, against: str | None = None):
    """Species fractions (%) with error bars against depth (when known) or etch time; returns the figure."""
    import matplotlib.pyplot as plt

    dim = next(d for d in profile["area"].dims if d != "component")
    if against is None:
        against = "depth" if "depth" in profile.coords else ("etch_time" if "etch_time" in profile.coords else dim)
    x = np.asarray(profile[against].values if against in profile.coords else np.arange(profile.sizes[dim]), float)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4))
    else:
        fig = ax.figure
    for comp in profile["component"].values:
        frac = 100 * profile["fraction"].sel(component=comp).values
        err = 100 * profile["fraction_error"].sel(component=comp).values
        ax.errorbar(x, frac, yerr=err, marker="o", capsize=3, label=str(comp))
    units = {"depth": "nm", "etch_time": "s"}.get(against, "")
    ax.set_xlabel(f"{against.replace('_', ' ')}" + (f" ({units})" if units else ""))
    ax.set_ylabel("fraction of region (%)")
    title = " ".join(str(profile.attrs.get(k, "")) for k in ("sample", "region")).strip()
    if title:
        ax.set_title(title)
    ax.legend()
    return fig
