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
