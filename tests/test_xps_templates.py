"""Fit-model templates generated from the species library."""

from __future__ import annotations

import sys

import pytest

from specfit.errors import ModelError
from specfit.model.components import core_level
from specfit.xps import UnknownEntryError, make_template, species, species_info, template, template_names
from specfit.xps.templates import template_path, write_templates

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

EXPECTED = {"s2p-sulfide", "p2p-sulfide", "cl2p", "c1s-adventitious", "f1s", "n1s", "li1s", "o1s", "zr3d"}


def test_committed_templates_equal_the_generated_ones():
    names = template_names()
    assert EXPECTED <= set(names)
    for name in names:
        path = template_path(name)
        assert path.exists(), f"{path} missing: run `specfit xps templates --write`"
        assert path.read_text(encoding="utf-8") == template(name), f"{name}: regenerate the template files"
    committed = {p.stem for p in template_path("x").parent.glob("*.toml")}
    assert committed == set(names)  # no stale files


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_templates_follow_the_schema_and_the_library(name):
    model = tomllib.loads(template(name))
    low, high = model["range"]
    assert low < high
    assert model["background"]["type"] == "shirley"
    names = [c["name"] for c in model["components"]]
    assert len(set(names)) == len(names)
    text = template(name)
    for comp in model["components"]:
        assert set(comp) <= {"name", "level", "shape", "position", "position_min", "position_max", "fwhm", "fwhm_min",
                             "fwhm_max"}  # fmt: skip
        assert comp["position_min"] <= comp["position"] <= comp["position_max"]
        assert low < comp["position_min"] and comp["position_max"] < high
        if isinstance(comp["fwhm"], str):
            assert comp["fwhm"] in names[: names.index(comp["name"])]  # ties point backwards
        else:
            assert comp["fwhm_min"] <= comp["fwhm"] <= comp["fwhm_max"]
        prefix = comp["level"].replace(" ", "")
        entry = species_info(f"{prefix}.{comp['name']}")
        assert comp["position"] == entry.be and comp["position_max"] == entry.be_max
        assert f"# species {entry.name}:" in text and entry.source in text  # each component cites its entry


def test_make_template_with_a_species_subset_and_ties():
    text = make_template("S 2p", species=["PS4", "S2p.polysulfide"], tie_fwhm=True)
    model = tomllib.loads(text)
    assert [c["name"] for c in model["components"]] == ["PS4", "polysulfide"]
    assert model["components"][1]["fwhm"] == "PS4"
    assert model["range"] == [156.0, 172.0]
    s2p = tomllib.loads(template("s2p-sulfide"))
    first = s2p["components"][0]
    assert first["name"] == "PS4" and isinstance(first["fwhm"], float)
    tied = {c["name"] for c in s2p["components"] if c["fwhm"] == "PS4"}
    assert tied == {"Li2S", "polysulfide"}


def test_make_template_errors():
    with pytest.raises(ModelError, match="belongs to P 2p"):
        make_template("S 2p", species=["P2p.PS4"])
    with pytest.raises(UnknownEntryError):
        make_template("S 2p", species=["nonsense"])
    with pytest.raises(ModelError, match="twice"):
        make_template("S 2p", species=["PS4", "S2p.PS4"])
    with pytest.raises(ModelError, match="unknown XPS template"):
        template("s3p")
    # singlet level without a recipe: range from the windows
    model = tomllib.loads(make_template("Na 1s"))
    assert model["range"][0] < 1071.0 < model["range"][1]
    # doublet level without a recipe: the window reaches the upper-j line (splitting from core_levels.toml)
    sn = tomllib.loads(make_template("Sn 3d"))
    sn_max = max(s.be_max for s in species("Sn 3d"))
    assert sn["range"][1] == pytest.approx(sn_max + core_level("Sn 3d")["splitting"] + 4.0)
    assert tomllib.loads(make_template("Sn 3d", fit_range=(480, 500)))["range"] == [480.0, 500.0]


def test_write_templates_to_a_folder(tmp_path):
    paths = write_templates(tmp_path)
    assert {p.stem for p in paths} == set(template_names())
    assert all(tomllib.loads(p.read_text()) for p in paths)


def test_cli_templates_species_factors(capsys):
    import json

    from specfit.cli import main

    assert main(["xps", "templates", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert {t["name"] for t in listing} == set(template_names())
    assert main(["xps", "templates", "--show", "s2p-sulfide"]) == 0
    assert capsys.readouterr().out == template("s2p-sulfide")
    assert main(["xps", "species", "S 2p", "--json"]) == 0
    assert any(s["name"] == "S2p.PS4" for s in json.loads(capsys.readouterr().out))
    assert main(["xps", "factors", "S 2p", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["value"] == 1.677
    assert main(["xps", "factors", "Au 4f"]) == 1
    assert "Au 4f" in capsys.readouterr().err
