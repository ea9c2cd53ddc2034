"""``specfit raman preprocess`` end to end on a corpus file."""

from __future__ import annotations

import numpy as np
import pytest

import specfit
from specfit.cli import main
from specfit.conventions import leaves
from specfit.raman import processing_history
from tests.conftest import corpus_path


@pytest.mark.corpus
def test_preprocess_writes_processed_data_and_baseline(tmp_path, capsys):
    src = corpus_path("raman", "renishaw_wdf", "nCal_Qontor785_z005H12_100_1x3s.wdf")
    out = tmp_path / "out.h5"
    code = main(
        ["raman", "preprocess", str(src), "--out", str(out), "--despike", "--baseline", "arpls", "--smooth", "7",
         "--crop", "0", "1100", "--normalize", "max"]
    )  # fmt: skip
    assert code == 0
    assert str(out) in capsys.readouterr().out
    original = next(ds for _, ds in leaves(specfit.read(src)))
    ((_, ds),) = list(leaves(specfit.load(out)))
    assert ds["raman_shift"].values.min() >= 0 and ds["raman_shift"].values.max() <= 1100
    assert "baseline" in ds and ds["baseline"].shape == ds["intensity"].shape
    assert float(ds["intensity"].max()) == pytest.approx(1.0)
    steps = [h["step"] for h in processing_history(ds)]
    assert steps == ["despike", "crop", "baseline", "smooth", "normalize"]
    # the baseline is below the data it was taken from
    raw = original["intensity"].sel(raman_shift=ds["raman_shift"])
    assert np.median(raw.values - ds["baseline"].values) > 0


def test_preprocess_without_steps_is_an_error(tmp_path, capsys):
    code = main(["raman", "preprocess", "whatever.wdf", "--out", str(tmp_path / "x.h5")])
    assert code == 1
    assert "nothing to do" in capsys.readouterr().err
