"""``specfit xps ...``: XPS chemistry -- charge referencing, quantification, templates, the species library.

- ``specfit xps reference PATH [--reference "C 1s"] [--position 284.8] [--measured E] --out OUT.h5``
- ``specfit xps quantify RESULTS... [--by region|component] [--energy-correction tpp2m|N] [--ratio A:B] [--json]``
- ``specfit xps depth PATH --model NAME [--species A,B] [--rate NM_PER_S] [--json] [--plot FIG.png]``
- ``specfit xps joint PATH --model "S 2p=s2p-sulfide[PS4,intermediate]" --model ... [--stoichiometry
  "S 2p/PS4 : P 2p/PS4 = 4"] [--tie "P = EXPR"] [--json]``
- ``specfit xps templates [--show NAME] [--write [DIR]] [--json]``
- ``specfit xps species [LEVEL] [--json]``
- ``specfit xps factors [LEVEL...] [--library scofield] [--source "Al Ka"] [--json]``
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd

from ..errors import SpecfitError
from ._util import print_json


def _read_any(path: str):
    """An instrument file through the reader registry, or a file written by ``specfit.save``."""
    from ..io import load, read

    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"\x89HDF") or head.startswith(b"CDF"):
        return load(path)
    return read(path, technique="xps")


def _run_reference(args: argparse.Namespace) -> int:
    from ..io import save
    from ..xps.referencing import charge_reference, charge_reference_info

    if not Path(args.path).is_file():
        raise SpecfitError(f"{args.path}: no such file")
    tree = _read_any(args.path)
    new = charge_reference(
        tree,
        reference=args.reference,
        position=args.position,
        measured=args.measured,
        method=args.method,
        group_by=None if args.group_by == "none" else args.group_by,
    )
    target = save(new, args.out, overwrite=args.overwrite)
    info = charge_reference_info(new)
    if args.json:
        print_json({"file": args.path, "out": str(target), **info})
    elif info:
        print(
            f"{args.path}: {info['level']} measured at {info['measured_ev']:.3f} eV -> {info['target_ev']:.3f} eV; "
            f"all regions shifted by {info['delta_ev']:+.3f} eV -> {target}"
        )
    else:  # samples referenced separately
        from ..conventions import leaves

        for path, ds in leaves(new):
            print(f"{path}: shifted by {ds.attrs.get('charge_shift_ev', math.nan):+.3f} eV")
        print(f"-> {target}")
    return 0


def _energy_correction(text: str | None):
    if text is None or text.lower() == "none":
        return None
    if text.lower().replace("-", "") == "tpp2m":
        return "tpp2m"
    try:
        return float(text)
    except ValueError as exc:
        raise SpecfitError(f"--energy-correction must be 'tpp2m', 'none' or an exponent, got {text!r}") from exc


def _run_quantify(args: argparse.Namespace) -> int:
    from ..xps import quantify as q

    tables = [q.read_table(path) for path in args.results]
    if args.sample is not None:
        for table in tables:
            table["sample"] = args.sample
    elif len(tables) > 1 and not all("sample" in t.columns for t in tables):
        # files without a sample name: one different region per file (the fit results of one
        # sample, as `specfit fit --json` writes them) make one sample; otherwise each file is a
        # sample named after the file
        regions = [set(t["region"]) for t in tables]
        one_sample = all(len(r) == 1 for r in regions) and len(set().union(*regions)) == len(regions)
        named = any("sample" in t.columns for t in tables)
        for path, table in zip(args.results, tables, strict=True):
            if "sample" not in table.columns and (named or not one_sample):
                table["sample"] = "sample" if one_sample else Path(path).stem
    table = pd.concat(tables, ignore_index=True)
    options = {
        "library": args.library,
        "source": args.source,
        "energy_correction": _energy_correction(args.energy_correction),
        "photon_energy": args.photon_energy,
    }
    result = q.atomic_percent(table, by=args.by, **options)
    ratios = []
    for spec in args.ratio or []:
        if ":" not in spec:
            raise SpecfitError(f"--ratio wants NUM:DEN (component names, '+' to sum), got {spec!r}")
        num, den = (part.split("+") for part in spec.split(":", 1))
        per = q.ratio_table(table, num, den)
        for rec in per.to_dict("records"):
            ratios.append({"ratio": spec, "sample": rec["sample"], "value": rec["ratio"], "error": rec["ratio_error"]})
    fractions = q.species_fractions(table) if args.fractions else None
    if args.json:
        out = {"atomic_percent": result.to_dict("records"), "settings": dict(result.attrs)}
        if ratios:
            out["ratios"] = ratios
        if fractions is not None:
            out["fractions"] = fractions.to_dict("records")
        print_json(out)
        return 0
    label = "component" if args.by == "component" else "region"
    settings = result.attrs
    print(f"atomic % ({settings['sensitivity_library']}, {args.source}, energy term {settings['energy_correction']})")
    for rec in result.to_dict("records"):
        name = rec["region"] if label == "region" else f"{rec['region']} / {rec['component']}"
        sample = f"{rec['sample']}: " if "sample" in rec else ""
        err = rec["atomic_percent_error"]
        err_text = f" ± {err:.2f}" if math.isfinite(err) else ""
        print(f"  {sample}{name:<28} {rec['atomic_percent']:7.2f}{err_text}   (SF {rec['sensitivity_factor']:.4g})")
    if fractions is not None:
        print("fractions within each region (%)")
        for rec in fractions.to_dict("records"):
            sample = f"{rec['sample']}: " if "sample" in rec else ""
            print(f"  {sample}{rec['region']} / {rec['component']:<20} {rec['fraction_percent']:7.2f}")
    for rec in ratios:
        sample = f" [{rec['sample']}]" if rec.get("sample") is not None else ""
        err = f" ± {rec['error']:.3f}" if math.isfinite(rec["error"]) else ""
        print(f"ratio {rec['ratio']}{sample}: {rec['value']:.3f}{err}")
    return 0


def _run_templates(args: argparse.Namespace) -> int:
    from ..xps.library import template_recipes
    from ..xps.templates import template, template_names, template_path, write_templates

    if args.show:
        print(template(args.show), end="")
        return 0
    if args.write is not None:
        folder = None if args.write == "" else args.write
        for path in write_templates(folder):
            print(path)
        return 0
    recipes = template_recipes()
    listing = [
        {
            "name": name,
            "level": recipes[name]["level"],
            "species": recipes[name]["species"],
            "description": recipes[name].get("description", ""),
            "path": str(template_path(name)),
        }
        for name in template_names()
    ]
    if args.json:
        print_json(listing)
    else:
        for item in listing:
            print(f"{item['name']:<18} {item['level']:<6} {item['description']}")
    return 0


def _run_species(args: argparse.Namespace) -> int:
    from ..xps.library import species

    entries = species(args.level)
    if args.json:
        print_json([s.as_dict() for s in entries])
        return 0
    for s in entries:
        window = f"[{s.be_min:.1f}-{s.be_max:.1f}]"
        print(f"{s.name:<20} {s.level:<6} {s.be:7.1f} {window}  FWHM {s.fwhm:.1f}  {s.assignment}")
    return 0


def _run_factors(args: argparse.Namespace) -> int:
    from ..xps.library import sensitivity_factor_info, sensitivity_sets

    sets = sensitivity_sets()
    if not args.levels:
        if args.json:
            print_json(sets)
        else:
            for name, meta in sets.items():
                print(f"{name}: {meta['normalisation']}; {meta['source']}")
        return 0
    infos = [sensitivity_factor_info(level, args.source, library=args.library) for level in args.levels]
    if args.json:
        print_json([{k: v for k, v in vars(i).items() if k != "extra"} for i in infos])
        return 0
    for i in infos:
        derived = f" (derived: {i.derived_from})" if i.derived_from else ""
        print(f"{i.level} {i.line:<5} {i.value:8.4g}  [{i.library}, {i.xray}]{derived}")
    return 0


def _run_depth(args: argparse.Namespace) -> int:
    import warnings

    from ..fitting import FitWarning
    from ..xps.depth import depth_profile, plot_depth_profile, profile_records
    from ..xps.templates import template_model

    if not Path(args.path).is_file():
        raise SpecfitError(f"{args.path}: no such file")
    tree = _read_any(args.path)
    species = [s.strip() for s in args.species.split(",")] if args.species else None
    model = template_model(args.model, species, shape=args.shape)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FitWarning)
        profile = depth_profile(tree, model, rate_nm_per_s=args.rate, region=args.region, solver=args.solver)
    notes = [str(w.message) for w in caught if issubclass(w.category, FitWarning)]
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        fig = plot_depth_profile(profile)
        fig.savefig(args.plot, dpi=150, bbox_inches="tight")
    records = profile_records(profile)
    if args.json:
        print_json(
            {
                "file": args.path,
                "region": profile.attrs["region"],
                "rate_nm_per_s": args.rate,
                "levels": records,
                "warnings": notes,
            }
        )
        return 0
    comps = [str(c) for c in profile["component"].values]
    head = "  ".join(f"{c:>16}" for c in comps)
    print(f"{args.path}: {profile.attrs['region']} fractions (%) per etch level")
    print(f"{'time (s)':>9} {'depth (nm)':>10}  {head}")
    for rec in records:
        depth = f"{rec['depth']:10.2f}" if "depth" in rec else f"{'':>10}"
        time = f"{rec['etch_time']:9.1f}" if "etch_time" in rec else f"{'':>9}"
        cells = "  ".join(
            f"{100 * rec['components'][c]['fraction']:8.2f} ± {100 * rec['components'][c]['fraction_error']:5.2f}"
            for c in comps
        )
        print(f"{time} {depth}  {cells}")
    for note in notes:
        print(f"warning: {note}")
    return 0


def _joint_model_spec(text: str):
    """``REGION=MODEL`` or ``REGION=MODEL[SPECIES,...]`` -> (region, model)."""
    import re

    from ..xps.templates import template_model

    match = re.fullmatch(r"\s*([^=]+?)\s*=\s*([^\[\]]+?)\s*(?:\[([^\]]*)\])?\s*", text)
    if not match:
        raise SpecfitError(f"--model wants REGION=MODEL or REGION=MODEL[SPECIES,...], got {text!r}")
    region, model, species = match.groups()
    names = [s.strip() for s in species.split(",") if s.strip()] if species else None
    return region, template_model(model, names)


def _stoichiometry_spec(text: str, library: str, source: str):
    """``"S 2p/PS4 : P 2p/PS4 = 4"`` -> Stoichiometry."""
    import re

    from ..xps.joint import Stoichiometry

    match = re.fullmatch(r"\s*([^/:=]+)/([^:=]+?)\s*:\s*([^/:=]+)/([^:=]+?)\s*=\s*([0-9.eE+\-]+)\s*", text)
    if not match:
        raise SpecfitError(f"--stoichiometry wants 'REGION/COMPONENT : REGION/COMPONENT = RATIO', got {text!r}")
    r1, c1, r2, c2, value = match.groups()
    return Stoichiometry((r1.strip(), c1.strip()), (r2.strip(), c2.strip()), float(value), library, source)


def _run_joint(args: argparse.Namespace) -> int:
    import warnings

    from ..fitting import FitWarning
    from ..xps.joint import fit_regions

    if not Path(args.path).is_file():
        raise SpecfitError(f"{args.path}: no such file")
    tree = _read_any(args.path)
    models = dict(_joint_model_spec(text) for text in args.model)
    stoichiometry = [_stoichiometry_spec(text, args.library, args.source) for text in args.stoichiometry or []]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FitWarning)
        joint = fit_regions(tree, models, ties=args.tie or None, stoichiometry=stoichiometry)
    notes = [str(w.message) for w in caught if issubclass(w.category, FitWarning)]
    if args.json:
        print_json({**joint.to_dict(), "warnings": notes})
        return 0
    s = joint.statistics
    print(
        f"{args.path}: joint fit of {', '.join(models)}: chisqr {s['chisqr']:.6g}, reduced {s['redchi']:.4g}, "
        f"{s['nfree']} free parameters, success {s['success']}"
    )
    for target, expr in joint.ties.items():
        print(f"  tie {target} = {expr}")
    for region, result in joint.results.items():
        print(f"  {region}:")
        for _, row in result.table().iterrows():
            print(
                f"    {row['name']:<20} pos {row['position']:10.3f} ± {row['position_error']:.3f}  "
                f"area {row['area']:12.5g} ± {row['area_error']:.3g}"
            )
    for note in notes:
        print(f"warning: {note}")
    return 0


def run(args: argparse.Namespace) -> int:
    if not getattr(args, "xps_func", None):
        args.xps_parser.print_help()
        return 2
    return args.xps_func(args)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("xps", help="XPS chemistry: charge referencing, quantification, templates, species")
    sub = p.add_subparsers(dest="xps_command", metavar="ACTION")
    p.set_defaults(func=run, xps_parser=p)

    r = sub.add_parser("reference", help="charge-reference every region of a file to a reference peak")
    r.add_argument("path", metavar="PATH", help="instrument file or specfit .h5")
    r.add_argument("--reference", default="C 1s", help="reference region (default: C 1s)")
    r.add_argument("--position", type=float, default=284.8, help="where the reference peak belongs, eV (284.8)")
    r.add_argument("--measured", type=float, help="measured reference position, eV (default: locate it)")
    r.add_argument("--method", choices=("fit", "max"), default="fit", help="how to locate the reference peak")
    r.add_argument("--group-by", default="sample", help="attribute separating samples, or 'none' (default: sample)")
    r.add_argument("--out", required=True, metavar="OUT.h5", help="output file (specfit HDF5/NetCDF4)")
    r.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    r.add_argument("--json", action="store_true")
    r.set_defaults(xps_func=_run_reference)

    q = sub.add_parser("quantify", help="atomic %% and ratios from tables of component areas (CSV or fit JSON)")
    q.add_argument("results", nargs="+", metavar="RESULTS", help="CSV (region,component,area[,area_error,...]) or JSON")
    q.add_argument("--by", choices=("region", "component"), default="region")
    q.add_argument(
        "--sample",
        help="sample name for every input (default: from the inputs; files of one region each, all different, "
        "are one sample; otherwise each file is a sample named after it)",
    )
    q.add_argument("--library", default="scofield", help="sensitivity-factor set (see `specfit xps factors`)")
    q.add_argument("--source", default="Al Ka", help="X-ray source: 'Al Ka' or 'Mg Ka'")
    q.add_argument("--energy-correction", help="'tpp2m', 'none' or an exponent n for KE**n")
    q.add_argument("--photon-energy", type=float, help="photon energy, eV (default: from --source)")
    q.add_argument("--ratio", action="append", metavar="NUM:DEN", help="component-area ratio, e.g. intermediate:PS4")
    q.add_argument("--fractions", action="store_true", help="also print component fractions within each region")
    q.add_argument("--json", action="store_true")
    q.set_defaults(xps_func=_run_quantify)

    d = sub.add_parser("depth", help="fit every etch level of a depth profile; species fractions vs time and depth")
    d.add_argument("path", metavar="PATH", help="instrument file or specfit .h5 holding the etch-level stack")
    d.add_argument("--model", required=True, help="template name or model file")
    d.add_argument("--species", help="comma-separated subset of the template's species, e.g. PS4,intermediate")
    d.add_argument("--shape", help="line shape for every component (default: the model's, GL(30) in templates)")
    d.add_argument("--rate", type=float, help="sputter rate in nm/s (gives the depth axis)")
    d.add_argument("--region", help="which spectrum of the file (region attribute or node name)")
    d.add_argument("--solver", default="auto", choices=("auto", "batch", "lmfit"))
    d.add_argument("--plot", type=Path, metavar="FIG.png", help="save the fractions against depth")
    d.add_argument("--json", action="store_true")
    d.set_defaults(xps_func=_run_depth)

    j = sub.add_parser("joint", help="fit several regions of one sample as one problem, with ties across regions")
    j.add_argument("path", metavar="PATH", help="instrument file or specfit .h5 holding the regions")
    j.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="REGION=MODEL[SPECIES,...]",
        help="a region and its model, e.g. 'S 2p=s2p-sulfide[PS4,intermediate]' (repeat per region)",
    )
    j.add_argument(
        "--stoichiometry",
        action="append",
        metavar="R/C : R/C = N",
        help="atomic ratio of two components through sensitivity factors, e.g. 'S 2p/PS4 : P 2p/PS4 = 4'",
    )
    j.add_argument(
        "--tie", action="append", metavar="P = EXPR", help="any tie, e.g. 'P2p.PS4.area = 0.2 * S2p.PS4.area'"
    )
    j.add_argument("--library", default="scofield", help="sensitivity-factor set for --stoichiometry")
    j.add_argument("--source", default="Al Ka", help="X-ray source for the sensitivity factors")
    j.add_argument("--json", action="store_true", help="print the results (feeds `specfit xps quantify`)")
    j.set_defaults(xps_func=_run_joint)

    t = sub.add_parser("templates", help="list the XPS fit-model templates")
    t.add_argument("--show", metavar="NAME", help="print one template")
    t.add_argument("--write", nargs="?", const="", metavar="DIR", help="(re)write the template files")
    t.add_argument("--json", action="store_true")
    t.set_defaults(xps_func=_run_templates)

    s = sub.add_parser("species", help="list the species library (binding-energy windows, assignments)")
    s.add_argument("level", nargs="?", help="core level, e.g. 'S 2p'")
    s.add_argument("--json", action="store_true")
    s.set_defaults(xps_func=_run_species)

    f = sub.add_parser("factors", help="sensitivity factors (and their sets)")
    f.add_argument("levels", nargs="*", metavar="LEVEL")
    f.add_argument("--library", default="scofield")
    f.add_argument("--source", default="Al Ka")
    f.add_argument("--json", action="store_true")
    f.set_defaults(xps_func=_run_factors)
