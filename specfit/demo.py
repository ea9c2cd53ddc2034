"""``specfit demo``: the main job on the bundled example data.

Reads every bundled example (a coated sulfide electrolyte before/after cycling, all synthetic, see
:mod:`specfit.examples`), analyses it with the technique modules and writes a report folder::

    index.html      one page with everything below
    summary.csv     one row per key number (value, error, unit, and the truth the data were made from)
    summary.json    the same rows as JSON
    figures/*.png   every figure of the page
    results/*.h5    every result (fits, tables, profiles) as specfit HDF5 / NetCDF4
    data/*.h5       the example data as read, in specfit HDF5

The steps (each prints a progress line; a failing step is reported on the page, the others still run,
and :func:`run_demo` then raises, so ``specfit demo`` exits non-zero):

1. read every example and store it as specfit HDF5;
2. XPS: charge-reference each sample to adventitious C 1s at 284.8 eV;
3. XPS: fit S 2p, P 2p and C 1s of both samples with the library templates;
4. XPS: quantify -- intermediate : PS4³⁻ area ratio, atomic %, species fractions;
5. XPS: fit the S 2p sputter series at once and follow the intermediate with etch time;
6. Raman: despike, fit the thiophosphate bands with their background (compared with baseline subtraction);
7. XRD: identify the phases and quantify them (weight fractions, cells, crystallite sizes);
8. ToF-SIMS: interfaces, sulfide-film and coating thickness of the depth profile.
"""

from __future__ import annotations

import json
import math
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr

from .conventions import leaves, spectral_axis
from .errors import SpecfitError
from .examples import EXAMPLES_DIR, TRUTH, example_path
from .io import read, save
from .report import Report, Section

__all__ = ["STEPS", "DemoContext", "run_demo"]

DATA_SUFFIXES = (".csv", ".h5", ".xy")
XPS_STATES = ("charged", "discharged")
XPS_LEVELS = ("S 2p", "P 2p", "C 1s")
#: S 2p / P 2p species present in the example spectra (a subset of the s2p-sulfide / p2p-sulfide templates)
S2P_SPECIES = ("PS4", "intermediate")  # "intermediate": the library's alias of S2p.polysulfide
P2P_SPECIES = ("PS4", "PSP")
C1S_SPECIES = ("CC", "CO")
FIG_DPI = 100


@dataclass
class DemoContext:
    """What the steps share: the report being built, its folder, and results of earlier steps."""

    out: Path
    report: Report
    store: dict[str, Any] = field(default_factory=dict)

    def figure(self, fig: Any, name: str) -> str:
        """Save a matplotlib figure as ``figures/<name>.png``; returns the path relative to the report."""
        rel = f"figures/{name}.png"
        fig.savefig(self.out / rel, dpi=FIG_DPI, bbox_inches="tight")
        plt.close(fig)
        return rel

    def result(self, obj: Any, name: str) -> str:
        """Save a result (anything :func:`specfit.save` takes) as ``results/<name>.h5``; returns the relative path."""
        rel = f"results/{name}.h5"
        save(obj, self.out / rel, overwrite=True)
        return rel

    def summary(
        self,
        technique: str,
        quantity: str,
        value: Any,
        *,
        sample: str = "",
        error: Any = None,
        unit: str = "",
        truth: Any = None,
        note: str = "",
    ) -> None:
        """One row of the summary table (the same columns for every row)."""
        self.report.add_summary(
            technique=technique,
            sample=sample,
            quantity=quantity,
            value=_number(value),
            error=_number(error),
            unit=unit,
            truth=_number(truth),
            note=note,
        )


Step = Callable[[DemoContext], None]


def _number(value: Any) -> Any:
    """Plain floats for the summary (``None`` for missing values; NaN becomes ``None`` too)."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _table_dataset(frame: pd.DataFrame) -> xr.Dataset:
    """A pandas table as a Dataset over ``row`` (strings kept as strings) for specfit.save."""
    frame = frame.reset_index(drop=True).copy()
    for col in frame.columns:
        if frame[col].dtype == object:
            frame[col] = frame[col].astype(str)
    return xr.Dataset.from_dataframe(frame.rename_axis("row"))


# ------------------------------------------------------------------------------------------- 1: read
def _step_read(ctx: DemoContext) -> None:
    """Read every example, store it as specfit HDF5 and draw an overview."""
    (ctx.out / "data").mkdir(exist_ok=True)
    paths = sorted(p for p in EXAMPLES_DIR.iterdir() if p.suffix in DATA_SUFFIXES)
    rows, files = [], []
    fig, axes = plt.subplots(2, (len(paths) + 1) // 2, figsize=(3.2 * ((len(paths) + 1) // 2), 5.6))
    for ax, path in zip(axes.ravel(), paths, strict=False):
        tree = read(path)
        ctx.store[f"data:{path.name}"] = tree
        rel = f"data/{path.stem}.h5"
        save(tree, ctx.out / rel, overwrite=True)
        files.append(rel)
        for node_path, ds in leaves(tree):
            axis = spectral_axis(ds)
            da = ds["intensity"]
            rows.append(
                {
                    "file": path.name,
                    "block": node_path,
                    "technique": ds.attrs.get("technique", ""),
                    "reader": ds.attrs.get("source_format", ""),
                    "dims": " × ".join(f"{d}={n}" for d, n in da.sizes.items()),
                    "axis": f"{float(ds[axis][0]):g} → {float(ds[axis][-1]):g} {ds[axis].attrs.get('units', '')}",
                }
            )
            _overview_panel(ax, ds, axis, path.name)
    for ax in axes.ravel()[len(paths) :]:
        ax.set_visible(False)
    fig.tight_layout()
    overview = ctx.figure(fig, "overview")
    ctx.report.add(
        Section(
            "Example data",
            f"{len(paths)} small synthetic data sets (specfit/data/examples/README.md says how each was made): XPS"
            " of a charged and a discharged cell and an S 2p sputter series, Raman of the cathode composite, the "
            "XRD pattern of a synthesis product and a ToF-SIMS depth profile of a coated particle. specfit.read "
            "recognises each file by its content and returns an xarray DataTree in one set of conventions; each "
            "is stored here as specfit HDF5 (NetCDF4).",
            figures=[overview],
            table=rows,
            files=files,
        )
    )
    ctx.summary("all", "example files read", len(paths), note="bundled synthetic data")


def _overview_panel(ax: Any, ds: xr.Dataset, axis: str, title: str) -> None:
    da = ds["intensity"]
    x = ds[axis].values
    if da.ndim == 1:
        ax.plot(x, da.values, lw=0.8)
    else:
        other = next(d for d in da.dims if d != axis)
        for i in range(da.sizes[other]):
            ax.plot(x, da.isel({other: i}).values, lw=0.8)
    if axis == "binding_energy":
        ax.invert_xaxis()
    if axis == "sputter_time":
        ax.set_yscale("log")
    ax.set_title(title, fontsize=8)
    ax.set_xlabel(f"{axis.replace('_', ' ')} ({ds[axis].attrs.get('units', '')})", fontsize=7)
    ax.tick_params(labelsize=6)


# --------------------------------------------------------------------------- 2: XPS charge reference
def _xps_tree() -> xr.DataTree:
    """Both samples' regions in one tree (``/charged/S 2p`` ...) with ``region`` and ``sample`` attributes."""
    nodes = {}
    for state in XPS_STATES:
        for level in XPS_LEVELS:
            tree = read(example_path(f"xps_{state}_{level.replace(' ', '')}.csv"))
            ((_, ds),) = leaves(tree)
            nodes[f"/{state}/{level}"] = ds.assign_attrs(region=level, sample=state)
    return xr.DataTree.from_dict(nodes)


def _step_xps_reference(ctx: DemoContext) -> None:
    from .xps import charge_reference, charge_reference_info

    raw = _xps_tree()
    referenced = charge_reference(raw, "C 1s", 284.8)  # each sample (attribute "sample") on its own C 1s
    ctx.store["xps"] = referenced
    rows = []
    for state in XPS_STATES:
        info = charge_reference_info(referenced[f"{state}/C 1s"])
        charging = info["measured_ev"] - info["target_ev"]
        rows.append(
            {
                "sample": state,
                "C 1s C–C measured (eV)": round(info["measured_ev"], 3),
                "target (eV)": info["target_ev"],
                "shift applied (eV)": round(info["delta_ev"], 3),
                "true charging (eV)": TRUTH["charge_shift_ev"][state],
            }
        )
        ctx.summary(
            "xps",
            "charging shift from C 1s",
            charging,
            sample=state,
            error=info.get("measured_error_ev"),
            unit="eV",
            truth=TRUTH["charge_shift_ev"][state],
            note="C 1s C–C located by a local fit, referenced to 284.8 eV",
        )
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for ax, level in zip(axes, XPS_LEVELS, strict=True):
        for state, color in zip(XPS_STATES, ("tab:red", "tab:blue"), strict=True):
            before = raw[f"{state}/{level}"]
            after = referenced[f"{state}/{level}"]
            ax.plot(before["binding_energy"], before["intensity"], color=color, lw=0.6, alpha=0.35)
            ax.plot(after["binding_energy"], after["intensity"], color=color, lw=1.0, label=f"{state} (referenced)")
        ax.set_title(level)
        ax.invert_xaxis()
        ax.set_xlabel("Binding energy (eV)")
    axes[0].set_ylabel("Intensity (counts)")
    axes[0].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    ctx.report.add(
        Section(
            "XPS · charge referencing",
            "Insulating sulfides charge under the X-ray beam, which moves every peak of a sample by the same "
            "amount. specfit.xps.charge_reference locates adventitious carbon (C 1s C–C) in each sample and shifts "
            "all regions of that sample so that it sits at 284.8 eV; the shift is recorded in the data's "
            "attributes. Faint lines: as measured; full lines: referenced.",
            figures=[ctx.figure(fig, "xps_referencing")],
            table=rows,
            files=[ctx.result(referenced, "xps_referenced")],
        )
    )


# ------------------------------------------------------------------------------------- 3: XPS fits
def _xps_models() -> dict[str, Any]:
    from .xps import template_model

    return {
        "S 2p": template_model("s2p-sulfide", S2P_SPECIES),
        "P 2p": template_model("p2p-sulfide", P2P_SPECIES),
        "C 1s": template_model("c1s-adventitious", C1S_SPECIES),
    }


def _step_xps_fit(ctx: DemoContext) -> None:
    from . import fit

    tree = ctx.store["xps"]
    models = _xps_models()
    fits: dict[tuple[str, str], Any] = {}
    rows, figures, files = [], [], []
    for state in XPS_STATES:
        for level in XPS_LEVELS:
            result = fit(tree[f"{state}/{level}"].to_dataset(), models[level])
            if not result.success:
                raise SpecfitError(f"XPS fit of {state} {level} did not converge: {result.message}")
            fits[state, level] = result
            files.append(ctx.result(result, f"xps_fit_{state}_{level.replace(' ', '')}"))
            table = result.table()
            for _, line in table.drop_duplicates("component").iterrows():
                rows.append(
                    {
                        "sample": state,
                        "region": level,
                        "component": line["component"],
                        "position (eV)": f"{line['position']:.3f} ± {line['position_error']:.3f}",
                        "FWHM (eV)": f"{line['fwhm']:.2f}",
                        "area": f"{line['component_area']:.0f} ± {line['component_area_error']:.0f}",
                        "χ²ᵣ": f"{result.redchi:.2f}",
                    }
                )
            if level != "C 1s":
                fig = result.plot(title=f"{level} · {state}")
                figures.append(ctx.figure(fig, f"xps_fit_{state}_{level.replace(' ', '')}"))
    ctx.store["xps_fits"] = fits
    for state in XPS_STATES:
        s2p = fits[state, "S 2p"].table().set_index("name")
        ctx.summary(
            "xps",
            "S 2p3/2 PS4³⁻ position (referenced)",
            s2p.loc["PS4", "position"],
            sample=state,
            error=s2p.loc["PS4", "position_error"],
            unit="eV",
            truth=TRUTH["S 2p"]["PS4"],
        )
    ctx.report.add(
        Section(
            "XPS · peak fits",
            "S 2p and P 2p are fitted with the library templates s2p-sulfide and p2p-sulfide restricted to the "
            "species these spectra show (S 2p: PS4³⁻ and the –P–Sn–P– / S–S intermediate, S2p.polysulfide in "
            "the library; P 2p: PS4³⁻ and P–S–P), C 1s with c1s-adventitious (C–C and C–O). Each component is a "
            "spin-orbit doublet (S 2p, P 2p) with the library splitting and 1 : 2 area ratio, on a Shirley "
            "background, with the GL(30) line shape. The synthetic peaks are pseudo-Voigt sums, so χ²ᵣ above 1 "
            "shows that shape mismatch; it biases both components alike and the ratios below stay within a few "
            "per cent of the truth.",
            figures=figures,
            table=rows,
            files=files,
        )
    )


# ---------------------------------------------------------------------------------- 4: XPS quantify
def _component_table(fits: dict[tuple[str, str], Any]) -> pd.DataFrame:
    """One row per fitted component (a doublet's two lines together): the input of specfit.xps.quantify."""
    records = []
    for (state, level), result in fits.items():
        for _, line in result.table().drop_duplicates("component").iterrows():
            records.append(
                {
                    "sample": state,
                    "region": level,
                    "component": line["component"],
                    "area": line["component_area"],
                    "area_error": line["component_area_error"],
                    "binding_energy": line["position"],
                }
            )
    return pd.DataFrame(records)


def _area_correlation(result: Any, first: str, second: str) -> float:
    """Correlation of two components' fitted areas from the fit covariance (0 when either area is tied)."""
    names = [f"{first}_area", f"{second}_area"]
    if not all(n in result.free for n in names):
        return 0.0
    i, j = (result.free.index(n) for n in names)
    cov = result.covariance
    denominator = math.sqrt(cov[i, i] * cov[j, j])
    return float(np.clip(cov[i, j] / denominator, -1.0, 1.0)) if denominator > 0 else 0.0


def _truth_component_table() -> pd.DataFrame:
    """Component areas the example spectra were generated with (doublets: both lines)."""
    s, p, c = TRUTH["S 2p"], TRUTH["P 2p"], TRUTH["C 1s"]
    records = []
    for state in XPS_STATES:
        records += [
            {"sample": state, "region": "S 2p", "component": "PS4", "area": 1.5 * s["PS4_area"]},
            {
                "sample": state,
                "region": "S 2p",
                "component": "intermediate",
                "area": 1.5 * s["PS4_area"] * s["ratio"][state],
            },
            {"sample": state, "region": "P 2p", "component": "PS4", "area": 1.5 * p["PS4_area"]},
            {"sample": state, "region": "P 2p", "component": "PSP", "area": 1.5 * p["P-S-P_area"]},
            {"sample": state, "region": "C 1s", "component": "CC", "area": c["area"]},
            {"sample": state, "region": "C 1s", "component": "CO", "area": c["C-O_area"]},
        ]
    return pd.DataFrame(records)


def _step_xps_quantify(ctx: DemoContext) -> None:
    from .xps import atomic_percent, ratio, species_fractions

    table = _component_table(ctx.store["xps_fits"])
    truth_table = _truth_component_table()
    rows = []
    ratios = []
    for state in XPS_STATES:
        rho = _area_correlation(ctx.store["xps_fits"][state, "S 2p"], "intermediate", "PS4")
        r = ratio(table, "intermediate", "PS4", region="S 2p", sample=state, correlation=rho)
        true_ratio = TRUTH["S 2p"]["ratio"][state]
        ratios.append({"sample": state, "ratio": r.value, "ratio_error": r.error, "truth": true_ratio})
        rows.append(
            {
                "sample": state,
                "intermediate : PS4³⁻": f"{r.value:.3f} ± {r.error:.3f}",
                "truth": true_ratio,
                "deviation": f"{100 * (r.value / true_ratio - 1):+.1f} %",
            }
        )
        ctx.summary(
            "xps",
            "S 2p intermediate : PS4³⁻ area ratio",
            r.value,
            sample=state,
            error=r.error,
            truth=true_ratio,
            note="intermediate (–P–Sn–P– / S–S) over PS4³⁻ doublet areas; error from the fit covariance "
            "(standard errors and their correlation)",
        )
    at = atomic_percent(table, by="region")
    at_truth = atomic_percent(truth_table, by="region")
    merged = at.merge(
        at_truth[["sample", "region", "atomic_percent"]], on=["sample", "region"], suffixes=("", "_truth")
    )
    at_rows = []
    for _, row in merged.iterrows():
        at_rows.append(
            {
                "sample": row["sample"],
                "region": row["region"],
                "sensitivity factor": round(row["sensitivity_factor"], 3),
                "atomic %": f"{row['atomic_percent']:.1f} ± {row['atomic_percent_error']:.1f}",
                "from the generating areas": round(row["atomic_percent_truth"], 1),
            }
        )
        ctx.summary(
            "xps",
            f"{row['region']} atomic %",
            row["atomic_percent"],
            sample=row["sample"],
            error=row["atomic_percent_error"],
            unit="at.%",
            truth=row["atomic_percent_truth"],
            note="Scofield factors (Al Kα); truth = the same factors applied to the generating areas",
        )
    fractions = species_fractions(table)
    files = [
        ctx.result(
            xr.DataTree.from_dict(
                {
                    "/": xr.Dataset(attrs={"description": "XPS quantification of the specfit demo (synthetic data)"}),
                    "/components": _table_dataset(table),
                    "/ratio": _table_dataset(pd.DataFrame(ratios)),
                    "/atomic_percent": _table_dataset(merged),
                    "/species_fractions": _table_dataset(fractions),
                }
            ),
            "xps_quantification",
        )
    ]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    xs = np.arange(len(XPS_STATES))
    ax.bar(xs - 0.18, [r["ratio"] for r in ratios], 0.36, yerr=[r["ratio_error"] for r in ratios], label="fitted")
    ax.bar(xs + 0.18, [r["truth"] for r in ratios], 0.36, color="0.7", label="truth (generating parameters)")
    ax.set_xticks(xs, XPS_STATES)
    ax.set_ylabel("intermediate : PS4³⁻ (S 2p area ratio)")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    ctx.report.add(
        Section(
            "XPS · quantification",
            "The oxidised intermediate grows on charging and shrinks on discharge: its S 2p area relative to "
            "PS4³⁻ is computed with specfit.xps.ratio from the fitted doublet areas, with the error propagated "
            "from the fit covariance, correlation included (specfit.xps.quantify works on any table of component "
            "areas). Atomic % use "
            "Scofield cross-sections (specfit.xps.atomic_percent).",
            figures=[ctx.figure(fig, "xps_ratio")],
            table=rows,
            files=files,
        )
    )
    ctx.report.add(
        Section(
            "XPS · atomic %",
            "Atomic % of S, P and C from the summed region areas, next to the same calculation on the areas the "
            "spectra were generated with. The fitted Shirley background takes a similar share of every region, "
            "so the composition is recovered more closely than the absolute areas.",
            table=at_rows,
        )
    )


# -------------------------------------------------------------------------------- 5: XPS depth series
def _step_xps_depth(ctx: DemoContext) -> None:
    from scipy.optimize import curve_fit

    from .xps import template_model
    from .xps.depth import depth_profile

    tree = read(example_path("xps_depth_S2p.h5"))
    profile = depth_profile(tree, template_model("s2p-sulfide", S2P_SPECIES))  # every etch level at once
    if not bool(profile["success"].all()):
        raise SpecfitError(f"S 2p depth series: {int((~profile['success']).sum())} spectra did not converge")
    etch_time = np.asarray(profile["etch_time"].values, dtype=float)
    area = profile["area"].sel(component="intermediate").values
    area_err = profile["area_error"].sel(component="intermediate").values
    ps4 = profile["area"].sel(component="PS4").values
    ps4_err = profile["area_error"].sel(component="PS4").values
    frac = profile["fraction"].sel(component="intermediate").values
    frac_err = profile["fraction_error"].sel(component="intermediate").values
    ratio = area / ps4
    # per-spectrum standard errors only (no covariances in a stack result): the small negative correlation of
    # the two areas is neglected here; these errors only weight the exponential fit below
    ratio_err = ratio * np.hypot(area_err / area, ps4_err / ps4)

    def decay(t, r0, tau):
        return r0 * np.exp(-t / tau)

    (r0, tau), cov = curve_fit(decay, etch_time, ratio, p0=(ratio[0], 50.0), sigma=ratio_err, absolute_sigma=True)
    r0_err, tau_err = np.sqrt(np.diag(cov))
    d = TRUTH["depth"]
    ctx.summary("xps", "sputter series: intermediate : PS4³⁻ at the surface", r0, error=r0_err, truth=d["ratio0"])
    ctx.summary(
        "xps",
        "sputter series: decay time of the intermediate",
        tau,
        error=tau_err,
        unit="s",
        truth=d["decay_s"],
        note="exponential fit of the ratio against etch time",
    )
    t_fine = np.linspace(0, etch_time.max(), 200)
    true_ratio = d["ratio0"] * np.exp(-t_fine / d["decay_s"])
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.errorbar(etch_time, 100 * frac, yerr=100 * frac_err, fmt="o", label="fitted (specfit.xps.depth_profile)")
    ax.plot(t_fine, 100 * true_ratio / (1 + true_ratio), "--", color="0.5", label="truth")
    ax.set_xlabel("Etch time (s)")
    ax.set_ylabel("Intermediate fraction of S 2p (%)")
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False)
    fig.tight_layout()
    rows = [
        {
            "etch time (s)": f"{t:g}",
            "intermediate (% of S 2p)": f"{100 * f:.1f} ± {100 * fe:.1f}",
            "intermediate : PS4³⁻": f"{r:.3f} ± {re:.3f}",
            "truth": round(d["ratio0"] * math.exp(-t / d["decay_s"]), 3),
            "χ²ᵣ": f"{c:.2f}",
        }
        for t, f, fe, r, re, c in zip(
            etch_time, frac, frac_err, ratio, ratio_err, profile["redchi"].values, strict=True
        )
    ]
    ctx.report.add(
        Section(
            "XPS · sputter series",
            "The six S 2p spectra of the sputter series are fitted in one call: specfit.xps.depth.depth_profile "
            "fits the stack with one model (the engine's batch solver) and tabulates each species' area and share "
            "of the region against etch time. The intermediate is a surface species: its share falls with etch "
            f"time; an exponential fit of the ratio gives a decay time of {tau:.1f} ± {tau_err:.1f} s "
            f"(generated with {d['decay_s']:g} s). The ± are statistical (fit covariance); the GL(30) line shape "
            "fitted to pseudo-Voigt peaks adds a bias of a few per cent that grows as the intermediate shrinks, "
            "which is why the decay time misses by more than its statistical error.",
            figures=[ctx.figure(fig, "xps_depth_fraction")],
            table=rows,
            # NetCDF has no booleans: the convergence flags are stored as int8
            files=[ctx.result(profile.assign(success=profile["success"].astype("int8")), "xps_depth_profile")],
        )
    )


# ------------------------------------------------------------------------------------------ 6: Raman
def _step_raman(ctx: DemoContext) -> None:
    from .raman import fit_bands, remove_baseline

    tree = read(example_path("raman_cathode.csv"))
    # the background is fitted together with the bands (linear, the template's) and the bands are Lorentzian:
    # phonon bands of crystalline phases are lifetime-broadened
    band_fit = fit_bands(tree, "thiophosphate", shape="lorentzian")
    if not band_fit.result.success:
        raise SpecfitError(f"Raman band fit did not converge: {band_fit.result.message}")
    # for comparison: the same fit after subtracting an arPLS baseline estimated first
    subtracted = fit_bands(tree, "thiophosphate", shape="lorentzian", preprocess={"baseline": "arpls"})
    bands = TRUTH["raman"]["bands"]
    in_range = {k: v for k, v in bands.items() if k in ("PS4", "P2S7", "P2S6")}
    total = sum(h for _, h in in_range.values())
    other = subtracted.bands.set_index("name")
    rows = []
    for _, band in band_fit.bands.iterrows():
        true_fraction = in_range[band["name"]][1] / total  # equal widths: area fraction = height fraction
        rows.append(
            {
                "band": band["name"],
                "species": band["species"],
                "position (cm⁻¹)": f"{band['position']:.2f} ± {band['position_error']:.2f}",
                "FWHM (cm⁻¹)": f"{band['fwhm']:.1f}",
                "area fraction": f"{band['area_fraction']:.3f} ± {band['area_fraction_error']:.3f}",
                "truth": round(true_fraction, 3),
                "with arPLS baseline first": f"{other.loc[band['name'], 'area_fraction']:.3f}",
            }
        )
        ctx.summary(
            "raman",
            f"{band['name']} band area fraction (360–450 cm⁻¹)",
            band["area_fraction"],
            error=band["area_fraction_error"],
            truth=true_fraction,
        )
    ((_, raw),) = leaves(tree)
    despiked = band_fit.data
    _, baseline = remove_baseline(despiked, "arpls")
    fig, ax = plt.subplots(figsize=(7, 3.8))
    x = raw["raman_shift"].values
    ax.plot(x, raw["intensity"], lw=0.7, color="0.6", label="as measured (2 cosmic spikes)")
    ax.plot(despiked["raman_shift"], despiked["intensity"], lw=0.9, label="despiked")
    ax.plot(baseline["raman_shift"], baseline, "--", lw=1, label="arPLS baseline (comparison)")
    ax.axvspan(360, 450, color="tab:green", alpha=0.08, label="fit window")
    ax.set_xlabel("Raman shift (cm$^{-1}$)")
    ax.set_ylabel(f"Intensity ({raw['intensity'].attrs.get('units', 'arb')})")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    prep = ctx.figure(fig, "raman_preprocessing")
    fit_fig = ctx.figure(band_fit.result.plot(title="Thiophosphate bands"), "raman_fit")
    ctx.report.add(
        Section(
            "Raman · thiophosphate bands",
            "specfit.raman.fit_bands removes the cosmic-ray spikes (Whitaker–Hayes) and fits the PS4³⁻ (420), "
            "P2S7⁴⁻ (406) and P2S6⁴⁻ (388 cm⁻¹) bands of the library template thiophosphate together with a "
            "linear background, the bands made Lorentzian. Subtracting a baseline estimated beforehand (arPLS, "
            "last column) takes a little area from the overlapping band wings. Band areas compare between "
            "samples; they are proportional to the amount of each unit only up to its Raman cross-section.",
            figures=[prep, fit_fig],
            table=rows,
            files=[ctx.result(despiked, "raman_despiked"), ctx.result(band_fit.result, "raman_fit")],
        )
    )


# -------------------------------------------------------------------------------------------- 7: XRD
def _xrd_tree(result: Any) -> xr.DataTree:
    """An XRD fit as a DataTree: pattern curves, one row per phase, the JSON summary in the root."""
    pattern = xr.Dataset(
        {
            "intensity": ("two_theta", result.y, {"units": "counts"}),
            "calculated": ("two_theta", result.fit),
            "background": ("two_theta", result.background),
            "difference": ("two_theta", result.y - result.fit),
            **{f"phase_{p.name}": ("two_theta", p.curve) for p in result.phases},
        },
        coords={"two_theta": ("two_theta", result.x, {"units": "deg"})},
    )
    phases = xr.Dataset(
        {
            "weight_fraction": ("phase", [p.weight_fraction for p in result.phases]),
            "weight_fraction_error": ("phase", [p.weight_fraction_error for p in result.phases]),
            "a": ("phase", [p.lattice["a"] for p in result.phases], {"units": "angstrom"}),
            "a_error": ("phase", [p.lattice_error.get("a", np.nan) for p in result.phases], {"units": "angstrom"}),
            "crystallite_size": ("phase", [p.crystallite_size_nm or np.nan for p in result.phases], {"units": "nm"}),
            "crystallite_size_error": (
                "phase",
                [p.crystallite_size_error_nm or np.nan for p in result.phases],
                {"units": "nm"},
            ),
        },
        coords={"phase": [p.name for p in result.phases]},
    )
    root = xr.Dataset(
        attrs={
            "description": "XRD identification and whole-pattern fit",
            "result": json.dumps(result.to_dict(), default=float),
            "rwp": result.rwp,
        }
    )
    return xr.DataTree.from_dict({"/": root, "/pattern": pattern, "/phases": phases})


def _step_xrd(ctx: DemoContext) -> None:
    from .xrd import identify, library, plot_fit

    tree = read(example_path("xrd_synthesis_product.xy"))
    result = identify(tree)
    t = TRUTH["xrd"]
    truth = {
        name: (w, a, s) for name, w, a, s in zip(t["phases"], t["weight_fractions"], t["a"], t["sizes_nm"], strict=True)
    }
    found, expected = set(result.names), set(t["phases"])
    if found != expected:
        raise SpecfitError(f"XRD identification found {sorted(found)}, the pattern holds {sorted(expected)}")
    rows = []
    for p in result.phases:
        w, a, size = truth[p.name]
        rows.append(
            {
                "phase": p.name,
                "weight %": f"{100 * p.weight_fraction:.1f} ± {100 * p.weight_fraction_error:.1f}",
                "truth (wt%)": 100 * w,
                "a (Å)": f"{p.lattice['a']:.4f} ± {p.lattice_error.get('a', float('nan')):.4f}",
                "truth a (Å)": a,
                "crystallite size (nm)": f"{p.crystallite_size_nm:.0f} ± {p.crystallite_size_error_nm:.0f}",
                "truth size (nm)": size,
                "match score": round(p.score, 3),
            }
        )
        ctx.summary(
            "xrd",
            f"{p.name} weight fraction",
            100 * p.weight_fraction,
            error=100 * p.weight_fraction_error,
            unit="wt%",
            truth=100 * w,
        )
        ctx.summary("xrd", f"{p.name} cell a", p.lattice["a"], error=p.lattice_error.get("a"), unit="Å", truth=a)
        ctx.summary(
            "xrd",
            f"{p.name} crystallite size",
            p.crystallite_size_nm,
            error=p.crystallite_size_error_nm,
            unit="nm",
            truth=size,
        )
    ctx.summary("xrd", "Rwp", 100 * result.rwp, unit="%", note=f"Rexp {100 * result.rexp:.2f} %")
    fig = plot_fit(result, title=f"Synthesis product · Rwp = {100 * result.rwp:.2f} % (Rexp {100 * result.rexp:.2f} %)")
    ctx.report.add(
        Section(
            "XRD · phase identification and quantification",
            f"specfit.xrd.identify searches the reference library ({len(library())} structures, each with its "
            "source) for the phases whose simulated patterns explain the peaks, then refines a whole-pattern "
            "fit: Hill–Howard weight fractions, cell parameters, Scherrer crystallite sizes, zero shift and a "
            "Chebyshev background. The product is mostly argyrodite Li6PS5Cl with unreacted Li2S and LiCl; tick "
            "marks show each phase's reflections and the lower curve the difference.",
            figures=[ctx.figure(fig, "xrd_fit")],
            table=rows,
            files=[ctx.result(_xrd_tree(result), "xrd_fit")],
        )
    )


# --------------------------------------------------------------------------------------- 8: ToF-SIMS
def _tofsims_tree(profile: xr.Dataset, analysis: Any) -> xr.DataTree:
    interfaces = []
    for frag in analysis.fragments:
        for i in frag.interfaces:
            interfaces.append({"fragment": frag.name, **{k: v for k, v in i.to_dict().items() if v is not None}})
    layers = [layer.to_dict() for layer in analysis.layers]
    rate = analysis.rate_nm_per_s
    data = profile.assign_coords(depth=("sputter_time", profile["sputter_time"].values * rate, {"units": "nm"}))
    return xr.DataTree.from_dict(
        {
            "/": xr.Dataset(attrs={"description": "ToF-SIMS depth-profile analysis", "rate_nm_per_s": rate}),
            "/profile": data,
            "/interfaces": _table_dataset(pd.DataFrame(interfaces)),
            "/layers": _table_dataset(pd.DataFrame(layers)),
        }
    )


def _step_tofsims(ctx: DemoContext) -> None:
    from .tofsims.plot import plot_profile
    from .tofsims.profile import analyze_profile, profile_dataset

    t = TRUTH["tofsims"]
    tree = read(example_path("tofsims_coated_profile.csv"))
    analysis = analyze_profile(tree, rate=t["rate_nm_per_s"])
    rows = []
    for frag in analysis.fragments:
        for i in frag.interfaces:
            rows.append(
                {
                    "fragment": frag.name,
                    "direction": i.direction,
                    "depth (nm)": round(i.depth_nm, 2),
                    "width 16–84 % (nm)": round(i.width_nm, 2),
                }
            )
    film = next((layer for layer in analysis.layers if layer.fragment == "PS-"), None)
    coating = next((layer for layer in analysis.layers if layer.fragment == "NbO2-"), None)
    if film is None or coating is None:
        raise SpecfitError("ToF-SIMS: the sulfide film (PS-) or the LiNbO3 coating (NbO2-) layer was not found")
    ctx.summary("tofsims", "sulfide film thickness (PS⁻ 50 % point)", film.thickness_nm, unit="nm", truth=t["film_nm"])
    ctx.summary(
        "tofsims",
        "LiNbO3 coating thickness (NbO2⁻ between 50 % points)",
        coating.thickness_nm,
        unit="nm",
        truth=t["coating_nm"] - t["film_nm"],
    )
    nio = analysis.fragment("NiO-").interfaces[0]
    ctx.summary("tofsims", "coating / NCM811 interface (NiO⁻ rise)", nio.depth_nm, unit="nm", truth=t["coating_nm"])
    ctx.summary(
        "tofsims",
        "interface width 16–84 % (NiO⁻)",
        nio.width_nm,
        unit="nm",
        truth=2 * t["sigma_nm"],
        note="2σ of an error-function interface",
    )
    fig, ax = plt.subplots(figsize=(7, 4.2))
    plot_profile(tree, analysis=analysis, ax=ax)
    ax.set_title("Coated NCM811 particle: dotted lines mark the 50 % interfaces", fontsize=9)
    fig.tight_layout()
    ctx.report.add(
        Section(
            "ToF-SIMS · depth profile",
            "specfit.tofsims.profile.analyze_profile segments each fragment into plateaus and reads the interface "
            "at 50 % between them (width: 16–84 %); with the sputter rate (0.5 nm/s) times become depths. PS⁻ and "
            f"SO⁻ mark a {film.thickness_nm:.1f} nm sulfide film on top, NbO2⁻ the LiNbO3 coating "
            f"({coating.thickness_nm:.1f} nm thick) and NiO⁻ the NCM811 core.",
            figures=[ctx.figure(fig, "tofsims_profile")],
            table=rows,
            files=[ctx.result(_tofsims_tree(profile_dataset(tree), analysis), "tofsims_profile")],
        )
    )


STEPS: list[tuple[str, Step]] = [
    ("read the example data", _step_read),
    ("XPS: charge referencing to C 1s 284.8 eV", _step_xps_reference),
    ("XPS: fit S 2p, P 2p, C 1s (charged, discharged)", _step_xps_fit),
    ("XPS: intermediate : PS4 ratio, atomic %", _step_xps_quantify),
    ("XPS: S 2p sputter series (stack fit)", _step_xps_depth),
    ("Raman: despike, baseline, band fit", _step_raman),
    ("XRD: identify and quantify phases", _step_xrd),
    ("ToF-SIMS: interfaces and layer thickness", _step_tofsims),
]


def run_demo(out: str | Path = "specfit-report", *, show_progress: bool = True) -> Path:
    """Run every demo step and write the report folder; returns the path of ``index.html``.

    Raises
    ------
    SpecfitError
        After writing the report, if any step failed (the page lists the failures).
    """
    out = Path(out)
    for sub in ("figures", "results", "data"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    report = Report(out, "specfit demo — coated sulfide electrolyte before and after cycling (synthetic data)")
    ctx = DemoContext(out, report)
    start = time.perf_counter()
    failures: list[tuple[str, str]] = []

    def say(text: str) -> None:
        if show_progress:
            print(text, file=sys.stderr, flush=True)

    for i, (label, step) in enumerate(STEPS, start=1):
        say(f"[{i}/{len(STEPS)}] {label} ...")
        t0 = time.perf_counter()
        try:
            step(ctx)
        except Exception as exc:  # a failing step is reported, the others still run
            failures.append((label, f"{type(exc).__name__}: {exc}"))
            say(f"      FAILED: {type(exc).__name__}: {exc}")
            if show_progress:
                traceback.print_exc(file=sys.stderr)
            continue
        say(f"      done in {time.perf_counter() - t0:.1f} s")
    if failures:
        report.add(
            Section(
                "Failed steps",
                "These steps raised an error; the sections above come from the steps that worked.",
                table=[{"step": label, "error": message} for label, message in failures],
            )
        )
    report.intro = (
        "Everything on this page was computed by `specfit demo` from the synthetic example data bundled with "
        "specfit; the truth column gives the parameters the data were generated with "
        "(specfit/data/examples/README.md)."
    )
    page = report.write()
    say(f"report: {page} ({time.perf_counter() - start:.1f} s)")
    if failures:
        raise SpecfitError(
            f"{len(failures)} demo step(s) failed: " + "; ".join(f"{lab}: {msg}" for lab, msg in failures)
        )
    return page
