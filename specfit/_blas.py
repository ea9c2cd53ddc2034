"""BLAS thread control for the many small linear-algebra problems of fitting."""

from __future__ import annotations

import contextlib


def single_thread_blas():
    """Context limiting BLAS to one thread.

    Fits solve many small (points x ~10 parameters) problems, where OpenBLAS threading only adds
    synchronisation cost: measured 5-30x slower on a loaded 2-core machine (XRD whole-pattern fits,
    per-spectrum lmfit fits). Parallelism belongs one level up (spectra, chunks, dask workers).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional speed-up
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
