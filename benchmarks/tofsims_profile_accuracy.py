"""Accuracy of ToF-SIMS depth-profile analysis on synthetic coated-particle profiles.

Run from the repository root::

    python benchmarks/tofsims_profile_accuracy.py [N_SEEDS]

For each scenario (count level, interface widths, layer thickness) it simulates N Poisson-noise
profiles (tests/test_tofsims_profile.py: an electrolyte shell PS3- over a coating NbO2- over an
NCM core NiO-), analyses them with both interface methods and prints the largest relative errors
of interface depth, 16-84 % width and steady-state time against the truth, and how often the
number of interfaces found was wrong. Also prints the time per profile.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from specfit.tofsims.profile import analyze_profile
from tests.test_tofsims_profile import RATE, _truth_steady_state, coated_particle

SCENARIOS = {
    "8000-count core, widths 4/6 nm, 15 nm coating": {},
    "1600-count core, widths 3/8 nm, 15 nm coating": {"scale": 0.2, "w1": 3.0, "w2": 8.0},
    "1600-count core, widths 5/5 nm, 20 nm coating": {
        "scale": 0.2,
        "shell": 30.0,
        "coating": 20.0,
        "w1": 5.0,
        "w2": 5.0,
    },
    "400-count core, widths 5/5 nm, 20 nm coating": {
        "scale": 0.05,
        "shell": 30.0,
        "coating": 20.0,
        "w1": 5.0,
        "w2": 5.0,
    },
}


def run(n_seeds: int) -> None:
    for label, kw in SCENARIOS.items():
        for method in ("isotonic", "erf"):
            rows, wrong, elapsed = [], 0, 0.0
            for seed in range(n_seeds):
                ds, model, t, (d1, d2, w1, w2) = coated_particle(1000 + seed, **kw)
                start = time.perf_counter()
                res = analyze_profile(ds, rate=RATE, interface_method=method)
                elapsed += time.perf_counter() - start
                p, n, q = (res.fragment(k).interfaces for k in ("PS3-", "NbO2-", "NiO-"))
                if (len(p), len(n), len(q)) != (1, 2, 1):
                    wrong += 1
                    continue
                depth = [p[0].depth_nm / d1, n[0].depth_nm / d1, n[1].depth_nm / d2, q[0].depth_nm / d2]
                width = [p[0].width_nm / w1, n[0].width_nm / w1, n[1].width_nm / w2, q[0].width_nm / w2]
                ss = []
                for k in ("PS3-", "NbO2-", "NiO-"):
                    got = res.fragment(k).steady_state_time_s
                    ss.append(np.nan if got is None else got / _truth_steady_state(t, model[k]))
                rows.append(np.r_[depth, width, ss] - 1)
            e = np.abs(np.array(rows))
            print(
                f"{label:48s} {method:8s} n={len(rows):3d} wrong-count={wrong:2d}  "
                f"max depth err {100 * np.nanmax(e[:, :4]):5.2f} %  max width err {100 * np.nanmax(e[:, 4:8]):5.1f} %  "
                f"max steady-state err {100 * np.nanmax(e[:, 8:]):5.2f} %  ({1e3 * elapsed / n_seeds:.0f} ms/profile)"
            )


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
