"""BLAS thread control for the many small linear-algebra problems of fitting."""

from __future__ import annotations

import contextlib
import threading

_controller = None
_controller_lock = threading.Lock()


def _blas_controller():
    """One threadpoolctl controller for the process: finding the loaded BLAS libraries takes ~1.3 ms
    (it reads the process's library list), limiting them afterwards ~0.01 ms. The per-spectrum lmfit
    loop enters the context once per spectrum, so the search is done once, on first use (numpy's and
    scipy's OpenBLAS are loaded by then: lmfit imports scipy)."""
    global _controller
    with _controller_lock:
        if _controller is None:
            from threadpoolctl import ThreadpoolController

            _controller = ThreadpoolController()
        return _controller


def single_thread_blas():
    """Context limiting BLAS to one thread.

    Fits solve many small (points x ~10 parameters) problems, where OpenBLAS threading only adds
    synchronisation cost: measured 5-30x slower on a loaded 2-core machine (XRD whole-pattern fits,
    per-spectrum lmfit fits). Parallelism belongs one level up (spectra, chunks, dask workers).
    """
    try:
        controller = _blas_controller()
    except ImportError:  # pragma: no cover - optional speed-up
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")
