"""Benchmark: batched Levenberg–Marquardt (specfit.fitting.batch) vs per-spectrum lmfit loops.

Run from the repository root::

    python benchmarks/bench_batch.py             # map of 10,000 spectra + depth profile
    python benchmarks/bench_batch.py --quick     # 1,000-spectrum map, for a fast check
    python benchmarks/bench_batch.py --malloc-tuning   # see below

Problem (synthetic XPS S 2p-like data with known truth, 600 points on 158-172 eV):
three spin-orbit doublets = 6 Gaussian-Lorentzian (sum form, area-normalised pseudo-Voigt) lines.
Each doublet has free centre, area and FWHM; the 2p1/2 line is tied to its 2p3/2 line with a fixed
splitting (1.18 eV) and area ratio (1/2) and the same FWHM; one Gaussian-Lorentzian mixing fraction
is shared by all lines: 10 free parameters per spectrum. A Shirley-like background (constant plus the
cumulative integral of the true peaks) is pre-computed and held fixed. Poisson noise; residuals
weighted by 1/sqrt(counts). Bounds: centres +-1 eV around the nominal position, areas >= 0, FWHM in
[0.3, 3] eV, mixing in [0, 1]. Start values: nominal centres, areas from the data maximum, FWHM 1 eV,
mixing 0.3 (identical for all solvers). The synthetic positions/splitting only shape the test data.

Baselines, both timed in the same run:
* "lmfit Model loop": the plain way to do it with lmfit -- a composite of six
  ``lmfit.models.PseudoVoigtModel`` with ``expr`` constraints for the tied centres, areas, widths and
  mixing, ``Model.fit`` per spectrum (leastsq). Identical line shape (lmfit's pseudo-Voigt with
  sigma = FWHM/2 is this area-normalised GL sum form).
* "lmfit minimize loop": the fastest lmfit can be -- ``lmfit.minimize`` (leastsq) on a hand-written
  residual that calls the same vectorised numpy model as the batch solver (n = 1).

Cases:
* map: 10,000 spectra (a 100 x 100 map). The lmfit loops are timed on a random subset of 200
  spectra and extrapolated to spectra/s (said so in the output); the batch solver fits all 10,000.
* depth profile: 200 spectra in which the surface (oxidised) doublet decays to zero with depth, so its
  area sits at the lower bound 0 in the deeper half; lmfit fits all 200. Where a doublet's area is 0
  its centre and width are undetermined (any value fits equally, and noise-fitting narrow peaks give
  several local minima), so parameters are compared only on "identifiable" spectra (every true area
  > 1000, i.e. every doublet clearly present); on all spectra the cost (chi-square / 2) is compared.

The batch solver is run with batched forward differences (what a generic model gets) and with the
analytic Jacobian of the model. Reported: spectra/s (CPU time, and wall clock), speed ratios on CPU
time (single-threaded runs;
the machine is shared, so wall-clock rates are noisy), the largest relative parameter
difference to each lmfit loop (parameters off their bounds; absolute difference for parameters at a
bound), the largest relative stderr difference (spectra with no parameter at a bound) and the cost
agreement.

``--malloc-tuning`` calls ``specfit.fitting.batch.tune_malloc()`` (glibc ``mallopt``) for the whole
run. numpy's large temporaries are otherwise returned to the OS on free and page-faulted back on the
next allocation; on the 2-core VM this made element-wise operations on 0.3-3 MB arrays up to 10x
slower, and the batch solver ~2.5x slower on the 10,000-spectrum map. It is a process-wide setting,
so the solver does not do it by itself; an application fitting big stacks can.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lmfit
import lmfit.models

from specfit.fitting.batch import least_squares_batch, tune_malloc

ENERGY = np.linspace(158.0, 172.0, 600)
NOMINAL_CENTRES = np.array([160.5, 161.8, 163.6])  # synthetic positions of three S 2p3/2 components
SPLITTING = 1.18  # 2p1/2 - 2p3/2 splitting used to build the synthetic data (typical S 2p value)
BRANCHING = 0.5  # 2p1/2 : 2p3/2 area ratio
G0 = np.sqrt(4.0 * np.log(2.0) / np.pi)
L0 = 2.0 / np.pi
FOUR_LN2 = 4.0 * np.log(2.0)
NAMES = [f"{q}{i}" for i in range(3) for q in ("c", "a", "w")] + ["eta"]
# parameter order: c0 a0 w0 c1 a1 w1 c2 a2 w2 eta
LINE_DOUBLET = np.array([0, 0, 1, 1, 2, 2])
LINE_SHIFT = np.array([0.0, SPLITTING] * 3)
LINE_SCALE = np.array([1.0, BRANCHING] * 3)


def lines(P: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-line centre, area, FWHM (n, 6) and shared mixing (n, 1) from the (n, 10) parameters."""
    c = P[:, 0:9:3][:, LINE_DOUBLET] + LINE_SHIFT
    a = P[:, 1:9:3][:, LINE_DOUBLET] * LINE_SCALE
    w = P[:, 2:9:3][:, LINE_DOUBLET]
    return c, a, w, P[:, 9:10]


def profiles(P: np.ndarray) -> tuple[np.ndarray, ...]:
    """Line parameters and the Gaussian / Lorentzian profiles, (n, 6, m), computed in place.

    In-place ufuncs (``out=``) instead of expression temporaries: fewer large allocations, which on
    glibc are returned to the OS and page-faulted back on every call (see ``--malloc-tuning``).
    """
    c, a, w, eta = lines(P)
    inv_w = 1.0 / w[:, :, None]
    dx = ENERGY - c[:, :, None]  # (n, 6, m)
    s = np.multiply(dx, inv_w)
    np.multiply(s, s, out=s)  # ((x - c) / w)^2
    gauss = np.multiply(s, -FOUR_LN2)
    # exp of arguments below ~-708 underflows to subnormals, a slow path in the SIMD exp; such values
    # (< 1e-304) are zero for any spectrum, so clip the argument.
    np.maximum(gauss, -700.0, out=gauss)
    np.exp(gauss, out=gauss)
    gauss *= G0 * inv_w
    denom = np.multiply(s, 4.0)
    denom += 1.0
    np.reciprocal(denom, out=denom)  # 1 / (1 + 4 s)
    lor = np.multiply(denom, L0 * inv_w)
    return c, a, w, eta, dx, inv_w, denom, gauss, lor


def model(P: np.ndarray) -> np.ndarray:
    """Sum of the six pseudo-Voigt lines, (n, m)."""
    _, a, _, eta, _, _, _, gauss, lor = profiles(P)
    e = eta[:, :, None]
    gauss *= 1.0 - e
    lor *= e
    gauss += lor  # the line shapes
    return np.matmul(a[:, None, :], gauss)[:, 0]


def model_jacobian(P: np.ndarray) -> np.ndarray:
    """d model / d P, (n, m, 10), analytic."""
    _c, a, _w, eta, dx, inv_w, denom, gauss, lor = profiles(P)
    e = eta[:, :, None]
    inv_w2 = inv_w * inv_w
    shape = gauss * (1.0 - e) + lor * e
    dx_w2 = dx * inv_w2  # (x - c) / w^2
    # d profile / d centre:  G * 8 ln2 (x-c)/w^2 ;  L * 8 (x-c)/w^2 / (1 + 4 s)
    dg_dc = gauss * dx_w2
    dg_dc *= 2.0 * FOUR_LN2
    dl_dc = lor * dx_w2
    dl_dc *= denom
    dl_dc *= 8.0
    # d profile / d fwhm = (x - c) / w * d profile / d centre - profile / w
    dx_w = dx * inv_w
    d_c = dg_dc * (1.0 - e)
    d_c += dl_dc * e
    d_w = d_c * dx_w
    d_w -= shape * inv_w
    amp = a[:, :, None]
    d_c *= amp
    d_w *= amp
    shape *= LINE_SCALE[None, :, None]
    n = P.shape[0]
    J = np.empty((n, ENERGY.size, 10))
    for d in range(3):  # sum the two lines of each doublet (loop over 3 doublets, not spectra)
        first, second = 2 * d, 2 * d + 1
        np.add(d_c[:, first], d_c[:, second], out=J[:, :, 3 * d])
        np.add(shape[:, first], shape[:, second], out=J[:, :, 3 * d + 1])
        np.add(d_w[:, first], d_w[:, second], out=J[:, :, 3 * d + 2])
    lor -= gauss
    J[:, :, 9] = np.matmul(a[:, None, :], lor)[:, 0]
    return J


def shirley_like(P: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Fixed background: constant + step proportional to the peak area at lower kinetic energy."""
    peaks = model(P)
    cumulative = np.cumsum(peaks, axis=1)
    return offset[:, None] + 0.02 * cumulative


def make_data(truth: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    background = shirley_like(truth, rng.uniform(200.0, 400.0, len(truth)))
    expected = model(truth) + background
    counts = rng.poisson(expected).astype(np.float64)
    weights = 1.0 / np.sqrt(np.maximum(counts, 1.0))
    return counts, background, weights


def random_truth(n: int, rng: np.random.Generator) -> np.ndarray:
    P = np.empty((n, 10))
    P[:, 0:9:3] = NOMINAL_CENTRES + rng.uniform(-0.25, 0.25, (n, 3))
    P[:, 1:9:3] = rng.uniform(2000.0, 6000.0, (n, 3))
    P[:, 2:9:3] = rng.uniform(0.8, 1.3, (n, 3))
    P[:, 9] = rng.uniform(0.1, 0.5, n)
    return P


def start_and_bounds(counts: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(counts)
    net_max = (counts - background).max(axis=1)
    p0 = np.empty((n, 10))
    p0[:, 0:9:3] = NOMINAL_CENTRES
    p0[:, 1:9:3] = (net_max * 1.0 / 2.0)[:, None]  # area ~ height * fwhm / 2 of a typical line
    p0[:, 2:9:3] = 1.0
    p0[:, 9] = 0.3
    lower = np.empty(10)
    upper = np.empty(10)
    lower[0:9:3], upper[0:9:3] = NOMINAL_CENTRES - 1.0, NOMINAL_CENTRES + 1.0
    lower[1:9:3], upper[1:9:3] = 0.0, np.inf
    lower[2:9:3], upper[2:9:3] = 0.3, 3.0
    lower[9], upper[9] = 0.0, 1.0
    return p0, np.broadcast_to(lower, (n, 10)), np.broadcast_to(upper, (n, 10))


def batch_problem(counts, background, weights):
    def fun(P, rows):
        return (model(P) + background[rows] - counts[rows]) * weights[rows]

    def jac(P, rows):
        return model_jacobian(P) * weights[rows][:, :, None]

    return fun, jac


class Timer:
    """Wall-clock and CPU (user + system, all threads) seconds of a block.

    The benchmark machine is shared (2 cores, other jobs running), so wall-clock rates are noisy; for
    single-threaded runs CPU time estimates the uncontended wall time and the ratios use it.
    """

    def __enter__(self) -> Timer:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0


def lmfit_loop(indices, counts, background, weights, p0, lower, upper):
    """Fit each spectrum with lmfit.minimize (leastsq, default settings); returns x, stderr, Timer."""
    x = np.full((len(indices), 10), np.nan)
    err = np.full((len(indices), 10), np.nan)
    with Timer() as timer:
        _minimize_loop(indices, counts, background, weights, p0, lower, upper, x, err)
    return x, err, timer


def _minimize_loop(indices, counts, background, weights, p0, lower, upper, x, err) -> None:
    for row, i in enumerate(indices):
        params = lmfit.Parameters()
        for j, name in enumerate(NAMES):
            params.add(name, value=p0[i, j], min=lower[i, j], max=upper[i, j])

        def residual(pars, i=i):
            P = np.array([[pars[name].value for name in NAMES]])
            return ((model(P) + background[i] - counts[i]) * weights[i])[0]

        result = lmfit.minimize(residual, params, method="leastsq")
        x[row] = [result.params[name].value for name in NAMES]
        err[row] = [np.nan if result.params[name].stderr is None else result.params[name].stderr for name in NAMES]


def lmfit_model_loop(indices, counts, background, weights, p0, lower, upper):
    """The plain lmfit way: composite PseudoVoigtModel with expr ties, Model.fit per spectrum."""
    composite = None
    for d in range(3):
        for line in "ab":
            part = lmfit.models.PseudoVoigtModel(prefix=f"d{d}{line}_")
            composite = part if composite is None else composite + part
    x = np.full((len(indices), 10), np.nan)
    err = np.full((len(indices), 10), np.nan)
    with Timer() as timer:
        _model_loop(composite, indices, counts, background, weights, p0, lower, upper, x, err)
    return x, err, timer


def _model_loop(composite, indices, counts, background, weights, p0, lower, upper, x, err) -> None:
    for row, i in enumerate(indices):
        params = composite.make_params()
        for d in range(3):
            c, a, w = 3 * d, 3 * d + 1, 3 * d + 2
            params[f"d{d}a_center"].set(value=p0[i, c], min=lower[i, c], max=upper[i, c])
            params[f"d{d}a_amplitude"].set(value=p0[i, a], min=lower[i, a], max=upper[i, a])
            params[f"d{d}a_sigma"].set(value=p0[i, w] / 2, min=lower[i, w] / 2, max=upper[i, w] / 2)
            params[f"d{d}b_center"].set(expr=f"d{d}a_center + {SPLITTING}")
            params[f"d{d}b_amplitude"].set(expr=f"{BRANCHING} * d{d}a_amplitude")
            params[f"d{d}b_sigma"].set(expr=f"d{d}a_sigma")
            for line in "ab":
                if (d, line) != (0, "a"):
                    params[f"d{d}{line}_fraction"].set(expr="d0a_fraction")
        params["d0a_fraction"].set(value=p0[i, 9], min=lower[i, 9], max=upper[i, 9])
        result = composite.fit(counts[i] - background[i], params, x=ENERGY, weights=weights[i], method="leastsq")
        for d in range(3):
            for j, (name, scale) in enumerate((("center", 1.0), ("amplitude", 1.0), ("sigma", 2.0))):
                par = result.params[f"d{d}a_{name}"]
                x[row, 3 * d + j] = par.value * scale
                err[row, 3 * d + j] = np.nan if par.stderr is None else par.stderr * scale
        par = result.params["d0a_fraction"]
        x[row, 9] = par.value
        err[row, 9] = np.nan if par.stderr is None else par.stderr


def compare(sol, indices, x_ref, err_ref, cost_ref, identifiable) -> dict[str, float]:
    """Differences between the batch solution (rows ``indices``) and a reference loop.

    ``identifiable`` (per compared spectrum): every doublet is clearly present in the truth, so every
    parameter is determined by the data; elsewhere only the cost is a meaningful comparison.
    """
    x = sol.x[indices]
    at_bound = sol.at_bound[indices]
    rel = np.abs(x - x_ref) / np.abs(x_ref)
    determined = identifiable[:, None] & ~at_bound
    clean = identifiable & ~at_bound.any(axis=1)
    on_bound = identifiable[:, None] & at_bound
    err_rel = np.abs(sol.stderr[indices] - err_ref) / err_ref
    cost_rel = (sol.cost[indices] - cost_ref) / cost_ref
    return {
        "max_rel_param": float(np.max(rel[determined])) if determined.any() else float("nan"),
        "max_abs_at_bound": float(np.max(np.abs(x - x_ref)[on_bound])) if on_bound.any() else 0.0,
        "max_rel_stderr": float(np.max(err_rel[clean])) if clean.any() else float("nan"),
        "n_determined": int(identifiable.sum()),
        "cost_same": float(np.mean(np.abs(cost_rel) < 1e-6)),
        "cost_lower": int(np.sum(cost_rel < -1e-6)),
        "cost_higher": int(np.sum(cost_rel > 1e-6)),
    }


def cost_of(x, indices, counts, background, weights) -> np.ndarray:
    fun, _ = batch_problem(counts, background, weights)
    r = fun(x, indices)
    return 0.5 * np.sum(r * r, axis=1)


def run_case(label, counts, background, weights, p0, lower, upper, lmfit_indices, extrapolated, workers, truth):
    n = len(counts)
    fun, jac = batch_problem(counts, background, weights)
    print(f"\n=== {label}: {n} spectra x {counts.shape[1]} points, 10 free parameters ===")
    note = f" (timed on a random subset of {len(lmfit_indices)}, extrapolated)" if extrapolated else ""
    references = {}
    for name, loop in (("lmfit Model loop", lmfit_model_loop), ("lmfit minimize loop", lmfit_loop)):
        x_ref, err_ref, timer = loop(lmfit_indices, counts, background, weights, p0, lower, upper)
        rate_cpu, rate_wall = len(lmfit_indices) / timer.cpu, len(lmfit_indices) / timer.wall
        references[name] = (x_ref, err_ref, cost_of(x_ref, lmfit_indices, counts, background, weights), rate_cpu)
        print(f"{name:31s}: {rate_cpu:8.1f} spectra/s CPU ({rate_wall:8.1f} wall){note}")
    variants = [("batch, finite diff", None, 1), ("batch, analytic jac", jac, 1)]
    if workers > 1:
        variants += [(f"batch, finite diff, {workers} threads", None, workers)]
        variants += [(f"batch, analytic jac, {workers} threads", jac, workers)]
    for name, jac_arg, n_threads in variants:
        with Timer() as timer:
            sol = least_squares_batch(fun, p0, lower, upper, jac=jac_arg, keep_jac=False, workers=n_threads)
        # single thread: CPU-time rate vs the loops' CPU-time rates; threads: wall rate vs the same
        rate = n / timer.cpu if n_threads == 1 else n / timer.wall
        basis = "CPU" if n_threads == 1 else "wall"
        ratios = "  ".join(f"{rate / ref[3]:6.1f}x vs {ref_name.split()[1]}" for ref_name, ref in references.items())
        print(
            f"{name:31s}: {rate:8.1f} spectra/s {basis:4s} ({n / timer.wall:8.1f} wall)  {ratios}  "
            f"[{timer.wall:.1f} s wall; success {sol.success.mean():.3f}; mean nfev {sol.nfev.mean():.1f}, "
            f"njev {sol.njev.mean():.1f}; {int(sol.at_bound.any(axis=1).sum())} spectra with a parameter at a bound]"
        )
        identifiable = np.all(truth[lmfit_indices, 1:9:3] > 1000.0, axis=1)
        for ref_name, (x_ref, err_ref, cost_ref, _) in references.items():
            d = compare(sol, lmfit_indices, x_ref, err_ref, cost_ref, identifiable)
            print(
                f"{'':33s}vs {ref_name}: max rel param diff {d['max_rel_param']:.1e} "
                f"({d['n_determined']} identifiable spectra), max abs diff at bound {d['max_abs_at_bound']:.1e}, "
                f"max rel stderr diff {d['max_rel_stderr']:.1e}; cost equal (1e-6) for {100 * d['cost_same']:.1f}%, "
                f"batch lower {d['cost_lower']}, higher {d['cost_higher']}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000-spectrum map instead of 10,000")
    parser.add_argument("--n-lmfit", type=int, default=200, help="size of the lmfit subset for the map")
    parser.add_argument("--workers", type=int, default=1, help="also run the batch solver with this many threads")
    parser.add_argument("--malloc-tuning", action="store_true", help="glibc mallopt: keep freed memory (see doc)")
    args = parser.parse_args()
    if args.malloc_tuning:
        print(f"malloc tuning (M_TOP_PAD 256 MB, M_TRIM_THRESHOLD 512 MB): {'on' if tune_malloc() else 'FAILED'}")
    rng = np.random.default_rng(2026)

    n_map = 1000 if args.quick else 10_000
    truth = random_truth(n_map, rng)
    counts, background, weights = make_data(truth, seed=1)
    p0, lower, upper = start_and_bounds(counts, background)
    subset = np.sort(rng.choice(n_map, size=min(args.n_lmfit, n_map), replace=False))
    run_case("map", counts, background, weights, p0, lower, upper, subset, True, args.workers, truth)

    # depth profile: surface doublet 2 (oxidised) decays to 0 with depth; bulk doublet 0 grows
    levels = 200
    depth = np.linspace(0.0, 1.0, levels)
    truth = random_truth(levels, rng)
    truth[:, 7] = 6000.0 * np.clip(1.0 - depth / 0.6, 0.0, None)
    truth[:, 1] = 3000.0 + 1500.0 * depth
    counts, background, weights = make_data(truth, seed=2)
    p0, lower, upper = start_and_bounds(counts, background)
    run_case(
        "depth profile", counts, background, weights, p0, lower, upper, np.arange(levels), False, args.workers, truth
    )


if __name__ == "__main__":
    main()
