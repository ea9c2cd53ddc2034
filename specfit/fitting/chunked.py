"""Fitting stacks and maps chunk by chunk with dask: data larger than memory, local or remote clusters.

:func:`specfit.fit` comes here when the data are dask-backed (``specfit.read(path, chunks=...)``) or a
``client`` is given. Every chunk of spectra (as the data are chunked along their extra dimensions)
is one task that runs the ordinary in-memory stack fit on it; only the per-spectrum parameter table
(small: a few dozen numbers per spectrum) comes back to the caller. The fitted curves (envelope,
background) are *not* shipped back: they stay lazy and are re-evaluated from the parameters when
asked for (plotting a pixel, saving the result), which is cheap next to fitting and keeps the memory
of every worker bounded by its chunk.

With ``seed="guess"`` (the default) the result equals the in-memory path exactly; ``seed="neighbour"``
re-seeds failed spectra from converged neighbours within their own chunk only.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import xarray as xr

from ..conventions import INTENSITY, spectral_axis
from ..errors import FitError
from ..model.core import Model, compiled_model
from ..results import FitStackResult

__all__ = ["fit_chunked", "is_dask_backed"]


def is_dask_backed(obj: Any) -> bool:
    """True when the intensity to fit is a dask array (not yet in memory)."""
    da = obj[INTENSITY] if isinstance(obj, xr.Dataset) else obj
    return isinstance(da, xr.DataArray) and da.chunks is not None


def _block_slices(da: xr.DataArray, extra: list[str]) -> list[dict[str, slice]]:
    """Index slices of every chunk along the extra dimensions (C order)."""
    per_dim = []
    for dim in extra:
        sizes = da.chunksizes[dim] if da.chunks is not None else (da.sizes[dim],)
        edges = np.concatenate([[0], np.cumsum(sizes)])
        per_dim.append([slice(int(a), int(b)) for a, b in itertools.pairwise(edges)])
    return [dict(zip(extra, combo)) for combo in itertools.product(*per_dim)]


def _fit_block(block: xr.Dataset, model_toml: str, fit_kwargs: dict[str, Any]) -> xr.Dataset:
    # imported here: this runs on dask workers, which import specfit afresh
    from . import fit

    model = Model.from_toml(model_toml)
    result = fit(block, model, **fit_kwargs)
    return result.dataset


def _gather_incrementally(client: Any, futures: list) -> list[xr.Dataset]:
    """Fetch each chunk's parameter table as soon as it is done and release it on the worker.

    Gathering all futures at the end would keep every finished table in worker memory until the
    last chunk is done: with one worker, the whole result of a 10^6-spectrum map on top of the
    working memory (measured: the nanny restarted a 1.5 GB worker that way).
    """
    from dask.distributed import as_completed

    position = {future.key: i for i, future in enumerate(futures)}
    blocks: list[Any] = [None] * len(futures)
    for future in as_completed(futures):
        blocks[position[future.key]] = future.result()
        future.release()
    return blocks


def _nested(blocks: list[xr.Dataset], slices: list[dict[str, slice]], extra: list[str]) -> list:
    """Arrange block results as nested lists for :func:`xarray.combine_nested` (C order)."""
    counts = [len({s[d].start for s in slices}) for d in extra]

    def nest(items: list, depth: int) -> list:
        if depth == len(counts) - 1:
            return items
        step = len(items) // counts[depth]
        return [nest(items[i * step : (i + 1) * step], depth + 1) for i in range(counts[depth])]

    return nest(list(blocks), 0)


def fit_chunked(
    obj: xr.Dataset | xr.DataArray,
    model: Model,
    *,
    client: Any = None,
    **fit_kwargs: Any,
) -> FitStackResult:
    """Fit every spectrum of a (possibly dask-backed) stack, one task per chunk of spectra.

    Parameters
    ----------
    obj
        Dataset with ``intensity`` (optional ``intensity_error``) or a DataArray, with extra dims.
    model
        The model; it travels to the workers as its TOML text.
    client
        A :class:`dask.distributed.Client` (or an address) to compute on; ``None`` uses the current
        dask scheduler (threads, or an active distributed client).
    **fit_kwargs
        Passed to :func:`specfit.fit` for every chunk (``range``, ``weights``, ``seed``, ``solver``,
        ``max_nfev``).
    """
    import dask

    ds = obj if isinstance(obj, xr.Dataset) else obj.to_dataset(name=INTENSITY)
    keep = [v for v in (INTENSITY, "intensity_error") if v in ds]
    ds = ds[keep]
    axis = spectral_axis(ds)
    extra = [d for d in ds[INTENSITY].dims if d != axis]
    if not extra:
        raise FitError("chunked fitting needs data with extra dimensions (a stack or a map)")
    if ds[INTENSITY].chunks is None:
        ds = ds.chunk({d: "auto" for d in extra} | {axis: -1})
    else:
        ds = ds.chunk({axis: -1})
    slices = _block_slices(ds[INTENSITY], extra)
    model_toml = model.to_toml()
    tasks = [dask.delayed(_fit_block)(ds.isel(s), model_toml, fit_kwargs) for s in slices]
    if client is not None:
        from ..parallel import get_client

        client = get_client(client)
        blocks = _gather_incrementally(client, client.compute(tasks))
    else:
        blocks = list(dask.compute(*tasks))
    dataset = xr.combine_nested(
        _nested(blocks, slices, extra),
        concat_dim=extra,
        data_vars="all",
        coords="minimal",
        join="exact",
        combine_attrs="override",
    )
    # the per-line constants (component, shape) are the same in every block, not stacked
    for name in ("component", "shape"):
        if name in dataset and extra[0] in dataset[name].dims:
            dataset[name] = blocks[0][name]
    dataset = dataset.transpose(*extra, ...)
    curves = lazy_curves(ds, dataset, model, axis, fit_kwargs.get("range"))
    return FitStackResult(dataset, curves, model, axis)


def _curves_block(
    y: np.ndarray, P: np.ndarray, x: np.ndarray, axis: str, model_toml: str, fit_range: Any, n_out: int
) -> np.ndarray:
    """Envelope and background of a block of spectra from their fitted free parameters."""
    from .engine import prepare, static_background

    model = Model.from_toml(model_toml)
    lead = y.shape[:-1]
    flat_y = y.reshape(-1, y.shape[-1])
    if flat_y.shape[0] == 0:
        return np.empty((*lead, 3, n_out))
    da = xr.DataArray(
        flat_y,
        dims=("index", axis),
        coords={axis: (axis, x, {"units": "", "long_name": axis})},
    )
    prep = prepare(da, model, fit_range=fit_range, weights="none")
    _, compiled = compiled_model(model, axis)
    flat_P = P.reshape(-1, P.shape[-1])
    bg = static_background(model, prep)
    _, dyn, _ = compiled.evaluate(prep.x, flat_P, prep.loss_side)
    envelope = bg + compiled.total(prep.x, flat_P, prep.loss_side)
    out = np.stack([prep.y, envelope, bg + dyn], axis=1)
    return out.reshape(*lead, 3, n_out)


def lazy_curves(ds: xr.Dataset, dataset: xr.Dataset, model: Model, axis: str, fit_range: Any = None) -> xr.Dataset:
    """Data, envelope and background of every spectrum, as lazy arrays computed from the parameters."""
    import json

    free = json.loads(dataset.attrs["free"])
    extra = list(dataset[free[0]].dims) if free else list(dataset["chisqr"].dims)
    x_full = np.asarray(ds[axis].values, dtype=float)
    rng = fit_range if fit_range is not None else model.range
    mask = np.ones(x_full.size, bool) if rng is None else (x_full >= min(rng)) & (x_full <= max(rng))
    x = x_full[mask]
    P = xr.concat([dataset[name] for name in free], dim="free").transpose(*extra, "free")
    chunks = {d: ds.chunksizes[d] for d in extra} if ds.chunks else {}
    P = P.chunk(chunks | {"free": -1}) if chunks else P
    curves = xr.apply_ufunc(
        _curves_block,
        ds[INTENSITY].transpose(*extra, axis),
        P,
        kwargs={
            "x": x_full,
            "axis": axis,
            "model_toml": model.to_toml(),
            "fit_range": rng,
            "n_out": int(x.size),
        },
        input_core_dims=[[axis], ["free"]],
        output_core_dims=[["curve", "fit_" + axis]],
        dask="parallelized",
        output_dtypes=[float],
        dask_gufunc_kwargs={"output_sizes": {"curve": 3, "fit_" + axis: int(x.size)}},
    )
    curves = curves.rename({"fit_" + axis: axis}).assign_coords({axis: x})
    coords = {d: dataset[d] for d in extra if d in dataset.coords}
    return xr.Dataset(
        {
            "intensity": curves.isel(curve=0, drop=True),
            "envelope": curves.isel(curve=1, drop=True),
            "background": curves.isel(curve=2, drop=True),
        },
        coords=coords,
    )
