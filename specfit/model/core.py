"""The :class:`Model` (peaks + one background + fit range), its TOML form and its vectorised evaluator."""

from __future__ import annotations

import ast
import math
import pickle
import sys
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import lmfit
import numpy as np

from ..backgrounds import Background, background_from_dict
from ..errors import ModelError
from ..lineshapes import _gl_integral
from .components import Doublet, Line, Peak, core_level

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["CompiledModel", "Model", "compiled_model", "load_model"]

_COMPONENT_KEYS = {"name", "shape", "level", "position", "fwhm", "area", "splitting", "ratio", "width_ratio"}


class Model:
    """A sum of peak components and at most one background, with an optional fit range.

    Build it with ``+`` (``Peak(...) + Doublet(...) + Shirley()``), from a model file
    (:meth:`from_toml`, :func:`load_model`) or from CasaXPS (:mod:`specfit.xps.casaxps`).
    """

    def __init__(
        self,
        components: Iterable[Peak] = (),
        background: Background | None = None,
        range: tuple[float, float] | None = None,  # noqa: A002  (the model-file key)
        name: str = "",
        description: str = "",
        *,
        validate: bool = True,
    ) -> None:
        self.components: list[Peak] = list(components)
        self.background = background
        self.range = None if range is None else (float(range[0]), float(range[1]))
        self.name = name
        self.description = description
        self._check(validate)

    def _check(self, validate: bool = True) -> None:
        seen = set()
        for c in self.components:
            if c.name in seen:
                raise ModelError(f"two components are named {c.label!r}")
            seen.add(c.name)
            for n in [line.name for line in c.lines("binding_energy")][1:]:
                seen.add(n)
        if not self.components and self.background is None:
            raise ModelError("a model needs at least one component or a background")
        if validate:
            self.make_params()  # validates references, bounds and ties

    def __add__(self, other: Any) -> Model:
        comps, bg = list(self.components), self.background
        if isinstance(other, Model):
            comps += other.components
            if other.background is not None:
                if bg is not None:
                    raise ModelError("a model can hold only one background")
                bg = other.background
        elif isinstance(other, Peak):
            comps.append(other)
        elif isinstance(other, Background):
            if bg is not None:
                raise ModelError("a model can hold only one background")
            bg = other
        else:
            return NotImplemented
        # partial sums may refer to components still to come: validated when parameters are made
        return Model(comps, bg, self.range, self.name, self.description, validate=False)

    __radd__ = __add__

    def __repr__(self) -> str:
        names = ", ".join(c.label for c in self.components)
        bg = self.background.kind if self.background else "none"
        return f"Model([{names}], background={bg}, range={self.range})"

    # ------------------------------------------------------------------ parameters
    def lines(self, axis: str = "binding_energy") -> list[Line]:
        return [line for c in self.components for line in c.lines(axis)]

    def make_params(self, axis: str = "binding_energy") -> lmfit.Parameters:
        """The model's lmfit Parameters (ties as expressions); unset start values are NaN."""
        params = lmfit.Parameters()
        names = {c.name for c in self.components}
        deferred: list[tuple[str, str]] = []
        # every parameter first, ties afterwards, so expressions may refer to any component
        for c in self.components:
            c.add_params(params, names, axis, deferred)
        if self.background is not None:
            for pn, v, lo, hi, vary in self.background.param_specs():
                params.add(pn, value=v, min=lo, max=hi, vary=vary)
        _dependency_order({n: e for n, e in deferred}, set(params) - {n for n, _ in deferred})
        for name, expr in deferred:
            try:
                params[name].expr = expr
            except (NameError, SyntaxError, TypeError, ValueError) as exc:
                raise ModelError(f"tie {name} = {expr!r} cannot be evaluated: {exc}") from exc
        try:
            params.update_constraints()
        except (NameError, SyntaxError, TypeError, ValueError) as exc:
            raise ModelError(f"ties cannot be evaluated: {exc}") from exc
        return params

    # ------------------------------------------------------------------ model files
    @classmethod
    def from_dict(cls, spec: dict[str, Any], source: str = "<model>") -> Model:
        """Build a model from the model-file structure (see :mod:`specfit.model`)."""
        try:
            comps = [component_from_dict(c) for c in spec.get("components", [])]
            bg = spec.get("background")
            background = background_from_dict(bg) if bg is not None else None
            rng = spec.get("range")
            if rng is not None and (len(rng) != 2 or not all(isinstance(v, int | float) for v in rng)):
                raise ModelError("range must be two numbers [low, high]")
            return cls(
                comps,
                background,
                tuple(sorted(rng)) if rng else None,
                spec.get("name", ""),
                spec.get("description", ""),
            )
        except ModelError as exc:
            raise ModelError(f"{source}: {exc}") from exc

    @classmethod
    def from_toml(cls, path_or_text: str | Path) -> Model:
        """Read a model file (a path, or the TOML text itself)."""
        text, source = _read_text(path_or_text)
        try:
            spec = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ModelError(f"{source}: invalid TOML: {exc}") from exc
        return cls.from_dict(spec, source)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        if self.name:
            d["name"] = self.name
        if self.description:
            d["description"] = self.description
        if self.range:
            d["range"] = list(self.range)
        if self.background is not None:
            d["background"] = self.background.to_dict()
        d["components"] = [c.to_dict() for c in self.components]
        return d

    def to_toml(self) -> str:
        """The model as model-file TOML text (read back by :meth:`from_toml`)."""
        return dump_toml(self.to_dict())


def component_from_dict(spec: dict[str, Any]) -> Peak:
    spec = dict(spec)
    if "name" not in spec:
        raise ModelError(f"component {spec} has no name")
    name = spec.pop("name")
    vary = {k[: -len("_vary")]: bool(spec.pop(k)) for k in list(spec) if k.endswith("_vary")}
    level = spec.pop("level", None)
    kwargs = {k: spec.pop(k) for k in list(spec) if k in _COMPONENT_KEYS}
    if level is not None:
        entry = core_level(level)
        if "splitting" in entry or "splitting" in kwargs:
            return Doublet(name, level, vary=vary, **kwargs, **spec)
    for k in ("splitting", "ratio", "width_ratio"):
        if k in kwargs:
            raise ModelError(f"component {name!r}: {k} needs a doublet level (e.g. level = 'S 2p')")
    peak = Peak(name, vary=vary, **kwargs, **spec)
    if level is not None:  # a singlet's level (C 1s) labels it (region of results, quantification)
        peak.level = " ".join(str(level).split())
    return peak


def _read_text(path_or_text: str | Path) -> tuple[str, str]:
    if isinstance(path_or_text, Path) or ("\n" not in str(path_or_text) and "=" not in str(path_or_text)):
        path = Path(path_or_text)
        if not path.exists():
            raise ModelError(f"{path}: model file not found")
        return path.read_text(encoding="utf-8"), str(path)
    return str(path_or_text), "<model text>"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float | np.number):
        f = float(v)
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        if math.isnan(f):
            return "nan"
        return repr(int(v)) if isinstance(v, int | np.integer) else repr(f)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


def dump_toml(d: dict[str, Any]) -> str:
    """Write the (flat) model-file structure as TOML (top-level keys, [tables], [[arrays of tables]])."""
    lines = [
        f"{k} = {_toml_value(v)}"
        for k, v in d.items()
        if not isinstance(v, dict | list) or (isinstance(v, list) and not (v and isinstance(v[0], dict)))
    ]
    for k, v in d.items():
        if isinstance(v, dict):
            lines += ["", f"[{k}]"] + [f"{kk} = {_toml_value(vv)}" for kk, vv in v.items()]
    for k, v in d.items():
        if isinstance(v, list) and v and isinstance(v[0], dict):
            for item in v:
                lines += ["", f"[[{k}]]"] + [f"{kk} = {_toml_value(vv)}" for kk, vv in item.items()]
    return "\n".join(lines) + "\n"


def load_model(name_or_path: str | Path) -> Model:
    """Load a model file by path, or a template by name from ``reference_library/*/templates/<name>.toml``."""
    path = Path(name_or_path)
    if path.suffix.lower() == ".toml" and path.exists():
        return Model.from_toml(path)
    if path.exists():
        return Model.from_toml(path)
    from ..reference import reference_dir

    stem = path.stem if path.suffix.lower() == ".toml" else str(name_or_path)
    hits = sorted(reference_dir().glob(f"*/templates/{stem}.toml"))
    if not hits:
        available = sorted(p.stem for p in reference_dir().glob("*/templates/*.toml"))
        raise ModelError(
            f"{name_or_path}: no such model file or template (templates: {', '.join(available) or 'none'})"
        )
    return Model.from_toml(hits[0])


# ---------------------------------------------------------------------------- vectorised evaluator

_FUNCS = {
    "sqrt": np.sqrt,
    "exp": np.exp,
    "log": np.log,
    "abs": np.abs,
    "min": np.minimum,
    "max": np.maximum,
    "pi": np.pi,
    "e": np.e,
}
_ALLOWED = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Call,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Pow,
    ast.USub,
    ast.UAdd,
    ast.Mod,
)


def _compile_expr(expr: str):
    tree = ast.parse(expr, mode="eval")
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ModelError(f"expression {expr!r}: {type(node).__name__} is not allowed")
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - set(_FUNCS)
    return compile(tree, "<tie>", "eval"), names


def _dependency_order(exprs: dict[str, str], known: set[str]) -> list[str]:
    """Order tied parameters so each comes after what it depends on; refuse cycles and unknown names."""
    deps = {n: _compile_expr(e)[1] for n, e in exprs.items()}
    order, known = [], set(known)
    pending = dict(deps)
    while pending:
        ready = [n for n, d in pending.items() if d <= known]
        if not ready:
            unknown = sorted(set().union(*pending.values()) - known - set(pending))
            if unknown:
                raise ModelError(f"ties refer to unknown parameters {unknown}")
            raise ModelError(f"circular ties among {sorted(pending)}")
        for n in ready:
            order.append(n)
            known.add(n)
            pending.pop(n)
    return order


_FLOAT32_JACOBIAN_LEVEL = 1e-8

# the last compiled form of each live model (see compiled_model): weak keys, so a model and its cache
# go together, and nothing of the cache travels with a pickled model (e.g. to dask workers)
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def compiled_model(model: Model, axis: str) -> tuple[lmfit.Parameters, CompiledModel]:
    """``model.make_params(axis)`` and its :class:`CompiledModel`, reused while the model is unchanged.

    Making lmfit Parameters (with their expression interpreter) and compiling the ties took 1.9 ms per
    call of :func:`specfit.fit` — 5 % of fitting a 200-level depth profile — and a script fitting file
    after file, or a chunked fit, makes them again and again for the same model. The model's state
    (components, background, range) is compared in pickled form on every call (7 µs), so a model
    changed in place is compiled afresh. The Parameters are shared between calls: copy them before
    changing anything.
    """
    try:
        state = (axis, pickle.dumps((model.components, model.background, model.range), protocol=5))
        hit = _COMPILED.get(model)
    except Exception:  # e.g. a user-defined component that cannot be pickled, an unhashable model
        state = hit = None
    if state is not None and hit is not None and hit[0] == state:
        return hit[1], hit[2]
    params = model.make_params(axis)
    compiled = CompiledModel(model, params, axis)
    if state is not None:
        _COMPILED[model] = (state, params, compiled)
    return params, compiled


class CompiledModel:
    """The model compiled for fast evaluation of many spectra at once.

    Free parameters (``vary`` and no expression) form a vector; fixed parameters are constants;
    expressions (ties) are compiled Python expressions evaluated on whole arrays in dependency order.
    """

    def __init__(self, model: Model, params: lmfit.Parameters, axis: str) -> None:
        self.model = model
        self.axis = axis
        self.lines = model.lines(axis)
        self.free = [n for n, p in params.items() if p.vary and not p.expr]
        self.fixed = {n: p.value for n, p in params.items() if not p.vary and not p.expr}
        exprs = {n: _compile_expr(p.expr) for n, p in params.items() if p.expr}
        order, known = [], set(self.free) | set(self.fixed)
        pending = dict(exprs)
        while pending:
            ready = [n for n, (_, deps) in pending.items() if deps <= known]
            if not ready:
                raise ModelError(f"circular or unknown references among ties: {sorted(pending)}")
            for n in ready:
                order.append((n, pending.pop(n)[0]))
                known.add(n)
        self.exprs = order
        self.lower = np.array([params[n].min for n in self.free], dtype=float)
        self.upper = np.array([params[n].max for n in self.free], dtype=float)
        self.names = list(params)
        self.affine = None
        self._detect_affine(params)

    def _detect_affine(self, params: lmfit.Parameters) -> None:
        """When every tie is affine in the free parameters (same FWHM, offsets, fixed ratios, doublets),
        all values are ``P @ A + b``: found numerically here and verified at random points."""
        k = len(self.free)
        if k == 0:
            return
        start = np.array([params[n].value for n in self.free], dtype=float)
        start = np.where(np.isfinite(start), start, 1.0)
        rng = np.random.default_rng(0)
        probe = start + rng.uniform(-1.0, 1.0, size=(4, k)) * np.maximum(np.abs(start), 1.0)
        base = self._values_eval(np.zeros((1, k)))
        b = np.array([base[n][0] for n in self.names])
        A = np.empty((k, len(self.names)))
        for j in range(k):
            e = np.zeros((1, k))
            e[0, j] = 1.0
            v = self._values_eval(e)
            A[j] = [v[n][0] for n in self.names]
        A -= b
        got = self._values_eval(probe)
        expect = probe @ A + b
        actual = np.stack([got[n] for n in self.names], axis=1)
        with np.errstate(invalid="ignore"):
            ok = np.allclose(actual, expect, rtol=1e-12, atol=1e-12 * np.max(np.abs(actual)))
        if ok and np.all(np.isfinite(A)) and np.all(np.isfinite(b)):
            self.affine = (A, b, {n: i for i, n in enumerate(self.names)})

    def values(self, P: np.ndarray) -> dict[str, np.ndarray]:
        """All parameter values (arrays of shape ``(n,)``) from free-parameter rows ``P`` (n, k)."""
        P = np.atleast_2d(P)
        if self.affine is not None:
            A, b, index = self.affine
            # einsum (numpy's own loop) for long stacks: OpenBLAS would thread this short product, which
            # on a busy 2-core machine took 16 ms instead of 3 ms for 10,000 rows (result tables call
            # this 2k+1 times); chunks of the solver (<= a few hundred rows) stay with BLAS
            V = (P @ A if P.shape[0] <= 512 else np.einsum("nk,kv->nv", P, A)) + b
            return {name: V[:, i] for name, i in index.items()}
        return self._values_eval(P)

    def _values_eval(self, P: np.ndarray) -> dict[str, np.ndarray]:
        P = np.atleast_2d(P)
        n = P.shape[0]
        ns: dict[str, Any] = dict(_FUNCS)
        for i, name in enumerate(self.free):
            ns[name] = P[:, i]
        for name, v in self.fixed.items():
            ns[name] = np.full(n, v)
        for name, code in self.exprs:
            ns[name] = np.broadcast_to(np.asarray(eval(code, {"__builtins__": {}}, ns), dtype=float), (n,))
        return {k: ns[k] for k in self.names}

    def line_curves(self, x: np.ndarray, values: dict[str, np.ndarray]) -> np.ndarray:
        """Every line evaluated: array (n_lines, n, m)."""
        out = []
        for line in self.lines:
            c = values[line.position][:, None]
            f = values[line.fwhm][:, None]
            a = values[line.area][:, None]
            out.append(line.shape(x, c, f, a))
        return np.array(out).reshape(len(self.lines), -1, len(x)) if out else np.zeros((0, 1, len(x)))

    def value_jacobian(self, P: np.ndarray, names: list[str]) -> np.ndarray:
        """∂(parameter value)/∂(free parameters) for ``names``: (n, len(names), k), by central differences
        on the (cheap, per-spectrum scalar) tie expressions; exact for free parameters and linear ties."""
        P = np.atleast_2d(P)
        n, k = P.shape
        if self.affine is not None:
            A, _, idx = self.affine
            cols = A[:, [idx[nm] for nm in names]].T  # (len(names), k): the same for every spectrum
            return np.broadcast_to(cols, (n, len(names), k))
        out = np.zeros((n, len(names), k))
        index = {name: i for i, name in enumerate(self.free)}
        tied = [i for i, name in enumerate(names) if name not in index and name not in self.fixed]
        for i, name in enumerate(names):
            if name in index:
                out[:, i, index[name]] = 1.0
        if tied:
            for j in range(k):
                h = 1e-6 * np.maximum(np.abs(P[:, j]), 1e-3)
                Pp, Pm = P.copy(), P.copy()
                Pp[:, j] += h
                Pm[:, j] -= h
                vp, vm = self.values(Pp), self.values(Pm)
                for i in tied:
                    out[:, i, j] = (vp[names[i]] - vm[names[i]]) / (2 * h)
        return out

    #: rows evaluated together: keeps the (rows x points) temporaries in the CPU cache
    chunk = 128

    def jacobian(
        self,
        x: np.ndarray,
        P: np.ndarray,
        loss_side: str = "high",
        scale: np.ndarray | None = None,
        dtype: type = np.float64,
        negate: bool = False,
    ) -> np.ndarray:
        """∂(peaks + dynamic background)/∂(free parameters): (n, m, k).

        Line-shape derivatives are analytic where the shape allows (G, L, GL, SGL, pseudo-Voigt);
        ties enter through the chain rule (:meth:`value_jacobian`). Rows are processed in chunks;
        ``scale`` (n, m) multiplies each row (e.g. the weights for the residual's Jacobian) and
        ``negate`` flips the sign (residual = (data - model) * weights) without an (n, m) temporary.
        ``dtype=np.float32`` returns a single-precision Jacobian (~2x faster, relative error ~5e-7; for
        the iterations of a solver, not for covariances); a model with a dynamic background is always
        evaluated in double precision.
        """
        P = np.atleast_2d(P)
        n, k = P.shape
        call = self._jacobian_kernel_args(x, P, scale, dtype, negate)
        if call is not None:
            kernels, args = call
            # (n, k, m): each spectrum's J^T is contiguous, so J^T J is a plain batched product
            return kernels.jacobian(*args, k, dtype).transpose(0, 2, 1)
        if negate:
            scale = -np.ones((n, x.size)) if scale is None else -np.asarray(scale)
        if n <= self.chunk:
            J = self._jacobian_rows(x, P, loss_side, dtype)
            if scale is not None:
                # in place (J is a fresh array), one contiguous (n, m) block per parameter, in J's precision
                Jt = np.moveaxis(J, -1, 0)
                scale = np.asarray(scale, dtype=J.dtype)
                for j in range(k):
                    Jt[j] *= scale
            return J
        # parameter-major storage; the returned (n, m, k) array is a view of it (no strided copy)
        bg = self.model.background
        Jt = np.empty((k, n, x.size), dtype=np.float64 if bg is not None and not bg.static else dtype)

        def work(s: int) -> None:
            block = np.moveaxis(self._jacobian_rows(x, P[s : s + self.chunk], loss_side, dtype), -1, 0)
            Jt[:, s : s + self.chunk] = block if scale is None else block * scale[s : s + self.chunk]

        self._map(work, range(0, n, self.chunk))
        return np.moveaxis(Jt, 0, -1)

    def normal_equations(
        self,
        x: np.ndarray,
        P: np.ndarray,
        r: np.ndarray,
        scale: np.ndarray | None = None,
        dtype: type = np.float64,
        negate: bool = False,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """``(J^T J, J^T r)`` of :meth:`jacobian` (same arguments) for residuals ``r`` (n, m), without
        storing J: (n, k, k) and (n, k) in double precision. None where the compiled kernels do not
        apply (then use :meth:`jacobian`)."""
        P = np.atleast_2d(P)
        call = self._jacobian_kernel_args(x, P, scale, dtype, negate)
        if call is None:
            return None
        kernels, args = call
        return kernels.jacobian_normal(*args, np.ascontiguousarray(r, dtype=np.float64), P.shape[1], dtype)

    def kernels_apply(self) -> bool:
        """Whether the compiled kernels evaluate this model's Jacobian (and :meth:`normal_equations`):
        built, lines of kinds they take, affine ties, no background refined in the fit."""
        bg = self.model.background
        return self._compiled_lines() is not None and (bg is None or bg.static)

    def _jacobian_kernel_args(self, x, P, scale, dtype, negate) -> tuple | None:
        """``(kernels module, leading arguments)`` of the compiled Jacobian kernels for rows ``P``, or None
        where they do not apply."""
        n = P.shape[0]
        if not n or not self.kernels_apply():
            return None
        kernels, lib, M, NORM, HALF, HALF32, plan = self._compiled_lines()
        xc, key, sign, C, F, A = self._kernel_inputs(x, P)
        W = np.ones((n, x.size)) if scale is None else np.ascontiguousarray(np.broadcast_to(scale, (n, x.size)))
        if negate:  # the sign goes into the chain-rule coefficients (k numbers, not n x m)
            plan = (plan[0], -plan[1], plan[2])
        half = HALF32 if np.dtype(dtype) == np.float32 else HALF
        return kernels, (lib, xc, key, sign, C, F, A, M, NORM, half, plan, W)

    #: worker threads for chunked evaluation (numpy releases the GIL inside its array operations);
    #: 1 by default: on a loaded 2-core machine threads gave no consistent gain
    threads = 1

    def _map(self, func, starts, threads: int | None = None) -> None:
        starts = list(starts)
        threads = self.threads if threads is None else threads
        if threads <= 1 or len(starts) < 4:
            for s in starts:
                func(s)
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(func, starts))

    def total(self, x: np.ndarray, P: np.ndarray, loss_side: str = "high", threads: int | None = None) -> np.ndarray:
        """peaks + dynamic background, (n, m), evaluated in row chunks (the batch solver's hot path).

        ``threads``: worker threads over the chunks (default :attr:`threads`); for a single call on a
        whole stack (the envelope of the results), not from inside the solver's own threads.
        """
        P = np.atleast_2d(P)
        n = P.shape[0]
        fast = self._compiled_lines()
        if fast is not None and n:
            kernels, lib, M, NORM, HALF = fast[:5]
            xc, key, sign, C, F, A = self._kernel_inputs(x, P)
            out = np.empty((n, x.size))

            def rows(s: int) -> None:  # blocks of rows write disjoint parts of out: safe in threads
                e = s + self.chunk
                kernels.total(lib, xc, key, sign, C[s:e], F[s:e], A[s:e], M, NORM, HALF, out=out[s:e])

            if threads is not None and threads > 1:  # a whole stack at once (the results' envelope)
                self._map(rows, range(0, n, self.chunk), threads)
            else:  # the solver's calls: one kernel call
                kernels.total(lib, xc, key, sign, C, F, A, M, NORM, HALF, out=out)
            bg = self.model.background
            if bg is not None and not bg.static:
                out += bg.evaluate(x, self.values(P), peaks=out, loss_side=loss_side)
            return out
        out = np.empty((n, x.size))

        def work(s: int) -> None:
            rows = P[s : s + self.chunk]
            values = self.values(rows)
            peaks = out[s : s + self.chunk]  # accumulate in place: no per-chunk temporary and copy
            peaks[...] = 0.0
            for line in self.lines:
                c, f, a = (values[nm][:, None] for nm in (line.position, line.fwhm, line.area))
                cols = self._window(x, line, c, f)
                peaks[:, cols] += line.shape(x[cols], c, f, a)
            bg = self.model.background
            if bg is not None and not bg.static:
                peaks += bg.evaluate(x, values, peaks=peaks, loss_side=loss_side)

        self._map(work, range(0, n, self.chunk), threads)
        return out

    @staticmethod
    def _window(x: np.ndarray, line: Line, c: np.ndarray, f: np.ndarray, level: float = 1e-17) -> slice:
        """The columns of ``x`` where ``line`` is above ``level`` of its maximum for any of these spectra
        (a slice; the whole axis for shapes with power-law tails). ``x`` must be monotonic."""
        half = line.shape.support(level)
        if not np.isfinite(half) or x.size < 2:
            return slice(None)
        # from the extremes of c and |f| (a window at most marginally wider than the exact union;
        # a few scalar reductions instead of (n,)-array arithmetic: this runs per line and call)
        reach = half * float(np.max(np.abs(f)))
        lo, hi = float(np.min(c)) - reach, float(np.max(c)) + reach
        if x[0] <= x[-1]:
            i0, i1 = np.searchsorted(x, lo, "left"), np.searchsorted(x, hi, "right")
        else:  # descending axis (binding energy as measured)
            i0 = x.size - np.searchsorted(x[::-1], hi, "right")
            i1 = x.size - np.searchsorted(x[::-1], lo, "left")
        if i0 == 0 and i1 == x.size:
            return slice(None)
        return slice(int(i0), int(max(i1, i0)))

    def _affine_plan(self, dv_all: np.ndarray) -> list[list[list[tuple[int, float]]]]:
        """Per line and (position, fwhm, area): the (free parameter, coefficient) pairs of the chain
        rule, for affine ties (the same for every spectrum; computed once)."""
        plan = getattr(self, "_plan", None)
        if plan is None:
            coeff = dv_all[0]  # (3 * lines, k)
            plan = [
                [[(int(j), float(coeff[3 * li + q, j])) for j in np.flatnonzero(coeff[3 * li + q])] for q in range(3)]
                for li in range(len(self.lines))
            ]
            self._plan = plan
        return plan

    def _compiled_lines(self) -> tuple | None:
        """Per-line arrays for the compiled GL kernels (:mod:`specfit.model._fast`), or None where they do
        not apply: extension not built or CPU without AVX2/FMA, a line shape other than G, L and GL(m),
        or ties that are not affine (the chain rule is then per spectrum)."""
        if "_fast" in self.__dict__:
            return self._fast
        self._fast = None
        from . import _fast

        lib = _fast.library()
        if lib is None or not self.lines or self.affine is None or not self.free:
            return None
        shapes = []
        for line in self.lines:
            kind = line.shape.kind
            if kind not in ("gaussian", "lorentzian", "gl"):
                return None
            m = {"gaussian": 0.0, "lorentzian": 1.0}.get(kind, line.shape.params.get("p", 30.0) / 100.0)
            shapes.append((m, _gl_integral(m), line.shape.support(), line.shape.support(_FLOAT32_JACOBIAN_LEVEL)))
        M, NORM, HALF, HALF32 = (np.array(col, dtype=float) for col in zip(*shapes))
        HALF, HALF32 = (np.where(np.isfinite(h), h, -1.0) for h in (HALF, HALF32))  # -1: the whole axis
        names = [nm for line in self.lines for nm in (line.position, line.fwhm, line.area)]
        plan = self._affine_plan(self.value_jacobian(np.zeros((1, len(self.free))), names))
        width = max(1, max(len(q) for line_plan in plan for q in line_plan))
        plan_j = np.zeros((len(self.lines), 3, width), dtype=np.int64)
        plan_c = np.zeros((len(self.lines), 3, width))
        plan_n = np.zeros((len(self.lines), 3), dtype=np.int64)
        for li, line_plan in enumerate(plan):
            for q, entries in enumerate(line_plan):
                plan_n[li, q] = len(entries)
                for t, (j, cj) in enumerate(entries):
                    plan_j[li, q, t], plan_c[li, q, t] = j, cj
        self._fast = (_fast, lib, M, NORM, HALF, HALF32, (plan_j, plan_c, plan_n))
        return self._fast

    def _kernel_inputs(self, x: np.ndarray, P: np.ndarray) -> tuple:
        """x (contiguous), its ascending key and sign, and (n, lines) positions, widths and areas."""
        Amat, b, index = self.affine  # the kernels are only used with affine ties
        cols = self.__dict__.get("_kernel_columns")
        if cols is None:  # columns of the values (P @ A + b) holding each line's position, width, area
            cols = [np.array([index[getattr(line, q)] for line in self.lines]) for q in ("position", "fwhm", "area")]
            self._kernel_columns = cols
        P = np.atleast_2d(P)
        small = P.shape[0] <= 512  # as in values(): BLAS for solver chunks, einsum for long stacks
        C, F, A = ((P @ Amat[:, c] if small else np.einsum("nk,kv->nv", P, Amat[:, c])) + b[c] for c in cols)
        x = np.ascontiguousarray(x, dtype=float)
        sign = 1.0 if x.size < 2 or x[0] <= x[-1] else -1.0
        key = x if sign > 0 else -x
        return x, key, sign, C, F, A

    def _jacobian_rows(self, x: np.ndarray, P: np.ndarray, loss_side: str, dtype: type = np.float64) -> np.ndarray:
        P = np.atleast_2d(P)
        n, k = P.shape
        values = self.values(P)
        bg = self.model.background
        dynamic_bg = bg is not None and not bg.static
        if dynamic_bg:
            dtype = np.float64  # the background's cumulative integrals stay in double precision
        # A single-precision Jacobian (a solver's iterations) resolves ~6e-8 of its largest entries: the
        # lines' tails below 1e-8 of their maximum are left out of it (GL(30): 2.9 instead of 4.3 widths
        # each side, a third fewer points). The double-precision Jacobian (covariances) keeps 1e-17.
        level = _FLOAT32_JACOBIAN_LEVEL if np.dtype(dtype) == np.float32 else 1e-17
        Jt = np.zeros((k, n, x.size), dtype=dtype)  # parameter-major: contiguous updates
        peaks = np.zeros((n, x.size)) if dynamic_bg else None  # the dynamic background needs the peaks
        all_names = [nm for line in self.lines for nm in (line.position, line.fwhm, line.area)]
        dv_all = self.value_jacobian(P, all_names)  # (n, 3 * lines, k), one pass for every line
        plan = self._affine_plan(dv_all) if self.affine is not None else None
        for li, line in enumerate(self.lines):
            names = [line.position, line.fwhm, line.area]
            dv = dv_all[:, 3 * li : 3 * li + 3, :]
            c, f, a = (values[nm][:, None] for nm in names)
            cols = self._window(x, line, c, f, level)
            curve, dc, dF, da = line.shape.derivatives(x[cols], c, f, a, value=dynamic_bg, dtype=dtype)
            if dynamic_bg:
                peaks[:, cols] += curve
            for d, q in ((dc, 0), (dF, 1), (da, 2)):
                if plan is not None:
                    # affine ties: the chain-rule coefficients are the same for every spectrum
                    for j, cj in plan[li][q]:
                        if cj == 1.0:
                            Jt[j][:, cols] += d
                        else:
                            Jt[j][:, cols] += d * d.dtype.type(cj)  # keep d's precision
                    continue
                coeff = dv[:, q, :]  # (n, k): usually one unit entry (a free parameter)
                for j in np.nonzero(np.any(coeff != 0, axis=0))[0]:
                    cj = coeff[:, j]
                    if np.all(cj == 1.0):
                        Jt[j][:, cols] += d
                    else:
                        Jt[j][:, cols] += d * cj[:, None]
        if dynamic_bg:
            names = [nm for nm, *_ in bg.param_specs()]
            dv = self.value_jacobian(P, names)
            if bg.kind == "active_shirley":
                from ..backgrounds import _cumtrapz, _oriented

                xo, flip = _oriented(x, loss_side)
                xs = np.abs(xo - xo[0])
                kval = values["bg_k"][:, None, None]

                def cum(arr):  # cumulative integral from the no-loss end along the spectral axis
                    moved = np.moveaxis(arr, 1, -1)
                    if flip:
                        moved = moved[..., ::-1]
                    out = _cumtrapz(moved, xs if not flip else np.abs(xo[::-1] - xo[::-1][0]))
                    if flip:
                        out = out[..., ::-1]
                    return np.moveaxis(out, -1, 1)

                J = np.moveaxis(Jt, 0, -1)
                J = J + kval * cum(J)
                dcum = cum(peaks[:, :, None])[:, :, 0]
                J += dv[:, names.index("bg_offset"), None, :] * 1.0
                J += dcum[:, :, None] * dv[:, names.index("bg_k"), None, :]
                return J
            else:
                base = bg.evaluate(x, {nm: np.zeros(n) for nm in names}, peaks=peaks, loss_side=loss_side)
                for i, nm in enumerate(names):
                    unit = {q: np.zeros(n) for q in names}
                    unit[nm] = np.ones(n)
                    d = np.broadcast_to(bg.evaluate(x, unit, peaks=peaks, loss_side=loss_side) - base, (n, x.size))
                    for j in np.nonzero(np.any(dv[:, i, :] != 0, axis=0))[0]:
                        Jt[j] += d * dv[:, i, j, None]
        return np.moveaxis(Jt, 0, -1)

    def evaluate(self, x: np.ndarray, P: np.ndarray, loss_side: str = "high"):
        """``(peaks, dynamic background, line curves)`` for free rows ``P``."""
        values = self.values(P)
        curves = self.line_curves(x, values)
        n = np.atleast_2d(P).shape[0]
        peaks = curves.sum(axis=0) if len(curves) else np.zeros((n, len(x)))
        bg = self.model.background
        if bg is not None and not bg.static:
            dyn = np.broadcast_to(bg.evaluate(x, values, peaks=peaks, loss_side=loss_side), peaks.shape)
        else:
            dyn = np.zeros_like(peaks)
        return peaks, dyn, curves
