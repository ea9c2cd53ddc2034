"""The bundled example data are reproducible from their documented parameters."""

from __future__ import annotations

import numpy as np

import specfit
from specfit.conventions import leaves, original_metadata, validate
from specfit.examples import EXAMPLES_DIR, TRUTH, checksum, example_path, generate

DATA_SUFFIXES = {".csv", ".h5", ".xy"}


def test_examples_regenerate_bit_for_bit(tmp_path):
    written = generate(tmp_path)
    assert {p.name for p in written} == {p.name for p in EXAMPLES_DIR.iterdir() if p.suffix in DATA_SUFFIXES}
    for path in written:
        bundled = EXAMPLES_DIR / path.name
        if path.suffix != ".h5":
            assert checksum(path) == checksum(bundled), path.name
        else:
            a, b = specfit.load(path), specfit.load(bundled)
            for (pa, da), (pb, db) in zip(leaves(a), leaves(b)):
                assert pa == pb
                np.testing.assert_array_equal(da["intensity"].values, db["intensity"].values)


def test_examples_read_and_follow_conventions():
    for path in EXAMPLES_DIR.iterdir():
        if path.suffix in DATA_SUFFIXES:
            validate(specfit.read(path))
    depth = specfit.read(EXAMPLES_DIR / "xps_depth_S2p.h5")["S 2p"]
    assert depth["intensity"].dims == ("etch_level", "binding_energy")
    np.testing.assert_array_equal(depth["etch_time"].values, TRUTH["depth"]["etch_time_s"])


def test_xrd_example_reads_as_two_theta_with_documented_pattern():
    tree = specfit.read(example_path("xrd_synthesis_product.xy"))
    ((_, ds),) = leaves(tree)
    assert ds.attrs["technique"] == "xrd"
    x = ds["two_theta"].values
    start, stop, step = TRUTH["xrd"]["two_theta"]
    assert x[0] == start and x[-1] == stop
    np.testing.assert_allclose(np.diff(x), step, atol=1e-9)
    assert "SYNTHETIC" in original_metadata(ds)["comments"][0]


def test_examples_readme_names_every_file():
    readme = (EXAMPLES_DIR / "README.md").read_text(encoding="utf-8")
    assert "synthetic" in readme.lower()
    for path in EXAMPLES_DIR.iterdir():
        if path.suffix in DATA_SUFFIXES:
            assert f"`{path.name}`" in readme, path.name


def test_examples_are_small():
    total = sum(p.stat().st_size for p in EXAMPLES_DIR.iterdir())
    assert total < 3_000_000
