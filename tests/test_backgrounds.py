"""Shirley and Tougaard backgrounds against known answers and independent implementations."""

from __future__ import annotations

import numpy as np
import pytest

from specfit.backgrounds import shirley, tougaard
from specfit.errors import ModelError
from specfit.lineshapes import gl


def _peaks(x):
    return gl(x, 160.9, 1.1, 9000.0, 30) + gl(x, 162.1, 1.1, 4500.0, 30) + gl(x, 165.5, 1.6, 3000.0, 30)


def _cum_from_low_be(x_increasing, f):
    """∫ f from the low-binding-energy end, trapezoid rule, written out here (independent of specfit)."""
    out = np.zeros_like(f)
    for i in range(1, f.size):
        out[i] = out[i - 1] + 0.5 * (f[i] + f[i - 1]) * (x_increasing[i] - x_increasing[i - 1])
    return out


@pytest.mark.parametrize("descending", [False, True])
def test_shirley_recovers_synthetic_background(descending):
    x = np.linspace(150.0, 175.0, 1001)
    p = _peaks(x)
    k, const = 0.037, 311.0
    bg_true = const + k * _cum_from_low_be(x, p)
    y = p + bg_true
    if descending:
        x, y, bg_true = x[::-1], y[::-1], bg_true[::-1]
    bg = shirley(x, y, loss_side="high", average_points=1)
    np.testing.assert_allclose(bg, bg_true, rtol=0, atol=1e-9 * y.max())


def _direct_shirley(x, y, ends, n_iter=200):
    """Textbook Proctor-Sherwood iteration with explicit loops (x increasing = binding energy)."""
    lo, hi = ends
    bg = np.full_like(y, lo)
    for _ in range(n_iter):
        net = y - bg
        cum = np.zeros_like(y)
        for i in range(1, y.size):
            cum[i] = cum[i - 1] + 0.5 * (net[i] + net[i - 1]) * (x[i] - x[i - 1])
        bg = lo + (hi - lo) * cum / cum[-1]
    return bg


def test_shirley_agrees_with_direct_implementation_on_noisy_data():
    rng = np.random.default_rng(7)
    x = np.linspace(150.0, 175.0, 251)
    y = rng.poisson(_peaks(x) + 400 + 0.02 * _cum_from_low_be(x, _peaks(x))).astype(float)
    ours = shirley(x, y, average_points=5)
    ref = _direct_shirley(x, y, (y[:5].mean(), y[-5:].mean()))
    np.testing.assert_allclose(ours, ref, rtol=1e-9)
    # a stack is treated spectrum by spectrum
    stack = np.stack([y, 2 * y])
    np.testing.assert_allclose(shirley(x, stack, average_points=5)[1], 2 * ours, rtol=1e-9)


def test_shirley_on_kinetic_energy_axis_rises_to_low_ke():
    be = np.linspace(150.0, 175.0, 501)
    y = _peaks(be) + 100 + 0.05 * _cum_from_low_be(be, _peaks(be))
    ke = 1486.6 - be
    bg_ke = shirley(ke, y, loss_side="low", average_points=1)
    np.testing.assert_allclose(bg_ke, shirley(be, y, loss_side="high", average_points=1), rtol=1e-12)


def test_tougaard_u2_matches_published_formula():
    """Tougaard's universal cross-section (Surf. Interface Anal. 11, 453 (1988); Solid State Commun. 61,
    547 (1987)): B(E) = ∫_E^∞ K(E' − E) j(E') dE', K(T) = B T/(C + T²)², B = 2866 eV², C = 1643 eV².
    Evaluated here by a direct double loop on a kinetic-energy grid."""
    ke = np.linspace(1300.0, 1340.0, 401)  # increasing kinetic energy
    be = 1486.6 - ke
    j = _peaks(be) + 50.0
    dx = ke[1] - ke[0]
    B, C = 2866.0, 1643.0
    direct = np.empty_like(j)
    for i in range(ke.size):
        total = 0.0
        for k in range(i + 1, ke.size):
            T = ke[k] - ke[i]
            total += B * T / (C + T * T) ** 2 * (j[k] - j[-1]) * dx
        direct[i] = j[-1] + total
    ours = tougaard(ke, j, B=B, C=C, form="U2", loss_side="low", average_points=1)
    np.testing.assert_allclose(ours, direct, rtol=1e-12)
    # the same spectrum on a binding-energy axis gives the same background
    np.testing.assert_allclose(tougaard(be, j, B=B, C=C, form="U2", average_points=1), direct, rtol=1e-12)


def test_tougaard_free_b_meets_the_loss_end():
    x = np.linspace(150.0, 175.0, 501)
    y = _peaks(x) + 200 + 0.05 * _cum_from_low_be(x, _peaks(x))
    bg = tougaard(x, y, C=1643.0, form="U2", average_points=3)
    assert bg[-1] == pytest.approx(y[-3:].mean(), rel=1e-12)
    assert bg[0] == pytest.approx(y[:3].mean(), rel=1e-12)


def test_tougaard_needs_uniform_axis():
    x = np.array([1.0, 2.0, 4.0, 5.0])
    with pytest.raises(ModelError):
        tougaard(x, np.ones(4))
