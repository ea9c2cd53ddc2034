"""CasaXPS text export, CasaXPS results table, VGX-900 "Spectra" files, region-name normalisation
and the XPS sniffers."""

from __future__ import annotations

import numpy as np
import pytest

import specfit
from specfit.conventions import leaves, validate
from specfit.errors import CorruptFileError, UnknownFormatError
from specfit.io.casaxps_text import read_casaxps_results
from specfit.io.registry import _discover, get_reader
from specfit.xps.regions import normalize_region, parse_core_level
from tests.conftest import CORPUS, corpus_path

pytestmark = pytest.mark.timeout(120)


def test_casaxps_text_export_matches_pynxtools():
    tree = specfit.read(corpus_path("xps", "casaxps_txt_export", "vms_txt_export.txt"))
    validate(tree)
    expected = {
        "NiO Ni2p": (501, 890, 840, 18049.6, 11207.57, 9754959.84),
        "NiO Survey": (1201, 1200, 0, 40256.0, 1068.68, 38974899.6),
        "Ni Ni2p": (501, 890, 840, 25648.3, 13906.13, 13441213.28),
        "Ni Survey": (1201, 1200, 0, 46994.5, 6364.63, 48292095.0),
    }
    assert sorted(tree.children) == sorted(expected)
    for name, (n, be0, be1, first, last, total) in expected.items():
        ds = tree[name].to_dataset()
        cps = ds.count_rate.values
        assert ds.sizes["binding_energy"] == n and (ds.binding_energy[0], ds.binding_energy[-1]) == (be0, be1)
        assert (cps[0], cps[-1]) == (first, last) and cps.sum() == pytest.approx(total, abs=0.01)
        # CPS = Counts / acquisition time (0.1 s survey, 0.3 s Ni 2p), to the 7 digits written
        np.testing.assert_allclose(ds.intensity / ds.attrs["dwell_time_s"], cps, rtol=1e-5)
        assert ds.attrs["excitation_energy_ev"] == 1486.61 and ds.intensity.attrs["units"] == "counts"
    assert tree["Ni Ni2p"].ds.attrs["region"] == "Ni 2p" and tree["Ni Ni2p"].ds.attrs["sample"] == "Ni"


def test_casaxps_lineshape_export_is_the_vms_fit():
    cols = specfit.read(corpus_path("xps", "casaxps_analysis", "FeO_analyzed_lineshapes_cols.txt"))
    ((_, ds),) = list(leaves(cols))
    assert ds.sizes["binding_energy"] == 1121
    assert ds.kinetic_energy[0] == 736.61 and ds.kinetic_energy[-1] == pytest.approx(792.61)
    assert ds.fit_components.shape == (4, 1121) and list(ds.component_name.values) == ["Fe 2p"] * 4
    # envelope = background + sum of (component - background), as CasaXPS evaluates it
    env = ds.fit_background + (ds.fit_components - ds.fit_background).sum("component")
    np.testing.assert_allclose(env, ds.fit_envelope, rtol=1e-5)
    vms = specfit.read(corpus_path("xps", "casaxps_analysis", "FeO_analyzed.vms"))["Fe 2p"].to_dataset()
    np.testing.assert_allclose(ds.intensity, vms.intensity)  # same data in both files
    np.testing.assert_allclose(ds.binding_energy, vms.binding_energy, atol=1e-6)
    assert "fit_background" in ds and "fit_envelope_cps" in ds


def test_casaxps_results_table():
    path = corpus_path("xps", "casaxps_analysis", "FeO_analyzed_results.csv")
    with pytest.raises(UnknownFormatError, match="read_casaxps_results"):
        specfit.read(path)
    table = read_casaxps_results(path)
    assert list(table.name.values) == ["Fe 2p"] * 4
    np.testing.assert_allclose(table.position, [709.03, 715.73, 722.18, 730.22])
    np.testing.assert_allclose(table.percent_at_conc, [41.89, 19.65, 28.06, 10.40])
    assert float(table.percent_at_conc.sum()) == pytest.approx(100.0)
    assert np.isnan(table.goodness_of_fit).all()  # "-1.#IND"


def test_vgx900_spectra_file():
    tree = specfit.read(corpus_path("xps", "vgx900_spectra", "Spectra.1"))
    validate(tree)
    assert list(tree.children) == ["OV", "W4d+C1s", "O1s"]
    ov = tree["OV"].to_dataset()
    assert ov.sizes["binding_energy"] == 1050
    assert ov.kinetic_energy[0] == pytest.approx(100.0061) and ov.kinetic_energy[-1] == pytest.approx(
        1156.433, abs=1e-3
    )
    assert ov.attrs["excitation_energy_ev"] == 1253.6 and ov.attrs["scans"] == 5 and ov.attrs["dwell_time_s"] == 0.1
    assert ov.attrs["pass_energy_ev"] == 46.1 and ov.intensity.values[0] == 30304
    assert tree["O1s"].ds.attrs["region"] == "O 1s" and tree["O1s"].ds.sizes["binding_energy"] == 383


def test_vgx900_truncated(tmp_path):
    lines = corpus_path("xps", "vgx900_spectra", "Spectra.1").read_text().splitlines()
    (tmp_path / "Spectra.2").write_text("\n".join(lines[:2000]))
    with pytest.raises(CorruptFileError, match="383 points") as info:
        specfit.read(tmp_path / "Spectra.2")
    assert info.value.line == 1953


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("S2p", "S 2p"),
        ("s2p", "S 2p"),
        ("Fe2p3", "Fe 2p3/2"),
        ("Fe 2p3/2", "Fe 2p3/2"),
        ("Fe2p1", "Fe 2p1/2"),
        ("Sn3d5", "Sn 3d5/2"),
        ("Au4f7", "Au 4f7/2"),
        ("Ni 2p", "Ni 2p"),
        ("C1s C-C", "C 1s C-C"),
        ("N1s N-SiO2", "N 1s N-SiO2"),
        ("Su1s", "Survey"),
        ("1su", "Survey"),
        ("Wide", "Survey"),
        ("Wide None", "Survey"),
        ("2 C1s", "C 1s"),
        ("VB", "Valence band"),
        ("Zn LMM", "Zn LMM"),
        ("C KLL", "C KLL"),
        ("W4d+C1s", "W4d+C1s"),
        ("Cu-HHTP", "Cu-HHTP"),
        ("", ""),
        ("Xx1s", "Xx1s"),  # not an element
        ("C2s", "C 2s"),
        ("C1p", "C1p"),  # 1p does not exist
    ],
)
def test_normalize_region(raw, expected):
    assert normalize_region(raw) == expected


def test_parse_core_level():
    assert parse_core_level("Fe2p3") == ("Fe", "2p", "3/2", "")
    assert parse_core_level("Mo 3d") == ("Mo", "3d", None, "")
    assert parse_core_level("S2p5") is None  # p5/2 is not a level


def test_sniffers_claim_each_xps_file_once_and_nothing_else():
    if not CORPUS.is_dir():
        pytest.skip("corpus not available")
    _discover()
    mine = [
        "vamas",
        "phi",
        "scienta_txt",
        "scienta_ibw",
        "specs_xy",
        "specs_xml",
        "thermo_xlsx",
        "casaxps_text",
        "vgx900",
    ]
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.parent.name != "peer_readings"):
        head = path.read_bytes()[:8192]
        scores = {name: get_reader(name).sniff(head, path) for name in mine}
        strong = [n for n, s in scores.items() if s >= 0.5]
        rel = path.relative_to(CORPUS).as_posix()
        if not rel.startswith("xps/"):
            assert not any(scores.values()), (rel, scores)
        elif path.parent.name != "vamas_comments" and path.suffix != ".csv":
            assert len(strong) == 1, (rel, scores)
