"""``specfit fit PATH --model MODEL [--species A,B] [--region NAME] [--range LO HI] [--json] [--out RESULT.h5]
[--plot FIG.png]``."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from ..errors import SpecfitError
from ._util import print_json


def run(args: argparse.Namespace) -> int:
    from ..fitting import FitWarning, fit
    from ..io import read, save
    from ..model import load_model
    from ..results import FitResult

    options = {"chunks": _parse_chunks(args.chunks)} if args.chunks else {}
    tree = read(args.path, technique=args.technique, format=args.format, **options)
    with warnings.catch_warnings(record=True) as model_notes:  # e.g. CasaXPS components left out
        warnings.simplefilter("always", UserWarning)
        model = _model(args, tree, load_model)
    if args.model in ("casa", "casa:skip"):
        from ..xps.casaxps import apply_casa_calibration

        tree = apply_casa_calibration(tree, region=args.region)  # CasaXPS's energy calibration, recorded
    client = None
    if args.scheduler or args.workers:
        from ..parallel import get_client

        client = get_client(args.scheduler, n_workers=args.workers, memory_limit=args.memory_limit or "auto")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FitWarning)
        result = fit(
            tree,
            model,
            region=args.region,
            range=tuple(args.range) if args.range else None,
            solver=args.solver,
            seed=args.seed,
            client=client,
        )
    if client is not None:
        cluster = None if args.scheduler else getattr(client, "cluster", None)
        client.close()
        if cluster is not None:
            cluster.close()
    notes = [str(w.message) for w in model_notes if issubclass(w.category, UserWarning)]
    notes += [str(w.message) for w in caught if issubclass(w.category, FitWarning)]
    if args.out:
        save(result, args.out, overwrite=args.overwrite)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        if isinstance(result, FitResult):
            fig = result.plot()
        else:
            # a map or a series: area-fraction images (or curves) per species, with colour bars
            from ..raman.bandfit import plot_species_maps, species_maps

            maps = species_maps(result)
            if len(maps["success"].dims) > 2:
                raise SpecfitError(
                    f"--plot draws maps of up to 2 dimensions; this stack is over {maps['success'].dims}"
                )
            fig = plot_species_maps(maps)
        fig.savefig(args.plot, dpi=150, bbox_inches="tight")
    if isinstance(result, FitResult) and not result.attrs.get("region"):
        level = _model_level(model)
        if level:  # data without a region label (plain text files): the model's core level names it
            result.attrs["region"] = level
    if args.json:
        out = result.to_dict()
        if isinstance(result, FitResult):
            _add_transmission(out, tree, args.region)
            out = {
                "components": out["components"],
                "statistics": out["statistics"],
                "parameters": out["parameters"],
                "attrs": out["attrs"],
                "warnings": notes,
            }
        print_json(out)
    else:
        _print_text(result, args.path, notes)
    return 0


def _model(args: argparse.Namespace, tree, load_model):
    """The model named by ``--model``: ``casa`` / ``casa:skip`` (the CasaXPS analysis stored in the
    file), a template or model file, optionally cut to ``--species``."""
    species = [s.strip() for s in args.species.split(",")] if args.species else None
    if args.model in ("casa", "casa:skip"):
        if species is not None:
            raise SpecfitError("--species does not apply to --model casa")
        from ..xps.casaxps import model_from_vamas

        unsupported = "skip" if args.model == "casa:skip" else "error"
        return model_from_vamas(tree, region=args.region, unsupported=unsupported)  # calibrated frame
    if species is not None:
        from ..xps.templates import template_model

        return template_model(args.model, species)
    return load_model(args.model)


def _add_transmission(out: dict, tree, region: str | None) -> None:
    """Each component's analyser transmission at its position, when the spectrum carries one (for
    transmission-corrected quantification with ``specfit xps quantify``)."""
    from ..fitting.engine import _pick_dataset
    from ..xps.quantify import transmission_at

    values = transmission_at(_pick_dataset(tree, region), [c["position"] for c in out["components"]])
    if values is not None:
        for comp, value in zip(out["components"], values, strict=True):
            comp["transmission"] = value


def _model_level(model) -> str | None:
    """The one core level all components of ``model`` belong to, else ``None``."""
    found = {getattr(c, "level", None) for c in model.components}
    return found.pop() if len(found) == 1 and None not in found else None


def _parse_chunks(text: str) -> str | dict[str, int]:
    """``auto`` or ``y=50,x=50`` -> dask chunks."""
    if text == "auto":
        return text
    chunks = {}
    for part in text.split(","):
        dim, _, size = part.partition("=")
        if not size.strip().isdigit():
            raise SpecfitError(f"--chunks takes 'auto' or DIM=N[,DIM=N], not {text!r}")
        chunks[dim.strip()] = int(size)
    return chunks


def _print_text(result, path, notes) -> None:
    from ..results import FitResult

    if isinstance(result, FitResult):
        s = result.statistics
        print(f"{path}: chisqr {s['chisqr']:.6g}, reduced chisqr {s['redchi']:.4g}, success {s['success']}")
        t = result.table()
        for _, r in t.iterrows():
            print(
                f"  {r['name']:<20} pos {r['position']:10.3f} ± {r['position_error']:.3f}  fwhm {r['fwhm']:.3f} "
                f"(true {r['true_fwhm']:.3f})  area {r['area']:12.5g} ± {r['area_error']:.3g}  "
                f"{100 * r['area_fraction']:6.2f} %"
            )
    else:
        ds = result.dataset
        print(f"{path}: {int(ds['success'].sum())}/{ds['success'].size} spectra converged ({ds.attrs['solver']})")
    for n in notes:
        print(f"warning: {n}")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("fit", help="fit a peak model (model file or template) to a spectrum or a stack")
    p.add_argument("path", metavar="PATH")
    p.add_argument(
        "--model",
        required=True,
        help="model file (.toml), template name, or 'casa' for the CasaXPS analysis stored in a VAMAS file "
        "('casa:skip' leaves out components whose line shape specfit cannot reproduce)",
    )
    p.add_argument("--species", help="comma-separated subset of the template's species, e.g. PS4,intermediate")
    p.add_argument("--region", help="which spectrum of the file (region attribute or node name)")
    p.add_argument("--range", nargs=2, type=float, metavar=("LO", "HI"), help="fit window on the spectral axis")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--out", type=Path, help="save the result (HDF5/NetCDF4)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--plot", type=Path, help="save a figure of the fit (PNG, PDF, SVG)")
    p.add_argument("--solver", default="auto", choices=("auto", "batch", "lmfit"))
    p.add_argument("--seed", default="guess", choices=("guess", "neighbour"))
    p.add_argument(
        "--chunks", metavar="auto|DIM=N,...", help="fit chunk by chunk with dask (stacks/maps larger than memory)"
    )
    p.add_argument("--scheduler", metavar="ADDRESS", help="dask scheduler to fit on (e.g. tcp://host:8786)")
    p.add_argument("--workers", type=int, help="start a local dask cluster with this many worker processes")
    p.add_argument("--memory-limit", help="memory limit per local worker, e.g. 1.5GB")
    p.add_argument("--technique", help="hint for files that do not say (xps, raman, xrd, tofsims)")
    p.add_argument("--format", help="force a file format (see `specfit formats`)")
    p.set_defaults(func=run)
