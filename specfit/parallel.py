"""Work on stacks and maps larger than memory: dask-backed xarray objects, local or remote clusters.

specfit never schedules work itself. Data opened lazily (``specfit.read(path, chunks=...)``) carry dask
arrays; :func:`map_spectra` applies a function to every spectrum through
:func:`xarray.apply_ufunc` with ``dask="parallelized"`` (so a chunk of spectra is one task), and the
same call on in-memory data runs directly. Which machine computes is dask's business: by default the
current dask scheduler (a ``dask.distributed`` client if one is active), or :func:`get_client` for a
local cluster with a memory limit, or any cluster given its address.

Example
-------
>>> client = get_client(n_workers=2, memory_limit="1.5GB")           # doctest: +SKIP
>>> tree = specfit.read("map.h5", chunks={"y": 50})                  # doctest: +SKIP
>>> result = specfit.fit(tree, model, client=client)                 # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from .conventions import spectral_axis
from .errors import SpecfitError

__all__ = ["get_client", "map_spectra", "is_lazy", "compute_with"]

SpectraFunction = Callable[..., np.ndarray]


def get_client(
    scheduler: Any = None,
    *,
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    memory_limit: str | float | None = "auto",
    processes: bool = True,
):
    """Return a :class:`dask.distributed.Client`.

    Parameters
    ----------
    scheduler
        ``None`` starts a local cluster; a string is the address of a running scheduler
        (``"tcp://10.0.0.5:8786"``); a ``Client`` is returned unchanged.
    n_workers, threads_per_worker, memory_limit, processes
        Local-cluster settings (``memory_limit`` is per worker, e.g. ``"1.5GB"``). specfit's fitting
        is numpy-bound and releases the GIL in BLAS only, so one thread per worker process is the
        efficient default.
    """
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - dask is an optional extra
        raise SpecfitError("dask.distributed is not installed: pip install 'specfit[dask]'") from exc
    if isinstance(scheduler, Client):
        return scheduler
    if isinstance(scheduler, str):
        return Client(scheduler)
    if scheduler is not None:
        raise SpecfitError(f"scheduler must be an address or a Client, not {type(scheduler).__name__}")
    cluster = LocalCluster(
        n_workers=n_workers,
        threads_per_worker=threads_per_worker,
        memory_limit=memory_limit,
        processes=processes,
        dashboard_address=None,
    )
    return Client(cluster)


def is_lazy(obj: xr.DataArray | xr.Dataset) -> bool:
    """True when the object holds dask arrays (nothing computed yet)."""
    if isinstance(obj, xr.Dataset):
        return any(v.chunks is not None for v in obj.data_vars.values())
    return obj.chunks is not None


def _apply_flat(block: np.ndarray, x: np.ndarray, func: SpectraFunction, out_size: int, kwargs: Mapping) -> np.ndarray:
    """Call ``func`` on a (..., n_points) block as (n_spectra, n_points) and restore the leading shape."""
    lead = block.shape[:-1]
    flat = np.ascontiguousarray(block.reshape(-1, block.shape[-1]))
    if flat.shape[0] == 0:
        return np.empty((*lead, out_size))
    out = np.asarray(func(flat, x, **kwargs), dtype=float)
    if out.shape != (flat.shape[0], out_size):
        raise SpecfitError(f"spectra function returned shape {out.shape}, expected {(flat.shape[0], out_size)}")
    return out.reshape(*lead, out_size)


def map_spectra(
    func: SpectraFunction,
    data: xr.DataArray,
    *,
    outputs: Sequence[str],
    axis: str | None = None,
    kwargs: Mapping[str, Any] | None = None,
    dim: str = "quantity",
) -> xr.DataArray:
    """Apply ``func`` to every spectrum of ``data`` (any extra dims, in memory or dask-backed).

    Parameters
    ----------
    func
        ``func(spectra, x, **kwargs) -> values``: ``spectra`` is ``(n_spectra, n_points)``, ``x`` the
        spectral axis, ``values`` is ``(n_spectra, len(outputs))``. It must treat spectra
        independently (each chunk of spectra is computed separately, possibly on another machine).
    data
        Intensities with the spectral axis and any number of extra dimensions.
    outputs
        Names of the quantities ``func`` returns; they label the new dimension ``dim``.
    axis
        The spectral axis (default: the conventional axis of ``data``).

    Returns
    -------
    xarray.DataArray
        The extra dims of ``data`` plus ``dim``; dask-backed (lazy) when ``data`` is.
    """
    axis = axis or spectral_axis(data)
    x = np.asarray(data[axis].values)
    outputs = list(outputs)
    if data.chunks is not None:
        # every task needs whole spectra: one chunk along the spectral axis
        data = data.chunk({axis: -1})
    result = xr.apply_ufunc(
        _apply_flat,
        data,
        kwargs={"x": x, "func": func, "out_size": len(outputs), "kwargs": dict(kwargs or {})},
        input_core_dims=[[axis]],
        output_core_dims=[[dim]],
        dask="parallelized",
        output_dtypes=[float],
        dask_gufunc_kwargs={"output_sizes": {dim: len(outputs)}},
    )
    return result.assign_coords({dim: outputs})


def compute_with(obj: Any, client: Any = None) -> Any:
    """Compute a lazy object on ``client`` (or the current scheduler); in-memory objects pass through."""
    if not hasattr(obj, "compute"):
        return obj
    if client is None:
        return obj.compute()
    return client.compute(obj).result()
