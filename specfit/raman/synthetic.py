"""Synthetic Raman spectra and maps with known truth, for known-answer tests, benchmarks and demos.

The generator is deliberately independent of specfit's line-shape code (it evaluates the profiles
with :func:`scipy.special.voigt_profile` and the closed-form Lorentzian), so fitting these spectra
with specfit is a check, not a circular argument.

Every spectrum is ``Σ bands + fluorescence + spikes`` with Poisson noise on the first two. The
fluorescence is a smooth, sloping background ``f0 · exp((shift − s0) / decay) + slope · (shift − s0)``
(a broad luminescence tail, as seen under visible excitation of sulfide electrolytes). Spikes are
1–2-pixel cosmic-ray hits added after the noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy import special

from ..conventions import make_leaf

__all__ = ["THIOPHOSPHATE_BANDS", "SyntheticBand", "band_profile", "synthetic_map", "synthetic_spectrum"]


@dataclass(frozen=True)
class SyntheticBand:
    """One band of a synthetic spectrum: ``shape`` is ``"lorentzian"`` or ``"voigt"`` (then
    ``fwhm`` is the Lorentzian FWHM and ``gaussian_fwhm`` the Gaussian one, as in specfit's
    ``voigt(gaussian_fwhm)`` shape)."""

    name: str
    position: float
    fwhm: float
    area: float
    shape: str = "lorentzian"
    gaussian_fwhm: float = 0.0


#: Overlapping thiophosphate stretching bands (positions from reference_library/raman/bands.toml,
#: Dietrich et al. 2017, doi:10.1039/C7TA06067J); widths and areas are illustrative.
THIOPHOSPHATE_BANDS: tuple[SyntheticBand, ...] = (
    SyntheticBand("PS4", 420.0, 9.0, 120000.0),
    SyntheticBand("P2S7", 405.0, 11.0, 70000.0),
    SyntheticBand("P2S6", 389.0, 10.0, 36000.0),
)


def band_profile(x: np.ndarray, band: SyntheticBand) -> np.ndarray:
    """The band evaluated on ``x`` (unit-area profile times ``band.area``)."""
    x = np.asarray(x, float)
    gamma = band.fwhm / 2.0
    if band.shape == "lorentzian" or band.gaussian_fwhm <= 0:
        return band.area * gamma / math.pi / ((x - band.position) ** 2 + gamma**2)
    if band.shape == "voigt":
        sigma = band.gaussian_fwhm / (2.0 * math.sqrt(2.0 * math.log(2.0)))
        return band.area * special.voigt_profile(x - band.position, sigma, gamma)
    raise ValueError(f"unknown synthetic band shape {band.shape!r}")


def _fluorescence(x: np.ndarray, level: float, slope: float, decay: float) -> np.ndarray:
    s0 = float(np.min(x))
    return level * np.exp((x - s0) / decay) + slope * (x - s0)


def _plant_spikes(y: np.ndarray, rng: np.random.Generator, n: int, height: float, avoid: int = 0) -> list[int]:
    """Add ``n`` 1- or 2-pixel spikes of about ``height`` counts; returns the hit pixels."""
    hits: list[int] = []
    lo, hi = avoid, y.size - 2 - avoid
    for _ in range(n):
        i = int(rng.integers(lo, hi))
        width = int(rng.integers(1, 3))
        for k in range(width):
            y[i + k] += height * rng.uniform(0.6, 1.0)
            hits.append(i + k)
    return hits


def synthetic_spectrum(
    bands: Sequence[SyntheticBand] = THIOPHOSPHATE_BANDS,
    *,
    shift: np.ndarray | None = None,
    fluorescence: tuple[float, float, float] = (2000.0, 15.0, 300.0),
    spikes: int = 3,
    spike_height: float = 20000.0,
    noise: bool = True,
    seed: int = 0,
) -> tuple[xr.Dataset, dict]:
    """One synthetic Raman spectrum (counts) and its truth.

    Parameters
    ----------
    bands
        The bands to draw.
    shift
        Raman-shift axis (cm⁻¹); default 330–480 cm⁻¹ at 0.5 cm⁻¹ per pixel.
    fluorescence
        ``(level, slope, decay)`` of the background ``level·exp((shift − min)/decay) + slope·(shift − min)``.
    spikes
        Number of cosmic-ray spikes (1–2 pixels each), placed at random, possibly on a band.
    noise
        Poisson noise on bands + background.

    Returns
    -------
    (dataset, truth)
        A conventional leaf (``technique = "raman"``, ``units = "counts"``) and ``{"bands": {...},
        "background": array, "clean": array (no spikes), "spike_pixels": [...]}``.
    """
    rng = np.random.default_rng(seed)
    x = np.arange(330.0, 480.0 + 1e-9, 0.5) if shift is None else np.asarray(shift, float)
    peaks = sum((band_profile(x, b) for b in bands), np.zeros_like(x))
    background = _fluorescence(x, *fluorescence)
    expected = peaks + background
    clean = rng.poisson(expected).astype(float) if noise else expected.copy()
    y = clean.copy()
    hits = _plant_spikes(y, rng, spikes, spike_height, avoid=3)
    ds = make_leaf(y, "raman_shift", x, units="counts", attrs={"technique": "raman", "sample": "synthetic"})
    total = sum(b.area for b in bands)
    truth = {
        "bands": {
            b.name: {"position": b.position, "fwhm": b.fwhm, "area": b.area, "area_fraction": b.area / total}
            for b in bands
        },
        "background": background,
        "clean": clean,
        "spike_pixels": hits,
    }
    return ds, truth


def synthetic_map(
    ny: int,
    nx: int,
    *,
    bands: Sequence[SyntheticBand] = THIOPHOSPHATE_BANDS,
    shift: np.ndarray | None = None,
    spikes_per_spectrum: float = 0.0,
    seed: int = 0,
) -> tuple[xr.Dataset, dict]:
    """A ``(y, x, raman_shift)`` map whose band areas vary smoothly over the image.

    The first band's share grows from left to right and the second's from top to bottom (so each
    species-fraction image has a known gradient); positions jitter by ±0.5 cm⁻¹ and the fluorescence
    level and slope vary from pixel to pixel. Returns the dataset and the truth
    ``{"area": (ny, nx, n_bands), "area_fraction": ..., "position": ...}``.
    """
    rng = np.random.default_rng(seed)
    x = np.arange(330.0, 480.0 + 1e-9, 0.5) if shift is None else np.asarray(shift, float)
    gx = np.linspace(0.0, 1.0, nx)[None, :]
    gy = np.linspace(0.0, 1.0, ny)[:, None]
    nb = len(bands)
    areas = np.empty((ny, nx, nb))
    positions = np.empty((ny, nx, nb))
    for j, b in enumerate(bands):
        factor = 1.0
        if j == 0:
            factor = 0.4 + 1.2 * gx + 0.0 * gy
        elif j == 1:
            factor = 0.4 + 1.2 * gy + 0.0 * gx
        areas[:, :, j] = b.area * np.broadcast_to(factor, (ny, nx))
        positions[:, :, j] = b.position + rng.uniform(-0.5, 0.5, size=(ny, nx))
    Y = np.empty((ny, nx, x.size))
    for iy in range(ny):
        for ix in range(nx):
            peaks = np.zeros_like(x)
            for j, b in enumerate(bands):
                sb = SyntheticBand(b.name, positions[iy, ix, j], b.fwhm, areas[iy, ix, j], b.shape, b.gaussian_fwhm)
                peaks += band_profile(x, sb)
            fl = _fluorescence(x, rng.uniform(1000.0, 3000.0), rng.uniform(5.0, 25.0), 300.0)
            y = rng.poisson(peaks + fl).astype(float)
            if spikes_per_spectrum:
                _plant_spikes(y, rng, int(rng.poisson(spikes_per_spectrum)), 20000.0, avoid=3)
            Y[iy, ix] = y
    ds = make_leaf(
        Y,
        "raman_shift",
        x,
        units="counts",
        attrs={"technique": "raman", "sample": "synthetic map"},
        extra_dims={"y": np.arange(ny) * 2.0, "x": np.arange(nx) * 2.0},
    )
    ds["y"].attrs["units"] = "um"
    ds["x"].attrs["units"] = "um"
    truth = {
        "area": areas,
        "area_fraction": areas / areas.sum(axis=2, keepdims=True),
        "position": positions,
        "names": [b.name for b in bands],
    }
    return ds, truth
