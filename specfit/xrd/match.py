"""Phase identification (search-match) and whole-pattern quantification of powder XRD patterns.

Identification runs in three stages:

1. **Peak-based figure of merit** for every candidate: peaks are located in the background-corrected
   pattern (pybaselines SNIP background, :func:`scipy.signal.find_peaks`); each candidate's strong
   lines are compared with them while its cell is scaled isotropically over ±0.8 %, and the score is
   the intensity-weighted share of its strong lines that coincide with an observed peak (0–1).
2. **Greedy selection on simulated profiles**: starting from background only, the shortlisted
   candidate that lowers the weighted profile residual most (non-negative scale, Chebyshev
   background, the cell scale of stage 1, the peak width measured in the data) is added while it
   lowers Rwp by a clear margin.
3. **Whole-pattern fit** (:func:`fit_phases`) of the chosen phases — per-phase scale, cell lengths
   (cubic a; a, c; or a, b, c), crystallite size; common zero shift, instrumental Gaussian width and
   Chebyshev background — with :func:`scipy.optimize.least_squares`; phases whose weight fraction is
   insignificant are dropped and the fit repeated; shortlisted phases that would still lower Rwp
   clearly are tried once more.

Weight fractions follow Hill & Howard, J. Appl. Cryst. 20 (1987) 467: ``w_i = S_i (ZMV)_i / Σ S_j (ZMV)_j``,
where S is the scale on pymatgen's unscaled per-cell intensities (|F|²·m·LP) and ZM the cell mass.
Microabsorption and preferred orientation are not modelled. Errors come from the covariance of the
final fit (counting statistics only, scaled by the reduced χ²): Rietveld errors of this kind are
known to be optimistic.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import xarray as xr
from numpy.polynomial import chebyshev
from scipy import optimize, signal

from .._blas import single_thread_blas
from ..conventions import INTENSITY, leaves, spectral_axis
from ..errors import FitError, SpecfitError
from .phases import Phase, select_phases
from .simulate import Instrument, Reflections, phase_sticks, profile_sum, pseudo_voigt_widths, reflections

__all__ = [
    "Candidate",
    "PhaseResult",
    "XRDFitResult",
    "fit_phases",
    "identify",
    "pattern_from",
    "search_match",
]


_SIZE_MIN_NM = 1.0  # the size parameter is 1/L (1/nm), bounded to L >= 1 nm


# --------------------------------------------------------------------------------------------------
# data handling
# --------------------------------------------------------------------------------------------------
def pattern_from(
    data: xr.Dataset | xr.DataTree | tuple[np.ndarray, np.ndarray], wavelength: float | None = None
) -> tuple[np.ndarray, np.ndarray, Instrument]:
    """2θ (increasing), intensity and instrument of a dataset, the first leaf of a tree, or (x, y).

    Raises
    ------
    SpecfitError
        If there is no 2θ axis, fewer than 50 finite points, or negative-only data.
    """
    attrs: dict = {}
    if isinstance(data, xr.DataTree):
        found = list(leaves(data))
        if not found:
            raise SpecfitError("the data tree holds no measurement")
        data = found[0][1]
    if isinstance(data, xr.Dataset):
        axis = spectral_axis(data)
        if axis != "two_theta":
            raise SpecfitError(f"XRD identification needs a two_theta axis, the data has {axis!r}")
        da = data[INTENSITY]
        if da.ndim != 1:
            raise SpecfitError(f"expected one pattern, got intensity with dims {da.dims}; select one first")
        x = np.asarray(data[axis].values, dtype=float)
        y = np.asarray(da.values, dtype=float)
        attrs = dict(data.attrs)
    else:
        x, y = (np.asarray(v, dtype=float) for v in data)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 50:
        raise SpecfitError(f"pattern has only {x.size} finite points")
    order = np.argsort(x)
    x, y = x[order], y[order]
    if np.any(np.diff(x) <= 0):
        keep = np.concatenate([[True], np.diff(x) > 0])
        x, y = x[keep], y[keep]
    if not np.any(y > 0):
        raise SpecfitError("pattern has no positive intensity")
    return x, y, Instrument.from_attrs(attrs, wavelength=wavelength)


def _sigma(y: np.ndarray) -> np.ndarray:
    """Counting-statistics standard deviation (Poisson), at least 1 count."""
    return np.sqrt(np.clip(y, 1.0, None))


def _estimate_background(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    from pybaselines import Baseline

    step = float(np.median(np.diff(x)))
    half = max(5, round(1.5 / step))
    with np.errstate(all="ignore"):
        bkg, _ = Baseline(x).snip(y, max_half_window=half, decreasing=True, smooth_half_window=max(1, int(0.05 / step)))
    return np.minimum(bkg, y.max())


@dataclass
class _Peaks:
    position: np.ndarray
    height: np.ndarray
    fwhm: float  # median FWHM of the strong peaks (deg)


def _find_peaks(x: np.ndarray, y: np.ndarray, background: np.ndarray) -> _Peaks:
    step = float(np.median(np.diff(x)))
    net = y - background
    win = max(5, round(0.06 / step) | 1)
    smooth = signal.savgol_filter(net, win, 2) if win < net.size else net
    noise = _sigma(np.clip(background, 1.0, None))
    idx, props = signal.find_peaks(smooth, prominence=0.0, distance=max(1, int(0.04 / step)))
    strong = props["prominences"] > 4.0 * noise[idx] * (1.0 / math.sqrt(max(1, win // 2)) + 0.5)
    idx = idx[strong]
    if idx.size == 0:
        return _Peaks(np.array([]), np.array([]), 0.1)
    widths = signal.peak_widths(smooth, idx, rel_height=0.5)[0] * step
    heights = smooth[idx]
    big = heights >= np.quantile(heights, 0.5)
    fwhm = float(np.median(widths[big])) if big.any() else 0.1
    return _Peaks(x[idx], heights, max(fwhm, 2 * step))


_MODE_AXES = {"a": ("a",), "ac": ("a", "c"), "abc": ("a", "b", "c")}


@lru_cache(maxsize=16)
def _scale_grid(mode: str, strain_range: float) -> tuple[np.ndarray, np.ndarray]:
    """Trial cells (a, b, c scale factors) and the matching reciprocal-metric factors (6, cells).

    One axis: steps of 0.04 %; two axes: 0.05 %; three axes: 0.1 % (4913 cells), which keeps peak
    positions within ~0.03° of the best cell below 60° 2θ.
    """
    step = {"a": 0.0004, "ac": 0.0005, "abc": 0.001}[mode]
    g = np.linspace(1.0 - strain_range, 1.0 + strain_range, round(2 * strain_range / step) + 1)
    if mode == "a":
        combos = np.stack([g, g, g], axis=1)
    elif mode == "ac":
        ga, gc = np.meshgrid(g, g, indexing="ij")
        combos = np.stack([ga.ravel(), ga.ravel(), gc.ravel()], axis=1)
    else:
        ga, gb, gc = np.meshgrid(g, g, g, indexing="ij")
        combos = np.stack([ga.ravel(), gb.ravel(), gc.ravel()], axis=1)
    sa, sb, sc = combos.T
    factors = np.stack([1 / sa**2, 1 / sb**2, 1 / sc**2, 1 / (sa * sb), 1 / (sa * sc), 1 / (sb * sc)])
    return combos, factors


# --------------------------------------------------------------------------------------------------
# stage 1: figure of merit
# --------------------------------------------------------------------------------------------------
@dataclass
class Candidate:
    """A phase with its search-match score and best cell scale factors (on a, b, c)."""

    phase: Phase
    score: float
    cell_scale: tuple[float, float, float]
    reflections: Reflections = field(repr=False)


def search_match(
    x: np.ndarray,
    y: np.ndarray,
    phases: Sequence[Phase],
    instrument: Instrument,
    *,
    strain_range: float = 0.008,
    tolerance: float | None = None,
    background: np.ndarray | None = None,
) -> tuple[list[Candidate], _Peaks]:
    """Score every phase against the peaks of a pattern (sorted best first).

    The score is the intensity-weighted share of the phase's strong lines (≥ 5 % of its strongest
    line inside the data range) that lie within ``tolerance`` (default: ⅔ of the measured FWHM,
    at least 0.04°) of an observed peak, maximised over cell scale factors within ``strain_range``
    (one for cubic cells, a and c, or a, b and c independently: :func:`_scale_grid`).
    """
    background = _estimate_background(x, y) if background is None else background
    peaks = _find_peaks(x, y, background)
    tol = tolerance if tolerance is not None else max(0.04, 0.66 * peaks.fwhm)
    grids = {mode: _scale_grid(mode, strain_range) for mode in _MODE_AXES}
    obs = np.sort(peaks.position)
    out = []
    lo, hi = float(x[0]), float(x[-1])
    for phase in phases:
        refl = reflections(phase, instrument.wavelength, (lo, hi))
        inside = (refl.two_theta >= lo) & (refl.two_theta <= hi)
        if not inside.any() or obs.size < 2:
            out.append(Candidate(phase, 0.0, (1.0, 1.0, 1.0), refl))
            continue
        inten = refl.intensity[inside]
        strong = inten >= 0.05 * inten.max()
        terms = refl._metric_terms[inside][strong]
        weight = inten[strong]
        combos, factors = grids[phase.lattice_mode]
        # positions of the strong lines for every trial cell at once: (lines, cells)
        ratio = instrument.wavelength * np.sqrt(terms @ factors) / 2.0
        pos = np.degrees(2.0 * np.arcsin(np.clip(ratio, -1, 1))) + instrument.zero_shift
        j = np.clip(np.searchsorted(obs, pos), 1, obs.size - 1)
        dist = np.minimum(np.abs(pos - obs[j - 1]), np.abs(pos - obs[j]))
        scores = (np.exp(-((dist / tol) ** 2)) * weight[:, None]).sum(axis=0) / weight.sum()
        best = int(np.argmax(scores))
        out.append(Candidate(phase, float(scores[best]), tuple(float(v) for v in combos[best]), refl))
    out.sort(key=lambda c: -c.score)
    return out, peaks


# --------------------------------------------------------------------------------------------------
# the profile model
# --------------------------------------------------------------------------------------------------


def _as_scale3(value: float | Sequence[float] | None) -> tuple[float, float, float]:
    if value is None:
        return (1.0, 1.0, 1.0)
    if np.ndim(value) == 0:
        return (float(value),) * 3
    a, b, c = (float(v) for v in value)
    return (a, b, c)


def _scale_tuple(mode: str, values: Sequence[float]) -> tuple[float, float, float]:
    if mode == "a":
        return (values[0],) * 3
    if mode == "ac":
        return (values[0], values[0], values[1])
    return (values[0], values[1], values[2])


class _Model:
    """Profile model of several phases on one grid: nonlinear parameters in a vector, linear ones
    (scales, background) solved for at every evaluation (variable projection)."""

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        phases: Sequence[Phase],
        instrument: Instrument,
        *,
        n_background: int,
        refine_lattice: bool,
        refine_size: bool,
        refine_width: bool,
        refine_zero: bool,
        initial_scales: Sequence[float] | None = None,
        initial_size_nm: float = 200.0,
    ) -> None:
        self.x, self.y = x, y
        self.sigma = _sigma(y)
        self.weight = 1.0 / self.sigma
        self.phases = list(phases)
        self.instrument = instrument
        self.refl = [reflections(p, instrument.wavelength, (float(x[0]), float(x[-1]))) for p in phases]
        t = (x - x[0]) / (x[-1] - x[0]) * 2.0 - 1.0
        self.background_basis = chebyshev.chebvander(t, n_background)  # (n, nb+1)
        self.names: list[str] = []
        self.p0: list[float] = []
        self.lo: list[float] = []
        self.hi: list[float] = []
        self.slices: list[dict[str, Any]] = []
        if refine_zero:
            self._add("zero_shift", instrument.zero_shift, -0.5, 0.5)
        if refine_width:
            self._add("W", instrument.W, 1e-6, 0.25)
        for i, phase in enumerate(self.phases):
            entry: dict[str, Any] = {"mode": phase.lattice_mode}
            s0 = _as_scale3(None if initial_scales is None else initial_scales[i])
            if refine_lattice:
                entry["lattice"] = []
                for axis in _MODE_AXES[phase.lattice_mode]:
                    entry["lattice"].append(len(self.p0))
                    start = s0["abc".index(axis)]
                    self._add(f"{phase.name}:{axis}", start, start - 0.02, start + 0.02)
            else:
                entry["fixed_scale"] = s0
            if refine_size:
                entry["size"] = len(self.p0)
                self._add(f"{phase.name}:inv_size", 1.0 / initial_size_nm, 0.0, 1.0 / _SIZE_MIN_NM)
            else:
                entry["fixed_inv_size"] = 1.0 / initial_size_nm
            self.slices.append(entry)
        self.p0_arr = np.array(self.p0)

    def _add(self, name: str, value: float, lo: float, hi: float) -> None:
        self.names.append(name)
        self.p0.append(float(np.clip(value, lo + 1e-9 * (hi - lo), hi - 1e-9 * (hi - lo))))
        self.lo.append(lo)
        self.hi.append(hi)

    def instrument_of(self, p: np.ndarray) -> Instrument:
        changes = {}
        if "zero_shift" in self.names:
            changes["zero_shift"] = float(p[self.names.index("zero_shift")])
        if "W" in self.names:
            changes["W"] = float(p[self.names.index("W")])
        return self.instrument.with_(**changes)

    def phase_params(self, p: np.ndarray, i: int) -> tuple[tuple[float, float, float], float]:
        entry = self.slices[i]
        if "lattice" in entry:
            scale = _scale_tuple(entry["mode"], [p[j] for j in entry["lattice"]])
        else:
            scale = entry["fixed_scale"]
        inv = p[entry["size"]] if "size" in entry else entry["fixed_inv_size"]
        size = 1.0 / inv if inv > 1e-9 else np.inf
        return scale, size

    def profiles(self, p: np.ndarray) -> np.ndarray:
        inst = self.instrument_of(p)
        cols = np.empty((self.x.size, len(self.phases)))
        for i, refl in enumerate(self.refl):
            scale, size = self.phase_params(p, i)
            pos, inten, lam = phase_sticks(refl, inst, scale)
            fwhm, eta = pseudo_voigt_widths(pos, inst, size, wavelength=lam)
            cols[:, i] = profile_sum(self.x, pos, inten, fwhm, eta)
        return cols

    def design(self, p: np.ndarray) -> np.ndarray:
        return np.hstack([self.profiles(p), self.background_basis])

    def solve_linear(self, design: np.ndarray) -> np.ndarray:
        """Weighted linear least squares with non-negative phase scales."""
        a = design * self.weight[:, None]
        b = self.y * self.weight
        # column normalisation keeps the solver well conditioned (profiles ~1e3, basis ~1)
        norms = np.linalg.norm(a, axis=0)
        norms[norms == 0] = 1.0
        an = a / norms
        coef, *_ = np.linalg.lstsq(an, b, rcond=None)
        nph = len(self.phases)
        if np.any(coef[:nph] < 0):
            lb = np.full(an.shape[1], -np.inf)
            lb[:nph] = 0.0
            coef = optimize.lsq_linear(an, b, bounds=(lb, np.inf), method="bvls").x
        return coef / norms

    def residual(self, p: np.ndarray) -> np.ndarray:
        d = self.design(p)
        coef = self.solve_linear(d)
        return (self.y - d @ coef) * self.weight

    def rwp(self, p: np.ndarray) -> float:
        r = self.residual(p)
        return float(np.sqrt(np.sum(r**2) / np.sum((self.y * self.weight) ** 2)))


# --------------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------------
@dataclass
class PhaseResult:
    """Refined quantities of one phase."""

    name: str
    formula: str
    score: float
    scale: float
    scale_error: float
    weight_fraction: float
    weight_fraction_error: float
    lattice: dict[str, float]
    lattice_error: dict[str, float]
    crystallite_size_nm: float | None
    crystallite_size_error_nm: float | None
    reference_lattice: dict[str, float]
    ticks: np.ndarray = field(repr=False)
    curve: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "name": self.name,
            "formula": self.formula,
            "score": round(self.score, 4),
            "weight_fraction": self.weight_fraction,
            "weight_fraction_error": self.weight_fraction_error,
            "lattice": self.lattice,
            "lattice_error": self.lattice_error,
            "crystallite_size_nm": self.crystallite_size_nm,
            "crystallite_size_error_nm": self.crystallite_size_error_nm,
            "scale": self.scale,
            "scale_error": self.scale_error,
        }


@dataclass
class XRDFitResult:
    """Result of a whole-pattern fit / identification."""

    phases: list[PhaseResult]
    rwp: float
    rexp: float
    chi2_reduced: float
    zero_shift: float
    zero_shift_error: float
    instrument: Instrument
    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    fit: np.ndarray = field(repr=False)
    background: np.ndarray = field(repr=False)
    candidates: list[tuple[str, float]] = field(default_factory=list)
    success: bool = True
    message: str = ""

    @property
    def names(self) -> list[str]:
        """Names of the phases in the fit."""
        return [p.name for p in self.phases]

    def phase(self, name: str) -> PhaseResult:
        """The result of one phase by name."""
        for p in self.phases:
            if p.name == name:
                return p
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the shape of ``specfit xrd identify --json``)."""
        return {
            "phases": [p.to_dict() for p in self.phases],
            "rwp": self.rwp,
            "rexp": self.rexp,
            "chi2_reduced": self.chi2_reduced,
            "zero_shift_deg": self.zero_shift,
            "zero_shift_error_deg": self.zero_shift_error,
            "wavelength_angstrom": self.instrument.wavelength,
            "caglioti_W_deg2": self.instrument.W,
            "candidates": [{"name": n, "score": round(s, 4)} for n, s in self.candidates],
        }

    def plot(self, ax=None, **kwargs):
        """Observed, calculated, difference and tick marks (see :func:`specfit.xrd.plot.plot_fit`)."""
        from .plot import plot_fit

        return plot_fit(self, ax=ax, **kwargs)


def _cell(refl: Reflections, scale: tuple[float, float, float]) -> dict[str, float]:
    a, b, c = (v * s for v, s in zip(refl.lattice_abc, scale, strict=True))
    al, be, ga = refl.lattice_angles
    return {"a": a, "b": b, "c": c, "alpha": al, "beta": be, "gamma": ga}


def _finish(model: _Model, p: np.ndarray, scores: dict[str, float], message: str, success: bool) -> XRDFitResult:
    design = model.design(p)
    coef = model.solve_linear(design)
    nph = len(model.phases)
    fit = design @ coef
    resid = (model.y - fit) * model.weight
    n_free = len(p) + design.shape[1]
    dof = max(1, model.y.size - n_free)
    chi2_red = float(np.sum(resid**2) / dof)
    # full Jacobian: linear parameters (design columns) and nonlinear ones by central differences at
    # fixed linear coefficients
    cols = [-(design * model.weight[:, None])]
    jn = np.empty((model.y.size, len(p)))
    for k in range(len(p)):
        h = 1e-5 * max(1.0, abs(p[k]))
        hi_, lo_ = p.copy(), p.copy()
        hi_[k] = min(p[k] + h, model.hi[k])
        lo_[k] = max(p[k] - h, model.lo[k])
        step = hi_[k] - lo_[k]
        if step <= 0:
            jn[:, k] = 0.0
            continue
        jn[:, k] = -((model.design(hi_) - model.design(lo_)) @ coef) * model.weight / step
    jac = np.hstack([jn, *cols])
    norms = np.linalg.norm(jac, axis=0)
    norms[norms == 0] = 1.0
    jtj = (jac / norms).T @ (jac / norms)
    cov = np.linalg.pinv(jtj, rcond=1e-12) / np.outer(norms, norms) * chi2_red
    err = np.sqrt(np.clip(np.diag(cov), 0, None))
    npar = len(p)
    scales = coef[:nph]
    scale_cov = cov[npar : npar + nph, npar : npar + nph]
    inst = model.instrument_of(p)
    zmv = []
    results = []
    for i, (phase, refl) in enumerate(zip(model.phases, model.refl, strict=True)):
        lattice_scale, size = model.phase_params(p, i)
        cell = _cell(refl, lattice_scale)
        volume = phase.volume * lattice_scale[0] * lattice_scale[1] * lattice_scale[2]
        zmv.append(phase.cell_mass * volume)
        entry = model.slices[i]
        lat_err = {}
        if "lattice" in entry:
            axes = _MODE_AXES[entry["mode"]]
            for axis, j in zip(axes, entry["lattice"], strict=True):
                ref = refl.lattice_abc["abc".index(axis)]
                lat_err[axis] = float(err[j] * ref)
            if entry["mode"] == "a":
                lat_err["b"] = lat_err["c"] = lat_err["a"]
            elif entry["mode"] == "ac":
                lat_err["b"] = lat_err["a"]
        size_nm = size_err = None
        if "size" in entry and p[entry["size"]] > 1e-4:
            inv, inv_err = float(p[entry["size"]]), float(err[entry["size"]])
            size_nm, size_err = 1.0 / inv, inv_err / inv**2
        elif "size" not in entry and np.isfinite(size):
            size_nm = float(size)
        pos, _, _ = phase_sticks(refl, inst, lattice_scale)
        ticks = pos[: pos.size // 2] if inst.wavelength2 and inst.kalpha2_ratio > 0 else pos
        ticks = ticks[np.isfinite(ticks) & (ticks >= model.x[0]) & (ticks <= model.x[-1])]
        results.append(
            PhaseResult(
                name=phase.name,
                formula=phase.formula,
                score=float(scores.get(phase.name, math.nan)),
                scale=float(scales[i]),
                scale_error=float(np.sqrt(max(scale_cov[i, i], 0.0))),
                weight_fraction=math.nan,
                weight_fraction_error=math.nan,
                lattice=cell,
                lattice_error=lat_err,
                crystallite_size_nm=size_nm,
                crystallite_size_error_nm=size_err,
                reference_lattice=_cell(refl, (1.0, 1.0, 1.0)),
                ticks=np.sort(ticks),
                curve=design[:, i] * scales[i],
            )
        )
    zmv_arr = np.asarray(zmv)
    mass = scales * zmv_arr
    total = mass.sum()
    if total > 0:
        w = mass / total
        # dw_i/dS_j = (δij c_i Σ - S_i c_i c_j) / Σ²
        grad = (np.diag(zmv_arr) * total - np.outer(mass, zmv_arr)) / total**2
        w_cov = grad @ scale_cov @ grad.T
        for i, r in enumerate(results):
            r.weight_fraction = float(w[i])
            r.weight_fraction_error = float(np.sqrt(max(w_cov[i, i], 0.0)))
    bkg = model.background_basis @ coef[nph:]
    wy = model.y * model.weight
    rwp = float(np.sqrt(np.sum(resid**2) / np.sum(wy**2)))
    rexp = float(np.sqrt(dof / np.sum(wy**2)))
    zi = model.names.index("zero_shift") if "zero_shift" in model.names else None
    return XRDFitResult(
        phases=results,
        rwp=rwp,
        rexp=rexp,
        chi2_reduced=chi2_red,
        zero_shift=inst.zero_shift,
        zero_shift_error=float(err[zi]) if zi is not None else 0.0,
        instrument=inst,
        x=model.x,
        y=model.y,
        fit=fit,
        background=bkg,
        success=success,
        message=message,
    )


def fit_phases(
    data: xr.Dataset | xr.DataTree | tuple[np.ndarray, np.ndarray],
    phases: Sequence[Phase | str],
    *,
    instrument: Instrument | None = None,
    wavelength: float | None = None,
    n_background: int = 6,
    refine_lattice: bool = True,
    refine_size: bool = True,
    refine_width: bool = True,
    refine_zero: bool = True,
    initial_cell_scales: Sequence[float | Sequence[float]] | None = None,
    scores: dict[str, float] | None = None,
    max_nfev: int = 200,
) -> XRDFitResult:
    """Whole-pattern fit of known phases: weight fractions, cell parameters, crystallite sizes.

    Parameters
    ----------
    data
        Dataset with ``intensity`` on ``two_theta`` (or a tree: first leaf; or an (x, y) tuple).
    phases
        Phases or library names.
    instrument
        Instrument profile and wavelengths; default from the data's attributes (Cu Kα1/Kα2).
    wavelength
        Kα1 wavelength in Å overriding the file's.
    n_background
        Degree of the Chebyshev background polynomial.
    refine_lattice, refine_size, refine_width, refine_zero
        Which nonlinear parameters to refine (per-phase cell lengths and crystallite size; common
        Caglioti W and zero shift). Scales and background are always refined.
    initial_cell_scales
        Starting cell scale per phase, one number or (sa, sb, sc) (e.g. from :func:`search_match`).

    Raises
    ------
    FitError
        If no phase is given or the optimiser fails outright.
    """
    with single_thread_blas():
        return _fit_phases(
            data,
            phases,
            instrument=instrument,
            wavelength=wavelength,
            n_background=n_background,
            refine_lattice=refine_lattice,
            refine_size=refine_size,
            refine_width=refine_width,
            refine_zero=refine_zero,
            initial_cell_scales=initial_cell_scales,
            scores=scores,
            max_nfev=max_nfev,
        )


def _fit_phases(
    data,
    phases,
    *,
    instrument,
    wavelength,
    n_background,
    refine_lattice,
    refine_size,
    refine_width,
    refine_zero,
    initial_cell_scales,
    scores,
    max_nfev,
) -> XRDFitResult:
    x, y, inst_data = pattern_from(data, wavelength)
    instrument = instrument or inst_data
    phase_objs = [p if isinstance(p, Phase) else select_phases([p])[0] for p in phases]
    if not phase_objs:
        raise FitError("no phases to fit")
    model = _Model(
        x,
        y,
        phase_objs,
        instrument,
        n_background=n_background,
        refine_lattice=refine_lattice,
        refine_size=refine_size,
        refine_width=refine_width,
        refine_zero=refine_zero,
        initial_scales=initial_cell_scales,
    )
    p0 = model.p0_arr
    if p0.size:
        try:
            sol = optimize.least_squares(
                model.residual,
                p0,
                bounds=(np.array(model.lo), np.array(model.hi)),
                x_scale="jac",
                max_nfev=max_nfev * max(1, p0.size),
                xtol=1e-10,
                ftol=1e-10,
            )
        except (ValueError, np.linalg.LinAlgError) as exc:
            raise FitError(f"whole-pattern fit failed: {exc}") from exc
        p, success, message = sol.x, bool(sol.success), str(sol.message)
    else:
        p, success, message = p0, True, "no nonlinear parameters"
    return _finish(model, p, scores or {}, message, success)


# --------------------------------------------------------------------------------------------------
# identification
# --------------------------------------------------------------------------------------------------
def _greedy_select(
    x: np.ndarray,
    y: np.ndarray,
    shortlist: list[Candidate],
    instrument: Instrument,
    fwhm: float,
    n_background: int,
    max_phases: int,
    min_improvement: float,
) -> list[Candidate]:
    """Forward selection on fixed simulated profiles (width measured in the data)."""
    sigma_w = 1.0 / _sigma(y)
    t = (x - x[0]) / (x[-1] - x[0]) * 2.0 - 1.0
    basis = chebyshev.chebvander(t, n_background)
    # the Kα-doublet and size broadening are in the measured width already: Gaussian-Lorentzian 50/50
    cols = {}
    for cand in shortlist:
        pos, inten, _ = phase_sticks(cand.reflections, instrument.with_(wavelength2=None), cand.cell_scale)
        f = np.full(pos.size, fwhm)
        cols[cand.phase.name] = profile_sum(x, pos, inten, f, np.full(pos.size, 0.5))

    def rwp_of(names: list[str]) -> float:
        design = np.hstack([np.stack([cols[n] for n in names], axis=1), basis]) if names else basis
        a = design * sigma_w[:, None]
        b = y * sigma_w
        norms = np.linalg.norm(a, axis=0)
        norms[norms == 0] = 1
        lb = np.full(a.shape[1], -np.inf)
        lb[: len(names)] = 0.0
        res = optimize.lsq_linear(a / norms, b, bounds=(lb, np.inf), method="bvls")
        if names and np.any(res.x[: len(names)] <= 0):
            return np.inf  # a phase the fit does not want is no improvement
        return float(np.sqrt(np.sum((a / norms @ res.x - b) ** 2) / np.sum(b**2)))

    chosen: list[Candidate] = []
    current = rwp_of([])
    while len(chosen) < max_phases:
        best, best_rwp = None, current
        for cand in shortlist:
            if cand in chosen:
                continue
            value = rwp_of([c.phase.name for c in chosen] + [cand.phase.name])
            if value < best_rwp:
                best, best_rwp = cand, value
        if best is None or best_rwp > current * (1.0 - min_improvement):
            break
        chosen.append(best)
        current = best_rwp
    return chosen


def _clear_improvement(old: XRDFitResult, new: XRDFitResult, min_improvement: float, *, visible: bool = True) -> bool:
    """Does ``new`` fit clearly better than ``old``?

    Either Rwp drops by ``min_improvement`` (relative; only for a phase ``visible`` in the peak
    list), or — for a minor phase in an otherwise well-fitted pattern — the added phase removes at
    least half of the misfit above counting noise (χ² in excess of the degrees of freedom,
    ∝ Rwp² − Rexp²) while lowering Rwp by ``min_improvement``/6 or more. The second test keeps a
    phase without visible lines from soaking up the misfit of a phase missing from the candidates.
    """
    if visible and new.rwp < old.rwp * (1.0 - min_improvement):
        return True
    excess = old.rwp**2 - old.rexp**2
    if excess <= 0:
        return False
    explained = (old.rwp**2 - new.rwp**2) / excess
    return explained >= 0.5 and new.rwp < old.rwp * (1.0 - min_improvement / 6.0)


def _quick_additions(
    result: XRDFitResult, rest: list[Candidate], min_improvement: float, strain_range: float = 0.008
) -> list[Candidate]:
    """Candidates that would lower Rwp by more than ``min_improvement`` when added to a fit (best first).

    A matched filter on the weighted residual of the fit: the residual is correlated with the peak
    shape once, then for every trial cell of the candidate (:func:`_scale_grid`) the correlation at
    its line positions (Kα1 and Kα2) gives the χ² decrease of adding it with the best non-negative
    scale (overlaps of its own lines neglected). The best cell is then checked with the exact profile.
    This finds minor phases whose few visible lines are too weak for the peak list of the search-match
    and updates their cell scale (search-match cells from a few weak lines are poor).
    """
    x, y = result.x, result.y
    w = 1.0 / _sigma(y)
    r = (y - result.fit) * w
    chi2 = float(r @ r)
    norm = float(np.sum((y * w) ** 2))
    inst = result.instrument
    sizes = [p.crystallite_size_nm for p in result.phases if p.crystallite_size_nm]
    size = float(np.median(sizes)) if sizes else np.inf
    step = float(np.median(np.diff(x)))
    mid = float(np.median(x))
    fwhm_mid, eta_mid = pseudo_voigt_widths(np.array([mid]), inst, size)
    half = int(np.ceil(5 * fwhm_mid[0] / step))
    kernel_x = np.arange(-half, half + 1) * step
    kernel = profile_sum(kernel_x, np.array([0.0]), np.array([1.0]), fwhm_mid, eta_mid)
    corr = np.convolve(r * w, kernel, mode="same")  # <w·profile(x_k), r> for a line at x_k
    power = np.convolve(w * w, kernel * kernel, mode="same")  # <w·profile, w·profile>
    lam2 = inst.wavelength2 if inst.wavelength2 and inst.kalpha2_ratio > 0 else None
    out = []
    for cand in rest:
        refl = cand.reflections
        inside = (refl.two_theta >= x[0] - 2) & (refl.two_theta <= x[-1] + 2)
        if not inside.any():
            continue
        inten = refl.intensity[inside]
        keep = inten >= 0.01 * inten.max()
        terms = refl._metric_terms[inside][keep]
        inten = inten[keep]
        combos, factors = _scale_grid(cand.phase.lattice_mode, strain_range)
        inv_d = np.sqrt(terms @ factors)  # (lines, cells)
        num = np.zeros(combos.shape[0])
        den = np.zeros(combos.shape[0])
        for lam, share in ((inst.wavelength, 1.0), (lam2, inst.kalpha2_ratio)):
            if lam is None:
                continue
            pos = np.degrees(2.0 * np.arcsin(np.clip(lam * inv_d / 2.0, -1, 1))) + inst.zero_shift
            amp = (share * inten)[:, None]
            num += (amp * np.interp(pos, x, corr, left=0.0, right=0.0)).sum(axis=0)
            den += (amp**2 * np.interp(pos, x, power, left=0.0, right=0.0)).sum(axis=0)
        gain = np.where((num > 0) & (den > 0), num**2 / np.where(den > 0, den, 1.0), 0.0)
        cell = tuple(float(v) for v in combos[int(np.argmax(gain))])
        # exact check with the real profile at that cell
        pos, amp, lam = phase_sticks(refl, inst, cell)
        fwhm, eta = pseudo_voigt_widths(pos, inst, size, wavelength=lam)
        col = profile_sum(x, pos, amp, fwhm, eta) * w
        col -= col.mean()  # let the background absorb a constant offset
        cc, cr = float(col @ col), float(col @ r)
        if cc <= 0 or cr <= 0:
            continue
        rwp = math.sqrt(max(chi2 - cr * cr / cc, 0.0) / norm)
        if rwp < result.rwp * (1.0 - min_improvement):
            cand.cell_scale = cell
            out.append((rwp, cand))
    out.sort(key=lambda item: item[0])
    return [c for _, c in out]


def identify(
    data: xr.Dataset | xr.DataTree | tuple[np.ndarray, np.ndarray],
    candidates: Sequence[str | Phase] | None = None,
    *,
    elements: Iterable[str] | None = None,
    wavelength: float | None = None,
    instrument: Instrument | None = None,
    min_score: float = 0.5,
    min_score_minor: float = 0.0,
    min_score_visible: float = 0.3,
    max_shortlist: int = 25,
    max_residual_search: int = 60,
    max_phases: int = 6,
    min_improvement: float = 0.03,
    min_weight_fraction: float = 0.005,
    n_background: int = 6,
) -> XRDFitResult:
    """Identify the phases of a powder pattern and quantify them (search-match + whole-pattern fit).

    Parameters
    ----------
    data
        Dataset with ``intensity`` on ``two_theta`` (or a tree: first leaf; or an (x, y) tuple).
    candidates
        Candidate phases (library names, CIF paths or :class:`Phase`); default the whole library.
    elements
        Only consider phases whose elements are all in this set.
    wavelength
        Kα1 wavelength in Å overriding the file's (default Cu Kα1 + Kα2).
    instrument
        Instrument profile (default Caglioti coefficients of a lab diffractometer, W refined).
    min_score
        Peak figure of merit of a clear match; at least one candidate must reach it.
    min_score_minor
        Lowest figure of merit of a shortlisted candidate (a minor phase shows only its strongest
        lines); such candidates enter only by lowering Rwp.
    min_score_visible
        Figure of merit above which a phase counts as visible in the peak list: only visible phases
        enter by a relative Rwp decrease; the others must explain most of the remaining misfit.
    max_shortlist, max_phases
        Size limits of the shortlist (greedy selection) and of the final phase set.
    max_residual_search
        How many of the best-scored candidates the residual (minor-phase) search looks at.
    min_improvement
        Relative Rwp decrease a phase must bring to be added.
    min_weight_fraction
        Phases below this weight fraction (or below 3σ) are removed after the fit.

    Returns
    -------
    XRDFitResult
        Phases found with weight fractions, cells, sizes and errors; ``candidates`` lists the scores.

    Raises
    ------
    SpecfitError
        If no candidate phase remains (e.g. the element filter excludes the whole library) or no
        phase matches the pattern.
    """
    with single_thread_blas():
        return _identify(
            data,
            candidates,
            elements=elements,
            wavelength=wavelength,
            instrument=instrument,
            min_score=min_score,
            min_score_minor=min_score_minor,
            min_score_visible=min_score_visible,
            max_shortlist=max_shortlist,
            max_residual_search=max_residual_search,
            max_phases=max_phases,
            min_improvement=min_improvement,
            min_weight_fraction=min_weight_fraction,
            n_background=n_background,
        )


def _identify(
    data,
    candidates,
    *,
    elements,
    wavelength,
    instrument,
    min_score,
    min_score_minor,
    min_score_visible,
    max_shortlist,
    max_residual_search,
    max_phases,
    min_improvement,
    min_weight_fraction,
    n_background,
) -> XRDFitResult:
    x, y, inst_data = pattern_from(data, wavelength)
    instrument = instrument or inst_data
    phases = select_phases(candidates, elements)
    if not phases:
        raise SpecfitError(
            "no candidate phases" + (f" with elements ⊆ {{{', '.join(elements)}}}" if elements is not None else "")
        )
    background = _estimate_background(x, y)
    ranked, peaks = search_match(x, y, phases, instrument, background=background)
    scores = {c.phase.name: c.score for c in ranked}
    # strong matches first; weaker ones (a minor phase shows only its strongest lines) fill the
    # shortlist up to its size and must then earn their place by lowering Rwp
    shortlist = [c for c in ranked if c.score >= min_score]
    shortlist += [c for c in ranked if min_score_minor <= c.score < min_score]
    shortlist = shortlist[: max(max_shortlist, sum(c.score >= min_score for c in ranked))]
    # the residual search for minor phases looks further down the ranking (cheap matched filter)
    pool = [c for c in ranked if c.score >= min_score_minor][: max(max_residual_search, len(shortlist))]
    if not shortlist or shortlist[0].score < min_score:
        raise SpecfitError(
            f"no candidate phase matches the pattern (best: {ranked[0].phase.name} score {ranked[0].score:.2f})"
        )
    chosen = (
        _greedy_select(
            x,
            y,
            [c for c in shortlist if c.score >= min_score_visible],
            instrument,
            peaks.fwhm,
            n_background,
            max_phases,
            min_improvement,
        )
        or shortlist[:1]
    )

    def run(cands: list[Candidate]) -> XRDFitResult:
        return fit_phases(
            (x, y),
            [c.phase for c in cands],
            instrument=instrument,
            n_background=n_background,
            initial_cell_scales=[c.cell_scale for c in cands],
            scores=scores,
        )

    result = run(chosen)
    # drop insignificant phases (below the weight-fraction floor or 3σ), refit
    for _ in range(len(chosen)):
        weak = [r for r in result.phases if r.weight_fraction < min_weight_fraction or r.scale < 3.0 * r.scale_error]
        if not weak or len(result.phases) == 1:
            break
        drop = min(weak, key=lambda r: r.weight_fraction)
        chosen = [c for c in chosen if c.phase.name != drop.name]
        result = run(chosen)
    # one more look at the shortlist with the refined instrument: a quick linear test (refined phase
    # curves fixed, candidate profile at its search-match cell) and a full refit only for a phase
    # that clearly lowers Rwp
    for _ in range(2):
        rest = [c for c in pool if c not in chosen]
        if not rest or len(chosen) >= max_phases:
            break
        # the quick test uses one isotropic cell scale; a non-cubic phase under anisotropic strain fits
        # much better once a, b, c are refined, hence the lower bar here and the full test below
        quick = _quick_additions(result, rest, min_improvement / 6.0)
        added = False
        for cand in quick[:3]:
            trial = run([*chosen, cand])
            new_phase = trial.phase(cand.phase.name)
            if (
                _clear_improvement(result, trial, min_improvement, visible=cand.score >= min_score_visible)
                and new_phase.weight_fraction >= min_weight_fraction
                and new_phase.scale > 3.0 * new_phase.scale_error
            ):
                chosen.append(cand)
                result = trial
                added = True
                break
        if not added:
            break
    result.candidates = [(c.phase.name, c.score) for c in ranked]
    return result
