"""Peak line shapes as plain numpy functions, each normalised so that ``area`` is the true integral.

Every function has the signature ``f(x, center, fwhm, area, **shape)`` and broadcasts: ``center``,
``fwhm`` and ``area`` may be arrays of shape ``(n, 1)`` to evaluate ``n`` spectra at once on
``x`` of shape ``(m,)`` (used by the vectorised stack fitter).

Definitions (``u = (x - center) / fwhm``, ``F`` the width parameter):

- ``gaussian``: ``exp(-4 ln2 u²)``; FWHM = F.
- ``lorentzian``: ``1 / (1 + 4 u²)``; FWHM = F.
- ``voigt``: convolution of a Gaussian (FWHM ``gaussian_fwhm``) and a Lorentzian (FWHM F), via the
  Faddeeva function (:func:`scipy.special.voigt_profile`). Its true FWHM is reported separately.
- ``pseudo_voigt(eta)``: area-weighted sum ``(1-eta) G + eta L`` (both unit-area, same FWHM F).
- ``gl(p)`` — CasaXPS ``GL(p)`` Gaussian/Lorentzian *product*
  ``exp(-4 ln2 (1-m) u²) / (1 + 4 m u²)``, ``m = p/100``. F is not the true FWHM for 0 < p < 100;
  :func:`true_fwhm` computes it. The area has a closed form:
  ``∫ e^{-a t²}/(1+b t²) dt = (π/√b) e^{a/b} erfc(√(a/b))``.
- ``sgl(p)`` — CasaXPS ``SGL(p)`` *sum* ``(1-m) exp(-4 ln2 u²) + m / (1 + 4 u²)`` (height-mixed, as
  CasaXPS defines it, see http://www.casaxps.com/help_manual/line_shapes.htm); FWHM = F.
- ``la(alpha, beta, gaussian_fwhm)`` — CasaXPS-style ``LA``: a Lorentzian raised to ``alpha`` on the
  low-``x`` side and ``beta`` on the high-``x`` side, convolved with a Gaussian of FWHM
  ``gaussian_fwhm`` (in axis units). On a binding-energy axis the ``beta`` side is the high-BE tail.
  The integral of the asymmetric Lorentzian has a closed form (``alpha, beta > 1/2``):
  ``∫_0^∞ (1 + 4t²/F²)^{-a} dt = F √π Γ(a - 1/2) / (4 Γ(a))``. CasaXPS's integer ``m`` width code is not
  documented publicly, so the Gaussian width here is an explicit FWHM in axis units.
- ``doniach_sunjic(asymmetry)``: the Doniach–Šunjić shape (J. Phys. C 3, 285 (1970),
  doi:10.1088/0022-3719/3/2/010) with Lorentzian FWHM F, tail towards high ``x``. Its integral
  diverges for ``asymmetry > 0``; ``area`` is the integral of the ``asymmetry = 0`` Lorentzian with
  the same amplitude (the usual convention), stated here because it is not the true integral.

:func:`parse_shape` turns a shape string (``"GL(30)"``, ``"SGL(30)"``, ``"LA(1.2, 2.5, 0.6)"``,
``"gaussian"``, ``"voigt(0.5)"``, ``"pseudo_voigt(0.3)"``, ``"DS(0.1)"``) into a :class:`LineShape`.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from .errors import ModelError

__all__ = [
    "SHAPES",
    "LineShape",
    "doniach_sunjic",
    "gaussian",
    "gl",
    "la",
    "lorentzian",
    "parse_shape",
    "pseudo_voigt",
    "sgl",
    "true_fwhm",
    "voigt",
]

LN2 = math.log(2.0)
_G_INTEGRAL = math.sqrt(math.pi / (4.0 * LN2))  # ∫ exp(-4 ln2 u²) du
_L_INTEGRAL = math.pi / 2.0  # ∫ 1/(1+4u²) du


def gaussian(x, center, fwhm, area):
    """Unit-area Gaussian of FWHM ``fwhm`` times ``area``."""
    return _gl_product(x, center, fwhm, area, 0.0)


def lorentzian(x, center, fwhm, area):
    """Unit-area Lorentzian of FWHM ``fwhm`` times ``area``."""
    return _gl_product(x, center, fwhm, area, 1.0)


def pseudo_voigt(x, center, fwhm, area, eta=0.5):
    """Area-weighted pseudo-Voigt ``(1-eta) G + eta L`` (same FWHM)."""
    return (1.0 - eta) * gaussian(x, center, fwhm, area) + eta * lorentzian(x, center, fwhm, area)


def voigt(x, center, fwhm, area, gaussian_fwhm=0.5):
    """Voigt profile: Lorentzian of FWHM ``fwhm`` convolved with a Gaussian of FWHM ``gaussian_fwhm``."""
    sigma = gaussian_fwhm / (2.0 * math.sqrt(2.0 * LN2))
    gamma = np.asarray(fwhm) / 2.0
    return area * special.voigt_profile(x - center, sigma, gamma)


def _gl_integral(m: float) -> float:
    """∫ exp(-4 ln2 (1-m) u²) / (1 + 4 m u²) du over the real line (unit F)."""
    a = 4.0 * LN2 * (1.0 - m)
    b = 4.0 * m
    if m <= 0.0:
        return _G_INTEGRAL
    if m >= 1.0:
        return _L_INTEGRAL
    r = a / b
    # erfcx(z) = exp(z²) erfc(z) keeps this finite for small m
    return math.pi / math.sqrt(b) * special.erfcx(math.sqrt(r))


def gl(x, center, fwhm, area, p=30.0):
    """CasaXPS GL(p) Gaussian–Lorentzian product, normalised to ``area``."""
    return _gl_product(x, center, fwhm, area, p / 100.0)


def _gl_product(x, center, fwhm, area, m):
    """``area · exp(-4 ln2 (1-m) u²) / (1 + 4 m u²) / (N F)``; m = 0 is the Gaussian, m = 1 the Lorentzian.

    Written with in-place operations: it is the hot loop of stack fitting.
    """
    fwhm = np.asarray(fwhm, dtype=float)
    u2 = np.asarray(np.subtract(x, center, dtype=float))
    u2 *= 1.0 / fwhm  # one division per spectrum, not per point
    np.square(u2, out=u2)
    scale = np.asarray(area, dtype=float) / (_gl_integral(m) * fwhm)
    if m >= 1.0:
        u2 *= 4.0
        u2 += 1.0
        np.divide(scale, u2, out=u2)
        return u2
    if m > 0.0:
        den = u2 * (4.0 * m)
        den += 1.0
    u2 *= -4.0 * LN2 * (1.0 - m)
    np.exp(u2, out=u2)
    if m > 0.0:
        u2 /= den
    u2 *= scale
    return u2


@functools.lru_cache(maxsize=64)
def _gl_support(m: float, level: float = 1e-17) -> float:
    """Smallest ``u`` beyond which GL(m) (peak 1) is below ``level``: bisection on the decreasing
    ``a (1-m) u² + ln(1 + 4 m u²) + ln(level)`` between 0 and the Gaussian-only bound."""
    level = -math.log(level)
    a = 4.0 * LN2 * (1.0 - m)
    lo, hi = 0.0, math.sqrt(level / a)
    for _ in range(100):  # 2^-100 of the bracket: converged far below double precision
        mid = 0.5 * (lo + hi)
        if a * mid * mid + math.log1p(4.0 * m * mid * mid) >= level:
            hi = mid
        else:
            lo = mid
    return hi  # the upper end: beyond it the shape is certainly below the level


def _gl_derivatives(x, center, fwhm, area, m, value=True, dtype=np.float64):
    """``(f, ∂f/∂center, ∂f/∂fwhm, ∂f/∂area)`` of :func:`_gl_product`, analytically, in few passes.

    With ``s = e·l``, ``e = exp(-a(1-m)u²)``, ``l = 1/(1+4mu²)``, ``s' = -s·u·g`` with
    ``g = 2a(1-m) + 8m·l``: ``∂f/∂c = f·u·g/F`` and ``∂f/∂F = f·(u²g − 1)/F``.
    ``∂f/∂A = s/(N F)`` is computed first and ``f`` from it (no division by the area, which may be 0);
    the Gaussian and Lorentzian factors are computed once and reused for the value and all derivatives.
    With ``value=False`` ``f`` itself is not formed (returned as None; two passes fewer). With
    ``dtype=np.float32`` the arrays are computed in single precision (for iterating a least-squares
    solver: ~2x faster, relative error ~5e-7; ``x - center`` is formed relative to a point of ``x`` so
    that the large offset of the axis costs no digits).
    """
    a = 4.0 * LN2
    dt = np.dtype(dtype).type
    fwhm = np.asarray(fwhm, dtype=float)
    inv_f = 1.0 / fwhm
    x = np.asarray(x, dtype=float)
    center = np.asarray(center, dtype=float)
    if dt is np.float64:
        u = np.asarray(np.subtract(x, center, dtype=float))
        u *= inv_f
    else:
        # reduced precision: subtract a reference first (x - c then loses no digits to the offset)
        ref = float(x[x.size // 2]) if x.size else 0.0
        u = np.subtract((x - ref).astype(dt), (center - ref).astype(dt))
        u *= inv_f.astype(dt)
    u2 = u * u
    area = np.asarray(area, dtype=float)
    unit_scale = (inv_f / _gl_integral(m)).astype(dt)  # 1 / (N F)
    if m > 0.0:
        lor = u2 * dt(4.0 * m)
        lor += dt(1.0)
        np.reciprocal(lor, out=lor)
    if m < 1.0:
        dfda = u2 * dt(-a * (1.0 - m))
        np.exp(dfda, out=dfda)
        if m > 0.0:
            dfda *= lor
    else:
        dfda = lor.copy()
    dfda *= unit_scale
    f = dfda * area.astype(dt) if value else None
    if m > 0.0:
        g = lor
        g *= dt(8.0 * m)
        g += dt(2.0 * a * (1.0 - m))
    else:
        g = dt(2.0 * a)
    f_over_w = f * inv_f.astype(dt) if value else dfda * (area * inv_f).astype(dt)
    u *= g
    dfdc = u * f_over_w  # f·u·g/F
    u2 *= g
    u2 -= dt(1.0)
    u2 *= f_over_w  # f·(u²g − 1)/F
    return f, dfdc, u2, dfda


def sgl(x, center, fwhm, area, p=30.0):
    """CasaXPS SGL(p) Gaussian–Lorentzian sum (height-mixed), normalised to ``area``."""
    m = p / 100.0
    u = (x - center) / fwhm
    shape = (1.0 - m) * np.exp(-4.0 * LN2 * u * u) + m / (1.0 + 4.0 * u * u)
    return area * shape / (((1.0 - m) * _G_INTEGRAL + m * _L_INTEGRAL) * fwhm)


def _half_lorentz_power_integral(a: float) -> float:
    """∫_0^∞ (1 + 4t²)^(-a) dt (unit F); finite for a > 1/2."""
    if a <= 0.5:
        raise ModelError(f"LA exponent {a} must exceed 0.5 for a finite area")
    return math.sqrt(math.pi) * math.exp(special.gammaln(a - 0.5) - special.gammaln(a)) / 4.0


def la(x, center, fwhm, area, alpha=1.0, beta=1.0, gaussian_fwhm=0.0):
    """Asymmetric Lorentzian (``alpha`` low-x side, ``beta`` high-x side) ⊗ Gaussian, normalised to ``area``.

    The convolution is done numerically on a fine uniform grid (the exponents make it non-analytic)
    and interpolated onto ``x``; the area is exact because convolution preserves integrals.
    """
    x = np.asarray(x, dtype=float)
    center = np.asarray(center, dtype=float)
    fwhm = np.asarray(fwhm, dtype=float)
    norm = _half_lorentz_power_integral(alpha) + _half_lorentz_power_integral(beta)
    if gaussian_fwhm <= 0:
        u = (x - center) / fwhm
        base = 1.0 / (1.0 + 4.0 * u * u)
        shape = np.where(u < 0, base**alpha, base**beta)
        return area * shape / (norm * fwhm)
    # evaluate the convolution on a grid in units of the (per-spectrum) width, then interpolate
    out = np.empty(np.broadcast_shapes(x.shape, center.shape, fwhm.shape, np.shape(area)))
    centers = np.broadcast_to(center, out.shape)
    widths = np.broadcast_to(fwhm, out.shape)
    areas = np.broadcast_to(area, out.shape)
    xs = np.broadcast_to(x, out.shape)
    flat_idx = np.ndindex(out.shape[:-1]) if out.ndim > 1 else [()]
    for idx in flat_idx:
        c = float(centers[idx][0]) if out.ndim > 1 else float(centers.flat[0])
        f = float(widths[idx][0]) if out.ndim > 1 else float(widths.flat[0])
        a = float(areas[idx][0]) if out.ndim > 1 else float(areas.flat[0])
        xv = xs[idx] if out.ndim > 1 else xs
        out[idx] = a * _la_unit(xv - c, f, alpha, beta, gaussian_fwhm, norm)
    return out


def _la_unit(dx: np.ndarray, f: float, alpha: float, beta: float, gfwhm: float, norm: float) -> np.ndarray:
    step = min(f, gfwhm) / 40.0
    half = max(np.max(np.abs(dx)) if dx.size else 0.0, 0.0) + 6.0 * gfwhm + step
    grid = np.arange(-half, half + step / 2, step)
    u = grid / f
    base = 1.0 / (1.0 + 4.0 * u * u)
    lor = np.where(u < 0, base**alpha, base**beta) / (norm * f)
    ng = math.ceil(3.0 * gfwhm / step)
    g = np.exp(-4.0 * LN2 * (np.arange(-ng, ng + 1) * step / gfwhm) ** 2)
    g /= g.sum()
    conv = np.convolve(lor, g, mode="same")
    return np.interp(dx, grid, conv)


def doniach_sunjic(x, center, fwhm, area, asymmetry=0.1):
    """Doniach–Šunjić line (tail to high x); ``area`` is that of the asymmetry-0 Lorentzian."""
    a = asymmetry
    gamma = np.asarray(fwhm) / 2.0
    d = center - x  # the DS tail runs to low kinetic energy, i.e. to high x on a binding-energy axis
    shape = special.gamma(1.0 - a) * np.cos(np.pi * a / 2.0 + (1.0 - a) * np.arctan2(d, gamma))
    shape = shape / (d * d + gamma * gamma) ** ((1.0 - a) / 2.0)
    # at a = 0 this is gamma/(d²+gamma²)·(1/gamma)…: scale to the unit-area Lorentzian
    return area * shape / np.pi


@dataclass(frozen=True)
class LineShape:
    """A line shape with its fixed shape parameters (as CasaXPS keeps them fixed in a fit)."""

    kind: str
    params: dict[str, float] = field(default_factory=dict)

    @property
    def function(self) -> Callable[..., np.ndarray]:
        return SHAPES[self.kind]

    def __call__(self, x, center, fwhm, area):
        return self.function(x, center, fwhm, area, **self.params)

    def __str__(self) -> str:
        return format_shape(self)

    def true_fwhm(self, fwhm: float) -> float:
        """The full width at half maximum of this shape for width parameter ``fwhm``."""
        return true_fwhm(self, fwhm)

    def support(self, level: float = 1e-17) -> float:
        """Half-width, in units of the width parameter, beyond which this shape is below ``level`` of
        its maximum (1e-17: leaving it out changes nothing in double precision); ``inf`` for shapes
        with power-law tails (Lorentzian, SGL, Voigt, LA, DS).

        For GL(m): the product ``exp(-4 ln2 (1-m) u²) / (1 + 4 m u²)`` (maximum 1 at u = 0) falls to
        1e-17 where ``4 ln2 (1-m) u² + ln(1 + 4 m u²) = 39.14``; counting the Lorentzian factor too
        gives a window ~4 % narrower for GL(30) than the Gaussian factor alone (4.32 instead of 4.49).
        """
        m = {"gaussian": 0.0}.get(self.kind, self.params.get("p", 30.0) / 100.0 if self.kind == "gl" else None)
        if m is None or m >= 0.95:
            return math.inf
        return _gl_support(m, level)

    def derivatives(self, x, center, fwhm, area, value: bool = True, dtype=np.float64):
        """``(f, ∂f/∂center, ∂f/∂fwhm, ∂f/∂area)``; analytic for G, L, GL, SGL, pseudo-Voigt, numerical
        otherwise. ``value=False`` allows leaving out ``f`` (None where that saves work: G, L, GL).
        ``dtype=np.float32`` allows single-precision results (G, L, GL compute in single precision:
        ~2x faster, ~5e-7 relative error; other shapes are computed in double precision).

        With ``f = A s(u) / (N F)``, ``u = (x − c)/F``: ``∂f/∂c = −A s'(u) / (N F²)`` and
        ``∂f/∂F = −A u s'(u) / (N F²) − f / F``.
        """
        kind = self.kind
        if kind in ("gaussian", "lorentzian", "gl"):
            m = {"gaussian": 0.0, "lorentzian": 1.0}.get(kind, self.params.get("p", 30.0) / 100.0)
            return _gl_derivatives(x, center, fwhm, area, m, value, dtype)
        if kind == "pseudo_voigt":
            eta = self.params.get("eta", 0.5)
            g = LineShape("gaussian").derivatives(x, center, fwhm, area)
            lor = LineShape("lorentzian").derivatives(x, center, fwhm, area)
            return tuple((1.0 - eta) * a + eta * b for a, b in zip(g, lor))
        if kind == "sgl":
            m = self.params.get("p", 30.0) / 100.0
            a = 4.0 * LN2
            u = (x - center) / fwhm
            g = np.exp(-a * u * u)
            lor = 1.0 / (1.0 + 4.0 * u * u)
            s = (1.0 - m) * g + m * lor
            ds = (1.0 - m) * (-2.0 * a * u * g) + m * (-8.0 * u * lor * lor)
            norm = (1.0 - m) * _G_INTEGRAL + m * _L_INTEGRAL
            scale = area / (norm * fwhm)
            f = scale * s
            dfdc = -scale * ds / fwhm
            dfdF = -scale * u * ds / fwhm - f / fwhm
            return f, dfdc, dfdF, s / (norm * fwhm)
        f = self(x, center, fwhm, area)
        hc = 1e-6 * np.maximum(np.abs(fwhm), 1e-3)
        dfdc = (self(x, center + hc, fwhm, area) - self(x, center - hc, fwhm, area)) / (2 * hc)
        dfdF = (self(x, center, fwhm + hc, area) - self(x, center, fwhm - hc, area)) / (2 * hc)
        return f, dfdc, dfdF, self(x, center, fwhm, np.ones_like(np.asarray(area, dtype=float)))


SHAPES: dict[str, Callable[..., np.ndarray]] = {
    "gaussian": gaussian,
    "lorentzian": lorentzian,
    "voigt": voigt,
    "pseudo_voigt": pseudo_voigt,
    "gl": gl,
    "sgl": sgl,
    "la": la,
    "doniach_sunjic": doniach_sunjic,
}

_ALIASES = {
    "g": "gaussian",
    "gauss": "gaussian",
    "l": "lorentzian",
    "lorentz": "lorentzian",
    "pv": "pseudo_voigt",
    "pseudovoigt": "pseudo_voigt",
    "pseudo-voigt": "pseudo_voigt",
    "ds": "doniach_sunjic",
}
_ARGS = {
    "gaussian": (),
    "lorentzian": (),
    "voigt": ("gaussian_fwhm",),
    "pseudo_voigt": ("eta",),
    "gl": ("p",),
    "sgl": ("p",),
    "la": ("alpha", "beta", "gaussian_fwhm"),
    "doniach_sunjic": ("asymmetry",),
}
_SHAPE_RE = re.compile(r"^\s*([A-Za-z_\-]+)\s*(?:\((.*)\))?\s*$")


def parse_shape(text: str | LineShape) -> LineShape:
    """Parse ``"GL(30)"``, ``"SGL(30)"``, ``"LA(1.2,2.5,0.6)"``, ``"gaussian"``... into a :class:`LineShape`.

    ``LA(a, m)`` with two numbers means ``alpha = beta = a``.
    """
    if isinstance(text, LineShape):
        return text
    match = _SHAPE_RE.match(str(text))
    if not match:
        raise ModelError(f"line shape {text!r} not understood; use e.g. 'GL(30)', 'SGL(30)', 'LA(1.2,2.5,0.6)'")
    name = match.group(1).lower()
    kind = _ALIASES.get(name, name)
    if kind not in SHAPES:
        raise ModelError(f"unknown line shape {match.group(1)!r}; known: {', '.join(SHAPES)}")
    raw = match.group(2)
    values: list[float] = []
    if raw is not None and raw.strip():
        try:
            values = [float(v) for v in raw.split(",")]
        except ValueError as exc:
            raise ModelError(f"line shape {text!r}: parameters must be numbers") from exc
    names = _ARGS[kind]
    if kind == "la" and len(values) == 2:
        values = [values[0], values[0], values[1]]
    if len(values) > len(names):
        raise ModelError(f"line shape {text!r}: {kind} takes at most {len(names)} parameters {names}")
    params = dict(zip(names, values))
    if kind in ("gl", "sgl") and not 0.0 <= params.get("p", 30.0) <= 100.0:
        raise ModelError(f"line shape {text!r}: mixing must be within 0..100")
    return LineShape(kind, params)


def format_shape(shape: LineShape) -> str:
    """The string form :func:`parse_shape` reads back."""
    upper = {"gl": "GL", "sgl": "SGL", "la": "LA", "doniach_sunjic": "DS"}
    name = upper.get(shape.kind, shape.kind)
    if not shape.params:
        return name
    return f"{name}({','.join(f'{shape.params[k]:g}' for k in _ARGS[shape.kind] if k in shape.params)})"


@functools.lru_cache(maxsize=64)
def gl_unit_true_fwhm(p: float) -> float:
    """True FWHM of GL(p) for a unit width parameter (GL scales with it: multiply by the width)."""
    return true_fwhm(LineShape("gl", {"p": p}), 1.0)


def true_fwhm(shape: LineShape | str, fwhm: float) -> float:
    """Measure the full width at half maximum of ``shape`` numerically (for GL, Voigt, LA, DS)."""
    shape = parse_shape(shape)
    if shape.kind in ("gaussian", "lorentzian", "sgl", "pseudo_voigt") or (
        shape.kind == "gl" and shape.params.get("p", 30.0) in (0.0, 100.0)
    ):
        return float(fwhm)
    span = 10.0 * fwhm + 10.0 * shape.params.get("gaussian_fwhm", 0.0)
    x = np.linspace(-span, span, 40001)
    y = shape(x, 0.0, fwhm, 1.0)
    i = int(np.argmax(y))
    half = y[i] / 2.0
    left = np.nonzero(y[:i] < half)[0]
    right = np.nonzero(y[i:] < half)[0]
    if not left.size or not right.size:
        return float("nan")
    lo, hi = left[-1], i + right[0]
    xl = np.interp(half, [y[lo], y[lo + 1]], [x[lo], x[lo + 1]])
    xr = np.interp(half, [y[hi], y[hi - 1]], [x[hi], x[hi - 1]])
    return float(xr - xl)
