"""Models: components, ties, doublets from the core-level library, TOML model files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from specfit import Doublet, Model, Peak, Shirley, load_model
from specfit.errors import ModelError
from specfit.model import CompiledModel, core_level
from specfit.reference import load_toml

ISSUE_TOML = """
range = [156.0, 172.0]
[background]
type = "shirley"
[[components]]
name = "PS4"
level = "S 2p"
shape = "GL(30)"
position = 160.8
position_min = 160.0
position_max = 161.5
fwhm = 1.2
fwhm_min = 0.6
fwhm_max = 2.2
[[components]]
name = "intermediate"
level = "S 2p"
shape = "GL(30)"
position = 162.9
position_min = 162.2
position_max = 163.6
fwhm = "PS4"
"""


def test_issue_model_file():
    model = Model.from_toml(ISSUE_TOML)
    assert model.range == (156.0, 172.0)
    assert isinstance(model.background, Shirley)
    assert [type(c) for c in model.components] == [Doublet, Doublet]
    params = model.make_params("binding_energy")
    assert params["intermediate_fwhm"].expr == "PS4_fwhm"
    assert params["PS4_position"].min == 160.0 and params["PS4_position"].max == 161.5
    assert params["PS4_2_position"].value == pytest.approx(160.8 + core_level("S 2p")["splitting"])
    assert params["PS4_2_area"].expr == "PS4_area * PS4_ratio"
    assert params["PS4_ratio"].value == 0.5 and not params["PS4_ratio"].vary


def test_toml_round_trip():
    model = Model.from_toml(ISSUE_TOML)
    again = Model.from_toml(model.to_toml())
    assert again.to_dict() == model.to_dict()
    p1, p2 = model.make_params(), again.make_params()
    assert {n: (p.expr, p.min, p.max, p.vary) for n, p in p1.items()} == {
        n: (p.expr, p.min, p.max, p.vary) for n, p in p2.items()
    }


def test_ties_and_bounded_offsets_compile():
    model = (
        Peak("A", "GL(30)", 100.0, 1.0, 50.0)
        + Peak("B", "GL(30)", "A + 2.1", "A * 1.5", "A * 0.5", position_offset_min=1.9, position_offset_max=2.3)
        + Peak("C", "SGL(20)", 110.0, "A", "A.area + B.area")
    )
    p = model.make_params()
    assert p["B_position"].expr == "A_position + B_position_offset"
    assert (p["B_position_offset"].min, p["B_position_offset"].max) == (1.9, 2.3)
    assert p["B_fwhm"].expr == "A_fwhm * 1.5"
    assert p["C_area"].expr == "A_area + B_area"
    compiled = CompiledModel(model, p, "binding_energy")
    assert compiled.free == ["A_position", "A_fwhm", "A_area", "B_position_offset", "C_position"]
    P = np.array([[100.0, 1.0, 50.0, 2.0, 110.0], [101.0, 2.0, 10.0, 2.2, 111.0]])
    v = compiled.values(P)
    np.testing.assert_allclose(v["B_position"], [102.0, 103.2])
    np.testing.assert_allclose(v["B_fwhm"], [1.5, 3.0])
    np.testing.assert_allclose(v["C_area"], [75.0, 15.0])
    # the same values as lmfit's own expression evaluation
    for name, value in zip(compiled.free, P[1]):
        p[name].value = value
    p.update_constraints()
    for name in p:
        assert p[name].value == pytest.approx(v[name][1])


def test_bounded_ratio():
    model = Peak("A", "gaussian", 10.0, 1.0, 5.0) + Peak(
        "B", "gaussian", 12.0, 1.0, "A * 0.4", area_ratio_min=0.3, area_ratio_max=0.6
    )
    p = model.make_params()
    assert p["B_area"].expr == "A_area * B_area_ratio"
    assert (p["B_area_ratio"].min, p["B_area_ratio"].max, p["B_area_ratio"].value) == (0.3, 0.6, 0.4)


@pytest.mark.parametrize(
    "toml, message",
    [
        ('[[components]]\nname = "A"\nposition = 1.0\nfwhm = "B"\n', "not a component"),
        ('[[components]]\nname = "A"\nposition = 1.0\nshape = "XX(3)"\n', "unknown line shape"),
        ('[[components]]\nname = "A"\nposition = 5.0\nposition_min = 6.0\n', "outside its bounds"),
        ('[[components]]\nname = "A"\nlevel = "Xx 9z"\nposition = 5.0\n', "not in reference_library"),
        ('[[components]]\nname = "A"\nposition = 1.0\ncolour = "red"\n', "unknown settings"),
        ("[[components]]\nposition = 1.0\n", "no name"),
        ('[background]\ntype = "magic"\n', "unknown background"),
        ("range = [1, 2, 3]\n[background]\ntype = 'linear'\n", "range"),
        ("this is = = not toml", "invalid TOML"),
    ],
)
def test_bad_model_files_raise(toml, message):
    with pytest.raises(ModelError, match=message):
        Model.from_toml(toml)


def test_circular_ties_are_refused():
    model = Peak("A", "gaussian", 1.0, "B", 1.0) + Peak("B", "gaussian", 2.0, "A", 1.0)
    with pytest.raises(ModelError, match="circular"):
        CompiledModel(model, model.make_params(), "binding_energy")


def test_singlet_level_makes_a_peak_and_doublets_use_the_library():
    model = Model.from_toml('[[components]]\nname = "C"\nlevel = "C 1s"\nposition = 284.8\n')
    assert type(model.components[0]) is Peak
    for level in (
        "S 2p",
        "P 2p",
        "Cl 2p",
        "Zr 3d",
        "Nb 3d",
        "Ni 2p",
        "Co 2p",
        "Mn 2p",
        "Fe 2p",
        "In 3d",
        "Al 2p",
        "Si 2p",
        "Sn 3d",
        "Ag 3d",
        "W 4f",
        "Mo 3d",
        "Pt 4f",
        "Au 4f",
    ):
        entry = core_level(level)
        assert entry["splitting"] > 0 and entry["source"]
        j_main, j_second = entry["j"]
        assert entry["branching_ratio"] == pytest.approx((2 * j_second + 1) / (2 * j_main + 1), abs=1e-4)
    levels = load_toml("xps/core_levels.toml")["levels"]
    assert {"Li 1s", "O 1s", "F 1s", "N 1s", "B 1s"} <= set(levels)
    d = Doublet("x", "Au 4f", position=84.0)
    assert d.ratio == pytest.approx(0.75) and d.splitting == pytest.approx(3.67)


def test_doublet_on_kinetic_energy_axis_puts_second_line_lower():
    p = Doublet("S", "S 2p", position=1325.8).__add__(Shirley()).make_params("kinetic_energy")
    assert p["S_2_position"].value == pytest.approx(1325.8 - 1.18)


def test_load_model_by_path_and_template(tmp_path, monkeypatch):
    path = tmp_path / "m.toml"
    path.write_text(ISSUE_TOML)
    assert len(load_model(path).components) == 2
    # a user library: templates are found by name in <library>/*/templates/<name>.toml
    lib = tmp_path / "lib"
    (lib / "xps" / "templates").mkdir(parents=True)
    (lib / "xps" / "templates" / "s2p_test.toml").write_text(ISSUE_TOML)
    real_levels = Path(__file__).resolve().parents[1] / "reference_library" / "xps" / "core_levels.toml"
    (lib / "xps" / "core_levels.toml").write_text(real_levels.read_text())
    monkeypatch.setenv("SPECFIT_REFERENCE_LIBRARY", str(lib))
    assert [c.label for c in load_model("s2p_test").components] == ["PS4", "intermediate"]
    with pytest.raises(ModelError, match="no such model file or template"):
        load_model("does_not_exist")


def test_model_composition_errors():
    with pytest.raises(ModelError, match="two components"):
        Peak("A", position=1.0) + Peak("A", position=2.0)
    with pytest.raises(ModelError, match="only one background"):
        Peak("A", position=1.0) + Shirley() + Shirley()
    with pytest.raises(ModelError, match="position is required"):
        Peak("A")


@pytest.mark.parametrize(
    "background", ["", '[background]\ntype = "active_shirley"\n', '[background]\ntype = "polynomial"\ndegree = 2\n']
)
@pytest.mark.parametrize("shape", ["GL(30)", "SGL(20)", "gaussian", "pseudo_voigt(0.4)", "voigt(0.5)"])
def test_analytic_jacobian_matches_finite_differences(shape, background):
    toml = "range = [156.0, 172.0]\n" + background + ISSUE_TOML.split('type = "shirley"')[1]
    toml = toml.replace("GL(30)", shape).replace('fwhm = "PS4"', 'fwhm = "PS4 * 1.1"')
    model = Model.from_toml(toml)
    params = model.make_params()
    compiled = CompiledModel(model, params, "binding_energy")
    x = np.arange(172.0, 156.0, -0.05)
    rng = np.random.default_rng(0)
    base = np.array([params[n].value for n in compiled.free], dtype=float)
    base[np.isnan(base)] = 900.0
    P = base + rng.normal(0, 0.02, size=(3, base.size)) * np.abs(base)
    P[:, [compiled.free.index(n) for n in compiled.free if n.startswith("bg_k")]] = 0.02
    J = compiled.jacobian(x, P)

    def total(Q):
        peaks, dyn, _ = compiled.evaluate(x, Q)
        return peaks + dyn

    for j in range(P.shape[1]):
        h = 1e-6 * max(1.0, np.abs(P[:, j]).max())
        Pp, Pm = P.copy(), P.copy()
        Pp[:, j] += h
        Pm[:, j] -= h
        fd = (total(Pp) - total(Pm)) / (2 * h)
        np.testing.assert_allclose(J[:, :, j], fd, rtol=1e-5, atol=1e-6 * np.abs(fd).max() + 1e-9)
    # single precision (the batch solver's iterations): the same Jacobian to ~1e-6 of its scale;
    # a dynamic background keeps double precision
    J32 = compiled.jacobian(x, P, dtype=np.float32)
    assert J32.dtype == (np.float64 if background else np.float32)
    column_scale = np.abs(J).max(axis=(0, 1))
    assert np.max(np.abs(J32 - J) / column_scale) < 3e-6


def test_affine_ties_compile_to_a_matrix():
    model = Model.from_toml(ISSUE_TOML)
    params = model.make_params()
    compiled = CompiledModel(model, params, "binding_energy")
    assert compiled.affine is not None  # doublets and "same FWHM" are affine maps
    P = np.array([[160.9, 1.1, 900.0, 163.0, 300.0], [161.2, 0.9, 10.0, 162.5, 3.0]])
    fast, slow = compiled.values(P), compiled._values_eval(P)
    for name in slow:
        np.testing.assert_allclose(fast[name], slow[name], rtol=1e-13, atol=1e-13)
    bilinear = Peak("A", "gaussian", 10.0, 1.0, 5.0) + Peak(
        "B", "gaussian", 12.0, 1.0, "A * 0.4", area_ratio_min=0.3, area_ratio_max=0.6
    )
    assert CompiledModel(bilinear, bilinear.make_params(), "binding_energy").affine is None


def test_gl_lines_are_evaluated_only_where_they_matter(monkeypatch):
    """GL/Gaussian lines are computed on the columns where they exceed 1e-17 of their maximum; the
    result must equal the full evaluation."""
    model = Model.from_toml(ISSUE_TOML)
    compiled = CompiledModel(model, model.make_params(), "binding_energy")
    x = np.arange(180.0, 140.0, -0.02)  # wide, descending: most columns are outside every window
    P = np.array([[160.9, 1.1, 900.0, 163.0, 300.0], [161.4, 0.7, 10.0, 162.5, 3.0]])
    assert compiled._window(x, compiled.lines[0], P[:, :1], P[:, 1:2]) != slice(None)
    windowed_total, windowed_jac = compiled.total(x, P), compiled.jacobian(x, P)
    single_jac = compiled.jacobian(x, P, dtype=np.float32)
    monkeypatch.setattr(CompiledModel, "_window", staticmethod(lambda x, line, c, f, level=1e-17: slice(None)))
    np.testing.assert_allclose(windowed_total, compiled.total(x, P), rtol=0, atol=1e-15 * windowed_total.max())
    full_jac = compiled.jacobian(x, P)
    np.testing.assert_allclose(windowed_jac, full_jac, rtol=0, atol=1e-15 * np.abs(full_jac).max())
    # the single-precision Jacobian (solver iterations) leaves out tails below 1e-8 of each line: it stays
    # within single precision's own resolution of the full double-precision one
    assert single_jac.dtype == np.float32
    np.testing.assert_allclose(single_jac, full_jac, rtol=0, atol=1e-6 * np.abs(full_jac).max())
