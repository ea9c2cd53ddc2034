"""The bundled example data are reproducible from their documented parameters."""

from __future__ import annotations

import numpy as np

import specfit
from specfit.conventions import leaves, validate
from specfit.examples import EXAMPLES_DIR, TRUTH, checksum, generate


def test_examples_regenerate_bit_for_bit(tmp_path):
    written = generate(tmp_path)
    assert {p.name for p in written} == {p.name for p in EXAMPLES_DIR.iterdir() if p.suffix in {".csv", ".h5"}}
    for path in written:
        bundled = EXAMPLES_DIR / path.name
        if path.suffix == ".csv":
            assert checksum(path) == checksum(bundled), path.name
        else:
            a, b = specfit.load(path), specfit.load(bundled)
            for (pa, da), (pb, db) in zip(leaves(a), leaves(b)):
                assert pa == pb
                np.testing.assert_array_equal(da["intensity"].values, db["intensity"].values)


def test_examples_read_and_follow_conventions():
    for path in EXAMPLES_DIR.iterdir():
        if path.suffix in {".csv", ".h5"}:
            validate(specfit.read(path))
    depth = specfit.read(EXAMPLES_DIR / "xps_depth_S2p.h5")["S 2p"]
    assert depth["intensity"].dims == ("etch_level", "binding_energy")
    np.testing.assert_array_equal(depth["etch_time"].values, TRUTH["depth"]["etch_time_s"])
