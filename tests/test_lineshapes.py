"""Line shapes: integrals equal ``area``, CasaXPS definitions, widths, parsing."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from specfit.errors import ModelError
from specfit.lineshapes import LineShape, format_shape, gl, parse_shape, sgl, true_fwhm

SHAPES = [
    "gaussian",
    "lorentzian",
    "voigt(0.7)",
    "pseudo_voigt(0.3)",
    "GL(0)",
    "GL(30)",
    "GL(70)",
    "GL(100)",
    "SGL(30)",
    "SGL(90)",
    "LA(1.3,2.5,0)",
    "LA(0.8,3,0)",
]


@pytest.mark.parametrize("text", SHAPES)
def test_integral_equals_area(text):
    shape = parse_shape(text)
    area, center, fwhm = 123.4, 2.0, 1.3

    def f(x):
        return float(shape(np.array([x]), center, fwhm, area)[0])

    # split at the centre; infinite tails integrated by quad's transformation
    total = sum(
        integrate.quad(f, a, b, limit=400, epsabs=1e-10, epsrel=1e-10)[0]
        for a, b in [(-np.inf, center - 30), (center - 30, center), (center, center + 30), (center + 30, np.inf)]
    )
    assert total == pytest.approx(area, rel=1e-7)


def test_la_gaussian_convolution_keeps_the_area():
    # the convolution with the Gaussian must not change the integral over a window wide enough for
    # the Gaussian (compare with the unconvolved shape, whose integral is checked above)
    x = np.linspace(-200, 200, 400001)
    sharp = parse_shape("LA(1.1,3,0)")(x, 0.0, 1.0, 1.0)
    smooth = parse_shape("LA(1.1,3,0.6)")(x, 0.0, 1.0, 1.0)
    inner = np.abs(x) < 190
    assert np.trapezoid(smooth[inner], x[inner]) == pytest.approx(np.trapezoid(sharp[inner], x[inner]), rel=1e-5)
    assert smooth.max() < sharp.max()


def test_gl_and_sgl_follow_casaxps_definitions():
    x = np.linspace(-5, 5, 101)
    F, m = 1.7, 0.3
    u = x / F
    gl_shape = np.exp(-4 * math.log(2) * (1 - m) * u**2) / (1 + 4 * m * u**2)
    sgl_shape = (1 - m) * np.exp(-4 * math.log(2) * u**2) + m / (1 + 4 * u**2)
    y = gl(x, 0.0, F, 1.0, 30)
    np.testing.assert_allclose(y / y[50], gl_shape, rtol=1e-12)
    y = sgl(x, 0.0, F, 1.0, 30)
    np.testing.assert_allclose(y / y[50], sgl_shape, rtol=1e-12)


def test_gl_width_parameter_is_not_its_fwhm():
    assert true_fwhm("GL(0)", 1.0) == pytest.approx(1.0, rel=1e-4)
    assert true_fwhm("GL(100)", 1.0) == pytest.approx(1.0, rel=1e-4)
    tf = true_fwhm("GL(30)", 1.0)
    # half maximum of the product: exp(-ln2 (1-m) t²)/(1 + m t²) = 1/2 with t = 2u, solved independently
    from scipy.optimize import brentq

    m = 0.3
    t = brentq(lambda t: math.exp(-math.log(2) * (1 - m) * t * t) / (1 + m * t * t) - 0.5, 0.1, 2)
    assert tf == pytest.approx(t, rel=1e-4)
    assert tf < 1.0
    assert parse_shape("SGL(30)").true_fwhm(2.0) == 2.0


def test_voigt_true_fwhm_matches_olivero_approximation():
    fl, fg = 1.0, 0.7
    tf = true_fwhm("voigt(0.7)", fl)
    # Olivero & Longbothum, JQSRT 17, 233 (1977): accurate to 0.02 %
    approx = 0.5346 * fl + math.sqrt(0.2166 * fl**2 + fg**2)
    assert tf == pytest.approx(approx, rel=5e-4)


def test_doniach_sunjic_reduces_to_lorentzian():
    x = np.linspace(-4, 4, 81)
    ds = parse_shape("DS(0)")(x, 0.0, 1.2, 3.0)
    lor = parse_shape("lorentzian")(x, 0.0, 1.2, 3.0)
    np.testing.assert_allclose(ds, lor, rtol=1e-12)
    asym = parse_shape("DS(0.2)")(x, 0.0, 1.2, 3.0)
    assert asym[x > 2].sum() > asym[x < -2].sum()  # tail towards high x


def test_parse_and_format_round_trip():
    for text in ("GL(30)", "SGL(45)", "LA(1.2,2.5,0.6)", "gaussian", "DS(0.1)", "voigt(0.5)"):
        shape = parse_shape(text)
        assert isinstance(shape, LineShape)
        assert parse_shape(format_shape(shape)) == shape
    assert parse_shape("LA(1.5,0.4)").params == {"alpha": 1.5, "beta": 1.5, "gaussian_fwhm": 0.4}


@pytest.mark.parametrize("bad", ["GX(30)", "GL(abc)", "GL(130)", "GL(1,2)", "(30)"])
def test_bad_shapes_raise(bad):
    with pytest.raises(ModelError):
        parse_shape(bad)


def test_la_needs_finite_area():
    with pytest.raises(ModelError):
        parse_shape("LA(0.4,2,0)")(np.linspace(-1, 1, 5), 0.0, 1.0, 1.0)


def test_shapes_broadcast_over_stacks():
    x = np.linspace(-3, 3, 61)
    centers = np.array([[-0.5], [0.0], [0.7]])
    for text in ("GL(30)", "LA(1.2,2,0.5)", "voigt(0.4)"):
        shape = parse_shape(text)
        stacked = shape(x, centers, np.full((3, 1), 1.1), np.full((3, 1), 2.0))
        assert stacked.shape == (3, 61)
        for i in range(3):
            np.testing.assert_allclose(stacked[i], shape(x, float(centers[i, 0]), 1.1, 2.0), rtol=1e-12)
