"""``specfit raman preprocess PATH --out OUT.h5``: despike, baseline, smooth, crop, normalise Raman data."""

from __future__ import annotations

import argparse
from pathlib import Path

import xarray as xr

from ..conventions import leaves
from ..errors import SpecfitError
from ..io import read, save
from ..raman import preprocess as pp


def preprocess_tree(
    tree: xr.DataTree,
    *,
    despike: bool = False,
    baseline: str | None = None,
    smooth: int | None = None,
    crop: tuple[float, float] | None = None,
    normalize: str | None = None,
) -> xr.DataTree:
    """Apply the chosen steps to every leaf of ``tree`` (order: despike, crop, baseline, smooth, normalise)."""
    out = tree.copy()
    for node_path, ds in leaves(tree):
        if despike:
            ds = pp.despike(ds)
        if crop is not None:
            ds = pp.crop(ds, *crop)
        if baseline:
            ds, _ = pp.remove_baseline(ds, baseline)
        if smooth:
            ds = pp.smooth(ds, smooth)
        if normalize:
            ds = pp.normalize(ds, normalize)
        if node_path == "/":
            out = xr.DataTree(dataset=ds, children={k: v.copy() for k, v in out.children.items()})
        else:
            out[node_path] = xr.DataTree(dataset=ds)
    return out


def run(args: argparse.Namespace) -> int:
    if args.action != "preprocess":
        raise SpecfitError(f"unknown raman action {args.action!r}")
    if not (args.despike or args.baseline or args.smooth or args.crop or args.normalize):
        raise SpecfitError("nothing to do: choose at least one of --despike, --baseline, --smooth, --crop, --normalize")
    tree = read(args.path, technique="raman", format=args.format)
    processed = preprocess_tree(
        tree,
        despike=args.despike,
        baseline=args.baseline,
        smooth=args.smooth,
        crop=tuple(args.crop) if args.crop else None,
        normalize=args.normalize,
    )
    out = Path(args.out)
    save(processed, out, overwrite=args.overwrite)
    print(f"{args.path} -> {out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("raman", help="Raman tools (preprocess)")
    p.add_argument("action", choices=["preprocess"], help="what to do")
    p.add_argument("path", metavar="PATH", help="a Raman file any specfit reader understands")
    p.add_argument("--out", required=True, metavar="OUT.h5", help="output specfit HDF5/NetCDF4 file")
    p.add_argument("--despike", action="store_true", help="remove cosmic-ray spikes (Whitaker-Hayes)")
    p.add_argument(
        "--baseline",
        metavar="METHOD",
        help="subtract a pybaselines baseline: asls, arpls, airpls, snip, modpoly (stored as variable 'baseline')",
    )
    p.add_argument("--smooth", type=int, metavar="WINDOW", help="Savitzky-Golay window (odd number of points)")
    p.add_argument("--crop", type=float, nargs=2, metavar=("LO", "HI"), help="keep LO <= shift <= HI")
    p.add_argument("--normalize", metavar="max|area|BAND", help="normalise to the maximum, the area or a band")
    p.add_argument("--format", help="force a reader (see `specfit formats`)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=run)
