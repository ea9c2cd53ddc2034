"""XRD preprocessing on synthetic patterns with known truth (and a smoke run on real files)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from specfit.conventions import make_leaf, validate
from specfit.errors import SpecfitError
from specfit.xrd import correct_zero_shift, mask_regions, processing_history, strip_kalpha2, subtract_background

KA1, KA2 = 1.540598, 1.544426
X = np.arange(10.0, 90.0, 0.01)
PEAKS = [(20.0, 1000.0), (35.5, 3000.0), (47.3, 500.0), (62.1, 2000.0), (79.9, 800.0)]


def _pattern(wavelength_ratio: float = 1.0, width: float = 0.05, x: np.ndarray = X) -> np.ndarray:
    """Gaussian peaks at the Bragg angles of PEAKS for λ = λ1 · wavelength_ratio."""
    y = np.zeros_like(x)
    for position, height in PEAKS:
        theta = np.radians(position / 2)
        shifted = np.degrees(2 * np.arcsin(np.sin(theta) * wavelength_ratio))
        y += height * np.exp(-0.5 * ((x - shifted) / width) ** 2)
    return y


def _leaf(y: np.ndarray, x: np.ndarray = X, **attrs) -> xr.Dataset:
    base = {"technique": "xrd", "source_format": "synthetic", "wavelength_angstrom": KA1,
            "wavelength_kalpha2_angstrom": KA2, "kalpha2_ratio": 0.5}  # fmt: skip
    base.update(attrs)
    return make_leaf(y, "two_theta", x, attrs=base)


def test_kalpha2_stripping_recovers_kalpha1_pattern() -> None:
    kalpha1 = _pattern()
    doublet = kalpha1 + 0.5 * _pattern(KA2 / KA1)
    stripped = strip_kalpha2(_leaf(doublet))
    residual = stripped.intensity.values - kalpha1
    # tolerance: 1 % of the strongest Kα1 peak anywhere; measured 0.22 % (largest at the sharpest doublet)
    assert np.abs(residual).max() < 0.01 * kalpha1.max()
    assert np.sqrt(np.mean(residual**2)) < 1.0  # counts, against peaks of 500–3000
    # the doublet's Kα2 shoulder is gone: integrated intensity back to the Kα1 value within 0.5 %
    assert stripped.intensity.values.sum() == pytest.approx(kalpha1.sum(), rel=5e-3)
    assert stripped.attrs["kalpha2_ratio"] == 0.0 and stripped.attrs["kalpha2_stripped"] == 1
    assert processing_history(stripped)[-1]["method"] == "rachinger"
    validate(stripped)


def test_kalpha2_stripping_with_coarse_step_and_decreasing_axis() -> None:
    x = np.arange(10.0, 90.0, 0.04)[::-1]  # doublet separation below one step at low angle
    kalpha1 = _pattern(width=0.1, x=x)
    doublet = kalpha1 + 0.5 * _pattern(KA2 / KA1, width=0.1, x=x)
    stripped = strip_kalpha2(_leaf(doublet, x=x))
    assert np.abs(stripped.intensity.values - kalpha1).max() < 0.02 * kalpha1.max()
    np.testing.assert_array_equal(stripped.two_theta.values, x)  # order kept as measured


def test_kalpha2_ratio_zero_is_a_recorded_no_op_and_bad_settings_raise() -> None:
    y = _pattern() + 0.5 * _pattern(KA2 / KA1)
    same = strip_kalpha2(_leaf(y, kalpha2_ratio=0.0))
    np.testing.assert_array_equal(same.intensity.values, y)
    assert processing_history(same)[0]["ratio"] == 0.0
    with pytest.raises(SpecfitError):
        strip_kalpha2(_leaf(y), ratio=1.5)
    neutron = make_leaf(y, "two_theta", X, attrs={"technique": "xrd", "wavelength_angstrom": 1.494})
    with pytest.raises(SpecfitError, match="Kα2"):
        strip_kalpha2(neutron)


def test_snip_background_on_known_background() -> None:
    background = 200 + 300 * np.exp(-(((X - 25) / 20) ** 2)) + 0.5 * X  # amorphous hump on a slope
    peaks = _pattern()
    out = subtract_background(_leaf(peaks + background))
    error = out.background.values - background
    # measured: 0.07 counts worst case against a background of 200–560 counts
    assert np.abs(error).max() < 0.01 * background.min()
    assert out.intensity.values.sum() == pytest.approx(peaks.sum(), rel=0.01)
    step = processing_history(out)[-1]
    assert step["method"] == "snip" and step["max_half_window"] == 100 and step["filter_order"] == 4
    validate(out)


def test_other_pybaselines_method_and_unknown_method() -> None:
    background = 100 + 0.8 * X
    out = subtract_background(_leaf(_pattern() + background), method="modpoly", poly_order=1)
    far = np.all([np.abs(X - p) > 1.0 for p, _ in PEAKS], axis=0)
    assert np.abs(out.background.values - background)[far].max() < 5.0
    with pytest.raises(SpecfitError, match="no baseline method"):
        subtract_background(_leaf(_pattern()), method="nonsense")


def test_extra_dimensions_are_carried() -> None:
    backgrounds = np.stack([100 + 0.5 * X, 300 + 0.2 * X, 50 + 1.0 * X])
    stack = np.stack([(k + 1) * _pattern() for k in range(3)]) + backgrounds
    ds = make_leaf(stack, "two_theta", X, extra_dims={"scan": np.arange(3)},
                   attrs={"technique": "xrd", "source_format": "synthetic"})  # fmt: skip
    out = subtract_background(ds)
    assert out.intensity.dims == ("scan", "two_theta") and out.background.dims == ("scan", "two_theta")
    np.testing.assert_allclose(out.background.values, backgrounds, atol=1.0)
    stripped = strip_kalpha2(ds, ratio=0.5, kalpha1=KA1, kalpha2=KA2)
    assert stripped.intensity.shape == (3, X.size)
    single = strip_kalpha2(ds.isel(scan=1), ratio=0.5, kalpha1=KA1, kalpha2=KA2)
    np.testing.assert_allclose(stripped.intensity.values[1], single.intensity.values)


def test_mask_regions_nan_or_drop_and_background_bridges_nan() -> None:
    background = 150 + 0.3 * X
    ds = _leaf(_pattern() + background)
    masked = mask_regions(ds, [(11.5, 12.5), (21.0, 19.0)])
    inside = ((X >= 11.5) & (X <= 12.5)) | ((X >= 19.0) & (X <= 21.0))
    assert np.isnan(masked.intensity.values[inside]).all()
    assert np.isfinite(masked.intensity.values[~inside]).all()
    assert processing_history(masked)[0]["points"] == int(inside.sum())
    dropped = mask_regions(ds, [(11.5, 12.5)], drop=True)
    assert dropped.sizes["two_theta"] == X.size - int(((X >= 11.5) & (X <= 12.5)).sum())
    out = subtract_background(masked)
    assert np.isnan(out.intensity.values[inside]).all()
    assert np.abs(out.background.values - background)[~inside].max() < 1.0
    assert [s["step"] for s in processing_history(out)] == ["mask_regions", "subtract_background"]


def test_zero_shift() -> None:
    ds = _leaf(_pattern())
    out = correct_zero_shift(ds, 0.05)
    np.testing.assert_allclose(out.two_theta.values, X - 0.05)
    assert out.two_theta.attrs["units"] == "deg"
    twice = correct_zero_shift(out, -0.02)
    assert twice.attrs["zero_offset_deg"] == pytest.approx(0.03)
    assert ds.two_theta.values[0] == 10.0  # input untouched


def test_functions_work_on_trees_and_dataarrays() -> None:
    tree = xr.DataTree(children={"a": xr.DataTree(_leaf(_pattern() + 100)), "b": xr.DataTree(_leaf(_pattern() + 50))})
    out = subtract_background(tree)
    assert out["a"].intensity.values.min() == pytest.approx(0, abs=1.0)
    assert "processing" not in tree["a"].attrs
    da = _leaf(_pattern() + 100).intensity
    assert subtract_background(da).min() == pytest.approx(0, abs=1.0)
    with pytest.raises(SpecfitError):
        subtract_background(np.zeros(10))


@pytest.mark.corpus
def test_preprocessing_a_real_pattern() -> None:
    from conftest import corpus_path

    import specfit

    tree = specfit.read(corpus_path("xrd", "bruker_raw", "BT86.raw"))
    ds = tree["BT86"].to_dataset()
    out = strip_kalpha2(subtract_background(ds))
    validate(out)
    assert out.attrs["kalpha2_stripped"] == 1
    # background removal leaves the strongest reflection and about zero elsewhere
    raw = ds.intensity.values
    y = out.intensity.values
    assert np.nanmax(y) > 0.5 * (raw.max() - np.median(raw))
    assert abs(np.nanmedian(y)) < 0.05 * np.nanmax(y)
    assert np.all(out.background.values <= raw + 1e-9)  # SNIP never rises above the data
