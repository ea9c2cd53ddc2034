"""Scienta SES .txt and .ibw readers: EXPECTED.md values, and .txt/.ibw give identical data."""

from __future__ import annotations

import numpy as np
import pytest

import specfit
from specfit.conventions import leaves, validate
from tests.conftest import corpus_files, corpus_path, ids

pytestmark = pytest.mark.timeout(120)

PAIRS = [
    (p, p.parent.parent / "scienta_ibw" / f"{p.stem}{p.stem.split('_')[0]}__{p.stem.split('_')[1][1:]}.ibw")
    for p in corpus_files("xps/scienta_txt", "*.txt")
]


@pytest.mark.parametrize(
    ("stem", "n", "be0", "be1", "hv", "first", "last", "total"),
    [
        ("Ag_0001", 361, 382, 364, 520, 15.7494898, 13.1949940, 7076.8126),
        ("Ag_0002", 801, 30, -10, 153, 3.6626655, 0.5714966, 1761.2578),
        ("Cu-HHTP_0005", 801, 30, -10, 153, 8.7250305, 1.3464544, 7409.1565),
    ],
)
def test_expected_values(stem, n, be0, be1, hv, first, last, total):
    for path in (corpus_path("xps", "scienta_txt", f"{stem}.txt"),):
        tree = specfit.read(path)
        validate(tree)
        ((_, ds),) = list(leaves(tree))
        y = ds.intensity.values
        assert ds.sizes["binding_energy"] == n
        assert ds.binding_energy[0] == pytest.approx(be0) and ds.binding_energy[-1] == pytest.approx(be1)
        assert y[0] == pytest.approx(first, abs=1e-6) and y[-1] == pytest.approx(last, abs=1e-6)
        assert y.sum() == pytest.approx(total, abs=1e-3)
        assert ds.attrs["excitation_energy_ev"] == hv and ds.attrs["pass_energy_ev"] == 50
        np.testing.assert_allclose(ds.kinetic_energy + ds.binding_energy, hv)


@pytest.mark.parametrize(("txt", "ibw"), PAIRS, ids=ids([p for p, _ in PAIRS]))
def test_txt_and_ibw_agree(txt, ibw):
    assert ibw.exists(), ibw
    a = next(ds for _, ds in leaves(specfit.read(txt)))
    b = next(ds for _, ds in leaves(specfit.read(ibw)))
    assert b.attrs["source_format"] == "scienta_ibw" and a.attrs["source_format"] == "scienta_txt"
    np.testing.assert_allclose(a.intensity, b.intensity, rtol=1e-12)
    np.testing.assert_allclose(a.binding_energy, b.binding_energy, atol=1e-9)
    for key in ("region", "excitation_energy_ev", "pass_energy_ev", "dwell_time_s", "scans", "acquired_at"):
        assert a.attrs[key] == b.attrs[key]


def test_metadata():
    ds = next(ds for _, ds in leaves(specfit.read(corpus_path("xps", "scienta_txt", "Ag_0001.txt"))))
    assert ds.attrs["region"] == "Ag 3d" and ds.attrs["instrument"] == "R3000-6MS014"
    assert ds.attrs["acquired_at"] == "2023-03-08T15:24:35" and ds.attrs["dwell_time_s"] == pytest.approx(0.203)
    assert ds.attrs["scans"] == 2 and ds.attrs["analyser_lens_mode"] == "Transmission"


def test_several_regions_in_one_text_file(tmp_path):
    a = corpus_path("xps", "scienta_txt", "Ag_0001.txt").read_text()
    b = corpus_path("xps", "scienta_txt", "Ag_0002.txt").read_text()
    body_b = b[b.index("[Region 1]") :]
    for section in ("Region", "Info", "Run Mode Information", "Data"):
        body_b = body_b.replace(f"[{section} 1]", f"[{section} 2]")
    text = a.replace("Number of Regions=0001", "Number of Regions=0002") + "\n" + body_b
    path = tmp_path / "two.txt"
    path.write_text(text)
    tree = specfit.read(path)
    assert list(tree.children) == ["Ag3d", "VB"]
    assert tree["Ag3d"].ds.sizes["binding_energy"] == 361 and tree["VB"].ds.sizes["binding_energy"] == 801
    assert tree["VB"].ds.attrs["excitation_energy_ev"] == 153
    path.write_text(text.replace("Number of Regions=0002", "Number of Regions=0003"))
    with pytest.raises(specfit.CorruptFileError, match="3 regions"):
        specfit.read(path)
