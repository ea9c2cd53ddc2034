"""Text map/line-scan layouts (synthetic files with known content) and sniffing boundaries."""

from __future__ import annotations

import numpy as np
import pytest

import specfit
from specfit.conventions import leaves
from specfit.errors import ReadError
from specfit.io.registry import SNIFF_BYTES, get_reader
from tests.conftest import CORPUS, corpus_files

SHIFT = np.linspace(100.0, 600.0, 26)
XS, YS = np.array([-2.0, 0.0, 2.0]), np.array([5.0, 7.5])


def spectrum(x, y):
    """A distinct spectrum per position, so a wrong assignment shows."""
    return 100 * x + 1000 * y + SHIFT / 10


def _only(tree):
    ((_, ds),) = list(leaves(tree))
    return ds


def _check_grid(ds):
    assert ds["intensity"].dims == ("y", "x", "raman_shift")
    np.testing.assert_allclose(ds["x"].values, XS)
    np.testing.assert_allclose(ds["y"].values, YS)
    np.testing.assert_allclose(ds["raman_shift"].values, SHIFT)
    for j, y in enumerate(YS):
        for i, x in enumerate(XS):
            np.testing.assert_allclose(ds["intensity"].values[j, i], spectrum(x, y))


def test_labspec_style_wide_map_with_header(tmp_path):
    lines = ["#Acq. time (s)=\t10", "#Accumulations=\t2", "#Laser (nm)=\t532.1", "#Grating=\t600"]
    lines.append("\t\t" + "\t".join(f"{s:g}" for s in SHIFT))
    for y in YS:  # LabSpec writes X then Y, scanning x fastest
        for x in XS:
            lines.append(f"{x:g}\t{y:g}\t" + "\t".join(f"{v:.6f}" for v in spectrum(x, y)))
    path = tmp_path / "labspec_map.txt"
    path.write_text("\n".join(lines) + "\n")
    ds = _only(specfit.read(path))
    assert ds.attrs["source_format"] == "horiba_txt"
    assert ds.attrs["laser_wavelength_nm"] == 532.1 and ds.attrs["frames"] == 2
    _check_grid(ds)


def test_generic_wide_map_and_line_scan(tmp_path):
    rows = ["X,Y," + ",".join(f"{s:g}" for s in SHIFT)]
    for y in YS[::-1]:  # any scan order
        for x in XS:
            rows.append(f"{x:g},{y:g}," + ",".join(f"{v:.6f}" for v in spectrum(x, y)))
    path = tmp_path / "map.csv"
    path.write_text("\n".join(rows) + "\n")
    ds = _only(specfit.read(path))
    assert ds.attrs["source_format"] == "raman_text_map"
    _check_grid(ds)

    line = ["\t" + "\t".join(f"{s:g}" for s in SHIFT)]
    line += [f"{x:g}\t" + "\t".join(f"{v:.6f}" for v in spectrum(x, 0)) for x in XS]
    path = tmp_path / "line.txt"
    path.write_text("\n".join(line) + "\n")
    ds = _only(specfit.read(path))
    assert ds["intensity"].dims == ("x", "raman_shift")
    np.testing.assert_allclose(ds["intensity"].values[2], spectrum(XS[2], 0))


def test_long_format_maps(tmp_path):
    wire = ["#X\t#Y\t#Wave\t#Intensity"]
    plain = ["x,y,raman_shift,intensity"]
    for y in YS:
        for x in XS:
            for s, v in zip(SHIFT[::-1], spectrum(x, y)[::-1]):  # WiRE writes descending shifts
                wire.append(f"{x:g}\t{y:g}\t{s:g}\t{v:.6f}")
                plain.append(f"{x:g},{y:g},{s:g},{v:.6f}")
    (tmp_path / "wire.txt").write_text("\n".join(wire) + "\n")
    (tmp_path / "plain.csv").write_text("\n".join(plain) + "\n")
    for name, fmt in (("wire.txt", "renishaw_txt"), ("plain.csv", "raman_text_map")):
        ds = _only(specfit.read(tmp_path / name))
        assert ds.attrs["source_format"] == fmt
        _check_grid(ds.sortby("raman_shift"))


def test_ragged_map_rows_name_the_line(tmp_path):
    rows = ["X,Y," + ",".join(f"{s:g}" for s in SHIFT)]
    rows += [f"{x:g},0," + ",".join("1" for _ in SHIFT) for x in XS]
    rows[2] = rows[2].rsplit(",", 1)[0]
    path = tmp_path / "ragged.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(ReadError) as info:
        specfit.read(path)
    assert info.value.line == 3


@pytest.mark.corpus
def test_raman_sniffers_claim_no_other_corpus_file():
    if not CORPUS.is_dir():
        pytest.skip("corpus absent")
    names = ["renishaw_wdf", "renishaw_wxd", "renishaw_txt", "horiba_xml", "horiba_l6s", "horiba_txt",
             "trivista_tvf", "spc", "princeton_spe", "rod", "bruker_opus", "witec_txt", "bwtek_txt",
             "raman_keyed_csv", "raman_text_map"]  # fmt: skip
    readers = [get_reader(n) for n in names]
    others = [p for folder in ("xps", "xrd", "tofsims") for p in corpus_files(folder)]
    assert others
    for path in others:
        head = path.read_bytes()[:SNIFF_BYTES]
        claimed = [r.name for r in readers if r.sniff(head, path) > 0]
        assert not claimed, (path.name, claimed)


def test_text_errors_report_the_files_own_line_numbers(tmp_path):
    rows = [f"{100 + k}.5\t{k}.0" for k in range(8)]
    wire = ["#Wave\t\t#Intensity", *rows[:7], "107.5\tgarbage", *rows[7:]]
    (tmp_path / "w.txt").write_text("\n".join(wire) + "\n")
    with pytest.raises(ReadError) as info:
        specfit.read(tmp_path / "w.txt")
    assert info.value.line == 9
    labspec = ["#Acq. time (s)=\t1", "#Laser (nm)=\t785", *rows[:7], "107.5\t3\t9", *rows[7:]]
    (tmp_path / "l.txt").write_text("\n".join(labspec) + "\n")
    with pytest.raises(ReadError) as info:
        specfit.read(tmp_path / "l.txt")
    assert info.value.line == 10
