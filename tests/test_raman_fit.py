"""Raman band fitting: templates with the engine, known-answer fits, despiking, species maps, CLI."""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pytest
import xarray as xr

import specfit
from specfit.cli import main as cli_main
from specfit.errors import SpecfitError
from specfit.fitting import FitWarning
from specfit.raman import (
    SyntheticBand,
    band_table,
    bands,
    despike,
    fit_bands,
    plot_species_maps,
    species_maps,
    species_of,
    species_table,
    synthetic_map,
    synthetic_spectrum,
    templates,
)
from specfit.raman.synthetic import THIOPHOSPHATE_BANDS
from specfit.results import FitResult, FitStackResult
from tests.conftest import corpus_path

matplotlib.use("Agg")

SEEDS = [0, 1, 2, 3, 4, 5]


def _check_known_answer(fit, truth, position_tol=1.0, fraction_tol=0.03):
    table = fit.bands.set_index("name")
    for name, t in truth["bands"].items():
        assert abs(table.loc[name, "position"] - t["position"]) <= position_tol, name
        assert abs(table.loc[name, "area_fraction"] - t["area_fraction"]) <= fraction_tol, name


# ------------------------------------------------------------------------------ templates


@pytest.mark.parametrize("name", templates())
def test_templates_load_with_the_engine_and_name_library_bands(name):
    model = specfit.load_model(name)
    lib = {b.name: b for b in bands()}
    assert model.range is not None and model.background is not None
    for comp in model.components:
        # every component is a library band (by band name, or by species and window) and its
        # position bounds lie in that band's window
        band = lib.get(comp.name) or next(
            b for b in lib.values() if species_of(comp.name) == b.species and b.contains(comp.position)
        )
        assert species_of(comp.name) == band.species
        lo, hi = band.window
        assert lo <= comp.bounds["position_min"] <= comp.position <= comp.bounds["position_max"] <= hi
        assert comp.shape.kind in ("lorentzian", "voigt", "pseudo_voigt")
    assert set(model.make_params("raman_shift")) >= {f"{c.name}_area" for c in model.components}


def test_thiophosphate_template_fits_as_shipped():
    # the template unchanged (pseudo-Voigt bands, linear background) on pseudo-Voigt-free data:
    # it must converge and put the bands in the right places
    ds, truth = synthetic_spectrum(seed=11, spikes=0)
    result = specfit.fit(ds, "thiophosphate")
    assert isinstance(result, FitResult) and result.success
    t = result.table().set_index("name")
    for name, tr in truth["bands"].items():
        assert abs(t.loc[name, "position"] - tr["position"]) < 1.0


# ------------------------------------------------------------------------------ known answers


@pytest.mark.parametrize("seed", SEEDS)
def test_lorentzian_bands_with_fluorescence_and_spikes(seed):
    ds, truth = synthetic_spectrum(seed=seed, spikes=4)
    fit = fit_bands(ds, "thiophosphate", shape="lorentzian")
    assert fit.result.success
    _check_known_answer(fit, truth)
    # the despiker ran and replaced the planted spikes
    history = specfit.raman.processing_history(fit.data[("intensity")])
    assert history[0]["step"] == "despike" and history[0]["points_replaced"] >= len(truth["spike_pixels"])


@pytest.mark.parametrize("seed", SEEDS[:4])
def test_voigt_bands_with_fluorescence_and_spikes(seed):
    gfwhm = 4.0  # instrument (Gaussian) width, known from the spectrometer
    voigt_bands = [SyntheticBand(b.name, b.position, b.fwhm, b.area, "voigt", gfwhm) for b in THIOPHOSPHATE_BANDS]
    ds, truth = synthetic_spectrum(voigt_bands, seed=100 + seed, spikes=4)
    fit = fit_bands(ds, "thiophosphate", shape=f"voigt({gfwhm})", background="polynomial:2")
    assert fit.result.success
    _check_known_answer(fit, truth)
    # Voigt 'fwhm' is the Lorentzian width: recovered too
    table = fit.bands.set_index("name")
    for name, tr in truth["bands"].items():
        assert table.loc[name, "fwhm"] == pytest.approx(tr["fwhm"], rel=0.15)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_polysulfide_sulfate_template_known_answer(seed):
    x = np.arange(420.0, 1040.0, 1.0)
    truth_bands = [
        SyntheticBand("S8", 473.0, 6.0, 40000.0),
        SyntheticBand("polysulfide", 470.0, 35.0, 80000.0),
        SyntheticBand("S3_radical", 535.0, 12.0, 20000.0),
        SyntheticBand("sulfite", 967.0, 12.0, 30000.0),
        SyntheticBand("sulfate", 1000.0, 10.0, 60000.0),
    ]
    ds, truth = synthetic_spectrum(truth_bands, shift=x, seed=seed, spikes=3, fluorescence=(3000.0, 2.0, 600.0))
    fit = fit_bands(ds, "polysulfide-sulfate", shape="lorentzian")
    assert fit.result.success
    table = fit.bands.set_index("name")
    tb = truth["bands"]
    for name in ("S8", "S3_radical", "sulfite", "sulfate"):
        assert abs(table.loc[name, "position"] - tb[name]["position"]) <= 1.0, name
    for name in ("S3_radical", "sulfite", "sulfate"):
        assert abs(table.loc[name, "area_fraction"] - tb[name]["area_fraction"]) <= 0.03, name
    # a narrow S8 band on top of the broad polysulfide envelope at the same place: their split is
    # poorly determined (it trades with the background), their sum is not
    both = table.loc["S8", "area_fraction"] + table.loc["polysulfide", "area_fraction"]
    assert abs(both - tb["S8"]["area_fraction"] - tb["polysulfide"]["area_fraction"]) <= 0.04
    assert set(fit.species["species"]) == {"S8", "Sx(2-)", "S3(-)", "SO3(2-)", "SO4(2-)"}


@pytest.mark.parametrize("seed", [0, 1])
def test_carbon_dg_template_recovers_the_d_to_g_ratio(seed):
    x = np.arange(900.0, 1900.0, 1.0)
    d = SyntheticBand("carbon_D", 1345.0, 120.0, 300000.0)
    g = SyntheticBand("carbon_G", 1592.0, 70.0, 200000.0)
    ds, truth = synthetic_spectrum([d, g], shift=x, seed=seed, spikes=3, fluorescence=(1500.0, 1.0, 900.0))
    assert truth["bands"]["carbon_D"]["area"] / truth["bands"]["carbon_G"]["area"] == 1.5
    fit = fit_bands(ds, "carbon-dg")
    assert fit.result.success
    table = fit.bands.set_index("name")
    assert abs(table.loc["carbon_D", "position"] - 1345.0) <= 1.0
    assert abs(table.loc["carbon_G", "position"] - 1592.0) <= 1.0
    ratio = table.loc["carbon_D", "area"] / table.loc["carbon_G", "area"]
    assert ratio == pytest.approx(1.5, rel=0.06)
    assert fit.species["species"].tolist() == ["carbon"]  # one species: read D/G from the band table


def test_known_answer_fails_without_despiking_when_a_spike_sits_on_a_band():
    # a guard that the known-answer tests test something: a one-pixel spike on top of the P2S6
    # band pulls that band into a narrow spike-fit (FWHM to its lower bound) and its area fraction
    # off by far more than the tolerance unless despiked
    ds, truth = synthetic_spectrum(seed=3, spikes=0)
    y = ds["intensity"].values.copy()
    i = int(np.argmin(np.abs(ds["raman_shift"].values - 389.0)))
    y[i] += 30000.0
    spiked = ds.assign(intensity=(ds["intensity"].dims, y, ds["intensity"].attrs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        raw = fit_bands(spiked, "thiophosphate", shape="lorentzian", preprocess={"despike": False})
    cleaned = fit_bands(spiked, "thiophosphate", shape="lorentzian")
    frac = truth["bands"]["P2S6"]["area_fraction"]
    assert abs(raw.bands.set_index("name").loc["P2S6", "area_fraction"] - frac) > 0.03
    assert raw.result.redchi > 50 and cleaned.result.redchi < 1.5
    _check_known_answer(cleaned, truth)


def test_species_fraction_errors_match_the_scatter_over_noise():
    # the propagated standard errors of the species fractions describe the real scatter
    z = []
    for seed in range(20):
        ds, truth = synthetic_spectrum(seed=200 + seed, spikes=0)
        fit = fit_bands(ds, "thiophosphate", shape="lorentzian", preprocess={"despike": False})
        st = fit.species.set_index("bands")
        for name, tr in truth["bands"].items():
            z.append((st.loc[name, "area_fraction"] - tr["area_fraction"]) / st.loc[name, "area_fraction_error"])
    rms = float(np.sqrt(np.mean(np.square(z))))
    assert 0.5 < rms < 2.0, rms


def test_baseline_subtraction_before_the_fit():
    ds, truth = synthetic_spectrum(seed=7, spikes=2)
    fit = fit_bands(
        ds, "thiophosphate", shape="lorentzian", range=(340.0, 470.0), preprocess={"baseline": {"method": "arpls"}}
    )
    assert "baseline" in fit.data
    # weights come from the raw counts, not from the baseline-subtracted intensity
    np.testing.assert_allclose(
        fit.data["intensity_error"].values, np.sqrt(np.maximum(despike(ds)["intensity"].values, 1.0))
    )
    steps = [e["step"] for e in specfit.raman.processing_history(fit.data["intensity"])]
    assert steps == ["despike", "baseline"]
    table = fit.bands.set_index("name")
    for name, tr in truth["bands"].items():
        assert abs(table.loc[name, "position"] - tr["position"]) <= 1.0
        assert abs(table.loc[name, "area_fraction"] - tr["area_fraction"]) <= 0.05


def test_smoothing_before_the_fit_keeps_raw_count_weights():
    ds, truth = synthetic_spectrum(seed=8, spikes=2)
    fit = fit_bands(ds, "thiophosphate", shape="lorentzian", preprocess={"smooth": 7})
    steps = [e["step"] for e in specfit.raman.processing_history(fit.data["intensity"])]
    assert steps == ["despike", "smooth"]
    assert "intensity_error" in fit.data
    # smoothing takes noise out of the residual: reduced chi-square well below 1 with raw-count weights
    assert fit.result.redchi < 0.6
    _check_known_answer(fit, truth)


# ------------------------------------------------------------------------------ despiking


@pytest.mark.parametrize("seed", SEEDS)
def test_despike_removes_planted_spikes_and_keeps_band_areas(seed):
    ds, truth = synthetic_spectrum(seed=seed, spikes=5)
    clean = ds.assign(intensity=(ds["intensity"].dims, truth["clean"], ds["intensity"].attrs))
    cleaned = despike(ds)
    y = cleaned["intensity"].values
    # every planted spike pixel is back within 5 sigma (Poisson) of the spike-free spectrum
    hits = truth["spike_pixels"]
    sigma = np.sqrt(np.maximum(truth["clean"][hits], 1.0))
    assert np.all(np.abs(y[hits] - truth["clean"][hits]) < 5 * sigma + 0.05 * truth["clean"][hits])
    # band areas from the despiked spectrum are those of the spike-free one within 1 %
    ref = fit_bands(clean, "thiophosphate", shape="lorentzian", preprocess={"despike": False}).bands
    got = fit_bands(cleaned, "thiophosphate", shape="lorentzian", preprocess={"despike": False}).bands
    assert np.allclose(got["area"], ref["area"], rtol=0.01)
    # and despiking a spike-free spectrum leaves its integrated band area within 1 %
    again = despike(clean)["intensity"].values
    net = truth["clean"] - truth["background"]
    net2 = again - truth["background"]
    x = ds["raman_shift"].values
    assert abs(np.trapezoid(net2, x) / np.trapezoid(net, x) - 1.0) < 0.01


# ------------------------------------------------------------------------------ species


def test_species_of_uses_the_band_library():
    assert species_of("PS4") == "PS4(3-)"
    assert species_of("p2s7") == "P2S7(4-)"
    assert species_of("Li2S") == "Li2S"
    assert species_of("S8_473") == "S8"
    assert species_of("my_band") == "my_band"


def test_bands_of_one_species_are_summed():
    # PS4 nu1 and nu4 both belong to PS4(3-): one species row with both bands
    nu4 = SyntheticBand("PS4_nu4", 276.0, 12.0, 30000.0)
    ps4 = SyntheticBand("PS4", 420.0, 9.0, 90000.0)
    p2s6 = SyntheticBand("P2S6", 389.0, 10.0, 40000.0)
    x = np.arange(240.0, 460.0, 0.5)
    ds, _ = synthetic_spectrum([nu4, ps4, p2s6], shift=x, spikes=0, seed=5)
    model = specfit.Model.from_toml(
        """
range = [240.0, 460.0]
[background]
type = "polynomial"
degree = 2
[[components]]
name = "PS4_nu4"
shape = "lorentzian"
position = 276.0
position_min = 265.0
position_max = 290.0
fwhm = 10.0
[[components]]
name = "PS4"
shape = "lorentzian"
position = 420.0
position_min = 415.0
position_max = 430.0
fwhm = 10.0
[[components]]
name = "P2S6"
shape = "lorentzian"
position = 388.0
position_min = 380.0
position_max = 395.0
fwhm = 10.0
"""
    )
    fit = fit_bands(ds, model)
    st = fit.species.set_index("species")
    assert list(st.index) == ["PS4(3-)", "P2S6(4-)"]
    assert st.loc["PS4(3-)", "bands"] == "PS4_nu4,PS4"
    assert st.loc["PS4(3-)", "area_fraction"] == pytest.approx(120000 / 160000, abs=0.02)
    assert st["area_fraction"].sum() == pytest.approx(1.0)
    assert 0 < st.loc["PS4(3-)", "area_fraction_error"] < 0.02
    assert band_table(fit.result)["species"].tolist() == ["PS4(3-)", "PS4(3-)", "P2S6(4-)"]


def test_bad_preprocessing_options_raise():
    ds, _ = synthetic_spectrum(seed=0, spikes=0)
    with pytest.raises(SpecfitError, match="unknown preprocessing"):
        fit_bands(ds, "thiophosphate", preprocess={"despik": True})
    with pytest.raises(SpecfitError, match="despike"):
        fit_bands(ds, "thiophosphate", preprocess={"despike": "yes"})
    with pytest.raises(SpecfitError, match="despike"):
        fit_bands(ds, "thiophosphate", preprocess={"despike": {"treshold": 5}})
    with pytest.raises(SpecfitError, match="baseline method"):
        fit_bands(ds, "thiophosphate", preprocess={"baseline": "no-such-method"})
    with pytest.raises(SpecfitError):
        fit_bands(ds, "thiophosphate", shape="gaussianish")
    with pytest.raises(SpecfitError, match="no such model file or template"):
        fit_bands(ds, "no-such-template")


# ------------------------------------------------------------------------------ maps


@pytest.fixture(scope="module")
def small_map():
    ds, truth = synthetic_map(6, 5, spikes_per_spectrum=0.5, seed=1)
    return ds, truth


def test_map_species_fractions_and_positions(small_map):
    ds, truth = small_map
    fit = fit_bands(ds, "thiophosphate", shape="lorentzian")
    assert isinstance(fit.result, FitStackResult)
    maps = fit.species
    assert set(maps.dims) == {"y", "x"} and maps.sizes == {"y": 6, "x": 5}
    for j, name in enumerate(truth["names"]):
        assert np.max(np.abs(maps[name].values - truth["area_fraction"][..., j])) <= 0.03, name
        assert maps[name].attrs["species"] == species_of(name)
        assert np.all(maps[f"{name}_error"].values > 0)
    positions = fit.result.dataset["position"].transpose("y", "x", "line").values
    assert np.max(np.abs(positions - truth["position"])) <= 1.0
    # fractions add up to one in every pixel; the PS4 gradient runs along x as planted
    total = sum(maps[n] for n in truth["names"])
    assert np.allclose(total, 1.0)
    assert np.all(np.diff(maps["PS4"].mean("y").values) > 0)
    assert maps["x"].attrs.get("units") == "um"


def test_species_maps_figure_has_a_colour_bar_per_species(small_map):
    ds, _ = small_map
    fit = fit_bands(ds, "thiophosphate", shape="lorentzian")
    fig = plot_species_maps(fit.species)
    images = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    colorbars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(images) == 3 and len(colorbars) == 3
    assert [ax.get_title() for ax in images] == ["PS4(3-)", "P2S7(4-)", "P2S6(4-)"]
    assert all(cb.get_ylabel() == "area fraction" for cb in colorbars)
    assert fig._suptitle is None  # every fit converged: nothing marked
    with pytest.raises(SpecfitError):
        species_table(fit.result)
    one = fit_bands(ds.isel(y=0, x=0), "thiophosphate", shape="lorentzian")
    with pytest.raises(SpecfitError):
        species_maps(one.result)


def test_map_fit_of_dask_chunked_data_equals_the_in_memory_fit(small_map):
    ds, _ = small_map
    memory = fit_bands(ds, "thiophosphate", shape="lorentzian").species
    lazy_data = ds.chunk({"y": 3})
    assert lazy_data["intensity"].chunks is not None
    lazy = fit_bands(lazy_data, "thiophosphate", shape="lorentzian").species
    for name in ("PS4", "P2S7", "P2S6", "PS4_error", "total_area"):
        np.testing.assert_allclose(np.asarray(lazy[name].values), memory[name].values, rtol=1e-9)


def test_map_result_saves_and_loads(small_map, tmp_path):
    ds, _ = small_map
    fit = fit_bands(ds, "thiophosphate", shape="lorentzian")
    path = specfit.save(fit.result, tmp_path / "fit.h5")
    back = specfit.load(path)
    assert isinstance(back, FitStackResult)
    a, b = species_maps(fit.result), species_maps(back)
    for name in ("PS4", "P2S7", "P2S6", "total_area"):
        np.testing.assert_allclose(a[name].values, b[name].values)


# ------------------------------------------------------------------------------ CLI


def test_cli_fit_on_a_synthetic_map_file(small_map, tmp_path, capsys):
    ds, truth = small_map
    data_path = specfit.save(ds, tmp_path / "map.h5")
    out, fig = tmp_path / "result.h5", tmp_path / "maps.png"
    rc = cli_main(["fit", str(data_path), "--model", "thiophosphate", "--out", str(out), "--plot", str(fig)])
    assert rc in (0, None)
    assert "30/30 spectra converged" in capsys.readouterr().out
    assert fig.stat().st_size > 10_000
    res = specfit.load(out)
    assert isinstance(res, FitStackResult)
    maps = species_maps(res)
    assert maps.sizes == {"y": 6, "x": 5}
    # the shipped template has pseudo-Voigt(0.5) bands and these are Lorentzian: the shape mismatch
    # costs accuracy (fit_bands(shape="lorentzian") gets within 0.03, see above), but not much
    for j, name in enumerate(truth["names"]):
        assert np.max(np.abs(maps[name].values - truth["area_fraction"][..., j])) < 0.1


@pytest.mark.corpus
def test_cli_fit_on_the_renishaw_corpus_map(tmp_path, capsys):
    wdf = corpus_path("raman", "renishaw_wdf", "renishaw_test_map.wdf")
    # the thiophosphate window (360-450 cm-1) is not in this map (1932-2253 cm-1): a clean error
    rc = cli_main(["fit", str(wdf), "--model", "thiophosphate"])
    assert rc == 1
    assert "(360.0, 450.0) holds 0 points" in capsys.readouterr().err
    # a band model inside its window runs the map path, saves, loads and plots
    model = tmp_path / "band.toml"
    model.write_text(
        '[background]\ntype = "constant"\n[[components]]\nname = "band"\nshape = "lorentzian"\n'
        "position = 2100.0\nposition_min = 2000.0\nposition_max = 2200.0\nfwhm = 30.0\nfwhm_min = 10.0\n"
        "fwhm_max = 200.0\n"
    )
    out, fig = tmp_path / "R.h5", tmp_path / "F.png"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)  # the map holds noise only
        rc = cli_main(["fit", str(wdf), "--model", str(model), "--out", str(out), "--plot", str(fig)])
    assert rc in (0, None)
    res = specfit.load(out)
    assert isinstance(res, FitStackResult)
    ds = res.to_dataset()
    assert ds.sizes["y"] == 3 and ds.sizes["x"] == 3
    np.testing.assert_allclose(ds["x"].values, [-100.0, 0.0, 100.0])  # EXPECTED.md: offset -100, scale 100
    assert res.curves.sizes["raman_shift"] == 47
    assert fig.exists() and fig.stat().st_size > 5_000
    maps = species_maps(res)
    assert isinstance(maps, xr.Dataset) and "band" in maps


@pytest.mark.corpus
def test_thiophosphate_template_on_a_real_map_covering_its_window(tmp_path):
    # interrupted_acquisition.wdf: a 3 x 4 map (last line missing) over -164..1129 cm-1, so the
    # thiophosphate window is inside; the sample is not a thiophosphate (its band is near 808 cm-1):
    # the map path must run, keep every pixel, and the figure must mark the fits that failed
    wdf = corpus_path("raman", "renishaw_wdf", "interrupted_acquisition.wdf")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = specfit.read(wdf)
        fit = fit_bands(tree, "thiophosphate")
    assert isinstance(fit.result, FitStackResult)
    maps = fit.species
    assert maps.sizes == {"y": 3, "x": 4}
    assert list(maps.data_vars)[:6] == ["PS4", "PS4_error", "P2S7", "P2S7_error", "P2S6", "P2S6_error"]
    fractions = (maps["PS4"] + maps["P2S7"] + maps["P2S6"]).values
    # a pixel where every band area went to zero has no fractions (NaN), not made-up ones
    has_bands = maps["total_area"].values > 0
    assert np.allclose(fractions[has_bands], 1.0) and np.isnan(fractions[~has_bands]).all()
    fig = plot_species_maps(maps)
    failed = int((maps["success"] == 0).sum())
    marked = sum(len(line.get_xdata()) for line in fig.axes[0].get_lines())
    assert marked == failed
    if failed:
        assert f"({failed} of 12)" in fig._suptitle.get_text()


def test_cli_raman_preprocess_then_fit(tmp_path, capsys):
    ds, truth = synthetic_spectrum(seed=4, spikes=4)
    raw = specfit.save(ds, tmp_path / "raw.h5")
    processed = tmp_path / "processed.h5"
    assert cli_main(["raman", "preprocess", str(raw), "--despike", "--out", str(processed)]) in (0, None)
    tree = specfit.read(processed)
    leaf = next(iter(specfit.conventions.leaves(tree)))[1]
    assert specfit.raman.processing_history(leaf["intensity"])[0]["step"] == "despike"
    capsys.readouterr()
    assert cli_main(["fit", str(processed), "--model", "thiophosphate", "--json"]) in (0, None)
    import json

    comps = {c["name"]: c for c in json.loads(capsys.readouterr().out)["components"]}
    for name, tr in truth["bands"].items():
        assert abs(comps[name]["position"] - tr["position"]) < 1.0


def test_cli_raman_fit_spectrum_and_map(small_map, tmp_path, capsys):
    import json

    ds, truth = synthetic_spectrum(seed=9, spikes=4)
    path = specfit.save(ds, tmp_path / "one.h5")
    rc = cli_main(["raman", "fit", str(path), "--model", "thiophosphate", "--shape", "lorentzian", "--json"])
    assert rc in (0, None)
    out = json.loads(capsys.readouterr().out)
    got = {r["bands"]: r["area_fraction"] for r in out["species"]}
    for name, tr in truth["bands"].items():
        assert abs(got[name] - tr["area_fraction"]) <= 0.03
    # a map: text summary over pixels, the result file and the species-map figure
    mds, mtruth = small_map
    mpath = specfit.save(mds, tmp_path / "map.h5")
    res, fig = tmp_path / "r.h5", tmp_path / "m.png"
    args = ["raman", "fit", str(mpath), "--model", "thiophosphate", "--shape", "lorentzian", "--out", str(res)]
    assert cli_main([*args, "--plot", str(fig)]) in (0, None)
    text = capsys.readouterr().out
    mean_ps4 = float(mtruth["area_fraction"][..., 0].mean())
    line = next(ln for ln in text.splitlines() if ln.startswith("PS4(3-)"))
    assert "30/30 converged pixels" in line
    assert float(line.split()[1]) == pytest.approx(100 * mean_ps4, abs=1.5)
    assert isinstance(specfit.load(res), FitStackResult) and fig.stat().st_size > 10_000
    assert cli_main(["raman", "fit", str(mpath)]) == 1
    assert "needs --model" in capsys.readouterr().err
