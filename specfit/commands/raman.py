"""``specfit raman preprocess PATH --out OUT.h5``: despike, baseline, smooth, crop, normalise Raman data.

``specfit raman fit PATH --model thiophosphate [--no-despike] [--baseline METHOD] [--shape SHAPE]
[--out RESULT.h5] [--plot FIG.png] [--json]``: preprocess and fit bands (:func:`specfit.raman.fit_bands`);
prints the area fractions per species (for a map: their mean and spread over the converged pixels).
"""

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


def run_fit(args: argparse.Namespace) -> int:
    """``specfit raman fit``: despike (+ optional baseline), fit, report species fractions."""
    import warnings

    import numpy as np

    from ..fitting import FitWarning
    from ..raman.bandfit import fit_bands
    from ..results import FitResult
    from ._util import print_json

    if args.model is None:
        raise SpecfitError("raman fit needs --model (a template such as 'thiophosphate' or a model file)")
    tree = read(args.path, technique="raman", format=args.format)
    preprocess = {"despike": not args.no_despike, "baseline": args.baseline, "smooth": args.smooth}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FitWarning)
        band_fit = fit_bands(
            tree,
            args.model,
            preprocess=preprocess,
            shape=args.shape,
            background=args.background,
            region=args.region,
            range=tuple(args.crop) if args.crop else None,
        )
    notes = [str(w.message) for w in caught if issubclass(w.category, FitWarning)]
    result = band_fit.result
    if args.out:
        save(result, args.out, overwrite=args.overwrite)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        band_fit.plot().savefig(args.plot, dpi=150, bbox_inches="tight")
    species = band_fit.species
    if isinstance(result, FitResult):
        rows = species.to_dict(orient="records")
    else:
        ok = species["success"].astype(bool)
        rows = []
        for name in species.data_vars:
            if "species" not in species[name].attrs or name.endswith("_error"):
                continue
            values = species[name].where(ok).values
            rows.append(
                {
                    "species": species[name].attrs["species"],
                    "bands": species[name].attrs["bands"],
                    "area_fraction_mean": float(np.nanmean(values)) if ok.any() else float("nan"),
                    "area_fraction_std": float(np.nanstd(values)) if ok.any() else float("nan"),
                    "pixels_converged": int(ok.sum()),
                    "pixels": int(ok.size),
                }
            )
    if args.json:
        print_json({"species": rows, "bands": band_fit.bands.to_dict(orient="records"), "warnings": notes})
        return 0
    for r in rows:
        if "area_fraction" in r:
            print(
                f"{r['species']:<12} {100 * r['area_fraction']:6.2f} ± {100 * r['area_fraction_error']:.2f} %"
                f"  ({r['bands']})"
            )
        else:
            print(
                f"{r['species']:<12} {100 * r['area_fraction_mean']:6.2f} % mean, {100 * r['area_fraction_std']:.2f} % "
                f"spread over {r['pixels_converged']}/{r['pixels']} converged pixels  ({r['bands']})"
            )
    for n in notes:
        print(f"warning: {n}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.action == "fit":
        return run_fit(args)
    if args.action != "preprocess":
        raise SpecfitError(f"unknown raman action {args.action!r}")
    if args.out is None:
        raise SpecfitError("raman preprocess needs --out OUT.h5")
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
    p = subparsers.add_parser("raman", help="Raman tools (preprocess, fit bands)")
    p.add_argument("action", choices=["preprocess", "fit"], help="what to do")
    p.add_argument("path", metavar="PATH", help="a Raman file any specfit reader understands")
    p.add_argument("--out", metavar="OUT.h5", help="output specfit HDF5/NetCDF4 file (processed data / fit result)")
    p.add_argument("--despike", action="store_true", help="remove cosmic-ray spikes (Whitaker-Hayes)")
    p.add_argument("--no-despike", action="store_true", help="fit: do not despike first (default: despike)")
    p.add_argument("--model", help="fit: template name (thiophosphate, polysulfide-sulfate) or model file")
    p.add_argument("--shape", help="fit: line shape of every band (lorentzian, voigt(GFWHM), pseudo_voigt(ETA))")
    p.add_argument("--background", help="fit: background in the model (linear, polynomial:2, constant)")
    p.add_argument("--region", help="fit: which spectrum of the file")
    p.add_argument("--plot", metavar="FIG.png", help="fit: figure of the fit, or species maps with colour bars")
    p.add_argument("--json", action="store_true", help="fit: print bands and species fractions as JSON")
    p.add_argument(
        "--baseline",
        metavar="METHOD",
        help="subtract a pybaselines baseline: asls, arpls, airpls, snip, modpoly (stored as variable 'baseline')",
    )
    p.add_argument("--smooth", type=int, metavar="WINDOW", help="Savitzky-Golay window (odd number of points)")
    p.add_argument(
        "--crop", type=float, nargs=2, metavar=("LO", "HI"), help="keep LO <= shift <= HI (fit: the fit window)"
    )
    p.add_argument("--normalize", metavar="max|area|BAND", help="normalise to the maximum, the area or a band")
    p.add_argument("--format", help="force a reader (see `specfit formats`)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=run)
