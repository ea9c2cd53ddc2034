"""The generic delimited-text reader: layouts, axis recognition, damaged input, property tests."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import specfit
from specfit.conventions import leaves, original_metadata, validate
from specfit.errors import CorruptFileError, ReadError, UnknownFormatError


def _only_leaf(tree: xr.DataTree) -> xr.Dataset:
    found = list(leaves(tree))
    assert len(found) == 1, [p for p, _ in found]
    return found[0][1]


def test_csv_binding_energy_descending(tmp_path):
    be = np.round(np.arange(172.0, 155.95, -0.05), 2)
    counts = np.round(1000 + 800 * np.exp(-((be - 161.0) ** 2) / 0.4), 3)
    path = tmp_path / "s2p.csv"
    path.write_text("Binding Energy (eV),Counts\n" + "".join(f"{a},{b}\n" for a, b in zip(be, counts)))
    ds = _only_leaf(specfit.read(path))
    assert ds.attrs["technique"] == "xps"
    assert ds.attrs["source_format"] == "text"
    assert ds.attrs["source_file"] == "s2p.csv"
    assert list(ds["intensity"].dims) == ["binding_energy"]
    assert ds["binding_energy"].attrs["units"] == "eV"
    assert ds["intensity"].attrs["units"] == "counts"
    np.testing.assert_array_equal(ds["binding_energy"].values, be)  # order kept as measured
    np.testing.assert_array_equal(ds["intensity"].values, counts)


@pytest.mark.parametrize(
    ("header", "axis", "technique"),
    [
        ("Raman Shift (cm-1)\tIntensity", "raman_shift", "raman"),
        ("2Theta (deg);Counts", "two_theta", "xrd"),
        ("Kinetic Energy [eV]  CPS", "kinetic_energy", "xps"),
        ("m/z,Counts", "mass", "tofsims"),
        ("Wavenumber (cm-1),Intensity", "raman_shift", "raman"),
        ("Angle,Intensity", "two_theta", "xrd"),
    ],
)
def test_axis_recognised_from_header(tmp_path, header, axis, technique):
    delimiter = "\t" if "\t" in header else ";" if ";" in header else "," if "," in header else "  "
    rows = "".join(f"{10 + i * 0.5}{delimiter}{100 + i}\n" for i in range(20))
    path = tmp_path / "spec.txt"
    path.write_text(header + "\n" + rows)
    ds = _only_leaf(specfit.read(path))
    assert ds["intensity"].dims == (axis,)
    assert ds.attrs["technique"] == technique
    assert ds["intensity"].shape == (20,)


def test_semicolon_decimal_comma_with_comments(tmp_path):
    path = tmp_path / "raman.txt"
    path.write_text(
        "# exported by LabSpec\n# laser 532 nm\nRaman shift;Intensity\n"
        + "".join(f"{100 + i},5;{i * 2},25\n" for i in range(10))
    )
    ds = _only_leaf(specfit.read(path))
    assert ds["intensity"].dims == ("raman_shift",)
    np.testing.assert_allclose(ds["raman_shift"].values, 100.5 + np.arange(10))
    np.testing.assert_allclose(ds["intensity"].values, 2 * np.arange(10) + 0.25)
    meta = original_metadata(ds)
    assert meta["decimal_comma"] is True
    assert "# laser 532 nm" in meta["comments"]


def test_headerless_needs_technique(tmp_path):
    path = tmp_path / "pattern.xy"
    path.write_text("".join(f"{10 + i * 0.02:.2f} {i % 7}\n" for i in range(50)))
    with pytest.raises(ReadError, match="technique"):
        specfit.read(path)
    ds = _only_leaf(specfit.read(path, technique="xrd"))
    assert ds["intensity"].dims == ("two_theta",)
    assert ds.attrs["technique"] == "xrd"


def test_several_y_columns_are_several_spectra(tmp_path):
    path = tmp_path / "series.csv"
    path.write_text("Binding energy,before,after\n" + "".join(f"{290 - i * 0.1:.1f},{i},{2 * i}\n" for i in range(30)))
    tree = specfit.read(path)
    names = sorted(p for p, _ in leaves(tree))
    assert names == ["/after", "/before"]
    np.testing.assert_array_equal(tree["after"]["intensity"].values, 2 * np.arange(30))


def test_tofsims_profile_header_reads_as_fragments(tmp_path):
    path = tmp_path / "profile.csv"
    t = np.arange(0, 100, 0.5)
    path.write_text("Time (s),Cl-,PS3-,SO-\n" + "".join(f"{a},{10 + a},{20 + a},{30 + a}\n" for a in t))
    ds = _only_leaf(specfit.read(path))
    assert ds["intensity"].dims == ("sputter_time", "fragment")
    assert list(ds["fragment"].values) == ["Cl-", "PS3-", "SO-"]
    assert ds["sputter_time"].attrs["units"] == "s"
    np.testing.assert_array_equal(ds["intensity"].sel(fragment="PS3-").values, 20 + t)


def test_time_in_minutes_converted_to_seconds(tmp_path):
    path = tmp_path / "profile.csv"
    path.write_text("Sputter time (min),Li+,F-\n" + "".join(f"{i},{i},{i}\n" for i in range(5)))
    ds = _only_leaf(specfit.read(path))
    np.testing.assert_array_equal(ds["sputter_time"].values, 60.0 * np.arange(5))


@pytest.mark.parametrize(
    ("content", "message", "line"),
    [
        ("Binding Energy (eV),Counts\n290,1\n289,2\n288,abc\n287,4\n", "non-numeric", 4),
        ("Binding Energy (eV),Counts\n290,1\n289,2,7\n288,3\n287,4\n286,5\n285,6\n", "columns", 3),
        ("Binding Energy (eV),Counts\n290,x1\n289,2\n288,3\n287,4\n286,5\n285,6\n", "non-numeric", 2),
    ],
)
def test_damaged_csv_names_line(tmp_path, content, message, line):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(CorruptFileError, match=message) as info:
        specfit.read(path)
    assert info.value.line == line
    assert "bad.csv" in str(info.value)
    assert path.read_text() == content  # input never modified


def test_empty_and_binary_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(ReadError, match="empty"):
        specfit.read(empty)
    garbage = tmp_path / "garbage.vms"
    garbage.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)))
    with pytest.raises(UnknownFormatError, match="garbage.vms"):
        specfit.read(garbage)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ReadError, match="no such file"):
        specfit.read(tmp_path / "absent.csv")
    with pytest.raises(ReadError, match="directory"):
        specfit.read(tmp_path)


# --- property tests -------------------------------------------------------------------------------

_values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    y=st.lists(st.lists(_values, min_size=1, max_size=3), min_size=2, max_size=40).filter(
        lambda rows: len({len(r) for r in rows}) == 1
    ),
    delimiter=st.sampled_from([",", "\t", ";", " ", "   "]),
    decimal_comma=st.booleans(),
    header=st.booleans(),
    descending=st.booleans(),
    comment=st.booleans(),
)
def test_text_reader_property(tmp_path_factory, y, delimiter, decimal_comma, header, descending, comment):
    if decimal_comma and delimiter == ",":
        decimal_comma = False
    n = len(y)
    x = np.arange(n, dtype=float) * 0.25 + 100.0
    if descending:
        x = x[::-1]
    y = np.asarray(y, dtype=float)

    def fmt(v: float) -> str:
        s = repr(float(v))
        return s.replace(".", ",") if decimal_comma else s

    lines = []
    if comment:
        lines.append("# synthetic export")
    if header:
        lines.append(delimiter.join(["Binding Energy (eV)"] + [f"spec{i}" for i in range(y.shape[1])]))
    for xi, row in zip(x, y):
        lines.append(delimiter.join([fmt(xi)] + [fmt(v) for v in row]))
    path = tmp_path_factory.mktemp("prop") / "data.txt"
    path.write_text("\n".join(lines) + "\n")
    tree = specfit.read(path, technique=None if header else "xps")
    validate(tree)
    found = [ds for _, ds in leaves(tree)]
    assert len(found) == y.shape[1]
    for i, ds in enumerate(found):  # leaves keep the column order
        np.testing.assert_array_equal(ds["binding_energy"].values, x)
        np.testing.assert_array_equal(ds["intensity"].values, y[:, i])
