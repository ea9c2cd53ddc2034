"""Powder patterns from structures: pymatgen reflections, Kα1+Kα2, pseudo-Voigt profiles, disk cache.

The reflection list (2θ, |F|²·m·LP intensity, d, hkl) comes from pymatgen's
:class:`~pymatgen.analysis.diffraction.xrd.XRDCalculator` at the Kα1 wavelength of the data
(``scaled=False``: absolute intensities per unit cell, which the Hill–Howard weight fractions of
:mod:`specfit.xrd.match` rely on). Each reflection is drawn twice, at the Kα1 and Kα2 angles of its d
spacing, the Kα2 stick with ``kalpha2_ratio`` of the intensity.

Profiles are pseudo-Voigt functions of unit area. The Gaussian width is the instrument's
(Caglioti: ``FWHM² = U tan²θ + V tanθ + W``); the Lorentzian width is crystallite-size broadening
(Scherrer: ``FWHM = Kλ / (L cos θ)``, plus an optional instrumental ``X / cos θ``); the two combine
with the Thompson–Cox–Hastings formulas (J. Appl. Cryst. 20 (1987) 79) into one FWHM and mixing η.

Lattice parameters change peak positions without re-simulating: d spacings are recomputed from the
hkl list and the reciprocal metric of the scaled cell (:meth:`Reflections.d_spacing`), the
intensities kept (valid for the small strains of a refinement).

Reflection lists are cached on disk (``$SPECFIT_CACHE_DIR`` or ``~/.cache/specfit/xrd``) under a hash
of structure + wavelength + 2θ range + pymatgen version, written atomically (temporary file +
``os.replace``) so that concurrent processes never read half-written files.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Structure

from ..errors import SpecfitError
from .phases import Phase

__all__ = [
    "CU_KALPHA1",
    "CU_KALPHA2",
    "KALPHA2_RATIO",
    "Instrument",
    "Reflections",
    "cache_dir",
    "profile_sum",
    "pseudo_voigt_widths",
    "reflections",
    "simulate_pattern",
    "strained_structure",
    "synthetic_mixture",
]

#: Cu Kα1 / Kα2 wavelengths in Å (Hölzer et al., Phys. Rev. A 56 (1997) 4554) and intensity ratio.
CU_KALPHA1 = 1.540598
CU_KALPHA2 = 1.544426
KALPHA2_RATIO = 0.5

#: Scherrer constant for spherical crystallites (FWHM-based), Langford & Wilson, J. Appl. Cryst. 11 (1978) 102.
SCHERRER_K = 0.9

_CACHE_VERSION = 2
_MEMORY_CACHE: OrderedDict[str, Reflections] = OrderedDict()
_MEMORY_CACHE_SIZE = 512
_MEMORY_LOCK = threading.Lock()


@dataclass(frozen=True)
class Instrument:
    """Diffractometer description: wavelengths and the instrumental profile.

    Parameters
    ----------
    wavelength
        Kα1 (or monochromatic) wavelength in Å.
    wavelength2
        Kα2 wavelength in Å, ``None`` for a monochromatic beam.
    kalpha2_ratio
        Intensity of Kα2 relative to Kα1.
    U, V, W
        Caglioti coefficients of the Gaussian FWHM in deg² (``FWHM² = U tan²θ + V tanθ + W``). The
        defaults describe a typical Bragg–Brentano lab instrument (FWHM ≈ 0.05–0.1° 2θ).
    X
        Instrumental Lorentzian FWHM coefficient in deg (``X / cos θ``).
    zero_shift
        Zero-point error in deg, added to every peak position.
    """

    wavelength: float = CU_KALPHA1
    wavelength2: float | None = CU_KALPHA2
    kalpha2_ratio: float = KALPHA2_RATIO
    U: float = 0.004
    V: float = -0.002
    W: float = 0.0025
    X: float = 0.0
    zero_shift: float = 0.0

    @classmethod
    def from_attrs(cls, attrs: dict, wavelength: float | None = None, **overrides: float) -> Instrument:
        """The instrument of a dataset (attrs ``wavelength_angstrom``, ``wavelength_kalpha2_angstrom``,
        ``kalpha2_ratio``), Cu Kα1/Kα2 when the file does not say.

        A ``wavelength`` given here wins over the file; a wavelength other than Cu Kα1 without a
        stated Kα2, or a stated Kα2 ratio/wavelength of 0, is taken as monochromatic.
        """
        lam1 = wavelength or _positive(attrs.get("wavelength_angstrom")) or CU_KALPHA1
        lam2 = _positive(attrs.get("wavelength_kalpha2_angstrom"))
        ratio = _positive(attrs.get("kalpha2_ratio"))
        stated_zero = _is_zero(attrs.get("kalpha2_ratio")) or _is_zero(attrs.get("wavelength_kalpha2_angstrom"))
        if stated_zero:  # the file says there is no Kα2 (monochromator)
            lam2, ratio = None, 0.0
        if lam2 is None and not stated_zero and math.isclose(lam1, CU_KALPHA1, rel_tol=1e-4):
            lam2 = CU_KALPHA2
        if ratio is None:
            ratio = KALPHA2_RATIO if lam2 else 0.0
        return cls(wavelength=float(lam1), wavelength2=lam2, kalpha2_ratio=float(ratio), **overrides)

    def with_(self, **changes: float) -> Instrument:
        """A copy with some fields changed."""
        return replace(self, **changes)


def _is_zero(value: object) -> bool:
    try:
        return float(value) == 0.0  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _positive(value: object) -> float | None:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and v > 0 else None


def cache_dir() -> Path:
    """Folder of the on-disk reflection cache (``$SPECFIT_CACHE_DIR/xrd`` or ``~/.cache/specfit/xrd``)."""
    base = os.environ.get("SPECFIT_CACHE_DIR")
    root = Path(base) if base else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "specfit"
    return root / "xrd"


@dataclass(frozen=True)
class Reflections:
    """The reflections of one structure at one wavelength (Kα1 positions).

    Attributes
    ----------
    two_theta
        Bragg angles (deg) for the reference cell.
    intensity
        pymatgen's unscaled intensities, |F|²·multiplicity·Lorentz-polarisation, per unit cell.
    d
        d spacings (Å).
    hkl
        One representative (h, k, l) per reflection, shape (n, 3).
    multiplicity
        Multiplicity of that family.
    wavelength
        Wavelength used (Å).
    lattice_abc, lattice_angles
        The reference cell.
    """

    two_theta: np.ndarray
    intensity: np.ndarray
    d: np.ndarray
    hkl: np.ndarray
    multiplicity: np.ndarray
    wavelength: float
    lattice_abc: tuple[float, float, float]
    lattice_angles: tuple[float, float, float]
    _metric_terms: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        # h_i h_j G*_ij of the reference cell (off-diagonal terms doubled): with the cell lengths
        # scaled by s = (sa, sb, sc) and angles kept, G* -> diag(1/s) G* diag(1/s), so
        # 1/d² = terms · (1/sa², 1/sb², 1/sc², 1/(sa sb), 1/(sa sc), 1/(sb sc)).
        g = Lattice.from_parameters(*self.lattice_abc, *self.lattice_angles).reciprocal_lattice_crystallographic
        gstar = g.metric_tensor
        h, k, l_ = (self.hkl[:, i].astype(float) for i in range(3))
        terms = np.stack(
            [
                h * h * gstar[0, 0],
                k * k * gstar[1, 1],
                l_ * l_ * gstar[2, 2],
                2 * h * k * gstar[0, 1],
                2 * h * l_ * gstar[0, 2],
                2 * k * l_ * gstar[1, 2],
            ],
            axis=1,
        )
        object.__setattr__(self, "_metric_terms", terms)

    def __len__(self) -> int:
        return int(self.two_theta.size)

    def d_spacing(self, scale: Sequence[float] = (1.0, 1.0, 1.0)) -> np.ndarray:
        """d spacings (Å) of the cell with lengths scaled by ``scale`` = (sa, sb, sc), angles fixed."""
        sa, sb, sc = scale
        factors = np.array([1 / sa**2, 1 / sb**2, 1 / sc**2, 1 / (sa * sb), 1 / (sa * sc), 1 / (sb * sc)])
        inv_d2 = self._metric_terms @ factors
        return 1.0 / np.sqrt(np.clip(inv_d2, 1e-12, None))

    def positions(self, wavelength: float, scale: Sequence[float] = (1.0, 1.0, 1.0)) -> np.ndarray:
        """Bragg angles 2θ (deg) at ``wavelength`` for the scaled cell (NaN where no reflection)."""
        ratio = wavelength / (2.0 * self.d_spacing(scale))
        with np.errstate(invalid="ignore"):
            return np.degrees(2.0 * np.arcsin(np.where(ratio < 1.0, ratio, np.nan)))


def _range_key(two_theta_range: tuple[float, float]) -> tuple[int, int]:
    lo, hi = two_theta_range
    # simulate 3° beyond the data so that peaks moved by strain/zero shift stay in; whole degrees so
    # nearby ranges share one cache entry
    return max(0, math.floor(lo - 3.0)), min(180, math.ceil(hi + 3.0))


def _cache_key(structure_key: str, wavelength: float, rng: tuple[int, int]) -> str:
    import pymatgen.core

    text = f"v{_CACHE_VERSION}|{structure_key}|{wavelength:.6f}|{rng[0]}-{rng[1]}|pmg{pymatgen.core.__version__}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


_PMG_LOCK = threading.Lock()


def _compute(structure: Structure, wavelength: float, rng: tuple[int, int]) -> Reflections:
    from pymatgen.analysis.diffraction.core import AbstractDiffractionPatternCalculator
    from pymatgen.analysis.diffraction.xrd import XRDCalculator

    calc = XRDCalculator(wavelength=wavelength)
    # pymatgen merges reflections closer than TWO_THETA_TOL (1e-5°) into one line with one hkl list.
    # Reflections that coincide only by accident in the reference cell split when the cell is
    # strained, so merge only numerically identical angles (symmetry-equivalent reflections) here.
    with _PMG_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        saved = AbstractDiffractionPatternCalculator.TWO_THETA_TOL
        AbstractDiffractionPatternCalculator.TWO_THETA_TOL = 1e-9
        try:
            pattern = calc.get_pattern(structure, scaled=False, two_theta_range=rng)
        finally:
            AbstractDiffractionPatternCalculator.TWO_THETA_TOL = saved
    hkl = []
    mult = []
    for families in pattern.hkls:
        first = families[0]["hkl"]
        # pymatgen writes hexagonal indices as (h, k, i, l)
        hkl.append((first[0], first[1], first[-1]) if len(first) == 4 else tuple(first))
        mult.append(sum(f["multiplicity"] for f in families))
    lattice = structure.lattice
    return Reflections(
        two_theta=np.asarray(pattern.x, dtype=float),
        intensity=np.asarray(pattern.y, dtype=float),
        d=np.asarray(pattern.d_hkls, dtype=float),
        hkl=np.asarray(hkl, dtype=int).reshape(-1, 3),
        multiplicity=np.asarray(mult, dtype=int),
        wavelength=float(wavelength),
        lattice_abc=tuple(float(v) for v in lattice.abc),
        lattice_angles=tuple(float(v) for v in lattice.angles),
    )


def _save(path: Path, refl: Reflections) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(
                fh,
                two_theta=refl.two_theta,
                intensity=refl.intensity,
                d=refl.d,
                hkl=refl.hkl,
                multiplicity=refl.multiplicity,
                wavelength=refl.wavelength,
                abc=np.array(refl.lattice_abc),
                angles=np.array(refl.lattice_angles),
            )
        os.replace(tmp, path)  # atomic on POSIX and Windows: readers see the old or the new file
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load(path: Path) -> Reflections | None:
    try:
        with np.load(path) as data:
            return Reflections(
                two_theta=data["two_theta"],
                intensity=data["intensity"],
                d=data["d"],
                hkl=data["hkl"],
                multiplicity=data["multiplicity"],
                wavelength=float(data["wavelength"]),
                lattice_abc=tuple(float(v) for v in data["abc"]),
                lattice_angles=tuple(float(v) for v in data["angles"]),
            )
    except (OSError, ValueError, KeyError, EOFError):
        return None  # missing or damaged cache file: recompute


def reflections(
    phase: Phase | Structure,
    wavelength: float = CU_KALPHA1,
    two_theta_range: tuple[float, float] = (5.0, 120.0),
    *,
    use_cache: bool = True,
) -> Reflections:
    """The reflection list of a phase at a wavelength over (a little more than) a 2θ range.

    Results are cached in memory and on disk (see :func:`cache_dir`).
    """
    if wavelength <= 0:
        raise SpecfitError(f"wavelength must be positive, got {wavelength}")
    if isinstance(phase, Structure):
        phase = Phase.from_structure(phase)
    rng = _range_key(two_theta_range)
    key = _cache_key(phase.key, wavelength, rng)
    if use_cache:
        with _MEMORY_LOCK:
            if key in _MEMORY_CACHE:
                _MEMORY_CACHE.move_to_end(key)
                return _MEMORY_CACHE[key]
    path = cache_dir() / f"{key}.npz"
    refl = _load(path) if use_cache and path.exists() else None
    if refl is None:
        refl = _compute(phase.structure, wavelength, rng)
        if use_cache:
            try:
                _save(path, refl)
            except OSError:
                pass  # a read-only cache folder only costs speed
    if use_cache:
        with _MEMORY_LOCK:
            _MEMORY_CACHE[key] = refl
            while len(_MEMORY_CACHE) > _MEMORY_CACHE_SIZE:
                _MEMORY_CACHE.popitem(last=False)
    return refl


def pseudo_voigt_widths(
    two_theta: np.ndarray,
    instrument: Instrument,
    size_nm: float | np.ndarray = np.inf,
    *,
    wavelength: float | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """FWHM (deg) and Lorentzian fraction η of the peaks at ``two_theta``.

    Gaussian part: Caglioti instrument function; Lorentzian part: Scherrer size broadening
    ``K λ / (L cos θ)`` plus the instrumental ``X / cos θ``; combined by Thompson–Cox–Hastings.
    """
    theta = np.radians(np.asarray(two_theta, dtype=float) / 2.0)
    tan, cos = np.tan(theta), np.cos(theta)
    g2 = instrument.U * tan**2 + instrument.V * tan + instrument.W
    gamma_g = np.sqrt(np.clip(g2, 1e-10, None))
    lam = instrument.wavelength if wavelength is None else wavelength
    size_aa = np.asarray(size_nm, dtype=float) * 10.0
    with np.errstate(divide="ignore"):
        gamma_size = np.where(np.isfinite(size_aa), np.degrees(SCHERRER_K * lam / (size_aa * cos)), 0.0)
    gamma_l = gamma_size + instrument.X / cos
    gg, gl = gamma_g, gamma_l
    fwhm = (
        gg**5 + 2.69269 * gg**4 * gl + 2.42843 * gg**3 * gl**2 + 4.47163 * gg**2 * gl**3 + 0.07842 * gg * gl**4 + gl**5
    ) ** 0.2
    q = gl / fwhm
    eta = np.clip(1.36603 * q - 0.47719 * q**2 + 0.11116 * q**3, 0.0, 1.0)
    return fwhm, eta


_LN2 = math.log(2.0)
_GAUSS_NORM = 2.0 * math.sqrt(_LN2 / math.pi)


def profile_sum(
    x: np.ndarray,
    centers: np.ndarray,
    areas: np.ndarray,
    fwhm: np.ndarray,
    eta: np.ndarray,
    *,
    window: float = 15.0,
) -> np.ndarray:
    """Sum of unit-area pseudo-Voigt peaks (times ``areas``) on an increasing grid ``x``.

    Each peak is evaluated only within ±``window`` FWHM of its centre (written by hand rather than a
    full peaks × points matrix because that matrix is 100× larger for typical patterns); the
    Lorentzian part is renormalised to the area inside the window so that intensities are not lost
    to the cut tails.
    """
    out = np.zeros(x.size)
    ok = np.isfinite(centers) & (areas != 0) & np.isfinite(fwhm)
    if not ok.any():
        return out
    c, a, f, e = centers[ok], areas[ok], fwhm[ok], eta[ok]
    half = window * f
    lo = np.searchsorted(x, c - half, side="left")
    hi = np.searchsorted(x, c + half, side="right")
    n = hi - lo
    keep = n > 0
    if not keep.any():
        return out
    c, a, f, e, lo, n = c[keep], a[keep], f[keep], e[keep], lo[keep], n[keep]
    half = half[keep]
    peak = np.repeat(np.arange(c.size), n)
    offsets = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    idx = np.repeat(lo, n) + offsets
    dx = (x[idx] - c[peak]) / f[peak]
    lorentz_area = (2.0 / math.pi) * np.arctan(2.0 * half / f)  # share of the Lorentzian inside the window
    gauss = _GAUSS_NORM * np.exp(-4.0 * _LN2 * dx * dx)
    lorentz = (2.0 / math.pi) / (1.0 + 4.0 * dx * dx) / lorentz_area[peak]
    ep = e[peak]
    values = a[peak] / f[peak] * (ep * lorentz + (1.0 - ep) * gauss)
    return np.bincount(idx, weights=values, minlength=x.size)


def phase_sticks(
    refl: Reflections,
    instrument: Instrument,
    scale: Sequence[float] = (1.0, 1.0, 1.0),
    *,
    min_relative: float = 1e-4,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kα1 (+Kα2) stick positions (deg, zero shift applied), intensities and the wavelength of each."""
    keep = refl.intensity >= min_relative * (refl.intensity.max() if len(refl) else 0.0)
    inten = refl.intensity[keep]
    d = refl.d_spacing(scale)[keep]
    pos = [_bragg(instrument.wavelength, d)]
    ints = [inten]
    lams = [np.full(d.size, instrument.wavelength)]
    if instrument.wavelength2 and instrument.kalpha2_ratio > 0:
        pos.append(_bragg(instrument.wavelength2, d))
        ints.append(inten * instrument.kalpha2_ratio)
        lams.append(np.full(d.size, instrument.wavelength2))
    return np.concatenate(pos) + instrument.zero_shift, np.concatenate(ints), np.concatenate(lams)


def _bragg(wavelength: float, d: np.ndarray) -> np.ndarray:
    ratio = wavelength / (2.0 * d)
    with np.errstate(invalid="ignore"):
        return np.degrees(2.0 * np.arcsin(np.where(ratio < 1.0, ratio, np.nan)))


def simulate_pattern(
    phase: Phase | Structure,
    two_theta: np.ndarray,
    instrument: Instrument | None = None,
    *,
    scale: float = 1.0,
    size_nm: float = np.inf,
    lattice_scale: Sequence[float] = (1.0, 1.0, 1.0),
    use_cache: bool = True,
) -> np.ndarray:
    """The profile of one phase on a 2θ grid (increasing), ``scale`` × unit-cell intensities.

    Parameters
    ----------
    phase
        Phase or structure.
    two_theta
        Increasing 2θ grid in deg.
    instrument
        Wavelengths and instrument profile (default: Cu Kα1+Kα2 lab instrument).
    scale
        Multiplies pymatgen's unscaled intensities (the Rietveld scale factor).
    size_nm
        Crystallite size for Scherrer broadening (``inf``: none).
    lattice_scale
        Factors on a, b, c (angles kept).
    """
    instrument = instrument or Instrument()
    x = np.asarray(two_theta, dtype=float)
    refl = reflections(phase, instrument.wavelength, (float(x.min()), float(x.max())), use_cache=use_cache)
    pos, inten, lam = phase_sticks(refl, instrument, lattice_scale)
    fwhm, eta = pseudo_voigt_widths(pos, instrument, size_nm, wavelength=lam)
    return profile_sum(x, pos, scale * inten, fwhm, eta)


def strained_structure(structure: Structure, lattice_scale: Sequence[float]) -> Structure:
    """A copy of ``structure`` with cell lengths multiplied by ``lattice_scale`` (angles and fractional
    coordinates kept)."""
    a, b, c = structure.lattice.abc
    sa, sb, sc = lattice_scale
    lattice = Lattice.from_parameters(a * sa, b * sb, c * sc, *structure.lattice.angles)
    return Structure(lattice, structure.species_and_occu, structure.frac_coords)


def synthetic_mixture(
    phases: Sequence[Phase],
    weight_fractions: Sequence[float],
    two_theta: np.ndarray | None = None,
    instrument: Instrument | None = None,
    *,
    lattice_scales: Sequence[Sequence[float]] | None = None,
    sizes_nm: Sequence[float] | None = None,
    background: np.ndarray | None = None,
    max_counts: float = 2.0e4,
    rng: np.random.Generator | None = None,
    use_cache: bool = True,
):
    """Simulate a measured mixture pattern with known truth (for tests, benchmarks, detection limits).

    Strained phases are re-simulated by pymatgen from a strained copy of the structure (not through
    :meth:`Reflections.d_spacing`), so a fit of the result tests the lattice refinement independently.
    Scale factors follow Hill–Howard: ``S_i ∝ w_i / (Z M V)_i``. Counting noise is Poisson.

    Returns
    -------
    (xarray.Dataset, dict)
        A conventional leaf dataset (``intensity`` on ``two_theta``, Cu attrs) and the truth: names,
        weight fractions, lattice (a, b, c), sizes, scale factors.
    """
    from ..conventions import make_leaf

    instrument = instrument or Instrument()
    rng = rng or np.random.default_rng()
    x = np.arange(10.0, 90.0 + 1e-9, 0.02) if two_theta is None else np.asarray(two_theta, dtype=float)
    n = len(phases)
    w = np.asarray(weight_fractions, dtype=float)
    if w.size != n or np.any(w < 0) or w.sum() <= 0:
        raise SpecfitError("weight_fractions must be one non-negative number per phase")
    w = w / w.sum()
    scales_abc = [tuple(s) for s in lattice_scales] if lattice_scales is not None else [(1.0, 1.0, 1.0)] * n
    sizes = list(sizes_nm) if sizes_nm is not None else [np.inf] * n
    curves = []
    truth_lattice = []
    zmv = []
    for phase, s, size in zip(phases, scales_abc, sizes, strict=True):
        strained = strained_structure(phase.structure, s)
        zmv.append(float(strained.composition.weight) * float(strained.volume))
        curves.append(simulate_pattern(strained, x, instrument, size_nm=size, use_cache=use_cache))
        a, b, c = strained.lattice.abc
        truth_lattice.append({"a": a, "b": b, "c": c})
    raw_scales = w / np.asarray(zmv)
    signal = sum(sc * cu for sc, cu in zip(raw_scales, curves, strict=True))
    peak = float(np.max(signal)) or 1.0
    norm = max_counts / peak
    signal = signal * norm
    if background is None:
        background = 0.04 * max_counts * (1.0 + 2.0 * np.exp(-(x - x.min()) / 12.0))
    expected = signal + background
    counts = rng.poisson(np.clip(expected, 0, None)).astype(float)
    ds = make_leaf(
        counts,
        "two_theta",
        x,
        units="counts",
        attrs={
            "technique": "xrd",
            "source_format": "synthetic",
            "wavelength_angstrom": instrument.wavelength,
            "wavelength_kalpha2_angstrom": instrument.wavelength2 or 0.0,
            "kalpha2_ratio": instrument.kalpha2_ratio,
        },
    )
    truth = {
        "names": [p.name for p in phases],
        "weight_fractions": w.tolist(),
        "lattice": truth_lattice,
        "sizes_nm": sizes,
        "scales": (raw_scales * norm).tolist(),
    }
    return ds, truth
