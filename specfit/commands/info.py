"""``specfit info PATH [--json]``: what a file holds."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..conventions import leaves, spectral_axis
from ..io import read
from ._util import print_json, progress

KEY_ATTRS = (
    "technique",
    "region",
    "sample",
    "instrument",
    "acquired_at",
    "excitation_energy_ev",
    "laser_wavelength_nm",
    "wavelength_angstrom",
    "pass_energy_ev",
    "column",
)


def describe(tree: xr.DataTree, path: str | Path) -> dict[str, Any]:
    """Summarise a data tree as a JSON-ready dict (format, blocks, dims, axis range and units)."""
    blocks = []
    fmt = None
    for node_path, ds in leaves(tree):
        fmt = fmt or ds.attrs.get("source_format")
        axis = spectral_axis(ds)
        values = np.asarray(ds[axis].values, dtype=float)
        blocks.append(
            {
                "path": node_path,
                "dims": {str(d): int(n) for d, n in ds["intensity"].sizes.items()},
                "axis": {
                    "name": axis,
                    "units": ds[axis].attrs.get("units", ""),
                    "first": float(values[0]),
                    "last": float(values[-1]),
                    "points": int(values.size),
                },
                "intensity_units": ds["intensity"].attrs.get("units", ""),
                "attrs": {k: ds.attrs[k] for k in KEY_ATTRS if k in ds.attrs},
            }
        )
    return {"file": str(path), "format": fmt, "blocks": blocks}


def _print_text(summary: dict[str, Any]) -> None:
    print(f"{summary['file']}: {summary['format']}, {len(summary['blocks'])} block(s)")
    for b in summary["blocks"]:
        ax = b["axis"]
        dims = " x ".join(f"{d}={n}" for d, n in b["dims"].items())
        print(
            f"  {b['path']}: {dims}; {ax['name']} {ax['first']:g} -> {ax['last']:g} {ax['units']}; "
            f"intensity in {b['intensity_units']}"
        )
        for key, value in b["attrs"].items():
            print(f"      {key}: {value}")


def run(args: argparse.Namespace) -> int:
    summaries = []
    for path in progress(args.paths, desc="reading"):
        tree = read(path, technique=args.technique, format=args.format)
        summaries.append(describe(tree, path))
    if args.json:
        print_json(summaries[0] if len(summaries) == 1 else summaries)
    else:
        for s in summaries:
            _print_text(s)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("info", help="show what a file holds (format, blocks, axes, key attributes)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--technique", help="hint for files that do not say (xps, raman, xrd, tofsims)")
    p.add_argument("--format", help="force a format (see `specfit formats`)")
    p.set_defaults(func=run)
