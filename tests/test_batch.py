"""Tests of the batched Levenberg–Marquardt solver against known answers and per-spectrum lmfit fits."""

from __future__ import annotations

import platform
import sys

import lmfit
import numpy as np
import pytest

from specfit.errors import FitError
from specfit.fitting.batch import BatchSolution, least_squares_batch, tune_malloc

X = np.linspace(0.0, 20.0, 300)
NAMES = ["a_g", "c_g", "w_g", "a_l", "c_l", "w_l", "offset"]
# Bounds of the 7 parameters. The offset's upper bound 0.8 lies inside the range of true offsets
# (0.5-1.0), so about half the spectra have their optimum outside it: the parameter must end at the
# bound and be flagged.
LOWER = np.array([0.0, 5.0, 0.1, 0.0, 9.0, 0.1, -5.0])
UPPER = np.array([np.inf, 10.0, 3.0, np.inf, 15.0, 3.0, 0.8])
SIGMA = 0.2


def gauss_lorentz(P: np.ndarray) -> np.ndarray:
    """Gaussian + Lorentzian + constant for an (n, 7) parameter block, vectorised over spectra."""
    a_g, c_g, w_g, a_l, c_l, w_l, offset = (P[:, i, None] for i in range(7))
    return a_g * np.exp(-0.5 * ((X - c_g) / w_g) ** 2) + a_l / (1.0 + ((X - c_l) / w_l) ** 2) + offset


def gauss_lorentz_jac(P: np.ndarray) -> np.ndarray:
    a_g, c_g, w_g, a_l, c_l, w_l, _ = (P[:, i, None] for i in range(7))
    g = np.exp(-0.5 * ((X - c_g) / w_g) ** 2)
    t = (X - c_l) / w_l
    lor = 1.0 / (1.0 + t * t)
    J = np.empty((len(P), X.size, 7))
    J[:, :, 0] = g
    J[:, :, 1] = a_g * g * (X - c_g) / w_g**2
    J[:, :, 2] = a_g * g * (X - c_g) ** 2 / w_g**3
    J[:, :, 3] = lor
    J[:, :, 4] = a_l * lor * lor * 2.0 * t / w_l
    J[:, :, 5] = a_l * lor * lor * 2.0 * t * t / w_l
    J[:, :, 6] = 1.0
    return J


def make_problem(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noisy spectra with known truth and start values 10-20 % (centres 0.3) away from it."""
    rng = np.random.default_rng(seed)
    truth = np.column_stack(
        [
            rng.uniform(5, 10, n),
            rng.uniform(7, 9, n),
            rng.uniform(0.8, 1.5, n),
            rng.uniform(3, 8, n),
            rng.uniform(11, 13, n),
            rng.uniform(0.5, 1.2, n),
            rng.uniform(0.5, 1.0, n),
        ]
    )
    data = gauss_lorentz(truth) + rng.normal(0.0, SIGMA, (n, X.size))
    p0 = truth * rng.uniform(0.8, 1.2, truth.shape)
    p0[:, [1, 4]] = truth[:, [1, 4]] + rng.uniform(-0.3, 0.3, (n, 2))
    # lmfit cannot move a parameter that starts exactly on a bound (zero transform gradient), so the
    # comparison starts strictly inside the bounds (the batch solver's own behaviour there is tested
    # separately).
    p0 = np.clip(p0, LOWER + 0.05, UPPER - 0.05)
    return truth, data, p0


def residual_function(data: np.ndarray):
    def fun(P: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return (gauss_lorentz(P) - data[rows]) / SIGMA

    return fun


def fit_with_lmfit(data: np.ndarray, p0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference: one lmfit.minimize (leastsq) per spectrum; returns values, stderr, cost."""
    n = len(data)
    values, stderr, cost = np.empty((n, 7)), np.full((n, 7), np.nan), np.empty(n)
    for i in range(n):
        params = lmfit.Parameters()
        for j, name in enumerate(NAMES):
            params.add(name, value=p0[i, j], min=LOWER[j], max=UPPER[j])

        def residual(pars, i=i):
            P = np.array([[pars[name].value for name in NAMES]])
            return ((gauss_lorentz(P) - data[i]) / SIGMA)[0]

        result = lmfit.minimize(residual, params, method="leastsq")
        values[i] = [result.params[name].value for name in NAMES]
        stderr[i] = [np.nan if result.params[nm].stderr is None else result.params[nm].stderr for nm in NAMES]
        cost[i] = 0.5 * result.chisqr
    return values, stderr, cost


@pytest.fixture(scope="module")
def reference():
    truth, data, p0 = make_problem(40, seed=7)
    values, stderr, cost = fit_with_lmfit(data, p0)
    return truth, data, p0, values, stderr, cost


@pytest.fixture(scope="module")
def batch_fd(reference) -> BatchSolution:
    _, data, p0, *_ = reference
    return least_squares_batch(residual_function(data), p0, LOWER, UPPER)


def test_parameters_match_lmfit(reference, batch_fd):
    _truth, data, _p0, values, _, cost = reference
    sol = batch_fd
    assert sol.success.all(), sol.message
    assert np.all(sol.status >= 1) and np.all(sol.status <= 4)
    # the bound case must really occur in this data set, otherwise the test proves nothing about it
    assert 5 <= sol.at_bound[:, 6].sum() <= 35
    off_bound = ~sol.at_bound
    rel = np.abs(sol.x - values) / np.abs(values)
    assert np.max(rel[off_bound]) < 1e-3
    # at a bound both sit on it: lmfit approaches the bound to ~ftol, so compare absolutely
    np.testing.assert_allclose(sol.x[sol.at_bound], values[sol.at_bound], atol=1e-6)
    # same minimum: equal cost (chi-square / 2), and the reported cost is that of the returned x
    np.testing.assert_allclose(sol.cost, cost, rtol=1e-6)
    assert np.all(np.abs(sol.cost - 0.5 * np.sum(residual_function(data)(sol.x, np.arange(40)) ** 2, axis=1)) < 1e-8)


def test_stderr_matches_lmfit(reference, batch_fd):
    *_, stderr, _ = reference
    sol = batch_fd
    # Where a parameter sits at a bound lmfit's covariance comes from a nearly singular transformed
    # Jacobian (its stderr there is numerically arbitrary); compare where no bound is active.
    clean = ~sol.at_bound.any(axis=1)
    assert clean.sum() >= 10
    rel = np.abs(sol.stderr[clean] - stderr[clean]) / stderr[clean]
    assert np.max(rel) < 0.05


def test_covariance_is_scaled_inverse_normal_matrix(batch_fd):
    sol = batch_fd
    i = int(np.flatnonzero(~sol.at_bound.any(axis=1))[0])
    m, k = sol.jac.shape[1:]
    J = sol.jac[i]
    expected = np.linalg.inv(J.T @ J) * (2.0 * sol.cost[i] / (m - k))
    np.testing.assert_allclose(sol.covariance[i], expected, rtol=1e-8)
    np.testing.assert_allclose(sol.stderr[i], np.sqrt(np.diag(expected)), rtol=1e-8)
    # the returned Jacobian is the external one at the solution: compare with central differences
    fd = np.empty_like(J)
    for j in range(k):
        h = 1e-6 * max(1.0, abs(sol.x[i, j]))
        plus, minus = sol.x[i : i + 1].copy(), sol.x[i : i + 1].copy()
        plus[0, j] += h
        minus[0, j] -= h
        fd[:, j] = ((gauss_lorentz(plus) - gauss_lorentz(minus)) / (2 * h * SIGMA))[0]
    np.testing.assert_allclose(J, fd, atol=1e-5 * np.abs(fd).max())


def test_recovers_truth_within_errors(reference, batch_fd):
    truth, *_ = reference
    sol = batch_fd
    free = ~sol.at_bound
    z = np.abs(sol.x - truth)[free] / sol.stderr[free]
    assert np.median(z) < 1.5  # ~0.67 expected for correct error bars
    assert np.max(z) < 6.0


def test_analytic_jacobian_gives_same_answer(reference, batch_fd):
    _, data, p0, *_ = reference

    def jac(P, rows):
        return gauss_lorentz_jac(P) / SIGMA

    sol = least_squares_batch(residual_function(data), p0, LOWER, UPPER, jac=jac)
    assert sol.success.all()
    np.testing.assert_allclose(sol.x, batch_fd.x, rtol=1e-6, atol=1e-9)
    clean = ~sol.at_bound.any(axis=1)
    np.testing.assert_allclose(sol.stderr[clean], batch_fd.stderr[clean], rtol=1e-4)
    np.testing.assert_array_equal(sol.at_bound, batch_fd.at_bound)


def test_single_precision_jacobian_while_iterating_gives_the_same_answer(reference):
    """jac_dtype=float32: J and J^T J in single precision while iterating, double precision at the
    solution. Same fixed point (to far below the errors), same double-precision covariance."""
    _, data, p0, *_ = reference
    asked = []

    def jac(P, rows, dtype=np.float64):
        asked.append(np.dtype(dtype))
        return (gauss_lorentz_jac(P) / SIGMA).astype(dtype)

    double = least_squares_batch(residual_function(data), p0, LOWER, UPPER, jac=jac)
    asked.clear()
    single = least_squares_batch(residual_function(data), p0, LOWER, UPPER, jac=jac, jac_dtype=np.float32)
    assert asked[0] == np.float32 and asked[-1] == np.float64  # iterations single, solution double
    assert single.success.all() and single.jac.dtype == np.float64
    np.testing.assert_allclose(single.x, double.x, rtol=1e-6, atol=1e-9)
    clean = ~double.at_bound.any(axis=1)
    np.testing.assert_allclose(single.stderr[clean], double.stderr[clean], rtol=1e-5)
    np.testing.assert_array_equal(single.at_bound, double.at_bound)
    with pytest.raises(FitError, match="jac_dtype"):
        least_squares_batch(residual_function(data), p0, LOWER, UPPER, jac=jac, jac_dtype=np.float16)


def test_normal_equations_function_gives_the_same_answer(reference):
    """``normal=`` (J^T J and J^T r straight from a function that never hands over J) follows the same
    path as ``jac=`` — here on spectra whose offset ends on its bound (pinned, so the normal equations
    are also asked for at a pinned point) — and the Jacobian is only asked for when it is kept."""
    _, data, p0, *_ = reference
    calls = {"jac": 0, "normal": 0}

    def jac(P, rows, dtype=np.float64):
        calls["jac"] += 1
        return (gauss_lorentz_jac(P) / SIGMA).astype(dtype)

    def normal(P, r, rows, dtype=np.float64):
        calls["normal"] += 1
        J = (gauss_lorentz_jac(P) / SIGMA).astype(dtype).astype(np.float64)
        return np.einsum("nmk,nml->nkl", J, J), np.einsum("nmk,nm->nk", J, r)

    fun = residual_function(data)
    with_jac = least_squares_batch(fun, p0, LOWER, UPPER, jac=jac, keep_jac=False, jac_dtype=np.float32)
    calls["jac"] = 0
    with_normal = least_squares_batch(
        fun, p0, LOWER, UPPER, jac=jac, normal=normal, keep_jac=False, jac_dtype=np.float32
    )
    assert calls["jac"] == 0 and calls["normal"] > 0
    assert with_normal.at_bound[:, 6].sum() >= 5  # the pinned case is covered
    assert with_normal.success.all()
    np.testing.assert_allclose(with_normal.x, with_jac.x, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(with_normal.covariance, with_jac.covariance, rtol=1e-5, atol=1e-14)
    np.testing.assert_array_equal(with_normal.at_bound, with_jac.at_bound)
    kept = least_squares_batch(fun, p0, LOWER, UPPER, jac=jac, normal=normal, keep_jac=True)
    assert calls["jac"] > 0 and np.isfinite(kept.jac).all()
    with pytest.raises(FitError, match="rows"):
        least_squares_batch(fun, p0, LOWER, UPPER, jac=jac, normal=lambda P, r, dtype=None: None)


def test_without_rows_chunks_and_threads_agree(reference, batch_fd):
    _, data, p0, *_ = reference

    def fun_all(P):  # no `rows`: the solver must hand it the whole batch every time
        assert P.shape == (*data.shape[:1], 7)
        return (gauss_lorentz(P) - data) / SIGMA

    plain = least_squares_batch(fun_all, p0, LOWER, UPPER)
    chunked = least_squares_batch(residual_function(data), p0, LOWER, UPPER, chunk_size=7, workers=2)
    for sol in (plain, chunked):
        np.testing.assert_allclose(sol.x, batch_fd.x, rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(sol.nfev, batch_fd.nfev)
        np.testing.assert_allclose(sol.covariance, batch_fd.covariance, rtol=1e-9, equal_nan=True)


def test_active_subset_only_is_evaluated():
    truth, data, p0 = make_problem(12, seed=3)
    seen: list[int] = []

    def fun(P, rows):
        seen.append(len(rows))
        return (gauss_lorentz(P) - data[rows]) / SIGMA

    p0[0] = truth[0]  # starts at its optimum: converges after very few evaluations
    sol = least_squares_batch(fun, p0, LOWER, UPPER, chunk_size=100)
    assert sol.success.all()
    # spectrum 0 alone first (it tells the solver the number of points), then the other 11 start values;
    # converged spectra dropped out of later calls
    assert seen[:2] == [1, 11] and min(seen[2:]) < 12
    k = 7
    assert sum(seen) == int(sol.nfev.sum() + k * sol.njev.sum())


def test_nan_spectrum_fails_alone(reference, batch_fd):
    _, data, p0, *_ = reference
    bad = data.copy()
    bad[5] = np.nan
    bad[9, 100] = np.inf
    sol = least_squares_batch(residual_function(bad), p0, LOWER, UPPER)
    assert not sol.success[5] and sol.status[5] == -1 and "Non-finite" in sol.message[5]
    assert not sol.success[9] and sol.status[9] == -1
    assert np.all(np.isnan(sol.stderr[[5, 9]])) and np.isnan(sol.cost[5])
    others = np.setdiff1d(np.arange(40), [5, 9])
    assert sol.success[others].all()
    np.testing.assert_allclose(sol.x[others], batch_fd.x[others], rtol=1e-12)


def test_non_finite_start_fails_alone(reference, batch_fd):
    _, data, p0, *_ = reference
    start = p0.copy()
    start[3, 2] = np.nan
    sol = least_squares_batch(residual_function(data), start, LOWER, UPPER)
    assert sol.status[3] == -3 and not sol.success[3] and "start" in sol.message[3]
    others = np.setdiff1d(np.arange(40), [3])
    np.testing.assert_allclose(sol.x[others], batch_fd.x[others], rtol=1e-12)


def test_nan_at_trial_points_is_rejected_not_fatal():
    # The model is NaN for a width below 0.5, a region the unbounded solver passes near; such trial
    # steps must be rejected (damping up), not end the fit.
    _truth, data, p0 = make_problem(6, seed=11)

    def fun(P, rows):
        r = (gauss_lorentz(P) - data[rows]) / SIGMA
        r[P[:, 2] < 0.7] = np.nan
        return r

    lower = LOWER.copy()
    lower[6] = -np.inf
    upper = UPPER.copy()
    upper[6] = np.inf
    p0[:, 2] = 0.75
    sol = least_squares_batch(fun, p0, lower, upper)
    reference = least_squares_batch(residual_function(data), p0, lower, upper)
    ok = reference.x[:, 2] > 0.75  # spectra whose optimum lies in the finite region
    assert ok.sum() >= 3 and sol.success[ok].all()
    np.testing.assert_allclose(sol.x[ok], reference.x[ok], rtol=1e-6)


def test_at_bound_flags_and_values():
    truth, data, p0 = make_problem(10, seed=5)
    lower = np.tile(LOWER, (10, 1))
    upper = np.tile(UPPER, (10, 1))
    upper[:, 6] = np.inf
    upper[:, 3] = truth[:, 3] - 0.5  # Lorentzian amplitude optimum (mostly) above its upper bound
    lower[:, 2] = truth[:, 2] + 0.3  # Gaussian width optimum well below its lower bound
    p0 = np.clip(p0, lower + 0.01, upper - 0.01)
    sol = least_squares_batch(residual_function(data), p0, lower, upper)
    assert sol.success.all()
    assert sol.at_bound[:, 2].all()  # every Gaussian width sits on its lower bound
    assert sol.at_bound[:, 3].sum() >= 6  # most Lorentzian amplitudes on their upper bound
    assert not sol.at_bound[:, [0, 1, 4, 5, 6]].any()
    np.testing.assert_allclose(sol.x[:, 2], lower[:, 2], rtol=1e-9)
    flagged = sol.at_bound[:, 3]
    np.testing.assert_allclose(sol.x[flagged, 3], upper[flagged, 3], rtol=1e-9)
    assert np.all(upper[~flagged, 3] - sol.x[~flagged, 3] > 1e-4)  # the others are clearly inside
    assert np.all(sol.x >= lower) and np.all(sol.x <= upper)
    # lmfit, started at the same point, reaches the same constrained optimum (it stops ~ftol short of
    # a bound where the batch solver sits exactly on it)
    for i in range(10):
        params = lmfit.Parameters()
        for j, name in enumerate(NAMES):
            params.add(name, value=p0[i, j], min=lower[i, j], max=upper[i, j])
        result = lmfit.minimize(
            lambda pars, i=i: ((gauss_lorentz(np.array([[pars[nm].value for nm in NAMES]])) - data[i]) / SIGMA)[0],
            params,
        )
        reference = np.array([result.params[name].value for name in NAMES])
        np.testing.assert_allclose(sol.x[i], reference, rtol=1e-3)
        # equal cost; where different, the batch solver is lower (it sits on the bound)
        assert sol.cost[i] <= 0.5 * result.chisqr * (1 + 1e-9)
        np.testing.assert_allclose(sol.cost[i], 0.5 * result.chisqr, rtol=1e-6)


def test_start_exactly_on_bound_still_moves():
    truth, data, p0 = make_problem(8, seed=9)
    lower, upper = LOWER.copy(), UPPER.copy()
    upper[6] = np.inf
    p0[:, 0] = 0.0  # on the one-sided lower bound of the Gaussian amplitude
    p0[:, 2] = 3.0  # on the upper bound of the two-sided Gaussian width
    sol = least_squares_batch(residual_function(data), p0, lower, upper)
    good = least_squares_batch(residual_function(data), truth, lower, upper)
    assert sol.success.all() and not sol.at_bound.any()
    np.testing.assert_allclose(sol.x, good.x, rtol=1e-6)


def test_poorly_seeded_spectra_converge_like_lmfit():
    truth, data, _ = make_problem(30, seed=13)
    rng = np.random.default_rng(0)
    lower, upper = LOWER.copy(), UPPER.copy()
    upper[6] = np.inf
    p0 = truth.copy()
    p0[:, [0, 3]] *= rng.choice([0.2, 5.0], (30, 2))  # amplitudes off by a factor 5
    p0[:, [2, 5]] = 2.5  # widths 2-5x too large
    p0[:, 1] += rng.choice([-1.0, 1.0], 30)  # centres about one width off
    p0[:, 4] += rng.choice([-0.6, 0.6], 30)
    p0[:, 6] = 0.0
    sol = least_squares_batch(residual_function(data), p0, lower, upper)
    best = least_squares_batch(residual_function(data), truth, lower, upper)
    assert sol.success.all()
    found = np.isclose(sol.cost, best.cost, rtol=1e-7)
    assert found.sum() >= 25  # most spectra reach the optimum found from the true parameters
    np.testing.assert_allclose(sol.x[found], best.x[found], rtol=1e-5)
    # From such starts a local (MINPACK-type) method can end in another minimum; the batch solver
    # follows lmfit's path closely enough to end in the same minimum as lmfit, spectrum by spectrum.
    params_upper = UPPER.copy()
    try:
        UPPER[6] = np.inf
        _, _, lmfit_cost = fit_with_lmfit(data, p0)
    finally:
        UPPER[:] = params_upper
    same = np.isclose(sol.cost, lmfit_cost, rtol=1e-6)
    assert same.sum() >= 28


def test_singular_jacobian_gives_nan_errors_not_a_crash():
    _truth, data, p0 = make_problem(5, seed=17)

    # parameter 7 has no effect (zero Jacobian column); parameters 8 and 0 are degenerate (only their
    # sum matters). Both make J^T J singular.
    def fun(P, rows):
        Q = P[:, :7].copy()
        Q[:, 0] = P[:, 0] + P[:, 8]
        return (gauss_lorentz(Q) - data[rows]) / SIGMA

    p0 = np.column_stack([p0, np.full(5, 1.0), np.full(5, 0.5)])
    lower = np.append(LOWER, [-np.inf, -np.inf])
    upper = np.append(UPPER, [np.inf, np.inf])
    upper[6] = np.inf
    sol = least_squares_batch(fun, p0, lower, upper)
    assert sol.success.all()
    assert np.all(np.isnan(sol.stderr)) and np.all(np.isnan(sol.covariance))
    np.testing.assert_allclose(sol.x[:, 7], 1.0, rtol=1e-5)  # no effect: (practically) untouched
    reference = least_squares_batch(residual_function(data), p0[:, :7], LOWER, upper[:7])
    np.testing.assert_allclose(sol.x[:, 0] + sol.x[:, 8], reference.x[:, 0], rtol=1e-6)
    np.testing.assert_allclose(sol.x[:, 1:7], reference.x[:, 1:7], rtol=1e-6)


def test_linear_problem_known_answer():
    # Straight lines y = a + b t: the least-squares answer and its covariance are closed-form.
    rng = np.random.default_rng(1)
    t = np.linspace(-1.0, 2.0, 50)
    A = np.column_stack([np.ones_like(t), t])
    coef = rng.normal(0.0, 3.0, (25, 2))
    y = coef @ A.T + rng.normal(0.0, 0.1, (25, 50))
    sol = least_squares_batch(lambda P, rows: P @ A.T - y[rows], np.zeros((25, 2)), -np.inf, np.inf)
    exact, *_ = np.linalg.lstsq(A, y.T, rcond=None)
    np.testing.assert_allclose(sol.x, exact.T, rtol=1e-7, atol=1e-8)
    resid = y - exact.T @ A.T
    s2 = np.sum(resid**2, axis=1) / (50 - 2)
    cov = np.linalg.inv(A.T @ A)[None] * s2[:, None, None]
    np.testing.assert_allclose(sol.covariance, cov, rtol=1e-5)
    assert sol.success.all() and not sol.at_bound.any()


def test_bounded_linear_problem_matches_lsq_linear():
    # Bounded linear least squares has a unique answer (scipy.optimize.lsq_linear) whatever the
    # start; bounds of all four kinds (none, lower, upper, both), many of them active.
    from scipy.optimize import lsq_linear

    rng = np.random.default_rng(3)
    t = np.linspace(0.0, 1.0, 40)
    A = np.column_stack([np.ones_like(t), t, t**2])
    n = 20
    coef = rng.normal(0.0, 2.0, (n, 3))
    y = coef @ A.T + rng.normal(0.0, 0.05, (n, 40))
    lower = np.column_stack([np.full(n, -np.inf), coef[:, 1] + rng.uniform(-0.5, 0.5, n), np.full(n, -np.inf)])
    upper = np.column_stack([coef[:, 0] + rng.uniform(-0.5, 0.5, n), np.full(n, np.inf), coef[:, 2] + 1.0])
    lower[:, 2] = coef[:, 2] + rng.uniform(-0.8, 0.5, n)  # two-sided on the quadratic term
    start = np.clip(np.zeros((n, 3)), lower + 0.01, upper - 0.01)
    sol = least_squares_batch(lambda P, rows: P @ A.T - y[rows], start, lower, upper, keep_jac=False)
    assert sol.jac is None and sol.success.all()
    for i in range(n):
        exact = lsq_linear(A, y[i], bounds=(lower[i], upper[i]), tol=1e-14, method="bvls")
        np.testing.assert_allclose(sol.x[i], exact.x, rtol=1e-6, atol=1e-7)
        active = (exact.x - lower[i] < 1e-9) | (upper[i] - exact.x < 1e-9)
        np.testing.assert_array_equal(sol.at_bound[i], active)
    assert 10 <= sol.at_bound.sum() <= 50  # bounds really are active in this set-up


def test_exact_data_converges_to_zero_cost():
    truth, _, p0 = make_problem(4, seed=19)
    exact = gauss_lorentz(truth)
    lower, upper = LOWER.copy(), UPPER.copy()
    upper[6] = np.inf
    sol = least_squares_batch(lambda P, rows: gauss_lorentz(P) - exact[rows], p0, lower, upper)
    assert sol.success.all()
    np.testing.assert_allclose(sol.x, truth, rtol=1e-6)
    assert np.all(sol.cost < 1e-12)


def test_max_nfev_bounds_the_work():
    _truth, data, p0 = make_problem(6, seed=23)
    sol = least_squares_batch(residual_function(data), p0, LOWER, UPPER, max_nfev=3)
    assert np.all(sol.nfev <= 3)
    assert np.all(sol.status == 5) and not sol.success.any()
    assert "max_nfev" in sol.message[0]
    assert np.all(np.isfinite(sol.x)) and np.all(sol.cost > 0)


def test_fewer_points_than_parameters_is_improper_input():
    sol = least_squares_batch(lambda P, rows: P[:, :2] * 1.0, np.ones((3, 4)), -np.inf, np.inf)
    assert np.all(sol.status == 0) and not sol.success.any()


def test_bad_input_raises_fit_error():
    fun = residual_function(np.zeros((2, X.size)))
    p0 = np.ones((2, 7))
    with pytest.raises(FitError, match="lower bound must be below"):
        least_squares_batch(fun, p0, np.zeros(7), np.zeros(7))
    with pytest.raises(FitError, match="does not match"):
        least_squares_batch(fun, p0, np.zeros(3), np.ones(3))
    with pytest.raises(FitError, match="2-D"):
        least_squares_batch(fun, np.ones(7), -np.inf, np.inf)
    with pytest.raises(FitError, match="residual function returned shape"):
        least_squares_batch(lambda P, rows: np.zeros((len(rows) + 1, 5)), p0, -np.inf, np.inf)
    with pytest.raises(FitError, match="jac returned shape"):
        least_squares_batch(fun, p0, -np.inf, np.inf, jac=lambda P, rows: np.zeros((len(rows), 3, 7)))


def test_tune_malloc_applies_on_glibc():
    applied = tune_malloc(top_pad_mb=8)
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert applied is True
    else:
        assert applied is False
