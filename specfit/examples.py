"""Bundled example data: synthetic, generated from documented parameters, labelled synthetic.

The files in ``specfit/data/examples/`` are written by :func:`generate` (``python -m specfit.examples``
regenerates them bit for bit; a test checks that). The generating model is independent of specfit's
fitting code on purpose: fits of these files are known-answer checks, not a circular argument.

What they hold (a coated sulfide electrolyte cell before/after cycling):

- ``xps_charged_{S2p,P2p,C1s}.csv`` / ``xps_discharged_{...}.csv``: S 2p with PS4³⁻ (2p3/2 160.7 eV) and the
  –P–Sn–P– / S–S intermediate (162.9 eV) at area ratio intermediate : PS4³⁻ = 1.56 : 1 (charged) and
  0.56 : 1 (discharged), the binding-energy pattern and ratios of the published charge/discharge analysis;
  P 2p with PS4³⁻ (132.0 eV) and P–S–P (133.0 eV); C 1s adventitious carbon. Every region of a sample
  carries the same charging shift (+0.40 eV charged, −0.30 eV discharged), so referencing C 1s to 284.8 eV
  recovers the true positions.
- ``xps_depth_S2p.h5``: an S 2p sputter series (6 etch levels, 0–150 s) in which the intermediate
  decays with depth as ``1.56 · exp(−t / 60 s)``.
- ``raman_cathode.csv``: cathode-composite Raman spectrum with PS4³⁻ 420, P2S7⁴⁻ 405, P2S6⁴⁻ 389 and
  polysulfide 470 cm⁻¹ Lorentzian bands over a sloping fluorescence background, with two cosmic spikes.
- ``tofsims_coated_profile.csv``: ToF-SIMS depth profile of a LiNbO3-coated NCM811 particle with a thin
  sulfide surface film: erf interfaces at 5 nm (PS⁻/SO⁻ fall) and 20 nm (NbO2⁻ falls, NiO⁻ rises),
  interface width σ 1.5 nm, sputter rate 0.5 nm/s, Poisson counts.
- ``xrd_synthesis_product.xy``: Cu Kα1+Kα2 powder pattern (10–80° 2θ, step 0.02°) of a Li6PS5Cl synthesis
  product with unreacted Li2S and LiCl: 85 / 10 / 5 wt%, cubic cells a = 9.8697 (the library cell + 0.2 %),
  5.708 and 5.129 Å, crystallite sizes 80 / 150 / 200 nm, simulated from the reference structures in
  ``reference_library/xrd`` with :func:`specfit.xrd.synthetic_mixture` (pymatgen reflections, pseudo-Voigt
  profiles), a decaying background and Poisson counts.

``data/examples/README.md`` describes every file and its parameters for readers of the data.

Spin-orbit splittings used: S 2p 1.18 eV, P 2p 0.87 eV (Moulder et al., Handbook of X-ray Photoelectron
Spectroscopy, Perkin-Elmer 1992); branching ratio 1:2.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import xarray as xr

__all__ = ["EXAMPLES_DIR", "TRUTH", "example_path", "generate"]

EXAMPLES_DIR = Path(__file__).resolve().parent / "data" / "examples"

#: The documented parameters the files are generated from (known answers for tests and the demo).
TRUTH: dict = {
    "charge_shift_ev": {"charged": 0.40, "discharged": -0.30},
    "S 2p": {
        "splitting": 1.18,
        "fwhm": 1.0,
        "PS4": 160.7,
        "intermediate": 162.9,
        "ratio": {"charged": 1.56, "discharged": 0.56},
        "PS4_area": 6000.0,
    },
    "P 2p": {"splitting": 0.87, "fwhm": 1.0, "PS4": 132.0, "P-S-P": 133.0, "PS4_area": 2400.0, "P-S-P_area": 600.0},
    "C 1s": {"C-C": 284.8, "fwhm": 1.2, "area": 3000.0, "C-O": 286.3, "C-O_area": 600.0},
    "depth": {"etch_time_s": [0, 30, 60, 90, 120, 150], "ratio0": 1.56, "decay_s": 60.0},
    "raman": {
        "bands": {"PS4": (420.0, 1.0), "P2S7": (405.0, 0.35), "P2S6": (389.0, 0.25), "polysulfide": (470.0, 0.15)}
    },
    "tofsims": {"rate_nm_per_s": 0.5, "film_nm": 5.0, "coating_nm": 20.0, "sigma_nm": 1.5},
    "xrd": {
        "phases": ["Li6PS5Cl", "Li2S", "LiCl"],
        "weight_fractions": [0.85, 0.10, 0.05],
        # cell length a in Å (cubic phases): the library cell times lattice_scale
        "lattice_scale": [1.002, 1.0, 1.0],
        "a": [9.8697, 5.708, 5.129],
        "sizes_nm": [80.0, 150.0, 200.0],
        "two_theta": [10.0, 80.0, 0.02],  # start, stop, step (deg), Cu Kα1 + Kα2 (ratio 0.5)
        "max_counts": 15000.0,
        "background": "600 · (1 + 1.5 · exp(−(2θ − 10°) / 15°)) counts",
    },
}


def example_path(name: str) -> Path:
    """Path of a bundled example file."""
    path = EXAMPLES_DIR / name
    if not path.exists():
        from .errors import SpecfitError

        raise SpecfitError(f"no bundled example {name!r}; available: {sorted(p.name for p in EXAMPLES_DIR.iterdir())}")
    return path


def _pseudo_voigt(x: np.ndarray, area: float, center: float, fwhm: float, eta: float = 0.3) -> np.ndarray:
    sigma = fwhm / (2 * np.sqrt(2 * np.log(2)))
    gauss = np.exp(-0.5 * ((x - center) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
    lorentz = (fwhm / 2) / np.pi / ((x - center) ** 2 + (fwhm / 2) ** 2)
    return area * ((1 - eta) * gauss + eta * lorentz)


def _doublet(x, area, center, fwhm, splitting):
    return _pseudo_voigt(x, area, center, fwhm) + _pseudo_voigt(x, area / 2, center + splitting, fwhm)


def _with_shirley_step(x: np.ndarray, peaks: np.ndarray, k: float, constant: float) -> np.ndarray:
    """peaks + k·∫peaks (from the low-binding-energy end) + constant: the Shirley model."""
    order = np.argsort(x)
    cumulative = np.empty_like(peaks)
    xs, ps = x[order], peaks[order]
    cumulative[order] = np.concatenate([[0.0], np.cumsum(0.5 * (ps[1:] + ps[:-1]) * np.diff(xs))])
    return peaks + k * cumulative + constant


def _write_csv(path: Path, header: str, columns: list[np.ndarray], fmt: str = "%.4f") -> None:
    data = np.column_stack(columns)
    np.savetxt(path, data, delimiter=",", header=header, comments="", fmt=fmt)


def _xps_region(rng, level: str, state: str | None, intermediate_ratio: float | None = None):
    shift = TRUTH["charge_shift_ev"][state] if state else 0.0
    if level == "S 2p":
        t = TRUTH["S 2p"]
        x = np.round(np.arange(170.0, 155.99, -0.05), 2)
        ratio = intermediate_ratio if intermediate_ratio is not None else t["ratio"][state]
        peaks = _doublet(x, t["PS4_area"], t["PS4"] + shift, t["fwhm"], t["splitting"])
        peaks += _doublet(x, ratio * t["PS4_area"], t["intermediate"] + shift, t["fwhm"], t["splitting"])
        base = 400.0
    elif level == "P 2p":
        t = TRUTH["P 2p"]
        x = np.round(np.arange(140.0, 126.99, -0.05), 2)
        peaks = _doublet(x, t["PS4_area"], t["PS4"] + shift, t["fwhm"], t["splitting"])
        peaks += _doublet(x, t["P-S-P_area"], t["P-S-P"] + shift, t["fwhm"], t["splitting"])
        base = 300.0
    else:
        t = TRUTH["C 1s"]
        x = np.round(np.arange(294.0, 279.99, -0.05), 2)
        peaks = _pseudo_voigt(x, t["area"], t["C-C"] + shift, t["fwhm"]) + _pseudo_voigt(
            x, t["C-O_area"], t["C-O"] + shift, t["fwhm"]
        )
        base = 250.0
    expected = _with_shirley_step(x, peaks, k=0.03, constant=base)
    return x, rng.poisson(expected).astype(float)


def generate(out_dir: Path | None = None) -> list[Path]:
    """Write every example file (deterministic: fixed seeds); returns the paths written."""
    out = Path(out_dir) if out_dir else EXAMPLES_DIR
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for state, seed in (("charged", 1), ("discharged", 2)):
        rng = np.random.default_rng(seed)
        for level in ("S 2p", "P 2p", "C 1s"):
            x, y = _xps_region(rng, level, state)
            path = out / f"xps_{state}_{level.replace(' ', '')}.csv"
            _write_csv(path, "Binding Energy (eV),Counts", [x, y], fmt="%.2f")
            written.append(path)

    # S 2p sputter depth series as a specfit HDF5 stack (etch_level, binding_energy)
    rng = np.random.default_rng(3)
    d = TRUTH["depth"]
    rows = []
    for t in d["etch_time_s"]:
        x, y = _xps_region(rng, "S 2p", None, intermediate_ratio=d["ratio0"] * np.exp(-t / d["decay_s"]))
        rows.append(y)
    from .conventions import make_leaf
    from .io.native import save

    leaf = make_leaf(
        np.asarray(rows),
        "binding_energy",
        x,
        units="counts",
        extra_dims={"etch_level": np.arange(len(rows))},
        attrs={
            "technique": "xps",
            "source_format": "netcdf",
            "source_file": "xps_depth_S2p.h5",
            "region": "S 2p",
            "sample": "synthetic coated Li6PS5Cl, sputter series",
            "synthetic": 1,
            "excitation_energy_ev": 1486.6,
        },
    ).assign_coords(etch_time=("etch_level", np.asarray(d["etch_time_s"], dtype=float), {"units": "s"}))
    path = out / "xps_depth_S2p.h5"
    save(xr.DataTree.from_dict({"/": xr.Dataset(attrs={"synthetic": 1}), "/S 2p": leaf}), path, overwrite=True)
    written.append(path)

    # Raman of the cathode composite
    rng = np.random.default_rng(4)
    shift = np.round(np.arange(150.0, 700.01, 0.5), 2)
    signal = 200.0 + 0.6 * (shift - 150.0)  # sloping fluorescence
    for _name, (center, height) in TRUTH["raman"]["bands"].items():
        signal += 3000.0 * height * (6.0 / 2) ** 2 / ((shift - center) ** 2 + (6.0 / 2) ** 2)
    counts = rng.poisson(signal).astype(float)
    counts[[300, 820]] += (4000.0, 2500.0)  # cosmic-ray spikes
    path = out / "raman_cathode.csv"
    _write_csv(path, "Raman Shift (cm-1),Intensity", [shift, counts], fmt="%.2f")
    written.append(path)

    # ToF-SIMS profile of a coated particle
    rng = np.random.default_rng(5)
    from scipy.special import erf

    ts = TRUTH["tofsims"]
    time = np.arange(0.0, 100.0, 0.5)
    depth = time * ts["rate_nm_per_s"]

    def step(z0, rise):
        s = 0.5 * (1 + erf((depth - z0) / (np.sqrt(2) * ts["sigma_nm"])))
        return s if rise else 1 - s

    fragments = {
        "PS-": 2000 * step(ts["film_nm"], False) + 20,
        "SO-": 800 * step(ts["film_nm"], False) + 10,
        "NbO2-": 5000 * step(ts["coating_nm"], False) * step(ts["film_nm"], True) + 30,
        "NiO-": 3000 * step(ts["coating_nm"], True) + 15,
    }
    columns = [time] + [rng.poisson(v).astype(float) for v in fragments.values()]
    path = out / "tofsims_coated_profile.csv"
    _write_csv(path, "Time (s)," + ",".join(fragments), columns, fmt="%.1f")
    written.append(path)

    path = out / "xrd_synthesis_product.xy"
    _write_xrd(path)
    written.append(path)
    return written


def _write_xrd(path: Path) -> None:
    """Powder pattern of a Li6PS5Cl synthesis product with Li2S and LiCl left over (Cu Kα1+Kα2)."""
    from .xrd.phases import get_phase
    from .xrd.simulate import synthetic_mixture

    t = TRUTH["xrd"]
    start, stop, step = t["two_theta"]
    x = np.round(np.arange(start, stop + step / 2, step), 2)
    background = 600.0 * (1.0 + 1.5 * np.exp(-(x - start) / 15.0))
    ds, truth = synthetic_mixture(
        [get_phase(name) for name in t["phases"]],
        t["weight_fractions"],
        x,
        lattice_scales=[(s, s, s) for s in t["lattice_scale"]],
        sizes_nm=t["sizes_nm"],
        background=background,
        max_counts=t["max_counts"],
        rng=_XrdRounding(np.random.default_rng(6)),
        use_cache=False,
    )
    for name, lattice, a in zip(t["phases"], truth["lattice"], t["a"], strict=True):
        if abs(lattice["a"] - a) > 5e-4:  # TRUTH must state the cell the pattern was made from
            raise AssertionError(f"{name}: TRUTH a = {a} Å but the simulated cell has a = {lattice['a']:.5f} Å")
    header = "\n".join(
        [
            "# SYNTHETIC powder XRD pattern made by specfit/examples.py (not a measurement)",
            "# Li6PS5Cl synthesis product with Li2S and LiCl impurities",
            "# Cu Ka1 1.540598 A + Ka2 1.544426 A (intensity ratio 0.5)",
            "# weight fractions " + ", ".join(f"{n} {w}" for n, w in zip(t["phases"], t["weight_fractions"])),
            "# cell a (A) " + ", ".join(f"{n} {a}" for n, a in zip(t["phases"], t["a"])),
            "# crystallite size (nm) " + ", ".join(f"{n} {s:g}" for n, s in zip(t["phases"], t["sizes_nm"])),
            "# Poisson counting noise, background " + t["background"],
            "2Theta(deg) Intensity(counts)",
        ]
    )
    np.savetxt(path, np.column_stack([x, ds["intensity"].values]), fmt=["%.2f", "%.0f"], header=header, comments="")


class _XrdRounding:
    """Draw Poisson counts from the expected pattern rounded to 1e-6 counts.

    Why: the expected pattern comes from pymatgen's structure factors; rounding it first makes the
    drawn counts independent of last-bit floating-point differences between library builds, so the
    file regenerates bit for bit.
    """

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng

    def poisson(self, lam: np.ndarray) -> np.ndarray:
        return self._rng.poisson(np.round(np.asarray(lam, dtype=float), 6))


def checksum(path: Path) -> str:
    """SHA-256 of a text example (HDF5 files embed library versions, so only text is compared)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


if __name__ == "__main__":
    for p in generate():
        print(p)
