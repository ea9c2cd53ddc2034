"""XPS workflows through the CLI and the Python API on the bundled examples and the CasaXPS corpus file:
charge referencing -> fit -> quantify, depth profiles, re-fitting a CasaXPS analysis."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import xarray as xr

import specfit
from specfit.cli import main
from specfit.errors import ModelError
from specfit.examples import TRUTH, example_path
from specfit.xps import charge_reference
from specfit.xps.depth import depth_profile, plot_depth_profile, profile_records
from specfit.xps.templates import template_model


def _charged_sample() -> xr.DataTree:
    """The bundled charged sample's three regions as one tree (each leaf labelled with its region)."""
    nodes = {}
    for region in ("S 2p", "P 2p", "C 1s"):
        tree = specfit.read(example_path(f"xps_charged_{region.replace(' ', '')}.csv"))
        (leaf,) = [ds for _, ds in specfit.conventions.leaves(tree)]
        nodes[f"/{region}"] = leaf.assign_attrs(region=region, sample="charged", units="counts")
    for node in nodes.values():
        node["intensity"].attrs["units"] = "counts"
    return xr.DataTree.from_dict(nodes)


def _json_out(capsys, argv):
    assert main(argv) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_reference_fit_quantify_chained_through_the_cli(tmp_path, capsys):
    source = tmp_path / "charged.h5"
    specfit.save(_charged_sample(), source)
    referenced = tmp_path / "charged_ref.h5"
    report = _json_out(capsys, ["xps", "reference", str(source), "--out", str(referenced), "--json"])
    assert report["delta_ev"] == pytest.approx(-TRUTH["charge_shift_ev"]["charged"], abs=0.02)
    jobs = {
        "S 2p": ["--model", "s2p-sulfide", "--species", "PS4,intermediate"],
        "P 2p": ["--model", "p2p-sulfide", "--species", "PS4,PSP"],
        "C 1s": ["--model", "c1s-adventitious", "--species", "CC,CO"],
    }
    paths = []
    for region, model in jobs.items():
        out = _json_out(capsys, ["fit", str(referenced), "--region", region, *model, "--json"])
        # the charge shift and the region travel with the fit result
        assert out["attrs"]["region"] == region
        assert out["attrs"]["charge_shift_ev"] == pytest.approx(report["delta_ev"])
        assert json.loads(out["attrs"]["charge_reference"])["level"] == "C 1s"
        path = tmp_path / f"{region.replace(' ', '')}.json"
        path.write_text(json.dumps(out))
        paths.append(str(path))
    # the referenced positions are the true ones
    s2p = json.loads((tmp_path / "S2p.json").read_text())
    ps4 = next(c for c in s2p["components"] if c["name"] == "PS4")
    assert ps4["position"] == pytest.approx(TRUTH["S 2p"]["PS4"], abs=0.03)
    q = _json_out(capsys, ["xps", "quantify", *paths, "--ratio", "intermediate:PS4", "--fractions", "--json"])
    atomic = {r["region"]: r["atomic_percent"] for r in q["atomic_percent"]}
    assert set(atomic) == {"S 2p", "P 2p", "C 1s"}
    assert sum(atomic.values()) == pytest.approx(100.0, abs=1e-9)
    (ratio,) = q["ratios"]
    assert ratio["value"] == pytest.approx(TRUTH["S 2p"]["ratio"]["charged"], rel=0.03)
    assert 0 < ratio["error"] < 0.05
    # S : P atoms from the generating areas and the documented (Scofield) factors, within 3 %
    t = TRUTH
    s_total = t["S 2p"]["PS4_area"] * 1.5 * (1 + t["S 2p"]["ratio"]["charged"])
    p_total = (t["P 2p"]["PS4_area"] + t["P 2p"]["P-S-P_area"]) * 1.5
    factors = {r["region"]: r["sensitivity_factor"] for r in q["atomic_percent"]}
    expected = (s_total / factors["S 2p"]) / (p_total / factors["P 2p"])
    assert atomic["S 2p"] / atomic["P 2p"] == pytest.approx(expected, rel=0.03)


def test_charge_shift_reaches_fit_results_from_the_api():
    ref = charge_reference(_charged_sample())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", specfit.FitWarning)
        result = specfit.fit(ref, template_model("s2p-sulfide", ["PS4", "intermediate"]), region="S 2p")
    assert result.attrs["charge_shift_ev"] == pytest.approx(-0.40, abs=0.02)
    assert result.to_dict()["attrs"]["charge_shift_ev"] == result.attrs["charge_shift_ev"]
    areas = result.table().groupby("component")["component_area"].first()
    assert areas["intermediate"] / areas["PS4"] == pytest.approx(1.56, rel=0.03)


# ---------------------------------------------------------------------------------------- depth


def _decay_fit(time, ratio, error):
    """Weighted least-squares fit of ratio = r0·exp(-t/τ) on the log scale."""
    w = (ratio / error) ** 2
    A = np.stack([np.ones_like(time), -time], axis=1)
    coef = np.linalg.solve(A.T @ (A * w[:, None]), A.T @ (w * np.log(ratio)))
    return float(np.exp(coef[0])), float(1 / coef[1])


def test_depth_profile_recovers_the_decay():
    """The bundled series was generated with pseudo-Voigt lines (η = 0.3, area-mixed): fitted with that
    shape, the intermediate : PS4 ratio at every level and the decay 1.56·exp(-t/60 s) come back."""
    data = specfit.load(example_path("xps_depth_S2p.h5"))
    model = template_model("s2p-sulfide", ["PS4", "intermediate"], shape="pseudo_voigt(0.3)")
    profile = depth_profile(data, model, rate_nm_per_s=0.5)
    d = TRUTH["depth"]
    time = np.asarray(d["etch_time_s"], float)
    np.testing.assert_allclose(profile["etch_time"], time)
    np.testing.assert_allclose(profile["depth"], 0.5 * time)
    assert bool(profile["success"].all())
    area = profile["area"]
    ratio = (area.sel(component="intermediate") / area.sel(component="PS4")).values
    truth = d["ratio0"] * np.exp(-time / d["decay_s"])
    np.testing.assert_allclose(ratio[:5], truth[:5], rtol=0.05)
    np.testing.assert_allclose(ratio[5], truth[5], rtol=0.10)  # ratio 0.13: the weakest level
    err = (
        ratio
        * np.hypot(
            (profile["area_error"] / area).sel(component="intermediate"),
            (profile["area_error"] / area).sel(component="PS4"),
        ).values
    )
    r0, tau = _decay_fit(time, ratio, err)
    assert r0 == pytest.approx(d["ratio0"], rel=0.05)
    assert tau == pytest.approx(d["decay_s"], rel=0.05)
    # a charge shift of the data travels into the profile
    shifted = depth_profile(specfit.xps.shift(data, 0.2), model, rate_nm_per_s=0.5)
    assert shifted.attrs["charge_shift_ev"] == pytest.approx(0.2)
    np.testing.assert_allclose(shifted["position"] - profile["position"], 0.2, atol=0.01)
    fractions = profile["fraction"].sum("component").values
    np.testing.assert_allclose(fractions, 1.0)
    records = profile_records(profile)
    assert records[2]["depth"] == 30.0 and set(records[2]["components"]) == {"PS4", "intermediate"}
    import matplotlib

    matplotlib.use("Agg")
    fig = plot_depth_profile(profile)
    assert fig.axes[0].get_xlabel() == "depth (nm)"


def test_depth_cli_json_and_plot(tmp_path, capsys):
    fig = tmp_path / "depth.png"
    out = _json_out(
        capsys,
        ["xps", "depth", str(example_path("xps_depth_S2p.h5")), "--model", "s2p-sulfide",
         "--species", "PS4,intermediate", "--rate", "0.5", "--json", "--plot", str(fig)],
    )  # fmt: skip
    assert fig.stat().st_size > 0
    assert [lvl["depth"] for lvl in out["levels"]] == [0.0, 15.0, 30.0, 45.0, 60.0, 75.0]
    first = out["levels"][0]["components"]
    assert first["intermediate"]["area"] / first["PS4"]["area"] == pytest.approx(1.56, rel=0.03)
    # a single spectrum is not a depth profile
    assert main(["xps", "depth", str(example_path("xps_charged_S2p.csv")), "--model", "s2p-sulfide"]) == 1
    assert "needs a stack" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------- CasaXPS


@pytest.mark.corpus
def test_casaxps_model_from_vamas_and_refit(capsys):
    from conftest import corpus_path

    from specfit.xps.casaxps import model_from_vamas

    path = corpus_path("xps", "casaxps_analysis", "FeO_analyzed.vms")
    tree = specfit.read(path)
    # the LF components are refused, naming the shape, unless skipped explicitly
    with pytest.raises(ModelError, match=r"Fe 2p.*LF\(0.54,10,80,100,6\).*not publicly"):
        model_from_vamas(tree)
    with pytest.warns(UserWarning, match="skipped"):
        model = model_from_vamas(tree, unsupported="skip")
    assert [c.label for c in model.components] == ["Fe 2p #2", "Fe 2p #4"]
    assert model.background.kind == "tougaard" and model.background.form == "U3"
    hv = tree["Fe 2p"].attrs["excitation_energy_ev"]
    assert model.range == pytest.approx((hv - 786.7632, hv - 737.52081))
    params = model.make_params()
    assert params["Fe_2p__2_position"].value == pytest.approx(hv - 770.61)
    # the CLI refuses with one line, and re-fits with --model casa:skip
    assert main(["fit", str(path), "--model", "casa"]) == 1
    err = capsys.readouterr().err
    assert "LF(0.54,10,80,100,6)" in err and "Traceback" not in err
    out = _json_out(capsys, ["fit", str(path), "--model", "casa:skip", "--json"])
    assert [c["name"] for c in out["components"]] == ["Fe_2p__2", "Fe_2p__4"]  # parameter-safe names
    assert any("skipped" in w for w in out["warnings"])
    assert out["attrs"]["region"] == "Fe 2p"
    with pytest.raises(ModelError, match="no CasaXPS analysis"):
        model_from_vamas(specfit.read(example_path("xps_charged_S2p.csv")))


def test_casaxps_calibration_lines():
    from specfit.xps.casaxps import casa_calibration

    assert casa_calibration(["CASA region (*x*) (*Shirley*) 1 2 3 4 5 6"]) is None
    cal = casa_calibration(["Calib M = 285.1185 A = 284 BE ADD", "Calib M = 284.0 A = 284.8 Regions Comps BE ADD"])
    assert cal.shift == pytest.approx(284 - 285.1185 + 0.8)
    assert cal.region_shift == pytest.approx(284 - 285.1185) and cal.comp_shift == pytest.approx(284 - 285.1185)
    # CasaXPS's peak search in a measured range is not reproduced: refused, not guessed
    with pytest.raises(ModelError, match="range"):
        casa_calibration(["Calib M = 282.4,283.5 A = 286.8 BE ADD"])


@pytest.mark.corpus
def test_casaxps_calibration_moves_data_and_model_consistently():
    """A Calib line added to the FeO block: the calibrated data with the calibrated-frame model give the
    same fit as the raw data with the raw-frame model, shifted by the calibration."""
    from conftest import corpus_path

    from specfit.xps.casaxps import apply_casa_calibration, model_from_vamas

    tree = specfit.read(corpus_path("xps", "casaxps_analysis", "FeO_analyzed.vms"))
    leaf = tree["Fe 2p"].to_dataset()
    with pytest.warns(UserWarning):
        plain = model_from_vamas(leaf, unsupported="skip")
    for flags, comps_move in (("BE ADD", False), ("Regions Comps BE ADD", True)):
        comments = f"Calib M = 709.5 A = 710.0 {flags}\n" + leaf.attrs["comments"]
        marked = leaf.assign_attrs(comments=comments)
        with pytest.warns(UserWarning):
            calibrated = model_from_vamas(marked, unsupported="skip")
        with pytest.warns(UserWarning):
            raw = model_from_vamas(marked, unsupported="skip", frame="raw")
        p_plain = plain.make_params()["Fe_2p__2_position"].value
        p_cal = calibrated.make_params()["Fe_2p__2_position"].value
        p_raw = raw.make_params()["Fe_2p__2_position"].value
        assert p_cal - p_raw == pytest.approx(0.5)  # the calibrated frame lies 0.5 eV higher
        assert p_cal - p_plain == pytest.approx(0.5 if comps_move else 0.0)
        shifted = apply_casa_calibration(marked)
        assert shifted.attrs["charge_shift_ev"] == pytest.approx(0.5)
        assert json.loads(shifted.attrs["charge_reference"])["method"] == "casaxps"
        np.testing.assert_allclose(shifted["binding_energy"].values - marked["binding_energy"].values, 0.5)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", specfit.FitWarning)
            fit_cal = specfit.fit(shifted, calibrated)
            fit_raw = specfit.fit(marked, raw)
        a, b = fit_cal.table(), fit_raw.table()
        np.testing.assert_allclose(a["area"], b["area"], rtol=1e-4)
        np.testing.assert_allclose(a["position"] - b["position"], 0.5, atol=1e-3)
    assert fit_cal.attrs["charge_shift_ev"] == pytest.approx(0.5)


@pytest.mark.corpus
def test_casaxps_model_of_a_stack_uses_the_first_level():
    from conftest import corpus_path

    from specfit.xps.casaxps import model_from_vamas

    leaf = specfit.read(corpus_path("xps", "casaxps_analysis", "FeO_analyzed.vms"))["Fe 2p"].to_dataset()
    first = leaf.attrs["comments"]
    second = "Calib M = 1.0 A = 2.0 BE ADD\n" + first.replace("770.61", "771.61")
    stack = xr.concat([leaf, leaf], dim="etch_level").assign_attrs(comments=first + "\n\n" + second)
    with pytest.warns(UserWarning) as record:
        model = model_from_vamas(stack, unsupported="skip")
    assert any("2 CasaXPS analyses" in str(w.message) for w in record)
    hv = leaf.attrs["excitation_energy_ev"]
    assert model.make_params()["Fe_2p__2_position"].value == pytest.approx(hv - 770.61)  # level 1, no Calib
