"""ToF-SIMS depth profiles: normalisation, smoothing, depth scale, interfaces, steady state, layers.

A depth profile is a leaf dataset with ``intensity`` on ``(sputter_time, fragment)`` as the readers
give it (:mod:`specfit.io.iontof`). Definitions used here (all in linear intensity):

Plateaus
    The signal is segmented into piecewise-constant pieces by optimal partitioning (PELT, least
    squares on a variance-stabilised signal: the Anscombe transform for counts), with a penalty
    ``penalty * sigma**2 * log(n)`` where ``sigma`` is the robust noise (MAD of first differences).
    Segments of at least ``min_plateau`` points are plateaus; neighbouring plateaus whose levels
    do not differ significantly (by less than ``min_step`` relatively, or by less than ``z_min``
    standard errors, or by less than ``min_range_fraction`` of the fragment's full range between
    its lowest and highest segment) are merged, so slow drifts and staircase steps inside a
    transition are not interfaces. A plateau's level is the 10 %-trimmed mean of its raw values
    (the quarter of the plateau next to each transition is left out, so that interface tails do
    not bias it). PELT is written here (about 30 lines) rather than taken from ``ruptures``,
    which is not a dependency.
Interface (50 % of plateau)
    Between two adjacent plateaus with levels ``L1`` (before) and ``L2`` (after), the sputter time
    at which the signal crosses ``L1 + 0.5 (L2 - L1)``. The crossing is read on a monotone
    (isotonic) least-squares fit of the raw signal between the two plateau centres, so noise does
    not create multiple crossings and no smoothing broadens the transition. ``direction`` is
    ``"rise"`` when ``L2 > L1``, else ``"fall"``. A fragment may have several interfaces; an
    intermediate plateau between two transitions of the same direction that is shorter than the
    wider of them is taken as a step of one transition and dropped. ``interface_method="erf"``
    replaces the crossings by an error-function fit (less scatter, biased for asymmetric tails).
Interface width (16-84 %)
    The distance between the crossings of ``L1 + 0.16 (L2 - L1)`` and ``L1 + 0.84 (L2 - L1)``;
    for an error-function interface of standard deviation ``s`` this is ``2 s``.
Steady state
    With ``L_f`` the level of the last plateau (which must reach the end of the profile, give or
    take ``max(4, n/50)`` stray points) and
    ``S`` the signal smoothed by a centred moving average, the steady-state time is the earliest
    sputter time ``t_k`` such that ``|S(t_j) - L_f| <= tolerance * ref`` for every ``j >= k``;
    ``ref = |L_f|``, except when ``L_f`` is below 10 % of the fragment's highest plateau (a
    signal that dies away), where ``ref`` is that highest level. The moving-average window is
    chosen so that the smoothed noise on the final plateau is at most a fifth of the band (at
    least 3 points, at most half the final plateau), unless given. ``None`` when there is no
    final plateau.
Depth
    ``depth = rate * t`` for a constant sputter rate (nm/s), or ``rate = crater_depth / t_end``
    from a measured crater depth. One rate for the whole profile: layers that sputter at
    different rates need their own calibration.
Empty points
    Points where every fragment is 0 (SurfaceLab exports an empty last data point) are left out
    of :func:`analyze_profile`.
Layers
    A fragment that rises and later falls marks a buried layer between the two interfaces; a
    fragment that is on its plateau from the first point and falls marks a surface layer from 0
    to its interface. The thickness is the distance between the 50 % points.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr
from scipy.ndimage import median_filter, uniform_filter1d
from scipy.optimize import isotonic_regression
from scipy.signal import savgol_filter
from scipy.stats import trim_mean

from ..conventions import leaves
from ..errors import SpecfitError
from .fragments import normalize_label

__all__ = [
    "FragmentResult",
    "Interface",
    "Layer",
    "Plateau",
    "ProfileAnalysis",
    "analyze_profile",
    "find_interfaces",
    "find_plateaus",
    "normalize",
    "profile_dataset",
    "select_fragments",
    "smooth",
    "sputter_rate",
    "steady_state_time",
    "with_depth",
]

AXIS = "sputter_time"  # the time axis of a depth profile


# ----------------------------------------------------------------------------------------------
# data handling


def profile_dataset(obj: xr.DataTree | xr.Dataset | xr.DataArray) -> xr.Dataset:
    """The depth-profile leaf of a tree (the first with a ``sputter_time`` axis), or the dataset itself."""
    if isinstance(obj, xr.DataArray):
        obj = obj.to_dataset(name="intensity")
    if isinstance(obj, xr.DataTree):
        for _path, ds in leaves(obj):
            if AXIS in ds["intensity"].dims:
                return ds
        raise SpecfitError("the tree holds no depth profile (no leaf with a sputter_time axis)")
    if AXIS not in obj["intensity"].dims:
        raise SpecfitError(f"not a depth profile: intensity has dimensions {tuple(obj['intensity'].dims)}")
    if "fragment" not in obj["intensity"].dims:
        obj = obj.expand_dims(fragment=["signal"], axis=-1)
    return obj


def _match(names: np.ndarray, wanted: str) -> str:
    key = normalize_label(wanted)
    for name in names:
        if str(name) == wanted:
            return str(name)
    hits = [str(n) for n in names if normalize_label(n) == key]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise SpecfitError(f"fragment {wanted!r} not in the profile (it has {len(names)} fragments)")
    raise SpecfitError(f"fragment {wanted!r} is ambiguous: {hits}")


def select_fragments(ds: xr.Dataset, names: list[str] | tuple[str, ...] | str | None = None) -> xr.Dataset:
    """Keep the named fragments (any notation: ``PS3-`` finds ``PS_3-``); ``None`` keeps all."""
    if names is None:
        return ds
    if isinstance(names, str):
        names = [n for n in names.split(",") if n.strip()]
    chosen = [_match(ds["fragment"].values, n.strip()) for n in names]
    return ds.sel(fragment=chosen)


def _analysable(ds: xr.Dataset) -> list[str]:
    """Fragments to analyse by default: everything but the total-ion column."""
    if "fragment_kind" in ds.coords:
        return [str(f) for f, k in zip(ds["fragment"].values, ds["fragment_kind"].values) if k != "total"]
    return [str(f) for f in ds["fragment"].values if str(f).lower() != "total"]


def normalize(ds: xr.Dataset, method: str | None = "total") -> xr.Dataset:
    """Normalise intensities point by point.

    Parameters
    ----------
    ds
        A depth-profile dataset.
    method
        ``"none"``/``None``: unchanged; ``"total"``: divide by the total-ion column (a fragment of
        kind ``total``) or, without one, by the sum of all species columns; any other string: the
        name of a matrix fragment to divide by. Points where the divisor is 0 become NaN.
    """
    ds = profile_dataset(ds)
    if method is None or str(method).lower() == "none":
        return ds
    intensity = ds["intensity"]
    if str(method).lower() == "total":
        if "fragment_kind" in ds.coords and (ds["fragment_kind"] == "total").any():
            divisor = intensity.sel(fragment=ds["fragment"][ds["fragment_kind"] == "total"].values[0])
            how = "total-ion column"
        else:
            kinds = ds["fragment_kind"] if "fragment_kind" in ds.coords else None
            species = intensity if kinds is None else intensity.where(kinds == "species", drop=True)
            divisor = species.sum("fragment")
            how = "sum of species columns"
    else:
        name = _match(ds["fragment"].values, str(method))
        divisor = intensity.sel(fragment=name, drop=True)
        how = f"fragment {name}"
    divisor = divisor.where(divisor != 0)
    out = ds.copy()
    normalised = intensity / divisor
    if "fragment" in divisor.coords:
        normalised = normalised.drop_vars("fragment", errors="ignore").assign_coords(fragment=ds["fragment"])
    out["intensity"] = normalised.transpose(*intensity.dims)
    out["intensity"].attrs = {"units": "1", "long_name": "Normalised intensity", "normalization": how}
    out.attrs = {**ds.attrs, "normalization": how}
    return out


def smooth(ds: xr.Dataset, window: int = 5, method: str = "moving_average") -> xr.Dataset:
    """Smooth every fragment along sputter time (``moving_average``, ``median`` or ``savgol``)."""
    ds = profile_dataset(ds)
    if window < 2:
        return ds
    axis = ds["intensity"].get_axis_num(AXIS)
    values = np.asarray(ds["intensity"].values, dtype=float)
    if method == "moving_average":
        out = uniform_filter1d(values, size=window, axis=axis, mode="nearest")
    elif method == "median":
        size = [1] * values.ndim
        size[axis] = window
        out = median_filter(values, size=tuple(size), mode="nearest")
    elif method == "savgol":
        win = window + (1 - window % 2)
        if win > values.shape[axis]:
            raise SpecfitError(f"smoothing window {win} is longer than the profile ({values.shape[axis]} points)")
        out = savgol_filter(values, win, polyorder=min(2, win - 1), axis=axis, mode="interp")
    else:
        raise SpecfitError(f"unknown smoothing method {method!r} (moving_average, median, savgol)")
    result = ds.copy()
    result["intensity"] = ds["intensity"].copy(data=out)
    result["intensity"].attrs = {**ds["intensity"].attrs, "smoothing": f"{method}, {window} points"}
    return result


def sputter_rate(time: np.ndarray, *, rate: float | None = None, crater_depth: float | None = None) -> float | None:
    """The sputter rate (nm/s) from a given rate or a crater depth reached at the last time."""
    if rate is not None and crater_depth is not None:
        raise SpecfitError("give either a sputter rate or a crater depth, not both")
    if rate is not None:
        if not rate > 0:
            raise SpecfitError(f"sputter rate must be positive, got {rate}")
        return float(rate)
    if crater_depth is not None:
        if not crater_depth > 0:
            raise SpecfitError(f"crater depth must be positive, got {crater_depth}")
        t_end = float(np.nanmax(time))
        if not t_end > 0:
            raise SpecfitError("cannot use a crater depth: the profile's last sputter time is not positive")
        return float(crater_depth) / t_end
    return None


def with_depth(ds: xr.Dataset, *, rate: float | None = None, crater_depth: float | None = None) -> xr.Dataset:
    """Add a ``depth`` (nm) coordinate along sputter time (see :func:`sputter_rate`)."""
    ds = profile_dataset(ds)
    r = sputter_rate(ds[AXIS].values, rate=rate, crater_depth=crater_depth)
    if r is None:
        raise SpecfitError("a depth scale needs a sputter rate (nm/s) or a crater depth (nm)")
    how = f"constant rate {r:g} nm/s" + (f" from crater depth {crater_depth:g} nm" if crater_depth else "")
    return ds.assign_coords(depth=(AXIS, ds[AXIS].values * r, {"units": "nm", "long_name": "Depth", "note": how}))


# ----------------------------------------------------------------------------------------------
# plateaus and change points


def _transform(y: np.ndarray) -> np.ndarray:
    """Variance-stabilise counts (Anscombe); other data are used as they are."""
    finite = y[np.isfinite(y)]
    if finite.size and finite.min() >= 0 and finite.max() > 20:
        return 2.0 * np.sqrt(np.clip(y, 0, None) + 0.375)
    return y


def _noise(x: np.ndarray) -> float:
    d = np.diff(x)
    d = d[np.isfinite(d)]
    if d.size < 2:
        return 0.0
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / math.sqrt(2))


def _pelt(x: np.ndarray, beta: float) -> list[int]:
    """Optimal partitioning into constant segments (PELT pruning); returns the segment starts."""
    n = x.size
    s1 = np.concatenate(([0.0], np.cumsum(x)))
    s2 = np.concatenate(([0.0], np.cumsum(x * x)))
    f = np.empty(n + 1)
    f[0] = -beta
    last = np.zeros(n + 1, dtype=int)
    candidates = np.array([0])
    for t in range(1, n + 1):
        s = candidates
        length = t - s
        cost = s2[t] - s2[s] - (s1[t] - s1[s]) ** 2 / length
        total = f[s] + cost + beta
        k = int(np.argmin(total))
        f[t] = total[k]
        last[t] = s[k]
        keep = f[s] + cost <= f[t]  # PELT pruning (K = 0 for this cost)
        candidates = np.append(s[keep], t)
    starts = []
    t = n
    while t > 0:  # bounded: strictly decreasing
        t = last[t]
        starts.append(t)
    return sorted(starts)


@dataclass
class Plateau:
    """A stretch of constant signal: points ``start`` to ``stop - 1``."""

    start: int
    stop: int
    level: float

    @property
    def center(self) -> int:
        return (self.start + self.stop - 1) // 2


def _level(y: np.ndarray, start: int, stop: int, trim_left: bool, trim_right: bool) -> float:
    n = stop - start
    a = start + (n // 4 if trim_left else 0)
    b = stop - (n // 4 if trim_right else 0)
    return _robust_mean(y[a:b])


def _robust_mean(values: np.ndarray) -> float:
    """10 %-trimmed mean: robust to spikes, and not quantised on low counts as a median is."""
    values = values[np.isfinite(values)]
    return float(trim_mean(values, 0.1)) if values.size else float("nan")


def find_plateaus(
    y: np.ndarray,
    *,
    penalty: float = 4.0,
    min_plateau: int | None = None,
    min_step: float = 0.25,
    z_min: float = 8.0,
    min_range_fraction: float = 0.05,
) -> list[Plateau]:
    """Plateaus of a signal (see the module docstring for the method)."""
    y = np.asarray(y, dtype=float)
    n = y.size
    if n < 6:
        return []
    x = _transform(y)
    x = np.where(np.isfinite(x), x, np.nanmedian(x))
    sigma = _noise(x)
    if sigma == 0.0:  # noise-free or quantised data: scale the penalty on the signal range instead
        sigma = max(1e-12, 1e-3 * float(np.ptp(x)))
    starts = _pelt(x, penalty * sigma**2 * math.log(n))
    bounds = [*starts, n]
    min_len = min_plateau if min_plateau is not None else max(4, n // 50)
    segments = [(a, b) for a, b in itertools.pairwise(bounds) if b - a >= min_len]
    if not segments:
        return []

    seg_levels = [_robust_mean(y[a:b]) for a, b in segments]
    full_range = max(seg_levels) - min(seg_levels)

    # means, not medians: medians of low counts are quantised (1 or 2 counts)
    def significant(a: np.ndarray, b: np.ndarray) -> bool:
        z = abs(np.mean(x[a]) - np.mean(x[b])) / (sigma * math.sqrt(1 / a.size + 1 / b.size))
        la, lb = _robust_mean(y[a]), _robust_mean(y[b])
        rel = abs(la - lb) / max(abs(la), abs(lb), 1e-300)
        return bool(z >= z_min and rel >= min_step and abs(la - lb) >= min_range_fraction * full_range)

    # merge insignificant neighbours, least different first; a merged group is judged on its own
    # points only (what lies between its pieces is transition). At most len(segments) passes.
    groups: list[list[tuple[int, int]]] = [[s] for s in segments]
    for _ in range(len(segments)):
        pts = [np.concatenate([np.arange(a, b) for a, b in g]) for g in groups]
        best, best_z = None, None
        for i in range(len(groups) - 1):
            if significant(pts[i], pts[i + 1]):
                continue
            z = abs(np.mean(x[pts[i]]) - np.mean(x[pts[i + 1]]))
            if best_z is None or z < best_z:
                best, best_z = i, z
        if best is None:
            break
        groups[best : best + 2] = [groups[best] + groups[best + 1]]
    groups = _drop_staircase(groups, y)
    plateaus = []
    for i, g in enumerate(groups):
        start, stop = g[0][0], g[-1][1]
        level = _level(y, start, stop, trim_left=i > 0, trim_right=i < len(groups) - 1)
        plateaus.append(Plateau(start, stop, level))
    return plateaus


def _drop_staircase(groups: list[list[tuple[int, int]]], y: np.ndarray) -> list[list[tuple[int, int]]]:
    """Drop plateaus that are steps of a staircase inside one transition.

    Segmentation cuts a smooth transition into short constant pieces. A piece whose level lies
    between its neighbours' and whose own points slope clearly (slope t-statistic above 4, and a
    change across the piece of more than a quarter of the smaller gap to a neighbour) is part of
    the transition, not a layer. A genuine intermediate plateau is flat on that scale.
    """
    groups = list(groups)
    for _ in range(len(groups)):  # bounded: each pass removes one or stops
        levels = [_robust_mean(y[np.concatenate([np.arange(a, b) for a, b in g])]) for g in groups]
        drop = None
        for i in range(1, len(groups) - 1):
            lo, hi = sorted((levels[i - 1], levels[i + 1]))
            if not lo < levels[i] < hi:
                continue
            idx = np.concatenate([np.arange(a, b) for a, b in groups[i]])
            yy = y[idx]
            ok = np.isfinite(yy)
            if ok.sum() < 3:
                drop = i
                break
            xi, yy = idx[ok].astype(float), yy[ok]
            slope, intercept = np.polyfit(xi, yy, 1)
            resid = yy - (slope * xi + intercept)
            sxx = float(np.sum((xi - xi.mean()) ** 2))
            se = math.sqrt(max(float(np.sum(resid**2)) / max(yy.size - 2, 1), 1e-300) / sxx)
            change = abs(slope) * (xi[-1] - xi[0])
            gap = min(levels[i] - lo, hi - levels[i])
            if abs(slope) / se > 4.0 and change > 0.25 * gap:
                drop = i
                break
        if drop is None:
            break
        del groups[drop]
    return groups


# ----------------------------------------------------------------------------------------------
# interfaces


@dataclass
class Interface:
    """A transition between two plateaus (times in s; depths in nm where a rate is known)."""

    time_s: float
    width_s: float
    direction: str
    level_before: float
    level_after: float
    time_16_s: float
    time_84_s: float
    depth_nm: float | None = None
    width_nm: float | None = None
    method: str = "isotonic"
    window: tuple[int, int] = (0, 0)  # the points (indices) the transition was read from

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "time_s": self.time_s,
            "depth_nm": self.depth_nm,
            "width_s": self.width_s,
            "width_nm": self.width_nm,
            "direction": self.direction,
            "level_before": self.level_before,
            "level_after": self.level_after,
        }


def _crossing(t: np.ndarray, v: np.ndarray, level: float, rising: bool) -> float:
    """First time a monotone step sequence reaches ``level``, interpolating between block centres."""
    # collapse the isotonic fit's flat blocks to (mean time, value)
    change = np.concatenate(([True], np.diff(v) != 0))
    block = np.cumsum(change) - 1
    counts = np.bincount(block)
    tb = np.bincount(block, weights=t) / counts
    vb = v[change]
    reached = vb >= level if rising else vb <= level
    if not reached.any():
        return float("nan")
    k = int(np.argmax(reached))
    if k == 0:
        return float(tb[0])
    v0, v1 = vb[k - 1], vb[k]
    return float(tb[k - 1] + (level - v0) / (v1 - v0) * (tb[k] - tb[k - 1]))


def find_interfaces(
    t: np.ndarray,
    y: np.ndarray,
    plateaus: list[Plateau] | None = None,
    *,
    method: str = "isotonic",
    **kwargs,
) -> list[Interface]:
    """Interfaces between adjacent plateaus of one fragment (see the module docstring).

    Parameters
    ----------
    t, y
        Sputter time and signal.
    plateaus
        From :func:`find_plateaus` (found here, with ``**kwargs``, when not given).
    method
        ``"isotonic"`` (default): the model-free 50 % and 16-84 % crossings of a monotone fit.
        ``"erf"``: a least-squares error-function fit to each transition (Poisson weights for
        counts); its centre and ``2 sigma`` are the 50 % point and the 16-84 % width exactly when
        the interface is an error function, with less scatter on noisy data, but biased for
        asymmetric (e.g. exponential-tail) interfaces.
    """
    if method not in ("isotonic", "erf"):
        raise SpecfitError(f"unknown interface method {method!r} (isotonic, erf)")
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    if plateaus is None:
        plateaus = find_plateaus(y, **kwargs)
    return _interfaces_and_plateaus(t, y, list(plateaus), method)[0]


def _interfaces_and_plateaus(
    t: np.ndarray, y: np.ndarray, plateaus: list[Plateau], method: str
) -> tuple[list[Interface], list[Plateau]]:
    plateaus = list(plateaus)
    found = _staircase_free(t, y, plateaus)  # drops staircase steps from `plateaus`
    if method == "erf":
        found = [_refine_erf(t, y, i) for i in found]
    return found, plateaus


def _refine_erf(t: np.ndarray, y: np.ndarray, interface: Interface) -> Interface:
    """Fit ``L1 + (L2 - L1) (1 + erf((t - t0) / (sqrt(2) s))) / 2`` around one transition."""
    from scipy.optimize import curve_fit
    from scipy.special import erf

    lo, hi = interface.window
    tt, yy = t[lo:hi], y[lo:hi]
    ok = np.isfinite(yy)
    tt, yy = tt[ok], yy[ok]
    s0 = max(interface.width_s / 2, 1e-3 * float(np.ptp(tt)) if tt.size else 1e-3)

    def model(x, l1, l2, t0, s):
        return l1 + (l2 - l1) * 0.5 * (1 + erf((x - t0) / (math.sqrt(2) * s)))

    counts_like = yy.size and yy.min() >= 0 and yy.max() > 20
    sigma = np.sqrt(np.maximum(yy, 1.0)) if counts_like else None
    try:
        popt, _ = curve_fit(
            model,
            tt,
            yy,
            p0=(interface.level_before, interface.level_after, interface.time_s, s0),
            sigma=sigma,
            bounds=([-np.inf, -np.inf, tt.min(), 1e-9], [np.inf, np.inf, tt.max(), np.ptp(tt)]),
            maxfev=2000,
        )
    except (RuntimeError, ValueError):  # no convergence: keep the model-free result
        return interface
    _l1, _l2, t0, sd = (float(v) for v in popt)
    return Interface(
        time_s=t0,
        width_s=2 * sd,
        direction=interface.direction,
        level_before=interface.level_before,
        level_after=interface.level_after,
        time_16_s=t0 - sd,
        time_84_s=t0 + sd,
        method="erf",
        window=interface.window,
    )


def _staircase_free(t: np.ndarray, y: np.ndarray, plateaus: list[Plateau]) -> list[Interface]:
    for _ in range(len(plateaus)):  # bounded: each pass drops one plateau or stops
        found = _interfaces(t, y, plateaus)
        drop = None
        for k in range(1, len(plateaus) - 1):
            before, after = found[k - 1], found[k]
            if before is None or after is None or before.direction != after.direction:
                continue
            # a plateau shorter than the transitions around it is a step of one staircase
            # (a width that cannot be read, NaN, comes from such a step as well)
            duration = t[plateaus[k].stop - 1] - t[plateaus[k].start]
            widths = [w for w in (before.width_s, after.width_s) if np.isfinite(w)]
            if len(widths) < 2 or duration < max(widths):
                drop = k
                break
        if drop is None:
            return [i for i in found if i is not None]
        del plateaus[drop]
    return [i for i in _interfaces(t, y, plateaus) if i is not None]


def _interfaces(t: np.ndarray, y: np.ndarray, plateaus: list[Plateau]) -> list[Interface | None]:
    out: list[Interface | None] = []
    for p, q in itertools.pairwise(plateaus):
        lo, hi = p.center, q.center + 1
        tt, yy = t[lo:hi], y[lo:hi]
        ok = np.isfinite(yy)
        tt, yy = tt[ok], yy[ok]
        rising = q.level > p.level
        if tt.size < 3 or not np.isfinite(p.level) or not np.isfinite(q.level):
            out.append(None)
            continue
        fit = isotonic_regression(yy, increasing=rising).x
        delta = q.level - p.level
        times = {f: _crossing(tt, fit, p.level + f * delta, rising) for f in (0.16, 0.5, 0.84)}
        out.append(
            Interface(
                time_s=times[0.5],
                width_s=abs(times[0.84] - times[0.16]),
                direction="rise" if rising else "fall",
                level_before=p.level,
                level_after=q.level,
                time_16_s=times[0.16],
                time_84_s=times[0.84],
                window=(lo, hi),
            )
        )
    return out


def _moving_average(y: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average; the ends take the nearest full-window average, so the smoothed
    noise is no larger at the ends (where a steady state is judged) than inside."""
    window = max(1, min(window, y.size))
    valid = np.convolve(y, np.ones(window) / window, mode="valid")
    before = (window - 1) // 2
    after = y.size - valid.size - before
    return np.concatenate((np.full(before, valid[0]), valid, np.full(after, valid[-1])))


def steady_state_time(
    t: np.ndarray,
    y: np.ndarray,
    *,
    tolerance: float = 0.05,
    window: int | None = None,
    plateaus: list[Plateau] | None = None,
) -> float | None:
    """Steady-state sputter time of one fragment (definition in the module docstring)."""
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    if plateaus is None:
        plateaus = find_plateaus(y)
    # the final plateau must reach the end (a few stray points after it are tolerated)
    if not plateaus or plateaus[-1].stop < y.size - max(4, y.size // 50):
        return None
    final = plateaus[-1]
    top = max(abs(p.level) for p in plateaus)
    ref = abs(final.level) if abs(final.level) >= 0.1 * top else top
    if not ref > 0:
        return None
    band = tolerance * ref
    if window is None:
        tail = y[final.start + (final.stop - final.start) // 4 : final.stop]
        tail = tail[np.isfinite(tail)]
        # the larger of two noise estimates: a short tail can make either one low
        noise = max(_noise(tail), float(np.std(tail)) if tail.size > 1 else 0.0)
        window = max(3, math.ceil((5.0 * noise / band) ** 2)) if band > 0 else 3
        window = min(window, max(3, (final.stop - final.start) // 2))
    filled = np.where(np.isfinite(y), y, final.level)
    s = _moving_average(filled, int(window))
    outside = np.abs(s - final.level) > band
    if not outside.any():
        return float(t[0])
    k = int(np.flatnonzero(outside)[-1]) + 1
    return float(t[k]) if k < t.size else None


# ----------------------------------------------------------------------------------------------
# whole-profile analysis


@dataclass
class FragmentResult:
    """Analysis of one fragment."""

    name: str
    mass: float | None
    interfaces: list[Interface]
    steady_state_time_s: float | None
    plateaus: list[Plateau] = field(default_factory=list)
    steady_state_depth_nm: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "mass": self.mass,
            "interfaces": [i.to_dict() for i in self.interfaces],
            "steady_state_time_s": self.steady_state_time_s,
            "steady_state_depth_nm": self.steady_state_depth_nm,
            "plateau_levels": [p.level for p in self.plateaus],
        }


@dataclass
class Layer:
    """A layer marked by one fragment, between two 50 % interfaces (or the surface and one)."""

    fragment: str
    top_time_s: float
    bottom_time_s: float
    thickness_s: float
    top_nm: float | None = None
    bottom_nm: float | None = None
    thickness_nm: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "fragment": self.fragment,
            "thickness_nm": self.thickness_nm,
            "top_nm": self.top_nm,
            "bottom_nm": self.bottom_nm,
            "top_time_s": self.top_time_s,
            "bottom_time_s": self.bottom_time_s,
            "thickness_s": self.thickness_s,
        }


@dataclass
class ProfileAnalysis:
    """Result of :func:`analyze_profile`."""

    fragments: list[FragmentResult]
    layers: list[Layer]
    rate_nm_per_s: float | None
    normalization: str
    source_file: str = ""
    settings: dict[str, Any] = field(default_factory=dict)

    def fragment(self, name: str) -> FragmentResult:
        """The result of one fragment (any notation)."""
        key = normalize_label(name)
        for f in self.fragments:
            if f.name == name or normalize_label(f.name) == key:
                return f
        raise SpecfitError(f"fragment {name!r} was not analysed")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (``fragments`` with interfaces and steady state, ``layers``)."""
        return {
            "source_file": self.source_file,
            "normalization": self.normalization,
            "rate_nm_per_s": self.rate_nm_per_s,
            "settings": self.settings,
            "fragments": [f.to_dict() for f in self.fragments],
            "layers": [layer.to_dict() for layer in self.layers],
        }


def _layers(results: list[FragmentResult], t0: float, res_t: np.ndarray) -> list[Layer]:
    layers = []
    for res in results:
        ifs = [i for i in res.interfaces if np.isfinite(i.time_s)]
        if not ifs:
            continue
        first_plateau = res.plateaus[0] if res.plateaus else None
        surface = first_plateau is not None and first_plateau.start <= max(4, len(res_t) // 50)
        if ifs[0].direction == "fall" and surface:
            layers.append(Layer(res.name, t0, ifs[0].time_s, ifs[0].time_s - t0))
        for a, b in itertools.pairwise(ifs):
            if a.direction == "rise" and b.direction == "fall":
                layers.append(Layer(res.name, a.time_s, b.time_s, b.time_s - a.time_s))
    return layers


def analyze_profile(
    profile: xr.DataTree | xr.Dataset,
    *,
    fragments: list[str] | str | None = None,
    normalization: str | None = "none",
    rate: float | None = None,
    crater_depth: float | None = None,
    smoothing: int = 0,
    tolerance: float = 0.05,
    penalty: float = 4.0,
    min_plateau: int | None = None,
    min_step: float = 0.25,
    z_min: float = 8.0,
    interface_method: str = "isotonic",
) -> ProfileAnalysis:
    """Interfaces, widths, steady state and layers of every (chosen) fragment of a depth profile.

    Parameters
    ----------
    profile
        A depth-profile tree or dataset (``intensity`` on ``(sputter_time, fragment)``).
    fragments
        Fragments to analyse (names or a comma-separated string); default: all but the total.
    normalization
        ``"none"``, ``"total"`` or a matrix fragment (see :func:`normalize`).
    rate, crater_depth
        Depth scale (see :func:`sputter_rate`); without either, depths are ``None``.
    smoothing
        Moving-average window applied before the analysis (0: none; the interface search does not
        need it).
    tolerance
        Steady-state band (fraction of the final plateau).
    penalty, min_plateau, min_step, z_min
        Plateau detection settings (see :func:`find_plateaus`).
    interface_method
        ``"isotonic"`` (model-free crossings, default) or ``"erf"`` (see :func:`find_interfaces`).
    """
    ds = profile_dataset(profile)
    # the crater depth belongs to the last exported point, empty or not
    r = sputter_rate(np.asarray(ds[AXIS].values, dtype=float), rate=rate, crater_depth=crater_depth)
    # SurfaceLab writes an empty last data point (every column 0); empty scans are no signal
    empty = (ds["intensity"].fillna(0) == 0).all("fragment")
    if bool(empty.any()) and not bool(empty.all()):
        ds = ds.isel({AXIS: np.flatnonzero(~empty.values)})
    ds = normalize(ds, normalization)
    if smoothing and smoothing > 1:
        ds = smooth(ds, smoothing)
    names = _analysable(ds) if fragments is None else list(select_fragments(ds, fragments)["fragment"].values)
    t = np.asarray(ds[AXIS].values, dtype=float)
    results = []
    for name in names:
        y = np.asarray(ds["intensity"].sel(fragment=name).values, dtype=float)
        if np.isfinite(y).sum() < 6:
            results.append(FragmentResult(str(name), None, [], None))
            continue
        plateaus = find_plateaus(y, penalty=penalty, min_plateau=min_plateau, min_step=min_step, z_min=z_min)
        if interface_method not in ("isotonic", "erf"):
            raise SpecfitError(f"unknown interface method {interface_method!r} (isotonic, erf)")
        interfaces, plateaus = _interfaces_and_plateaus(t, y, plateaus, interface_method)
        t_ss = steady_state_time(t, y, tolerance=tolerance, plateaus=plateaus)
        mass = None
        if "fragment_mass" in ds.coords:
            m = float(ds["fragment_mass"].sel(fragment=name).values)
            mass = m if np.isfinite(m) else None
        res = FragmentResult(str(name), mass, interfaces, t_ss, plateaus)
        if r is not None:
            for i in interfaces:
                i.depth_nm = i.time_s * r
                i.width_nm = i.width_s * r
            res.steady_state_depth_nm = None if t_ss is None else t_ss * r
        results.append(res)
    layers = _layers(results, float(t[0]) if t.size else 0.0, t)
    if r is not None:
        for layer in layers:
            layer.top_nm, layer.bottom_nm = layer.top_time_s * r, layer.bottom_time_s * r
            layer.thickness_nm = layer.thickness_s * r
    return ProfileAnalysis(
        fragments=results,
        layers=layers,
        rate_nm_per_s=r,
        normalization=str(normalization or "none"),
        source_file=str(ds.attrs.get("source_file", "")),
        settings={
            "tolerance": tolerance,
            "penalty": penalty,
            "min_plateau": min_plateau,
            "min_step": min_step,
            "z_min": z_min,
            "interface_method": interface_method,
            "smoothing": smoothing,
            "crater_depth_nm": crater_depth,
        },
    )
