"""Chunked (dask) fitting of stacks gives the in-memory answer, on threads and on a distributed cluster."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import specfit
from specfit.conventions import make_leaf
from specfit.parallel import get_client

pytest.importorskip("dask.array")

MODEL = """
range = [280.0, 292.0]
[background]
type = "linear"
[[components]]
name = "CC"
shape = "GL(30)"
position = 284.8
position_min = 284.0
position_max = 285.6
fwhm = 1.2
fwhm_min = 0.6
fwhm_max = 2.0
[[components]]
name = "CO"
shape = "GL(30)"
position = 286.4
position_min = 285.8
position_max = 287.0
fwhm = "CC"
"""


def _gl(x, area, center, fwhm):
    sigma = fwhm / 2.3548
    return area * np.exp(-0.5 * ((x - center) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))


@pytest.fixture
def stack(tmp_path):
    rng = np.random.default_rng(3)
    x = np.round(np.arange(292.0, 279.99, -0.1), 2)
    ny, nx = 4, 5
    ratio = rng.uniform(0.2, 0.8, (ny, nx))
    y = 200 + _gl(x, 4000, 284.8, 1.1) + ratio[..., None] * _gl(x, 4000, 286.4, 1.1)
    counts = rng.poisson(y).astype(float)
    ds = make_leaf(
        counts,
        "binding_energy",
        x,
        units="counts",
        extra_dims={"y": np.arange(ny) * 10.0, "x": np.arange(nx) * 10.0},
        attrs={"technique": "xps", "source_format": "netcdf", "region": "C 1s"},
    )
    path = specfit.save(xr.DataTree.from_dict({"/C 1s": ds}), tmp_path / "map.h5")
    return path, ds, ratio


def _compare(a: xr.Dataset, b: xr.Dataset) -> None:
    assert set(a.data_vars) == set(b.data_vars)
    for name in a.data_vars:
        if a[name].dtype.kind in "fc":
            np.testing.assert_allclose(a[name].values, b[name].values, rtol=1e-9, atol=1e-12, err_msg=name)
        else:
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


def test_lazy_data_fit_equals_in_memory(stack):
    path, ds, ratio = stack
    model = specfit.Model.from_toml(MODEL)
    eager = specfit.fit(ds, model)
    lazy_tree = specfit.read(path, chunks={"y": 2, "x": 3})
    lazy = specfit.fit(lazy_tree, model)
    _compare(lazy.dataset, eager.dataset)
    fractions = lazy.dataset["area"].sel(line="CO") / lazy.dataset["area"].sel(line="CC")
    np.testing.assert_allclose(fractions, ratio, atol=0.06)
    # the curves are lazy and equal the in-memory ones when computed
    assert lazy.curves["envelope"].chunks is not None
    np.testing.assert_allclose(lazy.curves["envelope"].values, eager.curves["envelope"].values, rtol=1e-9)
    np.testing.assert_allclose(lazy.curves["intensity"].values, eager.curves["intensity"].values)


def test_distributed_client_fit_equals_in_memory(stack):
    pytest.importorskip("distributed")
    path, ds, _ = stack
    model = specfit.Model.from_toml(MODEL)
    eager = specfit.fit(ds, model)
    client = get_client(n_workers=2, processes=False, memory_limit=None)
    try:
        remote = specfit.fit(specfit.read(path, chunks={"y": 1}), model, client=client)
    finally:
        client.close()
    _compare(remote.dataset, eager.dataset)


def test_chunked_result_saves_and_loads(stack, tmp_path):
    path, ds, _ = stack
    model = specfit.Model.from_toml(MODEL)
    lazy = specfit.fit(specfit.read(path, chunks={"y": 2}), model)
    out = specfit.save(lazy, tmp_path / "result.h5")
    back = specfit.load(out)
    _compare(back.dataset, specfit.fit(ds, model).dataset)
    np.testing.assert_allclose(back.curves["envelope"].values, lazy.curves["envelope"].values)


def test_cli_chunked_fit_matches_in_memory(stack, tmp_path):
    import json
    import subprocess
    import sys

    path, _, _ = stack
    model_file = tmp_path / "c1s.toml"
    model_file.write_text(MODEL)

    def run(*extra):
        res = subprocess.run(
            [sys.executable, "-m", "specfit", "fit", str(path), "--model", str(model_file), "--json", *extra],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)

    plain = run()
    chunked = run("--chunks", "y=2,x=2")
    assert len(plain) == len(chunked) == 20
    for a, b in zip(plain, chunked):
        assert a["coords"] == b["coords"]
        for ca, cb in zip(a["components"], b["components"]):
            assert ca["name"] == cb["name"]
            assert ca["area"] == pytest.approx(cb["area"], rel=1e-9)
