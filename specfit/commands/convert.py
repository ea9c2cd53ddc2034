"""``specfit convert PATH... OUT``: write files as specfit HDF5 (NetCDF4)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import SpecfitError
from ..io import read, save
from ._util import progress


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if len(args.paths) > 1:
        if not out.is_dir():
            raise SpecfitError(f"{out}: with several inputs, OUT must be an existing folder")
        targets = [out / (Path(p).stem + ".h5") for p in args.paths]
    else:
        targets = [out / (Path(args.paths[0]).stem + ".h5") if out.is_dir() else out]
    for path, target in progress(list(zip(args.paths, targets, strict=True)), desc="converting"):
        tree = read(path, technique=args.technique, format=args.format)
        save(tree, target, overwrite=args.overwrite)
        print(f"{path} -> {target}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("convert", help="convert instrument files to specfit HDF5/NetCDF4")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("out", metavar="OUT", help="output .h5 file, or a folder for several inputs")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--technique", help="hint for files that do not say (xps, raman, xrd, tofsims)")
    p.add_argument("--format", help="force a format (see `specfit formats`)")
    p.set_defaults(func=run)
