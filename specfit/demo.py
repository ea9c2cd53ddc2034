"""``specfit demo``: the main job on the bundled example data.

Reads every bundled example (a coated sulfide electrolyte before/after cycling, all synthetic, see
:mod:`specfit.examples`), analyses it with the technique modules and writes a report folder:
figures (PNG), results (.h5), a summary table (CSV and JSON) and ``index.html``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import xarray as xr

from .conventions import leaves, spectral_axis
from .examples import EXAMPLES_DIR, TRUTH
from .io import read, save
from .report import Report, Section

__all__ = ["run_demo"]

Step = Callable[[Report, Path], None]


def _plot_tree(tree: xr.DataTree, path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    for node_path, ds in leaves(tree):
        axis = spectral_axis(ds)
        da = ds["intensity"]
        if da.ndim == 1:
            ax.plot(ds[axis], da, lw=1, label=node_path.strip("/"))
        else:
            other = next(d for d in da.dims if d != axis)
            for i in range(da.sizes[other]):
                ax.plot(ds[axis], da.isel({other: i}), lw=1, label=f"{other} {ds[other].values[i]}")
        ax.set_xlabel(f"{ds[axis].attrs.get('long_name', axis)} ({ds[axis].attrs.get('units', '')})")
        ax.set_ylabel(f"Intensity ({da.attrs.get('units', '')})")
        if axis == "binding_energy":
            ax.invert_xaxis()
        if axis == "sputter_time":
            ax.set_yscale("log")
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _step_read_convert(report: Report, out: Path) -> None:
    """Read every example, store it as specfit HDF5 and plot it."""
    rows = []
    (out / "data").mkdir(exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)
    figures = []
    for path in sorted(EXAMPLES_DIR.glob("*")):
        if path.suffix not in {".csv", ".h5"}:
            continue
        tree = read(path)
        target = out / "data" / (path.stem + ".h5")
        save(tree, target, overwrite=True)
        fig = f"figures/{path.stem}.png"
        _plot_tree(tree, out / fig, path.name)
        figures.append(fig)
        for node_path, ds in leaves(tree):
            axis = spectral_axis(ds)
            rows.append(
                {
                    "file": path.name,
                    "block": node_path,
                    "technique": ds.attrs.get("technique", ""),
                    "dims": " x ".join(f"{d}={n}" for d, n in ds["intensity"].sizes.items()),
                    "axis": f"{float(ds[axis][0]):g} → {float(ds[axis][-1]):g} {ds[axis].attrs['units']}",
                }
            )
    report.add(
        Section(
            "Example data",
            "Synthetic example data (see specfit/examples.py for the generating parameters), read with "
            "specfit.read and stored as specfit HDF5 (NetCDF4).",
            figures=figures,
            table=rows,
            files=[f"data/{p.stem}.h5" for p in sorted(EXAMPLES_DIR.glob("*")) if p.suffix in {".csv", ".h5"}],
        )
    )
    report.add_summary(technique="all", quantity="files read", value=len(figures), note="bundled synthetic examples")
    report.add_summary(
        technique="xps",
        quantity="true intermediate : PS4 (charged / discharged)",
        value=f"{TRUTH['S 2p']['ratio']['charged']} / {TRUTH['S 2p']['ratio']['discharged']}",
        note="generation parameters",
    )


STEPS: list[tuple[str, Step]] = [
    ("read and convert the example data", _step_read_convert),
]


def run_demo(out: str | Path = "specfit-report", *, show_progress: bool = True) -> Path:
    """Run every demo step and write the report folder; returns the path of ``index.html``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = Report(out, "specfit demo — coated sulfide electrolyte before and after cycling (synthetic data)")
    start = time.perf_counter()
    for i, (label, step) in enumerate(STEPS, start=1):
        if show_progress:
            print(f"[{i}/{len(STEPS)}] {label} ...", file=sys.stderr, flush=True)
        step(report, out)
    page = report.write()
    if show_progress:
        print(f"done in {time.perf_counter() - start:.1f} s: {page}", file=sys.stderr)
    return page
