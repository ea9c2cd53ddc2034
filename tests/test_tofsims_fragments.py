"""Exact masses, isotope patterns, formula parsing and the fragment library (ToF-SIMS)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tomllib

from specfit.reference import reference_dir
from specfit.tofsims.fragments import (
    FormulaError,
    electron_mass,
    exact_mass,
    fragment_library,
    isotope_pattern,
    lookup_fragment,
    nominal_mass,
    parse_ion,
)


@pytest.fixture(scope="module")
def table():
    with open(reference_dir() / "tofsims" / "isotopes.toml", "rb") as fh:
        return tomllib.load(fh)


def _mono(table, symbol):
    isos = table["elements"][symbol]["isotopes"]
    return max(isos, key=lambda i: i["abundance"])["mass"]


# independent sums: element counts written out by hand, masses read straight from the TOML
CASES = [
    ("PS-", {"P": 1, "S": 1}, -1),
    ("PS3-", {"P": 1, "S": 3}, -1),
    ("SO-", {"S": 1, "O": 1}, -1),
    ("LiF-", {"Li": 1, "F": 1}, -1),
    ("PO3-", {"P": 1, "O": 3}, -1),
    ("Cl-", {"Cl": 1}, -1),
    ("Li2F+", {"Li": 2, "F": 1}, 1),
    ("Li+", {"Li": 1}, 1),
    ("C_6H_5+", {"C": 6, "H": 5}, 1),
    ("NiO-", {"Ni": 1, "O": 1}, -1),
]


@pytest.mark.parametrize(("label", "counts", "charge"), CASES)
def test_monoisotopic_mass_matches_table_sum(table, label, counts, charge):
    me = table["electron_mass_u"]
    expected = sum(_mono(table, el) * n for el, n in counts.items()) - charge * me
    assert exact_mass(label) == pytest.approx(expected, abs=1e-5)
    assert abs(exact_mass(label) - expected) < 1e-9  # in fact exact to rounding


def test_known_values_and_electron_mass():
    # CODATA 2018 electron mass; AME2020 12C = 12 exactly, so C- is 12 + m_e
    assert electron_mass() == pytest.approx(5.48579909065e-4, rel=1e-12)
    assert exact_mass("C-") == pytest.approx(12.0 + 5.48579909065e-4, abs=1e-12)
    # AME2020 values written out (Wang et al. 2021): 31P 30.97376199842, 32S 31.9720711744
    assert exact_mass("PS3-") == pytest.approx(30.97376199842 + 3 * 31.9720711744 + 5.48579909065e-4, abs=1e-6)
    assert exact_mass("PS3", charge=-1) == exact_mass("PS3-")
    assert nominal_mass("PS3-") == 127
    # a doubly charged ion: m/z is half the ion mass
    assert exact_mass("SO4^2-") == pytest.approx(
        (31.9720711744 + 4 * 15.99491461957 + 2 * 5.48579909065e-4) / 2, abs=1e-6
    )


def test_explicit_isotopes_and_groups():
    assert exact_mass("^13CH_3+") - exact_mass("CH_3+") == pytest.approx(13.00335483521 - 12.0, abs=1e-6)
    assert exact_mass("[37Cl]-") == pytest.approx(36.965902602 + 5.48579909065e-4, abs=1e-6)
    assert parse_ion("(CH3)2N+")[0] == {("C", None): 2, ("H", None): 6, ("N", None): 1}
    assert parse_ion("CH_3NH_3+") == ({("C", None): 1, ("H", None): 6, ("N", None): 1}, 1)


def test_isotope_pattern_chlorine_and_ps3():
    cl = isotope_pattern("Cl-")
    assert cl.mz.size == 2
    assert cl.abundance[0] == pytest.approx(0.7576, abs=1e-6)
    assert cl.relative[1] == pytest.approx(0.2424 / 0.7576, rel=1e-6)
    ps3 = isotope_pattern("PS3-")
    assert ps3.mz[0] == pytest.approx(exact_mass("PS3-"), abs=1e-9)
    # M+2 of S3: 3 * p34 * p32^2 (leading term) relative to p32^3
    s = {32: 0.9499, 33: 0.0075, 34: 0.0425}
    m2 = (3 * s[34] * s[32] ** 2 + 3 * s[33] ** 2 * s[32]) / s[32] ** 3
    i2 = int(np.argmin(np.abs(ps3.mz - (exact_mass("PS3-") + 1.9958))))
    assert ps3.relative[i2] == pytest.approx(m2, rel=0.02)
    assert ps3.abundance.sum() == pytest.approx(1.0, abs=2e-3)


def test_isotope_pattern_large_formula_is_fast_and_normalised():
    c60 = isotope_pattern("C60-", merge_tolerance=0.3)
    # binomial 13C: P(1 x 13C)/P(0) = 60 p13 / p12
    assert c60.relative[1] == pytest.approx(60 * 0.0107 / 0.9893, rel=1e-3)
    assert np.all(np.diff(c60.mz) > 0.9)


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ("", "empty"),
        ("Xx", "unknown element 'Xx'"),
        ("P(S3", "missing ')'"),
        ("PS)3", "unbalanced"),
        ("C_", "'_' must be followed"),
        ("P0S", "count 0"),
        ("^14C", "not a natural isotope"),
        ("PS3+-", "mixed charge"),
        ("pS", "expected an element"),
    ],
)
def test_formula_errors_are_clear(bad, fragment):
    with pytest.raises(FormulaError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        parse_ion(bad)


def test_charge_disagreement_is_an_error():
    with pytest.raises(FormulaError, match="disagrees"):
        exact_mass("PS3-", charge=1)


def test_fragment_library_entries():
    library = fragment_library()
    names = {f.name for f in library}
    for required in (
        "P-",
        "S-",
        "S2-",
        "PS-",
        "PS2-",
        "PS3-",
        "Cl-",
        "LiS-",
        "PO-",
        "PO2-",
        "PO3-",
        "SO-",
        "SO2-",
        "SO3-",
        "LiF-",
        "F-",
        "O-",
        "OH-",
        "C2-",
        "CN-",
        "NiO-",
        "Li+",
        "Li2+",
        "Li2F+",
        "Li2S+",
    ):
        assert required in names
    for frag in library:
        assert frag.source, frag.name
        assert frag.assignment, frag.name
        assert math.isfinite(frag.mz) and frag.mz > 0
        assert frag.nominal == round(frag.mz) or abs(frag.mz - frag.nominal) < 0.5
    assert lookup_fragment("PS_3-").formula == "PS3"


def test_isotope_table_cites_sources(table):
    assert "10.1088/1674-1137/abddaf" in table["source"]["masses"]
    assert "10.1515/pac-2015-0503" in table["source"]["abundances"]
    for symbol in (
        "H",
        "Li",
        "B",
        "C",
        "N",
        "O",
        "F",
        "Na",
        "Al",
        "P",
        "S",
        "Cl",
        "K",
        "Ti",
        "Mn",
        "Fe",
        "Co",
        "Ni",
        "Cu",
        "Zn",
        "Zr",
        "Nb",
        "In",
        "Ru",
        "Pd",
        "I",
        "Pb",
        "Cs",
        "Bi",
    ):
        isos = table["elements"][symbol]["isotopes"]
        assert sum(i["abundance"] for i in isos) == pytest.approx(1.0, abs=2e-4), symbol
