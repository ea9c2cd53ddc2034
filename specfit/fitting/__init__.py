"""``specfit.fit``: fit a model to one spectrum or to every spectrum of a stack.

One spectrum is fitted with lmfit (``least_squares``) and gives a :class:`~specfit.results.FitResult`.
Data with extra dimensions (depth profile, map, series) gives a
:class:`~specfit.results.FitStackResult`; its spectra are solved together by the vectorised batch
solver (``specfit.fitting.batch.least_squares_batch``, when installed) on the compiled model — ties
are compiled array expressions, bounds go to the solver — or else one by one with lmfit.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..conventions import INTENSITY
from ..errors import FitError
from ..lineshapes import format_shape
from ..model.core import CompiledModel, Model, compiled_model, load_model
from ..results import LINE_COLUMNS, FitResult, FitStackResult, line_table_arrays
from .chunked import fit_chunked, is_dask_backed
from .engine import (
    FitWarning,
    Prepared,
    _pick_dataset,
    batch_solver,
    initial_rows,
    prepare,
    solve,
    static_background,
    warn_problems,
)

__all__ = ["FitWarning", "batch_solver", "fit"]


def fit(
    data: Any,
    model: Model | str,
    *,
    region: str | None = None,
    range: tuple[float, float] | None = None,  # noqa: A002  (public keyword, as in the model file)
    weights: str | np.ndarray | None = "auto",
    seed: str = "guess",
    solver: str = "auto",
    monte_carlo: int = 0,
    max_nfev: int = 200,
    random_state: int | None = 0,
    client: Any = None,
) -> FitResult | FitStackResult:
    """Fit ``model`` to ``data`` along its spectral axis.

    Parameters
    ----------
    data
        A DataTree (the leaf is chosen by its ``region`` attribute or node name; a tree with one
        spectrum needs none), a Dataset with ``intensity`` (and optional ``intensity_error``) or a
        DataArray.
    model
        A :class:`~specfit.model.Model`, a model-file path or a template name (:func:`load_model`).
    region
        Which spectrum of a tree to fit.
    range
        ``(low, high)`` fit window on the spectral axis; overrides the model's ``range``.
    weights
        ``"auto"`` (``1/intensity_error`` when present, else Poisson ``1/√counts`` for data in counts,
        else uniform), ``"poisson"``, ``"none"`` or an array.
    seed
        Stacks only: ``"guess"`` starts every spectrum from the model's start values (areas guessed per
        spectrum); ``"neighbour"`` refits spectra that failed from their converged neighbour's result
        (with the lmfit solver, each spectrum starts from the previous one's result).
    solver
        ``"auto"`` (batch when installed, for stacks), ``"batch"`` or ``"lmfit"``.
    monte_carlo
        Single spectra: number of synthetic noisy replicas of the best fit to refit; the scatter of the
        refitted parameters and areas is reported as ``*_mc_error`` (``result.monte_carlo``).
    max_nfev
        Limit of function evaluations per spectrum (times the number of free parameters for lmfit).
    client
        Stacks only: a :class:`dask.distributed.Client` or a scheduler address to fit on. Data read
        lazily (``specfit.read(path, chunks=...)``) are fitted chunk by chunk on the current dask
        scheduler even without it (see :mod:`specfit.fitting.chunked`); the fitted curves of such a
        result stay lazy.

    Returns
    -------
    FitResult or FitStackResult

    Notes
    -----
    Standard errors come from the covariance at the solution, scaled by the reduced chi-square (as
    lmfit does); errors of tied quantities, areas and area fractions are propagated from it. Static
    backgrounds (Shirley, Tougaard) are computed from the data and then held fixed, so their own
    uncertainty (e.g. from noisy end points) is not in the covariance; ``monte_carlo`` recomputes them
    for every replica and so includes it.
    """
    if isinstance(model, str | Path):
        model = load_model(model)
    if seed not in ("guess", "neighbour", "neighbor"):
        raise FitError(f"seed must be 'guess' or 'neighbour', not {seed!r}")
    if solver not in ("auto", "batch", "lmfit"):
        raise FitError(f"solver must be 'auto', 'batch' or 'lmfit', not {solver!r}")
    obj = _pick_dataset(data, region)
    if client is not None or is_dask_backed(obj):
        da = obj[INTENSITY] if isinstance(obj, xr.Dataset) else obj
        if len(da.dims) > 1:
            if isinstance(weights, np.ndarray):
                raise FitError("weights given as an array are not supported for chunked fits; use 'auto' or 'poisson'")
            kwargs = {"range": range, "weights": weights, "seed": seed, "solver": solver, "max_nfev": max_nfev}
            return fit_chunked(obj, model, client=client, **kwargs)
        obj = obj.load()  # one lazy spectrum: just read it
    prep = prepare(obj, model, region=None, fit_range=range, weights=weights)
    params, compiled = compiled_model(model, prep.axis)  # shared: read only
    bg_static = static_background(model, prep)
    P0 = initial_rows(model, params, compiled, prep, bg_static)
    if not prep.extra_dims:
        return _fit_single(model, params, compiled, prep, bg_static, P0, monte_carlo, max_nfev, random_state)
    # Stacks avoid long BLAS products (OpenBLAS threads them, which costs 5x on a busy 2-core machine):
    # the solver's products are per-spectrum sized and the (n x k) @ (k x values) ones use einsum
    # (CompiledModel.values). No thread-limiting context here: finding the BLAS libraries costs
    # 13-19 ms on first use in a process.
    return _fit_stack(model, params, compiled, prep, bg_static, P0, seed, solver, max_nfev)


def _components_frame(compiled: CompiledModel, table: dict[str, np.ndarray], i: int) -> pd.DataFrame:
    rows = []
    for j, line in enumerate(compiled.lines):
        row = {"name": line.name, "component": line.component, "shape": format_shape(line.shape)}
        for key in LINE_COLUMNS:
            row[key] = float(table[key][i, j])
        rows.append(row)
    return pd.DataFrame(rows)


def _fit_single(model, params, compiled, prep: Prepared, bg_static, P0, monte_carlo, max_nfev, random_state):
    sol = solve(compiled, params, prep, bg_static, P0, solver="lmfit", max_nfev=max_nfev, full_params=True)
    out_params = sol.params[0]
    warn_problems(sol.success, sol.at_bound, compiled.free, sol.message)
    cov = np.nan_to_num(sol.covariance[0]) if not np.isfinite(sol.covariance[0]).all() else sol.covariance[0]
    table = line_table_arrays(compiled, sol.P[:1], cov[None])
    _, dyn, curves = compiled.evaluate(prep.x, sol.P[:1], prep.loss_side)
    npts, k = prep.x.size, len(compiled.free)
    stats = {
        "chisqr": float(sol.chisqr[0]),
        "redchi": float(sol.redchi[0]),
        "ndata": int(npts),
        "nfree": int(k),
        "nfev": int(sol.nfev[0]),
        "success": bool(sol.success[0]),
        "message": sol.message[0],
        "at_bound": [compiled.free[j] for j in np.nonzero(sol.at_bound[0])[0]],
        "solver": "lmfit",
    }
    comps = _components_frame(compiled, table, 0)
    mc = None
    if monte_carlo:
        mc = _monte_carlo(model, params, compiled, prep, bg_static, sol.P[0], int(monte_carlo), max_nfev, random_state)
        comps["area_mc_error"] = mc["area_std"]
        comps["position_mc_error"] = mc["position_std"]
    return FitResult(
        model=model,
        params=out_params,
        axis=prep.axis,
        x=prep.x,
        data=prep.y[0],
        weights=prep.weights[0],
        background=bg_static[0] + dyn[0],
        curves={line.name: curves[j, 0] for j, line in enumerate(compiled.lines)},
        components=comps,
        statistics=stats,
        free=compiled.free,
        covariance=sol.covariance[0],
        attrs={**{k: v for k, v in prep.attrs.items() if isinstance(v, str | int | float)}, "units": prep.units},
        monte_carlo=mc,
    )


def _monte_carlo(model, params, compiled, prep, bg_static, P, n, max_nfev, random_state) -> dict[str, Any]:
    """Refit ``n`` synthetic spectra: best fit + noise drawn like the data's (Poisson for counts)."""
    rng = np.random.default_rng(random_state)
    peaks, dyn, _ = compiled.evaluate(prep.x, P[None], prep.loss_side)
    best = bg_static[0] + peaks[0] + dyn[0]
    resid = prep.y[0] - best
    if prep.units == "counts":
        Y = rng.poisson(np.clip(best, 0, None), size=(n, best.size)).astype(float)
    else:
        Y = best + rng.normal(0.0, np.std(resid), size=(n, best.size))
    sub = Prepared(
        prep.axis,
        prep.x,
        Y,
        np.broadcast_to(prep.weights[0], Y.shape).copy(),
        {"replica": np.arange(n)},
        prep.attrs,
        prep.units,
        prep.loss_side,
        prep.x,
        Y,
        np.ones(prep.x.size, bool),
    )
    sbg = static_background(model, sub)
    P0 = np.tile(P, (n, 1))
    sol = solve(compiled, params, sub, sbg, P0, solver="auto", max_nfev=max_nfev)
    ok = sol.success
    table = line_table_arrays(compiled, sol.P, np.zeros((n, P.size, P.size)))
    return {
        "n": int(n),
        "converged": int(ok.sum()),
        "param_std": {name: float(np.std(sol.P[ok, j], ddof=1)) for j, name in enumerate(compiled.free)},
        "area_std": np.std(table["area"][ok], axis=0, ddof=1).tolist(),
        "position_std": np.std(table["position"][ok], axis=0, ddof=1).tolist(),
        "lines": [line.name for line in compiled.lines],
    }


def _fit_stack(model, params, compiled, prep: Prepared, bg_static, P0, seed, solver, max_nfev) -> FitStackResult:
    n = prep.y.shape[0]
    if seed != "guess" and (solver == "lmfit" or batch_solver() is None):
        # sequential: each spectrum starts from its predecessor's result (C order)
        sols = []
        start = P0[0]
        for i in range(n):
            sub = _subset(prep, i)
            s = solve(compiled, params, sub, bg_static[i : i + 1], start[None], solver="lmfit", max_nfev=max_nfev)
            sols.append(s)
            start = s.P[0] if s.success[0] else P0[min(i + 1, n - 1)]
        sol = _concat(sols)
    else:
        sol = solve(compiled, params, prep, bg_static, P0, solver=solver, max_nfev=max_nfev)
        if seed != "guess":
            sol = _reseed_failures(compiled, params, prep, bg_static, sol, solver, max_nfev)
    warn_problems(sol.success, sol.at_bound, compiled.free, sol.message)
    return _stack_result(model, compiled, prep, bg_static, sol)


def _subset(prep: Prepared, rows) -> Prepared:
    rows = np.atleast_1d(np.arange(prep.y.shape[0])[rows])
    return Prepared(
        prep.axis,
        prep.x,
        prep.y[rows],
        prep.weights[rows],
        {"i": rows},
        prep.attrs,
        prep.units,
        prep.loss_side,
        prep.full_x,
        prep.full_y[rows],
        prep.mask,
    )


def _concat(sols):
    from .engine import StackSolution

    return StackSolution(
        np.concatenate([s.P for s in sols]),
        np.concatenate([s.covariance for s in sols]),
        np.concatenate([s.stderr for s in sols]),
        np.concatenate([s.success for s in sols]),
        np.concatenate([s.nfev for s in sols]),
        [m for s in sols for m in s.message],
        np.concatenate([s.chisqr for s in sols]),
        np.concatenate([s.redchi for s in sols]),
        np.concatenate([s.at_bound for s in sols]),
        sols[0].solver,
    )


def _reseed_failures(compiled, params, prep, bg_static, sol, solver, max_nfev):
    """Refit failed spectra starting from the nearest converged spectrum (C order)."""
    bad = np.nonzero(~sol.success)[0]
    good = np.nonzero(sol.success)[0]
    if not bad.size or not good.size:
        return sol
    nearest = good[np.argmin(np.abs(bad[:, None] - good[None, :]), axis=1)]
    sub = _subset(prep, bad)
    re = solve(compiled, params, sub, bg_static[bad], sol.P[nearest], solver=solver, max_nfev=max_nfev)
    better = re.success | (re.chisqr < sol.chisqr[bad])
    for field_name in ("P", "covariance", "stderr", "success", "nfev", "chisqr", "redchi", "at_bound"):
        arr = getattr(sol, field_name)
        arr[bad[better]] = getattr(re, field_name)[better]
    for j, i in enumerate(bad):
        if better[j]:
            sol.message[i] = re.message[j]
    return sol


def _stack_result(model, compiled, prep: Prepared, bg_static, sol) -> FitStackResult:
    dims = list(prep.extra_dims)
    shape = tuple(len(v) for v in prep.extra_dims.values())
    coords = {d: v for d, v in prep.extra_dims.items()}
    cov = np.where(np.isfinite(sol.covariance), sol.covariance, 0.0)
    table = line_table_arrays(compiled, sol.P, cov)
    values = compiled.values(sol.P)
    data_vars: dict[str, Any] = {}
    for j, name in enumerate(compiled.free):
        data_vars[name] = (dims, sol.P[:, j].reshape(shape))
        data_vars[f"{name}_stderr"] = (dims, sol.stderr[:, j].reshape(shape))
    for name, v in values.items():
        if name not in data_vars:
            data_vars[name] = (dims, np.asarray(v, float).reshape(shape))
    lines = [line.name for line in compiled.lines]
    for key, arr in table.items():
        data_vars[key] = ((*dims, "line"), arr.reshape((*shape, len(lines))))
    data_vars["component"] = ("line", [line.component for line in compiled.lines])
    data_vars["shape"] = ("line", [format_shape(line.shape) for line in compiled.lines])
    data_vars["chisqr"] = (dims, sol.chisqr.reshape(shape))
    data_vars["redchi"] = (dims, sol.redchi.reshape(shape))
    data_vars["success"] = (dims, sol.success.astype(np.int8).reshape(shape))
    data_vars["nfev"] = (dims, np.asarray(sol.nfev, np.int64).reshape(shape))
    data_vars["n_at_bound"] = (dims, sol.at_bound.sum(axis=1).astype(np.int64).reshape(shape))
    data_vars["message"] = (dims, np.array(sol.message, dtype=str).reshape(shape))
    at_bound_text: dict[bytes, str] = {}  # few distinct patterns among many spectra: format each once
    for r in sol.at_bound:
        key = r.tobytes()
        if key not in at_bound_text:
            at_bound_text[key] = json.dumps([compiled.free[j] for j in np.nonzero(r)[0]])
    at_bound = np.array([at_bound_text[r.tobytes()] for r in sol.at_bound], dtype=str)
    data_vars["at_bound"] = (dims, at_bound.reshape(shape))
    ds = xr.Dataset(
        data_vars,
        coords={**coords, "line": lines},
        attrs={"solver": sol.solver, "axis": prep.axis, "free": json.dumps(compiled.free)},
    )
    # envelope = static background + peaks + dynamic background; only the background is kept apart
    # (the per-line curves of a 10,000-spectrum map would be n_lines x n x m floats)
    envelope = compiled.total(prep.x, sol.P, prep.loss_side, threads=min(2, os.cpu_count() or 1))
    envelope += bg_static  # in place: no second (n, m) array
    background = bg_static
    if model.background is not None and not model.background.static:
        _, dyn, _ = compiled.evaluate(prep.x, sol.P, prep.loss_side)
        background = bg_static + dyn
    curves = xr.Dataset(
        {
            "intensity": ((*dims, prep.axis), prep.y.reshape((*shape, -1))),
            "envelope": ((*dims, prep.axis), envelope.reshape((*shape, -1))),
            "background": ((*dims, prep.axis), background.reshape((*shape, -1))),
        },
        coords={**coords, prep.axis: prep.x},
    )
    return FitStackResult(ds, curves, model, prep.axis)
