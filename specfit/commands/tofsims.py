"""``specfit tofsims profile PATH ...`` and ``specfit tofsims mass FORMULA ...``."""

from __future__ import annotations

import argparse

from ..errors import SpecfitError
from ..io import read
from ._util import print_json


def _profile(args: argparse.Namespace) -> int:
    from ..tofsims.profile import analyze_profile

    tree = read(args.path, technique="tofsims")
    normalization = args.normalize
    result = analyze_profile(
        tree,
        fragments=args.fragments,
        normalization=normalization,
        rate=args.rate,
        crater_depth=args.crater_depth,
        smoothing=args.smooth,
        tolerance=args.tolerance,
        interface_method=args.interface_method,
    )
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from ..tofsims.plot import plot_profile
        from ..tofsims.profile import normalize

        ax = plot_profile(normalize(tree, normalization), fragments=args.fragments, analysis=result)
        ax.figure.tight_layout()
        ax.figure.savefig(args.plot, dpi=150)
        plt.close(ax.figure)
    if args.json:
        print_json(result.to_dict())
        return 0
    unit = "nm" if result.rate_nm_per_s else "s"
    print(f"{args.path}: {len(result.fragments)} fragment(s), normalisation {result.normalization}")
    for frag in result.fragments:
        parts = []
        for i in frag.interfaces:
            pos = i.depth_nm if result.rate_nm_per_s else i.time_s
            width = i.width_nm if result.rate_nm_per_s else i.width_s
            parts.append(f"{i.direction} at {pos:.4g} {unit} (width {width:.3g} {unit})")
        ss = "-" if frag.steady_state_time_s is None else f"{frag.steady_state_time_s:.4g} s"
        print(f"  {frag.name}: {'; '.join(parts) or 'no interface'}; steady state {ss}")
    for layer in result.layers:
        size = f"{layer.thickness_nm:.4g} nm" if layer.thickness_nm is not None else f"{layer.thickness_s:.4g} s"
        print(f"  layer ({layer.fragment}): {size}")
    return 0


def _mass(args: argparse.Namespace) -> int:
    from ..tofsims.fragments import exact_mass, isotope_pattern, nominal_mass, parse_ion

    _comp, written = parse_ion(args.formula)
    charge = args.charge if args.charge is not None else written
    mz = exact_mass(args.formula, charge)
    pattern = isotope_pattern(args.formula, charge, min_abundance=args.min_abundance)
    out = {
        "formula": args.formula,
        "charge": charge,
        "monoisotopic_mz": mz,
        "nominal_mz": nominal_mass(args.formula, charge),
        "isotope_pattern": pattern.as_list(),
    }
    if args.json:
        print_json(out)
        return 0
    print(f"{args.formula} (charge {charge:+d}): monoisotopic m/z {mz:.6f}")
    for peak in out["isotope_pattern"]:
        print(f"  {peak['mz']:12.6f}  {100 * peak['relative']:7.2f} %  ({peak['abundance']:.5f})")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.tofsims_command == "profile":
        return _profile(args)
    if args.tofsims_command == "mass":
        return _mass(args)
    raise SpecfitError("usage: specfit tofsims {profile,mass} ...")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("tofsims", help="ToF-SIMS: depth-profile interfaces, exact masses and isotope patterns")
    sub = p.add_subparsers(dest="tofsims_command", metavar="SUBCOMMAND")
    prof = sub.add_parser("profile", help="interfaces (50%%), widths (16-84%%), steady state and layers of a profile")
    prof.add_argument("path", metavar="PATH")
    depth = prof.add_mutually_exclusive_group()
    depth.add_argument("--rate", type=float, metavar="NM_PER_S", help="sputter rate for the depth scale")
    depth.add_argument("--crater-depth", type=float, metavar="NM", help="measured crater depth at the last point")
    prof.add_argument("--normalize", default="none", metavar="total|none|FRAGMENT", help="normalisation (default none)")
    prof.add_argument("--fragments", metavar="A,B", help="fragments to analyse (default: all but the total)")
    prof.add_argument("--smooth", type=int, default=0, metavar="N", help="moving-average window before analysis")
    prof.add_argument("--tolerance", type=float, default=0.05, help="steady-state band (default 0.05 = ±5%%)")
    prof.add_argument(
        "--interface-method",
        choices=("isotonic", "erf"),
        default="isotonic",
        help="isotonic: model-free 50%%/16-84%% crossings (default); erf: error-function fit per interface",
    )
    prof.add_argument("--json", action="store_true", help="print JSON")
    prof.add_argument("--plot", metavar="FIG.png", help="save a log-intensity plot")
    mass = sub.add_parser("mass", help="exact m/z and isotope pattern of an ion formula")
    mass.add_argument("formula", metavar="FORMULA")
    mass.add_argument("--charge", type=int, help="ion charge (e.g. -1); default: as written in FORMULA")
    mass.add_argument("--min-abundance", type=float, default=1e-3, help="smallest peak, relative to the largest")
    mass.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)
