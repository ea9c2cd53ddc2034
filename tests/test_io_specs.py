"""SPECS .xy and SpecsLab2 .xml readers against pynxtools-xps's readings (EXPECTED.md §1)."""

from __future__ import annotations

import numpy as np
import pytest

import specfit
from specfit.conventions import leaves, original_metadata, validate
from specfit.errors import CorruptFileError
from tests.conftest import corpus_path

pytestmark = pytest.mark.timeout(120)


def test_prodigy_xy_small():
    tree = specfit.read(corpus_path("xps", "specs_xy", "MgFe2O4_small.xy"))
    validate(tree)
    fe, survey = tree["Fe2p"].to_dataset(), tree["Survey"].to_dataset()
    for ds, n, be0, be1, pe, first, last, total in (
        (fe, 56, 750, 695, 20, 5913.3234, 4013.8297, 330021.1444),
        (survey, 1351, 1350, 0, 100, 15598.679, 181.52882, 31883023.16108),
    ):
        y = ds.intensity.values
        assert ds.sizes["binding_energy"] == n and (ds.binding_energy[0], ds.binding_energy[-1]) == (be0, be1)
        assert (y[0], y[-1]) == (first, last) and y.sum() == pytest.approx(total, abs=1e-4)
        assert ds.attrs["pass_energy_ev"] == pe and ds.attrs["excitation_energy_ev"] == 1486.61
        assert ds.intensity.attrs["units"] == "counts/s"
    assert fe.attrs["region"] == "Fe 2p" and survey.attrs["acquired_at"] == "2023-08-24T14:19:47Z"


def test_prodigy_xy_with_transmission_groups_and_cycles():
    tree = specfit.read(corpus_path("xps", "specs_xy", "MgFe2O4_with_transmission_function.xy"))
    validate(tree)
    groups = list(tree.children)
    assert groups[0] == "Alignment" and len(groups) == 4
    spectra = list(leaves(tree))
    assert len(spectra) == 28  # 30 regions, two of them fixed-energy alignment snapshots
    align = tree["Alignment"]
    assert all("signal" in c.ds and "intensity" not in c.ds for c in align.children.values())
    survey = tree["1 as-loaded/Survey"].to_dataset()
    assert survey.intensity.values[0] == 15598.679 and "transmission" in survey
    cycled = tree["2 S1110, UHV, RT, Epass = 20 eV/Survey_2"].to_dataset()
    assert cycled.intensity.dims == ("cycle", "binding_energy") and cycled.sizes["cycle"] == 5
    assert cycled.transmission.dims == ("cycle", "binding_energy")
    total_rows = sum(ds.intensity.size for _, ds in spectra) + sum(c.ds.signal.size for c in align.children.values())
    data_lines = sum(
        1
        for line in corpus_path("xps", "specs_xy", "MgFe2O4_with_transmission_function.xy").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert total_rows == data_lines  # nothing dropped


def test_specslab2_xy_files():
    ds = specfit.read(corpus_path("xps", "specs_xy", "mm-specs.xy"))["P 2p"].to_dataset()
    assert ds.sizes["binding_energy"] == 401 and ds.binding_energy[0] == 139.87 and "transmission" in ds
    assert ds.attrs["scans"] == 50
    # the file xylib ships and pynxtools returns nothing for: 4 regions, KE axis, one XAS (CFS) scan
    tree = specfit.read(corpus_path("xps", "specs_xy", "specsxy_example.xy"))
    names = list(tree.children)
    assert len(names) == 4 and names[:3] == ["over_1400eV", "O1s", "Si2p"]
    over = tree["over_1400eV"].to_dataset()
    assert over.kinetic_energy[0] == 100 and over.binding_energy[0] == 1300  # hν 1400 eV
    xas = tree[names[3]].to_dataset()
    assert xas.intensity.dims == ("photon_energy",) and float(xas.photon_energy[0]) == 525
    assert "scaling" in xas


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "In-situ_PBTTT_XPS_SPECS.xml",
            {"Survey": (1403, 472, 11, 367235, 367235), "C1s": (201, 130.5, 81.0, 53073.5, 106147)},
        ),
        (
            "In-situ_PBTTT_XPS_SPECS.full.xml",
            {
                "1 Survey": (1403, 245, 12, 295049, 295049),
                "2 C1s": (201, None, None, 48598.1, 485981),
                "3 S 2p": (281, None, None, 11141.4, 167121),
            },
        ),
    ],
)
def test_specs_xml_head_cut_reproduces_pynxtools(name, expected):
    tree = specfit.read(corpus_path("xps", "specs_xml", name), channel_alignment="head_cut")
    for region, (n, first, last, stored_sum, raw_sum) in expected.items():
        ds = tree[region].to_dataset()
        y = ds.intensity.values
        assert ds.sizes["binding_energy"] == n
        if first is not None:
            assert (y[0], y[-1]) == (first, last)
        assert y.sum() == pytest.approx(stored_sum) and float(ds.scan_counts.sum()) == raw_sum
        assert ds.attrs["excitation_energy_ev"] == 1253.6 and ds.attrs["channel_alignment"] == "head_cut"


def test_specs_xml_energy_axis_and_channel_shift():
    tree = specfit.read(corpus_path("xps", "specs_xml", "In-situ_PBTTT_XPS_SPECS.xml"))
    survey, c1s = tree["Survey"].to_dataset(), tree["C1s"].to_dataset()
    # the XML's scan start is a kinetic energy (553.6 eV at hν 1253.6 eV = 700 eV BE);
    # pynxtools' "701 -> -0.5" adds 1 eV and stretches the step
    assert survey.kinetic_energy[0] == 553.6 and survey.binding_energy[0] == 700.0
    assert survey.binding_energy[-1] == pytest.approx(-1.0)
    assert c1s.binding_energy[0] == 290.0 and c1s.binding_energy[-1] == pytest.approx(280.0)
    assert c1s.attrs["pass_energy_ev"] == 20 and c1s.attrs["scans"] == 2 and c1s.attrs["channel_alignment"] == "shift"
    assert c1s.scan_counts.dims == ("cycle", "scan", "binding_energy")
    np.testing.assert_allclose(c1s.intensity, c1s.scan_counts.mean(("cycle", "scan")))
    # shifting channels moves counts between neighbouring steps but never loses a count inside
    # the region: the aligned totals differ from the head-cut ones by < 1 %
    cut = specfit.read(corpus_path("xps", "specs_xml", "In-situ_PBTTT_XPS_SPECS.xml"), channel_alignment="head_cut")
    assert float(c1s.intensity.sum()) == pytest.approx(float(cut["C1s"].ds.intensity.sum()), rel=0.01)
    # the C 1s peak of the aligned channels is narrower or equal (channels add up in phase)
    a = c1s.intensity.values - c1s.intensity.values.min()
    b = cut["C1s"].ds.intensity.values - cut["C1s"].ds.intensity.values.min()
    assert (a > a.max() / 2).sum() <= (b > b.max() / 2).sum()
    assert original_metadata(c1s)["mcd_head"] == 33


def test_damaged_xy_row(tmp_path):
    text = corpus_path("xps", "specs_xy", "mm-specs.xy").read_text()
    lines = text.splitlines()
    k = next(i for i, ln in enumerate(lines) if ln and not ln.startswith("#")) + 5
    lines[k] = "12.5 abc 1"
    (tmp_path / "bad.xy").write_text("\n".join(lines))
    with pytest.raises(CorruptFileError) as info:
        specfit.read(tmp_path / "bad.xy")
    assert info.value.line == k + 1


def _synthetic_xy(tmp_path, cycles: int, scans: int, curves: int = 1, drop: tuple[int, int] | None = None):
    header = corpus_path("xps", "specs_xy", "MgFe2O4_small.xy").read_text().split("# Cycle: 0")[0]
    header = header.replace("Values/Curve:                 1351", "Values/Curve:                 3")
    parts = [header]
    expected = np.full((cycles, scans, curves, 3), np.nan)
    for cycle in range(cycles):
        parts.append(f"# Cycle: {cycle}\n#\n# Number of Scans: {scans}\n\n")
        for scan in range(scans):
            if (cycle, scan) == drop:
                continue
            for curve in range(curves):
                parts.append(f"# Cycle: {cycle}, Curve: {curve}, Scan: {scan}\n#\n# ColumnLabels: energy counts/s\n#\n")
                for k, be in enumerate((102.0, 101.0, 100.0)):
                    value = 1000 * cycle + 100 * scan + 10 * curve + k
                    expected[cycle, scan, curve, k] = value
                    parts.append(f"{be}  {value}\n")
                parts.append("\n")
    path = tmp_path / "scans.xy"
    path.write_text("".join(parts))
    return path, expected


def test_xy_separate_scans_and_cycles(tmp_path):
    path, expected = _synthetic_xy(tmp_path, 2, 2)
    ds = specfit.read(path)["Survey"].to_dataset()
    assert ds.intensity.dims == ("cycle", "scan", "binding_energy")
    np.testing.assert_array_equal(ds.intensity, expected[:, :, 0])
    np.testing.assert_array_equal(ds.binding_energy, [102.0, 101.0, 100.0])
    assert ds.attrs["missing_curves"] == 0


def test_xy_several_curves_and_an_interrupted_scan(tmp_path):
    path, expected = _synthetic_xy(tmp_path, 1, 3, curves=2, drop=(0, 2))
    ds = specfit.read(path)["Survey"].to_dataset()
    assert ds.intensity.dims == ("scan", "index", "binding_energy")
    np.testing.assert_array_equal(ds.intensity, expected[0])  # the missing scan stays NaN
    assert ds.attrs["missing_curves"] == 2
