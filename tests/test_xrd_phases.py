"""XRD reference library: every phase loads, cites its source, and is what make_cifs.py says."""

from __future__ import annotations

import importlib.util
import sys
import warnings

import numpy as np
import pytest
from pymatgen.io.cif import CifWriter

from specfit.errors import SpecfitError
from specfit.reference import load_toml, reference_dir
from specfit.xrd.phases import Phase, get_phase, library, missing_phases, select_phases, structure_hash
from specfit.xrd.simulate import CU_KALPHA1, reflections


@pytest.fixture(autouse=True, scope="module")
def _cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("SPECFIT_CACHE_DIR", str(tmp_path_factory.mktemp("xrd-cache")))
    yield
    mp.undo()


def _make_cifs_module():
    path = reference_dir() / "xrd" / "make_cifs.py"
    spec = importlib.util.spec_from_file_location("make_cifs", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_cifs"] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_library_loads_every_shipped_phase_with_its_source():
    index = load_toml("xrd/phases.toml")["phase"]
    shipped = [e for e in index if e["file"]]
    phases = library()
    assert len(phases) == len(shipped) >= 18
    for entry in index:
        assert entry["source"].strip(), entry["name"]
        assert entry["confidence"] in ("published", "approximate", "missing"), entry["name"]
        if entry["confidence"] != "published":
            assert entry["note"].strip(), f"{entry['name']}: an uncertain entry must say why"
    for phase in phases:
        text = phase.path.read_text()
        assert "# Source:" in text and "_publ_section_references" in text, phase.name
        assert phase.source and phase.source.split()[0] in text


def test_missing_phases_are_listed_with_the_reason():
    missing = {m["name"]: m for m in missing_phases()}
    assert {"Li7P3S11", "thio-LISICON-II"} <= set(missing)
    assert "beta-Li3PS4" not in missing  # shipped since positions were found (see its note)
    for entry in missing.values():
        assert entry["note"].startswith("Not shipped"), entry["name"]
    with pytest.raises(SpecfitError, match="without a structure"):
        get_phase("Li7P3S11")
    with pytest.raises(SpecfitError, match="without a structure"):
        get_phase("thio-LISICON-II")


def test_shipped_cifs_are_what_the_generation_script_builds():
    module = _make_cifs_module()
    for entry in module.ENTRIES:
        built = module.build(entry)
        shipped = get_phase(entry.name)
        assert shipped.structure.composition.almost_equals(built.composition), entry.name
        assert shipped.structure.lattice.abc == pytest.approx(built.lattice.abc, rel=1e-6), entry.name
        assert len(shipped.structure) == len(built), entry.name


def test_formulas_and_cell_masses():
    li2s = get_phase("Li2S")
    assert li2s.structure.composition.reduced_formula == "Li2S"
    assert li2s.cell_mass == pytest.approx(4 * (2 * 6.94 + 32.06), rel=2e-3)  # Z = 4
    lpscl = get_phase("Li6PS5Cl")
    assert lpscl.structure.composition.reduced_formula == "Li6PS5Cl"
    assert lpscl.density == pytest.approx(1.86, abs=0.05)  # argyrodite density ~1.86 g/cm3
    ncm = get_phase("NCM811").structure.composition
    assert ncm.get_atomic_fraction("Ni") / ncm.get_atomic_fraction("Li") == pytest.approx(0.8)
    assert ncm.get_atomic_fraction("O") / ncm.get_atomic_fraction("Li") == pytest.approx(2.0)


def test_lattice_modes_follow_the_crystal_system():
    assert get_phase("Li6PS5Cl").lattice_mode == "a"
    assert get_phase("LiAl").lattice_mode == "a"
    assert get_phase("NCM811").lattice_mode == "ac"
    assert get_phase("In").lattice_mode == "ac"
    assert get_phase("Li2CO3").lattice_mode == "abc"
    assert get_phase("alpha-S8").lattice_mode == "abc"


def test_lookup_by_alias_and_case():
    assert get_phase("argyrodite").name == "Li6PS5Cl"
    assert get_phase("lif").name == "LiF"
    assert get_phase("LiNiO2").name == "NCM811"
    with pytest.raises(SpecfitError, match="unknown phase 'Unobtainium'"):
        get_phase("Unobtainium")


def test_element_filter_keeps_subsets_only():
    names = {p.name for p in select_phases(elements=["Li", "S"])}
    assert names == {"Li2S", "alpha-S8"}
    names = {p.name for p in select_phases(elements=["Li", "P", "S", "Cl"])}
    assert {"Li6PS5Cl", "Li2S", "LiCl", "gamma-Li3PS4", "beta-Li3PS4", "Li4P2S6", "Li3P", "alpha-S8"} == names
    assert select_phases(elements=["Xe"]) == []
    assert {p.name for p in select_phases(["LiF", "Al"], elements=[" li ", "F"])} == {"LiF"}


def test_structure_hash_survives_a_cif_round_trip_and_sees_changes(tmp_path):
    phase = get_phase("Li2CO3")
    path = tmp_path / "copy.cif"
    CifWriter(phase.structure).write_file(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = Phase.from_cif(path)
    assert structure_hash(again.structure) == phase.key
    strained = phase.structure.copy()
    strained.scale_lattice(phase.volume * 1.001)
    assert structure_hash(strained) != phase.key


def test_user_cif_and_structure_candidates(tmp_path):
    path = tmp_path / "mine.cif"
    CifWriter(get_phase("LiF").structure).write_file(path)
    phases = select_phases(["Li2S"], extra=[str(path), get_phase("Al").structure])
    assert [p.name for p in phases] == ["Li2S", "mine", "Al"]


@pytest.mark.parametrize("content", ["", "data_x\n_cell_length_a 5\n", "not a cif at all\n\x00\x01"])
def test_bad_cif_raises_specfit_error_naming_the_file(tmp_path, content):
    path = tmp_path / "bad.cif"
    path.write_text(content)
    with pytest.raises(SpecfitError, match=r"bad\.cif"):
        Phase.from_cif(path)
    with pytest.raises(SpecfitError, match="not found"):
        Phase.from_cif(tmp_path / "absent.cif")


def _distances(structure, centre: str, neighbour: str, cutoff: float) -> np.ndarray:
    found = []
    for site in structure:
        if site.specie.symbol == centre:
            found += [n.nn_distance for n in structure.get_neighbors(site, cutoff) if n.specie.symbol == neighbour]
    return np.array(found)


def test_beta_li3ps4_structure_is_chemically_sensible():
    phase = get_phase("β-Li3PS4")
    structure = phase.structure
    assert phase.name == "beta-Li3PS4"
    assert structure.get_space_group_info()[0] == "Pnma"
    assert structure.composition.reduced_formula == "Li3PS4"
    assert structure.composition["P"] == 4  # Z = 4
    assert phase.density == pytest.approx(1.85, abs=0.02)
    # isolated PS4 tetrahedra: exactly four S per P at 2.0-2.1 Å, no P-P bonds
    p_s = _distances(structure, "P", "S", 2.6)
    assert len(p_s) == 4 * 4 and p_s.min() > 2.0 and p_s.max() < 2.1
    assert len(_distances(structure, "P", "P", 3.0)) == 0
    # every Li tetrahedrally coordinated by S at 2.38-2.62 Å
    li_s = _distances(structure, "Li", "S", 2.7)
    assert len(li_s) == 12 * 4 and li_s.min() > 2.38 and li_s.max() < 2.62


# Strongest Cu Kα1 lines of beta-Li3PS4: (210), (011), (002), (221) on the Homma 2011 cell, i.e. the lines
# near 17.5, 18.1, 29.1 and 29.6-29.8 deg that identify beta-Li3PS4 in the glass-ceramic literature (the last
# one sits at 29.8 deg on room-temperature cells; the cell used here gives 29.63 deg).
def test_beta_li3ps4_strongest_lines():
    refl = reflections(get_phase("beta-Li3PS4"), CU_KALPHA1, (10, 60))
    order = np.argsort(refl.intensity)[::-1][:6]
    strongest = refl.two_theta[order]
    for line in (17.53, 18.05, 29.14, 29.63):
        assert np.abs(strongest - line).min() < 0.05, f"{line} not among {np.sort(strongest)}"
    assert np.abs(refl.two_theta[order[0]] - 29.63) < 0.05  # (221) is the strongest line
