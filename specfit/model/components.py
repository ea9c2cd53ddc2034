"""Peak components (:class:`Peak`, :class:`Doublet`) and how their parameters become lmfit Parameters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ModelError
from ..lineshapes import LineShape, format_shape, parse_shape

__all__ = ["Doublet", "Line", "Peak", "core_level", "safe_name"]

PEAK_PARAMS = ("position", "fwhm", "area")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?")
_TIE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:([+\-*])\s*([0-9.eE+\-]+))?\s*$")


def safe_name(name: str) -> str:
    """A component name usable in parameter names (letters, digits, underscore; not starting with a digit)."""
    clean = re.sub(r"[^0-9A-Za-z_]", "_", str(name).strip())
    if not clean or clean[0].isdigit():
        clean = f"c_{clean}"
    return clean


def core_level(level: str) -> dict[str, Any]:
    """The entry of ``reference_library/xps/core_levels.toml`` for a level such as ``"S 2p"``."""
    from ..reference import load_toml

    table = load_toml("xps/core_levels.toml").get("levels", {})
    key = " ".join(str(level).split())
    for name, entry in table.items():
        if name.lower() == key.lower():
            return entry
    raise ModelError(f"core level {level!r} is not in reference_library/xps/core_levels.toml")


@dataclass
class Line:
    """One peak line as evaluated: names of its position/fwhm/area parameters and its shape."""

    name: str
    component: str
    shape: LineShape
    position: str
    fwhm: str
    area: str


class Peak:
    """A single peak.

    Parameters
    ----------
    name
        Component name (used in parameter names ``<name>_position``, ``<name>_fwhm``, ``<name>_area``).
    shape
        Line shape string (see :func:`specfit.lineshapes.parse_shape`), e.g. ``"GL(30)"``.
    position, fwhm, area
        A number (start value) or a tie: another component's name (``"PS4"``: same value), or
        ``"PS4 + 2.1"``, ``"PS4 - 1"``, ``"PS4 * 0.5"``, or any lmfit expression in other components'
        names (``"PS4.area * 0.5 + A.area"``; a bare name means the same quantity of that component).
        ``area=None`` lets the fitter guess it from the data.
    bounds
        ``position_min``, ``position_max``, ``fwhm_min`` ... bound the parameter. For a tie
        ``"REF + c"`` the keys ``<param>_offset_min``/``_max`` make the offset a free parameter
        with those bounds; for ``"REF * c"`` the keys ``<param>_ratio_min``/``_max`` do the same
        for the ratio.
    vary
        ``{"fwhm": False}`` fixes parameters at their start values.
    """

    kind = "peak"

    def __init__(
        self,
        name: str,
        shape: str | LineShape = "GL(30)",
        position: float | str | None = None,
        fwhm: float | str | None = 1.0,
        area: float | str | None = None,
        *,
        vary: dict[str, bool] | None = None,
        **bounds: float,
    ) -> None:
        self.name = safe_name(name)
        self.label = str(name)
        self.shape = parse_shape(shape)
        if position is None:
            raise ModelError(f"component {name!r}: a position is required")
        self.position, self.fwhm, self.area = position, fwhm, area
        self.vary = dict(vary or {})
        allowed = {f"{p}_{s}" for p in PEAK_PARAMS for s in ("min", "max")}
        allowed |= {f"{p}_{k}_{s}" for p in PEAK_PARAMS for k in ("offset", "ratio") for s in ("min", "max")}
        allowed |= self._extra_bound_keys()
        unknown = set(bounds) - allowed
        if unknown:
            raise ModelError(f"component {name!r}: unknown settings {sorted(unknown)}")
        self.bounds = {k: float(v) for k, v in bounds.items()}

    def _extra_bound_keys(self) -> set[str]:
        return set()

    # --------------------------------------------------------------- composition
    def __add__(self, other):
        from .core import Model

        return Model([self], validate=False) + other

    __radd__ = __add__

    # --------------------------------------------------------------- parameters
    def pname(self, quantity: str) -> str:
        return f"{self.name}_{quantity}"

    def add_params(self, params, names: set[str], axis: str, deferred: list) -> None:
        """Add this component's parameters to lmfit ``params``; ties go to ``deferred`` as ``(name, expr)``."""
        for q in PEAK_PARAMS:
            self._add_quantity(params, q, getattr(self, q), names, deferred)

    def _add_quantity(self, params, q: str, value, names: set[str], deferred: list) -> None:
        pn = self.pname(q)
        lo = self.bounds.get(f"{q}_min", 0.0 if q in ("fwhm", "area") else -np.inf)
        hi = self.bounds.get(f"{q}_max", np.inf)
        if value is None:
            params.add(pn, value=np.nan, min=lo, max=hi, vary=self.vary.get(q, True))
            return
        if isinstance(value, int | float | np.number):
            v = float(value)
            if not lo <= v <= hi:
                raise ModelError(f"component {self.label!r}: {q} = {v} is outside its bounds [{lo}, {hi}]")
            params.add(pn, value=v, min=lo, max=hi, vary=self.vary.get(q, True))
            return
        expr = str(value)
        tie = _TIE.match(expr)
        off_lo, off_hi = self.bounds.get(f"{q}_offset_min"), self.bounds.get(f"{q}_offset_max")
        rat_lo, rat_hi = self.bounds.get(f"{q}_ratio_min"), self.bounds.get(f"{q}_ratio_max")
        if (off_lo is not None or off_hi is not None or rat_lo is not None or rat_hi is not None) and not tie:
            raise ModelError(
                f"component {self.label!r}: bounded {q} offset/ratio needs a tie of the form 'REF + c' or 'REF * c'"
            )
        if tie and (off_lo is not None or off_hi is not None or rat_lo is not None or rat_hi is not None):
            ref, op, num = tie.group(1), tie.group(2), tie.group(3)
            self._check_ref(ref, names)
            if off_lo is not None or off_hi is not None:
                if op == "*":
                    raise ModelError(f"component {self.label!r}: {q}_offset bounds need 'REF + c', not 'REF * c'")
                c = float(num) * (-1 if op == "-" else 1) if num else 0.0
                sub = self.pname(f"{q}_offset")
                params.add(
                    sub, value=c, min=-np.inf if off_lo is None else off_lo, max=np.inf if off_hi is None else off_hi
                )
                params.add(pn, value=np.nan)
                deferred.append((pn, f"{safe_name(ref)}_{q} + {sub}"))
            else:
                if op in ("+", "-"):
                    raise ModelError(f"component {self.label!r}: {q}_ratio bounds need 'REF * c', not 'REF + c'")
                c = float(num) if num else 1.0
                sub = self.pname(f"{q}_ratio")
                params.add(
                    sub, value=c, min=-np.inf if rat_lo is None else rat_lo, max=np.inf if rat_hi is None else rat_hi
                )
                params.add(pn, value=np.nan)
                deferred.append((pn, f"{safe_name(ref)}_{q} * {sub}"))
            return
        params.add(pn, value=np.nan)
        deferred.append((pn, self._translate(expr, q, names)))

    def _check_ref(self, ref: str, names: set[str]) -> None:
        if safe_name(ref) not in names:
            raise ModelError(f"component {self.label!r} refers to {ref!r}, which is not a component of the model")
        if safe_name(ref) == self.name:
            raise ModelError(f"component {self.label!r} refers to itself")

    def _translate(self, expr: str, q: str, names: set[str]) -> str:
        def repl(match: re.Match) -> str:
            token = match.group(0)
            if "." in token:
                comp, quantity = token.split(".", 1)
                self._check_ref(comp, names)
                return f"{safe_name(comp)}_{quantity}"
            if safe_name(token) in names:
                self._check_ref(token, names)
                return f"{safe_name(token)}_{q}"
            if token in ("sqrt", "exp", "log", "abs", "min", "max", "e", "pi"):
                return token
            raise ModelError(
                f"component {self.label!r}: {q} = {expr!r} names {token!r}, which is not a component of the model"
            )

        # keep numbers like 1e-3 intact: only rewrite identifiers not preceded by a digit/dot
        out, pos = [], 0
        for m in _IDENT.finditer(expr):
            if m.start() > 0 and (expr[m.start() - 1].isdigit() or expr[m.start() - 1] == "."):
                continue
            out.append(expr[pos : m.start()])
            out.append(repl(m))
            pos = m.end()
        out.append(expr[pos:])
        return "".join(out)

    def lines(self, axis: str) -> list[Line]:
        return [Line(self.name, self.name, self.shape, self.pname("position"), self.pname("fwhm"), self.pname("area"))]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.label, "shape": format_shape(self.shape)}
        if getattr(self, "level", None):
            d["level"] = self.level
        for q in PEAK_PARAMS:
            v = getattr(self, q)
            if v is not None:
                d[q] = v
        d.update(self.bounds)
        for q, v in self.vary.items():
            d[f"{q}_vary"] = v
        return d


class Doublet(Peak):
    """A spin-orbit doublet: two lines with fixed splitting, branching ratio and width ratio.

    ``position`` is the lower-j (main) line, e.g. S 2p3/2; the second line sits ``splitting`` eV
    higher in binding energy (lower in kinetic energy), has ``ratio`` × the main area and
    ``width_ratio`` × its FWHM. Defaults come from ``reference_library/xps/core_levels.toml`` for
    ``level``. ``area`` is the main line's area; the doublet's total is ``area · (1 + ratio)``.
    """

    kind = "doublet"

    def __init__(
        self,
        name: str,
        level: str,
        shape: str | LineShape = "GL(30)",
        position: float | str | None = None,
        fwhm: float | str | None = 1.0,
        area: float | str | None = None,
        *,
        splitting: float | None = None,
        ratio: float | None = None,
        width_ratio: float = 1.0,
        vary: dict[str, bool] | None = None,
        **bounds: float,
    ) -> None:
        super().__init__(name, shape, position, fwhm, area, vary=vary, **bounds)
        self.level = " ".join(str(level).split())
        entry = core_level(self.level)
        if "splitting" not in entry and splitting is None:
            raise ModelError(f"component {name!r}: core level {level!r} is a singlet; use Peak, not Doublet")
        self.splitting = float(entry["splitting"] if splitting is None else splitting)
        self.ratio = float(entry.get("branching_ratio", 0.5) if ratio is None else ratio)
        self.width_ratio = float(width_ratio)
        self.line_labels = tuple(entry.get("lines", ("main", "second")))

    def _extra_bound_keys(self) -> set[str]:
        return {"splitting_min", "splitting_max", "ratio_min", "ratio_max", "width_ratio_min", "width_ratio_max"}

    def add_params(self, params, names: set[str], axis: str, deferred: list) -> None:
        super().add_params(params, names, axis, deferred)
        for q, v in (("splitting", self.splitting), ("ratio", self.ratio), ("width_ratio", self.width_ratio)):
            lo, hi = self.bounds.get(f"{q}_min"), self.bounds.get(f"{q}_max")
            free = lo is not None or hi is not None
            params.add(
                self.pname(q), value=v, min=-np.inf if lo is None else lo, max=np.inf if hi is None else hi, vary=free
            )
        sign = "-" if axis == "kinetic_energy" else "+"
        n2 = f"{self.name}_2"
        for q, expr in (
            ("position", f"{self.pname('position')} {sign} {self.pname('splitting')}"),
            ("fwhm", f"{self.pname('fwhm')} * {self.pname('width_ratio')}"),
            ("area", f"{self.pname('area')} * {self.pname('ratio')}"),
        ):
            params.add(f"{n2}_{q}", value=np.nan)
            deferred.append((f"{n2}_{q}", expr))

    def lines(self, axis: str) -> list[Line]:
        n2 = f"{self.name}_2"
        return [
            Line(self.name, self.name, self.shape, self.pname("position"), self.pname("fwhm"), self.pname("area")),
            Line(n2, self.name, self.shape, f"{n2}_position", f"{n2}_fwhm", f"{n2}_area"),
        ]

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d = {"name": d.pop("name"), "level": self.level, **d}
        entry = core_level(self.level)
        if abs(self.splitting - float(entry.get("splitting", np.nan))) > 1e-12:
            d["splitting"] = self.splitting
        if abs(self.ratio - float(entry.get("branching_ratio", 0.5))) > 1e-12:
            d["ratio"] = self.ratio
        if self.width_ratio != 1.0:
            d["width_ratio"] = self.width_ratio
        return d
