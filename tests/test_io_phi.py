"""ULVAC-PHI .spe / .pro reader against yadg's and pynxtools-xps's readings (EXPECTED.md §1)."""

from __future__ import annotations

import numpy as np
import pytest

import specfit
from specfit.conventions import validate
from specfit.errors import CorruptFileError
from tests.conftest import corpus_path

pytestmark = pytest.mark.timeout(120)


def _check(ds, n, be0, be1, first, last, total, *, peak=None):
    assert ds.sizes["binding_energy"] == n
    assert ds.binding_energy[0] == pytest.approx(be0) and ds.binding_energy[-1] == pytest.approx(be1)
    y = ds.intensity.values
    assert y[0] == pytest.approx(first, abs=1e-3) and y[-1] == pytest.approx(last, abs=1e-3)
    assert y.sum() == pytest.approx(total, abs=0.01)  # EXPECTED.md rounds to 2 decimals
    if peak is not None:
        assert y.max() == pytest.approx(peak[0]) and float(ds.binding_energy[y.argmax()]) == pytest.approx(peak[1])


def test_quantum2000_spe_matches_yadg():
    tree = specfit.read(corpus_path("xps", "phi_spe", "test0.spe"))
    validate(tree)
    assert list(tree.children) == ["1su", "F1s"]
    survey, f1s = tree["1su"].to_dataset(), tree["F1s"].to_dataset()
    _check(survey, 3401, 1355.0, -5.0, 13712.5, 25.0, 24298000.0, peak=(17187.5, 975.8))
    _check(f1s, 161, 695.0, 675.0, 1793.75, 1181.25, 297331.25, peak=(4412.5, 681.25))
    assert survey.intensity.attrs["units"] == "counts/s" and survey.attrs["region"] == "Survey"
    assert f1s.attrs["region"] == "F 1s" and f1s.attrs["excitation_energy_ev"] == 1486.6

    tree = specfit.read(corpus_path("xps", "phi_spe", "test1.spe"))
    _check(tree["F1s"].to_dataset(), 201, 695, 675, 2325.0, 1902.0834, 477847.93, peak=(4170.8335, 683.2))
    _check(tree["1su"].to_dataset(), 3401, 1355, -5, 27918.75, 43.75, 45670950.0, peak=(29918.75, 971.8))


def test_peer_netcdf_reading_of_test0():
    h5 = pytest.importorskip("h5netcdf")
    path = corpus_path("xps", "phi_spe", "peer_readings", "xps.spe.nc")
    ours = specfit.read(corpus_path("xps", "phi_spe", "test0.spe"))
    with h5.File(path, "r") as f:
        for node in ("1su", "F1s"):
            np.testing.assert_array_equal(np.asarray(f[node]["y"]), ours[node].ds.intensity.values)


def test_versaprobe_crlf_spe_matches_pynxtools():
    tree = specfit.read(corpus_path("xps", "phi_spe", "SnO2_10nm.spe"))
    ds = tree["Su1s"].to_dataset()
    _check(ds, 1751, 1400, 0, 54866.668, 191.667, 116666211.58)
    assert ds.attrs["pass_energy_ev"] == 224 and ds.attrs["instrument"] == "VersaProbe 4"


def test_depth_profile():
    tree = specfit.read(corpus_path("xps", "phi_pro", "SnO2_10nm_1.pro"))
    validate(tree)
    expected = {
        "Su1s": (1751, 1400, 0, 224, 68015.875, 444.444, 104887306.54, 2202633437.26),
        "C1s": (101, 298, 278, 55, 2543.036, 2527.143, 268423.78, 5636899.28),
        "Si2p": (101, 114, 94, 55, 2971.845, 3538.274, 350233.13, 7354895.63),
        "Sn3d5": (101, 500, 480, 55, 14500.0, 2707.143, 2742697.62, 57596650.0),
    }
    assert list(tree.children) == list(expected)
    for name, (n, be0, be1, pe, first, last, mean_sum, raw_sum) in expected.items():
        ds = tree[name].to_dataset()
        assert ds.intensity.dims == ("etch_level", "binding_energy") and ds.sizes["etch_level"] == 21
        assert ds.sizes["binding_energy"] == n
        mean = ds.intensity.mean("etch_level").values
        assert mean[0] == pytest.approx(first, abs=1e-3) and mean[-1] == pytest.approx(last, abs=1e-3)
        assert mean.sum() == pytest.approx(mean_sum, abs=0.01)
        assert float(ds.intensity.sum()) == pytest.approx(raw_sum, abs=0.01)
        assert ds.binding_energy[0] == be0 and ds.binding_energy[-1] == be1 and ds.attrs["pass_energy_ev"] == pe
        np.testing.assert_allclose(ds.sputter_time, np.arange(21) * 30.0)
    assert tree["Sn3d5"].ds.attrs["region"] == "Sn 3d5/2"


def test_truncated_binary_part_names_the_offset(tmp_path):
    raw = corpus_path("xps", "phi_spe", "test0.spe").read_bytes()
    path = tmp_path / "cut.spe"
    path.write_bytes(raw[: len(raw) - 100])
    with pytest.raises(CorruptFileError) as info:
        specfit.read(path)
    assert info.value.offset is not None


def test_princeton_spe_is_not_taken_for_phi():
    from specfit.io.phi import _sniff

    path = corpus_path("raman", "princeton_spe", "1d-1.spe")
    assert _sniff(path.read_bytes()[:8192], path) == 0.0
