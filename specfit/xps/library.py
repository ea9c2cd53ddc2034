"""XPS chemistry knowledge: species (binding-energy windows, widths, assignments) and sensitivity factors.

The numbers live in ``reference_library/xps/species.toml`` and
``reference_library/xps/sensitivity_factors.toml``; every entry cites its source. This module loads
them, checks them, and answers questions about them::

    >>> from specfit.xps import species, species_info, sensitivity_factor
    >>> [s.name for s in species("S 2p")][:2]
    ['S2p.Li2S', 'S2p.PS4']
    >>> species_info("S2p.PS4").be_min
    160.5
    >>> sensitivity_factor("S 2p")            # Scofield, Al Ka, whole doublet, C 1s = 1
    1.677

Level names are normalised: ``"S2p"``, ``"s 2p"``, ``"S 2p3/2"`` all name the level ``"S 2p"``
(the last one also names the line ``"3/2"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from typing import Any

from ..errors import SpecfitError
from ..reference import load_toml

__all__ = [
    "SENSITIVITY_FILE",
    "SPECIES_FILE",
    "SensitivityFactor",
    "Species",
    "UnknownEntryError",
    "levels",
    "normalize_level",
    "sensitivity_factor",
    "sensitivity_factor_info",
    "sensitivity_sets",
    "species",
    "species_info",
    "template_recipes",
]

SPECIES_FILE = "xps/species.toml"
SENSITIVITY_FILE = "xps/sensitivity_factors.toml"

#: X-ray line names accepted for ``source`` (lower-case keys -> canonical name).
_XRAY_ALIASES = {
    "al ka": "Al Ka",
    "al kα": "Al Ka",
    "al k alpha": "Al Ka",
    "al": "Al Ka",
    "alka": "Al Ka",
    "mg ka": "Mg Ka",
    "mg kα": "Mg Ka",
    "mg k alpha": "Mg Ka",
    "mg": "Mg Ka",
    "mgka": "Mg Ka",
}

_LEVEL_RE = re.compile(r"^\s*([A-Za-z]{1,2})\s*(\d)\s*([spdf])\s*(\d/2)?\s*$")


class UnknownEntryError(SpecfitError, KeyError):
    """A species, level, set or X-ray line that the reference library does not hold."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Species:
    """One chemical species of one core level (a row of ``species.toml``)."""

    name: str
    level: str
    line: str
    assignment: str
    be: float
    be_min: float
    be_max: float
    fwhm: float
    fwhm_min: float
    fwhm_max: float
    source: str
    note: str = ""
    #: other names the species goes by in the literature (``intermediate`` for S-S bonded sulfur);
    #: templates accept them when picking species and then name the component by the alias
    aliases: tuple[str, ...] = ()

    def contains(self, binding_energy: float) -> bool:
        """Whether ``binding_energy`` (eV, main line) lies inside this species' window."""
        return self.be_min <= binding_energy <= self.be_max

    def as_dict(self) -> dict[str, Any]:
        """The entry as a plain dict (JSON-ready)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class SensitivityFactor:
    """A relative sensitivity factor with where it came from."""

    level: str
    line: str
    value: float
    library: str
    xray: str
    source: str
    normalisation: str
    note: str = ""
    derived_from: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def normalize_level(text: str) -> tuple[str, str | None]:
    """Split a level name into the canonical level and an optional spin-orbit line.

    ``"S2p"`` -> ``("S 2p", None)``; ``"s 2p3/2"`` -> ``("S 2p", "3/2")``; ``"C1s"`` -> ``("C 1s", None)``.

    Raises
    ------
    UnknownEntryError
        When ``text`` is not of the form element, shell number, subshell letter (optional j).
    """
    match = _LEVEL_RE.match(str(text))
    if not match:
        raise UnknownEntryError(f"{text!r} is not a core-level name like 'S 2p', 'C1s' or 'Ni 2p3/2'")
    element, n, subshell, j = match.groups()
    return f"{element[0].upper()}{element[1:].lower()} {n}{subshell.lower()}", j


def _check_number(entry: dict[str, Any], key: str, where: str) -> float:
    value = entry.get(key)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise SpecfitError(f"{where}: {key!r} must be a number, got {value!r}")
    return float(value)


@cache
def _species_table() -> dict[str, Species]:
    data = load_toml(SPECIES_FILE)
    table: dict[str, Species] = {}
    for i, entry in enumerate(data.get("species", [])):
        where = f"{SPECIES_FILE}: species #{i + 1} ({entry.get('name', '?')})"
        for key in ("name", "level", "assignment", "source"):
            if not str(entry.get(key, "")).strip():
                raise SpecfitError(f"{where}: missing {key!r}")
        level, _ = normalize_level(entry["level"])
        numbers = {
            k: _check_number(entry, k, where) for k in ("be", "be_min", "be_max", "fwhm", "fwhm_min", "fwhm_max")
        }
        if entry["name"] in table:
            raise SpecfitError(f"{where}: duplicate species name {entry['name']!r}")
        table[entry["name"]] = Species(
            name=entry["name"],
            level=level,
            line=str(entry.get("line", "total")),
            assignment=entry["assignment"],
            source=entry["source"],
            note=entry.get("note", ""),
            aliases=tuple(str(a) for a in entry.get("aliases", [])),
            **numbers,
        )
    return table


def species(level: str | None = None) -> list[Species]:
    """The species of the library, optionally those of one core level, in order of binding energy.

    Parameters
    ----------
    level
        A core level (``"S 2p"``, ``"S2p"``, ``"P 2p3/2"``); ``None`` for all.

    Raises
    ------
    UnknownEntryError
        When the library holds no species of ``level``.
    """
    table = _species_table()
    if level is None:
        return sorted(table.values(), key=lambda s: (s.level, s.be))
    canonical, _ = normalize_level(level)
    found = sorted((s for s in table.values() if s.level == canonical), key=lambda s: s.be)
    if not found:
        raise UnknownEntryError(
            f"no species for level {canonical!r} in the reference library; levels with species: {', '.join(levels())}"
        )
    return found


def species_info(name: str) -> Species:
    """The library entry of one species, e.g. ``species_info("S2p.PS4")``.

    Raises
    ------
    UnknownEntryError
        Naming close matches when ``name`` is not in the library.
    """
    table = _species_table()
    if name in table:
        return table[name]
    lowered = {k.lower(): k for k in table}
    if name.lower() in lowered:
        return table[lowered[name.lower()]]
    import difflib

    close = difflib.get_close_matches(name, list(table), n=5, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(sorted(table))}"
    raise UnknownEntryError(f"unknown XPS species {name!r}{hint}")


def levels() -> list[str]:
    """The core levels that have species in the library."""
    return sorted({s.level for s in _species_table().values()})


def template_recipes() -> dict[str, dict[str, Any]]:
    """The template recipes of ``species.toml`` (name -> level, species, range, ...)."""
    return dict(load_toml(SPECIES_FILE).get("templates", {}))


# --------------------------------------------------------------------------------------------------
# sensitivity factors
# --------------------------------------------------------------------------------------------------


def _statistical_fraction(level: str, line: str) -> float:
    """Fraction of a level's total intensity in spin-orbit line ``line`` by the (2j+1) rule."""
    subshell = level.split()[1][-1]
    ell = "spdf".index(subshell)
    j = Fraction(line)
    if j not in (ell - Fraction(1, 2), ell + Fraction(1, 2)):
        raise UnknownEntryError(f"{level} has no spin-orbit line j={line}")
    return float((2 * j + 1) / (2 * (2 * ell + 1)))


def _main_line(level: str) -> str:
    """The higher-intensity (j = l + 1/2) line of a level, '' for s levels."""
    ell = "spdf".index(level.split()[1][-1])
    return "" if ell == 0 else f"{2 * ell + 1}/2"


@cache
def _sensitivity_data() -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    data = load_toml(SENSITIVITY_FILE)
    sets = data.get("sets", {})
    rows = []
    for i, entry in enumerate(data.get("factor", [])):
        where = f"{SENSITIVITY_FILE}: factor #{i + 1} ({entry.get('level', '?')})"
        for key in ("level", "set", "xray", "line"):
            if not str(entry.get(key, "")).strip():
                raise SpecfitError(f"{where}: missing {key!r}")
        if entry["set"] not in sets:
            raise SpecfitError(f"{where}: set {entry['set']!r} is not described under [sets]")
        if not sets[entry["set"]].get("source"):
            raise SpecfitError(f"{SENSITIVITY_FILE}: set {entry['set']!r} has no source")
        value = _check_number(entry, "value", where)
        if value <= 0:
            raise SpecfitError(f"{where}: value must be positive")
        level, _ = normalize_level(entry["level"])
        rows.append({**entry, "level": level, "value": value, "xray": _xray_name(entry["xray"])})
    return sets, rows


def _xray_name(source: str) -> str:
    key = " ".join(str(source).lower().replace("-", " ").split())
    if key not in _XRAY_ALIASES:
        raise UnknownEntryError(f"unknown X-ray source {source!r}; use 'Al Ka' or 'Mg Ka'")
    return _XRAY_ALIASES[key]


def sensitivity_sets() -> dict[str, dict[str, Any]]:
    """The sensitivity-factor sets (name -> description, source, normalisation, note)."""
    return dict(_sensitivity_data()[0])


def sensitivity_factor_info(
    level: str, source: str = "Al Ka", *, library: str = "scofield", line: str | None = None
) -> SensitivityFactor:
    """The sensitivity factor of a level with its provenance.

    Parameters
    ----------
    level
        Core level, optionally with its spin-orbit line (``"S 2p"``, ``"S 2p3/2"``, ``"Ni2p"``).
    source
        X-ray line: ``"Al Ka"`` or ``"Mg Ka"``.
    library
        Factor set (``"scofield"``, ``"althermo1"``; see :func:`sensitivity_sets`).
    line
        ``"total"`` (whole level, both spin-orbit components; the default unless ``level`` names a
        line) or the line, e.g. ``"3/2"``.

    Notes
    -----
    When the set lists only the other form (total vs. main line) the factor is derived with the
    statistical (2j+1) branching ratio and ``derived_from`` says so. Scofield's own ratios differ
    from the statistical ones by a few per cent for 3d transition metals.

    Raises
    ------
    UnknownEntryError
        For an unknown set, X-ray source, or a level that the set does not cover.
    """
    sets, rows = _sensitivity_data()
    if library not in sets:
        raise UnknownEntryError(f"unknown sensitivity-factor set {library!r}; known: {', '.join(sorted(sets))}")
    canonical, named_line = normalize_level(level)
    wanted = line or named_line or "total"
    if _main_line(canonical) == "":
        wanted = "total"  # s levels have one line
    xray = _xray_name(source)
    meta = sets[library]
    candidates = [r for r in rows if r["level"] == canonical and r["set"] == library and r["xray"] == xray]
    by_line = {r["line"]: r for r in candidates}

    def build(row: dict[str, Any], value: float, derived: str = "") -> SensitivityFactor:
        return SensitivityFactor(
            level=canonical,
            line=wanted,
            value=value,
            library=library,
            xray=xray,
            source=meta["source"],
            normalisation=meta.get("normalisation", ""),
            note=row.get("note", ""),
            derived_from=derived,
        )

    if wanted in by_line:
        row = by_line[wanted]
        return build(row, row["value"])
    if wanted == "total" and by_line:
        line_name, row = next(iter(by_line.items()))
        value = row["value"] / _statistical_fraction(canonical, line_name)
        return build(row, value, f"{canonical}{line_name} x statistical (2j+1) ratio")
    if wanted != "total" and "total" in by_line:
        row = by_line["total"]
        value = row["value"] * _statistical_fraction(canonical, wanted)
        return build(row, value, f"{canonical} total x statistical (2j+1) fraction of {wanted}")
    covered = sorted({r["level"] for r in rows if r["set"] == library and r["xray"] == xray})
    if not covered:
        raise UnknownEntryError(f"sensitivity-factor set {library!r} has no factors for {xray}")
    raise UnknownEntryError(
        f"no {xray} sensitivity factor for {canonical} in set {library!r}; it covers: {', '.join(covered)}"
    )


def sensitivity_factor(
    level: str, source: str = "Al Ka", *, library: str = "scofield", line: str | None = None
) -> float:
    """The relative sensitivity factor of a level (see :func:`sensitivity_factor_info`)."""
    return sensitivity_factor_info(level, source, library=library, line=line).value
