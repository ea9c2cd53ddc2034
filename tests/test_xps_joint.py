"""Multi-region joint fits: the PS4 components of S 2p and P 2p tied by their 4 : 1 stoichiometry."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import xarray as xr
from test_xps_analysis import _gl, _shirley_counts

import specfit
from specfit.conventions import make_leaf
from specfit.errors import ModelError
from specfit.xps import quantify, sensitivity_factor
from specfit.xps.joint import Stoichiometry, fit_regions, region_prefix
from specfit.xps.templates import template_model


def _region(rng, name, comps, low, high, splitting):
    x = np.round(np.arange(high, low - 1e-9, -0.05), 2)
    peaks = np.zeros_like(x)
    for area, center in comps:
        peaks += _gl(x, center, 1.0, area) + _gl(x, center + splitting, 1.0, area / 2)
    counts = _shirley_counts(x, peaks, rng, k=0.03, constant=300.0)
    attrs = {"technique": "xps", "region": name, "sample": "A"}
    return make_leaf(counts, "binding_energy", x, units="counts", attrs=attrs)


def _sample(seed):
    """S 2p (PS4 + intermediate 1.56 : 1) and P 2p (PS4 + P-S-P) with S_PS4 : P_PS4 = 4 : 1 in atoms."""
    rng = np.random.default_rng(seed)
    s_ps4 = 6000.0  # main-line area
    p_ps4 = s_ps4 * sensitivity_factor("P 2p") / (4 * sensitivity_factor("S 2p"))
    tree = xr.DataTree.from_dict(
        {
            "/S 2p": _region(rng, "S 2p", [(s_ps4, 160.7), (1.56 * s_ps4, 162.9)], 156, 172, 1.18),
            "/P 2p": _region(rng, "P 2p", [(p_ps4, 132.0), (0.25 * p_ps4, 133.0)], 127, 140, 0.87),
        }
    )
    return tree, s_ps4 * 1.5, p_ps4 * 1.5


MODELS = {
    "S 2p": template_model("s2p-sulfide", ["PS4", "intermediate"]),
    "P 2p": template_model("p2p-sulfide", ["PS4", "PSP"]),
}
TIE = Stoichiometry(("S 2p", "PS4"), ("P 2p", "PS4"), 4.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_stoichiometric_tie_known_answer(seed):
    tree, s_total, p_total = _sample(seed)
    joint = fit_regions(tree, MODELS, stoichiometry=[TIE])
    assert joint.success and 0.8 < joint.statistics["redchi"] < 1.3
    s = joint.results["S 2p"].table().groupby("component")["component_area"].first()
    p = joint.results["P 2p"].table().groupby("component")["component_area"].first()
    # the tie holds exactly in the result ...
    ratio = (s["PS4"] / sensitivity_factor("S 2p")) / (p["PS4"] / sensitivity_factor("P 2p"))
    assert ratio == pytest.approx(4.0, rel=1e-9)
    # ... and the areas are the true ones
    assert s["PS4"] == pytest.approx(s_total, rel=0.01)
    assert p["PS4"] == pytest.approx(p_total, rel=0.01)
    assert s["intermediate"] / s["PS4"] == pytest.approx(1.56, rel=0.02)
    assert p["PSP"] / p["PS4"] == pytest.approx(0.25, rel=0.1)
    # the joint statistics are those of one problem over both regions
    singles = {r: specfit.fit(tree, m, region=r) for r, m in MODELS.items()}
    assert joint.statistics["ndata"] == sum(r.statistics["ndata"] for r in singles.values())
    assert joint.statistics["nfree"] == sum(r.statistics["nfree"] for r in singles.values()) - 1
    assert joint.statistics["chisqr"] >= sum(r.chisqr for r in singles.values()) - 1e-6
    # the tie carries S 2p's precision over to the weak P 2p component
    joint_err = joint.results["P 2p"].table().set_index("name").loc["PS4", "component_area_error"]
    single_err = singles["P 2p"].table().set_index("name").loc["PS4", "component_area_error"]
    assert 0 < joint_err < single_err


def test_equation_ties_results_json_and_quantify():
    tree, _, _ = _sample(3)
    scale = sensitivity_factor("P 2p") / (4 * sensitivity_factor("S 2p"))
    joint = fit_regions(tree, MODELS, ties=[f"P2p.PS4.area = S2p.PS4.area * {scale!r}"])
    by_tie = fit_regions(tree, MODELS, stoichiometry=[TIE])
    a = joint.results["P 2p"].table()["area"].to_numpy()
    b = by_tie.results["P 2p"].table()["area"].to_numpy()
    np.testing.assert_allclose(a, b, rtol=1e-4)  # same constraint written two ways
    data = json.loads(json.dumps(joint.to_dict()))
    assert [r["attrs"]["region"] for r in data["results"]] == ["S 2p", "P 2p"]
    assert "P2p_PS4_area" in data["ties"]
    table = quantify.table_from_records(data)
    assert set(table["component"]) == {"PS4", "intermediate", "PSP"}  # doublet lines collapsed
    at = quantify.atomic_percent(table)
    assert at["atomic_percent"].sum() == pytest.approx(100.0)
    assert joint.table()["region"].tolist()[:2] == ["S 2p", "S 2p"]


def test_bad_ties_and_regions():
    tree, _, _ = _sample(4)
    assert region_prefix("S 2p") == "S2p" and region_prefix("2p") == "r2p"
    with pytest.raises(ModelError, match="not a parameter"):
        fit_regions(tree, MODELS, ties={"P2p_nothing_area": "S2p_PS4_area"})
    with pytest.raises(ModelError, match="PARAMETER = EXPRESSION"):
        fit_regions(tree, MODELS, ties=["S2p_PS4_area"])
    with pytest.raises(ModelError, match="no component area"):
        fit_regions(tree, MODELS, stoichiometry=[Stoichiometry(("S 2p", "X"), ("P 2p", "PS4"), 4.0)])
    with pytest.raises(specfit.errors.FitError, match="no spectrum"):
        fit_regions(tree, {"Cl 2p": "cl2p"})
    with warnings.catch_warnings():
        warnings.simplefilter("error", specfit.FitWarning)
        fit_regions(tree, MODELS)  # no ties: converges without warnings


def test_table_from_results_with_transmission():
    """Transmission-corrected atomic %: with the S 2p spectrum recorded at half the P 2p transmission,
    the S : P atomic ratio doubles against the uncorrected one."""
    tree, _, _ = _sample(5)
    joint = fit_regions(tree, MODELS)
    plain = quantify.atomic_percent(quantify.table_from_results(joint)).set_index("region")["atomic_percent"]
    with_t = tree.copy()
    for region, value in (("S 2p", 0.5), ("P 2p", 1.0)):
        ds = with_t[region].to_dataset()
        with_t[region] = xr.DataTree(ds.assign(transmission=ds["intensity"] * 0 + value))
    table = quantify.table_from_results(joint, data=with_t, sample="A")
    assert set(table["transmission"]) == {0.5, 1.0} and set(table["sample"]) == {"A"}
    corrected = quantify.atomic_percent(table).set_index("region")["atomic_percent"]
    assert corrected["S 2p"] / corrected["P 2p"] == pytest.approx(2 * plain["S 2p"] / plain["P 2p"], rel=1e-9)
    # single results and dicts work too; the region comes from the data or the key
    single = quantify.table_from_results({"S 2p": joint.results["S 2p"]})
    assert set(single["region"]) == {"S 2p"} and set(single["component"]) == {"PS4", "intermediate"}
    with pytest.raises(specfit.errors.SpecfitError, match="FitResult"):
        quantify.table_from_results([object()])


@pytest.mark.corpus
def test_transmission_of_a_vamas_file_reaches_the_fit_json(tmp_path, capsys):
    from conftest import corpus_path

    from specfit.cli import main

    path = corpus_path("xps", "vamas_transmission", "Pt4f.vms")
    leaf = specfit.read(path)["Pt 4f"].to_dataset()
    be, trans = leaf["binding_energy"].values, leaf["transmission"].values
    assert quantify.transmission_at(leaf, [be[10]]) == pytest.approx([trans[10]])
    assert np.isnan(quantify.transmission_at(leaf, [200.0])[0])  # outside the spectrum: unknown
    model = tmp_path / "pt.toml"
    model.write_text(
        'range = [62.0, 90.0]\n[background]\ntype = "shirley"\n[[components]]\nname = "Pt"\nlevel = "Pt 4f"\n'
        'shape = "GL(30)"\nposition = 71.0\nposition_min = 69.5\nposition_max = 73.0\nfwhm = 1.0\n'
        "fwhm_min = 0.3\nfwhm_max = 3.0\n"
    )
    assert main(["fit", str(path), "--model", str(model), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    comps = {c["name"]: c for c in out["components"]}
    expected = np.interp(comps["Pt"]["position"], be[::-1], trans[::-1])
    assert comps["Pt"]["transmission"] == pytest.approx(expected, rel=1e-9)
    table = quantify.table_from_records(out)
    assert table["transmission"].iloc[0] == pytest.approx(expected, rel=1e-9)


def test_joint_cli_feeds_quantify(tmp_path, capsys):
    from specfit.cli import main

    tree, s_total, p_total = _sample(6)
    source = tmp_path / "sample.h5"
    specfit.save(tree, source)
    argv = ["xps", "joint", str(source), "--model", "S 2p=s2p-sulfide[PS4,intermediate]",
            "--model", "P 2p=p2p-sulfide[PS4,PSP]", "--stoichiometry", "S 2p/PS4 : P 2p/PS4 = 4"]  # fmt: skip
    assert main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out["ties"]) == ["P2p_PS4_area"] and out["statistics"]["success"]
    areas = {(r["attrs"]["region"], c["name"]): c["component_area"] for r in out["results"] for c in r["components"]}
    assert areas[("S 2p", "PS4")] == pytest.approx(s_total, rel=0.01)
    assert areas[("P 2p", "PS4")] == pytest.approx(p_total, rel=0.01)
    result = tmp_path / "joint.json"
    result.write_text(json.dumps(out))
    assert main(["xps", "quantify", str(result), "--ratio", "intermediate:PS4", "--json"]) == 0
    q = json.loads(capsys.readouterr().out)
    atomic = {r["region"]: r["atomic_percent"] for r in q["atomic_percent"]}
    assert sum(atomic.values()) == pytest.approx(100.0)
    assert q["ratios"][0]["value"] == pytest.approx(1.56, rel=0.03)
    assert main(argv) == 0 and "tie P2p_PS4_area" in capsys.readouterr().out
    assert main(["xps", "joint", str(source), "--model", "S 2p"]) == 1
    assert "REGION=MODEL" in capsys.readouterr().err
    assert main([*argv[:5], "--stoichiometry", "S 2p PS4 = 4"]) == 1
    assert "REGION/COMPONENT" in capsys.readouterr().err


def test_regions_given_as_a_mapping_of_datasets():
    tree, _, _ = _sample(7)
    data = {"S 2p": tree["S 2p"].to_dataset(), "P 2p": tree["P 2p"].to_dataset()}
    joint = fit_regions(data, MODELS)
    by_tree = fit_regions(tree, MODELS)
    np.testing.assert_allclose(joint.results["S 2p"].table()["area"], by_tree.results["S 2p"].table()["area"])
    with pytest.raises(specfit.errors.FitError, match="no data for region"):
        fit_regions(data, {"Cl 2p": "cl2p"})
