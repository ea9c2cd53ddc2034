"""XRD readers on the real corpus files (../shared/corpus/xrd), compared with EXPECTED.md §3 and peer readings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import CORPUS, corpus_files, corpus_path, ids

import specfit
from specfit.conventions import leaves, original_metadata, validate
from specfit.errors import ReadError, UnknownFormatError

pytestmark = pytest.mark.corpus

# formats read by dedicated readers; plain headerless columns need the technique hint
_PLAIN = {"panalytical_xy", "xy_csv", "rigaku_txt"}
XRD_FILES = corpus_files("xrd")


def _read(path: Path, **options) -> xr.DataTree:
    folder = path.relative_to(CORPUS / "xrd").parts[0]
    if folder in _PLAIN:
        options.setdefault("technique", "xrd")
    return specfit.read(path, **options)


def _only(tree: xr.DataTree) -> xr.Dataset:
    found = list(leaves(tree))
    assert len(found) == 1, [p for p, _ in found]
    return found[0][1]


@pytest.mark.parametrize("path", XRD_FILES, ids=ids(XRD_FILES))
def test_every_xrd_file_reads_and_validates(path: Path) -> None:
    tree = _read(path)
    validate(tree)
    for _, ds in leaves(tree):
        assert ds.attrs["technique"] == "xrd"
        assert "two_theta" in ds.intensity.dims
        assert ds.intensity.dims[-1] == "two_theta"
        # plain columns do not say what the intensity is: "arb" rather than a guess
        plain = ds.attrs["source_format"] in ("text", "pdcif")  # pdCIF says "intensity", not counts
        assert ds.intensity.attrs["units"] in (("arb",) if plain else ("counts", "counts/s"))
        assert 0.5 < ds.attrs["wavelength_angstrom"] < 2.5
        assert ds.attrs["wavelength_assumed"] in (0, 1)
        x = ds.two_theta.values
        assert np.all(np.diff(x) > 0), "2θ increases in every corpus file"
        assert np.isfinite(ds.intensity.values).all()


# ------------------------------------------------------------------------------------------ PANalytical


TWIN_VALUES = {"points": 4489, "first_angle": 5.00835563, "last_angle": 80.0085308, "first": 1719, "last": 288,
               "min": 244, "max": 10718, "max_at": 29.03916, "sum": 3375875}  # fmt: skip


@pytest.mark.parametrize(
    "parts",
    [("xrdml", "xrd.xrdml"), ("panalytical_csv", "210520step1_30min.csv"), ("panalytical_xy", "210520step1_30min.xy")],
    ids=["xrdml", "csv", "xy"],
)
def test_panalytical_twins_match_yadg_values(parts: tuple[str, str]) -> None:
    ds = _only(_read(corpus_path("xrd", *parts)))
    x, y = ds.two_theta.values, ds.intensity.values
    assert x.size == TWIN_VALUES["points"]
    assert x[0] == pytest.approx(TWIN_VALUES["first_angle"], abs=1e-6)
    assert x[-1] == pytest.approx(TWIN_VALUES["last_angle"], abs=1e-6)
    assert (y[0], y[-1], y.min(), y.max(), y.sum()) == (1719, 288, 244, 10718, 3375875)
    assert x[np.argmax(y)] == pytest.approx(TWIN_VALUES["max_at"], abs=1e-5)
    assert ds.intensity.attrs["units"] == ("arb" if parts[0] == "panalytical_xy" else "counts")


def test_panalytical_twins_agree_point_by_point() -> None:
    reads = [_only(_read(corpus_path("xrd", *p))) for p in
             [("xrdml", "xrd.xrdml"), ("panalytical_csv", "210520step1_30min.csv"),
              ("panalytical_xy", "210520step1_30min.xy")]]  # fmt: skip
    for other in reads[1:]:
        np.testing.assert_allclose(other.two_theta.values, reads[0].two_theta.values, atol=1e-8)
        np.testing.assert_array_equal(other.intensity.values, reads[0].intensity.values)
    xrdml, csv, xy = reads
    # what the files say about the source: Cu Kα1 1.540598, Kα2 1.544426, ratio 0 (Ge monochromator)
    for ds in (xrdml, csv):
        assert ds.attrs["wavelength_angstrom"] == 1.540598
        assert ds.attrs["kalpha2_ratio"] == 0.0
        assert ds.attrs["wavelength_assumed"] == 0
        assert ds.attrs["anode"] == "Cu"
    assert xrdml.attrs["wavelength_kalpha2_angstrom"] == 1.544426
    assert xrdml.attrs["voltage_kv"] == 45.0 and xrdml.attrs["current_ma"] == 40.0
    assert xrdml.attrs["counting_time_s"] == 50.165
    assert xrdml.attrs["acquired_at"] == "2021-05-20T15:55:51+02:00"  # yadg: Unix 1621518951
    assert csv.attrs["acquired_at"] == "2021-05-20T15:55:00"  # yadg: Unix 1621518900 (Europe/Berlin)
    # the plain .xy states nothing: the default is recorded as assumed
    assert xy.attrs["wavelength_assumed"] == 1
    assert xy.attrs["wavelength_angstrom"] == 1.540598
    assert xy.attrs["wavelength_kalpha2_angstrom"] == 1.544426
    assert xy.attrs["kalpha2_ratio"] == 0.5


def test_xrdml_matches_yadg_netcdf_reading() -> None:
    nc = corpus_path("xrd", "xrdml", "peer_readings", "xrd.xrdml.nc")
    peer = xr.open_datatree(nc, engine="h5netcdf")
    ours = _only(_read(corpus_path("xrd", "xrdml", "xrd.xrdml")))
    np.testing.assert_allclose(ours.two_theta.values, peer["angle"].values, rtol=0, atol=1e-8)
    np.testing.assert_array_equal(ours.intensity.values, peer["intensity"].values[0])
    x = ours.two_theta.values
    # yadg's angle uncertainty is the scan range divided by the number of points
    assert (x[-1] - x[0]) / x.size == pytest.approx(float(peer["angle_uncertainty"].values), rel=1e-9)
    assert float(peer["uts"].values[0]) == 1621518951.0


def test_wavelength_option_overrides() -> None:
    path = corpus_path("xrd", "panalytical_xy", "210520step1_30min.xy")
    ds = _only(specfit.read(path, technique="xrd", wavelength=1.5406))
    assert ds.attrs["wavelength_angstrom"] == 1.5406 and ds.attrs["wavelength_assumed"] == 0
    assert "wavelength_kalpha2_angstrom" not in ds.attrs
    ds = _only(specfit.read(corpus_path("xrd", "xrdml", "xrd.xrdml"), wavelength={"kalpha1": 0.7093, "ratio": 0.5}))
    assert ds.attrs["wavelength_angstrom"] == 0.7093 and ds.attrs["kalpha2_ratio"] == 0.5


def test_readers_xrd_oracle_continuous_scan() -> None:
    ds = _only(_read(corpus_path("xrd", "xrdml", "XRD-918-16_10.xrdml")))
    assert ds.sizes["two_theta"] == 5027
    assert ds["omega_position"].shape == (5027,)
    assert ds.attrs["scan_axis"] == "Gonio" and ds.attrs["measurement_type"] == "Scan"
    assert ds.attrs["sample_mode"] == "Reflection" and ds.attrs["scan_mode"] == "Continuous"
    assert (ds.attrs["anode"], ds.attrs["voltage_kv"], ds.attrs["current_ma"]) == ("Cu", 45.0, 40.0)
    assert ds.attrs["wavelength_angstrom"] == 1.540598
    assert ds.attrs["wavelength_kalpha2_angstrom"] == 1.544426
    assert ds.attrs["wavelength_kbeta_angstrom"] == 1.39225
    assert ds.attrs["kalpha2_ratio"] == 0.5
    assert ds.attrs["position_phi"] == 260.6


def test_xrdml_area_measurement_is_omega_by_two_theta() -> None:
    path = corpus_path("xrd", "xrdml", "m82762_rc1mm_1_16dg_src_slit_phi-101_3dg_-420_mesh_long.xrdml")
    ds = _only(_read(path))
    assert ds.intensity.dims == ("omega", "two_theta")
    assert ds.intensity.shape == (101, 255)
    assert ds.attrs["measurement_type"] == "Area measurement"
    omega = ds.omega.values
    assert omega[0] == pytest.approx(60.9727) and omega[1] == pytest.approx(60.9827)
    assert np.all(np.diff(omega) > 0)
    assert ds.two_theta.values[0] == pytest.approx(67.45053915)
    assert (ds.attrs["voltage_kv"], ds.attrs["current_ma"], ds.attrs["kalpha2_ratio"]) == (40.0, 40.0, 0.5)
    # the first scan's counts, straight from the file
    np.testing.assert_array_equal(ds.intensity.values[0, :5], [41, 34, 44, 36, 39])
    np.testing.assert_array_equal(ds.intensity.values[1, :5], [37, 48, 47, 42, 44])


def test_xrdml_attenuation_factors() -> None:
    # <counts> + factors: intensity = counts × factor, raw counts kept
    ds = _only(_read(corpus_path("xrd", "xrdml", "XRDML_alt.xrdml")))
    np.testing.assert_allclose(ds.intensity.values, ds.counts_raw.values * ds.beam_attenuation_factor.values)
    assert ds.counts_raw.values[0] == 20991 and ds.beam_attenuation_factor.values[0] == 182.0
    assert ds.intensity.values[0] == pytest.approx(20991 * 182.0)
    # <intensities> are already corrected by the Data Collector: taken as they are
    ds = _only(_read(corpus_path("xrd", "xrdml", "XRDML_attenuation.xrdml")))
    assert "counts_raw" not in ds
    assert ds.intensity.values[0] == 2628764 and ds.beam_attenuation_factor.values[0] == pytest.approx(131.32)


@pytest.mark.parametrize(
    "parts",
    [
        ("xrdml", "XRD-918-16_10.xrdml"),
        ("xrdml", "m54313_om2th_10.xrdml"),
        ("xrdml", "m82762_rc1mm_1_16dg_src_slit_phi-101_3dg_-420_mesh_long.xrdml"),
        ("bruker_brml", "23-012-AG_2thomegascan_long.brml"),
        ("rigaku_rasx", "Omega-2Theta_scan_high_temperature.rasx"),
        ("rigaku_rasx", "TwoTheta_scan_powder.rasx"),
        ("bruker_raw", "TwoTheta_scan_scrambled.raw"),
    ],
    ids=lambda p: p[1][:30],
)
def test_nomad_oracle_cu_tube_and_wavelength(parts: tuple[str, str]) -> None:
    for _, ds in leaves(_read(corpus_path("xrd", *parts))):
        assert ds.attrs["anode"] == "Cu"
        assert ds.attrs["wavelength_angstrom"] == pytest.approx(1.540598, rel=0.01)
        assert ds.attrs["wavelength_assumed"] == 0


# ---------------------------------------------------------------------------------------------- Bruker


def test_brml_readers_xrd_oracle() -> None:
    ds = _only(_read(corpus_path("xrd", "bruker_brml", "23-012-AG_2thomegascan_long.brml")))
    assert ds.sizes["two_theta"] == 2001
    assert ds.attrs["scan_axis"] == "TwoThetaOmegaScan"
    assert (ds.attrs["voltage_kv"], ds.attrs["current_ma"]) == (40.0, 40.0)
    assert ds.attrs["wavelength_angstrom"] == 1.5406
    assert ds.attrs["wavelength_kalpha2_angstrom"] == 1.54439
    assert ds.attrs["wavelength_kbeta_angstrom"] == 1.39222
    assert ds.attrs["kalpha2_ratio"] == 0.5
    x, y = ds.two_theta.values, ds.intensity.values
    assert (x[0], x[-1], ds.attrs["step_deg"]) == (44.0, 48.0, 0.002)
    # the file's own statistics of the recorded channel: maximum 495559.8 (counts already × absorber 8.3)
    assert y.max() == pytest.approx(495559.8)
    assert y[0] == 3 and y[-1] == 2
    assert set(np.unique(ds.absorption_factor.values)) == {1.0, 8.3}


def test_brml_attenuated_reflectivity() -> None:
    ds = _only(_read(corpus_path("xrd", "bruker_brml", "BRML_attenuation.brml")))
    assert ds.sizes["two_theta"] == 396
    assert ds.two_theta.values[0] == pytest.approx(0.2) and ds.two_theta.values[-1] == pytest.approx(4.15)
    assert ds.intensity.values.max() == 7330092  # the file's <Statistics Maximum=>
    ds = _only(_read(corpus_path("xrd", "bruker_brml", "BRML_alt.brml")))
    assert ds.sizes["two_theta"] == 3736
    assert ds.intensity.values.max() == 362555072  # <Statistics Maximum=> of MeasuredDataIndex 0
    assert ds["maxPixelCount"].values.max() == pytest.approx(533916.3125)


def test_bruker_raw_v3_equals_its_uxd_twin() -> None:
    raw = _only(_read(corpus_path("xrd", "bruker_raw", "BT86.raw")))
    uxd = _only(_read(corpus_path("xrd", "bruker_uxd", "BT86_.UXD")))
    assert raw.attrs["raw_version"] == 3
    assert raw.sizes["two_theta"] == uxd.sizes["two_theta"] == 2374
    np.testing.assert_array_equal(raw.intensity.values, uxd.intensity.values)
    # the UXD prints 2θ with 3 decimals below 10° and 2 above; the raw's step is 0.0155922
    np.testing.assert_allclose(raw.two_theta.values, uxd.two_theta.values, rtol=0, atol=5.001e-3)
    assert raw.intensity.values.sum() == 918372
    # the raw's "03/04/10" read as MM/DD/YY agrees with the UXD's "04-Mar-2010 20:59:14"
    assert raw.attrs["acquired_at"] == uxd.attrs["acquired_at"] == "2010-03-04T20:59:14"
    for ds in (raw, uxd):
        assert (ds.attrs["wavelength_angstrom"], ds.attrs["wavelength_kalpha2_angstrom"]) == (1.5406, 1.54439)
        assert ds.attrs["kalpha2_ratio"] == 0.5 and ds.attrs["anode"] == "Cu"
        assert (ds.attrs["voltage_kv"], ds.attrs["current_ma"], ds.attrs["counting_time_s"]) == (45.0, 40.0, 0.5)


def test_bruker_raw_v3_multi_range_and_v4() -> None:
    tree = _read(corpus_path("xrd", "bruker_raw", "format1.raw"))
    found = dict(leaves(tree))
    assert [ds.sizes["two_theta"] for ds in found.values()] == [101, 26, 51]
    assert [float(ds.two_theta.values[0]) for ds in found.values()] == [10.0, 30.0, 40.0]
    assert [float(ds.intensity.values.sum()) for ds in found.values()] == [873.0, 169.0, 390.0]
    v4 = _only(_read(corpus_path("xrd", "bruker_raw", "TwoTheta_scan_scrambled.raw")))
    assert v4.attrs["raw_version"] == 4 and v4.attrs["scan_axis"] == "Locked Coupled"
    assert v4.sizes["two_theta"] == 7134 and v4.two_theta.values[0] == 10.0
    assert v4.attrs["wavelength_angstrom"] == 1.5406 and v4.attrs["sample"].startswith("HeOx-1001")
    assert original_metadata(v4)["range"]["start_theta"] == 5.0


def test_rigaku_raw_with_raw_extension_is_not_bruker(tmp_path: Path) -> None:
    fake = tmp_path / "scan.raw"
    fake.write_bytes(b"RIGAKU_RAW_FORMAT" + bytes(range(256)) * 8)
    with pytest.raises(UnknownFormatError):
        specfit.read(fake)
    with pytest.raises(ReadError, match="Rigaku"):
        specfit.read(fake, format="bruker_raw")


def _raw_v1(ranges: list[tuple[float, float, np.ndarray]]) -> bytes:
    out = b""
    for k, (start, step, y) in enumerate(ranges):
        head = b"RAW " + np.array([y.size], "<u4").tobytes()
        head += np.array([1.5, step], "<f4").tobytes() + np.array([0, 0], "<u4").tobytes()
        head += np.array([start, start / 2, -1e6, -1e6], "<f4").tobytes() + b"synthetic".ljust(32, b"\0")
        head += np.array([1.5406, 1.54439], "<f4").tobytes() + bytes(72)
        head += np.array([int(k + 1 < len(ranges))], "<u4").tobytes()
        assert len(head) == 156
        out += head + y.astype("<f4").tobytes()
    return out


def _raw_v2(ranges: list[tuple[float, float, np.ndarray]]) -> bytes:
    head = bytearray(256)
    head[0:4] = b"RAW2"
    head[4:6] = np.array([len(ranges)], "<u2").tobytes()
    head[168:188] = b"2024-01-01 12:00:00".ljust(20, b"\0")
    head[188:190] = b"Co"
    head[190:202] = np.array([1.78897, 1.79285, 0.5], "<f4").tobytes()
    out = bytes(head)
    for start, step, y in ranges:
        block = bytearray(48)
        block[0:4] = np.array([48, y.size], "<u2").tobytes()
        block[8:20] = np.array([2.0, step, start], "<f4").tobytes()
        block[46:48] = np.array([298], "<u2").tobytes()
        out += bytes(block) + y.astype("<f4").tobytes()
    return out


def test_bruker_raw_v1_and_v2_synthetic(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    ranges = [
        (10.0, 0.02, rng.integers(0, 500, 50).astype(float)),
        (40.0, 0.05, rng.integers(0, 500, 20).astype(float)),
    ]
    for version, data in ((1, _raw_v1(ranges)), (2, _raw_v2(ranges))):
        path = tmp_path / f"v{version}.raw"
        path.write_bytes(data)
        found = [ds for _, ds in leaves(specfit.read(path))]
        assert len(found) == 2
        for ds, (start, step, y) in zip(found, ranges):
            assert ds.attrs["raw_version"] == version
            np.testing.assert_array_equal(ds.intensity.values, y)
            np.testing.assert_allclose(ds.two_theta.values, start + step * np.arange(y.size), rtol=1e-6)
        if version == 2:
            assert found[0].attrs["anode"] == "Co" and found[0].attrs["wavelength_angstrom"] == pytest.approx(1.78897)
        else:
            assert found[0].attrs["wavelength_kalpha2_angstrom"] == pytest.approx(1.54439)


# ---------------------------------------------------------------------------------------------- Rigaku


def test_ras_lf_and_crlf_identical() -> None:
    crlf = _only(_read(corpus_path("xrd", "rigaku_ras", "MB120718Si3.ras")))
    lf = _only(_read(corpus_path("xrd", "rigaku_ras", "rigaku_test.ras")))
    xr.testing.assert_identical(crlf.drop_attrs(deep=False), lf.drop_attrs(deep=False))
    assert {k: v for k, v in crlf.attrs.items() if k != "source_file"} == {
        k: v for k, v in lf.attrs.items() if k != "source_file"
    }
    x, y = crlf.two_theta.values, crlf.intensity.values
    assert (x.size, x[0], x[-1], y[0]) == (1401, 2.0, 30.0, 7994)  # xrayutilities reads the same
    assert crlf.attrs["scan_axis"] == "TwoTheta" and crlf.attrs["step_deg"] == 0.02
    assert crlf.attrs["acquired_at_text"] == "11/01/12 12:55:51" and "acquired_at" not in crlf.attrs  # ambiguous
    assert crlf.attrs["wavelength_angstrom"] == 1.540593 and crlf.attrs["wavelength_kalpha2_angstrom"] == 1.544414
    assert "kalpha2_ratio" not in crlf.attrs  # the file states none
    assert crlf.attrs["counting_time_s"] == pytest.approx(0.02 / 0.25 * 60)
    assert "Detector monochromator" in original_metadata(crlf)["HW_COUNTER_NAME-4"]  # Shift-JIS decoded


def test_rasx_dara_oracle() -> None:
    ds = _only(_read(corpus_path("xrd", "rigaku_rasx", "RM20220915Si01.rasx")))
    x, y = ds.two_theta.values, ds.intensity.values
    assert x.size == 2151
    for index, angle, value in ((0, 8.5, 591), (100, 9.5, 565), (500, 13.5, 526), (1000, 18.5, 560), (-1, 30.0, 524)):
        assert x[index] == pytest.approx(angle) and y[index] == value
    assert y.max() == 639 and y.min() >= 0


def test_rasx_readers_xrd_oracle() -> None:
    hot = _only(_read(corpus_path("xrd", "rigaku_rasx", "Omega-2Theta_scan_high_temperature.rasx")))
    assert hot.sizes["two_theta"] == 1042 and hot.attrs["scan_axis"] == "TwoThetaOmega"
    assert (hot.attrs["voltage_kv"], hot.attrs["current_ma"]) == (40.0, 150.0)
    assert hot.attrs["wavelength_angstrom"] == 1.540593
    assert hot.attrs["wavelength_kalpha2_angstrom"] == 1.544414
    assert hot.attrs["wavelength_kbeta_angstrom"] == 1.392246
    assert "kalpha2_ratio" not in hot.attrs
    zno = _only(_read(corpus_path("xrd", "rigaku_rasx", "ZnO-ALD-training_001_1_0-000_0-000.rasx")))
    assert zno.sizes["two_theta"] == 7001 and zno.attrs["scan_axis"] == "TwoThetaTheta"
    assert (zno.attrs["voltage_kv"], zno.attrs["current_ma"]) == (40.0, 30.0)
    assert zno.attrs["wavelength_angstrom"] == 1.540593


def test_rigakuxrd_row_counts_and_asc_header() -> None:
    counts = {
        ("rigaku_asc", "2Theta.asc"): 7601,
        ("rigaku_ras", "MB120718Si3.ras"): 1401,
        ("rigaku_txt", "MnPcTheta.txt"): 2201,
        ("rigaku_rasx", "RM20220915Si01.rasx"): 2151,
    }
    got = {k: _only(_read(corpus_path("xrd", *k))).sizes["two_theta"] for k in counts}
    assert got == counts and sum(got.values()) == 13354
    asc = _only(_read(corpus_path("xrd", "rigaku_asc", "2Theta.asc")))
    meta = original_metadata(asc)
    assert meta["header_entries"] == 74
    assert asc.attrs["scan_axis"] == "2theta/theta"
    assert (asc.two_theta.values[0], asc.two_theta.values[-1]) == (4.0, 80.0)
    assert asc.intensity.values[:4].tolist() == [767, 794, 798, 809]
    assert asc.attrs["wavelength_angstrom"] == 1.54059 and asc.attrs["anode"] == "Cu"


# ------------------------------------------------------------------------------------------------ GSAS


def test_gsas_pbso4() -> None:
    ds = _only(_read(corpus_path("xrd", "gsas_std", "PBSO4.XRA")))
    x, y = ds.two_theta.values, ds.intensity.values
    assert (x.size, x[0], x[-1]) == (6001, 10.0, 160.0)
    assert y.sum() == 2454390 and y.max() == 15702
    assert x[np.argmax(y)] == pytest.approx(29.65)
    assert ds.attrs["bank"] == 1 and ds.attrs["wavelength_assumed"] == 1
    np.testing.assert_allclose(ds.intensity_error.values, np.sqrt(y))
    assert y[:3].tolist() == [179, 147, 165]


def test_gsas_esd_and_fxye_synthetic(tmp_path: Path) -> None:
    y = np.array([10.0, 20, 30, 40, 50, 60, 70])
    e = np.sqrt(y)
    esd = tmp_path / "a.gsa"
    records = []
    pairs = np.column_stack([y, e]).ravel()
    for k in range(0, pairs.size, 10):
        records.append("".join(f"{v:8.2f}" for v in pairs[k : k + 10]))
    esd.write_text("synthetic ESD\nBANK 1 7 2 CONST 500.0 5.0 0 0 ESD\n" + "\n".join(records) + "\n")
    ds = _only(specfit.read(esd, wavelength=1.5406))
    np.testing.assert_allclose(ds.intensity.values, y)
    np.testing.assert_allclose(ds.intensity_error.values, e, atol=0.01)
    np.testing.assert_allclose(ds.two_theta.values, 5.0 + 0.05 * np.arange(7))
    assert ds.attrs["wavelength_assumed"] == 0
    fxye = tmp_path / "b.fxye"
    rows = "\n".join(f"{500 + 5 * i:.2f} {v:.1f} {s:.3f}" for i, (v, s) in enumerate(zip(y, e)))
    fxye.write_text(f"synthetic FXYE\nBANK 1 7 7 CONST 500.0 5.0 0 0 FXYE\n{rows}\n")
    ds = _only(specfit.read(fxye))
    np.testing.assert_allclose(ds.intensity.values, y)
    np.testing.assert_allclose(ds.two_theta.values, 5.0 + 0.05 * np.arange(7))
    np.testing.assert_allclose(ds.intensity_error.values, e, atol=1e-3)
    fxy = tmp_path / "c.gsas"
    rows = "\n".join(f"{500 + 5 * i:.2f} {v:.1f}" for i, v in enumerate(y))
    fxy.write_text(f"synthetic FXY\nBANK 1 7 7 CONST 500.0 5.0 0 0 FXY\n{rows}\n")
    ds = _only(specfit.read(fxy))
    np.testing.assert_allclose(ds.intensity_error.values, np.sqrt(y))
    alt = tmp_path / "d.gsa"
    alt.write_text("synthetic ALT\nBANK 1 7 2 RALF 1000 96 1000 0.0005 ALT\n" + "0" * 80 + "\n" + "0" * 80 + "\n")
    with pytest.raises(ReadError, match="time-of-flight"):
        specfit.read(alt)


# ------------------------------------------------------------------------------------------ text exports


def test_plain_multi_column_xy_and_bruker_eva_xy() -> None:
    tree = _read(corpus_path("xrd", "xy_csv", "Li2MnO3+MnO+TiO2.xy"))
    found = [ds for _, ds in leaves(tree)]
    assert len(found) == 2 and all(ds.sizes["two_theta"] == 9001 for ds in found)
    assert found[0].two_theta.values[0] == 10.0 and found[0].two_theta.values[-1] == 100.0
    eva = _only(_read(corpus_path("xrd", "xy_csv", "XRD_Ru.xy")))
    assert eva.attrs["source_format"] == "bruker_xy" and eva.attrs["anode"] == "Cu"
    assert eva.attrs["scan_axis"] == "Coupled TwoTheta/Theta" and eva.attrs["counting_time_s"] == 28.8
    assert eva.sizes["two_theta"] == 5051
    # count rates: value × TimePerStep gives whole counts (3.5416667 × 28.8 = 102)
    assert eva.intensity.attrs["units"] == "counts/s"
    assert eva.intensity.values[0] * 28.8 == pytest.approx(102, abs=1e-4)


def test_plain_xy_without_hint_is_not_guessed() -> None:
    with pytest.raises(ReadError, match="technique"):
        specfit.read(corpus_path("xrd", "panalytical_xy", "210520step1_30min.xy"))


# --------------------------------------------------------------------------------------- neutron, pdCIF


def test_psi_dmc_neutron_file() -> None:
    ds = _only(_read(corpus_path("xrd", "neutron_dat", "PSI_DMC.dat")))
    x = ds.two_theta.values
    # header: lambda= 1.49400; start 2.948 step 0.050 end 162.898 -> 3200 points, 10 values per line
    assert ds.attrs["wavelength_angstrom"] == 1.494 and ds.attrs["radiation"] == "neutron"
    assert x.size == 3200 and x[0] == 2.948 and x[-1] == pytest.approx(162.898)
    assert ds.attrs["step_deg"] == 0.05
    assert ds.intensity.values[:3].tolist() == [7444, 7639, 7731]
    assert ds.intensity_error.values[:3].tolist() == [81.5, 82.5, 90.0]
    assert ds.attrs["sample"] == "NdNi4MgDx_V10mm_HI,a4=3.0,N18"
    assert ds.attrs["acquired_at"] == "2001-06-16T06:25:59"
    assert "Filelist='HRPT/2001/2455-2490'" in original_metadata(ds)["footer"]


def test_ill_d1a_neutron_file() -> None:
    ds = _only(_read(corpus_path("xrd", "neutron_dat", "D1A5.dat")))
    x = ds.two_theta.values
    assert ds.attrs["wavelength_angstrom"] == 1.9114  # "1.9114 A" in the title
    assert (x.size, x[0], x[-1]) == (1680, -10.0, pytest.approx(157.9))
    assert ds.intensity.values[:3].tolist() == [0.8, 0.3, 0.3]
    assert ds.intensity_error.values[:3].tolist() == [0.58, 0.30, 0.22]


def test_pdcif_measured_pattern() -> None:
    ds = _only(_read(corpus_path("xrd", "pdcif", "1517474.cif")))
    x = ds.two_theta.values
    # _pd_meas_number_of_points 3296, _pd_meas_2theta_range_min/inc/max 1.5/0.05/166.25
    assert (x.size, x[0], x[-1]) == (3296, 1.5, pytest.approx(166.25))
    assert ds.attrs["wavelength_angstrom"] == 2.0785 and ds.attrs["radiation"] == "neutron"
    assert ds.intensity.values[:3].tolist() == [5540, 4570, 4140]
    assert ds.intensity_error.values[:3].tolist() == [160, 140, 130]
    assert ds.background_calc.values[:2].tolist() == [833.0, 829.0]
    assert ds.intensity.values[-1] == 797


def test_xy_file_is_not_taken_for_neutron_data(tmp_path: Path) -> None:
    path = tmp_path / "three.dat"
    path.write_text("".join(f"{10 + 0.02 * i:.2f} {100 + i} {5 + i}\n" for i in range(50)))
    tree = specfit.read(path, technique="xrd")
    assert {ds.attrs["source_format"] for _, ds in leaves(tree)} == {"text"}


# ------------------------------------------------------------------------- XRDML layouts not in the corpus


def _xrdml(scans: str, measurement_type: str = "Repeated scan", step_axis: str = "") -> bytes:
    step = f' measurementStepAxis="{step_axis}"' if step_axis else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<xrdMeasurements xmlns="http://www.xrdml.com/XRDMeasurement/2.0" status="Completed">
 <sample type="To be analyzed"><id>S1</id><name>Li6PS5Cl in Kapton</name></sample>
 <xrdMeasurement measurementType="{measurement_type}" status="Completed" sampleMode="Transmission"{step}>
  <usedWavelength intended="K-Alpha"><kAlpha1 unit="Angstrom">1.7890100</kAlpha1>
   <kAlpha2 unit="Angstrom">1.7928500</kAlpha2><ratioKAlpha2KAlpha1>0.5000</ratioKAlpha2KAlpha1></usedWavelength>
  <incidentBeamPath><xRayTube name="Co LFF"><tension unit="kV">40</tension><current unit="mA">45</current>
   <anodeMaterial>Co</anodeMaterial></xRayTube></incidentBeamPath>
  {scans}
 </xrdMeasurement>
</xrdMeasurements>""".encode()


def _scan(positions: str, values: str, tag: str = "counts", unit: str = "counts", extra: str = "") -> str:
    return f"""<scan appendNumber="0" mode="Pre-set time" scanAxis="Gonio" status="Completed">
   <header><startTimeStamp>2024-01-01T10:00:00+01:00</startTimeStamp></header>
   <dataPoints>{positions}{extra}<{tag} unit="{unit}">{values}</{tag}></dataPoints></scan>"""


_RANGE = ('<positions axis="2Theta" unit="deg"><startPosition>10.0</startPosition><endPosition>10.4</endPosition>'
          "</positions>")  # fmt: skip


def test_xrdml_repeated_scans_become_a_scan_dimension(tmp_path: Path) -> None:
    path = tmp_path / "repeat.xrdml"
    scans = _scan(_RANGE, "1 2 3 4 5", extra='<countingTimes unit="seconds">1 1 2 2 2</countingTimes>')
    scans += _scan(_RANGE, "6 7 8 9 10", extra='<countingTimes unit="seconds">1 1 2 2 2</countingTimes>')
    path.write_bytes(_xrdml(scans))
    ds = _only(specfit.read(path))
    assert ds.intensity.dims == ("scan", "two_theta")
    np.testing.assert_array_equal(ds.intensity.values, [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]])
    np.testing.assert_allclose(ds.two_theta.values, [10.0, 10.1, 10.2, 10.3, 10.4])
    np.testing.assert_array_equal(ds.counting_time.values[0], [1, 1, 2, 2, 2])
    assert (ds.attrs["anode"], ds.attrs["wavelength_angstrom"], ds.attrs["kalpha2_ratio"]) == ("Co", 1.78901, 0.5)
    assert ds.attrs["sample"] == "Li6PS5Cl in Kapton" and ds.attrs["scan_mode"] == "Pre-set time"
    validate(specfit.read(path))


def test_xrdml_scans_on_different_points_are_separate_leaves(tmp_path: Path) -> None:
    other = _RANGE.replace("10.4", "11.0")
    path = tmp_path / "two.xrdml"
    path.write_bytes(_xrdml(_scan(_RANGE, "1 2 3 4 5") + _scan(other, "1 2 3", tag="intensities", unit="cps")))
    found = dict(leaves(specfit.read(path)))
    assert sorted(found) == ["/two_scan_1", "/two_scan_2"]
    assert found["/two_scan_2"].intensity.attrs["units"] == "counts/s"
    np.testing.assert_allclose(found["/two_scan_2"].two_theta.values, [10.0, 10.5, 11.0])


def test_xrdml_list_positions_and_point_count_mismatch(tmp_path: Path) -> None:
    listed = '<positions axis="2Theta" unit="deg"><listPositions>10 10.1 10.3</listPositions></positions>'
    path = tmp_path / "list.xrdml"
    path.write_bytes(_xrdml(_scan(listed, "5 6 7"), measurement_type="Scan"))
    np.testing.assert_allclose(_only(specfit.read(path)).two_theta.values, [10, 10.1, 10.3])
    path.write_bytes(_xrdml(_scan(listed, "5 6 7 8"), measurement_type="Scan"))
    with pytest.raises(ReadError, match="3 2Theta positions for 4 intensities"):
        specfit.read(path)


def test_xrdml_rocking_curve_is_refused_clearly(tmp_path: Path) -> None:
    rocking = ('<positions axis="2Theta" unit="deg"><commonPosition>34.4</commonPosition></positions>'
               '<positions axis="Omega" unit="deg"><startPosition>16</startPosition><endPosition>18</endPosition>'
               "</positions>")  # fmt: skip
    path = tmp_path / "rc.xrdml"
    path.write_bytes(_xrdml(_scan(rocking, "1 2 3"), measurement_type="Scan"))
    with pytest.raises(ReadError, match="does not scan 2θ"):
        specfit.read(path)


def test_xrd_tree_survives_save_and_load(tmp_path: Path) -> None:
    tree = _read(corpus_path("xrd", "xrdml", "XRDML_alt.xrdml"))
    target = tmp_path / "alt.h5"
    specfit.save(tree, target)
    back = specfit.load(target)
    ours, theirs = _only(tree), _only(back)
    np.testing.assert_array_equal(ours.intensity.values, theirs.intensity.values)
    np.testing.assert_array_equal(ours.counts_raw.values, theirs.counts_raw.values)
    for key in ("wavelength_angstrom", "kalpha2_ratio", "wavelength_assumed", "anode", "original_metadata"):
        assert theirs.attrs[key] == ours.attrs[key]


def test_xrdml_area_measurement_along_x_in_micrometres(tmp_path: Path) -> None:
    def at(x_mm: float, values: str) -> str:
        fixed = f'<positions axis="X" unit="mm"><commonPosition>{x_mm}</commonPosition></positions>'
        return _scan(_RANGE + fixed, values)

    path = tmp_path / "map.xrdml"
    path.write_bytes(_xrdml(at(-0.2, "1 2 3 4 5") + at(0.3, "2 3 4 5 6"), "Area measurement", step_axis="X"))
    ds = _only(specfit.read(path))
    assert ds.intensity.dims == ("x", "two_theta")
    np.testing.assert_allclose(ds.x.values, [-200.0, 300.0])
    assert ds.x.attrs["units"] == "um"


def test_headed_csv_gets_two_theta_and_default_wavelength(tmp_path: Path) -> None:
    path = tmp_path / "pattern.csv"
    path.write_text("2Theta,Intensity\n" + "".join(f"{10 + 0.02 * i:.2f},{100 + i}\n" for i in range(20)))
    ds = _only(specfit.read(path))
    assert ds.attrs["technique"] == "xrd" and ds.two_theta.values[0] == 10.0
    assert ds.attrs["wavelength_assumed"] == 1 and ds.attrs["wavelength_angstrom"] == 1.540598


def test_non_finite_counts_in_bruker_raw_are_corruption(tmp_path: Path) -> None:
    data = bytearray(corpus_path("xrd", "bruker_raw", "Cu3Au-1.raw").read_bytes())
    data[712 + 304 + 40 : 712 + 304 + 44] = np.array([np.nan], "<f4").tobytes()
    path = tmp_path / "nan.raw"
    path.write_bytes(bytes(data))
    with pytest.raises(ReadError, match="non-finite") as info:
        specfit.read(path)
    assert info.value.offset == 712 + 304 + 40


def test_bad_wavelength_option_is_a_clear_error() -> None:
    from specfit.errors import SpecfitError

    with pytest.raises(SpecfitError, match="not one of"):
        specfit.read(corpus_path("xrd", "xrdml", "empyrean.xrdml"), wavelength={"lambda": 1.0})
    with pytest.raises(SpecfitError, match="needs"):
        specfit.read(corpus_path("xrd", "xrdml", "empyrean.xrdml"), wavelength={"ratio": 0.5})
