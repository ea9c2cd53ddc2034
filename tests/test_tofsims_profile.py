"""Known-answer tests of depth-profile analysis on synthetic coated-particle profiles."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.special import erf

import specfit
from specfit.conventions import make_leaf
from specfit.errors import SpecfitError
from specfit.tofsims.profile import (
    analyze_profile,
    find_plateaus,
    normalize,
    smooth,
    sputter_rate,
    with_depth,
)

RATE = 0.5  # nm/s


def _step(depth, d0, width):
    """Error-function step; ``width`` is the 16-84 % width (2 sigma)."""
    return 0.5 * (1 + erf((depth - d0) / (np.sqrt(2) * width / 2)))


def _truth_steady_state(t, model, tolerance=0.05):
    """The documented definition applied to the noise-free model."""
    final = model[-1]
    top = max(model.max(), abs(final))
    ref = abs(final) if abs(final) >= 0.1 * top else top
    outside = np.abs(model - final) > tolerance * ref
    return t[np.flatnonzero(outside)[-1] + 1]


def coated_particle(seed, *, shell=50.0, coating=15.0, w1=4.0, w2=6.0, scale=1.0, step=0.5, t_end=200.0):
    """Electrolyte shell (PS3-) over a coating (NbO2-) over an NCM core (NiO-), plus a flat matrix ion."""
    t = np.arange(0.0, t_end, step)
    d = t * RATE
    d1, d2 = shell, shell + coating
    s1, s2 = _step(d, d1, w1), _step(d, d2, w2)
    model = {
        "PS3-": scale * (30 + (5000 - 30) * (1 - s1)),
        "NbO2-": scale * (20 + (3000 - 20) * s1 * (1 - s2)),
        "NiO-": scale * (40 + (8000 - 40) * s2),
        "Cl-": scale * np.full_like(t, 2000.0),
    }
    rng = np.random.default_rng(seed)
    counts = np.stack([rng.poisson(m) for m in model.values()], axis=1).astype(float)
    ds = make_leaf(
        counts.T, "sputter_time", t, extra_dims={"fragment": list(model)}, attrs={"technique": "tofsims"}
    ).transpose("sputter_time", "fragment")
    return ds, model, t, (d1, d2, w1, w2)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_interfaces_widths_and_steady_state_known_answer(seed):
    ds, model, t, (d1, d2, w1, w2) = coated_particle(seed)
    res = analyze_profile(ds, rate=RATE)

    ps3 = res.fragment("PS3-")
    assert [i.direction for i in ps3.interfaces] == ["fall"]
    assert ps3.interfaces[0].depth_nm == pytest.approx(d1, rel=0.02)
    assert ps3.interfaces[0].width_nm == pytest.approx(w1, rel=0.10)

    nbo = res.fragment("NbO2-")  # a buried layer: rise then fall
    assert [i.direction for i in nbo.interfaces] == ["rise", "fall"]
    assert nbo.interfaces[0].depth_nm == pytest.approx(d1, rel=0.02)
    assert nbo.interfaces[1].depth_nm == pytest.approx(d2, rel=0.02)
    assert nbo.interfaces[0].width_nm == pytest.approx(w1, rel=0.10)
    assert nbo.interfaces[1].width_nm == pytest.approx(w2, rel=0.10)

    nio = res.fragment("NiO-")
    assert [i.direction for i in nio.interfaces] == ["rise"]
    assert nio.interfaces[0].depth_nm == pytest.approx(d2, rel=0.02)
    assert nio.interfaces[0].width_nm == pytest.approx(w2, rel=0.10)

    for name in ("PS3-", "NbO2-", "NiO-"):
        truth = _truth_steady_state(t, model[name])
        assert res.fragment(name).steady_state_time_s == pytest.approx(truth, rel=0.05), name

    cl = res.fragment("Cl-")  # a flat matrix signal has no interface and is steady from the start
    assert cl.interfaces == []
    assert cl.steady_state_time_s == pytest.approx(0.0, abs=1.0)

    layers = {(layer.fragment, round(layer.top_nm)): layer for layer in res.layers}
    coating = next(layer for layer in res.layers if layer.fragment == "NbO2-")
    assert coating.thickness_nm == pytest.approx(d2 - d1, rel=0.05)
    shell = next(layer for layer in res.layers if layer.fragment == "PS3-")
    assert shell.top_nm == 0.0 and shell.thickness_nm == pytest.approx(d1, rel=0.02)
    assert len(layers) == 2


def test_low_counts_and_crater_depth():
    # 5x fewer counts (1600 counts on the NiO- plateau), depth scale from the crater depth
    ds, model, t, (_d1, d2, _w1, w2) = coated_particle(7, scale=0.2, shell=30.0, coating=20.0, w1=5.0, w2=5.0)
    crater = t[-1] * RATE
    res = analyze_profile(ds, crater_depth=crater)
    assert res.rate_nm_per_s == pytest.approx(RATE)
    nio = res.fragment("NiO-")
    assert nio.interfaces[0].depth_nm == pytest.approx(d2, rel=0.02)
    assert nio.interfaces[0].width_nm == pytest.approx(w2, rel=0.10)
    assert nio.steady_state_time_s == pytest.approx(_truth_steady_state(t, model["NiO-"]), rel=0.05)


def test_normalisation_by_matrix_fragment_keeps_interfaces():
    ds, _model, _t, (d1, _d2, _w1, _w2) = coated_particle(4)
    res = analyze_profile(ds, rate=RATE, normalization="Cl-", fragments="PS3-")
    assert res.fragment("PS3-").interfaces[0].depth_nm == pytest.approx(d1, rel=0.02)
    norm = normalize(ds, "Cl-")
    assert norm["intensity"].attrs["units"] == "1"
    np.testing.assert_allclose(norm["intensity"].sel(fragment="Cl-"), 1.0)


def test_total_normalisation_uses_sum_of_species_without_total_column():
    ds, *_ = coated_particle(5)
    norm = normalize(ds, "total")
    np.testing.assert_allclose(norm["intensity"].sum("fragment"), 1.0)


def test_depth_scale_and_errors():
    ds, *_ = coated_particle(6)
    deep = with_depth(ds, rate=2.0)
    np.testing.assert_allclose(deep["depth"].values, ds["sputter_time"].values * 2.0)
    assert sputter_rate(np.array([0.0, 100.0]), crater_depth=250.0) == 2.5
    with pytest.raises(SpecfitError):
        sputter_rate(np.array([0.0, 100.0]), rate=1.0, crater_depth=2.0)
    with pytest.raises(SpecfitError):
        sputter_rate(np.array([0.0, 100.0]), rate=-1.0)
    with pytest.raises(SpecfitError, match="not in the profile"):
        analyze_profile(ds, fragments="SO3-")


def test_smoothing_preserves_mean_and_plateaus_of_a_step():
    ds, *_ = coated_particle(8)
    sm = smooth(ds, 7)
    assert float(sm["intensity"].sel(fragment="Cl-").std()) < float(ds["intensity"].sel(fragment="Cl-").std()) / 2
    y = np.r_[np.full(100, 10.0), np.full(100, 1000.0)] + np.random.default_rng(0).normal(0, 1, 200)
    plateaus = find_plateaus(y)
    assert len(plateaus) == 2
    assert plateaus[0].level == pytest.approx(10, abs=1) and plateaus[1].level == pytest.approx(1000, abs=1)


def test_csv_profile_reads_and_analyses(tmp_path):
    ds, _model, t, (d1, _d2, _w1, _w2) = coated_particle(9)
    lines = ["Time (s),Cl-,PS3-,SO-"]
    y = ds["intensity"]
    for i, ti in enumerate(t):
        lines.append(f"{ti},{y.values[i, 3]:g},{y.values[i, 0]:g},{y.values[i, 2]:g}")
    path = tmp_path / "profile.csv"
    path.write_text("\n".join(lines) + "\n")
    tree = specfit.read(path)
    leaf = next(iter(tree.children.values())).to_dataset()
    assert leaf["intensity"].dims == ("sputter_time", "fragment")
    assert list(leaf["fragment"].values) == ["Cl-", "PS3-", "SO-"]
    assert leaf["fragment_mass"].sel(fragment="PS3-") == pytest.approx(126.8905241, abs=1e-6)
    assert leaf.attrs["polarity"] == "negative"
    res = analyze_profile(tree, rate=RATE, fragments=["PS3-"])
    assert res.fragment("PS3-").interfaces[0].depth_nm == pytest.approx(d1, rel=0.02)
    # the generic text reader makes the same (sputter_time, fragment) leaf
    generic = next(iter(specfit.read(path, format="text").children.values())).to_dataset()
    assert generic["intensity"].sizes == {"sputter_time": t.size, "fragment": 3}
    xr.testing.assert_equal(generic["intensity"].reset_coords(drop=True), leaf["intensity"].reset_coords(drop=True))


def test_erf_method_is_tighter_on_a_hard_case():
    # a thin coating (15 nm) with a sharp top (3 nm) and a diffuse bottom (8 nm), 5x fewer counts
    ds, _model, _t, (d1, d2, w1, w2) = coated_particle(21, scale=0.2, w1=3.0, w2=8.0)
    res = analyze_profile(ds, rate=RATE, interface_method="erf")
    nbo = res.fragment("NbO2-").interfaces
    assert [i.method for i in nbo] == ["erf", "erf"]
    assert nbo[0].depth_nm == pytest.approx(d1, rel=0.01) and nbo[1].depth_nm == pytest.approx(d2, rel=0.01)
    assert nbo[0].width_nm == pytest.approx(w1, rel=0.05) and nbo[1].width_nm == pytest.approx(w2, rel=0.05)
    with pytest.raises(SpecfitError, match="interface method"):
        analyze_profile(ds, interface_method="spline")


def _crossings(t, model, l1, l2):
    """50 %, 16 % and 84 % crossings of a noise-free monotone model, by interpolation."""
    out = []
    for f in (0.5, 0.16, 0.84):
        level = l1 + f * (l2 - l1)
        k = int(np.argmax(model <= level)) if l2 < l1 else int(np.argmax(model >= level))
        out.append(t[k - 1] + (level - model[k - 1]) / (model[k] - model[k - 1]) * (t[k] - t[k - 1]))
    return out


def test_model_free_crossings_of_an_asymmetric_interface():
    # a fall with an exponential mixing tail (decay length 6 nm) blurred by 2 nm depth resolution:
    # not an error function, so the truth is the 50/16/84 % crossings of the noise-free model
    t = np.arange(0.0, 240.0, 0.5)
    d = t * RATE
    fine = np.arange(-40.0, 160.0, 0.01)
    g = np.where(fine < 40.0, 1.0, np.exp(-(fine - 40.0) / 6.0))
    kernel = np.exp(-0.5 * (np.arange(-1000, 1001) * 0.01 / 2.0) ** 2)
    blurred = np.convolve(g, kernel / kernel.sum(), mode="same")
    shape = np.interp(d, fine, blurred)
    l1, l2 = 6000.0, 40.0
    model = l2 + (l1 - l2) * shape
    counts = np.random.default_rng(5).poisson(model).astype(float)
    ds = make_leaf(counts[None, :], "sputter_time", t, extra_dims={"fragment": ["S-"]}).transpose(
        "sputter_time", "fragment"
    )
    t50, t16, t84 = _crossings(t, model, l1, l2)
    res = analyze_profile(ds, rate=RATE)
    (iface,) = res.fragment("S-").interfaces
    assert iface.time_s == pytest.approx(t50, rel=0.02)
    assert iface.width_s == pytest.approx(abs(t16 - t84), rel=0.10)
    # an error-function fit reads such a tail as a much wider interface (here +29 %): why the
    # model-free reading is the default
    erf_iface = analyze_profile(ds, rate=RATE, interface_method="erf").fragment("S-").interfaces[0]
    assert erf_iface.width_s > 1.2 * abs(t16 - t84)
