"""Pattern simulation: strongest lines of the reference phases, profiles, Kα2, Scherrer, cache."""

from __future__ import annotations

import math
import multiprocessing
import os

import numpy as np
import pytest

from specfit.xrd import simulate
from specfit.xrd.phases import get_phase
from specfit.xrd.simulate import (
    CU_KALPHA1,
    CU_KALPHA2,
    Instrument,
    profile_sum,
    pseudo_voigt_widths,
    reflections,
    simulate_pattern,
    strained_structure,
)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SPECFIT_CACHE_DIR", str(tmp_path / "cache"))


def _strongest(name: str, n: int) -> list[float]:
    refl = reflections(get_phase(name), CU_KALPHA1, (10, 90))
    inside = (refl.two_theta >= 10) & (refl.two_theta <= 90)
    order = np.argsort(refl.intensity[inside])[::-1][:n]
    return sorted(refl.two_theta[inside][order])


# Well-known strongest reflections (Cu Kα1, deg 2θ), from the powder-diffraction literature/PDF cards:
# Li6PS5Cl (220), (311), (222) e.g. Deiseroth 2008 / Kraft 2017; Li2S (111), (200), (220); Al (111), (200);
# LiF (111), (200); LiCl (111), (200); NCM811 (003), (104); alpha-S8 (222); In (101); Li2CO3 (110), (-202),
# (002); LiNbO3 (012).
KNOWN_LINES = [
    ("Li6PS5Cl", 3, [25.5, 30.0, 31.4]),
    ("Li2S", 4, [27.0, 31.2, 44.8]),
    ("Al", 2, [38.5, 44.7]),
    ("LiF", 2, [38.7, 45.0]),
    ("LiCl", 2, [30.1, 34.9]),
    ("NCM811", 2, [18.7, 44.4]),
    ("alpha-S8", 1, [23.1]),
    ("In", 1, [32.9]),
    ("Li2CO3", 3, [21.3, 30.6, 31.8]),
    ("LiNbO3", 1, [23.7]),
]


@pytest.mark.parametrize(("name", "n", "expected"), KNOWN_LINES, ids=[k[0] for k in KNOWN_LINES])
def test_strongest_lines_match_well_known_values(name, n, expected):
    found = _strongest(name, n)
    for line in expected:
        assert min(abs(f - line) for f in found) < 0.15, f"{name}: {line}° not among strongest {found}"


def test_d_spacings_recomputed_from_hkl_match_pymatgen_for_strained_cells():
    phase = get_phase("Li2CO3")  # monoclinic: the hardest case of the metric-tensor scaling
    refl = reflections(phase, CU_KALPHA1, (10, 90))
    assert np.allclose(refl.d_spacing(), refl.d, rtol=1e-12)
    scale = (1.004, 0.997, 1.002)
    strained = reflections(strained_structure(phase.structure, scale), CU_KALPHA1, (10, 90), use_cache=False)
    predicted = refl.positions(CU_KALPHA1, scale)
    # lines inside the requested range (the list extends 3° beyond it, where lines enter and leave)
    strong = (strained.intensity > 0.02 * strained.intensity.max()) & (strained.two_theta < 90)
    for pos in strained.two_theta[strong]:
        assert np.nanmin(np.abs(predicted - pos)) < 1e-6


def test_profile_has_unit_area_per_stick_and_kalpha2_adds_the_ratio():
    x = np.arange(30.0, 95.0, 0.005)  # LiF has no line within 2° of either end
    phase = get_phase("LiF")
    mono = simulate_pattern(phase, x, Instrument(wavelength2=None, kalpha2_ratio=0.0))
    doublet = simulate_pattern(phase, x, Instrument())
    refl = reflections(phase, CU_KALPHA1, (30, 95))
    inside = (refl.two_theta > 30) & (refl.two_theta < 95)
    assert np.trapezoid(mono, x) == pytest.approx(refl.intensity[inside].sum(), rel=0.01)
    assert np.trapezoid(doublet, x) / np.trapezoid(mono, x) == pytest.approx(1.5, rel=0.01)
    # at high angle the Kα2 line is resolved: a second maximum at the Kα2 angle of the (222) reflection
    d222 = 4.027 / math.sqrt(12)
    k2 = math.degrees(2 * math.asin(CU_KALPHA2 / (2 * d222)))
    window = (x > k2 - 0.03) & (x < k2 + 0.03)
    around = (x > k2 - 0.12) & (x < k2 - 0.06)
    assert doublet[window].max() > doublet[around].min() * 1.05


def test_scherrer_and_tch_widths():
    two_theta = np.array([40.0])
    pure_size = Instrument(U=0.0, V=0.0, W=1e-12)
    fwhm, eta = pseudo_voigt_widths(two_theta, pure_size, size_nm=50.0)
    expected = math.degrees(0.9 * CU_KALPHA1 / (500.0 * math.cos(math.radians(20.0))))
    assert fwhm[0] == pytest.approx(expected, rel=1e-3)
    assert eta[0] == pytest.approx(1.0, abs=0.01)
    fwhm, eta = pseudo_voigt_widths(two_theta, Instrument(U=0.0, V=0.0, W=0.01), size_nm=np.inf)
    assert fwhm[0] == pytest.approx(0.1, rel=1e-6)
    assert eta[0] == 0.0
    # a numerically measured FWHM of the drawn profile agrees with the formula
    x = np.arange(38.0, 42.0, 0.0005)
    fwhm, eta = pseudo_voigt_widths(two_theta, Instrument(), size_nm=30.0)
    y = profile_sum(x, two_theta, np.array([1.0]), fwhm, eta)
    above = x[y >= y.max() / 2]
    assert above[-1] - above[0] == pytest.approx(fwhm[0], rel=0.01)


def test_instrument_from_attrs():
    inst = Instrument.from_attrs({})
    assert (inst.wavelength, inst.wavelength2, inst.kalpha2_ratio) == (CU_KALPHA1, CU_KALPHA2, 0.5)
    mo = Instrument.from_attrs({"wavelength_angstrom": 0.70930})
    assert mo.wavelength == 0.70930 and mo.wavelength2 is None and mo.kalpha2_ratio == 0.0
    given = Instrument.from_attrs(
        {"wavelength_angstrom": 0.70930, "wavelength_kalpha2_angstrom": 0.71359, "kalpha2_ratio": 0.52}
    )
    assert (given.wavelength2, given.kalpha2_ratio) == (0.71359, 0.52)
    assert Instrument.from_attrs({"wavelength_angstrom": "n/a"}, wavelength=1.2).wavelength == 1.2
    mono_cu = Instrument.from_attrs({"wavelength_angstrom": CU_KALPHA1, "kalpha2_ratio": 0.0})
    assert mono_cu.wavelength2 is None and mono_cu.kalpha2_ratio == 0.0


def test_wavelength_changes_positions_by_bragg():
    mo = reflections(get_phase("Al"), 0.70930, (5, 60))
    d111 = 4.0495 / math.sqrt(3)
    assert np.min(np.abs(mo.two_theta - math.degrees(2 * math.asin(0.70930 / (2 * d111))))) < 1e-3


def test_disk_cache_roundtrip_and_repair(tmp_path):
    phase = get_phase("LiCl")
    simulate._MEMORY_CACHE.clear()
    first = reflections(phase, CU_KALPHA1, (12.0, 80.0))
    files = list(simulate.cache_dir().glob("*.npz"))
    assert len(files) == 1 and not list(simulate.cache_dir().glob(".tmp-*"))
    simulate._MEMORY_CACHE.clear()
    again = reflections(phase, CU_KALPHA1, (12.4, 79.6))  # same whole-degree range: same entry
    assert np.array_equal(first.two_theta, again.two_theta) and np.array_equal(first.hkl, again.hkl)
    assert len(list(simulate.cache_dir().glob("*.npz"))) == 1
    files[0].write_bytes(b"garbage")  # a damaged cache entry is recomputed, not trusted
    simulate._MEMORY_CACHE.clear()
    repaired = reflections(phase, CU_KALPHA1, (12.0, 80.0))
    assert np.array_equal(first.intensity, repaired.intensity)
    simulate._MEMORY_CACHE.clear()
    assert np.array_equal(reflections(phase, CU_KALPHA1, (12.0, 80.0)).d, first.d)
    # other wavelength: other entry
    reflections(phase, 1.7890, (12.0, 80.0))
    assert len(list(simulate.cache_dir().glob("*.npz"))) == 2


def _worker(args):
    cache, name = args
    os.environ["SPECFIT_CACHE_DIR"] = cache
    simulate._MEMORY_CACHE.clear()
    refl = reflections(get_phase(name), CU_KALPHA1, (10.0, 90.0))
    return refl.intensity.sum()


def test_cache_is_safe_under_concurrent_writers(tmp_path):
    cache = str(tmp_path / "shared")
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    with ctx.Pool(2) as pool:
        sums = pool.map(_worker, [(cache, "Li2CO3")] * 4)
    assert len(set(sums)) == 1
    files = list((tmp_path / "shared" / "xrd").glob("*"))
    assert len(files) == 1 and files[0].suffix == ".npz"
    os.environ["SPECFIT_CACHE_DIR"] = cache
    simulate._MEMORY_CACHE.clear()
    assert reflections(get_phase("Li2CO3"), CU_KALPHA1, (10.0, 90.0)).intensity.sum() == sums[0]
