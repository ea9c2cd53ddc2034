"""VAMAS (ISO 14976) reader: synthetic known-answer files, the corpus against EXPECTED.md, and an
element-by-element comparison with the independent `vamas` package."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import specfit
from specfit.conventions import leaves, original_metadata, validate
from specfit.errors import CorruptFileError, ReadError
from specfit.io.vamas import parse_comment_fields, read_vamas
from tests.conftest import CORPUS, corpus_path

pytestmark = pytest.mark.timeout(120)


# ----------------------------------------------------------------------------------------------
# a small VAMAS writer for known-answer tests (follows the block layout of ISO 14976)


def make_vamas(
    blocks: list[dict],
    *,
    mode: str = "NORM",
    scan: str = "REGULAR",
    exp_vars: tuple[tuple[str, str], ...] = (("Etch Time", "s"),),
    inclusion: list[int] | None = None,
    leading_blank: int = 0,
    newline: str = "\n",
    n_blocks: int | None = None,
    future_experiment: tuple[str, ...] = (),
    future_block: tuple[str, ...] = (),
) -> str:
    lines = [""] * leading_blank + [
        "VAMAS Surface Chemical Analysis Standard Data Transfer Format 1988 May 4",
        "Lab",
        "Test instrument",
        "Operator",
        "Experiment",
        "2",
        "header comment line 1",
        "Casa Info Follows CasaXPS Version 2.3.25",
        mode,
        scan,
    ]
    if mode in ("MAP", "MAPDP", "NORM", "SDP"):
        lines.append(str(len(blocks)))
    if mode in ("MAP", "MAPDP"):
        lines += ["1", "1", "1"]
    lines.append(str(len(exp_vars)))
    for label, unit in exp_vars:
        lines += [label, unit]
    inclusion = inclusion or []
    lines.append(str(len(inclusion)))
    lines += [str(k) for k in inclusion]
    lines += ["0", str(len(future_experiment)), str(len(future_block)), *future_experiment]
    lines.append(str(len(blocks) if n_blocks is None else n_blocks))
    for i, b in enumerate(blocks):
        first = i == 0
        inc = (lambda k: True) if (first or not inclusion) else (lambda k: k in inclusion)
        lines += [b.get("id", f"block {i}"), "sample"]
        date = [2024, 1, 2, 3, 4, 5, 1]
        for k in range(7):
            if inc(k + 1):
                lines.append(str(date[k]))
        if inc(8):
            lines += ["1", b.get("comment", f"comment of block {i}")]
        if inc(9):
            lines.append(b.get("technique", "XPS"))
        if mode in ("MAP", "MAPDP") and inc(10):
            lines += ["1", "1"]
        if inc(11):
            lines += [str(v) for v in b.get("exp_values", [0] * len(exp_vars))]
        if inc(12):
            lines.append("Al")
        sputter_ion = b.get("technique", "XPS") in ("SIMS", "SNMS", "ISS", "FABMS")
        if (mode in ("MAPDP", "MAPSVDP", "SDP", "SDPSV") or sputter_ion) and inc(13):
            lines += ["18", "1", "1"]
        if inc(14):
            lines.append(str(b.get("hv", 1486.6)))
        if inc(15):
            lines.append("150")
        if inc(16):
            lines += ["1E+37", "1E+37"]
        if mode in ("MAP", "MAPDP", "MAPSV", "MAPSVDP", "SEM") and inc(17):
            lines += ["100", "100"]
        if mode in ("MAPSV", "MAPSVDP", "SEM") and inc(18):
            lines += ["1", "1", "64", "1", "64", "64"]
        if inc(19):
            lines.append("0")
        if inc(20):
            lines.append("0")
        if inc(21):
            lines.append("FAT")
        if inc(22):
            lines.append(str(b.get("pe", 20)))
        if inc(24):
            lines.append("1")
        if inc(25):
            lines.append("4.5")
        if inc(26):
            lines.append("0")
        if inc(27):
            lines += ["300", "700"]
        if inc(28):
            lines += ["0", "0"]
        if inc(29):
            lines.append(b.get("species", "Mo"))
        if inc(30):
            lines += [b.get("transition", "3d"), "-1"]
        if scan == "REGULAR" and inc(31):
            lines += [b.get("x_label", "kinetic energy"), "eV", str(b["start"]), str(b["step"])]
        variables = b.get("variables", [("counts", "d")])
        if inc(32):
            lines.append(str(len(variables)))
            for label, unit in variables:
                lines += [label, unit]
        if inc(33):
            lines.append("pulse counting")
        if inc(34):
            lines.append(str(b.get("dwell", 0.1)))
        if inc(35):
            lines.append(str(b.get("scans", 3)))
        if inc(36):
            lines.append("0")
        if mode in ("MAPDP", "MAPSVDP", "SDP", "SDPSV") and b.get("technique", "XPS") == "XPS" and inc(37):
            lines += ["4000", "1", "1000", "1000", "45", "0", "raster"]
        if inc(38):
            lines += ["0", "0"]
        if inc(39):
            lines.append("0")
        if inc(40):
            lines += ["1", "Extra", "d", "7"]
        lines += list(future_block)
        values = np.asarray(b["values"], dtype=float)  # (points, variables)
        lines.append(str(values.size))
        for col in range(values.shape[1]):
            lines += [str(values[:, col].min()), str(values[:, col].max())]
        lines += [repr(float(v)) for v in values.ravel()]
    lines.append("end of experiment")
    return newline.join(lines) + newline


def _write(tmp_path, text: str, name: str = "synthetic.vms"):
    path = tmp_path / name
    path.write_bytes(text.encode("latin-1"))
    return path


def test_regular_block_known_answer(tmp_path):
    counts = np.arange(11, dtype=float) * 10 + 5
    trans = np.linspace(1, 2, 11)
    text = make_vamas(
        [
            {
                "start": 1256.6,
                "step": 0.5,
                "values": np.c_[counts, trans],
                "variables": [("counts", "d"), ("Transmission", "d")],
            }
        ]
    )
    tree = specfit.read(_write(tmp_path, text))
    validate(tree)
    ((path, ds),) = list(leaves(tree))
    assert path == "/Mo 3d"
    np.testing.assert_allclose(ds.kinetic_energy, 1256.6 + 0.5 * np.arange(11))
    np.testing.assert_allclose(ds.binding_energy, 1486.6 - (1256.6 + 0.5 * np.arange(11)), atol=1e-9)
    np.testing.assert_array_equal(ds.intensity, counts)
    np.testing.assert_array_equal(ds.transmission, trans)
    assert ds.intensity.attrs["units"] == "counts"
    assert ds.attrs["pass_energy_ev"] == 20 and ds.attrs["dwell_time_s"] == 0.1 and ds.attrs["scans"] == 3
    assert ds.attrs["excitation_energy_ev"] == 1486.6 and ds.attrs["work_function_ev"] == 4.5
    assert ds.attrs["analyser_mode"] == "FAT" and ds.attrs["source_label"] == "Al"
    assert ds.attrs["acquired_at"] == "2024-01-02T03:04:05+01:00"
    assert ds.attrs["param_extra"] == 7
    assert ds.attrs["comments"] == "comment of block 0"
    assert tree.attrs["comments"].endswith("Casa Info Follows CasaXPS Version 2.3.25")
    meta = original_metadata(ds)
    assert meta["block"]["take_off_polar_angle"] == 0 and meta["header"]["experiment_mode"] == "NORM"


def test_irregular_axis_is_first_variable(tmp_path):
    ke = np.array([100.0, 100.3, 101.0, 102.5])
    y = np.array([1.0, 4.0, 9.0, 16.0])
    text = make_vamas(
        [{"values": np.c_[ke, y], "variables": [("Kinetic Energy", "eV"), ("Intensity", "c/s")]}], scan="IRREGULAR"
    )
    ((_, ds),) = list(leaves(specfit.read(_write(tmp_path, text))))
    np.testing.assert_allclose(ds.kinetic_energy, ke)
    np.testing.assert_array_equal(ds.intensity, y)
    assert ds.intensity.attrs["units"] == "counts/s"


def test_depth_profile_blocks_are_stacked(tmp_path):
    rng = np.random.default_rng(1)
    blocks = [
        {"start": 1250.0, "step": 0.1, "values": rng.integers(0, 100, (6, 1)), "exp_values": [t]} for t in (0, 30, 60)
    ]
    blocks.insert(
        1,
        {
            "start": 900.0,
            "step": 1.0,
            "values": rng.integers(0, 100, (4, 1)),
            "species": "O",
            "transition": "1s",
            "exp_values": [0],
        },
    )
    tree = specfit.read(_write(tmp_path, make_vamas(blocks, mode="SDP")))
    ds = tree["Mo 3d"].to_dataset()
    assert ds.intensity.dims == ("etch_level", "binding_energy")
    np.testing.assert_array_equal(ds.etch_time, [0, 30, 60])
    for level, b in enumerate([blocks[0], blocks[2], blocks[3]]):
        np.testing.assert_array_equal(ds.intensity[level], np.asarray(b["values"])[:, 0])
    assert tree["O 1s"].to_dataset().intensity.dims == ("binding_energy",)
    # the sputter-source lines of SDP mode were consumed, so the additional parameter is right
    assert json.loads(ds.attrs["original_metadata"])["levels"][0]["block"]["sputter_source_energy"] == 4000
    # separate leaves when asked
    flat = read_vamas(_write(tmp_path, make_vamas(blocks, mode="SDP"), "flat.vms"), group_profiles=False)
    assert sorted(flat.children) == ["Mo 3d", "Mo 3d_2", "Mo 3d_3", "O 1s"]


def test_same_region_with_different_axes_stays_separate(tmp_path):
    blocks = [
        {"start": 1250.0, "step": 0.1, "values": np.ones((5, 1)), "exp_values": [0]},
        {"start": 1250.0, "step": 0.2, "values": np.ones((5, 1)), "exp_values": [30]},
    ]
    tree = specfit.read(_write(tmp_path, make_vamas(blocks, mode="SDP")))
    assert sorted(tree.children) == ["Mo 3d", "Mo 3d_2"]


def test_inclusion_list_copies_parameters_from_first_block(tmp_path):
    blocks = [
        {"start": 1250.0, "step": 0.1, "values": np.arange(5.0)[:, None], "pe": 50},
        {"start": 1250.0, "step": 0.1, "values": np.arange(5.0)[:, None] * 2, "pe": 10},
    ]
    # only the date (1-7) and the ordinate-related parameters are repeated: pass energy (22) is not
    include = [1, 2, 3, 4, 5, 6, 7, 29, 30, 31, 32]
    tree = read_vamas(_write(tmp_path, make_vamas(blocks, inclusion=include)), group_profiles=False)
    a, b = (tree[n].to_dataset() for n in ("Mo 3d", "Mo 3d_2"))
    assert a.attrs["pass_energy_ev"] == 50 and b.attrs["pass_energy_ev"] == 50
    np.testing.assert_array_equal(b.intensity, np.arange(5.0) * 2)


@pytest.mark.parametrize("mode", ["MAP", "MAPDP", "MAPSV", "MAPSVDP", "NORM", "SDP", "SDPSV", "SEM", "NOEXP"])
def test_experiment_modes(tmp_path, mode):
    text = make_vamas([{"start": 10.0, "step": 1.0, "values": np.arange(4.0)[:, None]}], mode=mode)
    ((_, ds),) = list(leaves(specfit.read(_write(tmp_path, text))))
    np.testing.assert_array_equal(ds.intensity, np.arange(4.0))
    assert ds.attrs["param_extra"] == 7  # every mode-dependent line was consumed
    assert ds.attrs["experiment_mode"] == mode


def test_future_upgrade_entries(tmp_path):
    blocks = [{"start": 10.0, "step": 1.0, "values": np.arange(4.0)[:, None] + k} for k in range(2)]
    text = make_vamas(blocks, future_experiment=("fx1", "fx2"), future_block=("fb1",))
    tree = read_vamas(_write(tmp_path, text), group_profiles=False)
    a, b = (tree[n].to_dataset() for n in ("Mo 3d", "Mo 3d_2"))
    np.testing.assert_array_equal(b.intensity, np.arange(4.0) + 1)
    meta = original_metadata(a)
    assert meta["header"]["future_experiment_entries"] == ["fx1", "fx2"]
    assert meta["block"]["future_upgrade_entries"] == ["fb1"]


def test_leading_blank_lines_and_crlf(tmp_path):
    block = {"start": 10.0, "step": 1.0, "values": np.arange(4.0)[:, None]}
    plain = specfit.read(_write(tmp_path, make_vamas([block]), "a.vms"))
    other = specfit.read(_write(tmp_path, make_vamas([block], leading_blank=2, newline="\r\n"), "b.npl"))
    np.testing.assert_array_equal(plain["Mo 3d"].ds.intensity, other["Mo 3d"].ds.intensity)


def test_huge_declared_counts_fail_fast(tmp_path):
    block = {"start": 10.0, "step": 1.0, "values": np.arange(4.0)[:, None]}
    text = make_vamas([block], n_blocks=10**9)
    with pytest.raises(CorruptFileError, match="number of blocks") as info:
        specfit.read(_write(tmp_path, text))
    assert info.value.line is not None
    text = make_vamas([block]).replace("\n4\n0.0\n3.0\n", "\n1000000000\n0.0\n3.0\n")
    with pytest.raises(CorruptFileError, match="ordinate values"):
        specfit.read(_write(tmp_path, text, "values.vms"))


def test_damaged_number_names_the_line(tmp_path):
    text = make_vamas([{"start": 10.0, "step": 1.0, "values": np.arange(4.0)[:, None]}])
    lines = text.splitlines()
    k = len(lines) - 3
    lines[k] = "12x"
    with pytest.raises(CorruptFileError) as info:
        specfit.read(_write(tmp_path, "\n".join(lines) + "\n"))
    assert info.value.line == k + 1


def test_comment_fields():
    kratos = (corpus_path("xps", "vamas_comments", "kratos.vms")).read_text().splitlines()[1:]
    fields = parse_comment_fields(kratos)
    assert fields["Lens"] == "Hybrid" and fields["X-ray Power"] == "100.00W" and fields["Dwell time"] == "260ms"
    specs = corpus_path("xps", "vamas_comments", "specs_block.vms").read_text().splitlines()[1:]
    assert parse_comment_fields(specs)["Analyzer lens"] == "LargeArea:1.5kV"
    phi = corpus_path("xps", "vamas_comments", "phi.vms").read_text().splitlines()[1:]
    assert parse_comment_fields(phi)["InstrumentModel"] == "VersaProbe 4"


# ----------------------------------------------------------------------------------------------
# corpus values (EXPECTED.md §1)


def _leaf(tree, name):
    return tree[name].to_dataset()


def test_0_150W_matches_lg4x_exports():
    tree = specfit.read(corpus_path("xps", "vamas", "0-150W.vms"))
    expected = {
        "Survey": (1206, 1200.0, -5.0, 2106, 9, 2161454, 160),
        "Ni 2p": (601, 900.0, 840.0, 114, 102, 66892, 20),
        "O 1s": (251, 545.0, 520.0, 1620, 1315, 440549, 20),
        "C 1s": (301, 300.0, 270.0, 1906, 1820, 585298, 20),
        "W 4f": (251, 50.0, 25.0, 897, 107, 221926, 20),
    }
    assert list(tree.children) == list(expected)
    for name, (n, be0, be1, first, last, total, pe) in expected.items():
        ds = _leaf(tree, name)
        assert ds.sizes["binding_energy"] == n
        assert ds.binding_energy[0] == pytest.approx(be0) and ds.binding_energy[-1] == pytest.approx(be1)
        y = ds.intensity.values
        assert (y[0], y[-1], y.sum()) == (first, last, total)
        assert ds.attrs["pass_energy_ev"] == pe and ds.attrs["excitation_energy_ev"] == 1486.69
        assert "transmission" in ds
        np.testing.assert_allclose(ds.kinetic_energy + ds.binding_energy, 1486.69)
    survey = _leaf(tree, "Survey")
    assert survey.attrs["comments"].startswith("Creation")  # Kratos ESCApe settings, verbatim
    assert original_metadata(survey)["comment_fields"]["Created by"] == "600-72-HP\\600-72"


def test_npl_multipak_export():
    tree = specfit.read(corpus_path("xps", "vamas", "Mutlipak_vms.npl"))
    expected = {
        "C 1s": (601, 305.0, 2047.5, 1372.5, 1253902.5),
        "O 1s": (601, 555.0, 2952.5, 2552.5, 1779397.5),
        "S 2p": (501, 180.0, 528.75, 237.5, 288171.25),
        "N 1s": (401, 410.0, 2805.0, 2062.5, 1110012.5),
        "Mo 3d": (401, 240.0, 1252.5, 537.5, 662197.5),
    }
    assert list(tree.children) == list(expected)
    for name, (n, be0, first, last, total) in expected.items():
        ds = _leaf(tree, name)
        y = ds.intensity.values
        assert ds.sizes["binding_energy"] == n and ds.binding_energy[0] == be0
        assert np.diff(ds.binding_energy).round(6).tolist() == [-0.05] * (n - 1)
        assert (y[0], y[-1]) == (first, last) and y.sum() == pytest.approx(total)
        assert ds.intensity.attrs["units"] == "counts/s"
        assert ds.attrs["pass_energy_ev"] == 46.95 and ds.attrs["excitation_energy_ev"] == 1486.6


def test_xps_eis_and_aes_staib():
    tree = specfit.read(corpus_path("xps", "vamas", "xps_eis.vms"))
    assert len(tree.children) == 4
    b1, b4 = _leaf(tree, "block_1"), _leaf(tree, "block_4")
    assert b1.sizes["binding_energy"] == 8201 and b1.kinetic_energy[0] == 1506.7
    assert (b1.intensity.min(), b1.intensity.max()) == (2141, 84683)
    assert b1.attrs["pass_energy_ev"] == 50 and b1.attrs["scans"] == 5 and b1.attrs["dwell_time_s"] == 0.2
    assert b1.attrs["signal_time_correction_s"] == 7e-8 and b1.attrs["work_function_ev"] == 4.5
    assert b1.intensity.attrs["units"] == "counts/s" and b1.attrs["analyser_mode"] == "FAT"
    assert b4.sizes["binding_energy"] == 541 and (b4.intensity.min(), b4.intensity.max()) == (7813, 12216)
    assert b4.attrs["pass_energy_ev"] == 20 and b4.attrs["scans"] == 10
    assert "Experiment Type: XPS" in tree.attrs["comments"]

    aes = specfit.read(corpus_path("xps", "vamas", "aes_staib.vms"))
    ((_, ds),) = list(leaves(aes))
    assert ds.attrs["technique"] == "aes" and ds.attrs["instrument"] == "Staib SuperCMA"
    assert ds.sizes["kinetic_energy"] == 1100 and ds.kinetic_energy[0] == pytest.approx(19.989319)
    assert (ds.intensity.min(), ds.intensity.max()) == (-3423633, 99886)
    assert ds.attrs["acquired_at"].startswith("2022-05-26T15:00:46")
    assert ds.attrs["param_bksrettime"] == 5000 and ds.attrs["param_bksresol"] == 1.0
    assert ds.attrs["dwell_time_s"] == 0.503


def test_regular_and_irregular_are_the_same_survey():
    reg = _leaf(specfit.read(corpus_path("xps", "vamas", "regular.vms")), "Survey")
    irr = _leaf(specfit.read(corpus_path("xps", "vamas", "irregular.vms")), "Survey")
    np.testing.assert_allclose(reg.kinetic_energy, irr.kinetic_energy)
    assert reg.kinetic_energy[0] == 136.61 and reg.kinetic_energy[-1] == pytest.approx(1486.61)
    assert reg.intensity.sum() == pytest.approx(3188302.09, abs=0.01)
    # CasaXPS re-saved the irregular copy as counts per second (collection time 0.1 s -> 1 s):
    # pynxtools' "averaged" numbers are these count rates
    assert irr.intensity.attrs["units"] == "counts/s" and reg.intensity.attrs["units"] == "counts"
    assert (float(irr.intensity[0]), float(irr.intensity[-1])) == (15598.7, 181.529)
    assert irr.intensity.sum() == pytest.approx(31883020.89, abs=0.01)
    np.testing.assert_allclose(reg.intensity / reg.attrs["dwell_time_s"], irr.intensity, rtol=1e-5)
    np.testing.assert_allclose(reg.transmission, irr.transmission)


def test_casaxps_analysis_file_keeps_fit_model():
    ds = _leaf(specfit.read(corpus_path("xps", "casaxps_analysis", "FeO_analyzed.vms")), "Fe 2p")
    assert ds.sizes["binding_energy"] == 1121
    assert ds.binding_energy[0] == pytest.approx(750) and ds.binding_energy[-1] == pytest.approx(694)
    # pynxtools reports counts / (collection time 2 s x 1 scan)
    rate = ds.intensity / (ds.attrs["dwell_time_s"] * ds.attrs["scans"])
    assert float(rate[0]) == pytest.approx(6258.45) and float(rate[-1]) == pytest.approx(1442.15)
    assert float(rate.sum()) == pytest.approx(6995588.385, abs=1e-3)
    assert ds.attrs["comments"].count("CASA comp") == 4 and "U 3 Tougaard" in ds.attrs["comments"]


def test_pt4f_transmission():
    ds = _leaf(specfit.read(corpus_path("xps", "vamas_transmission", "Pt4f.vms")), "Pt 4f")
    assert ds.sizes["binding_energy"] == 281 and ds.kinetic_energy[0] == 1396.68
    assert "transmission" in ds and ds.attrs["pass_energy_ev"] == 20


@pytest.mark.parametrize("name", ["casa_header", "casa_process", "kratos", "phi", "specs_block", "specs_header"])
def test_comment_fragments_are_not_vamas_files(name):
    with pytest.raises(ReadError):
        specfit.read(corpus_path("xps", "vamas_comments", f"{name}.vms"))


# ----------------------------------------------------------------------------------------------
# independent reader


def _peer_readable() -> list[str]:
    path = CORPUS / "peer_readings.json"
    if not path.exists():
        return []
    peer = json.loads(path.read_text())
    return sorted(k for k, v in peer.items() if k.endswith(".vms") and "blocks" in v)


@pytest.mark.parametrize("rel", _peer_readable())
def test_matches_vamas_package_element_by_element(rel):
    vamas = pytest.importorskip("vamas", reason="the independent `vamas` package is not installed")
    path = corpus_path(*rel.split("/"))
    peer = vamas.Vamas(path.read_bytes())
    tree = read_vamas(path, group_profiles=False)
    ours = sorted((ds for _, ds in leaves(tree)), key=lambda ds: ds.attrs["block_index"])
    assert len(ours) == len(peer.blocks)
    for ds, block in zip(ours, peer.blocks):
        y = np.asarray(block.corresponding_variables[0].y_values, dtype=float)
        np.testing.assert_array_equal(ds.intensity.values, y)
        for extra, var in zip([v for v in ds.data_vars if v != "intensity"], block.corresponding_variables[1:]):
            np.testing.assert_array_equal(ds[extra].values, np.asarray(var.y_values, dtype=float))
        x = block.x_start + block.x_step * np.arange(y.size)
        axis = ds.kinetic_energy if "kinetic_energy" in ds.coords else ds.binding_energy
        np.testing.assert_allclose(axis.values, x, atol=1e-6)
        assert ds.attrs["block_identifier"] == block.block_identifier
        meta = original_metadata(ds)["block"]
        assert meta["source_energy"] == block.analysis_source_characteristic_energy
        assert meta["pass_energy"] == block.analyzer_pass_energy_or_retard_ratio_or_mass_res
        assert meta["scans"] == block.num_scans_to_compile_block


def test_sims_block_on_a_mass_axis(tmp_path):
    block = {
        "start": 1.0,
        "step": 1.0,
        "values": np.array([[5.0], [50.0], [7.0]]),
        "technique": "SIMS",
        "x_label": "mass",
        "species": "Si",
        "transition": "+",
    }
    text = make_vamas([block]).replace("\nmass\neV\n", "\nmass\nu\n")
    ((_, ds),) = list(leaves(specfit.read(_write(tmp_path, text))))
    assert ds.attrs["technique"] == "tofsims" and ds.intensity.dims == ("mass",)
    np.testing.assert_array_equal(ds.mass, [1.0, 2.0, 3.0])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    edits=st.lists(
        st.tuples(st.integers(0, 10**6), st.sampled_from(["delete", "duplicate", "garbage", "negative", "huge"])),
        min_size=1,
        max_size=3,
    )
)
def test_line_edits_give_read_error_or_valid_tree(tmp_path, edits):
    blocks = [
        {"start": 1250.0, "step": 0.1, "values": np.arange(12.0).reshape(6, 2), "variables": [("c", "d"), ("T", "d")]},
        {"start": 900.0, "step": 1.0, "values": np.arange(4.0)[:, None], "species": "O", "transition": "1s"},
    ]
    lines = make_vamas(blocks, mode="SDP").splitlines()
    for position, kind in edits:
        k = position % len(lines)
        if kind == "delete":
            del lines[k]
        elif kind == "duplicate":
            lines.insert(k, lines[k])
        elif kind == "garbage":
            lines[k] = "x#?"
        elif kind == "negative":
            lines[k] = "-3"
        else:
            lines[k] = "999999999"
        if not lines:
            lines = ["VAMAS"]
    path = _write(tmp_path, "\n".join(lines) + "\n", "edited.vms")
    try:
        tree = specfit.read(path)
    except ReadError as exc:
        assert "edited.vms" in str(exc)
    else:
        validate(tree)
