"""CasaXPS interoperability against CasaXPS's own evaluation of a stored fit (corpus: FeO Fe 2p).

``xps/casaxps_analysis/FeO_analyzed.vms`` holds a CasaXPS 2.3.25 fit (a ``U 3 Tougaard`` region, two
``SGL(30)`` and two ``LF(0.54,10,80,100,6)`` components); ``FeO_analyzed_lineshapes_cols.txt`` is
CasaXPS's export of data, background, each component (drawn on top of the background) and envelope on
the kinetic-energy axis, in counts (= 2 × the file's CPS values; its right half repeats it in CPS).

What is compared, and the agreement found:

- Tougaard background (our :func:`specfit.backgrounds.tougaard` with the region's ``B C D T0`` and
  the 3-channel end averages): within 0.06 % of CasaXPS's background at every channel; refitting B
  so the background meets the low-KE end gives CasaXPS's stored B within 0.01 %.
- SGL(30) components: CasaXPS draws (and exports) a component as straight lines between samples of
  its line shape taken every FWHM/40 from the centre — the second differences of its exported curves
  are zero except there. :func:`specfit.xps.casaxps.casaxps_curve` does the same with our
  :func:`specfit.lineshapes.sgl` and the stored position, FWHM and area: after one scale factor it
  reproduces CasaXPS's curves to 3e-6 of the peak (the export's 7 significant digits), and that factor
  is 0.99908 for both components (FWHM 8.0 and 7.83 eV): the area under CasaXPS's drawn curve is
  0.092 % below its stated area, within the 0.1 % target. Compared with the analytic SGL sampled at
  the channels (no FWHM/40 interpolation) the curves differ by up to 3.7e-4 of the peak after scaling,
  and the scale is 0.99896: the interpolation lowers the peak's top, raises its flanks.
  Where the remaining 0.092 % comes from is not known (a truncated normalisation would make the
  curves higher, not lower); it is asserted as found.
- LF components are not reproduced (CasaXPS's Gaussian width code and damping are undocumented);
  the parser refuses or skips them explicitly.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import corpus_path

from specfit.backgrounds import tougaard
from specfit.errors import ModelError
from specfit.lineshapes import sgl
from specfit.xps.casaxps import casa_blocks_from_text, casaxps_curve, model_from_casa, parse_casa_lines

pytestmark = pytest.mark.corpus


@pytest.fixture(scope="module")
def casa():
    vms = corpus_path("xps", "casaxps_analysis", "FeO_analyzed.vms").read_text(encoding="latin-1")
    cols = corpus_path("xps", "casaxps_analysis", "FeO_analyzed_lineshapes_cols.txt")
    rows = []
    for line in cols.read_text(encoding="latin-1").splitlines():
        parts = line.split("\t")
        try:
            rows.append([float(p) for p in parts[:8]])
        except ValueError:
            continue  # header lines
    a = np.array(rows)
    blocks = casa_blocks_from_text(vms)
    return {"blocks": blocks, "ke": a[:, 0], "counts": a[:, 1], "comps": a[:, 2:6], "bg": a[:, 6], "env": a[:, 7]}


def test_parse_region_and_components(casa):
    assert len(casa["blocks"]) == 1
    regions, comps = parse_casa_lines(casa["blocks"][0])
    (reg,) = regions
    assert (reg.name, reg.background, reg.start, reg.end) == ("Fe 2p", "U 3 Tougaard", 737.52081, 786.7632)
    assert reg.average_width == 2 and reg.cross_section == [335.44588, 551.0, 436.0, 3.0]
    assert [c.shape for c in comps] == ["LF(0.54,10,80,100,6)", "SGL(30)", "LF(0.54,10,80,100,6)", "SGL(30)"]
    assert comps[1].area.value == 35837.064 and comps[1].fwhm.value == 8.0 and comps[1].position.value == 770.61
    assert (comps[3].position.min, comps[3].position.max) == (756.11, 759.61)
    assert comps[0].area.link == -1 and comps[0].rsf == 16.42


def test_envelope_is_the_sum_of_components(casa):
    # sanity of our reading of the export: envelope = background + Σ components
    parts = casa["comps"] - casa["bg"][:, None]
    np.testing.assert_allclose(casa["bg"] + parts.sum(axis=1), casa["env"], atol=0.05)


def _region(casa):
    ke = casa["ke"]
    i0 = int(np.nonzero(ke >= 737.52081)[0][0])
    i1 = int(np.nonzero(ke <= 786.7632)[0][-1])
    return i0, i1


def test_tougaard_u3_background_matches_casaxps(casa):
    ke, y, bg = casa["ke"], casa["counts"], casa["bg"]
    i0, i1 = _region(casa)
    # CasaXPS anchors at the mean of 3 channels centred on each region end (averaging width 2)
    ends = (y[i1 - 1 : i1 + 2].mean(), y[i0 - 1 : i0 + 2].mean())  # (no-loss = high KE, loss = low KE)
    ours = tougaard(
        ke[i0 : i1 + 1], y[i0 : i1 + 1], B=335.44588, C=551.0, D=436.0, form="U3", gap=3.0, loss_side="low", ends=ends
    )
    rel = np.abs(ours - bg[i0 : i1 + 1]) / bg[i0 : i1 + 1]
    assert rel.max() < 6e-4
    # outside the region CasaXPS draws the background on the data
    np.testing.assert_array_equal(bg[:i0], y[:i0])
    # B chosen to meet the loss end reproduces CasaXPS's stored B
    free = tougaard(
        ke[i0 : i1 + 1], y[i0 : i1 + 1], B=None, C=551.0, D=436.0, form="U3", gap=3.0, loss_side="low", ends=ends
    )
    fitted_b = (free[0] - ends[0]) / ((ours[0] - ends[0]) / 335.44588)
    assert fitted_b == pytest.approx(335.44588, rel=1e-4)


def test_tougaard_background_from_parsed_model(casa):
    with pytest.warns(UserWarning, match="LF"):
        model = model_from_casa(casa["blocks"][0], unsupported="skip")
    bgm = model.background
    assert (bgm.form, bgm.B, bgm.C, bgm.D, bgm.gap, bgm.average_points) == ("U3", 335.44588, 551.0, 436.0, 3.0, 3)


def _casa_component(casa, index):
    _, comps = parse_casa_lines(casa["blocks"][0])
    c = comps[index]
    casa_curve = (casa["comps"][:, index] - casa["bg"]) / 2.0  # counts -> the file's CPS units
    return c, casa_curve


def _scale_and_misfit(casa_curve, ours):
    """Least-squares scale of ``ours`` onto CasaXPS's curve, and the misfit after it (fraction of the peak)."""
    scale = float(np.sum(casa_curve * ours) / np.sum(ours * ours))
    return scale, float(np.abs(casa_curve - scale * ours).max() / casa_curve.max())


def test_casaxps_draws_components_piecewise_linear_on_fwhm_over_40(casa):
    """The second differences of CasaXPS's exported SGL curve vanish except at centre + j * FWHM / 40."""
    c, casa_curve = _casa_component(casa, 1)  # FWHM 8 eV: knots every 0.2 eV = 4 channels of 0.05 eV
    counts = casa_curve * 2.0
    d2 = np.abs(np.diff(counts, 2))  # d2[i] belongs to channel i + 1
    offset = np.rint((casa["ke"][1:-1] - c.position.value) / (c.fwhm.value / 40.0))
    on_knot = np.isclose(casa["ke"][1:-1], c.position.value + offset * c.fwhm.value / 40.0, atol=1e-6)
    assert on_knot.sum() > 200
    # between knots: zero up to the export's rounding (0.01 count steps in the component and the
    # background columns: a second difference of their difference is at most 4 * 2 * 0.005)
    assert d2[~on_knot].max() <= 0.04 + 1e-9
    # at knots on the peak's top (inside its inflection points, ~3.4 eV out): its curvature over 4 channels
    near = on_knot & (np.abs(casa["ke"][1:-1] - c.position.value) < 2.5)
    assert d2[near].min() > 1.0


@pytest.mark.parametrize("index", [1, 3])
def test_sgl_components_match_casaxps(casa, index):
    c, casa_curve = _casa_component(casa, index)
    args = (casa["ke"], sgl, c.position.value, c.fwhm.value, c.area.value, 30.0)
    scale, misfit = _scale_and_misfit(casa_curve, casaxps_curve(*args))
    # shape: equal to the export's rounding after one scale factor
    assert misfit < 5e-6
    # area: CasaXPS's curve holds 0.092 % less area than its stated area (see the module docstring);
    # within the 0.1 % target, and the same for both components
    assert scale == pytest.approx(0.99908, abs=2e-5)
    assert abs(1.0 - scale) < 1e-3
    # the analytic shape at the channels (no interpolation) misses by more: 3.7e-4 of the peak, 0.104 %
    scale_a, misfit_a = _scale_and_misfit(casa_curve, sgl(casa["ke"], c.position.value, c.fwhm.value, c.area.value))
    assert 2e-4 < misfit_a < 5e-4
    assert scale_a == pytest.approx(0.99896, abs=5e-5)


def test_casaxps_curve_known_answer():
    """Samples of the shape at centre + j·FWHM/40, straight lines between them, area kept."""
    x = np.linspace(690.0, 740.0, 5001)[::-1]  # descending, as a binding-energy axis often is
    center, fwhm, area = 715.03, 2.4, 1000.0
    drawn = casaxps_curve(x, sgl, center, fwhm, area, 30.0)
    exact = sgl(x, center, fwhm, area, 30.0)
    knots = np.isclose(np.mod((x - center) / (fwhm / 40.0) + 0.5, 1.0) - 0.5, 0.0, atol=1e-9)
    assert knots.sum() > 10
    np.testing.assert_allclose(drawn[knots], exact[knots], rtol=1e-12)
    assert np.all(drawn[~knots] != exact[~knots])
    # linear interpolation of a concave top lies below it, of convex flanks above
    top = np.abs(x - center) < 0.3 * fwhm
    assert np.all(drawn[top] <= exact[top] + 1e-12)
    assert abs(np.trapezoid(drawn[::-1], x[::-1]) - np.trapezoid(exact[::-1], x[::-1])) < 1e-6 * area
    with pytest.raises(ModelError, match="FWHM"):
        casaxps_curve(x, sgl, center, 0.0, area)


def test_lf_components_are_refused_or_skipped(casa):
    with pytest.raises(ModelError, match="LF"):
        model_from_casa(casa["blocks"][0])
    with pytest.warns(UserWarning):
        model = model_from_casa(casa["blocks"][0], unsupported="skip", excitation_energy=1486.61)
    assert [c.label for c in model.components] == ["Fe 2p #2", "Fe 2p #4"]
    pos = model.make_params("binding_energy")["Fe_2p__2_position"]
    assert pos.value == pytest.approx(1486.61 - 770.61) and (pos.min, pos.max) == pytest.approx((714.0, 716.0))
    assert model.range == pytest.approx((1486.61 - 786.7632, 1486.61 - 737.52081))


def test_casa_model_fits_the_data_with_lf_parts_fixed(casa):
    """Fit the two SGL components (starting from CasaXPS's values) to the data minus CasaXPS's own LF
    curves and background: the refitted areas stay within 0.2 % of CasaXPS's (0.1 % normalisation +
    the fit's own noise)."""
    import xarray as xr

    from specfit import fit

    with pytest.warns(UserWarning):
        model = model_from_casa(casa["blocks"][0], unsupported="skip")
    model.background = None
    lf = (casa["comps"][:, 0] + casa["comps"][:, 2] - 2 * casa["bg"]) / 2.0
    y = casa["counts"] / 2.0 - casa["bg"] / 2.0 - lf
    da = xr.DataArray(y, dims="kinetic_energy", coords={"kinetic_energy": casa["ke"]}, attrs={"units": "counts/s"})
    i0, i1 = _region(casa)
    # CasaXPS's own fit has this component's FWHM at its upper bound (8) and its position at its
    # lower bound (770.61): the refit says so too
    from specfit import FitWarning

    with pytest.warns(FitWarning, match="bound"):
        res = fit(da.isel(kinetic_energy=slice(i0, i1 + 1)), model, weights="none")
    assert set(res.at_bound) == {"Fe_2p__2_fwhm", "Fe_2p__2_position"}
    areas = res.table().set_index("name")["area"]
    assert areas["Fe_2p__2"] == pytest.approx(35837.064, rel=2e-3)
    assert areas["Fe_2p__4"] == pytest.approx(17705.155, rel=5e-3)


def test_bad_lines_raise():
    with pytest.raises(ModelError):
        parse_casa_lines(["CASA comp (*x*) (*GL(30)*) Area 1 2"])
    with pytest.raises(ModelError):
        parse_casa_lines(["CASA region (*x*)"])
    with pytest.raises(ModelError, match="no CASA"):
        model_from_casa(["nothing here"])
