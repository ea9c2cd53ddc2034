"""Backgrounds for peak fitting: functions on arrays and the model components that use them.

Functions (all accept stacks: ``y`` of shape ``(..., m)`` along a 1-D axis ``x``):

- :func:`shirley` — the iterative Shirley background (Shirley, Phys. Rev. B 5, 4709 (1972),
  doi:10.1103/PhysRevB.5.4709; iteration as in Proctor & Sherwood, Anal. Chem. 54, 13 (1982),
  doi:10.1021/ac00238a008) with end points averaged over a few channels, as CasaXPS does.
- :func:`tougaard` — Tougaard background with the universal inelastic cross-section: ``U 2``
  ``K(T) = B T / (C + T²)²`` (Tougaard, Surf. Interface Anal. 11, 453 (1988); the "universal"
  two-parameter form, C = 1643 eV², B ≈ 2866 eV² for metals, Tougaard Solid State Commun. 61, 547
  (1987), doi:10.1016/0038-1098(87)90166-9; see also Tougaard, J. Vac. Sci. Technol. A 14, 1415 (1996))
  and ``U 3`` ``K(T) = B T / ((C − T²)² + D T²)`` (Tougaard, Surf. Interface Anal. 25, 137 (1997),
  doi:10.1002/(SICI)1096-9918(199703)25:3<137::AID-SIA230>3.0.CO;2-L), with an optional gap
  ``K(T) = 0`` for ``T < gap`` as CasaXPS applies it. ``B`` is either given or chosen so that the
  background meets the data at the high-binding-energy end (CasaXPS's default).

Why own code instead of a library: pybaselines has no Shirley or Tougaard; the XPS packages that do
(lmfitxps, pynxtools-xps) handle one spectrum at a time and not CasaXPS's end-point averaging/gap.

Direction: on a ``binding_energy`` axis, inelastic losses raise the background towards high
binding energy; on a ``kinetic_energy`` axis towards low kinetic energy. ``loss_side="high"``
(binding energy) or ``"low"`` (kinetic energy) says which end that is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import ModelError

__all__ = [
    "ActiveShirley",
    "Background",
    "Constant",
    "Linear",
    "Polynomial",
    "Shirley",
    "Tougaard",
    "end_average",
    "shirley",
    "tougaard",
    "tougaard_kernel",
]


def _oriented(x: np.ndarray, loss_side: str) -> tuple[np.ndarray, bool]:
    """Return an order in which the loss (background-rising) side comes last, and whether flipped."""
    x = np.asarray(x, dtype=float)
    increasing = x[-1] > x[0]
    flip = increasing != (loss_side == "high")
    return x, flip


def end_average(y: np.ndarray, points: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the first and last ``points`` channels (each end), for each spectrum of a stack."""
    points = max(int(points), 1)
    return y[..., :points].mean(axis=-1), y[..., -points:].mean(axis=-1)


def _ends(ends: tuple, shape: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Explicit end levels ``(no-loss end, loss end)`` (e.g. CasaXPS's centred averages)."""
    lo, hi = (np.broadcast_to(np.asarray(v, dtype=float), shape) for v in ends)
    return lo, hi


def _cumtrapz(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Cumulative trapezoid integral along the last axis, starting at 0."""
    dx = np.diff(x)
    if dx.size and np.allclose(dx, dx[0], rtol=1e-12, atol=0):
        # uniform grid: dx · (Σ_{j≤i} y_j − (y_0 + y_i)/2), two passes fewer than the general form
        out = np.cumsum(y, axis=-1, dtype=float)
        out -= 0.5 * y
        out -= 0.5 * y[..., :1]
        out *= dx[0]
        return out
    steps = 0.5 * (y[..., 1:] + y[..., :-1]) * dx
    out = np.zeros_like(y, dtype=float)
    np.cumsum(steps, axis=-1, out=out[..., 1:])
    return out


def shirley(
    x: np.ndarray,
    y: np.ndarray,
    *,
    loss_side: str = "high",
    average_points: int = 1,
    max_iter: int = 100,
    tol: float = 1e-12,
    ends: tuple | None = None,
) -> np.ndarray:
    """Iterative Shirley background of ``y`` (shape ``(..., m)``) on axis ``x``.

    ``B(E) = I_low + (I_high − I_low) · ∫_{low}^{E} (y − B) / ∫_{low}^{high} (y − B)``, iterated to a
    fixed point; ``I_low``/``I_high`` are means over ``average_points`` channels at each end.
    """
    x, flip = _oriented(x, loss_side)
    y = np.asarray(y, dtype=float)
    if flip:
        x, y = x[::-1], y[..., ::-1]
    xs = np.abs(x - x[0])  # integrate in |distance| from the no-loss end
    lo, hi = end_average(y, average_points) if ends is None else _ends(ends, y.shape[:-1])
    lo, hi = lo[..., None], hi[..., None]
    shape = y.shape
    y2 = y.reshape(-1, shape[-1])
    lo2, hi2 = lo.reshape(-1, 1), hi.reshape(-1, 1)
    # filled block by block (in the worker threads) with each spectrum's no-loss level, the start
    # of the iteration; the largest |y| without an |y| temporary (a 10,000-spectrum map: 48 MB)
    bg = np.empty(y2.shape)
    limit = tol * max(1.0, max(float(y2.max()), -float(y2.min())) if y2.size else 1.0)
    # Blocks of rows iterated to convergence one after the other: each row's iteration is independent
    # of the others (same result), and a block's temporaries stay in the CPU cache (a map of 10,000
    # spectra iterated all at once streams ~50 MB through memory per pass: ~2x slower).
    block = max(1, _SHIRLEY_BLOCK_BYTES // (8 * max(shape[-1], 1)))
    steps = np.diff(xs)
    uniform = bool(steps.size) and np.allclose(steps, steps[0], rtol=1e-12, atol=0)

    from .model import _fast  # the compiled kernels, when built (see specfit/_ckernels.c)

    lib = _fast.library()
    xs_c = np.ascontiguousarray(xs, dtype=float)

    def iterate(start: int) -> None:  # blocks write disjoint rows of bg: safe in threads
        part = slice(start, start + block)
        if lib is not None:
            rows = np.ascontiguousarray(y2[part])
            lo_c, hi_c = (np.ascontiguousarray(v[part].ravel(), dtype=float) for v in (lo2, hi2))
            if np.isfinite(rows).all() and np.isfinite(lo_c).all() and np.isfinite(hi_c).all():
                # the same iteration in C (finite data only), one row at a time: 2.5x faster
                _fast.shirley_rows(lib, rows, lo_c, hi_c, xs_c, uniform, limit, max_iter, bg[part])
                return
        bg[part] = lo2[part]
        _shirley_iterate(y2[part], lo2[part], hi2[part], bg[part], xs, limit, max_iter, uniform)

    starts = range(0, y2.shape[0], block)
    threads = min(2, os.cpu_count() or 1)
    if threads > 1 and len(starts) >= 4:
        # numpy releases the GIL in the block's array passes: a 5,000-spectrum map's background took
        # 0.29 s in one thread
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(iterate, starts))
    else:
        for start in starts:
            iterate(start)
    bg = bg.reshape(shape)
    return bg[..., ::-1] if flip else bg


#: bytes of one block of spectra in :func:`shirley` (about 2 ms of work: cache-sized, few Python calls)
_SHIRLEY_BLOCK_BYTES = 2**19


def _shirley_iterate(y2, lo2, hi2, bg, xs, limit, max_iter, uniform=False) -> None:
    """Shirley fixed-point iteration of the rows of ``y2`` (2-D), updating ``bg`` (a view) in place."""
    active = np.arange(y2.shape[0])  # spectra still iterating: converged ones drop out
    for _ in range(max_iter):
        if not active.size:
            break
        rows = slice(None) if active.size == y2.shape[0] else active  # no fancy-index copies while all iterate
        current = bg[rows]
        if uniform:
            # Uniform grid: the normalised trapezoid integral is (S_i - d_i/2 - d_0/2) / (S_-1 - d_-1/2 - d_0/2)
            # with S the cumulative sum of d = y - B (the step cancels): the division, the scaling
            # and the offset fold into one factor and one offset per row (4 array passes fewer).
            cum = y2[rows] - current
            half = cum * 0.5
            np.cumsum(cum, axis=1, out=cum)
            cum -= half
            total = cum[:, -1:] - half[:, :1]
            ok = np.abs(total) > 0
            factor = (hi2[rows] - lo2[rows]) / np.where(ok, total, 1.0)
            cum *= factor
            cum += lo2[rows] - half[:, :1] * factor
        else:
            cum = _cumtrapz(y2[rows] - current, xs)
            total = cum[:, -1:]
            ok = np.abs(total) > 0
            cum /= np.where(ok, total, 1.0)
            cum *= hi2[rows] - lo2[rows]
            cum += lo2[rows]
        if not ok.all():
            cum = np.where(ok, cum, lo2[rows])
        current -= cum  # (old - new), in place: `current` is not needed any more
        np.abs(current, out=current)
        change = current.max(axis=1)
        bg[rows] = cum
        active = active[change > limit]


def tougaard_kernel(T: np.ndarray, B: float, C: float, D: float = 0.0, form: str = "U3", gap: float = 0.0):
    """Universal cross-section ``K(T)`` (U2: ``B T/(C+T²)²``; U3: ``B T/((C−T²)² + D T²)``); 0 below ``gap``."""
    T = np.asarray(T, dtype=float)
    if form.upper() == "U2":
        k = B * T / (C + T * T) ** 2
    elif form.upper() == "U3":
        k = B * T / ((C - T * T) ** 2 + D * T * T)
    else:
        raise ModelError(f"Tougaard form {form!r} not known; use 'U2' or 'U3'")
    return np.where(T >= gap - 1e-9, k, 0.0)


def tougaard(
    x: np.ndarray,
    y: np.ndarray,
    *,
    B: float | None = None,
    C: float = 1643.0,
    D: float = 0.0,
    form: str = "U2",
    gap: float = 0.0,
    loss_side: str = "high",
    average_points: int = 1,
    ends: tuple | None = None,
) -> np.ndarray:
    """Tougaard background ``y_0 + ∫_0 K(T) (y(E + T) − y_0) dT`` on a uniform axis.

    ``y_0`` is the mean of ``average_points`` channels at the no-loss end (or ``ends[0]``; ``ends``
    gives ``(no-loss end level, loss end level)`` explicitly, e.g. CasaXPS's averages centred on the
    region limits, which reach one channel outside the region). With ``B=None``, ``B`` is
    chosen per spectrum so the background meets the data average at the loss end.
    The integral is a Riemann sum on the channel grid (as CasaXPS evaluates it).
    """
    x, flip = _oriented(x, loss_side)
    y = np.asarray(y, dtype=float)
    if flip:
        x, y = x[::-1], y[..., ::-1]
    step = np.diff(x)
    if step.size and not np.allclose(step, step[0], rtol=1e-6, atol=1e-9):
        raise ModelError("Tougaard background needs a uniformly spaced axis")
    dx = abs(step[0]) if step.size else 1.0
    m = y.shape[-1]
    lo, hi = end_average(y, average_points) if ends is None else _ends(ends, y.shape[:-1])
    j = y - lo[..., None]
    K = tougaard_kernel(np.arange(m) * dx, 1.0, C, D, form, gap) * dx
    # background at channel i (loss end last) gathers j at channels i - t (closer to the no-loss end)
    integral = np.zeros_like(j)
    for t in range(1, m):
        if K[t] == 0.0:
            continue
        integral[..., t:] += K[t] * j[..., :-t]
    if B is None:
        end = integral[..., -1]
        Bv = np.where(np.abs(end) > 0, (hi - lo) / np.where(np.abs(end) > 0, end, 1.0), 0.0)[..., None]
    else:
        Bv = B
    bg = lo[..., None] + Bv * integral
    return bg[..., ::-1] if flip else bg


# ---------------------------------------------------------------------------- model components


@dataclass
class Background:
    """Base class of background components of a :class:`specfit.Model`.

    ``static`` backgrounds are computed from the data before the peaks are fitted (Shirley,
    Tougaard); the others are functions with fit parameters named ``bg_<name>``.
    """

    static = False
    kind = "background"
    name: str = "background"

    def param_specs(self) -> list[tuple[str, float, float, float, bool]]:
        """``(parameter name, value, min, max, vary)`` of this background's fit parameters."""
        return []

    def evaluate(self, x: np.ndarray, values: dict[str, Any], peaks: np.ndarray | None = None, **ctx) -> np.ndarray:
        raise NotImplementedError

    def from_data(self, x: np.ndarray, y: np.ndarray, loss_side: str) -> np.ndarray:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind}

    def guess(self, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
        return {}


def _pname(i: int) -> str:
    return f"bg_c{i}"


@dataclass
class Polynomial(Background):
    """Polynomial ``Σ c_i t^i`` in ``t = (x − x_mid)/half_range`` (well conditioned), fit parameters ``bg_c0..``."""

    kind = "polynomial"
    degree: int = 1
    name: str = "background"

    def param_specs(self):
        return [(_pname(i), 0.0, -np.inf, np.inf, True) for i in range(self.degree + 1)]

    @staticmethod
    def _t(x):
        x = np.asarray(x, dtype=float)
        mid = 0.5 * (x.max() + x.min())
        half = 0.5 * (x.max() - x.min()) or 1.0
        return (x - mid) / half

    def evaluate(self, x, values, peaks=None, **ctx):
        t = self._t(x)
        out = 0.0
        for i in range(self.degree + 1):
            out = (
                out + np.asarray(values[_pname(i)])[..., None] * t**i
                if np.ndim(values[_pname(i)])
                else (out + values[_pname(i)] * t**i)
            )
        return out

    def guess(self, x, y):
        t = self._t(x)
        lo, hi = end_average(np.asarray(y, float), 3)
        g = {_pname(i): 0.0 for i in range(self.degree + 1)}
        g[_pname(0)] = float(min(lo, hi))
        if self.degree >= 1:
            g[_pname(1)] = 0.0 * float(t[-1])
        return g

    def to_dict(self):
        return {"type": self.kind, "degree": self.degree}


@dataclass
class Linear(Polynomial):
    """Straight-line background (``bg_c0 + bg_c1 t``)."""

    kind = "linear"
    degree: int = 1

    def to_dict(self):
        return {"type": self.kind}


@dataclass
class Constant(Polynomial):
    """Constant offset ``bg_c0``."""

    kind = "constant"
    degree: int = 0

    def to_dict(self):
        return {"type": self.kind}


@dataclass
class Shirley(Background):
    """Iterative Shirley background computed from the data (per spectrum) before fitting the peaks."""

    static = True
    kind = "shirley"
    average_points: int = 5
    name: str = "background"

    def from_data(self, x, y, loss_side, ends=None):
        return shirley(x, y, loss_side=loss_side, average_points=self.average_points, ends=ends)

    def to_dict(self):
        return {"type": self.kind, "average_points": self.average_points}


@dataclass
class Tougaard(Background):
    """Tougaard background computed from the data (per spectrum); ``B=None`` meets the loss-end data."""

    static = True
    kind = "tougaard"
    B: float | None = None
    C: float = 1643.0
    D: float = 0.0
    form: str = "U2"
    gap: float = 0.0
    average_points: int = 5
    name: str = "background"

    def from_data(self, x, y, loss_side, ends=None):
        return tougaard(
            x,
            y,
            B=self.B,
            C=self.C,
            D=self.D,
            form=self.form,
            gap=self.gap,
            loss_side=loss_side,
            average_points=self.average_points,
            ends=ends,
        )

    def to_dict(self):
        d = {
            "type": self.kind,
            "C": self.C,
            "D": self.D,
            "form": self.form,
            "gap": self.gap,
            "average_points": self.average_points,
        }
        if self.B is not None:
            d["B"] = self.B
        return d


@dataclass
class ActiveShirley(Background):
    """Shirley background refined inside the fit: ``bg_offset + bg_k · ∫(peaks)`` from the no-loss end.

    The step ``bg_k`` and the offset are fit parameters, so background and peaks are found together
    (the "active" background of Herrera-Gomez et al., Surf. Interface Anal. 46, 897 (2014),
    doi:10.1002/sia.5453).
    """

    kind = "active_shirley"
    name: str = "background"
    _scale: dict = field(default_factory=dict, repr=False)

    def param_specs(self):
        return [("bg_offset", 0.0, -np.inf, np.inf, True), ("bg_k", 0.0, 0.0, np.inf, True)]

    def guess(self, x, y):
        lo, hi = end_average(np.asarray(y, float), 3)
        return {"bg_offset": float(min(lo, hi)), "bg_k": 0.0}

    def evaluate(self, x, values, peaks=None, loss_side="high", **ctx):
        x, flip = _oriented(x, loss_side)
        p = peaks[..., ::-1] if flip else peaks
        xs = np.abs(x[::-1] - x[::-1][0]) if flip else np.abs(x - x[0])
        cum = _cumtrapz(p, xs)
        cum = cum[..., ::-1] if flip else cum
        off, k = values["bg_offset"], values["bg_k"]
        if np.ndim(off):
            off, k = np.asarray(off)[..., None], np.asarray(k)[..., None]
        return off + k * cum


BACKGROUNDS = {
    "linear": Linear,
    "polynomial": Polynomial,
    "constant": Constant,
    "offset": Constant,
    "shirley": Shirley,
    "tougaard": Tougaard,
    "active_shirley": ActiveShirley,
}


def background_from_dict(spec: dict[str, Any] | str) -> Background:
    """Build a background from its model-file table (``{"type": "shirley", ...}``) or a type name."""
    if isinstance(spec, str):
        spec = {"type": spec}
    spec = dict(spec)
    kind = str(spec.pop("type", "")).lower()
    if kind not in BACKGROUNDS:
        raise ModelError(f"unknown background type {kind!r}; known: {', '.join(BACKGROUNDS)}")
    cls = BACKGROUNDS[kind]
    try:
        return cls(**spec)
    except TypeError as exc:
        raise ModelError(f"background {kind!r}: {exc}") from exc
