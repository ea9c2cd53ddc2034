"""IONTOF SurfaceLab text exports and plain ToF-SIMS tables, read from the real corpus files."""

from __future__ import annotations

import numpy as np
import pytest

import specfit
from specfit.conventions import leaves, validate
from specfit.errors import ReadError
from specfit.tofsims.fragments import exact_mass
from tests.conftest import corpus_files, corpus_path, ids

PROFILES = corpus_files("tofsims/iontof_profile_txt", "*.txt")
SPECTRA = corpus_files("tofsims/iontof_spectrum_txt", "*.txt")


def _leaf(path, **kw):
    tree = specfit.read(path, **kw)
    found = list(leaves(tree))
    assert len(found) == 1
    return found[0][1]


@pytest.mark.corpus
@pytest.mark.parametrize("path", PROFILES, ids=ids(PROFILES))
def test_every_profile_reads(path):
    ds = _leaf(path)
    validate(ds)
    assert ds.attrs["source_format"] == "iontof_profile_txt"
    assert ds["intensity"].dims == ("sputter_time", "fragment")
    assert ds["fragment"].to_index().is_unique
    # 3 header rows + the comment line; one data row per remaining line
    lines = [ln for ln in path.read_text(encoding="latin-1").splitlines() if ln.strip()]
    assert ds.sizes["sputter_time"] == len(lines) - 4
    assert np.all(np.diff(ds["sputter_time"].values) > 0)
    assert ds["scan"].values[0] == 1 and ds["scan"].values[-1] == ds.sizes["sputter_time"]
    assert {"dose", "fluence"} <= set(ds.coords)
    assert ds.sizes["ratio"] > 0 and np.isinf(ds["intensity_ratio"].values).any()  # "inf" kept
    assert np.all(np.isfinite(ds["intensity"].values))
    assert ds.attrs["polarity"] == ("positive" if "_pos" in path.name else "negative")
    kinds = ds["fragment_kind"].values
    assert (kinds == "total").sum() == 1
    assert np.all(np.isnan(ds["fragment_mass"].values[kinds != "species"]))
    # every species label parses, and its computed m/z is within 0.1 u of the exported peak mass
    species = ds["fragment"].values[kinds == "species"]
    labels = ds["fragment_label"].values[kinds == "species"] if "fragment_label" in ds.coords else species
    exported = ds["fragment_mass"].values[kinds == "species"]
    computed = np.array([exact_mass(lab) for lab in labels])
    assert np.max(np.abs(computed - exported)) < 0.1
    assert np.median(np.abs(computed - exported)) < 0.01


@pytest.mark.corpus
def test_mapi_pair_share_axes_differ_in_intensity():
    a = _leaf(corpus_path("tofsims", "iontof_profile_txt", "I240416f_B_MAPI_1f_pos-B1 - NF.txt"))
    b = _leaf(corpus_path("tofsims", "iontof_profile_txt", "I240416f_B_MAPI_1f_pos-B1 - NF - with-lat-ROI.txt"))
    assert a.sizes["sputter_time"] == b.sizes["sputter_time"] == 42
    assert a["sputter_time"].values[-1] == pytest.approx(60.1306)
    for name in ("sputter_time", "scan", "dose", "fluence"):
        np.testing.assert_array_equal(a[name].values, b[name].values)
    assert a["fragment"].values.tolist() == b["fragment"].values.tolist()
    # EXPECTED.md: they differ in every intensity column (compared over the rows with signal)
    differs = (a["intensity"].values != b["intensity"].values).any(axis=0)
    assert differs.all()


@pytest.mark.corpus
def test_profile_known_values():
    ds = _leaf(corpus_path("tofsims", "iontof_profile_txt", "I231114zf_A_MAPI_1f-LC_pos-12 - NF.txt"))
    assert ds.sizes["sputter_time"] == 83
    assert ds["sputter_time"].values[-1] == pytest.approx(120.261)
    assert float(ds["intensity"].sel(fragment="total").values[0]) == pytest.approx(1.33704e6)
    assert float(ds["fragment_mass"].sel(fragment="Ag+")) == pytest.approx(106.9038)
    assert float(ds["dose"].values[0]) == pytest.approx(2.75934e6)
    # the repeated SnO+ label becomes unique; the exported labels stay in fragment_label
    assert "SnO+ (135.8979 u)" in ds["fragment"].values
    assert (ds["fragment_label"].values == "SnO+").sum() == 2


@pytest.mark.corpus
@pytest.mark.parametrize("path", SPECTRA, ids=ids(SPECTRA))
def test_every_spectrum_reads(path):
    ds = _leaf(path, polarity="negative" if path.name.startswith("N_") else "positive")
    validate(ds)
    assert ds.attrs["source_format"] == "iontof_spectrum_txt"
    assert ds["intensity"].dims == ("mass",)
    assert ds.attrs["binning_channels"] == 200 and ds.attrs["deadtime_correction"] == 1
    assert np.all(np.diff(ds["mass"].values) > 0)
    lines = path.read_text().splitlines()
    assert ds.sizes["mass"] == len(lines) - 3
    last = lines[-1].split("\t")
    assert ds["channel"].values[-1] == int(last[0]) and ds["mass"].values[-1] == pytest.approx(float(last[1]))


def _damage(src, tmp_path, how):
    raw = src.read_bytes()
    out = tmp_path / src.name
    if how == "truncate_mid_row":
        lines = raw.split(b"\n")
        cut = sum(len(ln) + 1 for ln in lines[: len(lines) // 2]) + len(lines[len(lines) // 2]) // 2
        out.write_bytes(raw[:cut])
    elif how == "truncate_header":
        out.write_bytes(raw[:200])
    elif how == "garbage_cell":
        lines = raw.split(b"\r\n")
        k = len(lines) // 2
        lines[k] = lines[k].replace(b"\t", b"\tx?z", 1)
        out.write_bytes(b"\r\n".join(lines))
    elif how == "binary":
        out.write_bytes(raw[:500] + b"\x00\x01\x02" * 50 + raw[650:])
    return out


@pytest.mark.corpus
@pytest.mark.parametrize("how", ["truncate_mid_row", "truncate_header", "garbage_cell", "binary"])
@pytest.mark.parametrize(
    "parts",
    [
        ("tofsims", "iontof_profile_txt", "I241213h_M_PCBM-ref_2D_neg-B1 - NF.txt"),
        ("tofsims", "iontof_spectrum_txt", "P_Ru_Bi1_1.txt"),
    ],
    ids=["profile", "spectrum"],
)
def test_damaged_copies_raise_read_error(tmp_path, parts, how):
    src = corpus_path(*parts)
    damaged = _damage(src, tmp_path, how)
    before = src.read_bytes()
    with pytest.raises(ReadError) as info:
        specfit.read(damaged, technique="tofsims")
    assert damaged.name in str(info.value)
    assert src.read_bytes() == before  # the original is untouched


def test_csv_profile_with_three_fragments(tmp_path):
    path = tmp_path / "p.csv"
    rows = ["Time (s),Cl-,PS3-,SO-"] + [f"{t},{100 + t},{1000 - t},{5}" for t in range(10)]
    path.write_text("\n".join(rows) + "\n")
    ds = _leaf(path)
    assert ds.attrs["source_format"] == "tofsims_table"
    assert ds["intensity"].dims == ("sputter_time", "fragment")
    assert ds["fragment"].values.tolist() == ["Cl-", "PS3-", "SO-"]
    assert ds["fragment_mass"].sel(fragment="SO-") == pytest.approx(exact_mass("SO-"))
    np.testing.assert_array_equal(ds["intensity"].sel(fragment="PS3-").values, 1000 - np.arange(10))


def test_ragged_csv_is_a_read_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("Time (s),Cl-,PS3-\n0,1,2\n1,2,3\n2,3\n")
    with pytest.raises(ReadError, match="line 4"):
        specfit.read(path)


@pytest.mark.corpus
def test_profile_round_trips_through_native_storage(tmp_path):
    tree = specfit.read(corpus_path("tofsims", "iontof_profile_txt", "I241213h_M_PCBM-ref_2D_neg-B1 - NF.txt"))
    specfit.save(tree, tmp_path / "p.h5")
    back = next(iter(leaves(specfit.load(tmp_path / "p.h5"))))[1]
    orig = _leaf(corpus_path("tofsims", "iontof_profile_txt", "I241213h_M_PCBM-ref_2D_neg-B1 - NF.txt"))
    np.testing.assert_array_equal(back["intensity"].values, orig["intensity"].values)
    np.testing.assert_array_equal(back["intensity_ratio"].values, orig["intensity_ratio"].values)  # inf survives
    assert back["fragment"].values.tolist() == orig["fragment"].values.tolist()
    np.testing.assert_array_equal(back["fluence"].values, orig["fluence"].values)


ALL_CORPUS = [p for p in corpus_files("", "*") if p.suffix not in (".md", ".json")]


@pytest.mark.corpus
def test_sniffers_claim_exactly_the_tofsims_files():
    from specfit.io.iontof import _sniff_profile, _sniff_spectrum, _sniff_table

    if not ALL_CORPUS:
        pytest.skip("corpus not available")
    for path in ALL_CORPUS:
        head = path.read_bytes()[:8192]
        scores = (_sniff_profile(head, path), _sniff_spectrum(head, path), _sniff_table(head, path))
        if "tofsims" in path.parts:
            assert max(scores) >= 0.9, path
        else:
            assert max(scores) == 0.0, path


@pytest.mark.corpus
def test_total_normalisation_uses_the_exported_total_column():
    from specfit.tofsims.profile import normalize

    ds = _leaf(corpus_path("tofsims", "iontof_profile_txt", "I241213e_M_PCBM-ref_2D_pos-B1 - NF.txt"))
    norm = normalize(ds, "total")
    assert norm.attrs["normalization"] == "total-ion column"
    np.testing.assert_allclose(norm["intensity"].sel(fragment="total").values, 1.0)
    expected = ds["intensity"].sel(fragment="C_60+").values / ds["intensity"].sel(fragment="total").values
    np.testing.assert_allclose(norm["intensity"].sel(fragment="C_60+").values, expected)


def test_depth_axis_table_is_refused_not_misread(tmp_path):
    # the generic reader would read "(nm)" as a wavelength axis: a silent wrong answer
    path = tmp_path / "depth.csv"
    path.write_text("Depth (nm),Cl-,PS3-\n0,1,2\n1,2,3\n2,3,4\n")
    with pytest.raises(ReadError, match="depth axis"):
        specfit.read(path)
