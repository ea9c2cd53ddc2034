"""The compiled GL kernels (specfit/_ckernels.c via specfit.model._fast) against specfit's numpy code:
the same model values and Jacobians, to rounding, for every case the kernels take on."""

from __future__ import annotations

import numpy as np
import pytest

from specfit.model import Model, _fast
from specfit.model.core import CompiledModel

pytestmark = pytest.mark.skipif(
    _fast.library() is None, reason="compiled kernels not built here (no C compiler or not x86-64 AVX2/FMA)"
)

MODELS = {
    # doublets: ties with coefficient 1 (shared width, position offset) and 0.5 (area ratio)
    "gl30 doublets": """
[[components]]
name = "A"
level = "S 2p"
shape = "GL(30)"
position = 161.6
fwhm = 1.0
[[components]]
name = "B"
level = "S 2p"
shape = "GL(30)"
position = 163.0
fwhm = "A"
""",
    # a Gaussian and a Lorentzian (whole-axis window) singlet with their own widths
    "gaussian + lorentzian": """
[[components]]
name = "G"
shape = "gaussian"
position = 160.0
fwhm = 1.2
[[components]]
name = "L"
shape = "lorentzian"
position = 164.0
fwhm = 0.8
""",
}


def _compiled(text: str) -> CompiledModel:
    model = Model.from_toml(text)
    return CompiledModel(model, model.make_params("binding_energy"), "binding_energy")


def _rows(compiled: CompiledModel, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = []
    for name in compiled.free:
        if name.endswith("_position"):
            base = {"A": 161.6, "B": 163.0, "G": 160.0, "L": 164.0}[name.split("_")[0]]
            rows.append(base + rng.normal(0, 0.3, n))
        elif name.endswith("_fwhm"):
            rows.append(rng.uniform(0.6, 1.8, n))
        else:
            rows.append(rng.uniform(100.0, 5000.0, n))
    return np.column_stack(rows)


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("descending", [True, False])
def test_kernels_equal_numpy(name, descending):
    compiled = _compiled(MODELS[name])
    assert compiled._compiled_lines() is not None
    x = np.linspace(172.0, 154.0, 601) if descending else np.linspace(154.0, 172.0, 601)
    P = _rows(compiled, 37, seed=len(name) + descending)
    W = -np.random.default_rng(5).uniform(0.01, 0.1, (37, x.size))
    fast = (compiled.total(x, P), compiled.jacobian(x, P, scale=W), compiled.jacobian(x, P, scale=W, dtype=np.float32))
    compiled._fast = None  # the numpy code
    slow = (compiled.total(x, P), compiled.jacobian(x, P, scale=W), compiled.jacobian(x, P, scale=W, dtype=np.float32))
    np.testing.assert_allclose(fast[0], slow[0], rtol=0, atol=1e-14 * np.abs(slow[0]).max())
    np.testing.assert_allclose(fast[1], slow[1], rtol=0, atol=1e-14 * np.abs(slow[1]).max())
    assert fast[2].dtype == np.float32 and fast[2].shape == slow[1].shape
    np.testing.assert_allclose(fast[2], slow[2], rtol=0, atol=1e-6 * np.abs(slow[1]).max())


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_normal_equations_without_the_jacobian(name, dtype):
    """CompiledModel.normal_equations (the Jacobian reduced per spectrum, never stored) equals J^T J and
    J^T r of CompiledModel.jacobian, in both precisions, with the residual's sign flip."""
    compiled = _compiled(MODELS[name])
    x = np.linspace(172.0, 154.0, 601)
    rng = np.random.default_rng(11)
    P = _rows(compiled, 19, seed=3)
    w = rng.uniform(0.01, 0.1, (19, x.size))
    r = rng.normal(0.0, 1.0, (19, x.size))
    JtJ, Jtr = compiled.normal_equations(x, P, r, scale=w, dtype=dtype, negate=True)
    J = compiled.jacobian(x, P, scale=-w).astype(np.float64)  # (n, m, k), double precision
    ref_A, ref_g = np.einsum("nmk,nml->nkl", J, J), np.einsum("nmk,nm->nk", J, r)
    tol = 1e-13 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(JtJ, ref_A, rtol=0, atol=tol * np.abs(ref_A).max())
    np.testing.assert_allclose(Jtr, ref_g, rtol=0, atol=tol * np.abs(ref_g).max())
    compiled._fast = None  # without the kernels there is nothing to offer: the solver uses jacobian()
    assert compiled.normal_equations(x, P, r) is None


def test_kernels_are_not_used_for_other_shapes():
    compiled = _compiled(MODELS["gl30 doublets"].replace("GL(30)", "SGL(30)"))
    assert compiled._compiled_lines() is None


@pytest.mark.parametrize("uniform", [True, False])
def test_shirley_kernel_equals_numpy(monkeypatch, uniform):
    from specfit.backgrounds import shirley

    rng = np.random.default_rng(3)
    x = np.linspace(172.0, 154.0, 601)
    if not uniform:
        x = np.sort(np.concatenate([x, rng.uniform(154.0, 172.0, 40)]))[::-1]
    peaks = 5000 * np.exp(-((x[None, :] - rng.uniform(158, 166, (60, 1))) ** 2))
    y = rng.poisson(peaks + 300 + 20 * (x[None, :] < 160)).astype(float)
    fast = shirley(x, y, average_points=5)
    monkeypatch.setattr(_fast, "_lib", None)  # library() now answers None: the numpy iteration
    slow = shirley(x, y, average_points=5)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12 * np.abs(slow).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normal_equations_kernel_equals_numpy(dtype):
    """J^T J and J^T r of the solver (batch._normal) in C against double-precision numpy products."""
    from specfit.fitting.batch import _normal

    rng = np.random.default_rng(3)
    for k in (1, 4, 7, 10):  # column blocks of four and the remainder
        Jt = rng.normal(size=(5, k, 301)).astype(dtype)
        Jt[:, -1] *= 1e3  # columns of different scales, as in a real Jacobian
        r = rng.normal(size=(5, 301))
        A, g = _normal(Jt, r)
        J64 = Jt.astype(np.float64)
        A_ref, g_ref = J64 @ J64.transpose(0, 2, 1), np.einsum("nkm,nm->nk", J64, r)
        tol = 1e-6 if dtype == np.float32 else 1e-13
        assert A.dtype == g.dtype == np.float64
        np.testing.assert_allclose(A, A_ref, rtol=tol, atol=tol * np.abs(A_ref).max())
        np.testing.assert_allclose(A, A.transpose(0, 2, 1), rtol=0, atol=0)  # exactly symmetric
        # J^T r is accumulated in double precision in both variants
        np.testing.assert_allclose(g, g_ref, rtol=1e-12, atol=1e-12 * np.abs(g_ref).max())


@pytest.mark.parametrize("k", [1, 2, 7, 11, 16])
def test_symmetric_eigen_kernel_equals_numpy(k):
    """The solver's batched eigen-decomposition (Jacobi, eight matrices per SIMD pass) against LAPACK."""
    from specfit.fitting.batch import _eigh

    rng = np.random.default_rng(k)
    n = 21  # not a multiple of the eight lanes
    G = rng.normal(size=(n, k, k))
    M = G @ G.transpose(0, 2, 1)
    M[0] = np.eye(k)  # fully degenerate
    M[1] = np.diag(np.arange(k, 0, -1.0))  # already diagonal, descending
    if k > 2:
        M[2, 1, :] = M[2, :, 1] = 0.0  # a decoupled parameter (zero Jacobian column) ...
        M[2, 1, 1] = 1.0  # ... with the unit diagonal the solver gives it
        M[3] = M[3] * np.outer(10.0 ** np.arange(k), 10.0 ** np.arange(k)) * 10.0**-k  # badly scaled
        M[4] = np.diag(np.arange(1.0, k + 1))  # nearly diagonal: an off-diagonal element of 1e-200
        M[4, 0, 1] = M[4, 1, 0] = 1e-200
    w, V = _eigh(M)
    w_ref, _ = np.linalg.eigh(M)
    scale = np.abs(w_ref).max(axis=1, keepdims=True)
    np.testing.assert_allclose(w, w_ref, rtol=0, atol=1e-13 * scale.max())
    assert np.all(np.diff(w, axis=1) >= 0)  # ascending, as numpy's
    np.testing.assert_allclose(V.transpose(0, 2, 1) @ V, np.broadcast_to(np.eye(k), M.shape), atol=1e-13)
    recon = V @ (w[:, :, None] * V.transpose(0, 2, 1))
    np.testing.assert_allclose(recon, M, atol=1e-13 * scale.max())
    if k > 2:  # the decoupled parameter's eigenvector is exactly e_1
        j = int(np.argmax(np.abs(V[2, 1, :])))
        assert np.abs(V[2, 1, j]) == 1.0 and np.count_nonzero(V[2, :, j]) == 1
    # the kernel was used (not numpy's fallback): its own entry point gives the same arrays
    w_c, V_c = _fast.eigh(_fast.library(), M)
    np.testing.assert_array_equal(w_c, w)
    np.testing.assert_array_equal(V_c, V)


def test_symmetric_eigen_falls_back_to_numpy():
    from specfit.fitting.batch import _eigh

    rng = np.random.default_rng(0)
    G = rng.normal(size=(3, 17, 17))
    M = G @ G.transpose(0, 2, 1)  # larger than the kernel takes
    w, V = _eigh(M)
    np.testing.assert_allclose(w, np.linalg.eigh(M)[0])
    np.testing.assert_allclose(V @ (w[:, :, None] * V.transpose(0, 2, 1)), M, atol=1e-10)
