"""Benchmark: fitting a 100 x 100 Raman map (1,000-point spectra, 4 bands + baseline) against an lmfit loop.

Run from the repository root::

    python benchmarks/bench_raman_map.py             # 100 x 100 map, 1,000 points per spectrum
    python benchmarks/bench_raman_map.py --quick     # 20 x 20 map
    python benchmarks/bench_raman_map.py --solver lmfit   # force specfit's per-spectrum fallback

The map (``specfit.raman.synthetic_map``) has four Lorentzian bands — P2S6(4-) 389, P2S7(4-) 405,
PS4(3-) 420 and S8 473 cm-1 — whose areas vary over the image, on a sloping, curved fluorescence
background with Poisson noise, 1,000 points from 340 to 490 cm-1. The model is the four bands
(position, FWHM, area each, positions bounded by the library windows) plus a quadratic polynomial
baseline fitted with them: 15 free parameters per spectrum.

It reports

- the time of ``specfit.fit`` on the map (the engine's stack path: the vectorised batch solver when
  ``specfit.fitting.batch`` is installed, on all 10,000 spectra; otherwise specfit's own
  per-spectrum lmfit fallback, timed on the random subset and extrapolated — the output says which),
- the time of a plain per-spectrum lmfit loop (``lmfit.minimize`` with lmfit's default ``leastsq`` on
  a hand-written numpy residual, from the same start values and with the same Poisson weights),
  measured in the same run on a random subset of ``--subset`` spectra (default 200) and extrapolated
  to the whole map — the output says so,
- the speed ratio, and the largest relative difference between the band positions, FWHMs and areas
  found by the two on the subset,
- how well the species-fraction images recover the planted fractions (specfit's result).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import lmfit
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import specfit
from specfit.conventions import make_leaf
from specfit.fitting import batch_solver
from specfit.fitting.engine import initial_rows, prepare, static_background
from specfit.model import CompiledModel
from specfit.raman import SyntheticBand, species_maps, synthetic_map

BANDS = (
    SyntheticBand("P2S6", 389.0, 10.0, 36000.0),
    SyntheticBand("P2S7", 405.0, 11.0, 70000.0),
    SyntheticBand("PS4", 420.0, 9.0, 120000.0),
    SyntheticBand("S8_473", 473.0, 6.0, 25000.0),
)
# position windows from reference_library/raman/bands.toml
WINDOWS = {"P2S6": (380.0, 395.0), "P2S7": (400.0, 412.0), "PS4": (415.0, 430.0), "S8_473": (468.0, 478.0)}
START = {"P2S6": 388.0, "P2S7": 406.0, "PS4": 420.0, "S8_473": 473.0}
SHIFT = np.linspace(340.0, 490.0, 1000)
DEGREE = 2


def model_text() -> str:
    parts = [f'[background]\ntype = "polynomial"\ndegree = {DEGREE}\n']
    for name, (lo, hi) in WINDOWS.items():
        parts.append(
            f'[[components]]\nname = "{name}"\nshape = "lorentzian"\nposition = {START[name]}\n'
            f"position_min = {lo}\nposition_max = {hi}\nfwhm = 8.0\nfwhm_min = 2.0\nfwhm_max = 30.0\n"
        )
    return "\n".join(parts)


def plain_lmfit_fit(x: np.ndarray, y: np.ndarray, start: dict[str, float]) -> dict[str, float]:
    """The baseline: one spectrum with lmfit, written out by hand (no specfit model machinery)."""
    w = 1.0 / np.sqrt(np.maximum(y, 1.0))
    t = (x - 0.5 * (x.max() + x.min())) / (0.5 * (x.max() - x.min()))  # as specfit's Polynomial
    params = lmfit.Parameters()
    for name, (lo, hi) in WINDOWS.items():
        params.add(f"{name}_position", value=start[f"{name}_position"], min=lo, max=hi)
        params.add(f"{name}_fwhm", value=start[f"{name}_fwhm"], min=2.0, max=30.0)
        params.add(f"{name}_area", value=start[f"{name}_area"])
    for i in range(DEGREE + 1):
        params.add(f"bg_c{i}", value=start[f"bg_c{i}"])

    def residual(p):
        v = p.valuesdict()
        model = np.zeros_like(x)
        for name in WINDOWS:
            g = 0.5 * v[f"{name}_fwhm"]
            model += v[f"{name}_area"] * g / np.pi / ((x - v[f"{name}_position"]) ** 2 + g * g)
        for i in range(DEGREE + 1):
            model += v[f"bg_c{i}"] * t**i
        return (y - model) * w

    out = lmfit.minimize(residual, params)  # lmfit's default (leastsq, MINPACK)
    return {k: p.value for k, p in out.params.items()}


def run(ny: int, nx: int, subset: int, solver: str, seed: int) -> None:
    n = ny * nx
    t0 = time.perf_counter()
    data, truth = synthetic_map(ny, nx, bands=BANDS, shift=SHIFT, seed=seed)
    t_make = time.perf_counter() - t0
    model = specfit.Model.from_toml(model_text())
    rng = np.random.default_rng(seed + 1)
    rows = np.sort(rng.choice(n, size=min(subset, n), replace=False))
    Y = data["intensity"].values.reshape(n, -1)
    use_batch = batch_solver() is not None and solver != "lmfit"
    print(f"map: {ny} x {nx} = {n} spectra x {SHIFT.size} points, 4 Lorentzian bands + degree-{DEGREE} polynomial")
    print(f"  (synthetic map made in {t_make:.1f} s)")

    t0 = time.perf_counter()
    if use_batch:
        result = specfit.fit(data, model, solver="batch")
        t_specfit = time.perf_counter() - t0
        how = f"batch solver, all {n} spectra"
        ds = result.to_dataset().stack(pixel=("y", "x"))
        sub_ds = ds.isel(pixel=rows)
    else:
        sub = make_leaf(Y[rows], "raman_shift", SHIFT, attrs={"technique": "raman"}, extra_dims={"index": rows})
        result = specfit.fit(sub, model, solver="lmfit")
        t_specfit = (time.perf_counter() - t0) * n / rows.size
        how = f"no batch solver used: specfit's lmfit fallback timed on {rows.size} spectra, extrapolated to {n}"
        sub_ds = result.to_dataset()
    ok = int(sub_ds["success"].sum())

    # the plain lmfit loop on the subset, from exactly the start values specfit used
    sub_leaf = make_leaf(Y[rows], "raman_shift", SHIFT, attrs={"technique": "raman"}, extra_dims={"index": rows})
    prep = prepare(sub_leaf, model)
    params = model.make_params("raman_shift")
    compiled = CompiledModel(model, params, "raman_shift")
    P0 = initial_rows(model, params, compiled, prep, static_background(model, prep))
    t0 = time.perf_counter()
    ref = [plain_lmfit_fit(SHIFT, Y[i], dict(zip(compiled.free, P0[j]))) for j, i in enumerate(rows)]
    t_loop = (time.perf_counter() - t0) * n / rows.size

    compared = [f"{b}_{q}" for b in WINDOWS for q in ("position", "fwhm", "area")]
    worst, worst_name = 0.0, ""
    for name in compared:
        ours = sub_ds[name].values.reshape(-1)
        theirs = np.array([r[name] for r in ref])
        rel = float(np.max(np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1e-12)))
        if rel > worst:
            worst, worst_name = rel, name
    print(f"  specfit.fit      {t_specfit:9.2f} s   ({how}; {ok}/{rows.size} of the compared spectra converged)")
    print(f"  plain lmfit loop {t_loop:9.2f} s   (timed on {rows.size} random spectra, extrapolated to {n})")
    print(f"  speed ratio      {t_loop / t_specfit:9.2f} x   (plain lmfit loop time / specfit time)")
    print(
        f"  max relative difference of band positions/FWHMs/areas, specfit vs lmfit loop, on those "
        f"{rows.size} spectra: {worst:.2e} ({worst_name})"
    )
    if use_batch:
        maps = species_maps(result)
        names = ["P2S6", "P2S7", "PS4", "S8"]
        err = max(
            float(np.max(np.abs(maps[k].transpose("y", "x").values - truth["area_fraction"][..., j])))
            for j, k in enumerate(names)
        )
        print(f"  species-fraction images vs planted fractions: max |difference| {err:.4f} over {n} pixels")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20 x 20 map")
    ap.add_argument("--subset", type=int, default=200, help="spectra timed in the plain lmfit loop")
    ap.add_argument("--solver", default="auto", choices=("auto", "lmfit"), help="lmfit: force specfit's fallback")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(f"batch solver installed: {batch_solver() is not None}")
    # specfit's lmfit fallback uses scipy's trust-region solver, whose SVD runs in (Open)BLAS; on small
    # machines BLAS threading can dominate its time, so say how BLAS was configured
    print(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, cpus={os.cpu_count()}")
    ny = nx = 20 if args.quick else 100
    run(ny, nx, min(args.subset, ny * nx), args.solver, args.seed)


if __name__ == "__main__":
    main()
