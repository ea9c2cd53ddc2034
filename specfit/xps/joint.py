"""One model over several regions of a sample, optimised as a unit (:func:`fit_regions`).

Each region keeps its own model (components, background, fit range, weights); the parameters of
all regions form one lmfit problem whose residual is the concatenation of the regions' weighted
residuals. Parameters are named ``<region prefix>_<parameter>`` -- the prefix is the region name
without spaces and punctuation (``"S 2p"`` -> ``S2p``), so the PS4 area of S 2p is ``S2p_PS4_area``.
Ties between regions are lmfit expressions in these names (``{"P2p_PS4_area": "S2p_PS4_area *
0.2"}``, or the equation form ``"P2p.PS4.area = S2p.PS4.area * 0.2"``); the usual one, a
stoichiometric ratio of two components through the sensitivity factors, is built by
:class:`Stoichiometry` (e.g. S : P = 4 : 1 in PS4³⁻)::

    joint = fit_regions(tree, {"S 2p": s_model, "P 2p": p_model},
                        stoichiometry=[Stoichiometry(("S 2p", "PS4"), ("P 2p", "PS4"), 4.0)])
    joint.results["P 2p"].table()

CasaXPS offers such cross-region constraints; this is the same idea on specfit's engine. Static
backgrounds (Shirley, Tougaard) are computed per region from the data first, as in
:func:`specfit.fit`; the covariance of the joint problem (scaled by its reduced chi-square, as lmfit
does) is mapped to every region's parameters, so per-region errors include the ties.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lmfit
import numpy as np
import pandas as pd
import xarray as xr

from ..errors import FitError, ModelError
from ..model.core import CompiledModel, Model, load_model
from ..results import FitResult, _plain, line_table_arrays

__all__ = ["JointFitResult", "Stoichiometry", "fit_regions", "region_prefix"]

_NAME = re.compile(r"\b([A-Za-z_]\w*)\b")
_DOTTED = re.compile(r"\b([A-Za-z_]\w*)\.([A-Za-z_]\w*)\.([A-Za-z_]\w*)\b")


def region_prefix(region: str) -> str:
    """Parameter prefix of a region: its name without spaces/punctuation (``"S 2p"`` -> ``"S2p"``)."""
    prefix = re.sub(r"\W", "", str(region))
    if not prefix:
        raise ModelError(f"region name {region!r} gives no usable parameter prefix")
    return prefix if not prefix[0].isdigit() else f"r{prefix}"


@dataclass(frozen=True)
class Stoichiometry:
    """A fixed atomic ratio of two components in two regions, through their sensitivity factors.

    ``Stoichiometry(("S 2p", "PS4"), ("P 2p", "PS4"), 4.0)`` says: the sensitivity-normalised total
    area (both spin-orbit lines) of S 2p / PS4 is 4 × that of P 2p / PS4, i.e.
    ``A_S / SF_S = 4 · A_P / SF_P``. The denominator's area becomes a tied parameter.

    Sensitivity factors come from the library (:func:`specfit.xps.sensitivity_factor`, total-level
    factors, with ``library`` and ``source``) unless given in ``sensitivity_factors`` (keyed by
    region). Transmission and escape-depth terms are taken as equal for the two regions (say so in
    the factors when they are not).
    """

    numerator: tuple[str, str]
    denominator: tuple[str, str]
    ratio: float
    library: str = "scofield"
    source: str = "Al Ka"
    sensitivity_factors: Mapping[str, float] | None = None

    def factor(self, region: str) -> float:
        if self.sensitivity_factors and region in self.sensitivity_factors:
            return float(self.sensitivity_factors[region])
        from .library import sensitivity_factor

        return sensitivity_factor(region, self.source, library=self.library)

    def tie(self, params: lmfit.Parameters) -> tuple[str, str]:
        """``(tied parameter, expression)`` in the joint parameter names."""
        (r_num, c_num), (r_den, c_den) = self.numerator, self.denominator
        if not self.ratio > 0:
            raise ModelError(f"stoichiometric ratio must be positive, got {self.ratio}")
        num = f"{region_prefix(r_num)}_{c_num}"
        den = f"{region_prefix(r_den)}_{c_den}"
        for name in (num, den):
            if f"{name}_area" not in params:
                raise ModelError(f"stoichiometry: no component area {name}_area in the joint model")
        scale = self.factor(r_den) / (self.factor(r_num) * float(self.ratio))

        def total(name: str) -> str:
            return f"{name}_area * (1 + {name}_ratio)" if f"{name}_ratio" in params else f"{name}_area"

        den_line = "1" if f"{den}_ratio" not in params else f"(1 + {den}_ratio)"
        return f"{den}_area", f"{total(num)} * {scale!r} / {den_line}"


class JointFitResult:
    """Per-region :class:`~specfit.results.FitResult` objects (``results[region]``) and the joint
    statistics, parameters and ties of one optimisation."""

    def __init__(
        self,
        results: dict[str, FitResult],
        params: lmfit.Parameters,
        statistics: dict[str, Any],
        ties: dict[str, str],
    ) -> None:
        self.results = results
        self.params = params
        self.statistics = statistics
        self.ties = ties

    def __repr__(self) -> str:
        s = self.statistics
        return (
            f"<JointFitResult regions={list(self.results)}, chisqr={s['chisqr']:.4g}, redchi={s['redchi']:.4g}, "
            f"success={s['success']}>"
        )

    @property
    def success(self) -> bool:
        return bool(self.statistics["success"])

    def table(self) -> pd.DataFrame:
        """Every region's component table with a leading ``region`` column."""
        frames = [r.table().assign(region=name) for name, r in self.results.items()]
        out = pd.concat(frames, ignore_index=True)
        return out[["region", *[c for c in out.columns if c != "region"]]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"results": [per-region fit JSON with attrs.region], "statistics", "ties"}``;
        ``specfit xps quantify`` reads it directly."""
        results = []
        for name, r in self.results.items():
            d = r.to_dict()
            d["attrs"]["region"] = name
            results.append(d)
        return _plain({"results": results, "statistics": dict(self.statistics), "ties": dict(self.ties)})


def _prefixed(expr: str, names: set[str], prefix: str) -> str:
    return _NAME.sub(lambda m: f"{prefix}_{m.group(1)}" if m.group(1) in names else m.group(1), expr)


def _parse_ties(ties: Mapping[str, str] | Sequence[str] | None) -> dict[str, str]:
    """Ties as ``{target: expression}``; equations ``"a = b"`` and dotted names ``S2p.PS4.area``."""
    if ties is None:
        return {}
    pairs: list[tuple[str, str]] = []
    if isinstance(ties, Mapping):
        pairs = [(str(k), str(v)) for k, v in ties.items()]
    else:
        for text in ties:
            if text.count("=") != 1 or "==" in text:
                raise ModelError(f"tie {text!r}: write it as 'PARAMETER = EXPRESSION'")
            left, right = text.split("=")
            pairs.append((left, right))
    out = {}
    for left, right in pairs:
        target = _DOTTED.sub(r"\1_\2_\3", left.strip())
        if not re.fullmatch(r"[A-Za-z_]\w*", target):
            raise ModelError(f"tie target {left.strip()!r} must be one parameter (e.g. P2p_PS4_area or P2p.PS4.area)")
        out[target] = _DOTTED.sub(r"\1_\2_\3", right.strip())
    return out


@dataclass
class _Region:
    name: str
    prefix: str
    model: Model
    prep: Any
    params: lmfit.Parameters
    compiled: CompiledModel
    bg: np.ndarray


def fit_regions(
    data: Any,
    models: Mapping[str, Model | str | Path],
    *,
    ties: Mapping[str, str] | Sequence[str] | None = None,
    stoichiometry: Sequence[Stoichiometry] = (),
    weights: str = "auto",
    max_nfev: int = 4000,
) -> JointFitResult:
    """Fit several regions of one sample at once, with ties across regions.

    Parameters
    ----------
    data
        A DataTree holding the regions (picked by their ``region`` attribute or node name, as in
        :func:`specfit.fit`), or a mapping region -> Dataset/DataArray.
    models
        Region -> model (a :class:`~specfit.model.Model`, a model file or a template name).
    ties
        Cross-region ties: ``{"P2p_PS4_area": "S2p_PS4_area * 0.25"}`` or equations
        ``["P2p.PS4.area = 0.25 * S2p.PS4.area"]`` (see the module docstring for the names).
    stoichiometry
        :class:`Stoichiometry` constraints (atomic ratios through sensitivity factors).
    weights
        As in :func:`specfit.fit`, for every region.
    max_nfev
        Limit of residual evaluations of the joint problem.

    Returns
    -------
    JointFitResult
        ``results[region]`` is a :class:`~specfit.results.FitResult` (errors from the joint
        covariance); ``statistics`` holds the joint chi-square, reduced chi-square, number of points
        and free parameters; ``ties`` the cross-region ties applied.

    Raises
    ------
    FitError
        For stacks (one spectrum per region only), missing regions, a failed optimisation.
    ModelError
        For ties naming unknown parameters.
    """
    from ..fitting.engine import initial_rows, prepare, static_background

    if not models:
        raise FitError("fit_regions needs at least one region model")
    regions: list[_Region] = []
    joint = lmfit.Parameters()
    for name, model in models.items():
        if not isinstance(model, Model):
            model = load_model(model)
        by_name = isinstance(data, Mapping) and not isinstance(data, xr.DataTree)  # a DataTree is a Mapping too
        if by_name and name not in data:
            raise FitError(f"no data for region {name!r}; given: {list(data)}")
        source = data[name] if by_name else data
        prep = prepare(source, model, region=None if by_name else name, weights=weights)
        if prep.extra_dims:
            raise FitError(f"region {name!r} is a stack {list(prep.extra_dims)}: fit_regions fits one spectrum each")
        params = model.make_params(prep.axis)
        compiled = CompiledModel(model, params, prep.axis)
        bg = static_background(model, prep)
        P0 = initial_rows(model, params, compiled, prep, bg)[0]
        prefix = region_prefix(name)
        if any(r.prefix == prefix for r in regions):
            raise FitError(f"regions {name!r} and another give the same parameter prefix {prefix!r}")
        start = dict(zip(compiled.free, P0, strict=True))
        local = set(params)
        for pname, p in params.items():
            value = start.get(pname, p.value)
            joint.add(f"{prefix}_{pname}", value=value, min=p.min, max=p.max, vary=p.vary and not p.expr)
        for pname, p in params.items():
            if p.expr:
                joint[f"{prefix}_{pname}"].expr = _prefixed(p.expr, local, prefix)
        regions.append(_Region(name, prefix, model, prep, params, compiled, bg))

    applied = _parse_ties(ties)
    for s in stoichiometry:
        target, expr = s.tie(joint)
        if target in applied:
            raise ModelError(f"{target} is tied twice (ties and stoichiometry)")
        applied[target] = expr
    for target, expr in applied.items():
        if target not in joint:
            raise ModelError(f"tie target {target!r} is not a parameter of the joint model")
        try:
            joint[target].set(expr=expr)
        except (NameError, SyntaxError, TypeError, ValueError) as exc:
            raise ModelError(f"tie {target} = {expr!r} cannot be evaluated: {exc}") from exc
    try:
        joint.update_constraints()
    except (NameError, SyntaxError, TypeError, ValueError) as exc:
        raise ModelError(f"ties cannot be evaluated: {exc}") from exc
    for target in applied:  # a tied start value outside the region's bounds: move it inside
        p = joint[target]
        if not np.isfinite(p.value):
            raise ModelError(f"tie {target} = {p.expr!r} gives {p.value} at the start values")

    def region_rows(values: Mapping[str, float], r: _Region) -> np.ndarray:
        return np.array([values[f"{r.prefix}_{n}"] for n in r.compiled.free], float)

    def residual(p: lmfit.Parameters) -> np.ndarray:
        values = p.valuesdict()
        parts = []
        for r in regions:
            P = region_rows(values, r)[None]
            model_y = r.bg[0] + r.compiled.total(r.prep.x, P, r.prep.loss_side)[0]
            parts.append((r.prep.y[0] - model_y) * r.prep.weights[0])
        return np.concatenate(parts)

    try:
        out = lmfit.minimize(residual, joint, method="least_squares", max_nfev=max_nfev)
    except (ValueError, TypeError) as exc:
        raise FitError(f"joint fit failed: {exc}") from exc
    free = list(out.var_names)
    cov = out.covar if out.covar is not None else np.full((len(free), len(free)), np.nan)
    values = out.params.valuesdict()

    # d(region free parameter values)/d(joint free parameters), by central differences through
    # lmfit's own constraint evaluation (ties may be any expression)
    def all_values(vector: np.ndarray) -> dict[str, float]:
        trial = out.params.copy()
        for name, v in zip(free, vector, strict=True):
            trial[name].value = float(v)
        trial.update_constraints()
        return trial.valuesdict()

    best = np.array([values[n] for n in free], float)
    jac: dict[str, np.ndarray] = {}
    wanted = [f"{r.prefix}_{n}" for r in regions for n in r.compiled.free]
    for j in range(len(free)):
        h = 1e-6 * max(abs(best[j]), 1e-3)
        up, down = best.copy(), best.copy()
        up[j] += h
        down[j] -= h
        vu, vd = all_values(up), all_values(down)
        for name in wanted:
            jac.setdefault(name, np.zeros(len(free)))[j] = (vu[name] - vd[name]) / (2 * h)

    residuals = residual(out.params)
    results: dict[str, FitResult] = {}
    start = 0
    at_bound_all = []
    for r in regions:
        n_r = r.prep.x.size
        res_r = residuals[start : start + n_r]
        start += n_r
        P = region_rows(values, r)
        J = np.array([jac[f"{r.prefix}_{n}"] for n in r.compiled.free]) if r.compiled.free else np.zeros((0, 0))
        cov_r = J @ cov @ J.T if J.size else np.zeros((0, 0))
        cov_r = np.where(np.isfinite(cov_r), cov_r, 0.0)
        table = line_table_arrays(r.compiled, P[None], cov_r[None])
        _, dyn, curves = r.compiled.evaluate(r.prep.x, P[None], r.prep.loss_side)
        rparams = r.params.copy()
        errors = np.sqrt(np.clip(np.diag(cov_r), 0, None)) if cov_r.size else []
        for name, v, e in zip(r.compiled.free, P, errors, strict=True):
            rparams[name].value = float(v)
            rparams[name].stderr = float(e) if out.covar is not None else None
        rparams.update_constraints()
        own_free = [n for n in free if n.startswith(f"{r.prefix}_")]
        at_bound = [n for n in own_free if _on_bound(out.params[n])]
        at_bound_all += at_bound
        chisqr = float(np.sum(res_r**2))
        stats = {
            "chisqr": chisqr,
            "redchi": chisqr / max(n_r - len(own_free), 1),
            "ndata": int(n_r),
            "nfree": len(own_free),
            "nfev": int(out.nfev),
            "success": bool(out.success and out.covar is not None),
            "message": str(out.message),
            "at_bound": at_bound,
            "solver": "lmfit (joint)",
        }
        from ..fitting import _components_frame

        attrs = {k: v for k, v in r.prep.attrs.items() if isinstance(v, str | int | float)}
        attrs.update(
            {
                "units": r.prep.units,
                "region": attrs.get("region") or r.name,
                "joint_regions": json.dumps(list(models)),
                "joint_ties": json.dumps(applied),
            }
        )
        results[r.name] = FitResult(
            model=r.model,
            params=rparams,
            axis=r.prep.axis,
            x=r.prep.x,
            data=r.prep.y[0],
            weights=r.prep.weights[0],
            background=r.bg[0] + dyn[0],
            curves={line.name: curves[j, 0] for j, line in enumerate(r.compiled.lines)},
            components=_components_frame(r.compiled, table, 0),
            statistics=stats,
            free=r.compiled.free,
            covariance=cov_r,
            attrs=attrs,
        )
    statistics = {
        "chisqr": float(out.chisqr),
        "redchi": float(out.redchi),
        "ndata": int(out.ndata),
        "nfree": int(out.nvarys),
        "nfev": int(out.nfev),
        "success": bool(out.success and out.covar is not None),
        "message": str(out.message),
        "at_bound": at_bound_all,
    }
    if not statistics["success"] or at_bound_all:
        import warnings

        from ..fitting import FitWarning

        what = "did not converge" if not statistics["success"] else f"has parameters at a bound: {at_bound_all}"
        warnings.warn(f"joint fit {what}", FitWarning, stacklevel=2)
    return JointFitResult(results, out.params, statistics, applied)


def _on_bound(p: lmfit.Parameter) -> bool:
    span = p.max - p.min if np.isfinite(p.max - p.min) else max(abs(p.value), 1.0)
    tol = 1e-6 * span
    return bool((np.isfinite(p.min) and p.value - p.min <= tol) or (np.isfinite(p.max) and p.max - p.value <= tol))
