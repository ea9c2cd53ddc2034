"""Charge referencing of XPS spectra: shift every region of a sample by one energy offset.

Insulating samples (sulfide electrolytes, oxide coatings) charge under the X-ray beam, which moves
all their peaks by the same amount. The usual correction measures a reference peak -- adventitious
carbon C 1s (C-C/C-H), conventionally put at 284.8 eV -- and shifts the energy axis of every region
of the same sample by ``delta = target - measured``.

:func:`charge_reference` finds the reference peak (a fit with the fitting engine of the C-C/C-H line,
a C-O shoulder with the same width and a Shirley background -- :func:`reference_model`, the first two
components of the ``c1s-adventitious`` template), applies the shift and records it; :func:`shift` applies a known
offset. Both are pure: they return new objects and leave their input untouched. The shift is
recorded in the attributes of each shifted leaf (and of the tree root when the whole tree moved by
one offset) so that fits and results made later carry it:

- ``charge_shift_ev``: the total offset applied so far (offsets of repeated calls add up);
- ``charge_reference``: a JSON string ``{"level", "measured_ev", "target_ev", "delta_ev", "method",
  "region_path"}`` describing the last referencing (read it with :func:`charge_reference_info`).

``binding_energy`` moves by ``+delta``; a ``kinetic_energy`` axis or coordinate moves by ``-delta``
(``BE = hν - KE - φ``, so a charge correction that raises BE lowers KE).

Note on the reference itself: 284.8 eV for adventitious carbon is a convention with a spread of
several tenths of an eV (Greczynski & Hultman, Prog. Mater. Sci. 107, 100591 (2020),
DOI 10.1016/j.pmatsci.2019.100591). Report the reference used -- the attributes do.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from ..conventions import INTENSITY, leaves
from ..errors import FitError, SpecfitError
from ..model import Model, Peak
from .library import UnknownEntryError, normalize_level

__all__ = [
    "PeakLocation",
    "charge_reference",
    "charge_reference_info",
    "locate_peak",
    "reference_model",
    "shift",
]

#: Search half-width (eV) around an expected position when looking for the reference maximum.
_SEARCH_HALF_WIDTH = 4.0
#: Fit window around the maximum (eV): below / above. Wide enough for the C-O shoulder at +1.5 eV,
#: narrow enough to leave out carbonate (~+5 eV) that would need more components.
_WINDOW_BELOW, _WINDOW_ABOVE = 2.5, 3.0


@dataclass(frozen=True)
class PeakLocation:
    """Where the reference peak was found."""

    position: float
    error: float
    method: str
    fwhm: float = math.nan


def _same_level(region: Any, level: str) -> bool:
    if not isinstance(region, str) or not region.strip():
        return False
    try:
        return normalize_level(region)[0] == normalize_level(level)[0]
    except UnknownEntryError:
        return region.strip().lower() == level.strip().lower()


def _binding_energy(ds: xr.Dataset) -> np.ndarray:
    """Binding-energy values along the spectral axis of a leaf."""
    if "binding_energy" in ds[INTENSITY].dims:
        return np.asarray(ds["binding_energy"].values, dtype=float)
    if "kinetic_energy" in ds[INTENSITY].dims:
        hv = ds.attrs.get("excitation_energy_ev")
        if not isinstance(hv, int | float) or not math.isfinite(hv):
            raise SpecfitError(
                "the reference region has a kinetic-energy axis and no 'excitation_energy_ev' attribute: "
                "cannot place it on the binding-energy scale"
            )
        work_function = ds.attrs.get("work_function_ev", 0.0)
        work_function = float(work_function) if isinstance(work_function, int | float) else 0.0
        return float(hv) - np.asarray(ds["kinetic_energy"].values, dtype=float) - work_function
    raise SpecfitError(f"region has no energy axis (dims {tuple(ds[INTENSITY].dims)})")


def _summed_intensity(ds: xr.Dataset) -> np.ndarray:
    """The intensity along the energy axis, summed over any series dimensions (etch levels, scans)."""
    da = ds[INTENSITY]
    axis = "binding_energy" if "binding_energy" in da.dims else "kinetic_energy"
    others = [d for d in da.dims if d != axis]
    if others:
        da = da.sum(dim=others)
    return np.asarray(da.values, dtype=float)


def locate_peak(
    energy: np.ndarray,
    intensity: np.ndarray,
    *,
    expected: float | None = None,
    method: str = "fit",
) -> PeakLocation:
    """Locate the main peak of a reference region on the binding-energy scale.

    Parameters
    ----------
    energy, intensity
        Binding energy (any order) and intensity.
    expected
        Where to look (eV); the maximum is searched within ±4 eV of it. ``None``: global maximum.
    method
        ``"fit"`` (default): GL(30) main line plus a shoulder 1.0-2.5 eV above it (C-O of
        adventitious carbon, same width) on a Shirley background, fitted with the fitting engine in
        a window of -2.5/+3.0 eV around the maximum (:func:`reference_model`). ``"max"``: the
        maximum of the smoothed spectrum refined by a parabola through the three highest points
        (quick, biased by shoulders).

    Raises
    ------
    FitError
        When no peak can be located (too few points, flat or non-finite data, failed fit).
    """
    x = np.asarray(energy, dtype=float)
    y = np.asarray(intensity, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    order = np.argsort(x)
    x, y = x[order], y[order]
    if x.size < 7:
        raise FitError(f"reference region has {x.size} usable points; cannot locate a peak")
    search = np.ones_like(x, dtype=bool)
    if expected is not None:
        search = np.abs(x - expected) <= _SEARCH_HALF_WIDTH
        if search.sum() < 5:
            raise FitError(
                f"reference region ({x[0]:.2f}-{x[-1]:.2f} eV) does not cover {expected:.2f} ± {_SEARCH_HALF_WIDTH} eV"
            )
    from scipy.signal import savgol_filter

    window = max(5, (int(x.size * 0.02) // 2) * 2 + 1)
    smooth = savgol_filter(y, window_length=min(window, x.size - (1 - x.size % 2)), polyorder=2)
    idx_candidates = np.flatnonzero(search)
    i_max = int(idx_candidates[np.argmax(smooth[search])])
    if np.ptp(smooth[search]) <= 1e-9 * max(float(np.max(np.abs(smooth[search]))), 1e-300):
        raise FitError("reference region is flat: no peak to locate")

    if method == "max":
        i = int(np.clip(i_max, 1, x.size - 2))
        x3, y3 = x[i - 1 : i + 2], smooth[i - 1 : i + 2]
        a, b, _ = np.polyfit(x3, y3, 2)
        position = float(-b / (2 * a)) if a < 0 else float(x[i])
        step = float(np.median(np.diff(x)))
        return PeakLocation(position=position, error=step / 2, method="max")
    if method != "fit":
        raise SpecfitError(f"unknown peak-location method {method!r}; use 'fit' or 'max'")

    x0 = float(x[i_max])
    sel = (x >= x0 - _WINDOW_BELOW) & (x <= x0 + _WINDOW_ABOVE)
    if sel.sum() < 7:
        raise FitError(f"too few points ({int(sel.sum())}) around the reference maximum at {x0:.2f} eV")
    return _fit_reference(x[sel], y[sel], x0)


def reference_model(x0: float, shape: str = "GL(30)") -> Model:
    """The engine model used to locate the adventitious-carbon C 1s line near ``x0`` eV.

    The ``c1s-adventitious`` template's first two components (C-C/C-H and C-O, 1.0-2.5 eV above it,
    with a shared width) on a Shirley background, with the main line free within ±1 eV of ``x0``:
    the species windows of the template assume referenced data, which this data is not yet.
    """
    from ..backgrounds import Shirley

    return Model(
        [
            Peak(
                "CC",
                shape,
                position=x0,
                fwhm=1.2,
                position_min=x0 - 1.0,
                position_max=x0 + 1.0,
                fwhm_min=0.4,
                fwhm_max=3.0,
            ),
            Peak("CO", shape, position="CC + 1.5", fwhm="CC", position_offset_min=1.0, position_offset_max=2.5),
        ],
        Shirley(),
        (x0 - _WINDOW_BELOW, x0 + _WINDOW_ABOVE),
        name="charge reference (C 1s)",
    )


def _fit_reference(xs: np.ndarray, ys: np.ndarray, x0: float) -> PeakLocation:
    """Fit :func:`reference_model` with the fitting engine (lmfit) and return the main line's position."""
    import warnings

    from ..fitting import FitWarning, fit

    data = xr.DataArray(ys, dims="binding_energy", coords={"binding_energy": xs}, attrs={"units": "counts"})
    # the data's units are unknown here (counts or counts/s): unweighted least squares
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)  # judged below from the result itself
        try:
            result = fit(data, reference_model(x0), weights="none")
        except SpecfitError as exc:
            raise FitError(f"reference-peak fit failed: {exc}") from exc
    row = result.table().set_index("name").loc["CC"]
    position = float(row["position"])
    if not result.success or not np.isfinite(position):
        raise FitError(f"reference-peak fit did not converge: {result.message}")
    if not float(row["area"]) > 0:
        raise FitError(f"no peak above the background near {x0:.2f} eV")
    if "CC_position" in result.at_bound:
        raise FitError(f"reference peak ended on the edge of its ±1 eV search range around {x0:.2f} eV")
    error = float(row["position_error"])
    return PeakLocation(
        position=position,
        error=error if np.isfinite(error) else math.nan,
        method="fit",
        fwhm=float(row["true_fwhm"]),
    )


# --------------------------------------------------------------------------------------------------
# applying shifts
# --------------------------------------------------------------------------------------------------


def _shift_dataset(ds: xr.Dataset, delta: float, record: dict[str, Any]) -> xr.Dataset:
    new = ds.copy(deep=False)
    coords = {}
    if "binding_energy" in ds.coords:
        coords["binding_energy"] = ds["binding_energy"] + delta
    if "kinetic_energy" in ds.coords:
        coords["kinetic_energy"] = ds["kinetic_energy"] - delta
    if coords:
        new = new.assign_coords({name: (value.dims, value.values, ds[name].attrs) for name, value in coords.items()})
    attrs = dict(ds.attrs)
    previous = attrs.get("charge_shift_ev", 0.0)
    previous = float(previous) if isinstance(previous, int | float) and math.isfinite(previous) else 0.0
    attrs["charge_shift_ev"] = previous + float(delta)
    attrs["charge_reference"] = json.dumps(record)
    new.attrs = attrs
    return new


def _is_tree(obj: Any) -> bool:
    return isinstance(obj, xr.DataTree)


def _apply(tree: xr.DataTree, shifts: dict[str, tuple[float, dict[str, Any]]]) -> xr.DataTree:
    """A copy of ``tree`` with the leaves at the given paths shifted."""
    new = tree.copy(deep=False)
    for path, (delta, record) in shifts.items():
        node = new[path] if path not in ("", "/") else new
        node.dataset = _shift_dataset(node.to_dataset(inherit=False), delta, record)
    deltas = {round(d, 12) for d, _ in shifts.values()}
    if len(deltas) == 1 and shifts:
        delta, record = next(iter(shifts.values()))
        root_attrs = dict(new.attrs)
        previous = root_attrs.get("charge_shift_ev", 0.0)
        previous = float(previous) if isinstance(previous, int | float) else 0.0
        root_attrs["charge_shift_ev"] = previous + float(delta)
        root_attrs["charge_reference"] = json.dumps(record)
        new.attrs = root_attrs
    return new


def shift(obj: xr.DataTree | xr.Dataset, delta: float) -> xr.DataTree | xr.Dataset:
    """Shift every region of a tree (or one dataset) by ``delta`` eV of binding energy.

    ``binding_energy`` moves by ``+delta``, ``kinetic_energy`` by ``-delta``; ``charge_shift_ev``
    accumulates. Returns a new object.
    """
    delta = float(delta)
    if not math.isfinite(delta):
        raise SpecfitError(f"charge shift must be a finite number, got {delta!r}")
    record = {"method": "manual", "delta_ev": delta}
    if isinstance(obj, xr.Dataset):
        return _shift_dataset(obj, delta, record)
    if not _is_tree(obj):
        raise SpecfitError(f"expected an xarray DataTree or Dataset, got {type(obj).__name__}")
    paths = [path for path, _ in leaves(obj)]
    if not paths:
        raise SpecfitError("tree holds no measurement to shift")
    return _apply(obj, {p: (delta, record) for p in paths})


def _groups(items: Iterable[tuple[str, xr.Dataset]], group_by: str | None) -> dict[Any, list[tuple[str, xr.Dataset]]]:
    groups: dict[Any, list[tuple[str, xr.Dataset]]] = {}
    for path, ds in items:
        key = ds.attrs.get(group_by, "") if group_by else ""
        groups.setdefault(key, []).append((path, ds))
    return groups


def charge_reference(
    obj: xr.DataTree | xr.Dataset,
    reference: str = "C 1s",
    position: float = 284.8,
    measured: float | None = None,
    method: str = "fit",
    *,
    group_by: str | None = "sample",
) -> xr.DataTree | xr.Dataset:
    """Charge-reference a sample: move all its regions so that the reference peak sits at ``position``.

    Parameters
    ----------
    obj
        A DataTree whose leaves carry a ``region`` attribute (``"C 1s"``, ``"S 2p"`` ...) or a
        single Dataset (then it is itself the reference region, unless ``measured`` is given).
    reference
        Region (core level) holding the reference peak.
    position
        Where the reference peak belongs (eV binding energy).
    measured
        The measured position, when known (e.g. from a fit); otherwise it is located with
        :func:`locate_peak` using ``method``.
    method
        ``"fit"`` or ``"max"`` (see :func:`locate_peak`).
    group_by
        Leaves whose ``group_by`` attribute differs (default ``sample``) are referenced separately,
        each to its own reference region; ``None`` treats the whole tree as one sample.

    Returns
    -------
    A new tree / dataset with shifted energy axes and the ``charge_shift_ev`` / ``charge_reference``
    attributes (see the module docstring).

    Raises
    ------
    SpecfitError
        When a sample has no reference region (naming the regions it has) and ``measured`` is not
        given; :class:`~specfit.errors.FitError` when the reference peak cannot be located.
    """
    position = float(position)
    if measured is not None and not math.isfinite(float(measured)):
        raise SpecfitError(f"measured reference position must be finite, got {measured!r}")

    def record_for(measured_value: float, how: str, path: str, error: float = math.nan) -> dict[str, Any]:
        rec = {
            "level": reference,
            "measured_ev": measured_value,
            "target_ev": position,
            "delta_ev": position - measured_value,
            "method": how,
            "region_path": path,
        }
        if math.isfinite(error):
            rec["measured_error_ev"] = error
        return rec

    if isinstance(obj, xr.Dataset):
        if measured is None:
            region = obj.attrs.get("region")
            if region and not _same_level(region, reference):
                raise SpecfitError(
                    f"dataset is region {region!r}, not the reference {reference!r}: pass the whole tree, "
                    "or the measured reference position"
                )
            found = locate_peak(_binding_energy(obj), _summed_intensity(obj), expected=position, method=method)
            rec = record_for(found.position, found.method, "", found.error)
        else:
            rec = record_for(float(measured), "given", "")
        return _shift_dataset(obj, rec["delta_ev"], rec)
    if not _is_tree(obj):
        raise SpecfitError(f"expected an xarray DataTree or Dataset, got {type(obj).__name__}")

    items = list(leaves(obj))
    if not items:
        raise SpecfitError("tree holds no measurement to reference")
    shifts: dict[str, tuple[float, dict[str, Any]]] = {}
    for key, members in _groups(items, group_by).items():
        label = f" of sample {key!r}" if key != "" else ""
        if measured is not None:
            rec = record_for(float(measured), "given", "")
        else:
            refs = [(p, ds) for p, ds in members if _same_level(ds.attrs.get("region"), reference)]
            if not refs:
                regions = sorted({str(ds.attrs.get("region", "?")) for _, ds in members})
                raise SpecfitError(
                    f"no {reference!r} region{label} to reference to (regions: {', '.join(regions)}); "
                    "give the measured position instead"
                )
            path, ds = refs[0]  # a repeated reference region: the first one measured is used
            found = locate_peak(_binding_energy(ds), _summed_intensity(ds), expected=position, method=method)
            rec = record_for(found.position, found.method, path, found.error)
        for path, _ in members:
            shifts[path] = (rec["delta_ev"], rec)
    return _apply(obj, shifts)


def charge_reference_info(obj: xr.DataTree | xr.Dataset) -> dict[str, Any]:
    """The decoded ``charge_reference`` record of a dataset or tree (``{}`` when not referenced)."""
    raw = obj.attrs.get("charge_reference", "")
    if not raw:
        return {}
    info = json.loads(raw)
    info["charge_shift_ev"] = obj.attrs.get("charge_shift_ev", math.nan)
    return info
