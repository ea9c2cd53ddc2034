"""Crystalline phases for XRD: the reference library (``reference_library/xrd``) and user structures.

A :class:`Phase` wraps a pymatgen :class:`~pymatgen.core.Structure` with what identification and
quantification need: a name, the element set (for ``--elements`` filtering), which lattice parameters
may be refined independently (from the crystal system), the unit-cell mass and volume (the ``ZMV`` of
the Hill–Howard weight fractions) and the source of the structure.

Examples
--------
>>> from specfit.xrd.phases import library, get_phase, select_phases
>>> lpscl = get_phase("Li6PS5Cl")
>>> [p.name for p in select_phases(elements=["Li", "S"])]
['Li2S', 'alpha-S8']
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path

import numpy as np
from pymatgen.core import Structure

from ..errors import SpecfitError
from ..reference import load_toml, reference_dir

__all__ = ["Phase", "get_phase", "library", "missing_phases", "select_phases", "structure_hash"]

LIBRARY_INDEX = "xrd/phases.toml"


def structure_hash(structure: Structure) -> str:
    """A stable SHA-256 hex digest of a structure (lattice, species with occupancies, positions).

    Rounded to 1e-6 Å (lattice) and 1e-5 (fractional coordinates) so that a structure read back from
    a CIF hashes like the original; site order does not matter.
    """
    sites = []
    for site in structure:
        species = sorted((str(el), round(float(occ), 5)) for el, occ in site.species.items())
        frac = [round(float(c) % 1.0, 5) % 1.0 for c in site.frac_coords]
        sites.append((species, frac))
    sites.sort()
    payload = json.dumps({"lattice": np.round(structure.lattice.matrix, 6).tolist(), "sites": sites})
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class Phase:
    """A crystalline phase: a structure plus the facts identification and quantification need.

    Parameters
    ----------
    name
        Unique name (library phases: the ``name`` of ``phases.toml``).
    structure
        The crystal structure (conventional cell as written in the CIF).
    formula
        Chemical formula as usually written (defaults to the reduced formula of the structure).
    source, doi, database, confidence, note
        Provenance of the structure (library phases: from ``phases.toml``).
    path
        The CIF file, when the phase was read from one.
    aliases
        Other names the phase is known by (case-insensitive lookup).
    """

    name: str
    structure: Structure
    formula: str = ""
    source: str = ""
    doi: str = ""
    database: str = ""
    confidence: str = ""
    note: str = ""
    path: Path | None = None
    aliases: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.formula:
            self.formula = self.structure.composition.reduced_formula
        if len(self.structure) == 0:
            raise SpecfitError(f"phase {self.name!r}: structure has no sites")

    # --- construction -------------------------------------------------------------------------
    @classmethod
    def from_cif(cls, path: str | os.PathLike, name: str | None = None, **info: str) -> Phase:
        """Read a phase from a CIF file (the first structure in it).

        Raises
        ------
        SpecfitError
            If the file is missing or pymatgen finds no structure in it.
        """
        path = Path(path)
        if not path.is_file():
            raise SpecfitError(f"{path}: CIF file not found")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pymatgen warns about every rounding it repairs
                structure = Structure.from_file(path, primitive=False)
        except Exception as exc:  # pymatgen raises ValueError/KeyError/... on bad CIFs
            raise SpecfitError(f"{path}: not a readable CIF structure ({type(exc).__name__}: {exc})") from exc
        return cls(name=name or path.stem, structure=structure, path=path, **info)

    @classmethod
    def from_structure(cls, structure: Structure, name: str | None = None, **info: str) -> Phase:
        """Wrap a pymatgen structure (e.g. from the Materials Project or built in a notebook)."""
        return cls(name=name or structure.composition.reduced_formula, structure=structure, **info)

    # --- derived facts ------------------------------------------------------------------------
    @cached_property
    def key(self) -> str:
        """Hash of the structure (keys the simulation cache)."""
        return structure_hash(self.structure)

    @cached_property
    def elements(self) -> frozenset[str]:
        """Chemical elements in the structure (symbols)."""
        return frozenset(el.symbol for el in self.structure.composition.elements)

    @cached_property
    def crystal_system(self) -> str:
        """Crystal system from the space group (pymatgen's SpacegroupAnalyzer, symprec 1e-3 Å)."""
        from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

        try:
            return SpacegroupAnalyzer(self.structure, symprec=1e-3).get_crystal_system()
        except Exception:  # spglib can fail on odd partial-occupancy cells: treat as triclinic
            return "triclinic"

    @cached_property
    def lattice_mode(self) -> str:
        """Which cell lengths are refined independently: ``"a"`` (one scale), ``"ac"`` or ``"abc"``.

        Cubic cells (and rhombohedral cells in the rhombohedral setting) keep their shape: one scale
        factor for all lengths; tetragonal, hexagonal and trigonal cells (hexagonal setting) refine a
        and c; lower symmetries refine a, b and c. Cell angles are kept at their reference values.
        """
        a, b, c = self.structure.lattice.abc
        system = self.crystal_system
        if system == "cubic":
            return "a"
        if system in ("tetragonal", "hexagonal", "trigonal"):
            if np.isclose(a, b, rtol=1e-4) and np.isclose(b, c, rtol=1e-4):
                return "a"  # rhombohedral setting
            return "ac"
        return "abc"

    @property
    def cell_mass(self) -> float:
        """Mass of the unit-cell content in g/mol (Z·M; partial occupancies included)."""
        return float(self.structure.composition.weight)

    @property
    def volume(self) -> float:
        """Unit-cell volume in Å³."""
        return float(self.structure.volume)

    @property
    def density(self) -> float:
        """Crystallographic density in g/cm³."""
        return float(self.structure.density)

    def matches_elements(self, elements: Iterable[str]) -> bool:
        """True when every element of the phase is in ``elements``."""
        return self.elements <= {e.strip().capitalize() for e in elements}

    def info(self) -> dict[str, str]:
        """Name, formula and provenance as a flat dict."""
        return {
            "name": self.name,
            "formula": self.formula,
            "source": self.source,
            "doi": self.doi,
            "database": self.database,
            "confidence": self.confidence,
            "note": self.note,
        }

    def __repr__(self) -> str:
        return f"Phase({self.name!r}, {self.formula}, {self.structure.get_space_group_info(symprec=1e-3)[0]})"


@cache
def _library(folder: str) -> tuple[Phase, ...]:
    index = load_toml(LIBRARY_INDEX)
    phases = []
    for entry in index.get("phase", []):
        if not entry.get("file"):
            continue
        phases.append(
            Phase.from_cif(
                Path(folder) / "xrd" / entry["file"],
                name=entry["name"],
                formula=entry.get("formula", ""),
                source=entry.get("source", ""),
                doi=entry.get("doi", ""),
                database=entry.get("database", ""),
                confidence=entry.get("confidence", ""),
                note=entry.get("note", ""),
                aliases=tuple(entry.get("aliases", ())),
            )
        )
    return tuple(phases)


def library() -> list[Phase]:
    """All phases of the reference library that ship a CIF (``reference_library/xrd/phases.toml``)."""
    return list(_library(str(reference_dir())))


def missing_phases() -> list[dict]:
    """Index entries of phases the library names but does not ship a structure for (with the reason)."""
    return [dict(e) for e in load_toml(LIBRARY_INDEX).get("phase", []) if not e.get("file")]


def get_phase(name: str) -> Phase:
    """A library phase by name or alias (case-insensitive), or a phase read from a CIF path.

    Raises
    ------
    SpecfitError
        If no phase of that name exists (the message lists the known names).
    """
    if name.lower().endswith(".cif") or os.sep in name:
        return Phase.from_cif(name)
    wanted = name.strip().lower()
    phases = library()
    for phase in phases:
        if phase.name.lower() == wanted or wanted in (a.lower() for a in phase.aliases):
            return phase
    for entry in missing_phases():
        if entry["name"].lower() == wanted:
            raise SpecfitError(f"phase {name!r} is listed in the library without a structure: {entry.get('note', '')}")
    known = ", ".join(p.name for p in phases)
    raise SpecfitError(f"unknown phase {name!r}; library phases: {known} (or give a CIF path)")


def select_phases(
    candidates: Sequence[str | Phase] | None = None,
    elements: Iterable[str] | None = None,
    extra: Sequence[Phase | Structure | str] = (),
) -> list[Phase]:
    """The candidate phases of an identification.

    Parameters
    ----------
    candidates
        Names (library names/aliases or CIF paths) or phases; ``None`` means the whole library.
    elements
        When given, keep only phases whose elements are all in this set.
    extra
        More phases, structures or CIF paths to add to the candidates.
    """
    if candidates is None:
        phases = library()
    else:
        phases = [c if isinstance(c, Phase) else get_phase(str(c)) for c in candidates]
    for item in extra:
        if isinstance(item, Phase):
            phases.append(item)
        elif isinstance(item, Structure):
            phases.append(Phase.from_structure(item))
        else:
            phases.append(Phase.from_cif(item))
    if elements is not None:
        allowed = [e for e in elements if str(e).strip()]
        phases = [p for p in phases if p.matches_elements(allowed)]
    seen: set[str] = set()
    unique = []
    for p in phases:
        if p.name not in seen:
            seen.add(p.name)
            unique.append(p)
    return unique
