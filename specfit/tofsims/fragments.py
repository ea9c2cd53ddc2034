"""Ion formulas, exact masses and isotope patterns for ToF-SIMS.

Masses are computed from the isotope table in ``reference_library/tofsims/isotopes.toml``
(AME2020 atomic masses, IUPAC representative abundances, CODATA 2018 electron mass): an ion of
charge ``z`` has the mass of its neutral atoms minus ``z`` electron masses (so a negative ion is
heavier by ``|z|`` electrons), and its m/z is that mass divided by ``|z|``. Nothing is typed in.

Formula syntax (:func:`parse_formula`)
--------------------------------------
- Elements with optional counts: ``PS3``, ``Li2S``, ``C2H5O``; counts may carry the IONTOF
  underscore, ``C_6H_5``; an element may appear several times (``CH3NH3``).
- Groups: ``(CH3)2``, ``[SO4]2``.
- Explicit isotopes: ``^13C``, ``^6Li`` (IONTOF SurfaceLab notation) or ``[13C]``.
- A trailing charge: ``Cl-``, ``Li+``, ``PS3-``, ``Li2++`` (one sign per elementary charge) or
  ``SO4^2-`` / ``SO4^-2``. A charge given to a function overrides none: it must agree.

Why our own parser: pymatgen's ``Composition`` knows no isotopes and no ion charges, and molmass
is not a dependency; the grammar above is small and its errors name the position.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from ..errors import SpecfitError
from ..reference import load_toml

__all__ = [
    "FormulaError",
    "Fragment",
    "IsotopePattern",
    "electron_mass",
    "exact_mass",
    "fragment_library",
    "isotope_mass",
    "isotope_pattern",
    "isotopes",
    "lookup_fragment",
    "nominal_mass",
    "normalize_label",
    "parse_formula",
    "parse_ion",
]

ISOTOPES_FILE = "tofsims/isotopes.toml"
FRAGMENTS_FILE = "tofsims/fragments.toml"

#: A composition: (element symbol, mass number or None for the natural mixture) -> count.
Composition = dict[tuple[str, int | None], int]


class FormulaError(SpecfitError):
    """A chemical formula or ion label could not be parsed."""

    def __init__(self, formula: str, message: str, position: int | None = None) -> None:
        self.formula = formula
        self.position = position
        where = f" at position {position + 1}" if position is not None else ""
        super().__init__(f"formula {formula!r}{where}: {message}")


@cache
def _table() -> dict:
    data = load_toml(ISOTOPES_FILE)
    elements = {}
    for symbol, entry in data["elements"].items():
        isos = sorted(entry["isotopes"], key=lambda i: i["a"])
        elements[symbol] = {
            "z": int(entry["z"]),
            "a": np.array([i["a"] for i in isos], dtype=int),
            "mass": np.array([i["mass"] for i in isos], dtype=float),
            "abundance": np.array([i["abundance"] for i in isos], dtype=float),
        }
    return {"electron_mass": float(data["electron_mass_u"]), "elements": elements}


def electron_mass() -> float:
    """Electron mass in u (CODATA 2018, from the isotope table)."""
    return _table()["electron_mass"]


def isotopes(symbol: str) -> list[tuple[int, float, float]]:
    """Natural isotopes of an element: ``[(mass number, mass in u, abundance fraction), ...]``."""
    elements = _table()["elements"]
    if symbol not in elements:
        raise FormulaError(symbol, f"unknown element {symbol!r} (no natural isotopes in {ISOTOPES_FILE})")
    e = elements[symbol]
    return [(int(a), float(m), float(p)) for a, m, p in zip(e["a"], e["mass"], e["abundance"])]


def isotope_mass(symbol: str, mass_number: int | None = None) -> float:
    """Mass (u) of one isotope; ``mass_number=None`` gives the most abundant isotope."""
    elements = _table()["elements"]
    if symbol not in elements:
        raise FormulaError(symbol, f"unknown element {symbol!r}")
    e = elements[symbol]
    if mass_number is None:
        return float(e["mass"][int(np.argmax(e["abundance"]))])
    hit = np.flatnonzero(e["a"] == mass_number)
    if not hit.size:
        known = ", ".join(str(a) for a in e["a"])
        raise FormulaError(
            f"^{mass_number}{symbol}", f"{mass_number}{symbol} is not a natural isotope (known: {known})"
        )
    return float(e["mass"][hit[0]])


# ----------------------------------------------------------------------------------------------
# parsing

_CHARGE_RE = re.compile(r"(?:\^(?P<n1>\d+)(?P<s1>[+-])|\^(?P<s2>[+-])(?P<n2>\d+)|\^?(?P<signs>[+-]+))\s*$")


def _split_charge(label: str) -> tuple[str, int]:
    m = _CHARGE_RE.search(label)
    if not m:
        return label, 0
    if m.group("signs"):
        signs = m.group("signs")
        if len(set(signs)) != 1:
            raise FormulaError(label, "mixed charge signs", m.start())
        charge = len(signs) * (1 if signs[0] == "+" else -1)
    else:
        n = int(m.group("n1") or m.group("n2"))
        sign = m.group("s1") or m.group("s2")
        if n == 0:
            raise FormulaError(label, "charge 0 written with a sign", m.start())
        charge = n if sign == "+" else -n
    return label[: m.start()], charge


class _Parser:
    def __init__(self, text: str, original: str) -> None:
        self.text = text
        self.original = original
        self.pos = 0

    def error(self, message: str, pos: int | None = None) -> FormulaError:
        return FormulaError(self.original, message, self.pos if pos is None else pos)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def count(self) -> int:
        start = self.pos
        if self.peek() == "_":
            self.pos += 1
        m = re.match(r"\d+", self.text[self.pos :])
        if not m:
            if self.pos != start:
                raise self.error("'_' must be followed by a count", start)
            return 1
        self.pos += m.end()
        value = int(m.group(0))
        if value == 0:
            raise self.error("count 0", start)
        return value

    def element(self) -> str:
        m = re.match(r"[A-Z][a-z]?", self.text[self.pos :])
        if not m:
            ch = self.peek()
            raise self.error(f"expected an element symbol, found {ch!r}" if ch else "unexpected end of formula")
        symbol = m.group(0)
        elements = _table()["elements"]
        if symbol not in elements:
            # 'Cx' may be C followed by a typo; say what is unknown
            raise self.error(f"unknown element {symbol!r}")
        self.pos += m.end()
        return symbol

    def group(self, closing: str | None) -> Counter:
        total: Counter = Counter()
        if self.pos >= len(self.text) or self.peek() == closing:
            raise self.error("empty formula" if closing is None else "empty group")
        while self.pos < len(self.text):
            ch = self.peek()
            if closing is not None and ch == closing:
                return total
            if ch in ")]":
                raise self.error(f"unbalanced {ch!r}")
            if ch in " \t":
                self.pos += 1
                continue
            start = self.pos
            if ch == "^":  # IONTOF isotope prefix ^13C
                self.pos += 1
                m = re.match(r"\d+", self.text[self.pos :])
                if not m:
                    raise self.error("'^' must be followed by a mass number", start)
                self.pos += m.end()
                symbol = self.element()
                mass_number = int(m.group(0))
                isotope_mass(symbol, mass_number)  # validates
                part = Counter({(symbol, mass_number): 1})
            elif ch == "[" and re.match(r"\[\d+[A-Z][a-z]?\]", self.text[self.pos :]):
                m = re.match(r"\[(\d+)([A-Z][a-z]?)\]", self.text[self.pos :])
                symbol, mass_number = m.group(2), int(m.group(1))
                if symbol not in _table()["elements"]:
                    raise self.error(f"unknown element {symbol!r}", start + 1)
                isotope_mass(symbol, mass_number)
                self.pos += m.end()
                part = Counter({(symbol, mass_number): 1})
            elif ch in "([":
                close = ")" if ch == "(" else "]"
                self.pos += 1
                part = self.group(close)
                if self.peek() != close:
                    raise self.error(f"unclosed {ch!r}", start)
                self.pos += 1
            else:
                part = Counter({(self.element(), None): 1})
            n = self.count()
            for key, value in part.items():
                total[key] += value * n
        if closing is not None:
            raise self.error(f"missing {closing!r}")
        return total


def parse_ion(label: str) -> tuple[Composition, int]:
    """Parse an ion label such as ``"PS3-"``, ``"C_6H_5+"``, ``"^13CH_3+"`` or ``"SO4^2-"``.

    Returns
    -------
    (composition, charge)
        ``composition`` maps ``(element, mass number or None)`` to counts; ``None`` means the
        natural isotope mixture (the most abundant isotope for the monoisotopic mass).

    Raises
    ------
    FormulaError
        Naming the position of the problem.
    """
    if not isinstance(label, str) or not label.strip():
        raise FormulaError(str(label), "empty formula")
    text = label.strip()
    body, charge = _split_charge(text)
    parser = _Parser(body.strip(), text)
    comp = parser.group(None)
    return dict(comp), charge


def parse_formula(formula: str) -> Composition:
    """Parse a neutral formula (a trailing charge is an error here; use :func:`parse_ion`)."""
    comp, charge = parse_ion(formula)
    if charge:
        raise FormulaError(formula, "a charge is not allowed here; use parse_ion()")
    return comp


def _resolve(formula: str, charge: int | None) -> tuple[Composition, int]:
    comp, written = parse_ion(formula)
    if charge is None:
        return comp, written
    if written and written != charge:
        raise FormulaError(formula, f"charge written in the formula ({written:+d}) disagrees with charge={charge:+d}")
    return comp, int(charge)


def exact_mass(formula: str, charge: int | None = None) -> float:
    """Monoisotopic m/z (u per elementary charge) of an ion, or the mass of a neutral.

    Every element without an explicit isotope takes its most abundant isotope. The charge is read
    from the formula (``"PS3-"``) or given as ``charge=-1``; ions lose ``charge`` electron masses.

    Examples
    --------
    >>> round(exact_mass("PS3-"), 5)
    126.89052
    """
    comp, z = _resolve(formula, charge)
    mass = math.fsum(isotope_mass(symbol, a) * n for (symbol, a), n in comp.items())
    mass -= z * electron_mass()
    return mass / abs(z) if z else mass


def nominal_mass(formula: str, charge: int | None = None) -> int:
    """Nominal (integer) m/z of the monoisotopic ion."""
    comp, z = _resolve(formula, charge)
    elements = _table()["elements"]
    total = 0
    for (symbol, a), n in comp.items():
        if a is None:
            e = elements[symbol]
            a = int(e["a"][int(np.argmax(e["abundance"]))])
        total += a * n
    return total // abs(z) if z else total


def normalize_label(label: str) -> str:
    """A label for matching fragment names across notations: ``"PS_3-"`` and ``"PS3-"`` agree."""
    return re.sub(r"\s+", "", str(label)).replace("_", "")


# ----------------------------------------------------------------------------------------------
# isotope patterns


@dataclass
class IsotopePattern:
    """An isotope pattern: peaks at ``mz`` with ``abundance`` (fractions of all molecules)."""

    formula: str
    charge: int
    mz: np.ndarray
    abundance: np.ndarray

    @property
    def relative(self) -> np.ndarray:
        """Abundances scaled so the largest peak is 1."""
        return self.abundance / self.abundance.max()

    def as_list(self) -> list[dict[str, float]]:
        """Peaks as ``[{"mz", "abundance", "relative"}, ...]`` (JSON-ready)."""
        rel = self.relative
        return [
            {"mz": float(m), "abundance": float(a), "relative": float(r)}
            for m, a, r in zip(self.mz, self.abundance, rel)
        ]


def _merge(masses: np.ndarray, probs: np.ndarray, tolerance: float, prune: float) -> tuple[np.ndarray, np.ndarray]:
    keep = probs >= prune
    masses, probs = masses[keep], probs[keep]
    order = np.argsort(masses)
    masses, probs = masses[order], probs[order]
    if masses.size < 2 or tolerance <= 0:
        return masses, probs
    # peaks closer than tolerance merge into their probability-weighted mean
    groups = np.concatenate(([0], np.cumsum(np.diff(masses) > tolerance)))
    p = np.bincount(groups, weights=probs)
    m = np.bincount(groups, weights=probs * masses) / p
    return m, p


def _convolve(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], tol: float, prune: float):
    masses = (a[0][:, None] + b[0][None, :]).ravel()
    probs = (a[1][:, None] * b[1][None, :]).ravel()
    return _merge(masses, probs, tol, prune)


def isotope_pattern(
    formula: str,
    charge: int | None = None,
    *,
    min_abundance: float = 1e-3,
    merge_tolerance: float = 1e-3,
    prune: float = 1e-10,
) -> IsotopePattern:
    """Isotope pattern of an ion by convolution of the elements' isotope distributions.

    Each element's distribution is raised to its count by repeated squaring; after every
    convolution peaks below ``prune`` (absolute probability) are dropped and peaks closer than
    ``merge_tolerance`` (u) are merged, which bounds the work for large formulas (C60 ...).

    Parameters
    ----------
    formula, charge
        As for :func:`exact_mass`.
    min_abundance
        Peaks below this fraction of the largest one are left out of the result.
    merge_tolerance
        Mass window (u) within which fine-structure peaks merge (1e-3 u is far below what a
        ToF-SIMS analyser resolves; use 0.3 for nominal-mass patterns).
    prune
        Absolute probability below which intermediate peaks are dropped.
    """
    comp, z = _resolve(formula, charge)
    elements = _table()["elements"]
    total = (np.array([0.0]), np.array([1.0]))
    for (symbol, a), n in sorted(comp.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        if a is not None:
            dist = (np.array([isotope_mass(symbol, a)]), np.array([1.0]))
        else:
            e = elements[symbol]
            dist = (e["mass"].copy(), e["abundance"].copy())
        power = (np.array([0.0]), np.array([1.0]))
        base = dist
        k = n
        while k:  # binary exponentiation: O(log n) convolutions
            if k & 1:
                power = _convolve(power, base, merge_tolerance, prune)
            k >>= 1
            if k:
                base = _convolve(base, base, merge_tolerance, prune)
        total = _convolve(total, power, merge_tolerance, prune)
    masses, probs = total
    masses = masses - z * electron_mass()
    if z:
        masses = masses / abs(z)
    keep = probs >= min_abundance * probs.max()
    return IsotopePattern(str(formula), z, masses[keep], probs[keep])


# ----------------------------------------------------------------------------------------------
# fragment library


@dataclass(frozen=True)
class Fragment:
    """A fragment ion of the reference library; its m/z is computed, never stored."""

    name: str
    formula: str
    charge: int
    assignment: str = ""
    source: str = ""
    note: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def mz(self) -> float:
        """Monoisotopic m/z (u)."""
        return exact_mass(self.formula, self.charge)

    @property
    def nominal(self) -> int:
        """Nominal m/z."""
        return nominal_mass(self.formula, self.charge)

    def pattern(self, **kwargs) -> IsotopePattern:
        """Isotope pattern (see :func:`isotope_pattern`)."""
        return isotope_pattern(self.formula, self.charge, **kwargs)


def _ion_name(formula: str, charge: int) -> str:
    sign = "+" if charge > 0 else "-"
    return f"{formula}{sign * abs(charge)}" if abs(charge) <= 2 else f"{formula}^{abs(charge)}{sign}"


@cache
def fragment_library() -> tuple[Fragment, ...]:
    """All fragments of ``reference_library/tofsims/fragments.toml`` (formulas are validated)."""
    data = load_toml(FRAGMENTS_FILE)
    sources = data.get("sources", {})
    out = []
    for entry in data.get("fragments", []):
        formula = entry["formula"]
        charge = int(entry["charge"])
        parse_formula(formula)  # a bad library entry fails loudly
        source_key = entry.get("source", "")
        out.append(
            Fragment(
                name=entry.get("name", _ion_name(formula, charge)),
                formula=formula,
                charge=charge,
                assignment=entry.get("assignment", ""),
                source=sources.get(source_key, source_key),
                note=entry.get("note", ""),
                tags=tuple(entry.get("tags", ())),
            )
        )
    return tuple(out)


def lookup_fragment(name: str) -> Fragment:
    """Find a library fragment by name in any notation (``"PS3-"``, ``"PS_3-"``)."""
    key = normalize_label(name)
    for frag in fragment_library():
        if normalize_label(frag.name) == key:
            return frag
    raise SpecfitError(f"fragment {name!r} is not in the library ({FRAGMENTS_FILE})")
