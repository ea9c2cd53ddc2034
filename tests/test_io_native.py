"""specfit's HDF5/NetCDF4 storage: exact round trips, atomic writes, NetCDF compatibility."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import specfit
from specfit.conventions import make_leaf
from specfit.errors import ReadError, SpecfitError


def _tree() -> xr.DataTree:
    be = np.linspace(172, 156, 161)
    s2p = make_leaf(
        np.random.default_rng(1).poisson(500, (3, 161)).astype(np.int64),
        "binding_energy",
        be,
        units="counts",
        extra_dims={"etch_level": np.arange(3)},
        attrs={
            "technique": "xps",
            "source_format": "test",
            "region": "S 2p",
            "pass_energy_ev": 20.0,
            "scans": 5,
            "one_item_list": [7.5],
            "flag": True,
            "original_metadata": {"nested": {"a": [1, 2]}, "text": "é ü"},
        },
    )
    s2p = s2p.assign_coords(etch_time=("etch_level", np.array([0.0, 30.0, 60.0]), {"units": "s"}))
    prof = make_leaf(
        np.random.default_rng(2).random((50, 2)).T,
        "sputter_time",
        np.arange(50.0),
        units="counts/s",
        extra_dims={"fragment": ["Cl-", "PS3-"]},
        attrs={"technique": "tofsims", "source_format": "test"},
    ).transpose("sputter_time", "fragment")
    return xr.DataTree.from_dict({"/": xr.Dataset(attrs={"sample": "LPSCl"}), "/S 2p": s2p, "/profile": prof})


def test_round_trip_identical(tmp_path):
    tree = _tree()
    path = specfit.save(tree, tmp_path / "t.h5")
    back = specfit.load(path)
    expected = specfit.load(specfit.save(tree, tmp_path / "u.h5"))
    xr.testing.assert_identical(back, expected)
    # values, coordinates and attributes as given (after the documented sanitising of bool/dict attrs)
    ds = back["S 2p"].to_dataset()
    assert ds["intensity"].dtype == np.int64
    np.testing.assert_array_equal(ds["intensity"].values, tree["S 2p"]["intensity"].values)
    assert ds.attrs["one_item_list"] == [7.5]
    assert ds.attrs["flag"] == 1
    assert json.loads(ds.attrs["original_metadata"]) == {"nested": {"a": [1, 2]}, "text": "é ü"}
    assert list(back["profile"]["fragment"].values) == ["Cl-", "PS3-"]
    assert back.attrs["sample"] == "LPSCl"


def test_file_is_netcdf4_readable_by_xarray(tmp_path):
    path = specfit.save(_tree(), tmp_path / "t.h5")
    with open(path, "rb") as fh:
        assert fh.read(8) == b"\x89HDF\r\n\x1a\n"
    opened = xr.open_datatree(path)
    assert set(opened.children) == {"S 2p", "profile"}
    assert opened["S 2p"]["intensity"].shape == (3, 161)
    opened.close()
    # and read() takes it like any other file (stacks and maps reach `specfit fit` that way)
    tree = specfit.read(path)
    assert tree["profile"]["intensity"].dims == ("sputter_time", "fragment")


def test_existing_file_not_replaced(tmp_path):
    path = tmp_path / "t.h5"
    path.write_bytes(b"precious")
    with pytest.raises(SpecfitError, match="exists"):
        specfit.save(_tree(), path)
    assert path.read_bytes() == b"precious"
    specfit.save(_tree(), path, overwrite=True)
    assert isinstance(specfit.load(path), xr.DataTree)


def test_interrupted_save_leaves_no_damage(tmp_path, monkeypatch):
    path = tmp_path / "t.h5"
    specfit.save(_tree(), path)
    before = path.read_bytes()

    def explode(self, *args, **kwargs):
        with open(args[0], "wb") as fh:
            fh.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.DataTree, "to_netcdf", explode)
    with pytest.raises(KeyboardInterrupt):
        specfit.save(_tree(), path, overwrite=True)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["t.h5"]  # temporary file removed


def test_load_errors(tmp_path):
    with pytest.raises(ReadError, match="no such file"):
        specfit.load(tmp_path / "absent.h5")
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5 at all")
    with pytest.raises(ReadError, match="bad.h5"):
        specfit.load(bad)
    trunc = tmp_path / "trunc.h5"
    data = specfit.save(_tree(), tmp_path / "full.h5").read_bytes()
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(ReadError, match="trunc.h5"):
        specfit.load(trunc)


_attr_values = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=-(2**62), max_value=2**62),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1, max_size=5),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=2, max_size=30),
    attrs=st.dictionaries(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(
            lambda k: not k.startswith("_") and k not in {"units", "long_name"}
        ),
        _attr_values,
        max_size=6,
    ),
    dtype=st.sampled_from(["float64", "float32"]),
)
def test_save_load_round_trip_property(tmp_path_factory, values, attrs, dtype):
    ds = make_leaf(
        np.asarray(values, dtype=dtype),
        "raman_shift",
        np.linspace(100, 1000, len(values)),
        units="arb",
        attrs={"technique": "raman", "source_format": "test", **attrs},
    )
    tree = xr.DataTree.from_dict({"/spec": ds})
    directory = tmp_path_factory.mktemp("rt")
    back = specfit.load(specfit.save(tree, directory / "p.h5"))
    xr.testing.assert_identical(back, tree)
    assert back["spec"]["intensity"].dtype == np.dtype(dtype)
    os.remove(directory / "p.h5")
