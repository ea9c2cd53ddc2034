"""The Raman band library and the fit templates in reference_library/raman."""

from __future__ import annotations

import sys

import pytest

from specfit.errors import SpecfitError
from specfit.raman import band_window, bands, template_path, templates

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

COMPONENT_KEYS = {"name", "shape", "position", "position_min", "position_max", "fwhm", "fwhm_min", "fwhm_max", "area"}


def test_every_band_is_sourced_and_consistent():
    all_bands = bands()
    assert len({b.name for b in all_bands}) == len(all_bands)
    for band in all_bands:
        assert band.source.strip(), band.name
        # a band without a DOI must say why in its note
        assert band.doi or band.note, band.name
        assert band.window[0] <= band.position <= band.window[1], band.name
        assert band.window[1] - band.window[0] <= 80, band.name


def test_thiophosphate_and_other_key_bands():
    by_name = {b.name: b for b in bands()}
    assert by_name["PS4"].contains(420) and by_name["P2S7"].contains(406) and by_name["P2S6"].contains(389)
    assert by_name["PS4"].doi == "10.1039/C7TA06067J"
    assert by_name["Li2S"].contains(375)
    assert {by_name[k].position for k in ("S8_153", "S8_219", "S8_473")} == {153, 219, 473}
    assert by_name["sulfate"].contains(1000)
    assert by_name["carbon_D"].contains(1350) and by_name["carbon_G"].contains(1590)
    assert by_name["NCM_Eg"].contains(480) and by_name["NCM_A1g"].contains(550)
    # the thiophosphate windows do not overlap: each band is identifiable by position
    ps4, p2s7, p2s6 = (by_name[k].window for k in ("PS4", "P2S7", "P2S6"))
    assert p2s6[1] < p2s7[0] and p2s7[1] < ps4[0]


def test_species_filter_and_band_window():
    assert {b.name for b in bands("S8")} == {"S8_153", "S8_219", "S8_473"}
    assert {b.species for b in bands(["PS4", "P2S7(4-)"])} == {"PS4(3-)", "P2S7(4-)"}
    assert band_window("ps4") == (415.0, 430.0)
    with pytest.raises(SpecfitError, match="known species"):
        bands("unobtainium")


@pytest.mark.parametrize("name", ["thiophosphate", "polysulfide-sulfate"])
def test_templates_follow_the_engine_schema(name):
    assert name in templates()
    with open(template_path(name), "rb") as fh:
        model = tomllib.load(fh)
    low, high = model["range"]
    assert low < high
    assert model["background"]["type"] in ("linear", "polynomial")
    names = [c["name"] for c in model["components"]]
    assert len(set(names)) == len(names)
    for comp in model["components"]:
        assert set(comp) <= COMPONENT_KEYS, set(comp) - COMPONENT_KEYS
        assert comp["shape"] in ("lorentzian", "voigt", "pseudo_voigt")
        assert "level" not in comp
        assert comp["position_min"] <= comp["position"] <= comp["position_max"]
        assert low <= comp["position_min"] and comp["position_max"] <= high
        assert comp["fwhm_min"] <= comp["fwhm"] <= comp["fwhm_max"]
        for value in comp.values():  # string values tie to another component
            if isinstance(value, str) and value not in ("lorentzian", "voigt", "pseudo_voigt", comp["name"]):
                assert value in names


def test_thiophosphate_template_matches_the_library():
    with open(template_path("thiophosphate"), "rb") as fh:
        model = tomllib.load(fh)
    assert model["range"] == [360.0, 450.0]
    by_name = {b.name: b for b in bands()}
    for comp in model["components"]:
        band = by_name[comp["name"]]
        assert comp["position"] == band.position
        assert (comp["position_min"], comp["position_max"]) == band.window
    with pytest.raises(SpecfitError, match="available"):
        template_path("nope")
