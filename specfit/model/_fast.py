"""The compiled GL kernels (``specfit/_ckernels.c``) for :class:`~specfit.model.core.CompiledModel`.

The kernels are an optional extension built with the package (``setup.py``; AVX2/FMA code with
glibc's vectorised ``exp``). They are used when the extension was built, the CPU has AVX2 and FMA,
every line is a Gaussian, Lorentzian or GL(m) and the ties are affine; otherwise the numpy code runs
(same numbers, to rounding: tests compare the two). ``SPECFIT_NO_CKERNELS=1`` switches them off.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import warnings

import numpy as np

_lib = None
_tried = False

# arrays are passed as plain addresses (c_void_p): cheaper per call than typed pointers; every array
# handed over is C-contiguous with the dtype the C side expects
_ptr, _long, _dbl = ctypes.c_void_p, ctypes.c_long, ctypes.c_double


def _cpu_ok() -> bool:
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # pragma: no cover - numpy < 2
        from numpy.core._multiarray_umath import __cpu_features__ as features
    return bool(features.get("AVX2")) and bool(features.get("FMA3"))


def library():
    """The loaded kernel library, or None (not built, CPU without AVX2/FMA, or switched off)."""
    global _lib, _tried
    if _tried:
        return _lib
    _tried = True
    if os.environ.get("SPECFIT_NO_CKERNELS") or not _cpu_ok():
        return None
    spec = importlib.util.find_spec("specfit._ckernels")
    if spec is None or not spec.origin:
        return None
    try:
        lib = ctypes.CDLL(spec.origin)
    except OSError:  # pragma: no cover - a broken build
        return None
    try:
        _declare(lib)
    except AttributeError as exc:  # a library built from an older _ckernels.c (a stale in-place build)
        warnings.warn(
            f"specfit's compiled kernels ({spec.origin}) are out of date ({exc}); using the numpy code. "
            "Rebuild them with: pip install -e .",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    _lib = lib
    return _lib


def _declare(lib) -> None:
    """ctypes signatures of the kernels (every array is passed as a plain address)."""
    lib.gl_total.restype = None
    lib.gl_total.argtypes = [_long, _long, _long, _ptr, _ptr, _dbl, _ptr, _ptr, _ptr, _ptr, _ptr, _ptr, _ptr]
    for name in ("gl_jacobian_f64", "gl_jacobian_f32"):  # n, L, m, k, width; x, key; sign; 10 arrays, out
        func = getattr(lib, name)
        func.restype = ctypes.c_int
        func.argtypes = [_long] * 5 + [_ptr, _ptr, _dbl] + [_ptr] * 11
    lib.shirley_rows.restype = None
    lib.shirley_rows.argtypes = [_long, _long, _ptr, _ptr, _ptr, _ptr, ctypes.c_int, _dbl, _long, _ptr]
    for name in ("gl_normal_f64", "gl_normal_f32"):  # as the Jacobian, with r, A, g for out
        func = getattr(lib, name)
        func.restype = ctypes.c_int
        func.argtypes = [_long] * 5 + [_ptr, _ptr, _dbl] + [_ptr] * 13
    lib.sym_eig.restype = _long
    lib.sym_eig.argtypes = [_long, _long, _ptr, _ptr, _ptr]
    for name in ("normal_f32", "normal_f64"):  # n, k, m; Jt, r, A, g
        func = getattr(lib, name)
        func.restype = None
        func.argtypes = [_long] * 3 + [_ptr] * 4


def _p(a: np.ndarray) -> int:
    return a.ctypes.data


def total(lib, x, key, sign, C, F, A, M, NORM, HALF, out: np.ndarray | None = None) -> np.ndarray:
    """Sum of GL lines, (n, m), into ``out`` if given (C-contiguous float64)."""
    n, n_lines = C.shape
    out = np.empty((n, x.size)) if out is None else out
    lib.gl_total(n, n_lines, x.size, _p(x), _p(key), sign, _p(C), _p(F), _p(A), _p(M), _p(NORM), _p(HALF), _p(out))
    return out


def jacobian(lib, x, key, sign, C, F, A, M, NORM, HALF, plan, W, k: int, dtype) -> np.ndarray:
    """Jacobian w.r.t. the free parameters, (n, k, m) in ``dtype`` (float32 or float64)."""
    plan_j, plan_c, plan_n = plan
    n, n_lines = C.shape
    single = np.dtype(dtype) == np.float32
    out = np.zeros((n, k, x.size), dtype=np.float32 if single else np.float64)
    func = lib.gl_jacobian_f32 if single else lib.gl_jacobian_f64
    status = func(
        n, n_lines, x.size, k, plan_j.shape[2], _p(x), _p(key), sign, _p(C), _p(F), _p(A), _p(M), _p(NORM),
        _p(HALF), _p(plan_j), _p(plan_c), _p(plan_n), _p(W), _p(out),
    )  # fmt: skip
    if status != 0:
        raise MemoryError("the Jacobian kernel could not allocate its work space")
    return out


def jacobian_normal(
    lib, x, key, sign, C, F, A, M, NORM, HALF, plan, W, r, k: int, dtype
) -> tuple[np.ndarray, np.ndarray]:
    """J^T J (n, k, k) and J^T r (n, k), double precision, of the Jacobian :func:`jacobian` would give
    (in ``dtype``), without storing it; ``r`` (n, m) float64 C-contiguous."""
    plan_j, plan_c, plan_n = plan
    n, n_lines = C.shape
    JtJ = np.empty((n, k, k))
    Jtr = np.empty((n, k))
    func = lib.gl_normal_f32 if np.dtype(dtype) == np.float32 else lib.gl_normal_f64
    status = func(
        n, n_lines, x.size, k, plan_j.shape[2], _p(x), _p(key), sign, _p(C), _p(F), _p(A), _p(M), _p(NORM),
        _p(HALF), _p(plan_j), _p(plan_c), _p(plan_n), _p(W), _p(r), _p(JtJ), _p(Jtr),
    )  # fmt: skip
    if status != 0:
        raise MemoryError("the normal-equations kernel could not allocate its work space")
    return JtJ, Jtr


def shirley_rows(lib, y, lo, hi, xs, uniform: bool, limit: float, max_iter: int, out) -> None:
    """Shirley iteration of the rows of ``y`` into ``out`` (both (n, m), C-contiguous float64)."""
    n, m = y.shape
    lib.shirley_rows(n, m, _p(y), _p(lo), _p(hi), _p(xs), int(uniform), float(limit), int(max_iter), _p(out))


def normal(lib, Jt: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """J^T J (n, k, k) and J^T r (n, k) in double precision from Jt (n, k, m; float32 or float64, C-contiguous)
    and r (n, m; float64, C-contiguous)."""
    n, k, m = Jt.shape
    A = np.empty((n, k, k))
    g = np.empty((n, k))
    func = lib.normal_f32 if Jt.dtype == np.float32 else lib.normal_f64
    func(n, k, m, _p(Jt), _p(r), _p(A), _p(g))
    return A, g


#: largest matrix the compiled eigen-decomposition takes (SYM_EIG_MAX_K in specfit/_ckernels.c)
SYM_EIG_MAX_K = 16


def eigh(lib, M: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``numpy.linalg.eigh`` of a stack of small symmetric matrices (n, k, k), k <= 16, finite entries:
    ascending eigenvalues (n, k) and eigenvectors in columns (n, k, k); None if a matrix did not converge
    (the caller then uses numpy)."""
    n, k, _ = M.shape
    M = np.ascontiguousarray(M, dtype=np.float64)
    W = np.empty((n, k))
    V = np.empty((n, k, k))
    if lib.sym_eig(n, k, _p(M), _p(W), _p(V)) != 0:
        return None
    return W, V
