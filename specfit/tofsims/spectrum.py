"""ToF-SIMS mass spectra: mass calibration, peak integration windows, fragment assignment.

Time of flight and mass: ``t = a + b * sqrt(m)`` (the ideal analyser), optionally with a quadratic
term in ``sqrt(m)`` for reflectron non-linearity. :func:`calibrate_tof` fits this to known peaks
(channel or time against exact mass) by linear least squares; :func:`calibrate_mass` fits a linear
correction ``m_true = c0 + c1 * m`` to a spectrum that already has a mass axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from ..errors import SpecfitError
from .fragments import Fragment, exact_mass, fragment_library, parse_ion

__all__ = [
    "MassCalibration",
    "TofCalibration",
    "assign_peaks",
    "calibrate_mass",
    "calibrate_spectrum",
    "calibrate_tof",
    "find_peaks",
    "integrate_peaks",
    "peak_centroid",
]


@dataclass
class TofCalibration:
    """``t = a + b sqrt(m) + c m`` (``c = 0`` for the linear form); t in channels or seconds."""

    a: float
    b: float
    c: float = 0.0
    rms_ppm: float = float("nan")

    def time(self, mass: np.ndarray | float) -> np.ndarray:
        """Flight time (channel) of a mass."""
        s = np.sqrt(np.asarray(mass, dtype=float))
        return self.a + self.b * s + self.c * s * s

    def mass(self, time: np.ndarray | float) -> np.ndarray:
        """Mass of a flight time (channel): the root of the (quadratic) calibration in sqrt(m)."""
        t = np.asarray(time, dtype=float)
        if self.c == 0.0:
            s = (t - self.a) / self.b
        else:
            disc = self.b**2 + 4 * self.c * (t - self.a)
            s = (-self.b + np.sqrt(np.clip(disc, 0, None))) / (2 * self.c)
        return s * s


def calibrate_tof(times: np.ndarray, masses: np.ndarray, *, quadratic: bool = False) -> TofCalibration:
    """Fit ``t = a + b sqrt(m)`` (+ ``c m``) to calibration peaks (times or channels vs exact masses)."""
    t = np.asarray(times, dtype=float)
    m = np.asarray(masses, dtype=float)
    need = 3 if quadratic else 2
    if t.size != m.size or t.size < need:
        raise SpecfitError(f"calibration needs at least {need} (time, mass) pairs, got {min(t.size, m.size)}")
    if np.any(m <= 0):
        raise SpecfitError("calibration masses must be positive")
    s = np.sqrt(m)
    columns = [np.ones_like(s), s] + ([s * s] if quadratic else [])
    coef, *_ = np.linalg.lstsq(np.stack(columns, axis=1), t, rcond=None)
    cal = TofCalibration(float(coef[0]), float(coef[1]), float(coef[2]) if quadratic else 0.0)
    cal.rms_ppm = float(np.sqrt(np.mean(((cal.mass(t) - m) / m * 1e6) ** 2)))
    return cal


@dataclass
class MassCalibration:
    """Linear mass correction ``m_true = c0 + c1 m``."""

    c0: float
    c1: float
    rms_ppm: float = float("nan")

    def __call__(self, mass: np.ndarray | float) -> np.ndarray:
        return self.c0 + self.c1 * np.asarray(mass, dtype=float)


def calibrate_mass(measured: np.ndarray, true: np.ndarray) -> MassCalibration:
    """Fit a linear correction from measured peak masses to their exact masses (1 peak: shift only)."""
    x = np.asarray(measured, dtype=float)
    y = np.asarray(true, dtype=float)
    if x.size != y.size or x.size < 1:
        raise SpecfitError("mass calibration needs at least one (measured, exact) pair")
    if x.size == 1:
        cal = MassCalibration(float(y[0] - x[0]), 1.0)
    else:
        c1, c0 = np.polyfit(x, y, 1)
        cal = MassCalibration(float(c0), float(c1))
    cal.rms_ppm = float(np.sqrt(np.mean(((cal(x) - y) / y * 1e6) ** 2)))
    return cal


def _spectrum(obj: xr.Dataset | xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    da = obj["intensity"] if isinstance(obj, xr.Dataset) else obj
    if "mass" not in da.dims or da.ndim != 1:
        raise SpecfitError(f"expected a 1-D spectrum on 'mass', got dimensions {tuple(da.dims)}")
    return np.asarray(da["mass"].values, dtype=float), np.asarray(da.values, dtype=float)


def peak_centroid(spectrum: xr.Dataset | xr.DataArray, mass: float, window: float) -> tuple[float, float]:
    """Intensity-weighted centroid and summed counts within ``mass ± window`` (u)."""
    m, y = _spectrum(spectrum)
    sel = (m >= mass - window) & (m <= mass + window)
    total = float(np.sum(y[sel]))
    if not sel.any() or total <= 0:
        return float("nan"), 0.0
    return float(np.sum(m[sel] * y[sel]) / total), total


def find_peaks(spectrum: xr.Dataset | xr.DataArray, *, prominence: float | None = None) -> np.ndarray:
    """Masses of local maxima (scipy.signal.find_peaks; default prominence: 5 x the median count)."""
    from scipy.signal import find_peaks as _find

    m, y = _spectrum(spectrum)
    if prominence is None:
        prominence = max(5.0 * float(np.median(y)), 5.0)
    idx, _ = _find(y, prominence=prominence)
    return m[idx]


def integrate_peaks(
    spectrum: xr.Dataset | xr.DataArray,
    fragments: list[str | Fragment] | None = None,
    *,
    window_ppm: float | None = None,
    window_u: float = 0.05,
) -> list[dict[str, Any]]:
    """Counts of each fragment in a window around its exact m/z.

    The window is ``± window_ppm`` (relative) when given, else ``± window_u`` (u).
    """
    frags = _fragments(fragments, spectrum)
    out = []
    for frag in frags:
        target = frag.mz
        half = target * window_ppm * 1e-6 if window_ppm else window_u
        centroid, counts = peak_centroid(spectrum, target, half)
        out.append({"name": frag.name, "mz": target, "window_u": half, "counts": counts, "centroid": centroid})
    return out


def _fragments(fragments, spectrum) -> list[Fragment]:
    if fragments is None:
        polarity = spectrum.attrs.get("polarity", "") if isinstance(spectrum, xr.Dataset) else ""
        lib = fragment_library()
        if polarity == "negative":
            return [f for f in lib if f.charge < 0]
        if polarity == "positive":
            return [f for f in lib if f.charge > 0]
        return list(lib)
    out = []
    for f in fragments:
        if isinstance(f, Fragment):
            out.append(f)
        else:
            _comp, charge = parse_ion(f)  # validates the label
            out.append(Fragment(name=f, formula=f, charge=charge))
    return out


def assign_peaks(
    peak_masses: np.ndarray | list[float],
    fragments: list[str | Fragment] | None = None,
    *,
    tolerance_ppm: float = 200.0,
    tolerance_u: float | None = None,
) -> list[dict[str, Any]]:
    """Assign measured peak masses to library fragments by the smallest mass error.

    Each result holds the peak mass, the fragment (or ``None``), its exact m/z and the error in
    ppm and mDa. A peak is assigned only within ``tolerance_ppm`` (or ``tolerance_u`` if given).
    """
    frags = _fragments(fragments, None)
    mz = np.array([f.mz for f in frags])
    out = []
    for peak in np.asarray(peak_masses, dtype=float):
        if not mz.size:
            break
        k = int(np.argmin(np.abs(mz - peak)))
        err = peak - mz[k]
        limit = tolerance_u if tolerance_u is not None else mz[k] * tolerance_ppm * 1e-6
        hit = abs(err) <= limit
        out.append(
            {
                "mass": float(peak),
                "fragment": frags[k].name if hit else None,
                "exact_mz": float(mz[k]) if hit else None,
                "error_ppm": float(err / mz[k] * 1e6) if hit else None,
                "error_mda": float(err * 1e3) if hit else None,
            }
        )
    return out


def calibrate_spectrum(
    spectrum: xr.Dataset,
    fragments: list[str],
    *,
    window_u: float = 0.1,
    quadratic: bool = False,
) -> tuple[xr.Dataset, TofCalibration | MassCalibration, list[dict[str, Any]]]:
    """Recalibrate a spectrum's mass axis on known peaks.

    Each fragment's peak is located as the intensity centroid within ``± window_u`` of its exact
    m/z on the current axis. With a ``channel`` coordinate the flight-time law
    ``channel = a + b sqrt(m)`` (``quadratic``: ``+ c m``) is fitted and every channel gets a new
    mass; otherwise a linear correction of the mass axis is fitted.

    Returns
    -------
    (dataset, calibration, peaks)
        The dataset on the new mass axis (the old one kept as ``mass_uncalibrated``), the fitted
        calibration, and per peak its exact m/z and the error before and after (ppm).
    """
    if not isinstance(spectrum, xr.Dataset):
        raise SpecfitError("calibrate_spectrum needs a spectrum dataset")
    m, _y = _spectrum(spectrum)
    exact = np.array([exact_mass(f) for f in fragments])
    centroids = np.array([peak_centroid(spectrum, e, window_u)[0] for e in exact])
    missing = [f for f, c in zip(fragments, centroids) if not np.isfinite(c)]
    if missing:
        raise SpecfitError(f"no counts within ±{window_u} u of {', '.join(missing)}")
    if "channel" in spectrum.coords:
        channel = np.asarray(spectrum["channel"].values, dtype=float)
        ch_peaks = np.interp(centroids, m, channel)
        cal: TofCalibration | MassCalibration = calibrate_tof(ch_peaks, exact, quadratic=quadratic)
        new_mass = cal.mass(channel)
        new_peaks = cal.mass(ch_peaks)
    else:
        cal = calibrate_mass(centroids, exact)
        new_mass = cal(m)
        new_peaks = cal(centroids)
    out = spectrum.assign_coords(mass_uncalibrated=("mass", m, {"units": "u"}))
    out = out.assign_coords(mass=("mass", new_mass, dict(spectrum["mass"].attrs)))
    out.attrs = {**spectrum.attrs, "mass_calibration": f"{type(cal).__name__} on {', '.join(fragments)}"}
    peaks = [
        {
            "fragment": f,
            "exact_mz": float(e),
            "error_before_ppm": float((c - e) / e * 1e6),
            "error_after_ppm": float((n - e) / e * 1e6),
        }
        for f, e, c, n in zip(fragments, exact, centroids, new_peaks)
    ]
    return out, cal, peaks
