"""Generate the reference CIFs of ``reference_library/xrd/`` and their index ``phases.toml``.

Run from the repository root::

    python reference_library/xrd/make_cifs.py

Every structure below was typed in from the published crystal structure (space group, cell, Wyckoff
positions, occupancies); no database was reachable when this library was written, so each entry says
where its numbers come from and how sure we are of them (``confidence``: ``"published"`` = the numbers
of the cited refinement as we know them, ``"approximate"`` = cell from the paper but atom positions
idealised, partly recalled or taken from a DFT relaxation — the strongest lines are right, relative
intensities may be off). Where numbers were looked up in a public file (e.g. a research repository's
CIF), the entry's note names the repository and path and says what was checked.
Pymatgen expands the asymmetric unit (``Structure.from_spacegroup``) and writes the CIF (``CifWriter``);
the source is written into the CIF as a comment block and ``_publ_section_references`` line.

Phases asked for but *not* shipped (no coordinates we could vouch for offline) are listed in
``MISSING`` and written to ``phases.toml`` with ``file = ""`` so that users see the gap and can drop
in a CIF from ICSD/COD.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter

HERE = Path(__file__).resolve().parent


@dataclass
class Entry:
    name: str
    formula: str
    spacegroup: str  # Hermann–Mauguin symbol as pymatgen understands it (":2" = origin choice 2)
    cell: tuple[float, float, float, float, float, float]  # a, b, c (Å), alpha, beta, gamma (deg)
    species: list  # element symbols or {element: occupancy}
    coords: list[list[float]]  # fractional coordinates of the asymmetric unit
    source: str
    doi: str = ""
    database: str = ""
    confidence: str = "published"
    note: str = ""
    aliases: list[str] = field(default_factory=list)


C90 = 90.0

ENTRIES: list[Entry] = [
    Entry(
        name="Li6PS5Cl",
        formula="Li6PS5Cl",
        spacegroup="F-43m",
        cell=(9.85, 9.85, 9.85, C90, C90, C90),
        species=["P", "S", {"Cl": 0.6, "S": 0.4}, {"S": 0.6, "Cl": 0.4}, {"Li": 0.5}],
        coords=[[0.5, 0.5, 0.5], [0.62, 0.62, 0.62], [0, 0, 0], [0.25, 0.25, 0.25], [0.3125, 0.3125, 0.018]],
        source="H.-J. Deiseroth et al., Angew. Chem. Int. Ed. 47 (2008) 755 (argyrodite Li6PS5X, a = 9.85 Å)",
        doi="10.1002/anie.200703900",
        confidence="approximate",
        note=(
            "Cell and space group as published; P on 4b, PS4 sulfur on 16e (x = 0.62), the 'free' S2-/Cl- sites "
            "4a/4c with 40 % S/Cl anti-site disorder (the degree of disorder depends on synthesis; Kraft et al. "
            "JACS 2017 report similar values), Li on 48h (0.3125, 0.3125, 0.018) half occupied. Positional "
            "parameters are rounded literature values (checked: Li-S 2.43 Å, P-S 2.05 Å)."
        ),
        aliases=["argyrodite", "LPSCl"],
    ),
    Entry(
        name="gamma-Li3PS4",
        formula="Li3PS4",
        spacegroup="Pmn2_1",
        cell=(7.708, 6.535, 6.136, C90, C90, C90),
        species=["P", "Li", "Li", "S", "S", "S"],
        coords=[
            [0, 0.8205, 0.0],
            [0.75, 0.6538, 0.5],
            [0, 0.1538, 0.5],
            [0.75, 0.6538, 0.875],
            [0, 0.1538, 0.875],
            [0, 0.8205, 0.375],
        ],
        source="K. Homma et al., Solid State Ionics 182 (2011) 53 (gamma-Li3PS4, Pmn21, enargite type)",
        doi="10.1016/j.ssi.2010.10.001",
        database="ICSD 180318",
        confidence="approximate",
        note=(
            "Cell from Homma 2011; atom positions are the idealised enargite (wurtzite-derived) arrangement "
            "with the y origin of enargite Cu3AsS4 (cations at z = 0, 1/2, S at z + 3/8), not the refined "
            "values, so tetrahedra are regular and P-S is too long; line positions exact, intensities approximate."
        ),
        aliases=["g-Li3PS4", "γ-Li3PS4"],
    ),
    Entry(
        name="beta-Li3PS4",
        formula="Li3PS4",
        spacegroup="Pnma",
        cell=(12.819, 8.2195, 6.1236, C90, C90, C90),
        species=["Li", "Li", "P", "S", "S", "S"],
        coords=[
            [0.66745, 0.03350, 0.38940],  # Li1 8d
            [0.0, 0.0, 0.5],  # Li2 4b
            [0.91053, 0.25, 0.15239],  # P 4c
            [0.89981, 0.25, 0.82468],  # S1 4c
            [0.05933, 0.25, 0.27242],  # S2 4c
            [0.84614, 0.03652, 0.27096],  # S3 8d
        ],
        source=(
            "K. Homma et al., Solid State Ionics 182 (2011) 53 (beta-Li3PS4, Pnma, a = 12.819, b = 8.2195, "
            "c = 6.1236 A); atom positions: DFT (PBE) relaxed ordered beta-Li3PS4 of the Materials Project "
            "(mp-985583)"
        ),
        doi="10.1016/j.ssi.2010.10.001",
        database="Materials Project mp-985583 (positions)",
        confidence="approximate",
        note=(
            "Cell from Homma 2011 (refined above the gamma-beta transition; temperature not re-checked here). "
            "The refined atom positions were not reachable; the positions are those of an MP-style PBE "
            "relaxation, looked up in the public file Feugmo-Group/torchdisorder testing/Li3PS4.cif (P1 "
            "listing, a = 6.172, b = 8.019, c = 13.033 A = Pnma with a and c swapped; its density 1.854 g/cm3 "
            "equals that listed for mp-985583), symmetrised here to Pnma (tol 1e-3) and put on the published "
            "axes and cell (the two cell volumes agree within 0.1 %); a second relaxation in the same repository "
            "(data/crystal-structures/Li3PS4_unit.cif, 3 % larger cell) agrees within 0.0025 in every "
            "fractional coordinate. Ordered Li model (Li 8d + 4b fully "
            "occupied); the partial Li occupancies of the refinement are not modelled, so Li-sensitive "
            "intensities are approximate. Checked: P-S 2.01-2.07 A, Li-S 2.40-2.60 A, strongest Cu Ka lines "
            "17.5 (210), 18.1 (011), 25.7 (220), 29.1 (002), 29.6 (221) deg. The file "
            "data/crystal-structures/Li3PS4_beta.cif of the same repository was rejected (Li-S 0.78 A, "
            "six S around P)."
        ),
        aliases=["b-Li3PS4", "β-Li3PS4"],
    ),
    Entry(
        name="Li4P2S6",
        formula="Li4P2S6",
        spacegroup="P-31m",
        cell=(6.07, 6.07, 6.577, C90, C90, 120.0),
        species=["P", "S", "Li", "Li"],
        coords=[[0, 0, 0.167], [0.32, 0, 0.247], [1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.5]],
        source=(
            "R. Mercier et al., Acta Cryst. B 38 (1982) 1887 (Li4P2S6, P-31m); S. Neuberger et al., "
            "Dalton Trans. 47 (2018) 11691 (P2S6 stacking disorder)"
        ),
        doi="10.1107/S0567740882007493; 10.1039/C8DT02619G",
        confidence="approximate",
        note=(
            "Cell as published (a = 6.07, c = 6.577 Å); staggered P2S6 dimer on the 3-fold axis (P on 2e, "
            "P-P 2.2 Å; S on 6k with P-S 2.03 Å), Li on 2c and 2d. Positions idealised from the bond lengths; "
            "the stacking disorder of P2S6 units found by Neuberger et al. is not modelled. DOIs not verified offline."
        ),
    ),
    Entry(
        name="Li2S",
        formula="Li2S",
        spacegroup="Fm-3m",
        cell=(5.708, 5.708, 5.708, C90, C90, C90),
        species=["S", "Li"],
        coords=[[0, 0, 0], [0.25, 0.25, 0.25]],
        source=(
            "Antifluorite Li2S, a = 5.708 Å at room temperature: W. Buehrer et al., J. Phys.: Condens. "
            "Matter 3 (1991) 1055"
        ),
        doi="10.1088/0953-8984/3/9/004",
        note="Structure type exact (no free parameters); DOI not verified offline.",
    ),
    Entry(
        name="LiCl",
        formula="LiCl",
        spacegroup="Fm-3m",
        cell=(5.129, 5.129, 5.129, C90, C90, C90),
        species=["Li", "Cl"],
        coords=[[0, 0, 0], [0.5, 0.5, 0.5]],
        source="Rock salt LiCl, a = 5.1295 Å: H. E. Swanson, E. Tatge, NBS Circular 539, vol. 1 (1953)",
        database="PDF 04-0664",
        note="Structure type exact; PDF card number from memory.",
    ),
    Entry(
        name="Li3P",
        formula="Li3P",
        spacegroup="P6_3/mmc",
        cell=(4.273, 4.273, 7.594, C90, C90, 120.0),
        species=["P", "Li", "Li"],
        coords=[[1 / 3, 2 / 3, 0.25], [0, 0, 0.25], [1 / 3, 2 / 3, 0.583]],
        source="Na3As-type Li3P: Y. Dong, F. J. DiSalvo, Acta Cryst. E 63 (2007) i97",
        confidence="approximate",
        note="Cell and Li2 z (0.583) as we recall them from Dong & DiSalvo 2007; DOI not known offline.",
    ),
    Entry(
        name="Li3N",
        formula="Li3N",
        spacegroup="P6/mmm",
        cell=(3.648, 3.648, 3.875, C90, C90, 120.0),
        species=["N", "Li", "Li"],
        coords=[[0, 0, 0], [0, 0, 0.5], [1 / 3, 2 / 3, 0]],
        source="A. Rabenau, H. Schulz, J. Less-Common Met. 50 (1976) 155 (alpha-Li3N)",
        doi="10.1016/0022-5088(76)90263-3",
        note="No free positional parameters.",
    ),
    Entry(
        name="LiF",
        formula="LiF",
        spacegroup="Fm-3m",
        cell=(4.027, 4.027, 4.027, C90, C90, C90),
        species=["Li", "F"],
        coords=[[0, 0, 0], [0.5, 0.5, 0.5]],
        source="Rock salt LiF, a = 4.0270 Å: H. E. Swanson, E. Tatge, NBS Circular 539, vol. 1 (1953)",
        database="PDF 04-0857",
        note="Structure type exact; PDF card number from memory.",
    ),
    Entry(
        name="Li2ZrCl6",
        formula="Li2ZrCl6",
        spacegroup="P-3m1",
        cell=(6.32, 6.32, 5.94, C90, C90, 120.0),
        species=["Zr", "Cl", "Li"],
        coords=[[0, 0, 0], [0.1667, -0.1667, 0.25], [1 / 3, 2 / 3, 0.5]],
        source=(
            "Trigonal (P-3m1) Li2ZrCl6 with hcp Cl: H. Kwak et al., ACS Energy Lett. 6 (2021) 96; "
            "K. Wang et al., Nat. Commun. 12 (2021) 4410"
        ),
        confidence="approximate",
        note=(
            "Simplified Z = 1 model on the hcp Cl sublattice (a = sqrt(3) a_hcp, c = 2 layers; Zr on 1a, Cl on 6i "
            "at ideal hcp positions, Li on 2d). The published cell may be the larger sqrt(3) x sqrt(3) supercell "
            "(a ~ 10.9 Å) with extra superstructure lines; cell values and DOIs are not verified."
        ),
    ),
    Entry(
        name="LiNbO3",
        formula="LiNbO3",
        spacegroup="R3c",
        cell=(5.1483, 5.1483, 13.8631, C90, C90, 120.0),
        species=["Nb", "Li", "O"],
        coords=[[0, 0, 0], [0, 0, 0.2829], [0.0492, 0.3446, 0.0647]],
        source="S. C. Abrahams, J. M. Reddy, J. L. Bernstein, J. Phys. Chem. Solids 27 (1966) 997",
        doi="10.1016/0022-3697(66)90072-2",
        note="Hexagonal setting; DOI not verified offline.",
    ),
    Entry(
        name="NCM811",
        formula="LiNi0.8Co0.1Mn0.1O2",
        spacegroup="R-3m",
        cell=(2.872, 2.872, 14.20, C90, C90, 120.0),
        species=["Li", {"Ni": 0.8, "Co": 0.1, "Mn": 0.1}, "O"],
        coords=[[0, 0, 0], [0, 0, 0.5], [0, 0, 0.2412]],
        source=(
            "alpha-NaFeO2-type layered oxide; representative NCM811 cell (a = 2.872, c = 14.20 Å) e.g. "
            "H.-J. Noh et al., J. Power Sources 233 (2013) 121"
        ),
        doi="10.1016/j.jpowsour.2013.01.063",
        confidence="approximate",
        note=(
            "Li on 3a, transition metals (0.8/0.1/0.1) on 3b, O on 6c (z = 0.2412); Li/Ni anti-site mixing "
            "(typically 2-5 %) not modelled. Also stands for LiNiO2 (a = 2.878, c = 14.19 Å), whose pattern "
            "differs only in the cell."
        ),
        aliases=["LiNiO2", "NMC811"],
    ),
    Entry(
        name="Al",
        formula="Al",
        spacegroup="Fm-3m",
        cell=(4.0495, 4.0495, 4.0495, C90, C90, C90),
        species=["Al"],
        coords=[[0, 0, 0]],
        source="fcc Al, a = 4.0494 Å: H. E. Swanson, E. Tatge, NBS Circular 539, vol. 1 (1953)",
        database="PDF 04-0787",
        note="Structure type exact; PDF card number from memory.",
    ),
    Entry(
        name="LiAl",
        formula="LiAl",
        spacegroup="Fd-3m",
        cell=(6.37, 6.37, 6.37, C90, C90, C90),
        species=["Li", "Al"],
        coords=[[0, 0, 0], [0.5, 0.5, 0.5]],
        source="NaTl (B32) type beta-LiAl: E. Zintl, G. Brauer, Z. Phys. Chem. B 20 (1933) 245",
        confidence="published",
        note="a = 6.37 Å (stoichiometric; a varies with Li content, 6.36-6.38 Å). Origin choice 1 (Li 8a, Al 8b).",
    ),
    Entry(
        name="In",
        formula="In",
        spacegroup="I4/mmm",
        cell=(3.2523, 3.2523, 4.9461, C90, C90, C90),
        species=["In"],
        coords=[[0, 0, 0]],
        source="Tetragonal In, a = 3.2523, c = 4.9461 Å: H. E. Swanson, E. Tatge, NBS Circular 539, vol. 1 (1953)",
        database="PDF 05-0642",
        note="Structure type exact; cell values and PDF number from memory (within 0.01 %).",
    ),
    Entry(
        name="LiIn",
        formula="LiIn",
        spacegroup="Fd-3m",
        cell=(6.786, 6.786, 6.786, C90, C90, C90),
        species=["Li", "In"],
        coords=[[0, 0, 0], [0.5, 0.5, 0.5]],
        source="NaTl (B32) type LiIn: E. Zintl, G. Brauer, Z. Phys. Chem. B 20 (1933) 245",
        confidence="approximate",
        note="a = 6.786 Å recalled (range 6.78-6.80 Å reported with Li content); origin choice 1.",
    ),
    Entry(
        name="alpha-S8",
        formula="S",
        spacegroup="Fddd:2",
        cell=(10.4646, 12.8660, 24.4860, C90, C90, C90),
        species=["S", "S", "S", "S"],
        coords=[[0.8554, 0.9526, 0.9516], [0.7844, 0.0301, 0.0763], [0.7069, 0.9795, 0.0040], [0.7862, 0.9073, 0.1290]],
        source="S. J. Rettig, J. Trotter, Acta Cryst. C 43 (1987) 2260 (orthorhombic alpha-S8, origin choice 2)",
        doi="10.1107/S0108270187088152",
        note="Coordinates checked by S-S bond lengths (2.036-2.045 Å); DOI not verified offline.",
        aliases=["S8", "sulfur"],
    ),
    Entry(
        name="Li2CO3",
        formula="Li2CO3",
        spacegroup="C2/c",
        cell=(8.359, 4.973, 6.197, C90, 114.83, C90),
        species=["Li", "C", "O", "O"],
        coords=[[0.1965, 0.4484, 0.8353], [0, 0.0657, 0.25], [0, 0.3230, 0.25], [0.1459, -0.0636, 0.3136]],
        source="J. Zemann, Acta Cryst. 10 (1957) 664; cell as refined by Y. Idemoto et al., Powder Diffr. 13 (1998)",
        doi="10.1107/S0365110X57002364",
        note="Zabuyelite; DOIs not verified offline.",
    ),
    Entry(
        name="LiOH",
        formula="LiOH",
        spacegroup="P4/nmm",
        cell=(3.549, 3.549, 4.334, C90, C90, C90),
        species=["Li", "O", "H"],
        coords=[[0, 0, 0], [0, 0.5, 0.1939], [0, 0.5, 0.4057]],
        source="H. Dachs, Z. Kristallogr. 112 (1959) 60 (neutron); K. Mair, Acta Cryst. B 34 (1978) 542",
        note="Origin choice 1 (Li 2a (0,0,0), O/H 2c (0,1/2,z)); checked Li-O 1.96 Å.",
    ),
]

#: Asked for but not shipped: no atom coordinates we could vouch for without database access.
MISSING = [
    {
        "name": "Li7P3S11",
        "formula": "Li7P3S11",
        "source": "H. Yamane et al., Solid State Ionics 178 (2007) 1163 (P-1, Z = 2, a = 12.5009, b = 6.0316, "
        "c = 12.5303 Å, alpha = 102.845, beta = 113.2024, gamma = 74.467 deg; ICSD 157654)",
        "doi": "10.1016/j.ssi.2007.05.020",
        "note": "Not shipped: the 21 independent atom positions (one formula unit per asymmetric unit of the "
        "triclinic cell, Z = 2) were not found in any reachable public source. Searched (2026-11): public GitHub code "
        "(CIF/POSCAR text for Li7P3S11, mp-641703, 'Li14 P6 S22'), documentation and web pages. The cell above "
        "is as listed in NRC-Mila/OBELiX data/downloads/test.csv (entry 'mdp', with ICSD 157654); the "
        "Materials Project entry is mp-641703. Add the CIF from the paper or ICSD as Li7P3S11.cif.",
    },
    {
        "name": "thio-LISICON-II",
        "formula": "Li3.25Ge0.25P0.75S4",
        "source": "R. Kanno, M. Murayama, J. Electrochem. Soc. 148 (2001) A742 (thio-LISICON, region II "
        "representative Li3.25Ge0.25P0.75S4)",
        "doi": "10.1149/1.1379028",
        "note": "Not shipped: no refined atom positions were found in any reachable public source. "
        "NRC-Mila/OBELiX data/downloads/test.csv lists, for Li4-xGe1-xPxS4 compositions of this paper, "
        "monoclinic P21/m superstructure cells with Z = 24 (e.g. Li3.4Ge0.4P0.6S4: a = 13.769, b = 23.614, "
        "c = 12.359 Å, beta = 90.66 deg) and marks their CIF 'not available'; a cell alone gives line "
        "positions but no intensities, so no CIF is written.",
    },
]


def build(entry: Entry) -> Structure:
    """The pymatgen structure of one entry."""
    lattice = Lattice.from_parameters(*entry.cell)
    return Structure.from_spacegroup(entry.spacegroup, lattice, entry.species, entry.coords, tol=1e-3)


def check(entry: Entry, structure: Structure) -> str:
    """One line with formula units and the shortest distance to a fully occupied neighbour (sanity)."""
    comp = structure.composition
    reduced = comp.reduced_formula
    dist = structure.distance_matrix
    np.fill_diagonal(dist, np.inf)
    occupied = np.array([sum(site.species.values()) > 0.99 for site in structure])
    shortest = float(dist[np.ix_(occupied, occupied)].min()) if occupied.sum() > 1 else math.nan
    return f"{entry.name:<14} {reduced:<22} sites {len(structure):4d}  shortest full-site distance {shortest:.3f} Å"


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_all() -> None:
    lines = [
        "# XRD reference phases of specfit. Generated by make_cifs.py (edit the table there, then re-run).",
        "# Each entry: name, formula, file (CIF in this folder, empty when not shipped), source, doi, database,",
        "# confidence (published | approximate | missing) and a note on what is uncertain.",
        "",
    ]
    for entry in ENTRIES:
        structure = build(entry)
        print(check(entry, structure))
        filename = f"{entry.name}.cif"
        text = str(CifWriter(structure, symprec=1e-3))
        header = (
            f"# {entry.name} ({entry.formula}), {entry.spacegroup}\n"
            f"# Source: {entry.source}\n"
            f"# DOI: {entry.doi or 'n/a'}; database: {entry.database or 'n/a'}; confidence: {entry.confidence}\n"
            f"# Note: {entry.note}\n"
            "# Written by specfit reference_library/xrd/make_cifs.py with pymatgen CifWriter.\n"
        )
        # CifWriter writes the data block first; the source also goes into a CIF item so it survives parsing
        text = text.replace(
            "_symmetry_space_group_name_H-M",
            f"_publ_section_references\n{_cif_quote(entry.source + (' DOI ' + entry.doi if entry.doi else ''))}\n"
            "_symmetry_space_group_name_H-M",
            1,
        )
        (HERE / filename).write_text(header + text)
        lines += [
            "[[phase]]",
            f"name = {_toml_str(entry.name)}",
            f"formula = {_toml_str(entry.formula)}",
            f"file = {_toml_str(filename)}",
            f"spacegroup = {_toml_str(entry.spacegroup.split(':')[0])}",
            f"source = {_toml_str(entry.source)}",
            f"doi = {_toml_str(entry.doi)}",
            f"database = {_toml_str(entry.database)}",
            f"confidence = {_toml_str(entry.confidence)}",
            f"aliases = [{', '.join(_toml_str(a) for a in entry.aliases)}]",
            f"note = {_toml_str(entry.note)}",
            "",
        ]
    for item in MISSING:
        lines += [
            "[[phase]]",
            f"name = {_toml_str(item['name'])}",
            f"formula = {_toml_str(item['formula'])}",
            'file = ""',
            f"source = {_toml_str(item['source'])}",
            f"doi = {_toml_str(item['doi'])}",
            'confidence = "missing"',
            f"note = {_toml_str(item['note'])}",
            "",
        ]
    (HERE / "phases.toml").write_text("\n".join(lines))


def _cif_quote(value: str) -> str:
    return ";\n" + value.replace("\n;", "\n ;") + "\n;"


if __name__ == "__main__":
    write_all()
