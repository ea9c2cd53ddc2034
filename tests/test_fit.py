"""Fitting: known answers on synthetic Poisson spectra, ties, errors, stacks, storage, CLI, plots."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr
from scipy.optimize import least_squares

import specfit
from specfit import ActiveShirley, FitResult, FitStackResult, FitWarning, Linear, Model, Peak, Polynomial, fit
from specfit.conventions import make_leaf
from specfit.errors import FitError
from specfit.fitting import engine
from specfit.lineshapes import gl

REPO = Path(__file__).resolve().parents[1]

S2P_TOML = """
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
SPLIT = 1.18
TRUTH = {"PS4": (160.93, 9000.0), "intermediate": (163.05, 3500.0)}
FWHM = 1.05


def _doublet(x, pos, fwhm, area):
    return gl(x, pos, fwhm, area, 30) + gl(x, pos + SPLIT, fwhm, 0.5 * area, 30)


def _cum_low_be(x, f):
    order = np.argsort(x)
    xs, fs = x[order], f[order]
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (fs[1:] + fs[:-1]) * np.diff(xs))])
    out = np.empty_like(cum)
    out[order] = cum
    return out


def s2p_spectrum(seed=0, scale=1.0, x=None):
    x = np.arange(172.0, 155.99, -0.05) if x is None else x
    peaks = sum(_doublet(x, p, FWHM, a * scale) for p, a in TRUTH.values())
    mean = peaks + 250.0 * scale + 0.03 * _cum_low_be(x, peaks)
    y = np.random.default_rng(seed).poisson(mean).astype(float)
    return x, y


def s2p_dataset(seed=0):
    x, y = s2p_spectrum(seed)
    return make_leaf(y, "binding_energy", x, attrs={"technique": "xps", "region": "S 2p"})


def test_known_answer_positions_and_areas():
    for seed in range(3):
        res = fit(s2p_dataset(seed), Model.from_toml(S2P_TOML))
        assert isinstance(res, FitResult) and res.success
        t = res.table().set_index("name")
        for name, (pos, area) in TRUTH.items():
            assert abs(t.loc[name, "position"] - pos) < 0.02
            assert t.loc[name, "area"] == pytest.approx(area, rel=0.02)
            assert t.loc[f"{name}_2", "area"] == pytest.approx(0.5 * area, rel=0.02)
        assert res.redchi == pytest.approx(1.0, abs=0.25)


def test_doublet_ties_hold_exactly_in_results():
    res = fit(s2p_dataset(1), Model.from_toml(S2P_TOML))
    t = res.table().set_index("name")
    for name in TRUTH:
        assert t.loc[f"{name}_2", "position"] - t.loc[name, "position"] == pytest.approx(SPLIT, abs=1e-12)
        assert t.loc[f"{name}_2", "area"] / t.loc[name, "area"] == pytest.approx(0.5, abs=1e-12)
        assert t.loc[f"{name}_2", "fwhm"] == t.loc[name, "fwhm"]
    assert t.loc["intermediate", "fwhm"] == t.loc["PS4", "fwhm"]
    # each line carries its doublet's total, with an error from the same covariance
    assert t.loc["PS4_2", "component_area"] == pytest.approx(1.5 * t.loc["PS4", "area"], rel=1e-12)
    assert t.loc["PS4", "component_area_error"] == pytest.approx(1.5 * t.loc["PS4", "area_error"], rel=1e-6)
    assert t.loc["PS4", "component_area_fraction"] + t.loc["intermediate", "component_area_fraction"] == (
        pytest.approx(1.0, abs=1e-12)
    )
    assert res.params["PS4_2_area"].value == pytest.approx(0.5 * res.params["PS4_area"].value, rel=1e-14)
    assert t["area_fraction"].sum() == pytest.approx(1.0, abs=1e-12)
    # GL(30) true FWHM is smaller than its width parameter, and both are reported
    assert (t["true_fwhm"] < t["fwhm"]).all()


def test_standard_errors_agree_with_monte_carlo():
    x = np.linspace(100.0, 120.0, 401)
    truth = gl(x, 108.0, 1.4, 6000.0, 30) + gl(x, 110.2, 1.6, 2500.0, 30) + 300.0 + 4.0 * (x - 110)
    y = np.random.default_rng(11).poisson(truth).astype(float)
    data = make_leaf(y, "binding_energy", x, attrs={"technique": "xps"})
    model = Peak("A", "GL(30)", 108.2, 1.2) + Peak("B", "GL(30)", 110.0, 1.2) + Linear()
    res = fit(data, model, monte_carlo=150)
    t = res.table()
    assert res.monte_carlo["converged"] >= 145
    for _, row in t.iterrows():
        assert row["area_error"] == pytest.approx(row["area_mc_error"], rel=0.3)
        assert row["position_error"] == pytest.approx(row["position_mc_error"], rel=0.3)
    for name, p in res.params.items():
        if p.vary:
            assert p.stderr == pytest.approx(res.monte_carlo["param_std"][name], rel=0.3)


def test_save_load_round_trip(tmp_path):
    res = fit(s2p_dataset(2), Model.from_toml(S2P_TOML))
    path = specfit.save(res, tmp_path / "fit.h5")
    back = specfit.load(path)
    assert isinstance(back, FitResult)
    assert back.table().equals(res.table())
    assert back.statistics == json.loads(json.dumps(res.statistics))
    for name, p in res.params.items():
        assert back.params[name].value == p.value
        assert back.params[name].stderr == p.stderr
        assert back.params[name].expr == p.expr
    xr.testing.assert_identical(back.to_dataset(), res.to_dataset())
    assert back.model.to_dict() == res.model.to_dict()


def test_to_dataset_and_dict():
    res = fit(s2p_dataset(3), Model.from_toml(S2P_TOML))
    ds = res.to_dataset()
    assert {"intensity", "envelope", "background", "residual", "component_PS4", "component_intermediate_2"} <= set(
        ds.data_vars
    )
    np.testing.assert_allclose(
        ds["envelope"], ds["background"] + sum(ds[v] for v in ds.data_vars if v.startswith("component_"))
    )
    assert float(ds["binding_energy"][0]) == 172.0  # the data's own axis and order
    d = json.loads(json.dumps(res.to_dict()))
    assert [c["name"] for c in d["components"]] == ["PS4", "PS4_2", "intermediate", "intermediate_2"]
    assert d["statistics"]["success"] is True and "redchi" in d["statistics"]


def test_bound_hit_warns_and_is_flagged():
    model = Model.from_toml(S2P_TOML.replace("position_max = 163.6", "position_max = 162.95"))
    with pytest.warns(FitWarning, match="bound"):
        res = fit(s2p_dataset(4), model)
    assert res.at_bound == ["intermediate_position"]


def test_bad_data_raises_fit_error():
    x, y = s2p_spectrum(12)
    y[100] = np.nan
    with pytest.raises(FitError, match="NaN"):
        fit(make_leaf(y, "binding_energy", x), Model.from_toml(S2P_TOML))
    with pytest.raises(FitError, match="fit range"):
        fit(s2p_dataset(12), Model.from_toml(S2P_TOML), range=(300.0, 310.0))
    with pytest.raises(FitError, match="weights"):
        fit(s2p_dataset(12), Model.from_toml(S2P_TOML), weights="magic")
    with pytest.raises(FitError, match="cannot fit"):
        fit(np.zeros(10), Model.from_toml(S2P_TOML))


def test_tree_region_selection():
    x, y = s2p_spectrum(5)
    leaf = make_leaf(y, "binding_energy", x, attrs={"technique": "xps", "region": "S 2p", "source_format": "t"})
    other = make_leaf(y[::-1], "binding_energy", x, attrs={"technique": "xps", "region": "C 1s", "source_format": "t"})
    tree = xr.DataTree.from_dict({"/s": leaf, "/c": other})
    res = fit(tree, Model.from_toml(S2P_TOML), region="S 2p")
    assert res.success
    with pytest.raises(FitError, match="say which"):
        fit(tree, Model.from_toml(S2P_TOML))
    with pytest.raises(FitError, match="no spectrum"):
        fit(tree, Model.from_toml(S2P_TOML), region="Zr 3d")
    single = xr.DataTree.from_dict({"/s": leaf})
    assert fit(single, Model.from_toml(S2P_TOML)).success


def test_polynomial_only_model_and_active_shirley():
    x = np.linspace(100, 1500, 300)
    y = 5.0 + 0.01 * x - 3e-6 * x**2
    res = fit(make_leaf(y, "raman_shift", x, units="arb"), Model([], Polynomial(degree=2)))
    np.testing.assert_allclose(res.envelope, y, rtol=1e-9, atol=1e-9)

    xb = np.arange(172.0, 155.99, -0.05)
    peaks = sum(_doublet(xb, p, FWHM, a) for p, a in TRUTH.values())
    k = 0.03
    yb = peaks + 250.0 + k * _cum_low_be(xb, peaks)
    model = Model.from_toml(S2P_TOML.replace('type = "shirley"', 'type = "active_shirley"'))
    res = fit(make_leaf(yb, "binding_energy", xb, units="arb"), model)
    assert res.params["bg_k"].value == pytest.approx(k, rel=1e-3)
    assert res.params["bg_offset"].value == pytest.approx(250.0, rel=1e-3)
    assert res.area("PS4") == pytest.approx(TRUTH["PS4"][1], rel=1e-3)
    assert isinstance(model.background, ActiveShirley)


def test_plot():
    import matplotlib

    matplotlib.use("Agg")
    res = fit(s2p_dataset(6), Model.from_toml(S2P_TOML))
    fig = res.plot()
    main, resid = fig.axes
    lo, hi = main.get_xlim()
    assert lo > hi  # binding energy runs high -> low
    assert len(main.collections) == 4  # one filled area per line
    assert resid.get_ylabel().startswith("weighted")
    assert specfit.plot(res) is not None


# ------------------------------------------------------------------------------------- stacks


def _stack(dims: dict[str, int], seed=0):
    shape = tuple(dims.values())
    n = int(np.prod(shape))
    x = np.arange(172.0, 155.99, -0.05)
    spectra = []
    for i in range(n):
        scale = 0.5 + i / n
        spectra.append(s2p_spectrum(seed + i, scale=scale, x=x)[1])
    return make_leaf(
        np.array(spectra).reshape((*shape, x.size)),
        "binding_energy",
        x,
        attrs={"technique": "xps"},
        extra_dims={d: np.arange(k) * 1.5 for d, k in dims.items()},
    )


def _reference_batch(fun, p0, lower, upper, *, jac=None, max_nfev=200, xtol=1e-10, ftol=1e-10, gtol=1e-10):
    """A slow stand-in with the batch contract (one scipy fit per row) to exercise the batch code path."""
    n, k = p0.shape
    x = p0.copy()
    cov = np.full((n, k, k), np.nan)
    out = dict(cost=np.zeros(n), success=np.zeros(n, bool), nfev=np.zeros(n, int), status=np.zeros(n, int))
    messages = []
    for i in range(n):

        def row(p, i=i):
            P = x.copy()
            P[i] = p
            return fun(P)[i]

        def row_jac(p, i=i):
            P = x.copy()
            P[i] = p
            return jac(P)[i]

        r = least_squares(
            row,
            p0[i],
            jac=row_jac if jac is not None else "2-point",
            bounds=(lower[i], upper[i]),
            x_scale="jac",
            xtol=xtol,
            ftol=ftol,
            gtol=gtol,
        )
        x[i] = r.x
        out["cost"][i], out["success"][i], out["nfev"][i], out["status"][i] = r.cost, r.success, r.nfev, r.status
        messages.append(r.message)
        cov[i] = np.linalg.inv(r.jac.T @ r.jac) * (2 * r.cost / (r.fun.size - k))
    at_bound = (x - lower <= 1e-8) | (upper - x <= 1e-8)
    stderr = np.sqrt(np.einsum("nkk->nk", cov))
    return SimpleNamespace(x=x, message=messages, jac=None, covariance=cov, stderr=stderr, at_bound=at_bound, **out)


def test_stack_with_lmfit_loop_matches_single_fits():
    data = _stack({"y": 2, "x": 3})
    model = Model.from_toml(S2P_TOML)
    res = fit(data, model, solver="lmfit")
    assert isinstance(res, FitStackResult)
    ds = res.to_dataset()
    assert ds["area"].dims == ("y", "x", "line")
    assert ds["success"].all()
    one = fit(data.isel(y=1, x=2), model)
    np.testing.assert_allclose(ds["area"].isel(y=1, x=2).values, one.table()["area"].values, rtol=1e-6)
    np.testing.assert_allclose(ds["PS4_position_stderr"].isel(y=1, x=2), one.params["PS4_position"].stderr, rtol=1e-4)
    entries = res.to_dict()
    assert [e["coords"] for e in entries[:3]] == [{"y": 0.0, "x": 0.0}, {"y": 0.0, "x": 1.5}, {"y": 0.0, "x": 3.0}]
    assert entries[5]["components"][0]["area"] == pytest.approx(float(ds["area"].isel(y=1, x=2, line=0)))
    # areas scale with the synthetic intensity scale
    areas = ds["area"].sel(line="PS4").values.ravel()
    scales = 0.5 + np.arange(6) / 6
    np.testing.assert_allclose(areas / scales, TRUTH["PS4"][1], rtol=0.03)
    table = res.table()
    assert len(table) == 6 * 4 and {"y", "x", "line", "area", "redchi"} <= set(table.columns)


def test_stack_batch_path_equals_lmfit(monkeypatch):
    data = _stack({"etch_level": 4}, seed=20)
    model = Model.from_toml(S2P_TOML)
    ref = fit(data, model, solver="lmfit")
    monkeypatch.setattr(engine, "batch_solver", lambda: _reference_batch)
    res = fit(data, model)
    assert res.dataset.attrs["solver"] == "batch"
    for name in ("PS4_position", "PS4_fwhm", "PS4_area", "intermediate_position", "intermediate_area"):
        np.testing.assert_allclose(res.dataset[name], ref.dataset[name], rtol=1e-5)
        np.testing.assert_allclose(res.dataset[f"{name}_stderr"], ref.dataset[f"{name}_stderr"], rtol=2e-2)
    np.testing.assert_allclose(res.dataset["area_error"], ref.dataset["area_error"], rtol=2e-2)


def test_stack_neighbour_seed_and_storage(tmp_path):
    data = _stack({"etch_level": 3}, seed=40)
    model = Model.from_toml(S2P_TOML)
    res = fit(data, model, seed="neighbour", solver="lmfit")
    ref = fit(data, model, seed="guess", solver="lmfit")
    np.testing.assert_allclose(res.dataset["area"], ref.dataset["area"], rtol=1e-5)
    path = specfit.save(res, tmp_path / "stack.h5")
    back = specfit.load(path)
    assert isinstance(back, FitStackResult)
    xr.testing.assert_allclose(
        back.dataset.drop_vars(["message", "at_bound"]), res.dataset.drop_vars(["message", "at_bound"])
    )
    assert back.to_dict() == res.to_dict()


# ------------------------------------------------------------------------------------- CLI


def test_cli_fit_json_on_csv(tmp_path):
    x, y = s2p_spectrum(9)
    csv = tmp_path / "s2p.csv"
    csv.write_text("Binding Energy (eV),Counts\n" + "".join(f"{a:.2f},{int(b)}\n" for a, b in zip(x, y)))
    model = tmp_path / "m.toml"
    model.write_text(S2P_TOML)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "specfit",
            "fit",
            str(csv),
            "--model",
            str(model),
            "--json",
            "--out",
            str(tmp_path / "r.h5"),
            "--plot",
            str(tmp_path / "fig.png"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    comps = {c["name"]: c for c in d["components"]}
    assert {"PS4", "intermediate"} <= set(comps)
    assert comps["PS4"]["area"] == pytest.approx(TRUTH["PS4"][1], rel=0.02)
    assert comps["intermediate"]["area"] == pytest.approx(TRUTH["intermediate"][1], rel=0.03)
    assert comps["PS4"]["area_error"] > 0 and 0 < comps["PS4"]["area_fraction"] < 1
    assert d["statistics"]["success"] is True
    assert (tmp_path / "fig.png").stat().st_size > 1000
    assert isinstance(specfit.load(tmp_path / "r.h5"), FitResult)


def test_cli_fit_reports_bad_model(tmp_path):
    x, y = s2p_spectrum(9)
    csv = tmp_path / "s2p.csv"
    csv.write_text("Binding Energy (eV),Counts\n" + "".join(f"{a:.2f},{int(b)}\n" for a, b in zip(x, y)))
    out = subprocess.run(
        [sys.executable, "-m", "specfit", "fit", str(csv), "--model", "no_such_template"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert out.returncode == 1 and "no such model file or template" in out.stderr


def test_warnings_filter_does_not_leak():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit(s2p_dataset(10), Model.from_toml(S2P_TOML))


def test_cli_fit_json_on_a_stack(tmp_path):
    data = _stack({"etch_level": 3}, seed=60)
    data.attrs.update({"source_format": "test", "region": "S 2p"})
    path = specfit.save(xr.DataTree.from_dict({"/S 2p": data}), tmp_path / "profile.h5")
    model = tmp_path / "m.toml"
    model.write_text(S2P_TOML)
    out = subprocess.run(
        [sys.executable, "-m", "specfit", "fit", str(path), "--model", str(model), "--json", "--solver", "lmfit"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    entries = json.loads(out.stdout)
    assert [e["coords"] for e in entries] == [{"etch_level": 0.0}, {"etch_level": 1.5}, {"etch_level": 3.0}]
    ref = fit(data, Model.from_toml(S2P_TOML), solver="lmfit")
    for i, e in enumerate(entries):
        assert e["statistics"]["success"] is True
        names = [c["name"] for c in e["components"]]
        assert names == ["PS4", "PS4_2", "intermediate", "intermediate_2"]
        assert e["components"][0]["area"] == pytest.approx(float(ref.dataset["area"][i, 0]), rel=1e-6)


def test_real_batch_solver_matches_lmfit_loop():
    """Runs once ``specfit.fitting.batch`` (the batched solver) is installed; skipped before."""
    pytest.importorskip("specfit.fitting.batch")
    data = _stack({"y": 3, "x": 4}, seed=80)
    model = Model.from_toml(S2P_TOML)
    ref = fit(data, model, solver="lmfit")
    res = fit(data, model, solver="batch")
    assert res.dataset.attrs["solver"] == "batch" and bool(res.dataset["success"].all())
    for name in ("PS4_position", "PS4_fwhm", "PS4_area", "intermediate_position", "intermediate_area"):
        np.testing.assert_allclose(res.dataset[name], ref.dataset[name], rtol=1e-4)
        np.testing.assert_allclose(res.dataset[f"{name}_stderr"], ref.dataset[f"{name}_stderr"], rtol=2e-2)


def test_compiled_model_is_reused_until_the_model_changes():
    """specfit.fit reuses a model's Parameters and compiled form while the model is unchanged, and
    compiles afresh as soon as it is changed in place (a changed bound must act on the next fit)."""
    from specfit.model.core import compiled_model

    model = Model.from_toml(S2P_TOML)
    first = compiled_model(model, "binding_energy")
    assert compiled_model(model, "binding_energy")[1] is first[1]
    assert compiled_model(model, "kinetic_energy")[1] is not first[1]
    # narrow the PS4 position window in place so that the truth (160.93) lies outside it
    model.components[0].bounds["position_max"] = 160.85
    params, compiled = compiled_model(model, "binding_energy")
    assert compiled is not first[1]
    assert params["PS4_position"].max == 160.85
    with pytest.warns(FitWarning, match="bound"):
        res = fit(s2p_dataset(), model)
    pos = res.table().set_index("name").loc["PS4", "position"]
    assert pos == pytest.approx(160.85, abs=1e-6)


def test_analytic_line_errors_equal_numerical_propagation():
    """Errors of positions, widths, areas and (component) area fractions: the affine shortcut gives the
    numbers of the general numerical propagation."""
    from specfit.fitting.engine import propagate
    from specfit.model.core import compiled_model
    from specfit.results import _affine_line_errors, _line_quantities

    model = Model.from_toml(S2P_TOML) + Peak("extra", position=166.0, fwhm=1.5, shape="GL(30)")
    params, compiled = compiled_model(model, "binding_energy")
    assert compiled.affine is not None
    rng = np.random.default_rng(7)
    k = len(compiled.free)
    start = np.array([params[name].value for name in compiled.free])
    P = np.where(np.isnan(start), 2000.0, start)[None] * (1 + 0.5 * rng.random((6, k)))  # NaN: unset areas
    G = rng.normal(size=(6, k, k))
    cov = G @ G.transpose(0, 2, 1) * 1e-2
    vals = _line_quantities(compiled, P)
    analytic = _affine_line_errors(compiled, P, cov, vals)
    numerical = propagate(lambda Q: _line_quantities(compiled, Q), P, cov)
    assert analytic.shape == numerical.shape == vals.shape
    assert (analytic > 0).all()
    np.testing.assert_allclose(analytic, numerical, rtol=1e-6)
