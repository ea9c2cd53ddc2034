"""The fitting engine shared by single spectra and stacks: data selection, guesses, solvers, errors.

Everything works on arrays of shape ``(n_spectra, n_points)``; one spectrum is ``n = 1``.
Solvers: the vectorised :func:`specfit.fitting.batch.least_squares_batch` (when present) on the
compiled model, or a plain per-spectrum lmfit loop (always available; the reference).
"""

from __future__ import annotations

import inspect
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import lmfit
import numpy as np
import xarray as xr

from .._blas import single_thread_blas
from ..conventions import INTENSITY, leaves, spectral_axis
from ..errors import FitError, ModelError
from ..model.core import CompiledModel, Model

__all__ = ["FitWarning", "Prepared", "StackSolution", "batch_solver", "prepare", "solve"]


#: stacks of at least this many spectra are fitted in two threads, one chunk each (or more). Each
#: thread runs its own chunk's Levenberg–Marquardt bookkeeping, whose numpy calls on (chunk x k) arrays
#: release and retake the GIL, so two threads contend for it; that pays only where the chunks are big
#: enough. Measured on 2 cores (benchmark spectra, 600 points, 7 free parameters; best and median of 10):
#: 200 spectra 25.0 / 25.6 ms in one thread (one chunk), 25.2 / 28.1 ms in two; 300 spectra 41 / 42 ms in
#: one thread, 33 / 36 ms in two.
_THREADS_FROM = 256

#: lmfit method of the per-spectrum fallback: scipy's trust-region least_squares (with start values
#: at the centre of a bounded range, MINPACK leastsq through lmfit's sin transform was seen to stall)
LMFIT_METHOD = "least_squares"


class FitWarning(UserWarning):
    """A fit did not converge or a parameter ended on a bound."""


def batch_solver():
    """``least_squares_batch`` when the batch module is installed, else ``None``."""
    try:
        from .batch import least_squares_batch
    except ImportError:
        return None
    return least_squares_batch


@dataclass
class Prepared:
    """The data to fit: axis, spectra (n, m), weights (n, m), and where they came from."""

    axis: str
    x: np.ndarray
    y: np.ndarray
    weights: np.ndarray
    extra_dims: dict[str, np.ndarray]
    attrs: dict[str, Any]
    units: str
    loss_side: str
    full_x: np.ndarray
    full_y: np.ndarray
    mask: np.ndarray
    ends: tuple[np.ndarray, np.ndarray] | None = None


def _pick_dataset(data: Any, region: str | None) -> xr.Dataset | xr.DataArray:
    if isinstance(data, xr.DataTree):
        found = list(leaves(data))
        if not found:
            raise FitError("the data tree holds no spectrum (no node with 'intensity')")
        if region is not None:
            hits = [ds for path, ds in found if ds.attrs.get("region") == region or path.rsplit("/", 1)[-1] == region]
            if not hits:
                names = [ds.attrs.get("region") or path for path, ds in found]
                raise FitError(f"no spectrum with region or name {region!r}; the tree has {names}")
            if len(hits) > 1:
                raise FitError(f"{len(hits)} spectra match region {region!r}; pick one by node name")
            return hits[0]
        if len(found) > 1:
            names = [ds.attrs.get("region") or path for path, ds in found]
            raise FitError(f"the tree holds {len(found)} spectra {names}; say which with region=")
        return found[0][1]
    if isinstance(data, xr.Dataset | xr.DataArray):
        return data
    raise FitError(f"cannot fit an object of type {type(data).__name__}; pass a DataTree, Dataset or DataArray")


def prepare(
    data: Any,
    model: Model,
    *,
    region: str | None = None,
    fit_range: tuple[float, float] | None = None,
    weights: str | np.ndarray | None = "auto",
) -> Prepared:
    """Select the spectrum (or stack), crop it to the fit range and choose weights."""
    obj = _pick_dataset(data, region)
    if isinstance(obj, xr.Dataset):
        if INTENSITY not in obj:
            raise FitError("the dataset has no 'intensity' variable")
        da = obj[INTENSITY]
        err = obj.get("intensity_error")
        attrs = dict(obj.attrs)
    else:
        da, err, attrs = obj, None, dict(obj.attrs)
    axis = spectral_axis(da)
    extra = [d for d in da.dims if d != axis]
    da = da.transpose(*extra, axis)
    if err is not None:
        err = err.transpose(*extra, axis)
    full_x = np.asarray(da[axis].values, dtype=float)
    full_y = np.asarray(da.values, dtype=float).reshape(-1, full_x.size)
    rng = fit_range if fit_range is not None else model.range
    mask = np.ones(full_x.size, bool) if rng is None else (full_x >= min(rng)) & (full_x <= max(rng))
    if mask.sum() < 3:
        raise FitError(f"the fit range {rng} holds {int(mask.sum())} points of the {axis} axis")
    # compress, not full_y[:, mask]: boolean indexing of the last axis returns a Fortran-ordered array,
    # and every later row-wise step (background, residuals of row subsets) would stride through memory
    x, y = full_x[mask], full_y.compress(mask, axis=1)
    if not np.all(np.isfinite(y)):
        raise FitError("the spectrum holds NaN or infinite values inside the fit range")
    units = str(da.attrs.get("units", ""))
    if isinstance(weights, np.ndarray):
        w = np.broadcast_to(np.asarray(weights, float), full_y.shape).compress(mask, axis=1)
    elif err is not None and weights == "auto":
        e = np.asarray(err.values, float).reshape(-1, full_x.size).compress(mask, axis=1)
        w = 1.0 / np.where(e > 0, e, np.inf)
    elif weights == "poisson" or (weights == "auto" and units == "counts"):
        # in place: one (n, m) allocation instead of three (each a fresh, page-faulted 48 MB block for a
        # 10,000-spectrum map: 0.2 s)
        w = np.maximum(y, 1.0)
        np.sqrt(w, out=w)
        np.divide(1.0, w, out=w)
    elif weights in (None, "none", "auto"):
        w = np.ones_like(y)
    else:
        raise FitError(f"weights must be 'auto', 'poisson', 'none' or an array, not {weights!r}")
    extra_dims = {d: np.asarray(da[d].values) if d in da.coords else np.arange(da.sizes[d]) for d in extra}
    loss_side = "low" if axis == "kinetic_energy" else "high"
    w = np.ascontiguousarray(w, dtype=float)  # every branch above made a new array: no further copy
    return Prepared(axis, x, y, w, extra_dims, attrs, units, loss_side, full_x, full_y, mask)


def static_background(model: Model, prep: Prepared) -> np.ndarray:
    bg = model.background
    if bg is None or not bg.static:
        return np.zeros_like(prep.y)
    kwargs = {"ends": prep.ends} if prep.ends is not None else {}
    return np.asarray(bg.from_data(prep.x, prep.y, prep.loss_side, **kwargs), float)


def initial_rows(
    model: Model, params: lmfit.Parameters, compiled: CompiledModel, prep: Prepared, static_bg: np.ndarray
) -> np.ndarray:
    """Start values (n, k): the model's values, with unset areas and background terms guessed per spectrum."""
    n = prep.y.shape[0]
    P0 = np.tile([params[name].value for name in compiled.free], (n, 1)).astype(float)
    # trapezoid integral of y - background as a product with the trapezoid weights: one pass,
    # no (n, m) temporaries (np.trapezoid makes four: ~10 % of a 10,000-spectrum stack fit)
    dx = np.diff(prep.x)
    trap = np.zeros(prep.x.size)
    trap[:-1] += 0.5 * dx
    trap[1:] += 0.5 * dx
    total = np.abs(np.einsum("nm,m->n", prep.y, trap) - np.einsum("nm,m->n", static_bg, trap))  # no BLAS threads
    # share the net area among components, counting the second line of doublets
    weights = {}
    for c in model.components:
        weights[c.name] = 1.0 + getattr(c, "ratio", 0.0)
    wsum = sum(weights.values()) or 1.0
    for j, name in enumerate(compiled.free):
        col = P0[:, j]
        if name.endswith("_area") and name[: -len("_area")] in weights and np.isnan(col).any():
            P0[:, j] = np.where(np.isnan(col), total / wsum, col)
    if model.background is not None and not model.background.static:
        net = prep.y - static_bg
        for i in range(n):
            guess = model.background.guess(prep.x, net[i])
            for j, name in enumerate(compiled.free):
                if name in guess and P0[i, j] == 0.0:
                    P0[i, j] = guess[name]
    if np.isnan(P0).any():
        bad = [compiled.free[j] for j in np.nonzero(np.isnan(P0).any(axis=0))[0]]
        raise ModelError(f"no start value for {bad}; give them in the model")
    lo, hi = compiled.lower, compiled.upper
    span = np.where(np.isfinite(hi - lo), hi - lo, 1.0)
    return np.clip(P0, lo + 1e-9 * span * np.isfinite(lo), hi - 1e-9 * span * np.isfinite(hi))


@dataclass
class StackSolution:
    """Per-spectrum solution arrays of the engine."""

    P: np.ndarray
    covariance: np.ndarray
    stderr: np.ndarray
    success: np.ndarray
    nfev: np.ndarray
    message: list[str]
    chisqr: np.ndarray
    redchi: np.ndarray
    at_bound: np.ndarray
    solver: str
    params: list[lmfit.Parameters] = field(default_factory=list)


def residual_function(compiled: CompiledModel, prep: Prepared, static_bg: np.ndarray, rows: slice | np.ndarray):
    target = prep.y[rows] - static_bg[rows]
    w = prep.weights[rows]

    def fun(P: np.ndarray) -> np.ndarray:
        return (target - compiled.total(prep.x, P, prep.loss_side)) * w

    return fun


def _row_selector(rows: np.ndarray | None) -> slice | np.ndarray:
    """``rows`` as a slice where they are a contiguous ascending run (all spectra of a chunk still
    iterating, the usual case): indexing (rows, points) arrays with it is a view, not a copy (a row
    gather of 200 x 600 doubles took 0.3-0.7 ms; the 200-level benchmark profile went from 28 to 27 ms)."""
    if rows is None:
        return slice(None)
    rows = np.asarray(rows)
    if rows.size and rows[-1] - rows[0] == rows.size - 1 and (rows.size < 2 or np.all(np.diff(rows) == 1)):
        return slice(int(rows[0]), int(rows[-1]) + 1)
    return rows


def _at_bound(P: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    scale = np.maximum(np.abs(P), 1.0)
    return (np.isfinite(lo) & (P - lo <= 1e-6 * scale)) | (np.isfinite(hi) & (hi - P <= 1e-6 * scale))


def solve(
    compiled: CompiledModel,
    params: lmfit.Parameters,
    prep: Prepared,
    static_bg: np.ndarray,
    P0: np.ndarray,
    *,
    solver: str = "auto",
    max_nfev: int = 200,
    full_params: bool = False,
) -> StackSolution:
    """Fit every spectrum of ``prep``; ``solver`` is ``"auto"``, ``"batch"`` or ``"lmfit"``."""
    batch = batch_solver()
    if solver == "batch" and batch is None:
        raise FitError("the batch solver (specfit.fitting.batch) is not installed")
    use_batch = solver == "batch" or (solver == "auto" and batch is not None and P0.shape[0] > 1)
    n, k = P0.shape
    npts = prep.x.size
    if use_batch:
        target = prep.y - static_bg
        lo = np.broadcast_to(compiled.lower, P0.shape)
        hi = np.broadcast_to(compiled.upper, P0.shape)

        # ``rows`` (optional in the batch contract): the spectra the rows of P belong to, so the
        # solver can evaluate only spectra still iterating, in memory-bounded chunks
        def fun(P: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
            sel = _row_selector(rows)
            model = compiled.total(prep.x, P, prep.loss_side)
            # (target - model) * weights, in the model's buffer: no further (rows, points) temporaries
            np.subtract(target[sel], model, out=model)
            model *= prep.weights[sel]
            return model

        def jac(P: np.ndarray, rows: np.ndarray | None = None, dtype: type = np.float64) -> np.ndarray:
            sel = _row_selector(rows)
            return compiled.jacobian(prep.x, P, prep.loss_side, scale=prep.weights[sel], dtype=dtype, negate=True)

        def normal(P: np.ndarray, r: np.ndarray, rows: np.ndarray | None = None, dtype: type = np.float64):
            sel = _row_selector(rows)
            return compiled.normal_equations(prep.x, P, r, scale=prep.weights[sel], dtype=dtype, negate=True)

        extra = {}
        accepted = inspect.signature(batch).parameters
        if "normal" in accepted and compiled.kernels_apply():
            extra["normal"] = normal  # J^T J and J^T r without storing J (the compiled kernels apply)
        if "keep_jac" in accepted:
            extra["keep_jac"] = False  # not used here; it would cost n x m x k floats
        if "jac_dtype" in accepted:
            # single-precision Jacobian while iterating (~2x faster model derivatives and J^T J); the
            # residuals, the normal equations' solution and the covariance stay in double precision
            extra["jac_dtype"] = np.float32
        if "workers" in accepted and n >= _THREADS_FROM:
            # fun/jac are pure functions of their arguments: safe to run on several cores
            extra["workers"] = min(2, os.cpu_count() or 1)
        # lmfit's leastsq stopping rules (ftol = xtol = 1.5e-8, no gtol test), so that the batch path and
        # the per-spectrum lmfit path (solver="lmfit") stop alike: on the 5,000-spectrum benchmark map
        # this took 5.3 instead of 5.9 evaluations per spectrum and moved the results closer to lmfit's
        # (largest relative difference 3.8e-8 instead of 1.6e-7)
        sol = batch(fun, P0, lo, hi, jac=jac, max_nfev=max_nfev, xtol=1.5e-8, ftol=1.5e-8, gtol=0.0, **extra)
        # chi-square = 2 * the solver's cost at its solution (same residual function, same point); only
        # where that is not finite (failed starts) are the residuals evaluated again, as before. Saves a
        # model evaluation and an (n, m) array (48 MB for a 10,000-spectrum map).
        chisqr = 2.0 * np.asarray(sol.cost, dtype=float)
        redo = np.flatnonzero(~np.isfinite(chisqr))
        if redo.size:
            R = fun(np.asarray(sol.x)[redo], rows=redo)
            chisqr[redo] = np.sum(R * R, axis=1)
        return StackSolution(
            np.asarray(sol.x),
            np.asarray(sol.covariance),
            np.asarray(sol.stderr),
            np.asarray(sol.success, bool),
            np.asarray(sol.nfev),
            list(sol.message),
            chisqr,
            chisqr / max(npts - k, 1),
            np.asarray(sol.at_bound, bool),
            "batch",
        )
    P = np.empty_like(P0)
    cov = np.full((n, k, k), np.nan)
    stderr = np.full((n, k), np.nan)
    success = np.zeros(n, bool)
    nfev = np.zeros(n, int)
    messages, all_params = [], []
    chisqr = np.zeros(n)
    # lmfit sees only the free parameters: ties are evaluated by the compiled model (lmfit's own
    # expression and uncertainty machinery would cost more than the fit itself)
    template = lmfit.Parameters()
    for name in compiled.free:
        template.add(name, value=0.0, min=params[name].min, max=params[name].max)
    for i in range(n):
        fun = residual_function(compiled, prep, static_bg, slice(i, i + 1))
        p = template.copy()
        for j, name in enumerate(compiled.free):
            p[name].value = P0[i, j]

        def resid(pars, fun=fun):
            return fun(np.array([[pars[name].value for name in compiled.free]]))[0]

        with single_thread_blas():
            out = lmfit.minimize(resid, p, method=LMFIT_METHOD, max_nfev=max_nfev * max(k, 1))
        P[i] = [out.params[name].value for name in compiled.free]
        if out.covar is not None and list(out.var_names) == compiled.free:
            cov[i] = out.covar
            stderr[i] = np.sqrt(np.clip(np.diag(out.covar), 0, None))
        success[i] = bool(out.success) and bool(out.errorbars)
        nfev[i] = out.nfev
        messages.append(
            str(out.message)
            if out.errorbars or not out.success
            else f"{out.message}; covariance could not be estimated"
        )
        chisqr[i] = out.chisqr
        if full_params:
            all_params.append(full_parameters(compiled, params, P[i], cov[i]))
    return StackSolution(
        P,
        cov,
        stderr,
        success,
        nfev,
        messages,
        chisqr,
        chisqr / max(npts - k, 1),
        _at_bound(P, compiled.lower, compiled.upper),
        "lmfit",
        all_params,
    )


def full_parameters(
    compiled: CompiledModel, params: lmfit.Parameters, row: np.ndarray, cov: np.ndarray
) -> lmfit.Parameters:
    """The model's lmfit Parameters at the solution ``row``: values, standard errors (ties by propagation)
    and correlations of the free parameters."""
    full = params.copy()
    values = compiled.values(row[None])
    names = list(values)
    ok = bool(np.all(np.isfinite(cov)))
    errs = propagate(
        lambda Q: np.stack([compiled.values(Q)[nm] for nm in names], axis=1), row[None], np.nan_to_num(cov)[None]
    )[0]
    for j, name in enumerate(compiled.free):
        full[name].value = float(row[j])
    full.update_constraints()
    for i, name in enumerate(names):
        par = full[name]
        if par.vary or par.expr:
            par.stderr = float(errs[i]) if ok else None
    if ok:
        sd = np.sqrt(np.clip(np.diag(cov), 0, None))
        for j, name in enumerate(compiled.free):
            full[name].correl = {
                other: float(cov[j, m] / (sd[j] * sd[m])) if sd[j] > 0 and sd[m] > 0 else 0.0
                for m, other in enumerate(compiled.free)
                if m != j
            }
    return full


def propagate(func, P: np.ndarray, cov: np.ndarray, rel_step: float = 1e-6) -> np.ndarray:
    """Standard errors of ``func(P)`` (n, q) by linear propagation of the covariance (n, k, k)."""
    P = np.atleast_2d(P)
    f0 = func(P)
    n, k = P.shape
    J = np.empty((n, f0.shape[1], k))
    for j in range(k):
        h = rel_step * np.maximum(np.abs(P[:, j]), 1e-3)
        Pp, Pm = P.copy(), P.copy()
        Pp[:, j] += h
        Pm[:, j] -= h
        J[:, :, j] = (func(Pp) - func(Pm)) / (2 * h[:, None])
    var = np.einsum("nqk,nkl,nql->nq", J, cov, J)
    return np.sqrt(np.clip(var, 0, None))


def warn_problems(success: np.ndarray, at_bound: np.ndarray, free: list[str], messages: list[str]) -> None:
    bad = ~np.asarray(success, bool)
    if bad.any():
        warnings.warn(
            f"{int(bad.sum())} of {bad.size} fit(s) did not converge or have no error estimate: "
            f"{messages[int(np.nonzero(bad)[0][0])]}",
            FitWarning,
            stacklevel=3,
        )
    hits = np.asarray(at_bound, bool)
    if hits.any():
        names = sorted({free[j] for j in np.nonzero(hits.any(axis=0))[0]})
        warnings.warn(
            f"parameter(s) at a bound in {int(hits.any(axis=1).sum())} fit(s): {names}", FitWarning, stacklevel=3
        )
