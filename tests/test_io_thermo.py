"""Thermo Avantage .xlsx exports: spectra and the vendor's Peak Table / Quantifications (EXPECTED.md)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import specfit
from specfit.conventions import validate
from tests.conftest import corpus_path

pytestmark = pytest.mark.timeout(120)


def _table(tree, node):
    ds = tree[node].to_dataset()
    return {str(n): ds.isel(peak=i) for i, n in enumerate(ds.name.values)}, ds


def test_cc_a_spectra_and_tables():
    tree = specfit.read(corpus_path("xps", "thermo_avantage", "CC-A.xlsx"))
    validate(tree)
    spectra = [n for n, c in tree.children.items() if "intensity" in c.ds]
    assert spectra == ["Survey", "Zn 2p", "Fe 2p", "O 1s", "N 1s", "C 1s", "Si 2p", "S 2p"]
    survey = tree["Survey"].to_dataset()
    assert survey.sizes["binding_energy"] == 2721 and survey.binding_energy[0] == 1350.08
    assert survey.intensity.attrs["units"] == "counts/s" and survey.intensity.values[0] == 111609
    zn = tree["Zn 2p"].to_dataset()
    assert list(zn.component_name.values) == ["Zn2p3", "Zn2p1"]
    # inside the fitted range Avantage's envelope = background + sum of (component - background),
    # to its 6-digit export; components are written as 0 outside their range
    inside = (zn.fit_components > 0).all("component") & (zn.fit_background > 0)
    assert int(inside.sum()) > 100
    env = zn.fit_background + (zn.fit_components - zn.fit_background).sum("component")
    close = np.isclose(env[inside], zn.fit_envelope[inside], rtol=2e-5, atol=0.05)
    assert close.mean() > 0.98  # the first point of the range differs (Avantage's edge handling)
    np.testing.assert_allclose((zn.intensity - zn.fit_envelope)[inside], zn.fit_residuals[inside], atol=0.05)

    peaks, _ = _table(tree, "peak_table")
    expected = {
        "N 1s": (399.66, 1.5, 210.31, 1.676),
        "C 1s": (284.46, 1.11, 16814.36, 1),
        "Fe 2p": (710.79, 3.2, 761.14, 9.976),
        "O 1s": (530.39, 1.37, 858, 2.881),
        "S 2p": (168.35, 1.22, 693.08, 1.245),
        "Si 2p": (101.71, 1.28, 1671.01, 0.596),
        "Zn 2p": (1022.51, 2.08, 350.62, 21.391),
    }
    for name, (be, fwhm, area, sf) in expected.items():
        row = peaks[name]
        assert (float(row.peak_be), float(row.fwhm_ev), float(row.area_p_cps_ev), float(row.sf_althermo1)) == (
            be,
            fwhm,
            area,
            sf,
        )

    quant, qds = _table(tree, "quantification")
    assert float(qds.atomic_percent.sum()) == pytest.approx(100.0, abs=0.02)
    assert float(quant["C1s C-C sp2"].atomic_percent) == 47.02
    row = quant["C1s C-OH"]
    assert (float(row.atomic_percent), float(row.peak_be), float(row.fwhm_ev), float(row.area_p_cps_ev)) == (
        25.32,
        285.52,
        2.39,
        9046.13,
    )
    assert (float(quant["N1s N-SiO2"].peak_be), float(quant["N1s N-SiO2"].area_p_cps_ev)) == (402.04, 639.52)
    assert float(quant["O1s O-Si"].area_p_cps_ev) == 8798.05
    assert json.loads(qds.attrs["rows"])[0]["Name"] == "C1s C-C sp2"
    titles = json.loads(tree.attrs["other_sheets"])["Titles"]
    assert ["Carbon BE", 285.06, "from C-C sp2 expected @ 284.2"] in [r[:3] for r in titles]


def test_cc_b_and_hard_carbon_quantification():
    quant, _ = _table(specfit.read(corpus_path("xps", "thermo_avantage", "CC-B.xlsx")), "quantification")
    assert float(quant["C1s C-graphite"].atomic_percent) == 77.76 and float(quant["C1s C-graphite"].peak_be) == 284.62
    assert float(quant["C1s C-C"].area_p_cps_ev) == 7608.91
    tree = specfit.read(corpus_path("xps", "thermo_avantage", "Hard_carbon_Thermo.xlsx"))
    quant, qds = _table(tree, "quantification")
    assert float(quant["C1s sp2 C"].atomic_percent) == 80.23 and float(quant["C1s sp2 C"].area_p_cps_ev) == 133358.13
    assert float(quant["C1s C-C"].fwhm_ev) == 1.83
    assert float(qds.atomic_percent.sum()) == pytest.approx(100.0, abs=0.02)
    assert "Na 1s" in tree.children and "CKLL" in tree.children
