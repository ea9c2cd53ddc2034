"""Raman readers on the real corpus files (../shared/corpus/raman), checked against EXPECTED.md and
peer_readings.json (rosettasciio 0.15.0, rohanisaac/spc, pynxtools-raman, ramanchada2)."""

from __future__ import annotations

import json
import logging
import warnings

import numpy as np
import pytest

import specfit
from specfit.conventions import leaves, original_metadata, spectral_axis, validate
from specfit.errors import ReadError
from tests.conftest import CORPUS, corpus_files, corpus_path, ids

pytestmark = pytest.mark.corpus

RAMAN_FILES = corpus_files("raman")
# plain two-column exports that carry nothing saying what their columns are: read with the hint
HEADERLESS = {
    "horiba_txt/PST10_iR785_OP01_8000msx8.txt",
    "renishaw_txt/PST_Reflex532_Z050_010_10000msx2.txt",
    "vendor_txt/PST02_Zolix785_Probe_070_190ms.txt",
}


def _read(*parts: str, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return specfit.read(corpus_path("raman", *parts), **kwargs)


def _only(tree):
    found = list(leaves(tree))
    assert len(found) == 1, [p for p, _ in found]
    return found[0][1]


def _peer(relative: str) -> dict:
    return json.loads((CORPUS / "peer_readings.json").read_text())[relative]


@pytest.mark.parametrize("path", RAMAN_FILES, ids=ids(RAMAN_FILES))
def test_every_raman_file_reads_or_says_why(path):
    rel = str(path.relative_to(CORPUS / "raman"))
    hint = "raman" if rel in HEADERLESS else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = specfit.read(path, technique=hint)
    validate(tree)
    found = list(leaves(tree))
    assert found
    for _, ds in found:
        axis = spectral_axis(ds)
        assert ds.sizes[axis] >= 2
        assert np.isfinite(ds["intensity"].values).any()
        assert ds.attrs["source_file"] == path.name
        json.loads(ds.attrs.get("original_metadata", "{}") or "{}")


def test_headerless_text_needs_a_hint():
    with pytest.raises(ReadError, match="technique"):
        specfit.read(corpus_path("raman", "renishaw_txt", "PST_Reflex532_Z050_010_10000msx2.txt"))


# --------------------------------------------------------------------------------------------
# Renishaw WiRE (.wdf) against rosettasciio's tests and peer readings
# --------------------------------------------------------------------------------------------

WDF_FILES = corpus_files("raman/renishaw_wdf", "*.wdf")


@pytest.mark.parametrize("path", WDF_FILES, ids=ids(WDF_FILES))
def test_wdf_matches_rosettasciio_peer_reading(path):
    peer = _peer(str(path.relative_to(CORPUS)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = _only(specfit.read(path))
    data = ds["intensity"]
    assert list(data.shape) == peer["shape"]
    np.testing.assert_allclose(float(data.sum()), peer["sum"], rtol=1e-6)
    flat = data.values.reshape(-1)
    np.testing.assert_allclose([flat[0], flat[-1]], [peer["first"], peer["last"]], rtol=1e-6)
    spectral = peer["axes"][-1]
    native = ds["wavelength"] if "wavelength" in ds.coords else ds[spectral_axis(ds)]
    np.testing.assert_allclose([native.values[0], native.values[-1]], [spectral["first"], spectral["last"]], rtol=1e-6)


def test_wdf_single_spectrum_values_and_metadata():
    ds = _only(_read("renishaw_wdf", "renishaw_test_spectrum.wdf"))
    y = ds["intensity"].values
    np.testing.assert_allclose(y[:6], [65.36617, 67.51018, 60.00703, 62.75381, 64.59786, 61.309525], rtol=1e-6)
    np.testing.assert_allclose(y[-6:], [63.337173, 64.90067, 61.871353, 59.75822, 67.45442, 68.10285], rtol=1e-6)
    # stored wavelength kept as coordinate; the index is the Raman shift from the 325 nm laser
    np.testing.assert_allclose(
        ds["wavelength"].values[:6], [326.01633, 326.101, 326.18573, 326.27042, 326.35513, 326.43985], atol=1e-4
    )
    assert ds.attrs["laser_wavelength_nm"] == pytest.approx(325.0, abs=1e-3)
    shift = 1e7 / ds.attrs["laser_wavelength_nm"] - 1e7 / ds["wavelength"].values
    np.testing.assert_allclose(ds["raman_shift"].values, shift)
    assert ds["raman_shift"].attrs["units"] == "cm-1"
    assert ds.attrs["acquired_at"] == "2022-02-16T13:01:31"
    assert ds.attrs["title"] == "Single scan measurement 7"
    assert ds.attrs["detector"] == "Renishaw Centrus 2URV61"
    assert ds.attrs["detector_temperature_c"] == -70
    assert ds.attrs["frames"] == 2
    assert ds.attrs["integration_time_s"] == 360
    assert ds.attrs["grating_lines_per_mm"] == 1200
    meta = original_metadata(ds)
    assert meta["metadata"]["Acquisition_instrument"]["Detector"]["processing"]["cosmic_ray_removal"] == 1


def test_wdf_linescan_map_zscan():
    line = _only(_read("renishaw_wdf", "renishaw_test_linescan.wdf"))
    assert line["intensity"].dims == ("x", "raman_shift")
    assert line["intensity"].shape == (5, 40)
    np.testing.assert_allclose(line["x"].values, [0, 30, 60, 90, 120])
    np.testing.assert_allclose(line["intensity"].values[0, :4], [0.0, 1.1029433, 1.1034185, 0.0], rtol=1e-6)

    grid = _only(_read("renishaw_wdf", "renishaw_test_map.wdf"))
    assert grid["intensity"].dims == ("y", "x", "raman_shift")
    assert grid["intensity"].shape == (3, 3, 47)
    np.testing.assert_allclose(grid["x"].values, [-100, 0, 100])
    np.testing.assert_allclose(grid["y"].values, [-100, 0, 100])
    assert np.mean(np.diff(grid["wavelength"].values)) == pytest.approx(0.0848807, rel=1e-4)

    z = _only(_read("renishaw_wdf", "renishaw_test_zscan.wdf"))
    assert z["intensity"].dims == ("z", "raman_shift")
    np.testing.assert_allclose(z["z"].values, -10 + 0.5 * np.arange(40))
    assert "wavelength" not in z.coords  # stored as Raman shift already
    first = z["intensity"].values[0]
    assert np.all(first[:3] == 0) and np.all(first[-3:] == 0)
    assert z.attrs["measurement_type"] == "Series"

    undefined = _only(_read("renishaw_wdf", "renishaw_test_undefined.wdf"))
    assert undefined.attrs["measurement_type"] == "Unspecified"
    assert undefined.attrs["axis_assumed"] == 1
    assert "does not say" in undefined.attrs["axis_note"]


def test_wdf_time_series_and_focus_track():
    ts = _only(_read("renishaw_wdf", "renishaw_test_timeseries.wdf"))
    assert ts["intensity"].dims == ("time", "raman_shift")
    np.testing.assert_allclose(ts["intensity"].values[0, :3], [3714.725, 3475.6548, 3458.7114], rtol=1e-6)
    np.testing.assert_allclose(ts["intensity"].values[-1, -3:], [5167.7383, 5379.82, 5174.1406], rtol=1e-6)
    # rosettasciio's step is 30665045 "ns"; WiRE's unit is the 100-ns FILETIME tick: 3.0665 s, which is
    # what fits the file's start/end stamps (13:47:26 -> 13:47:34 for three 1-s spectra)
    np.testing.assert_allclose(np.diff(ts["time"].values), 3.0665045, rtol=1e-6)
    header = original_metadata(ts)["original_metadata"]["WDF1_1"]
    assert header["time_start"].endswith("13:47:26") and header["time_end"].endswith("13:47:34")

    ft = _only(_read("renishaw_wdf", "renishaw_test_focustrack.wdf"))
    np.testing.assert_allclose(ft["intensity"].values[0, :3], [1.4015186, 1.402039, -0.7012797], rtol=1e-6)
    np.testing.assert_allclose(ft["intensity"].values[-1, -3:], [4.8724666, 5.8486896, 3.8991265], rtol=1e-6)
    assert ft["intensity"].dims[0] == "time"
    assert "focus track" in ft.attrs["series_note"]

    inv = _only(_read("renishaw_wdf", "renishaw_test_focustrack_invariant.wdf"))
    assert inv["intensity"].shape == (10, 1010)


def test_wdf_exposure_and_accumulations():
    expected = {"exptime1_acc1": (1, 1), "exptime10_acc1": (1, 10), "exptime1_acc2": (2, 2)}
    for stem, (frames, integration) in expected.items():
        ds = _only(_read("renishaw_wdf", f"renishaw_test_{stem}.wdf"))
        assert ds.attrs["frames"] == frames
        assert ds.attrs["integration_time_s"] == pytest.approx(integration)


def test_wdf_interrupted_map_warns_and_keeps_shape():
    path = corpus_path("raman", "renishaw_wdf", "interrupted_acquisition.wdf")
    logging.getLogger("rsciio").setLevel(logging.ERROR)
    with pytest.warns(UserWarning, match="unfinished measurement"):
        ds = _only(specfit.read(path))
    assert ds["intensity"].shape == (3, 4, 1010)
    assert ds.attrs["acquisition_complete"] == 0
    assert ds.attrs["spectra_acquired"] == 12
    assert ds.attrs["spectra_planned"] == 16


def test_wire_txt_and_wdf_of_the_same_measurement_agree():
    wdf = _only(_read("renishaw_wdf", "nCal_Qontor785_z005H12_100_1x3s.wdf"))
    txt = _only(_read("renishaw_txt", "nCal_Qontor785_z005H12_100_1x3s.txt"))
    assert txt.attrs["source_format"] == "renishaw_txt"
    assert wdf.sizes["raman_shift"] == txt.sizes["raman_shift"] == 1021
    txt_sorted = txt.sortby("raman_shift")  # the export is written in descending order
    np.testing.assert_allclose(txt_sorted["raman_shift"].values, wdf["raman_shift"].values, atol=1e-5)
    np.testing.assert_allclose(txt_sorted["intensity"].values, wdf["intensity"].values, atol=1e-5, rtol=0)
    assert wdf["raman_shift"].values[[0, -1]] == pytest.approx([-154.501953, 1111.108398], abs=1e-5)
    assert wdf.attrs["laser_wavelength_nm"] == pytest.approx(785.0156, abs=1e-4)
    assert float(wdf["intensity"].sum()) == pytest.approx(2460496.65, abs=0.5)


def test_wire_spc_exports_are_resampled_not_native():
    """WiRE's SPC is an even re-sampling of the native axis: equal endpoints, interpolated inside."""
    for stem, folder, rel_tol in (
        ("nCal_Qontor785_z005H12_100_1x3s", "renishaw_txt", 1.4e-5 * 1.01),
        ("PST_Reflex532_Z050_010_10000msx2", "renishaw_txt", 3.3e-4 * 1.01),
    ):
        spc = _only(_read("galactic_spc", f"{stem}.spc"))
        native = _only(_read(folder, f"{stem}.txt", technique="raman")).sortby("raman_shift")
        spc = spc.sortby("raman_shift")
        x_spc = spc["raman_shift"].values
        assert np.allclose(np.diff(x_spc), np.diff(x_spc)[0], rtol=1e-3)  # evenly spaced
        assert not np.allclose(np.diff(native["raman_shift"].values), np.diff(x_spc)[0], rtol=1e-3)
        assert spc["intensity"].values[0] == pytest.approx(native["intensity"].values[0], rel=1e-6)
        assert spc["intensity"].values[-1] == pytest.approx(native["intensity"].values[-1], rel=1e-6)
        interp = np.interp(x_spc, native["raman_shift"].values, native["intensity"].values)
        rel = np.max(np.abs(spc["intensity"].values - interp) / np.abs(interp).max())
        assert rel < rel_tol


# --------------------------------------------------------------------------------------------
# HORIBA LabSpec XML and text; TriVista
# --------------------------------------------------------------------------------------------

XML_FILES = corpus_files("raman/horiba_xml", "*.xml")


@pytest.mark.parametrize("path", XML_FILES, ids=ids(XML_FILES))
def test_labspec_xml_matches_rosettasciio_peer_reading(path):
    peer = _peer(str(path.relative_to(CORPUS)))
    ds = _only(specfit.read(path))
    assert list(ds["intensity"].shape) == peer["shape"]
    assert float(ds["intensity"].sum()) == pytest.approx(peer["sum"], rel=1e-9)
    flat = ds["intensity"].values.reshape(-1)
    assert [flat[0], flat[-1]] == pytest.approx([peer["first"], peer["last"]])
    native_name = {"Wavelength": "wavelength", "Wavenumber": "wavenumber", "Energy": "photon_energy"}
    spectral = peer["axes"][-1]
    coord = native_name.get(spectral["name"], "raman_shift")
    values = ds[coord].values
    assert [values[0], values[-1]] == pytest.approx([spectral["first"], spectral["last"]])


def test_labspec_xml_metadata_and_units():
    spec = _only(_read("horiba_xml", "jobinyvon_test_spec.xml"))
    assert spec["intensity"].attrs["units"] == "counts/s"
    assert spec.attrs["detector"] == "Symphony VIS"
    assert spec.attrs["detector_temperature_c"] == pytest.approx(-118.94)
    assert spec.attrs["frames"] == 2 and spec.attrs["integration_time_s"] == 2
    assert spec.attrs["acquired_at"] == "2022-06-27T16:26:24"
    np.testing.assert_allclose(np.diff(spec["wavelength"].values).mean(), 0.4481, rtol=2e-3)
    # 522-537 nm with a stated 632.8 nm laser: photoluminescence, not convertible to a Stokes shift
    assert spectral_axis(spec) == "wavelength"
    assert "anti-Stokes" in spec.attrs["axis_note"]

    counts = _only(_read("horiba_xml", "jobinyvon_test_spec_3s_counts.xml"))
    assert counts["intensity"].attrs["units"] == "counts"
    rotated = _only(_read("horiba_xml", "jobinyvon_test_map_x2-y2_rotated.xml"))
    assert rotated.attrs["stage_rotation_deg"] == pytest.approx(-30.499833233447433)
    assert rotated["intensity"].dims == ("y", "x", "raman_shift")
    glued = _only(_read("horiba_xml", "jobinyvon_test_spec_range.xml"))
    assert glued["intensity"].values[[0, -1]] == pytest.approx([238, 254.265])


def test_labspec_xml_one_acquisition_in_four_units_gives_one_raman_shift_axis():
    """The 3-s spectrum exported as Raman shift, absolute wavenumber, eV and nm (counts): converting the
    native axes with the file's laser line reproduces LabSpec's own Raman-shift axis."""
    ref = np.sort(_only(_read("horiba_xml", "jobinyvon_test_spec_3s_cm-1.xml"))["raman_shift"].values)
    assert ref[[0, -1]] == pytest.approx([1930.57, 2844.97])
    for name, tol in (("abs-cm-1", 0.06), ("counts", 0.02), ("eV", 1.9)):
        ds = _only(_read("horiba_xml", f"jobinyvon_test_spec_3s_{name}.xml"))
        assert spectral_axis(ds) == "raman_shift"
        # LabSpec's eV export is off by 1.8 cm-1 (1.4e-4 relative) from its own shift axis: it uses
        # another photon-energy constant or vacuum wavelengths; measured here, hence the looser bound
        assert np.max(np.abs(np.sort(ds["raman_shift"].values) - ref)) < tol


def test_labspec_txt_export_is_the_l6s_reference():
    ds = _only(_read("horiba_txt", "PST10_iR785_OP01_8000msx8.txt", technique="raman"))
    assert ds.sizes["raman_shift"] == 1024
    assert ds["raman_shift"].values[[0, -1]] == pytest.approx([168.216, 3281.89])
    assert ds["intensity"].values[[0, -1]] == pytest.approx([2152.87, 1024.38])
    forced = _only(_read("horiba_txt", "PST10_iR785_OP01_8000msx8.txt", format="horiba_txt"))
    np.testing.assert_array_equal(forced["intensity"].values, ds["intensity"].values)
    assert forced.attrs["source_format"] == "horiba_txt"


# --------------------------------------------------------------------------------------------
# Native files with no open reader (HORIBA .l6s, Renishaw .wxd), against the vendors' own exports
# --------------------------------------------------------------------------------------------


def _native_equals_export(native: tuple[str, str], export: tuple[str, str], points: int):
    """The decoded native file against the vendor's two-column text export of the same spectrum: same
    points, axis and intensity equal to the export's 6 significant digits. Returns the leaf."""
    ds = _only(_read(*native))
    ref = np.loadtxt(corpus_path("raman", *export))
    assert ds.attrs["source_format"] == native[0]
    assert ds.sizes["raman_shift"] == points == len(ref)
    np.testing.assert_allclose(ds["raman_shift"].values, ref[:, 0], rtol=5e-6, atol=0)
    np.testing.assert_allclose(ds["intensity"].values, ref[:, 1], rtol=5e-6, atol=0)
    return ds


def test_l6s_equals_labspec_text_export_of_the_same_spectrum():
    """LabSpec's export writes 6 significant digits: the decoded float32 values agree to that."""
    name = "PST10_iR785_OP01_8000msx8"
    ds = _native_equals_export(("horiba_l6s", f"{name}.l6s"), ("horiba_txt", f"{name}.txt"), 1024)
    assert ds["intensity"].attrs["units"] == "counts"
    # 8000 ms x 8 accumulations, as the file name says; LabSpec's clock shows 1:05 for the whole run
    assert ds.attrs["exposure_per_frame_s"] == 8.0 and ds.attrs["frames"] == 8
    assert ds.attrs["acquired_at"] == "2022-01-26T12:09:35"
    params = original_metadata(ds)["parameters"]
    assert params["Acq. time (s)"] == {"value": 8.0, "unit": "s"}
    assert params["Detector temperature (°C)"]["value"] == pytest.approx(-60.1)
    assert params["Grating"]["position"] == 300.0


def test_wxd_equals_wire_text_export_of_the_same_spectrum():
    # the native (non-uniform) axis, in the file's descending order, like the export
    name = "PST_Reflex532_Z050_010_10000msx2"
    ds = _native_equals_export(("renishaw_wxd", f"{name}.wxd"), ("renishaw_txt", f"{name}.txt"), 2578)
    assert ds["raman_shift"].values[[0, -1]] == pytest.approx([3501.0625, 100.2655], abs=1e-3)
    # 532 nm laser, 10000 ms x 2 as the file name says
    assert ds.attrs["laser_wavelength_nm"] == pytest.approx(1e7 / 18793.0)
    assert ds.attrs["exposure_per_frame_s"] == 10.0 and ds.attrs["frames"] == 2
    assert ds.attrs["acquired_at"] == "2021-11-18T11:28:36"
    props = original_metadata(ds)["properties"]
    assert props["dataListLabels1"] == "Raman shift / cm-1"
    grating = props["CalibrationState"]["Gratings"]["1800 l/mm (vis)"]["532 nm edge"]
    assert grating["Groove Density (lines/mm)"] == 1800


def test_wxd_spectrum_is_the_spc_export_resampled():
    """WiRE's SPC export holds the same spectrum re-sampled onto an even 1 cm-1 grid: interpolating the
    decoded native spectrum onto that grid reproduces it (to 1% of the signal at every point)."""
    native = _only(_read("renishaw_wxd", "PST_Reflex532_Z050_010_10000msx2.wxd"))
    spc = _only(_read("galactic_spc", "PST_Reflex532_Z050_010_10000msx2.spc"))
    x = native["raman_shift"].values[::-1]
    y = native["intensity"].values[::-1]
    grid = spc["raman_shift"].values
    inside = (grid >= x[0]) & (grid <= x[-1])
    resampled = np.interp(grid[inside], x, y)
    assert np.max(np.abs(resampled - spc["intensity"].values[inside]) / np.abs(spc["intensity"].values[inside])) < 0.01


def test_trivista_values():
    spec = _only(_read("trivista_tvf", "spec_1s_1acc_1frame_average.tvf"))
    assert spec.sizes[spectral_axis(spec)] == 1024
    np.testing.assert_allclose(spec["intensity"].values[:5], [27732, 39135, 35343, -420, 32464])
    np.testing.assert_allclose(
        spec["wavelength"].values[:3], [794.220731002166, 794.261531331698, 794.302331149879], rtol=1e-12
    )
    assert spec.attrs["acquired_at"] == "2022-06-14T13:34:27"
    assert "SP-2-750i" in spec.attrs["instrument"]

    acc = _only(_read("trivista_tvf", "spec_3s_2acc_1frame_no_average.tvf"))
    assert acc.attrs["exposure_per_frame_s"] == 3 and acc.attrs["integration_time_s"] == 6

    ts = _only(_read("trivista_tvf", "spec_timeseries_2x1s_delta3s.tvf"))
    assert ts["intensity"].dims == ("time", "raman_shift")
    np.testing.assert_allclose(ts["intensity"].values[0, :5], [27381, 39153, 35022, -425, 32430])
    np.testing.assert_allclose(ts["intensity"].values[1, :5], [27449.5, 38971.5, 35168.5, -425, 32484.5])
    assert ts["time"].values[1] == pytest.approx(4.04, abs=0.01)
    assert ts["wavelength"].values[0] == pytest.approx(934, abs=0.5)
    assert ts.attrs["laser_wavelength_nm"] == 790

    line = _only(_read("trivista_tvf", "linescan.tvf"))
    assert line["intensity"].dims == ("x", "wavelength")  # no laser line in the file: axis kept
    np.testing.assert_allclose(line["intensity"].values[0, :5], [448, 482, 433, 407, 379])
    np.testing.assert_allclose(line["intensity"].values[-1, -5:], [430, 437, 378, 408, 488])

    grid = _only(_read("trivista_tvf", "map.tvf"))
    assert grid["intensity"].dims == ("y", "x", "wavelength")
    v = grid["intensity"].values
    np.testing.assert_allclose(v[0, 0, :5], [531, 499, 442, 446, 460])
    np.testing.assert_allclose(v[0, 1, :5], [532, 516, 425, 438, 433])  # (x=1, y=0)
    np.testing.assert_allclose(v[1, 0, :5], [525, 498, 447, 433, 452])
    np.testing.assert_allclose(v[-1, -1, -5:], [452, 478, 687, 1320, 1145])


# --------------------------------------------------------------------------------------------
# Galactic SPC (own parser) against rohanisaac/spc's reference dumps
# --------------------------------------------------------------------------------------------


def test_spc_reference_dumps():
    raman = _only(_read("galactic_spc", "RAMAN.SPC"))
    assert raman.sizes["raman_shift"] == 3632
    assert raman["raman_shift"].values[[0, -1]] == pytest.approx([3996.82324219, -3005.95605469])
    assert raman["intensity"].values[[0, -1]] == pytest.approx([0.0171021223068, 0.0320769548416], rel=1e-9)

    sxy = _only(_read("galactic_spc", "s_xy.spc"))
    assert sxy.attrs["x_unit"] == "minutes" and sxy.attrs["technique"] == "other"
    assert sxy["sputter_time"].values[[0, -1]] / 60 == pytest.approx([1.08666670322, 6.01716661453])
    assert sxy["intensity"].values[[0, -1]] == pytest.approx([45333.0, 22761.0])

    evenx = _only(_read("galactic_spc", "s_evenx.spc"))
    assert evenx.sizes["wavenumber"] == 1844
    assert evenx["wavenumber"].values[[0, -1]] == pytest.approx([447.484069824, 4002.28173828])
    assert evenx["intensity"].values[[0, -1]] == pytest.approx([0.00805061962456, 0.00585465785116], rel=1e-9)

    evenz = _only(_read("galactic_spc", "m_evenz.spc"))
    assert evenz["intensity"].shape == (32, 171)
    assert evenz["wavelength"].values[[0, -1]] == pytest.approx([200.0, 800.0])
    assert np.all(evenz["intensity"].values[:, [0, -1]] == 0)


def test_spc_old_format_multifile():
    """m_ordz.spc is an old-format (0x4D) file that spc-io and spc-spectra cannot read."""
    ordz = _only(_read("galactic_spc", "m_ordz.spc"))
    assert original_metadata(ordz)["format"] == "old (0x4D)"
    assert ordz["intensity"].shape == (10, 857)
    assert ordz["wavenumber"].values[[0, -1]] == pytest.approx([698.229736328, 4000.35473633])
    assert ordz["intensity"].values[0, 0] == pytest.approx(0.0221936702728, rel=1e-9)
    assert ordz["intensity"].values[0, -1] == pytest.approx(0.150000602007, rel=1e-9)


def test_spc_xyxy_multifile():
    tree = _read("galactic_spc", "m_xyxy.spc")
    subs = [ds for _, ds in leaves(tree)]
    assert len(subs) == 512
    assert sum(ds.sizes["mass"] for ds in subs) == 4344  # subfile point counts of the directory
    assert subs[0]["intensity"].values[0] == 6823 and subs[-1]["intensity"].values[-1] == 11019
    assert subs[0]["mass"].values[0] == pytest.approx(43.9, abs=1e-5)
    # the reference dump lists x = 16943.6 here: the float32 bits of 43.9 read as an integer and
    # scaled by 2**(16-32) (an integer-X bug of the dump), not a different reading of the data
    assert np.float32(43.9).view(np.int32) * 2.0**-16 == pytest.approx(16943.6000061, abs=1e-6)
    assert subs[0].attrs["subfile_z"] == pytest.approx(1.0866667, rel=1e-6)


def test_spc_raman_exports():
    bwtek = _only(_read("galactic_spc", "PST10_iR532_Probe_100_3000msx7.spc"))
    assert bwtek.sizes["raman_shift"] == 3808
    assert bwtek["raman_shift"].values[[0, -1]] == pytest.approx([175, 3982])
    np.testing.assert_allclose(np.diff(bwtek["raman_shift"].values), 1.0, rtol=1e-9)
    witec = _only(_read("galactic_spc", "PST_WITEcAlpha532_100x_075_10000ms_000_Spec.Data 1.spc"))
    assert witec.sizes["raman_shift"] == 1600
    assert witec["raman_shift"].values[[0, -1]] == pytest.approx([-37.9, 3731.9], abs=0.05)
    qontor = _only(_read("galactic_spc", "nCal_Qontor785_z005H12_100_1x3s.spc"))
    assert qontor["intensity"].values[0] == pytest.approx(1729.16064, rel=1e-7)
    assert original_metadata(qontor)["experiment"] == "fluorescence"
    inv = _only(_read("galactic_spc", "PST_Reflex532_Z050_010_10000msx2.spc"))
    assert inv["intensity"].values[[0, -1]] == pytest.approx([930.534, 4307.0], rel=1e-6)


# --------------------------------------------------------------------------------------------
# Other formats
# --------------------------------------------------------------------------------------------


def test_princeton_spe():
    wv = _only(_read("princeton_spe", "1d-1.spe"))
    assert spectral_axis(wv) == "wavelength"  # WinSpec 2.2 file without a laser line
    assert wv.sizes["wavelength"] == 1340
    # the header's own calibration points: pixel 1 -> 515.0791, 670.5 -> 535.0, 1340 -> 554.6448 nm
    x = wv["wavelength"].values
    assert x[0] == pytest.approx(515.0790773100224, abs=1e-9)
    assert x[-1] == pytest.approx(554.644846922672, abs=1e-9)
    assert np.interp(670.5, np.arange(1, 1341), x) == pytest.approx(535.0, abs=1e-6)
    lf = _only(_read("princeton_spe", "S0N_50x.spe"))
    assert original_metadata(lf)["spe_version"] == 3.0
    assert lf.attrs["laser_wavelength_nm"] == pytest.approx(531.988)
    assert lf["wavelength"].values[0] == pytest.approx(534.00047611653622)
    assert lf["intensity"].dtype.kind == "f" and lf.sizes["raman_shift"] == 1340
    assert "Frame" in json.dumps(original_metadata(lf)["footer"]) or original_metadata(lf)["footer"]


def test_phi_spe_is_not_claimed_by_the_princeton_reader():
    from specfit.io.registry import SNIFF_BYTES, get_reader

    reader = get_reader("princeton_spe")
    for path in corpus_files("xps/phi_spe", "*.spe"):
        head = path.read_bytes()[:SNIFF_BYTES]
        assert reader.sniff(head, path) == 0.0, path.name
    for path in corpus_files("raman/princeton_spe", "*.spe"):
        assert reader.sniff(path.read_bytes()[:SNIFF_BYTES], path) >= 0.9


def test_rod():
    ds = _only(_read("rod", "rod_file_1000679.rod"))
    assert ds.sizes["raman_shift"] == 1159
    assert ds["raman_shift"].values[:3] == pytest.approx([50.0, 51.262, 52.523])
    assert ds["intensity"].values[:3] == pytest.approx([429, 438, 441])
    assert ds.attrs["rod_code"] == "1000679"
    assert ds.attrs["doi"] == "10.2465/jmps.111020i"
    assert ds.attrs["laser_wavelength_nm"] == 488
    items = original_metadata(ds)["items"]
    assert items["_journal_page_first"] == "114" and items["_journal_page_last"] == "119"
    assert items["_journal_year"] == "2012"


def test_bruker_opus():
    pytest.importorskip("brukeropus")
    ds = _only(_read("bruker_opus", "test_opus.0"))
    assert ds.sizes["raman_shift"] == 4096
    assert ds.attrs["laser_wavelength_nm"] == pytest.approx(1e7 / 9394.900390625)
    params = original_metadata(ds)
    assert params["block_parameters"]["npt"] == 4096
    # ramanchada2 counts 96 metadata entries: 84 file parameters + 10 block parameters + 2 of its own
    assert len(params["parameters"]) + len(params["block_parameters"]) == 94


def test_witec_bwtek_and_vendor_csv():
    witec = _only(_read("witec_txt", "Si-wafer-Raman-Spectrum-1.txt"))
    assert witec.sizes["wavelength"] == 1600  # no laser line in the file: the raw nm axis stays
    assert "no laser wavelength" in witec.attrs["axis_note"]
    header = original_metadata(witec)["header"]
    assert header["XAxisUnit"] == "nm" and header["DataUnit"] == "CCD cts" and header["SizeX"] == "1"
    assert float(header["PositionX"]) == pytest.approx(2.3283064365387e-8)
    y = witec["intensity"].values
    assert int((y == 65535).sum()) == 8  # the saturated laser line
    si = (witec["wavelength"] > 540).values
    peak = witec["wavelength"].values[si][np.argmax(y[si])]
    assert peak == pytest.approx(547.430, abs=1e-3) and y[si].max() == pytest.approx(34718.4, abs=0.1)
    converted = _only(
        _read("witec_txt", "Si-wafer-Raman-Spectrum-1.txt", format="witec_txt", laser_wavelength_nm=532.0)
    )
    si_shift = converted["raman_shift"].values[np.argmax(np.where(converted["wavelength"].values > 540, y, 0))]
    assert si_shift == pytest.approx(529.8, abs=0.1)

    bw = _only(_read("bwtek_txt", "PST10_iR532_Probe_100_3000msx7.txt"))
    assert bw.attrs["laser_wavelength_nm"] == pytest.approx(532.02)  # written "532,02"
    assert bw.attrs["exposure_per_frame_s"] == 3 and bw.attrs["frames"] == 7
    assert bw.sizes["raman_shift"] + bw.attrs["pixels_without_calibration"] == 2048
    assert bw["raman_shift"].values[0] == pytest.approx(145.99)
    assert bw["intensity"].values[0] == pytest.approx(5655.2857)  # 'Dark Subtracted #1'
    np.testing.assert_allclose(bw["raw"].values - bw["dark"].values, bw["intensity"].values, atol=2e-4)

    neegala = _only(_read("vendor_txt", "PST_532_SEX139.txt"))
    assert neegala.sizes["raman_shift"] == 2048
    assert neegala.attrs["laser_wavelength_nm"] == 532
    assert neegala.attrs["column"] == "Processed_Data"
    np.testing.assert_allclose(
        neegala["raw_data"].values - neegala["background_data"].values, neegala["intensity"].values
    )


ROUND_TRIP = [p for p in RAMAN_FILES if p.name != "m_xyxy.spc"]


@pytest.mark.parametrize("path", ROUND_TRIP, ids=ids(ROUND_TRIP))
def test_raman_readings_survive_specfit_storage_exactly(path, tmp_path):
    import xarray as xr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = specfit.read(path, technique="raman")
    specfit.save(tree, tmp_path / "out.h5")
    back = dict(leaves(specfit.load(tmp_path / "out.h5")))
    for node, ds in leaves(tree):
        xr.testing.assert_identical(ds, back[node])
