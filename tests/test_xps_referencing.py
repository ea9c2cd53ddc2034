"""Charge referencing: one shift for every region of a sample, recorded in the attributes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from specfit.conventions import make_leaf, validate
from specfit.errors import FitError, SpecfitError
from specfit.io import load, save
from specfit.xps import charge_reference, charge_reference_info, locate_peak, shift


def _gl(x, center, fwhm, mix=0.3):
    """Gaussian-Lorentzian product-free sum form (a different shape from the locator's pseudo-Voigt)."""
    g = np.exp(-4 * np.log(2) * (x - center) ** 2 / fwhm**2)
    lor = 1 / (1 + 4 * (x - center) ** 2 / fwhm**2)
    return (1 - mix) * g + mix * lor


def _region(name, low, high, peaks, rng, sample="A", axis="binding_energy", hv=1486.6):
    be = np.arange(high, low, -0.05)  # measured high -> low BE, as instruments do
    signal = sum(a * _gl(be, c, w) for a, c, w in peaks)
    step = 60 * np.cumsum(signal[::-1])[::-1] / signal.sum()  # Shirley-like step to high BE
    counts = rng.poisson(200 + signal + step).astype(float)
    attrs = {
        "technique": "xps",
        "source_format": "synthetic",
        "region": name,
        "excitation_energy_ev": hv,
        "sample": sample,
    }
    if axis == "kinetic_energy":
        return make_leaf(counts, "kinetic_energy", hv - be, attrs=attrs)
    return make_leaf(counts, "binding_energy", be, attrs=attrs)


def _sample(rng, charging=1.2, sample="A"):
    c = 284.8 + charging
    return {
        "C 1s": _region("C 1s", 280, 296, [(5000, c, 1.2), (1300, c + 1.5, 1.3), (400, c + 4.2, 1.3)], rng, sample),
        "S 2p": _region("S 2p", 156, 172, [(3000, 160.7 + charging, 1.1), (1500, 161.9 + charging, 1.1)], rng, sample),
        "P 2p": _region("P 2p", 126, 138, [(1500, 132.0 + charging, 1.0)], rng, sample),
        "Cl 2p": _region("Cl 2p", 194, 204, [(1200, 198.7 + charging, 1.0)], rng, sample),
    }


def _tree(regions, root_attrs=None):
    return xr.DataTree.from_dict({"/": xr.Dataset(attrs=root_attrs or {"source_file": "synthetic"}), **regions})


def test_c1s_at_286_shifts_every_region_by_minus_1p2():
    rng = np.random.default_rng(42)
    tree = _tree(_sample(rng))
    validate(tree)
    before = {p: tree[p]["binding_energy"].values.copy() for p in ("C 1s", "S 2p", "P 2p", "Cl 2p")}
    new = charge_reference(tree, reference="C 1s", position=284.8)
    deltas = {p: new[p]["binding_energy"].values - before[p] for p in before}
    for p, d in deltas.items():
        assert np.allclose(d, d[0]), p  # a rigid shift
        assert d[0] == pytest.approx(-1.2, abs=0.02), p
        assert new[p].attrs["charge_shift_ev"] == pytest.approx(d[0])
    assert len({round(float(d[0]), 12) for d in deltas.values()}) == 1  # the same everywhere
    info = charge_reference_info(new)
    assert info["level"] == "C 1s" and info["target_ev"] == 284.8
    assert info["measured_ev"] == pytest.approx(286.0, abs=0.02)
    assert info["region_path"] == "/C 1s"
    # pure: the input tree is unchanged
    assert np.array_equal(tree["C 1s"]["binding_energy"].values, before["C 1s"])
    assert "charge_shift_ev" not in tree["S 2p"].attrs
    validate(new)


def test_single_dataset_and_method_max():
    rng = np.random.default_rng(5)
    ds = _sample(rng, charging=0.6)["C 1s"]
    new = charge_reference(ds, method="max")
    assert new.attrs["charge_shift_ev"] == pytest.approx(-0.6, abs=0.05)
    assert json.loads(new.attrs["charge_reference"])["method"] == "max"
    with pytest.raises(SpecfitError, match="not the reference"):
        charge_reference(_sample(rng)["S 2p"])


def test_given_measured_position_and_manual_shift_accumulate():
    rng = np.random.default_rng(9)
    tree = _tree(_sample(rng))
    new = charge_reference(tree, measured=285.5)
    assert new["S 2p"].attrs["charge_shift_ev"] == pytest.approx(-0.7)
    again = shift(new, 0.25)
    assert again["P 2p"].attrs["charge_shift_ev"] == pytest.approx(-0.45)
    assert json.loads(again["P 2p"].attrs["charge_reference"])["method"] == "manual"
    assert again.attrs["charge_shift_ev"] == pytest.approx(-0.45)
    assert again["Cl 2p"]["binding_energy"].values[0] == pytest.approx(tree["Cl 2p"]["binding_energy"].values[0] - 0.45)


def test_kinetic_energy_axis_moves_the_other_way():
    rng = np.random.default_rng(2)
    ds = _region("C 1s", 280, 296, [(5000, 285.7, 1.2)], rng, axis="kinetic_energy")
    new = charge_reference(ds)
    delta = new.attrs["charge_shift_ev"]
    assert delta == pytest.approx(-0.9, abs=0.02)
    assert np.allclose(new["kinetic_energy"].values - ds["kinetic_energy"].values, -delta)


def test_samples_are_referenced_separately():
    rng = np.random.default_rng(4)
    a = {f"A/{k}": v for k, v in _sample(rng, 1.2, "A").items()}
    b = {f"B/{k}": v for k, v in _sample(rng, 0.4, "B").items()}
    new = charge_reference(_tree({**a, **b}))
    assert new["A/S 2p"].attrs["charge_shift_ev"] == pytest.approx(-1.2, abs=0.02)
    assert new["B/S 2p"].attrs["charge_shift_ev"] == pytest.approx(-0.4, abs=0.02)
    assert "charge_shift_ev" not in new.attrs  # no single shift for the whole tree


def test_missing_reference_region_and_flat_data_raise():
    rng = np.random.default_rng(1)
    regions = _sample(rng)
    del regions["C 1s"]
    with pytest.raises(SpecfitError, match=r"no 'C 1s' region.*S 2p"):
        charge_reference(_tree(regions))
    with pytest.raises(FitError):
        locate_peak(np.linspace(280, 290, 100), np.full(100, 10.0))
    with pytest.raises(FitError, match="does not cover"):
        locate_peak(np.linspace(150, 160, 100), np.ones(100), expected=284.8)


def test_shifted_tree_round_trips_through_storage(tmp_path):
    rng = np.random.default_rng(8)
    new = charge_reference(_tree(_sample(rng)))
    path = tmp_path / "referenced.h5"
    save(new, path)
    back = load(path)
    assert back["S 2p"].attrs["charge_shift_ev"] == pytest.approx(new["S 2p"].attrs["charge_shift_ev"])
    assert charge_reference_info(back["S 2p"])["level"] == "C 1s"


def test_cli_reference_writes_a_shifted_file(tmp_path, capsys):
    from specfit.cli import main

    rng = np.random.default_rng(12)
    tree = _tree(_sample(rng, charging=1.2))
    source = tmp_path / "sample.h5"
    save(tree, source)
    out = tmp_path / "referenced.h5"
    assert main(["xps", "reference", str(source), "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["delta_ev"] == pytest.approx(-1.2, abs=0.02)
    back = load(out)
    shift_s = back["S 2p"]["binding_energy"].values - tree["S 2p"]["binding_energy"].values
    assert np.allclose(shift_s, report["delta_ev"])
    # existing output is not overwritten without --overwrite; a missing reference is one line, exit 1
    assert main(["xps", "reference", str(source), "--out", str(out)]) == 1
    assert main(["xps", "reference", str(source), "--reference", "N 1s", "--out", str(tmp_path / "x.h5")]) == 1
    assert "no 'N 1s' region" in capsys.readouterr().err


def test_depth_profile_leaf_with_series_dimension():
    rng = np.random.default_rng(21)
    be = np.arange(296, 280, -0.05)
    levels = np.arange(4)
    counts = np.stack([rng.poisson(200 + (1000 - 200 * k) * _gl(be, 285.9, 1.2)) for k in levels]).astype(float)
    attrs = {"technique": "xps", "source_format": "synthetic", "region": "C 1s"}
    ds = make_leaf(counts, "binding_energy", be, attrs=attrs, extra_dims={"etch_level": levels})
    new = charge_reference(_tree({"C 1s": ds}))
    assert new["C 1s"]["intensity"].dims == ("etch_level", "binding_energy")
    assert new["C 1s"].attrs["charge_shift_ev"] == pytest.approx(-1.1, abs=0.02)
    assert np.array_equal(new["C 1s"]["intensity"].values, counts)  # intensities untouched
