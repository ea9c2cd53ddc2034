"""XRD identification benchmark: accuracy on synthetic mixtures and time vs number of candidates.

Run from the repository root::

    python benchmarks/bench_xrd.py                 # 100 accuracy cases + timing (10/50/200 candidates)
    python benchmarks/bench_xrd.py --cases 20 --no-timing

Accuracy: random 2–4-phase mixtures of library phases (each ≥ 5 wt%), cell lengths strained by up
to ±0.5 % (independently per refinable axis), crystallite sizes 30–300 nm, a random smooth
background and Poisson noise (2·10⁴ counts at the strongest peak), Cu Kα1+Kα2, 10–90° 2θ in 0.02°
steps. The strained patterns are simulated by pymatgen from strained structures, independently of
the fitter's d-spacing recomputation. Reported: share of cases with exactly the right phase set,
mean absolute weight-fraction error (wt%) and cell-length errors (%).

Timing: identification with 10, 50 and 200 candidates, once the reflection lists are cached: the
first call (it includes the symmetry analysis of each new phase object) and a repeated call. Extra
candidates are library structures with cells scaled by ±1.5–6 % and/or anion/cation substitutions
(S→Se, Cl→Br, Li→Na, ...), so the search has to look at (and reject) them. Times are printed
with their ratio to a baseline measured in the same run: one whole-pattern fit of the true phases.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from specfit.xrd.match import fit_phases, identify
from specfit.xrd.phases import Phase, library
from specfit.xrd.simulate import Instrument, reflections, synthetic_mixture

warnings.simplefilter("ignore")

SUBSTITUTIONS = [{"S": "Se"}, {"Cl": "Br"}, {"Li": "Na"}, {"O": "S"}, {"Al": "Ga"}, {"In": "Tl"}, {"P": "As"}]


def random_case(rng: np.random.Generator, phases: list[Phase]):
    """One random mixture: (dataset, truth, chosen phases)."""
    n = int(rng.integers(2, 5))
    chosen = [phases[i] for i in rng.choice(len(phases), n, replace=False)]
    w = 0.05 + (1 - 0.05 * n) * rng.dirichlet(np.ones(n))
    scales = []
    for p in chosen:
        axes = {"a": 1, "ac": 2, "abc": 3}[p.lattice_mode]
        s = 1 + rng.uniform(-0.005, 0.005, axes)
        scales.append(tuple(s[[0, 0, 0]]) if axes == 1 else (s[0], s[0], s[1]) if axes == 2 else tuple(s))
    sizes = rng.uniform(30, 300, n)
    x = np.arange(10.0, 90.0 + 1e-9, 0.02)
    bg = rng.uniform(200, 1500) * (1 + rng.uniform(0.5, 3) * np.exp(-(x - 10) / rng.uniform(8, 25)))
    bg = bg + rng.uniform(-2, 2) * (x - 50)
    ds, truth = synthetic_mixture(
        chosen, w, x, lattice_scales=scales, sizes_nm=sizes, background=np.clip(bg, 50, None), rng=rng, use_cache=False
    )
    return ds, truth, chosen


def accuracy(n_cases: int, seed: int = 2026) -> dict:
    rng = np.random.default_rng(seed)
    phases = library()
    right = 0
    wf_errors: list[float] = []
    lat_errors: list[float] = []
    times: list[float] = []
    failures = []
    for k in range(n_cases):
        ds, truth, _chosen = random_case(rng, phases)
        t0 = time.perf_counter()
        result = identify(ds)
        times.append(time.perf_counter() - t0)
        found = set(result.names)
        expected = set(truth["names"])
        if found == expected:
            right += 1
            for name, w, lat in zip(truth["names"], truth["weight_fractions"], truth["lattice"], strict=True):
                r = result.phase(name)
                wf_errors.append(abs(r.weight_fraction - w) * 100)
                for axis in ("a", "b", "c"):
                    lat_errors.append(abs(r.lattice[axis] / lat[axis] - 1) * 100)
        else:
            failures.append((k, sorted(expected), sorted(found), [round(w, 3) for w in truth["weight_fractions"]]))
    out = {
        "cases": n_cases,
        "right_phase_set_rate": right / n_cases,
        "weight_fraction_mae_wt%": float(np.mean(wf_errors)) if wf_errors else float("nan"),
        "weight_fraction_max_err_wt%": float(np.max(wf_errors)) if wf_errors else float("nan"),
        "lattice_mean_err_%": float(np.mean(lat_errors)) if lat_errors else float("nan"),
        "lattice_max_err_%": float(np.max(lat_errors)) if lat_errors else float("nan"),
        "lattice_share_within_0.1%": float(np.mean(np.asarray(lat_errors) <= 0.1)) if lat_errors else float("nan"),
        "identify_time_median_s": float(np.median(times)),
        "failures": failures,
    }
    return out


def extra_candidates(n: int, rng: np.random.Generator) -> list[Phase]:
    """``n`` decoy phases from library structures with scaled cells and substitutions."""
    base = library()
    out = []
    k = 0
    while len(out) < n:
        src = base[k % len(base)]
        k += 1
        s = src.structure.copy()
        sub = SUBSTITUTIONS[int(rng.integers(len(SUBSTITUTIONS)))]
        present = {e: r for e, r in sub.items() if e in src.elements}
        if present and rng.random() < 0.6:
            s.replace_species(present)
        factor = 1 + rng.choice([-1, 1]) * rng.uniform(0.015, 0.06)
        s.scale_lattice(s.volume * factor**3)
        out.append(Phase.from_structure(s, name=f"{src.name}~{len(out)}"))
    return out


def timing(seed: int = 7) -> list[dict]:
    rng = np.random.default_rng(seed)
    phases = library()
    ds, truth, chosen = random_case(rng, phases)
    x = ds["two_theta"].values
    decoys = extra_candidates(200, rng)
    # the baseline: one whole-pattern fit of the true phases
    t0 = time.perf_counter()
    fit_phases(ds, chosen)
    baseline = time.perf_counter() - t0
    rows = []
    for n in (10, 50, 200):
        pool = chosen + [p for p in phases if p not in chosen]
        cands = (pool + decoys)[:n] if n > len(pool) else pool[:n]
        t0 = time.perf_counter()
        for p in cands:  # fill the cache (first use)
            reflections(p, Instrument().wavelength, (float(x.min()), float(x.max())))
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        identify(ds, candidates=cands)  # first call: also the symmetry analysis of each new phase
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = identify(ds, candidates=cands)
        warm = time.perf_counter() - t0
        rows.append(
            {
                "candidates": n,
                "simulate_s": cold,
                "identify_first_s": first,
                "identify_s": warm,
                "ratio_to_one_fit": warm / baseline,
                "found": sorted(result.names),
                "truth": sorted(truth["names"]),
            }
        )
    return [{"baseline_fit_s": baseline}, *rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--no-accuracy", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("SPECFIT_CACHE_DIR", tempfile.mkdtemp(prefix="specfit-bench-"))
    print(f"cache: {os.environ['SPECFIT_CACHE_DIR']}; cores: {os.cpu_count()}")
    if not args.no_accuracy:
        t0 = time.perf_counter()
        acc = accuracy(args.cases, args.seed)
        print(f"accuracy over {acc['cases']} synthetic mixtures ({time.perf_counter() - t0:.0f} s):")
        for key, value in acc.items():
            if key != "failures":
                print(f"  {key:<30} {value:.4g}" if isinstance(value, float) else f"  {key:<30} {value}")
        for f in acc["failures"]:
            print(f"  miss case {f[0]}: truth {f[1]} (w {f[3]}), found {f[2]}")
    if not args.no_timing:
        rows = timing()
        print(f"timing (baseline: one whole-pattern fit of the true phases = {rows[0]['baseline_fit_s']:.3f} s):")
        for r in rows[1:]:
            print(
                f"  {r['candidates']:>4} candidates: simulate (cold cache) {r['simulate_s']:6.2f} s, identify first "
                f"{r['identify_first_s']:5.2f} s, repeated {r['identify_s']:5.2f} s = {r['ratio_to_one_fit']:4.1f} x "
                f"baseline; found {r['found']} "
                f"(truth {r['truth']})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
