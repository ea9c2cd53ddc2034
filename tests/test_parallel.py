"""Chunked (dask) work on stacks gives exactly the in-memory answer, locally and on a cluster."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import specfit
from specfit.conventions import make_leaf
from specfit.errors import SpecfitError
from specfit.parallel import compute_with, get_client, is_lazy, map_spectra

pytest.importorskip("dask.array")


def _moments(spectra: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Area, centroid and maximum of each spectrum (a real per-spectrum reduction)."""
    area = np.trapezoid(spectra, x, axis=1)
    centroid = np.trapezoid(spectra * x, x, axis=1) / area
    return np.column_stack([area, centroid, spectra.max(axis=1)])


def _map(tmp_path):
    rng = np.random.default_rng(0)
    shift = np.linspace(300, 500, 201)
    centers = rng.uniform(380, 440, (12, 10))
    data = 1000 * np.exp(-0.5 * ((shift - centers[..., None]) / 5) ** 2) + rng.normal(0, 1, (12, 10, 201))
    ds = make_leaf(
        data,
        "raman_shift",
        shift,
        units="counts",
        extra_dims={"y": np.arange(12.0), "x": np.arange(10.0)},
        attrs={"technique": "raman", "source_format": "netcdf"},
    )
    path = specfit.save(xr.DataTree.from_dict({"/map": ds}), tmp_path / "map.h5")
    return path, ds, centers


def test_lazy_read_and_map_equal_in_memory(tmp_path):
    path, ds, centers = _map(tmp_path)
    eager = map_spectra(_moments, ds["intensity"], outputs=["area", "centroid", "max"])
    assert eager.dims == ("y", "x", "quantity")
    np.testing.assert_allclose(eager.sel(quantity="centroid"), centers, atol=0.5)

    lazy_tree = specfit.read(path, chunks={"y": 5, "x": 4})
    lazy_da = lazy_tree["map"]["intensity"]
    assert is_lazy(lazy_da)
    lazy = map_spectra(_moments, lazy_da, outputs=["area", "centroid", "max"])
    assert is_lazy(lazy)
    xr.testing.assert_identical(lazy.compute(), eager)


def test_distributed_cluster_gives_same_answer(tmp_path):
    pytest.importorskip("distributed")
    path, ds, _ = _map(tmp_path)
    eager = map_spectra(_moments, ds["intensity"], outputs=["area", "centroid", "max"])
    client = get_client(n_workers=1, processes=False, memory_limit=None)
    try:
        lazy = map_spectra(
            _moments, specfit.read(path, chunks={"y": 4})["map"]["intensity"], outputs=["area", "centroid", "max"]
        )
        xr.testing.assert_identical(compute_with(lazy, client), eager)
        assert get_client(client) is client
    finally:
        client.close()


def test_wrong_output_shape_is_an_error(tmp_path):
    _, ds, _ = _map(tmp_path)
    with pytest.raises(SpecfitError, match="shape"):
        map_spectra(lambda s, x: s[:, :2], ds["intensity"], outputs=["a"])
