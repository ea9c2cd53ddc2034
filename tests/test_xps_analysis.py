"""XPS analyses end to end: every template fits its own synthetic spectrum, the s2p-sulfide
known-answer ratio test, species subsets and the CLI."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import specfit
from specfit.conventions import make_leaf
from specfit.errors import ModelError
from specfit.model.core import CompiledModel
from specfit.xps.templates import template_model, template_names


def _shirley_counts(x, peaks, rng, k=0.02, constant=200.0):
    """Poisson counts of peaks + k·(cumulative peak area from the low-BE end) + constant."""
    order = np.argsort(x)
    cumulative = np.empty_like(peaks)
    xs, ps = x[order], peaks[order]
    cumulative[order] = np.concatenate([[0.0], np.cumsum(0.5 * (ps[1:] + ps[:-1]) * np.diff(xs))])
    return rng.poisson(peaks + k * cumulative + constant).astype(float)


def _from_own_components(model, rng, area=3000.0, step=0.05):
    """A spectrum made of the model's own components at their start values (each main line of
    ``area``), on a Shirley step; returns the leaf and the true component totals."""
    params = model.make_params()
    for c in model.components:
        if params[f"{c.name}_area"].expr is None:
            params[f"{c.name}_area"].value = area
    params.update_constraints()
    compiled = CompiledModel(model, params, "binding_energy")
    P = np.array([params[n].value for n in compiled.free])
    low, high = model.range
    x = np.arange(high, low - 1e-9, -step)
    peaks = compiled.evaluate(x, P[None])[0][0]
    truth = {}
    for c in model.components:
        ratio = params[f"{c.name}_ratio"].value if f"{c.name}_ratio" in params else 0.0
        truth[c.name] = area * (1.0 + ratio)
    leaf = make_leaf(_shirley_counts(x, peaks, rng), "binding_energy", x, units="counts", attrs={"technique": "xps"})
    return leaf, truth


@pytest.mark.parametrize("name", template_names())
def test_every_template_loads_by_name_and_fits_its_own_spectrum(name):
    model = specfit.load_model(name)
    leaf, truth = _from_own_components(model, np.random.default_rng(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", specfit.FitWarning)
        result = specfit.fit(leaf, model)
    assert result.success
    assert result.redchi < 1.3
    areas = result.table().groupby("component", sort=False)["component_area"].first()
    total = sum(truth.values())
    assert areas.sum() == pytest.approx(total, rel=0.02)
    # components with no neighbour within 1.5 eV are identifiable: their areas come back
    starts = {c.name: c.position for c in model.components if isinstance(c.position, int | float)}
    for comp, pos in starts.items():
        if all(abs(pos - other) >= 1.5 for n, other in starts.items() if n != comp):
            assert areas[comp] == pytest.approx(truth[comp], abs=0.03 * total), comp


def _gl(x, center, fwhm, area, m=0.3):
    """CasaXPS GL(30) product shape normalised numerically (written here, not taken from specfit)."""
    u = (x - center) / fwhm
    fine = np.linspace(-80.0, 80.0, 320001)
    norm = np.trapezoid(np.exp(-4 * np.log(2) * (1 - m) * fine**2) / (1 + 4 * m * fine**2), fine) * fwhm
    return area * np.exp(-4 * np.log(2) * (1 - m) * u * u) / (1 + 4 * m * u * u) / norm


def s2p_charge_discharge(rng, ratio, *, ps4=160.7, intermediate=162.9, area=6000.0, fwhm=1.0, splitting=1.18):
    """S 2p as in the published charge/discharge analysis: PS4 (2p3/2 160.7 eV) and the -P-Sn-P- / S-S
    intermediate (162.9 eV), doublets with 1:2 branching, intermediate : PS4 = ``ratio``; Shirley
    step, constant background and Poisson noise at realistic counts (~4000 counts at the PS4 peak)."""
    x = np.round(np.arange(172.0, 155.99, -0.05), 2)
    peaks = np.zeros_like(x)
    for a, c in ((area, ps4), (ratio * area, intermediate)):
        peaks += _gl(x, c, fwhm, a) + _gl(x, c + splitting, fwhm, a / 2)
    counts = _shirley_counts(x, peaks, rng, k=0.03, constant=400.0)
    return make_leaf(counts, "binding_energy", x, units="counts", attrs={"technique": "xps", "region": "S 2p"})


@pytest.mark.parametrize("ratio", [1.56, 0.56])
def test_s2p_sulfide_template_recovers_the_intermediate_to_ps4_ratio(ratio):
    model = template_model("s2p-sulfide", ["PS4", "intermediate"])
    assert [c.name for c in model.components] == ["PS4", "intermediate"]
    for seed in range(4):
        leaf = s2p_charge_discharge(np.random.default_rng(seed), ratio)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", specfit.FitWarning)
            result = specfit.fit(leaf, model)
        areas = result.table().groupby("component", sort=False)["component_area"].first()
        assert areas["intermediate"] / areas["PS4"] == pytest.approx(ratio, rel=0.03), seed
        assert result.table().set_index("name").loc["PS4", "position"] == pytest.approx(160.7, abs=0.03)


def test_species_subset_by_alias_and_errors():
    model = template_model("s2p-sulfide", ["intermediate", "PS4"])
    names = [c.name for c in model.components]
    assert names == ["PS4", "intermediate"]  # width leader first; the alias names the component
    assert model.components[1].fwhm == "PS4"
    with pytest.raises(ModelError, match="belongs to P 2p"):
        template_model("s2p-sulfide", ["P2p.PS4"])
    # a model file: components filtered by name; a tie to a dropped component is refused
    full = specfit.load_model("s2p-sulfide")
    assert [c.name for c in template_model(full, ["PS4", "sulfate"]).components] == ["PS4", "sulfate"]
    with pytest.raises(ModelError, match="cannot keep only"):
        template_model(full, ["Li2S"])
