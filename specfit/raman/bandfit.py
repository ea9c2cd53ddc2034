"""Raman band fitting: preprocessing + the fitting engine + area fractions per species, and species maps.

:func:`fit_bands` despikes (Whitaker–Hayes), optionally subtracts a pybaselines baseline (by default
the background is a polynomial inside the fit model instead: a baseline estimated before the fit
takes area from overlapping bands), fits a model (a Raman template such as ``"thiophosphate"``, a
model file or a :class:`~specfit.model.Model`) with :func:`specfit.fit`, and reports the bands with
their species from ``reference_library/raman/bands.toml`` and the area fractions per species.

On a map ``(y, x, raman_shift)`` the same call fits every spectrum with one model (the engine's
stack path: the vectorised batch solver when installed); :func:`species_maps` turns the result into
species-fraction images and :func:`plot_species_maps` draws them with a colour bar each.

Area fractions are fractions of the fitted band areas. Raman cross-sections differ between
species, so they are proportional to the amounts only up to those (unknown) factors: compare them
between samples rather than reading them as mole fractions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..backgrounds import Background, background_from_dict
from ..conventions import INTENSITY
from ..errors import SpecfitError
from ..fitting import fit
from ..fitting.engine import _pick_dataset, propagate
from ..lineshapes import parse_shape
from ..model.core import CompiledModel, Model, load_model
from ..results import FitResult, FitStackResult
from . import preprocess as pp
from .library import bands

__all__ = [
    "BandFit",
    "DEFAULT_PREPROCESS",
    "band_table",
    "fit_bands",
    "plot_species_maps",
    "species_maps",
    "species_of",
    "species_table",
]

#: Default preprocessing of :func:`fit_bands`: despike only; the background is fitted by the model.
DEFAULT_PREPROCESS: dict[str, Any] = {"despike": True, "baseline": None, "smooth": None}


@dataclass
class BandFit:
    """What :func:`fit_bands` returns.

    Attributes
    ----------
    result
        The engine's :class:`~specfit.results.FitResult` (one spectrum) or
        :class:`~specfit.results.FitStackResult` (map, series).
    data
        The preprocessed data that was fitted (with its ``processing`` history).
    model
        The model used (after the ``shape``/``background`` overrides).
    """

    result: FitResult | FitStackResult
    data: xr.Dataset
    model: Model

    @property
    def bands(self) -> pd.DataFrame:
        """One row per band (per spectrum and band for stacks): position, FWHM, area, area fraction,
        errors, and the species of the band."""
        return band_table(self.result)

    @property
    def species(self) -> pd.DataFrame | xr.Dataset:
        """Area fractions per species: a table for one spectrum, images (:func:`species_maps`) for a stack."""
        if isinstance(self.result, FitResult):
            return species_table(self.result)
        maps = species_maps(self.result)
        for d in maps.dims:  # keep the map's coordinate units (µm ...) for the axis labels
            if d in self.data.coords:
                maps[d].attrs.update(self.data[d].attrs)
        return maps

    def plot(self, **kwargs: Any):
        """The fit (one spectrum) or the species-fraction maps (stacks)."""
        if isinstance(self.result, FitResult):
            return self.result.plot(**kwargs)
        return plot_species_maps(self.species, **kwargs)


# ------------------------------------------------------------------------------------ species


def species_of(component: str) -> str:
    """The species of a fit component, from the band library.

    A component named like a library band (``"PS4"``, ``"S8_473"``) gets that band's species
    (``"PS4(3-)"``); a component named like a species (``"Li2S"``, ``"SO4"``) gets the species; any
    other name is its own species.
    """
    key = component.lower()
    library = bands()
    for band in library:
        if band.name.lower() == key:
            return band.species
    for band in library:
        if band.species.split("(")[0].strip().lower() == key or band.species.lower() == key:
            return band.species
    return component


def _species_key(species: str) -> str:
    """A variable name for a species: ``"PS4(3-)"`` -> ``"PS4"`` (charges dropped, unsafe characters -> ``_``)."""
    return re.sub(r"[^0-9A-Za-z_]+", "_", species.split("(")[0].strip()) or "species"


def _species_groups(components: list[str], use_library: bool) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for j, comp in enumerate(components):
        sp = species_of(comp) if use_library else comp
        groups.setdefault(sp, []).append(j)
    return groups


def band_table(result: FitResult | FitStackResult) -> pd.DataFrame:
    """The engine's per-line table with a ``species`` column (from the band library for Raman fits)."""
    use_library = result.axis == "raman_shift"
    table = result.table()
    table["species"] = [species_of(c) if use_library else c for c in table["component"]]
    return table


def _fraction_function(compiled: CompiledModel, groups: dict[str, list[int]]):
    def func(P: np.ndarray) -> np.ndarray:
        v = compiled.values(P)
        areas = np.stack([v[line.area] for line in compiled.lines], axis=1)
        total = areas.sum(axis=1, keepdims=True)
        sums = np.stack([areas[:, idx].sum(axis=1) for idx in groups.values()], axis=1)
        return sums / np.where(total != 0, total, np.nan)

    return func


def species_table(result: FitResult) -> pd.DataFrame:
    """Area and area fraction per species for one fitted spectrum.

    Columns: ``species``, ``bands`` (the fit components, comma-separated), ``area``, ``area_error``,
    ``area_fraction``, ``area_fraction_error``. Errors are propagated from the fit covariance
    (correlations between overlapping bands included).
    """
    if not isinstance(result, FitResult):
        raise SpecfitError("species_table takes the result of one spectrum; for stacks use species_maps")
    t = band_table(result)
    lines = list(t["name"])
    groups: dict[str, list[int]] = {}
    for j, sp in enumerate(t["species"]):
        groups.setdefault(sp, []).append(j)
    compiled = CompiledModel(result.model, result.model.make_params(result.axis), result.axis)
    if [line.name for line in compiled.lines] != lines:
        raise SpecfitError("the result's lines do not match its model")
    P = np.array([[result.params[name].value for name in result.free]])
    cov = np.nan_to_num(np.asarray(result.covariance, float))[None]
    func = _fraction_function(compiled, groups)
    fractions = func(P)[0]
    fraction_err = propagate(func, P, cov)[0] if P.shape[1] else np.zeros_like(fractions)

    def area_sums(Q: np.ndarray) -> np.ndarray:
        v = compiled.values(Q)
        areas = np.stack([v[line.area] for line in compiled.lines], axis=1)
        return np.stack([areas[:, idx].sum(axis=1) for idx in groups.values()], axis=1)

    areas = area_sums(P)[0]
    area_err = propagate(area_sums, P, cov)[0] if P.shape[1] else np.zeros_like(areas)
    ok = bool(np.all(np.isfinite(result.covariance)))
    rows = []
    for k, (sp, idx) in enumerate(groups.items()):
        rows.append(
            {
                "species": sp,
                "bands": ",".join(lines[j] for j in idx),
                "area": float(areas[k]),
                "area_error": float(area_err[k]) if ok else np.nan,
                "area_fraction": float(fractions[k]),
                "area_fraction_error": float(fraction_err[k]) if ok else np.nan,
            }
        )
    return pd.DataFrame(rows)


def species_maps(result: FitStackResult | BandFit) -> xr.Dataset:
    """Species area-fraction images from a stack fit (a map, or any series).

    Returns
    -------
    xarray.Dataset
        Over the stack's dimensions (``y``, ``x`` for a map): one variable per species (named by the
        species without its charge, ``"PS4"`` for ``PS4(3-)``; attribute ``species`` holds the full
        name and ``bands`` the components summed) with the area fraction, ``<name>_error`` (the
        propagated standard error where the species has one band; summed species have NaN because
        the stack result does not keep the covariance), plus ``total_area`` and ``success``.
    """
    if isinstance(result, BandFit):
        result = result.result
    if not isinstance(result, FitStackResult):
        raise SpecfitError("species_maps needs the result of a stack (map/series) fit; use species_table for one")
    ds = result.dataset
    dims = [d for d in ds["chisqr"].dims]
    components = [str(c) for c in ds["component"].values]
    groups = _species_groups(components, result.axis == "raman_shift")
    area = ds["area"].transpose(*dims, "line")
    total = area.sum("line")
    safe_total = total.where(total != 0)
    out = xr.Dataset(coords={d: ds[d] for d in dims if d in ds.coords})
    taken: set[str] = set()
    for sp, idx in groups.items():
        key = _species_key(sp)
        while key in taken or key in ("total_area", "success"):
            key += "_"
        taken.add(key)
        sub = area.isel(line=idx).sum("line")
        frac = (sub / safe_total).assign_attrs(
            species=sp,
            bands=",".join(str(ds["line"].values[j]) for j in idx),
            long_name=f"{sp} area fraction",
            units="1",
        )
        out[key] = frac
        if len(idx) == 1:
            err = ds["area_fraction_error"].transpose(*dims, "line").isel(line=idx[0]).drop_vars("line")
        else:
            err = xr.full_like(frac, np.nan)
        out[f"{key}_error"] = err.assign_attrs(long_name=f"{sp} area fraction standard error", units="1")
    out["total_area"] = total.assign_attrs(long_name="total band area")
    out["success"] = ds["success"]
    out.attrs = {"species": ",".join(groups), "axis": result.axis}
    return out


def plot_species_maps(
    maps: xr.Dataset | FitStackResult | BandFit,
    *,
    species: list[str] | None = None,
    cmap: str = "viridis",
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
    ncols: int | None = None,
):
    """One image per species (area fraction), each with its colour bar.

    Parameters
    ----------
    maps
        :func:`species_maps` output, or a stack result (converted with it).
    species
        Which species' variables to draw (default: all).
    vmin, vmax
        Colour limits (``None``: each image's own range).

    Returns
    -------
    matplotlib.figure.Figure
        Pixels whose fit did not converge (``success == 0``) are marked with a red ``x``.
    """
    import matplotlib.pyplot as plt

    if not isinstance(maps, xr.Dataset):
        maps = species_maps(maps)
    names = [v for v in maps.data_vars if "species" in maps[v].attrs and not v.endswith("_error")]
    if species is not None:
        wanted = {s.lower() for s in species}
        names = [v for v in names if v.lower() in wanted or maps[v].attrs["species"].lower() in wanted]
    if not names:
        raise SpecfitError("no species images to plot")
    dims = list(maps[names[0]].dims)
    if len(dims) not in (1, 2):
        raise SpecfitError(f"species maps over {dims} cannot be drawn (1 or 2 dimensions)")
    failed = (maps["success"] == 0) if "success" in maps else None
    ncols = ncols or min(len(names), 3)
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.6 * nrows), squeeze=False)
    for ax in axes.flat[len(names) :]:
        ax.set_visible(False)
    for ax, name in zip(axes.flat, names):
        img = maps[name]
        label = img.attrs.get("long_name", name)
        if len(dims) == 1:
            d = dims[0]
            ax.plot(img[d].values if d in img.coords else np.arange(img.size), img.values, "o-")
            ax.set_xlabel(_axis_label(img, d))
            ax.set_ylabel(label)
            if vmin is not None and vmax is not None:
                ax.set_ylim(vmin, vmax)
            continue
        ydim, xdim = dims
        xs = img[xdim].values if xdim in img.coords else np.arange(img.sizes[xdim])
        ys = img[ydim].values if ydim in img.coords else np.arange(img.sizes[ydim])
        mesh = ax.pcolormesh(xs, ys, img.values, cmap=cmap, vmin=vmin, vmax=vmax, shading="nearest")
        ax.set_aspect("equal" if _same_units(img, xdim, ydim) else "auto")
        ax.set_xlabel(_axis_label(img, xdim))
        ax.set_ylabel(_axis_label(img, ydim))
        ax.set_title(img.attrs.get("species", name))
        fig.colorbar(mesh, ax=ax, label="area fraction")
        if failed is not None and failed.any():
            # fits that did not converge (or have no error estimate) are marked, not hidden: a
            # species absent from a pixel can leave its area on the zero bound without an error
            iy, ix = np.nonzero(failed.transpose(ydim, xdim).values)
            ax.plot(xs[ix], ys[iy], "x", color="red", ms=6, mew=1.2, label="fit not converged")
    if failed is not None and failed.any():
        fig.suptitle(f"x: fit did not converge or has no error estimate ({int(failed.sum())} of {failed.size})")
    fig.tight_layout()
    return fig


def _axis_label(da: xr.DataArray, dim: str) -> str:
    units = da[dim].attrs.get("units", "") if dim in da.coords else ""
    return f"{dim} ({units})" if units else dim


def _same_units(da: xr.DataArray, a: str, b: str) -> bool:
    ua = da[a].attrs.get("units") if a in da.coords else None
    ub = da[b].attrs.get("units") if b in da.coords else None
    return ua is not None and ua == ub


# ------------------------------------------------------------------------------------ fitting


def _as_model(model: Model | str | Path) -> Model:
    if isinstance(model, Model):
        return model
    return load_model(model)


def _override(model: Model, shape: str | None, background: str | dict | Background | None) -> Model:
    """A copy of ``model`` with every component's line shape and/or the background replaced."""
    spec = model.to_dict()
    if shape is not None:
        parse_shape(shape)  # raise ModelError now for a bad shape
        for comp in spec["components"]:
            comp["shape"] = shape
    if isinstance(background, Background):
        new = Model.from_dict(spec)
        return Model(new.components, background, new.range, new.name, new.description)
    if background is not None:
        if isinstance(background, str):
            kind, _, degree = background.partition(":")
            background = {"type": kind.strip()}
            if degree:
                background["degree"] = int(degree)
        background_from_dict(background)  # validate
        spec["background"] = dict(background)
    return Model.from_dict(spec)


def _options(step: str, value: Any, defaults: dict[str, Any], scalar_key: str | None) -> dict[str, Any] | None:
    """``True`` -> defaults, ``False``/``None`` -> off, a dict -> its options, a scalar -> ``scalar_key``."""
    if value is None or value is False:
        return None
    if value is True:
        return dict(defaults)
    if isinstance(value, dict):
        return {**defaults, **value}
    if scalar_key is not None and isinstance(value, str | int) and not isinstance(value, bool):
        return {**defaults, scalar_key: value}
    raise SpecfitError(f"preprocessing step {step!r}: option {value!r} not understood")


def _run_step(step: str, func, *args: Any, **options: Any):
    try:
        return func(*args, **options)
    except TypeError as exc:  # an option the step does not take
        raise SpecfitError(f"preprocessing step {step!r}: {exc}") from exc


def fit_bands(
    data: Any,
    model: Model | str | Path = "thiophosphate",
    *,
    preprocess: dict[str, Any] | None = None,
    shape: str | None = None,
    background: str | dict | Background | None = None,
    region: str | None = None,
    range: tuple[float, float] | None = None,  # noqa: A002  (same keyword as specfit.fit)
    **fit_options: Any,
) -> BandFit:
    """Preprocess Raman data and fit bands; report area fractions per species.

    Parameters
    ----------
    data
        A spectrum or a map/series (DataTree, Dataset with ``intensity``, or DataArray) on a
        ``raman_shift`` axis.
    model
        A template name (``"thiophosphate"``, ``"polysulfide-sulfate"``), a model file or a Model.
    preprocess
        Steps before the fit, in this order: ``despike`` (``True`` or options of
        :func:`specfit.raman.despike`), ``baseline`` (``None``; or a pybaselines method name /
        ``{"method": "arpls", "lam": 1e5}`` for :func:`specfit.raman.remove_baseline`), ``smooth``
        (``None`` or a Savitzky–Golay window). Missing keys take :data:`DEFAULT_PREPROCESS`
        (despike on, no baseline, no smoothing: the model's background is fitted with the bands).
        Smoothing correlates neighbouring points, so the fit's error estimates shrink below the
        truth; prefer no smoothing for quantitative work.
    shape
        Replace every component's line shape (``"lorentzian"``, ``"voigt(3.5)"`` with the
        instrument's Gaussian FWHM, ``"pseudo_voigt(0.7)"``).
    background
        Replace the model's background: ``"linear"``, ``"polynomial:2"``, a dict as in the model file,
        or a Background.
    region, range
        As in :func:`specfit.fit`; ``range`` overrides the template's fit window.
    **fit_options
        Passed to :func:`specfit.fit` (``solver``, ``seed``, ``max_nfev``, ``monte_carlo``, ``weights``).

    Returns
    -------
    BandFit
        ``.result`` (engine result), ``.bands`` (band table with species), ``.species`` (per-species
        area fractions: a table, or fraction images for a map), ``.data`` (what was fitted).
    """
    steps = {**DEFAULT_PREPROCESS, **(preprocess or {})}
    unknown = set(steps) - set(DEFAULT_PREPROCESS)
    if unknown:
        raise SpecfitError(f"unknown preprocessing step(s) {sorted(unknown)}; known: despike, baseline, smooth")
    obj = _pick_dataset(data, region)
    ds = obj.to_dataset(name=INTENSITY) if isinstance(obj, xr.DataArray) else obj
    if INTENSITY not in ds:
        raise SpecfitError("the data has no 'intensity' variable")
    fitted_model = _override(_as_model(model), shape, background)
    weights = fit_options.pop("weights", "auto")

    despike_opts = _options("despike", steps["despike"], {}, None)
    baseline_opts = _options("baseline", steps["baseline"], {"method": "arpls"}, "method")
    smooth_opts = _options("smooth", steps["smooth"], {"window": 11}, "window")
    if despike_opts is not None:
        ds = _run_step("despike", pp.despike, ds, **despike_opts)
    # the noise of the measured counts sets the weights, whatever is subtracted afterwards: keep it
    # as ``intensity_error`` (√counts, lazily for dask data), which fit() turns into the weights
    counts = str(ds[INTENSITY].attrs.get("units", "")) == "counts"
    if (baseline_opts is not None or smooth_opts is not None) and counts and "intensity_error" not in ds:
        error = np.sqrt(ds[INTENSITY].clip(min=1.0))
        ds = ds.assign(intensity_error=error.assign_attrs(units="counts", long_name="Poisson error of the raw counts"))
    if baseline_opts is not None:
        method = baseline_opts.pop("method")
        ds, _ = _run_step("baseline", pp.remove_baseline, ds, method, **baseline_opts)
    if smooth_opts is not None:
        ds = _run_step("smooth", pp.smooth, ds, **smooth_opts)
    result = fit(ds, fitted_model, range=range, weights=weights, **fit_options)
    return BandFit(result=result, data=ds, model=fitted_model)
