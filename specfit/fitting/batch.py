"""Batched, bounded Levenberg–Marquardt: one peak model fitted to many spectra at once.

A depth profile (200 levels) or a map (100 x 100 pixels) is the same model fitted to thousands of
spectra. A Python loop of lmfit fits pays lmfit's per-call overhead (Parameters bookkeeping,
constraint expressions, MINPACK called one spectrum at a time) thousands of times.
:func:`least_squares_batch` runs Levenberg–Marquardt on *all* spectra simultaneously with numpy: an
iteration evaluates the model once for the whole batch of still-active spectra (plus ``k`` batched
finite-difference evaluations where the Jacobian is needed), forms the ``(n, k, k)`` normal matrices
with one batched matrix product and decomposes them with one batched ``eigh``. Every spectrum keeps
its own trust region, its own convergence tests and its own evaluation count, and drops out of the
evaluations once converged. There is no Python loop over spectra.

Why not scipy/lmfit directly: neither vectorises over independent problems; solving the stack as one
big sparse problem (scipy ``least_squares`` with ``jac_sparsity``) would couple the damping and the
stopping tests of all spectra, so one hard spectrum would change the answers of all the others.

Agreement with lmfit
--------------------
Answers must equal lmfit's (``leastsq``) to 1e-3 relative, from the same start, also for multi-peak
spectra with several local minima. So the solver follows lmfit's algorithm, vectorised:

* bounds by the MINUIT transforms lmfit uses (``lmfit.Parameter.setup_bounds``), with LM on the
  unbounded internal variables ``u``: two-sided ``x = lo + (sin(u) + 1) * (hi - lo) / 2``, lower only
  ``x = lo - 1 + sqrt(u**2 + 1)``, upper only ``x = hi + 1 - sqrt(u**2 + 1)``;
* MINPACK's (lmdif) trust-region LM: column-norm scaling, initial radius ``100 * ||D u||``, the same
  radius updates and the same ftol / xtol / gtol tests (Moré 1977), with MINPACK's damping search
  (lmpar) done in closed form on the eigen-decomposition of the scaled normal matrix.

In tests this reproduces lmfit's first step to all printed digits and its final parameters to
~1e-6 relative; from deliberately poor starts (amplitudes 5x off, centres one width off) it ended in
the same minimum as lmfit in 169 of 180 spectra, including most where lmfit too is trapped in a
wrong one (of the other 11: 8 lower, 3 higher chi-square than lmfit). A projected / active-set bound treatment was
considered and not used: it reaches the same interior optima from good starts but takes a different
path from bad ones. One deliberate difference (see ``_PIN_GAIN``): near convergence a parameter whose
optimum lies outside its bound is put exactly on the bound, which lmfit approaches only
asymptotically (it stops ~ftol short); this saves tens of iterations and is flagged in ``at_bound``.

Covariance is computed as lmfit/MINPACK do: ``inv(J.T @ J)`` in *external* parameters (equal to
lmfit's transformed internal covariance ``cov_int * outer(g, g)``), times the reduced chi-square
``2 * cost / (m - k)``, with ``J`` evaluated at the solution itself. For a parameter at a bound this
is the unconstrained curvature error (lmfit's value there comes from a nearly singular transformed
Jacobian and is numerically arbitrary).

The residual function
---------------------
``fun(P) -> R`` with ``P`` of shape ``(n, k)`` and ``R`` of shape ``(n, m)``. The function has to know
which spectrum each row of ``P`` belongs to (each has its own data). If ``fun`` accepts a keyword
argument ``rows`` (an integer index array into the original ``n`` spectra, one entry per row of
``P``, possibly repeated), the solver evaluates only the still-active spectra and processes the
stack in memory-bounded chunks: ``fun(P_sub, rows=idx)``. Without ``rows`` it must call ``fun`` on
the whole ``(n, k)`` batch every time (converged rows are filled with valid values and ignored),
which is correct but does not save the work of converged spectra and cannot be chunked. The same
applies to ``jac``.
"""

from __future__ import annotations

import ctypes
import inspect
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ..errors import FitError
from ..model import _fast

__all__ = ["BatchSolution", "least_squares_batch", "tune_malloc"]

_EPS = np.finfo(np.float64).eps
# Forward-difference step: sqrt(eps) * max(|x|, typx) (Dennis & Schnabel's "typical x"). MINPACK's
# sqrt(eps) * |x| alone fails for a parameter passing close to 0 (e.g. 1e-15 left by rounding in a
# bound transform): the step underflows the residual's precision, the column becomes 0 and the
# parameter freezes. typx = median |start value| of that parameter over the batch (1 if that is 0).
_FD_REL_STEP = np.sqrt(_EPS)
# Parameters this close to a bound (relative to the bound's scale) are reported as at the bound.
# With the transforms above an optimum outside a bound is approached to ~ftol*(cost/gradient), far
# below this; an interior optimum closer than this to a bound is indistinguishable from one at it.
_AT_BOUND_REL = 1e-6
# Memory budget of one chunk's Jacobian (n_chunk * m * k elements in the iteration Jacobian's precision:
# 4 bytes with jac_dtype=float32). Small chunks keep the model's temporaries (n_chunk * n_lines * m) in
# the L2/L3 caches: on the benchmark problem (600 points, 10 parameters, 1000 spectra, float64
# Jacobians, numpy model code) chunks of 50-100 spectra (2.4-4.8 MB) took 2.2-2.3 s, 200 took 3.4 s
# and 700 took 6.4 s. With the compiled kernels and single-precision Jacobians the 200-level benchmark
# profile (600 points, 7 parameters) took 27-29 ms as one chunk of 200 (3.4 MB), 30-31 ms as two.
_CHUNK_BYTES = 4 * 2**20
# With worker threads (see least_squares_batch): 5,000 benchmark spectra, 2 threads, solver wall time
# 1.40 s with 4 MB chunks, 1.21-1.27 s with 16 MB, 1.34 s with 32 MB (float64 sizes; the 10,000-spectrum
# benchmark map took 0.84-0.89 s in all, whether counted in float32 or float64 sizes).
_THREADED_CHUNK_BYTES = 16 * 2**20
_MIN_CHUNK = 16
# Where a start value sits exactly on a bound (a stationary point of the transform, where lmfit's
# parameter could never move), it is moved to where the transform's gradient is this fraction of its
# maximum: x moves by ~2.5e-5 of the width (two-sided) or 5e-5 (one-sided, lmfit's unit scale).
_START_NUDGE = 1e-2
# Endgame at bounds. With the transforms an optimum outside a bound is approached only asymptotically
# (dx/du -> 0 there): in tests 35-200 evaluations per spectrum (mean ~60) instead of ~15, and lmfit
# stops ~ftol short of the bound. So, once a spectrum's fit has nearly converged (its last accepted
# step reduced the cost by less than _PIN_GAIN, relative), a parameter within _PIN_NEAR of a bound
# (transform gradient below _PIN_NEAR of its maximum) whose cost gradient points out of the box is
# put exactly on the bound, provided that does not increase the cost; there its internal Jacobian
# column is zero and LM leaves it while the others converge at the usual rate. It is released (moved
# just inside) if the gradient turns inwards. Measured effect: the bound test cases in
# tests/test_batch.py went from ~60 to ~27 evaluations per spectrum; poorly seeded fits reached the
# same minimum as without it in 180 of 180 cases. Pinning earlier (during the first, large steps)
# made such fits end in worse local minima 2-3x more often, so it is restricted to the endgame.
# Cost: where a component vanishes (area -> 0, its centre and width then undetermined) lmfit can keep
# fitting noise with a tiny peak; in the benchmark depth profile 3 of 200 such spectra ended with a
# chi-square higher by 1e-4-6e-3 relative (statistically insignificant) than without pinning.
_PIN_NEAR = 0.1
_PIN_GAIN = 1e-3
# Ratio of smallest to largest eigenvalue of the correlation-scaled J^T J below which the covariance
# is declared singular (NaN) instead of reporting meaningless 1e8-sized error bars.
_SINGULAR_RCOND = 1e-12

STATUS_MESSAGES: dict[int, str] = {
    -3: "Non-finite start parameters.",
    -2: "Non-finite Jacobian at the current parameters.",
    -1: "Non-finite residuals at the initial parameters.",
    0: "Improper input: fewer data points than free parameters.",
    1: "Converged: relative reduction of the sum of squares is at most ftol.",
    2: "Converged: relative change of the parameters is at most xtol.",
    3: "Converged: both ftol and xtol satisfied.",
    4: "Converged: residual is orthogonal to the Jacobian columns within gtol.",
    5: "Maximum number of function evaluations (max_nfev) reached.",
    6: "ftol is too small: no further reduction of the sum of squares is possible.",
    7: "xtol is too small: no further improvement of the parameters is possible.",
}


@dataclass
class BatchSolution:
    """Result of :func:`least_squares_batch` for ``n`` spectra, ``m`` points and ``k`` free parameters.

    Attributes
    ----------
    x : ndarray (n, k)
        Best-fit parameters.
    cost : ndarray (n,)
        ``0.5 * sum(residual**2)`` at ``x``.
    success : ndarray (n,) of bool
        True where a convergence test was met (status 1-4).
    nfev : ndarray (n,) of int
        Residual evaluations per spectrum, not counting the finite-difference evaluations made for the
        Jacobian (those are ``njev * k``); ``max_nfev`` bounds this number.
    status : ndarray (n,) of int
        MINPACK-like code: 1 ftol, 2 xtol, 3 both, 4 gtol, 5 max_nfev, 6/7 ftol/xtol below machine
        precision, 0 improper input (m < k), -1 non-finite residuals at the start, -2 non-finite
        Jacobian, -3 non-finite start values. Failed spectra (status <= 0) keep their start values
        and NaN cost/covariance.
    message : list of str
        Human-readable status per spectrum.
    jac : ndarray (n, m, k) or None
        Jacobian of the residuals with respect to the (external) parameters at ``x``; None if
        ``keep_jac=False``. NaN for failed spectra.
    covariance : ndarray (n, k, k)
        ``inv(J.T J) * 2 * cost / (m - k)``; NaN where ``J.T J`` is singular or the fit failed.
    stderr : ndarray (n, k)
        ``sqrt(diag(covariance))``.
    at_bound : ndarray (n, k) of bool
        True where the parameter sits at its lower or upper bound.
    njev : ndarray (n,) of int
        Jacobian evaluations per spectrum (including the final one at the solution).
    """

    x: np.ndarray
    cost: np.ndarray
    success: np.ndarray
    nfev: np.ndarray
    status: np.ndarray
    message: list[str]
    jac: np.ndarray | None
    covariance: np.ndarray
    stderr: np.ndarray
    at_bound: np.ndarray
    njev: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def tune_malloc(top_pad_mb: int = 256) -> bool:
    """Make glibc keep freed memory for reuse instead of returning it to the OS (process-wide).

    numpy allocates every temporary afresh; with glibc's default settings large blocks are returned to
    the OS when freed and page-faulted back (zero-filled) on the next allocation. For batched fitting,
    where a model evaluation makes many 0.3-30 MB temporaries, this doubles the run time: on the
    benchmark (benchmarks/bench_batch.py, 10,000 spectra) the solver ran at 190 spectra/s with the
    defaults and 500 spectra/s after this call (CPU time, same machine). It raises M_MMAP_THRESHOLD to
    64 MB, M_TRIM_THRESHOLD to 2*top_pad and M_TOP_PAD to ``top_pad_mb``; the cost is that up to that
    much freed memory stays with the process. Not called automatically because it changes the
    allocator of the whole process: call it once in an application (CLI, notebook) that fits big
    stacks, or set ``MALLOC_TOP_PAD_`` in the environment instead.

    Returns
    -------
    bool
        True if the settings were applied (False on non-glibc platforms).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3  # from glibc's <malloc.h>
    pad = int(top_pad_mb) * 2**20
    ok = mallopt(m_top_pad, pad) == 1
    ok &= mallopt(m_trim_threshold, 2 * pad) == 1
    ok &= mallopt(m_mmap_threshold, 64 * 2**20) == 1
    return bool(ok)


# --------------------------------------------------------------------------------------------------
# MINUIT-style bound transforms (identical to lmfit.Parameter.setup_bounds / scale_gradient)
# --------------------------------------------------------------------------------------------------
_FREE, _LOWER, _UPPER, _BOTH = 0, 1, 2, 3


class _Bounds:
    """Vectorised external <-> internal transforms for an (n, k) block of parameters."""

    def __init__(self, lower: np.ndarray, upper: np.ndarray) -> None:
        self.lower = lower
        self.upper = upper
        has_lo = np.isfinite(lower)
        has_hi = np.isfinite(upper)
        self.kind = np.where(has_lo & has_hi, _BOTH, np.where(has_lo, _LOWER, np.where(has_hi, _UPPER, _FREE)))
        # Finite stand-ins so that the unused branches of np.where stay finite (no warnings, no NaN).
        self.lo = np.where(has_lo, lower, 0.0)
        self.hi = np.where(has_hi, upper, 0.0)
        self.half_width = np.where(has_lo & has_hi, 0.5 * (self.hi - self.lo), 1.0)

    def subset(self, idx: np.ndarray) -> _Bounds:
        return _Bounds(self.lower[idx], self.upper[idx])

    def to_internal(self, x: np.ndarray) -> np.ndarray:
        kind = self.kind
        x = np.clip(x, self.lower, self.upper)  # lmfit clips out-of-bound start values the same way
        with np.errstate(invalid="ignore"):
            u_both = np.arcsin(np.clip((x - self.lo) / self.half_width - 1.0, -1.0, 1.0))
            u_low = np.sqrt(np.maximum((x - self.lo + 1.0) ** 2 - 1.0, 0.0))
            u_up = np.sqrt(np.maximum((self.hi - x + 1.0) ** 2 - 1.0, 0.0))
        u = np.where(kind == _BOTH, u_both, np.where(kind == _LOWER, u_low, np.where(kind == _UPPER, u_up, x)))
        # A start exactly on a bound is a stationary point of the transform (zero gradient): the
        # parameter could never move (lmfit's does not). Nudge it just inside (see _START_NUDGE).
        nudge = _START_NUDGE
        on_two = (kind == _BOTH) & (np.abs(u_both) > 0.5 * np.pi - nudge)
        u = np.where(on_two, np.sign(u_both) * (0.5 * np.pi - nudge), u)
        on_one = ((kind == _LOWER) | (kind == _UPPER)) & (np.abs(u) < nudge)
        return np.where(on_one, nudge, u)

    def to_external(self, u: np.ndarray, sel: np.ndarray | None = None) -> np.ndarray:
        """x(u) for all rows, or for rows ``sel`` of this block when given."""
        kind, lo, hi, hw, lower, upper = self._rows(sel)
        root = np.sqrt(u * u + 1.0)
        x = np.where(
            kind == _BOTH,
            lo + (np.sin(u) + 1.0) * hw,
            np.where(kind == _LOWER, lo - 1.0 + root, np.where(kind == _UPPER, hi + 1.0 - root, u)),
        )
        # Rounding can put lo + (sin+1)*hw a few ulps outside; the model must never see that.
        return np.clip(x, lower, upper)

    def gradient(self, u: np.ndarray, sel: np.ndarray | None = None) -> np.ndarray:
        """dx/du (lmfit's ``scale_gradient``), for all rows or rows ``sel``."""
        kind, _, _, hw, _, _ = self._rows(sel)
        root = np.sqrt(u * u + 1.0)
        # cos(pi/2) is 6e-17 in floating point; on the bound the gradient must be exactly zero.
        cos_u = np.where(np.abs(u) == 0.5 * np.pi, 0.0, np.cos(u))
        return np.where(
            kind == _BOTH,
            cos_u * hw,
            np.where(kind == _LOWER, u / root, np.where(kind == _UPPER, -u / root, 1.0)),
        )

    def bound_geometry(self, u: np.ndarray, sel: np.ndarray) -> tuple[np.ndarray, ...]:
        """Where each parameter stands relative to the singular points of its transform.

        Returns ``near`` (transform gradient below ``_PIN_NEAR`` of its maximum: ``x`` within ~2.5e-5
        of the width of a two-sided bound, or 5e-5 of a one-sided one), ``on`` (exactly at the
        singular point, i.e. on the bound), ``upper_side`` (the near bound is the upper one),
        ``u_bound`` (internal value putting ``x`` exactly on that bound) and ``u_inside`` (internal
        value just inside it, as for start values on a bound).
        """
        kind = self.kind[sel]
        both = kind == _BOTH
        one = (kind == _LOWER) | (kind == _UPPER)
        half_pi = 0.5 * np.pi
        sign = np.where(u >= 0.0, 1.0, -1.0)
        dist = np.where(both, half_pi - np.abs(u), np.where(one, np.abs(u), np.inf))
        near = dist <= _PIN_NEAR
        on = dist == 0.0
        upper_side = np.where(both, u > 0.0, kind == _UPPER)
        u_bound = np.where(both, sign * half_pi, 0.0)
        u_inside = np.where(both, sign * (half_pi - _START_NUDGE), _START_NUDGE)
        return near, on, upper_side, u_bound, u_inside

    def _rows(self, sel: np.ndarray | None) -> tuple[np.ndarray, ...]:
        arrays = (self.kind, self.lo, self.hi, self.half_width, self.lower, self.upper)
        return arrays if sel is None else tuple(arr[sel] for arr in arrays)

    def at_bound(self, x: np.ndarray) -> np.ndarray:
        width = self.hi - self.lo
        scale_lo = np.where(self.kind == _BOTH, width, np.maximum(np.abs(self.lo), 1.0))
        scale_hi = np.where(self.kind == _BOTH, width, np.maximum(np.abs(self.hi), 1.0))
        near_lo = np.isfinite(self.lower) & (x - self.lo <= _AT_BOUND_REL * scale_lo)
        near_hi = np.isfinite(self.upper) & (self.hi - x <= _AT_BOUND_REL * scale_hi)
        return near_lo | near_hi


# --------------------------------------------------------------------------------------------------
# Calling the user's functions on subsets of spectra
# --------------------------------------------------------------------------------------------------
def _accepts_rows(func: Callable | None) -> bool:
    if func is None:
        return False
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return "rows" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


class _Problem:
    """Evaluates residuals/Jacobians for a subset of the n spectra, with or without ``rows`` support."""

    def __init__(
        self,
        fun: Callable,
        jac: Callable | None,
        p_fill: np.ndarray,
        n_points: int | None,
        jac_dtype: type = np.float64,
    ) -> None:
        self.fun = fun
        self.jac = jac
        self.normal = None  # optional normal-equations function (see least_squares_batch)
        # precision asked of `jac` while iterating (its `dtype` keyword); the final Jacobian is float64
        self.jac_dtype = np.dtype(jac_dtype)
        self.fun_rows = _accepts_rows(fun)
        self.jac_rows = _accepts_rows(jac)
        self.p_fill = p_fill  # valid parameters for rows that are not being evaluated
        self.n, self.k = p_fill.shape
        self.m = n_points
        typical = np.median(np.abs(p_fill), axis=0)
        self.typx = np.where(typical > 0.0, typical, 1.0)  # (k,) scale floor of the FD steps

    def _full(self, p_sub: np.ndarray, rows: np.ndarray) -> np.ndarray:
        p_full = self.p_fill.copy()
        p_full[rows] = p_sub
        return p_full

    def residuals(self, p_sub: np.ndarray, rows: np.ndarray) -> np.ndarray:
        if self.fun_rows:
            r = self.fun(p_sub, rows=rows)
        else:
            r = self.fun(self._full(p_sub, rows))
        r = np.asarray(r, dtype=np.float64)
        expected_rows = len(rows) if self.fun_rows else self.n
        if r.ndim != 2 or r.shape[0] != expected_rows or (self.m is not None and r.shape[1] != self.m):
            raise FitError(
                f"residual function returned shape {r.shape}; expected ({expected_rows}, "
                f"{self.m if self.m is not None else 'n_points'}) for parameters of shape {p_sub.shape}"
            )
        if self.m is None:
            self.m = r.shape[1]
        return r if self.fun_rows else r[rows]

    def analytic_jacobian(self, p_sub: np.ndarray, rows: np.ndarray, final: bool = False) -> np.ndarray:
        kwargs = {}
        if not final and self.jac_dtype != np.float64:
            kwargs["dtype"] = self.jac_dtype.type
        if self.jac_rows:
            J = self.jac(p_sub, rows=rows, **kwargs)
        else:
            J = self.jac(self._full(p_sub, rows), **kwargs)
        J = np.asarray(J)
        if J.dtype != np.float32 or final:  # single precision is kept (the solver asked for it)
            J = np.asarray(J, dtype=np.float64)
        expected = (len(rows) if self.jac_rows else self.n, self.m, self.k)
        if J.shape != expected:
            raise FitError(f"jac returned shape {J.shape}; expected {expected}")
        return J if self.jac_rows else J[rows]

    def normal_equations(
        self, p_sub: np.ndarray, r_sub: np.ndarray, rows: np.ndarray, upper: np.ndarray, final: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """External J^T J (n_rows, k, k), J^T r (n_rows, k) and the transposed Jacobian it came from (None
        where the ``normal`` function made them without storing it)."""
        if self.normal is not None:
            dtype = np.float64 if final else self.jac_dtype.type
            found = self.normal(p_sub, r_sub, rows=rows, dtype=dtype)
            if found is not None:
                A, g = (np.asarray(v, dtype=np.float64) for v in found)
                if A.shape != (len(rows), self.k, self.k) or g.shape != (len(rows), self.k):
                    raise FitError(
                        f"normal returned shapes {A.shape}, {g.shape}; expected ({len(rows)}, {self.k}, ...)"
                    )
                return A, g, None
        Jt = self.jacobian(p_sub, r_sub, rows, upper, final)
        A, g = _normal(Jt, r_sub)
        return A, g, Jt

    def jacobian(
        self, p_sub: np.ndarray, r_sub: np.ndarray, rows: np.ndarray, upper: np.ndarray, final: bool = False
    ) -> np.ndarray:
        """External Jacobian, transposed: (len(rows), k, m), analytic or batched forward differences.

        Analytic Jacobians may come in single precision while iterating (``jac_dtype``); with
        ``final=True`` (at the solution, for the covariance) it is always double precision.

        Parameter-major layout: each finite-difference column is then one contiguous block (written
        once, scaled in place), and J^T J / J^T r are plain batched matrix products.
        """
        if self.jac is not None:
            return self.analytic_jacobian(p_sub, rows, final).transpose(0, 2, 1)
        Jt = np.empty((len(rows), self.k, self.m))
        for j in range(self.k):  # k batched calls; the loop is over parameters, never over spectra
            h = _FD_REL_STEP * np.maximum(np.abs(p_sub[:, j]), self.typx[j])
            # Step backwards where a forward step would leave the feasible region.
            h = np.where(p_sub[:, j] + h > upper[:, j], -h, h)
            p_step = p_sub.copy()
            p_step[:, j] += h
            h = p_step[:, j] - p_sub[:, j]  # the step actually taken (exact in floating point)
            column = Jt[:, j, :]
            np.subtract(self.residuals(p_step, rows), r_sub, out=column)
            column *= (1.0 / h)[:, None]
        return Jt


# --------------------------------------------------------------------------------------------------
# The solver
# --------------------------------------------------------------------------------------------------
def _as_batch(name: str, a: np.ndarray | float, shape: tuple[int, int] | None) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if shape is None:
        if arr.ndim != 2:
            raise FitError(f"{name} must be a 2-D (n_spectra, n_free) array, got shape {arr.shape}")
        return arr.copy()
    try:
        return np.broadcast_to(arr, shape).copy()
    except ValueError:
        raise FitError(f"{name} of shape {arr.shape} does not match p0 of shape {shape}") from None


def least_squares_batch(
    fun: Callable[..., np.ndarray],
    p0: np.ndarray,
    lower: np.ndarray | float = -np.inf,
    upper: np.ndarray | float = np.inf,
    *,
    jac: Callable[..., np.ndarray] | None = None,
    max_nfev: int = 200,
    xtol: float = 1e-10,
    ftol: float = 1e-10,
    gtol: float = 1e-10,
    chunk_size: int | None = None,
    keep_jac: bool = True,
    workers: int = 1,
    jac_dtype: type = np.float64,
    normal: Callable[..., tuple[np.ndarray, np.ndarray] | None] | None = None,
) -> BatchSolution:
    """Fit ``n`` independent bounded non-linear least-squares problems at once (Levenberg–Marquardt).

    Parameters
    ----------
    fun
        ``fun(P) -> R``: ``P`` is ``(n_rows, k)``, ``R`` the ``(n_rows, m)`` weighted residuals. If it
        accepts a keyword ``rows`` (indices into the ``n`` spectra, one per row of ``P``), only active
        spectra are evaluated and the batch is processed in chunks; otherwise every call gets all ``n``.
    p0, lower, upper
        ``(n, k)`` start values and bounds (``lower``/``upper`` broadcast; ``±inf`` for none). Start values
        outside the bounds are clipped, as lmfit does.
    jac
        Optional analytic Jacobian ``jac(P) -> (n_rows, m, k)`` of the residuals with respect to ``P``
        (same ``rows`` convention). Default: batched forward differences, step ``sqrt(eps) * |p|``.
    max_nfev
        Maximum residual evaluations per spectrum (finite-difference evaluations not counted).
    xtol, ftol, gtol
        MINPACK stopping tolerances: relative scaled step, relative reduction of the sum of squares,
        cosine between residual and Jacobian columns.
    chunk_size
        Spectra per chunk (needs ``rows`` support). Default: as many as keep one chunk's Jacobian
        within ~4 MB (cache-friendly; ~87 spectra for 600 points and 10 parameters in double precision).
    workers
        Threads solving chunks concurrently (numpy releases the GIL in its array loops, so 2 threads
        on 2 cores give up to ~2x on big chunks; on chunks of a hundred or so spectra the threads'
        many small numpy calls contend for the GIL and one thread can be faster). ``fun``/``jac``/
        ``normal`` must then be thread-safe (pure numpy functions of their arguments are). Default 1.
    keep_jac
        Return the ``(n, m, k)`` Jacobian at the solution (may be large: 10,000 x 600 x 10 is 480 MB).
    jac_dtype
        ``np.float32``: while iterating, call ``jac(P, ..., dtype=np.float32)`` (``jac`` must accept the
        keyword) and form J^T J and J^T r in single precision (roughly halves their cost; the residuals,
        costs, steps and stopping tests stay double precision, so the fixed point is the same to the
        Jacobian's ~1e-7 relative accuracy times the parameters' errors). The Jacobian at the solution
        (covariance, ``jac``) is always computed in double precision. Default ``np.float64``.

    normal
        Optional ``normal(P, r, rows=..., dtype=...) -> (JtJ, Jtr)``: the normal equations of the
        residuals' Jacobian at ``P`` (what ``jac`` would give, multiplied out: ``(n_rows, k, k)`` and
        ``(n_rows, k)`` in double precision), with ``r`` the residuals at ``P``; ``dtype`` is the
        Jacobian's precision as for ``jac``. Used instead of ``jac`` and the products where given (a
        function that never stores the Jacobian saves its memory traffic); it may return None to leave
        a call to ``jac``. ``jac`` is still used for ``keep_jac``.

    Returns
    -------
    BatchSolution

    Raises
    ------
    FitError
        On inconsistent shapes, ``lower >= upper``, or a residual function returning the wrong shape.
        Bad data never raises: a spectrum whose residuals are not finite at the start fails alone
        (status -1); mask NaN data points (zero weight) beforehand if the rest should be fitted.

    Examples
    --------
    Two Gaussians on a stack of spectra ``y`` (n, m) on the axis ``x`` (m,) with uncertainties
    ``sigma`` (n, m); the residual function takes ``rows`` so that only unconverged spectra are
    evaluated, chunk by chunk::

        def residuals(P, rows):
            a, c, w, b, d, v = (P[:, i : i + 1] for i in range(6))
            model = a * np.exp(-0.5 * ((x - c) / w) ** 2) + b * np.exp(-0.5 * ((x - d) / v) ** 2)
            return (model - y[rows]) / sigma[rows]

        lower = [0, 160, 0.1, 0, 162, 0.1]
        upper = [np.inf, 162, 3, np.inf, 165, 3]
        sol = least_squares_batch(residuals, p0, lower, upper)  # p0: (n, 6)
        sol.x, sol.stderr, sol.success, sol.at_bound
    """
    p0 = _as_batch("p0", p0, None)
    n, k = p0.shape
    lower = _as_batch("lower", lower, (n, k))
    upper = _as_batch("upper", upper, (n, k))
    if np.any(np.isnan(lower) | np.isnan(upper)):
        raise FitError("bounds must not be NaN (use -inf/inf for no bound)")
    if np.any(lower >= upper):
        bad = np.argwhere(lower >= upper)[0]
        raise FitError(
            f"lower bound must be below upper bound (spectrum {bad[0]}, parameter {bad[1]}: "
            f"{lower[tuple(bad)]} >= {upper[tuple(bad)]}); fix such parameters instead of bounding them"
        )
    if workers < 1:
        raise FitError(f"workers must be >= 1, got {workers}")
    if max_nfev < 1:
        raise FitError(f"max_nfev must be >= 1, got {max_nfev}")
    if k == 0:
        raise FitError("no free parameters to fit")

    bounds = _Bounds(lower, upper)
    # A spectrum without finite start values (e.g. an automatic guess on an empty spectrum) fails on
    # its own (status -3); it is evaluated at a valid stand-in point only so that the batch call works.
    bad_start = ~np.isfinite(p0).all(axis=1)
    stand_in = np.clip(0.0, np.where(np.isfinite(lower), lower, -1.0), np.where(np.isfinite(upper), upper, 1.0))
    x_start = bounds.to_external(bounds.to_internal(np.where(np.isfinite(p0), p0, stand_in)))
    if np.dtype(jac_dtype) not in (np.float32, np.float64):
        raise FitError(f"jac_dtype must be float32 or float64, not {jac_dtype!r}")
    problem = _Problem(fun, jac, x_start, None, jac_dtype if jac is not None or normal is not None else np.float64)
    if normal is not None and _accepts_rows(normal):
        problem.normal = normal
    elif normal is not None:
        raise FitError("normal must accept the keyword rows (it is called on subsets of the spectra)")

    # The start residuals are evaluation number 1 of every spectrum. With `rows` support each chunk
    # evaluates its own (in the worker threads); one spectrum is evaluated here to learn m.
    all_rows = np.arange(n)
    if problem.fun_rows:
        r_first = problem.residuals(x_start[:1], all_rows[:1])  # reused as spectrum 0's start residuals
        r0 = None
    else:
        r0 = problem.residuals(x_start, all_rows)
    m = problem.m

    def start_residuals(rows: np.ndarray) -> np.ndarray:
        if r0 is not None:
            r = r0[rows]
        elif rows[0] == 0:
            r = np.concatenate([r_first, problem.residuals(x_start[rows[1:]], rows[1:])]) if rows.size > 1 else r_first
        else:
            r = problem.residuals(x_start[rows], rows)
        r[bad_start[rows]] = np.nan
        return r

    out_x = x_start.copy()
    out_cost = np.full(n, np.nan)
    out_status = np.zeros(n, dtype=np.int64)
    out_nfev = np.ones(n, dtype=np.int64)
    out_njev = np.zeros(n, dtype=np.int64)
    out_jac = np.full((n, m, k), np.nan) if keep_jac else None
    out_cov = np.full((n, k, k), np.nan)

    if m < k:
        r_all = start_residuals(all_rows)
        out_cost[:] = 0.5 * np.sum(r_all * r_all, axis=1)
        out_status[bad_start] = -3
        return _assemble(bounds, out_x, out_cost, out_status, out_nfev, out_njev, out_jac, out_cov)

    both_rows = problem.fun_rows and (jac is None or problem.jac_rows)
    if not both_rows:
        chunk = n  # without `rows` every evaluation covers all n spectra anyway
    elif chunk_size is not None:
        chunk = max(1, int(chunk_size))
    else:
        # the byte budgets count the iteration Jacobian in the precision it is computed in
        item = np.dtype(problem.jac_dtype).itemsize
        chunk = max(_MIN_CHUNK, _CHUNK_BYTES // (item * m * k))
        if workers > 1:
            # threads share the GIL: the many small per-iteration operations of a chunk contend for it,
            # so fewer, larger chunks overlap better; as many chunks per thread as the size limit
            # needs, all of one size (no short last chunk leaving a thread idle)
            big = max(_MIN_CHUNK, _THREADED_CHUNK_BYTES // (item * m * k))
            n_chunks = workers * -(-n // (workers * big))
            chunk = max(_MIN_CHUNK, -(-n // n_chunks))

    outputs = (out_x, out_cost, out_status, out_nfev, out_njev, out_jac, out_cov)

    def solve(start: int) -> None:  # chunks write disjoint rows of the outputs: safe to run in threads
        rows = all_rows[start : start + chunk]
        tols = {"max_nfev": max_nfev, "xtol": xtol, "ftol": ftol, "gtol": gtol}
        _solve_chunk(problem, bounds.subset(rows), rows, start_residuals(rows), out=outputs, **tols)

    starts = range(0, n, chunk)
    if workers > 1 and len(starts) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(solve, starts))  # list(): re-raises the first exception of any chunk
    else:
        for start in starts:
            solve(start)
    out_status[bad_start] = -3
    return _assemble(bounds, out_x, out_cost, out_status, out_nfev, out_njev, out_jac, out_cov)


def _assemble(bounds, x, cost, status, nfev, njev, jac, cov) -> BatchSolution:
    success = (status >= 1) & (status <= 4)
    with np.errstate(invalid="ignore"):
        stderr = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    return BatchSolution(
        x=x,
        cost=cost,
        success=success,
        nfev=nfev,
        status=status,
        message=[STATUS_MESSAGES[int(s)] for s in status],
        jac=jac,
        covariance=cov,
        stderr=stderr,
        at_bound=bounds.at_bound(x) & np.isfinite(x),
        njev=njev,
    )


def _eigh(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Batched symmetric eigen-decomposition: the compiled Jacobi kernel for small finite matrices
    (1.1 against numpy's 3.6 µs per 7 x 7 matrix, see specfit/_ckernels.c), else ``numpy.linalg.eigh``."""
    lib = _fast.library()
    if lib is not None and 0 < M.shape[-1] <= _fast.SYM_EIG_MAX_K and len(M) and np.isfinite(M).all():
        found = _fast.eigh(lib, M)
        if found is not None:
            return found
    return np.linalg.eigh(M)


def _decompose(A: np.ndarray, g: np.ndarray, D: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eigen-decomposition of the scaled normal equations, for closed-form LM steps at any damping.

    In the scaled variables ``y = D*delta`` the LM step is ``y(lam) = (M + lam*I)^-1 b`` with
    ``M = D^-1 A D^-1`` (unit-sized diagonal: well conditioned when parameters differ by 1e6 in scale)
    and ``b = -D^-1 g``. With ``M = V diag(w) V^T``, ``||y(lam)||^2 = sum((V^T b)_i^2 / (w_i + lam)^2)``,
    so the damping that puts the step on the trust-region radius (MINPACK's lmpar) is found by a
    vectorised Newton iteration without further matrix solves: one batched ``eigh`` per Jacobian
    instead of a ``solve`` per damping trial. Returns ``w`` (clipped at 0), ``V`` and ``beta = V^T b``;
    the step is ``V (beta / (w + lam))``.
    """
    inv_d = 1.0 / D
    M = A * inv_d[:, :, None] * inv_d[:, None, :]
    b = -(g * inv_d)
    # An exactly zero Jacobian column (a parameter on a bound, where dx/du = 0, or one without effect)
    # must get an exactly zero step, as MINPACK's pivoted QR gives it. Its row and column of M are
    # zero; a unit diagonal makes e_j an exact eigenvector with b_j = 0, so eigh cannot mix it with
    # other (near-)flat directions.
    idx = np.arange(A.shape[1])
    zero_col = np.diagonal(A, axis1=1, axis2=2) == 0.0
    M[:, idx, idx] = np.where(zero_col, 1.0, M[:, idx, idx])
    w, V = _eigh(M)
    beta = np.einsum("ikl,ik->il", V, b)
    # Rounding gives tiny negative eigenvalues for singular M: those directions are flat.
    w = np.maximum(w, 0.0)
    return w, V, beta


def _trust_region_step(w: np.ndarray, beta: np.ndarray, radius: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Damping ``lam`` (n,) and rotated scaled step ``z = beta / (w + lam)`` (n, k) with ||z|| <= radius.

    MINPACK lmpar's acceptance rule: the Gauss–Newton step (lam = 0) if it is within 1.1*radius,
    otherwise lam such that | ||z|| - radius | <= 0.1*radius, found by Newton's method on
    1/radius - 1/||z(lam)|| (nearly linear in lam, so it converges in a few iterations from below).
    """
    w_max = np.maximum(w[:, -1], np.finfo(np.float64).tiny)
    # Directions with (numerically) zero curvature and non-zero gradient make the GN step infinite.
    flat = w <= _EPS * w.shape[1] * w_max[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        z0 = np.where(flat, np.where(beta == 0.0, 0.0, np.inf), beta / np.where(flat, 1.0, w))
    norm0 = np.sqrt(np.sum(z0 * z0, axis=1))
    lam = np.zeros(len(w))
    need = ~(norm0 <= 1.1 * radius)
    if need.any():
        wn, bn = w[need], beta[need]
        rn = np.maximum(radius[need], np.finfo(np.float64).tiny)
        b2 = bn * bn
        # Start from below the root: lam = 0 or a tiny positive value where M is singular.
        lam_n = np.where(np.isfinite(norm0[need]), 0.0, 1e-12 * w_max[need])
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for _ in range(60):  # converges in < 10 iterations in practice; bounded for safety
                denom = wn + lam_n[:, None]
                # zero-gradient directions contribute nothing, even where their curvature is 0 too
                inv = np.where(b2 > 0.0, 1.0 / denom, 0.0)
                norm = np.sqrt(np.sum(b2 * inv**2, axis=1))
                done = np.abs(norm - rn) <= 0.1 * rn
                if done.all():
                    break
                dnorm = -np.sum(b2 * inv**3, axis=1) / norm  # d||z||/dlam
                phi = 1.0 / rn - 1.0 / norm
                dphi = dnorm / norm**2
                newton = lam_n - phi / dphi
                lam_n = np.where(done | ~np.isfinite(newton), lam_n, np.maximum(newton, 0.5 * lam_n))
        lam[need] = lam_n
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(lam[:, None] > 0.0, beta / (w + lam[:, None]), z0)
    z[~np.isfinite(z)] = 0.0
    return lam, z


def _normal(Jt: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """J^T J (n,k,k) and J^T r (n,k) from the transposed Jacobian Jt (n,k,m), in double precision.

    A single-precision Jacobian gives single-precision J^T J (no double-precision copy of J). With the
    compiled kernels (specfit/_ckernels.c, ``normal_f32``/``normal_f64``): 0.19 against einsum's 0.44 ms
    per 100-spectrum chunk of 7 x 600 single-precision Jacobians, 0.36 against 0.79 ms in double
    precision, J^T r accumulated in double precision.
    """
    lib = _fast.library()
    if lib is not None and Jt.dtype in (np.float32, np.float64) and Jt.flags.c_contiguous:
        return _fast.normal(lib, Jt, np.ascontiguousarray(r, dtype=np.float64))
    if Jt.dtype == np.float32:
        # einsum, not batched matmul: for these (k x m) @ (m x k) stacks numpy's own loop took 0.35 ms
        # per 87-spectrum chunk against 0.58 ms through OpenBLAS (one sgemm call per spectrum), and it
        # releases the GIL, so the solver's threads overlap
        A = np.einsum("nkm,nlm->nkl", Jt, Jt).astype(np.float64)
        return A, np.einsum("nkm,nm->nk", Jt, r.astype(np.float32)).astype(np.float64)
    return Jt @ Jt.transpose(0, 2, 1), (Jt @ r[:, :, None])[:, :, 0]


def _covariance(A: np.ndarray, cost: np.ndarray, dof: int) -> np.ndarray:
    """inv(A) * 2 cost / dof for A = J^T J, NaN where singular (batched eigh: never raises)."""
    d = np.sqrt(np.diagonal(A, axis1=1, axis2=2))
    singular = np.any(d == 0.0, axis=1)
    d_safe = np.where(d == 0.0, 1.0, d)
    C = A / d_safe[:, :, None] / d_safe[:, None, :]  # correlation-scaled: unit diagonal
    w, V = _eigh(C)
    singular |= w[:, 0] <= _SINGULAR_RCOND * w[:, -1]
    w_safe = np.where(w > 0, w, 1.0)
    Cinv = (V / w_safe[:, None, :]) @ V.transpose(0, 2, 1)
    cov = Cinv / d_safe[:, :, None] / d_safe[:, None, :]
    cov *= (2.0 * cost / dof)[:, None, None]
    cov[singular] = np.nan
    return cov


def _pin_to_bounds(problem, bounds, rows, jrows, grad_ext, u, x, r, cost, nfev, max_nfev, last_gain, released):
    """Put near-converged parameters that push against a bound exactly on it (see _PIN_GAIN).

    ``grad_ext`` is J_ext^T r (the cost gradient in external parameters) of the spectra ``jrows``,
    whose Jacobian was just evaluated; that Jacobian stays valid to first order (x moves < 1e-3 of a
    width). Updates u, x, r, cost, nfev, released in place; returns the mask (over ``jrows``) of the
    spectra whose point moved.
    """
    near, on, upper_side, u_bound, u_inside = bounds.bound_geometry(u[jrows], jrows)
    outward = np.where(upper_side, grad_ext < 0.0, grad_ext > 0.0)
    budget = (nfev[jrows] < max_nfev)[:, None]
    late = (last_gain[jrows] < _PIN_GAIN)[:, None]
    pin = near & ~on & outward & late & budget & ~released[jrows]
    release = on & ~outward & (grad_ext != 0.0) & budget
    moved = (pin | release).any(axis=1)
    if not moved.any():
        return moved
    sel = jrows[moved]
    pin, release = pin[moved], release[moved]
    u_new = np.where(pin, u_bound[moved], np.where(release, u_inside[moved], u[sel]))
    x_new = bounds.to_external(u_new, sel)
    r_new = problem.residuals(x_new, rows[sel])
    nfev[sel] += 1
    cost_new = 0.5 * np.einsum("ij,ij->i", r_new, r_new)
    ok = cost_new <= cost[sel]  # False for NaN too
    released[sel] |= release | (pin & ~ok[:, None])  # a pin that did not pay off is not retried
    take = sel[ok]
    u[take], x[take], r[take], cost[take] = u_new[ok], x_new[ok], r_new[ok], cost_new[ok]
    moved[np.flatnonzero(moved)[~ok]] = False
    return moved


def _solve_chunk(problem: _Problem, bounds: _Bounds, rows: np.ndarray, r_start: np.ndarray, *, max_nfev, xtol, ftol,
                 gtol, out) -> None:  # fmt: skip
    """MINPACK lmder/lmdif (Moré 1977) trust-region Levenberg–Marquardt, vectorised over spectra.

    Every spectrum carries MINPACK's state (scaling D, trust radius, counters) and follows MINPACK's
    rules for the radius update and the stopping tests, so that its path stays close to lmfit's
    (which calls MINPACK through scipy.optimize.leastsq). An iteration evaluates the Jacobian only for
    spectra whose point moved and one trial point for every active spectrum.
    """
    out_x, out_cost, out_status, out_nfev, out_njev, out_jac, out_cov = out
    nc, k, m = len(rows), problem.k, problem.m

    u = bounds.to_internal(out_x[rows])
    x = bounds.to_external(u)
    r = r_start.copy()
    cost = 0.5 * np.einsum("ij,ij->i", r, r)  # = fnorm^2 / 2 in MINPACK's notation
    status = np.zeros(nc, dtype=np.int64)
    nfev = np.ones(nc, dtype=np.int64)
    njev = np.zeros(nc, dtype=np.int64)

    status[~np.isfinite(cost)] = -1
    active = status == 0

    D = np.zeros((nc, k))  # MINPACK mode-1 scaling: running maximum of the Jacobian column norms
    radius = np.zeros(nc)  # trust-region radius (MINPACK's delta), in the scaled variables
    first = np.ones(nc, dtype=bool)  # before the first accepted/rejected trial
    A = np.zeros((nc, k, k))  # J_int^T J_int at the current point
    g = np.zeros((nc, k))  # J_int^T r at the current point
    w = np.zeros((nc, k))  # eigen-decomposition of the scaled normal matrix (see _decompose)
    V = np.zeros((nc, k, k))
    beta = np.zeros((nc, k))
    need_jac = active.copy()  # Jacobian stale (the point moved): recompute before the next trial
    need_eig = np.zeros(nc, dtype=bool)
    last_gain = np.ones(nc)  # relative cost reduction of the last accepted step
    released = np.zeros((nc, k), dtype=bool)  # released from a bound once: never pinned again

    while True:
        # ---- Jacobian for spectra whose point moved ------------------------------------------------
        jrows = np.flatnonzero(active & need_jac)
        if len(jrows):
            # external J^T J and J^T r (Jt: the Jacobian they came from, or None if it was not stored)
            A_ext, g_ext, Jt = problem.normal_equations(x[jrows], r[jrows], rows[jrows], bounds.upper[jrows])
            njev[jrows] += 1
            # Non-finite Jacobian entries propagate into J^T J / J^T r (a cheap k x k check).
            bad = ~(np.isfinite(A_ext).all(axis=(1, 2)) & np.isfinite(g_ext).all(axis=1))
            if bad.any():
                status[jrows[bad]] = -2
                active[jrows[bad]] = False
                jrows, A_ext, g_ext = jrows[~bad], A_ext[~bad], g_ext[~bad]
                Jt = None if Jt is None else Jt[~bad]
            if _PIN_GAIN > 0.0:
                moved = _pin_to_bounds(
                    problem, bounds, rows, jrows, g_ext, u, x, r, cost, nfev, max_nfev, last_gain, released
                )
                if moved.any() and Jt is not None:  # residuals changed there: J^T r again (J itself still holds)
                    g_ext[moved] = (Jt[moved] @ r[jrows[moved], :, None].astype(Jt.dtype))[:, :, 0]
                elif moved.any():  # no stored Jacobian: the normal equations at the moved point
                    mv = jrows[moved]
                    A_ext[moved], g_ext[moved], _ = problem.normal_equations(x[mv], r[mv], rows[mv], bounds.upper[mv])
                    njev[mv] += 1
            del Jt
            # Chain rule to the internal variables on the small matrices: J_int = J_ext diag(dx/du).
            gfac = bounds.gradient(u[jrows], jrows)
            A_new = A_ext * gfac[:, :, None] * gfac[:, None, :]
            g_new = g_ext * gfac
            A[jrows], g[jrows] = A_new, g_new
            need_jac[jrows] = False
            need_eig[jrows] = True
            col_norm = np.sqrt(np.diagonal(A_new, axis1=1, axis2=2))
            fj = first[jrows]
            D_new = np.where(fj[:, None], col_norm, np.maximum(D[jrows], col_norm))
            D_new[D_new == 0.0] = 1.0  # MINPACK: a zero column gets unit scale
            D[jrows] = D_new
            # Initial radius: factor (100) times the scaled norm of the start point (MINPACK).
            x_norm = np.linalg.norm(D_new * u[jrows], axis=1)
            radius[jrows] = np.where(fj, np.where(x_norm > 0.0, 100.0 * x_norm, 100.0), radius[jrows])
            # gtol: max |cos| between residual vector and Jacobian columns (zero residual -> converged).
            rnorm = np.sqrt(2.0 * cost[jrows])
            with np.errstate(invalid="ignore", divide="ignore"):
                cosines = np.abs(g_new) / (col_norm * rnorm[:, None])
            cosines[col_norm == 0.0] = 0.0
            gmax = np.where(rnorm == 0.0, 0.0, np.max(cosines, axis=1))
            done = gmax <= gtol
            status[jrows[done]] = 4
            active[jrows[done]] = False

        # ---- evaluation budget --------------------------------------------------------------------
        out_of_budget = active & (nfev >= max_nfev)
        status[out_of_budget] = 5
        active &= ~out_of_budget

        a = np.flatnonzero(active)
        if len(a) == 0:
            break

        # ---- decomposition where the normal equations (or the forced components) changed -----------
        e = a[need_eig[a]]
        if len(e):
            w[e], V[e], beta[e] = _decompose(A[e], g[e], D[e])
            need_eig[e] = False

        # ---- one trust-region trial step for every active spectrum ---------------------------------
        lam, z = _trust_region_step(w[a], beta[a], radius[a])
        y = np.einsum("ikl,il->ik", V[a], z)
        step_norm = np.linalg.norm(y, axis=1)  # MINPACK's pnorm
        fa_first = first[a]
        radius[a] = np.where(fa_first, np.minimum(radius[a], step_norm), radius[a])
        first[a] = False
        delta = y / D[a]
        u_trial = u[a] + delta
        x_trial = bounds.to_external(u_trial, a)
        r_trial = problem.residuals(x_trial, rows[a])
        nfev[a] += 1
        cost_trial = 0.5 * np.einsum("ij,ij->i", r_trial, r_trial)

        # Relative reductions as in MINPACK: actred = 1 - (fnorm1/fnorm)^2; prered from the linear
        # model, -(2 delta.g + delta.A.delta)/fnorm^2; dirder = 2 delta.g / fnorm^2.
        c = cost[a]
        finite_trial = np.isfinite(cost_trial)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            dg = np.einsum("ik,ik->i", delta, g[a])
            dAd = np.einsum("ik,ikl,il->i", delta, A[a], delta)
            predicted = -(dg + 0.5 * dAd) / c
            dirder = 0.5 * dg / c
            actual = np.where(finite_trial & (0.1 * np.sqrt(cost_trial) < np.sqrt(c)), 1.0 - cost_trial / c, -1.0)
            ratio = np.where(predicted != 0.0, actual / predicted, 0.0)
        accept = ratio >= 1e-4

        # ---- trust-region update (MINPACK lmdif) ----------------------------------------------------
        rad = radius[a]
        with np.errstate(invalid="ignore", divide="ignore"):
            temp = np.where(actual >= 0.0, 0.5, 0.5 * dirder / (dirder + 0.5 * actual))
        too_bad = ~(finite_trial & (0.1 * np.sqrt(cost_trial) < np.sqrt(c))) | ~(temp >= 0.1)
        temp = np.where(too_bad, 0.1, temp)
        shrink = ratio <= 0.25
        grow = ~shrink & ((lam == 0.0) | (ratio >= 0.75))
        rad = np.where(shrink, temp * np.minimum(rad, step_norm / 0.1), np.where(grow, step_norm / 0.5, rad))
        radius[a] = rad

        # accept the trial points
        acc = a[accept]
        u[acc] = u_trial[accept]
        x[acc] = x_trial[accept]
        if len(acc) == nc:  # every spectrum of the chunk moved (the usual early iterations): one plain copy
            r[...] = r_trial  # (a copy: fun may hand out a buffer it reuses)
        else:
            r[acc] = r_trial[accept]
        cost[acc] = cost_trial[accept]
        last_gain[acc] = actual[accept]
        need_jac[acc] = True

        # ---- MINPACK convergence tests (on accepted and rejected trials alike) ----------------------
        x_norm = np.linalg.norm(D[a] * u[a], axis=1)
        f_conv = (np.abs(actual) <= ftol) & (predicted <= ftol) & (0.5 * ratio <= 1.0) & finite_trial
        x_conv = rad <= xtol * x_norm
        code = np.where(f_conv, 1, 0) + np.where(x_conv, 2, 0)
        # Beyond machine precision nothing can improve any more (MINPACK info 6 / 7).
        code = np.where((code == 0) & (np.abs(actual) <= _EPS) & (predicted <= _EPS) & (0.5 * ratio <= 1.0), 6, code)
        code = np.where((code == 0) & (rad <= _EPS * x_norm), 7, code)
        conv = code > 0
        status[a[conv]] = code[conv]
        active[a[conv]] = False

    # ---- Jacobian and covariance at the solution ----------------------------------------------------
    ok = np.flatnonzero(status > 0)
    if len(ok):
        if out_jac is None:
            A_ext, _, _ = problem.normal_equations(x[ok], r[ok], rows[ok], bounds.upper[ok], final=True)
        else:
            Jt = problem.jacobian(x[ok], r[ok], rows[ok], bounds.upper[ok], final=True)
            A_ext, _ = _normal(Jt, r[ok])
        njev[ok] += 1
        finite = np.isfinite(A_ext).all(axis=(1, 2))
        cov = np.full((len(ok), k, k), np.nan)
        if finite.any() and m > k:  # m == k: no degrees of freedom left for the reduced chi-square
            cov[finite] = _covariance(A_ext[finite], cost[ok][finite], m - k)
        out_cov[rows[ok]] = cov
        if out_jac is not None:
            out_jac[rows[ok]] = Jt.transpose(0, 2, 1)

    out_x[rows] = x
    out_cost[rows] = cost
    out_status[rows] = status
    out_nfev[rows] = nfev
    out_njev[rows] = njev
