"""``specfit xrd identify PATH``: phase identification and quantification of a powder pattern;
``specfit xrd phases``: the reference library."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import SpecfitError
from ._util import print_json


def _split(text: str | None) -> list[str] | None:
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise SpecfitError(f"empty list: {text!r}")
    return items


def _json_phase(p) -> dict[str, Any]:
    d = p.to_dict()
    return {
        "name": d["name"],
        "formula": d["formula"],
        "score": d["score"],
        "weight_fraction": d["weight_fraction"],
        "weight_fraction_error": d["weight_fraction_error"],
        "lattice": {k: d["lattice"][k] for k in ("a", "b", "c", "alpha", "beta", "gamma")},
        "lattice_error": d["lattice_error"],
        "crystallite_size_nm": d["crystallite_size_nm"],
        "crystallite_size_error_nm": d["crystallite_size_error_nm"],
    }


def run_identify(args: argparse.Namespace) -> int:
    from ..io import read
    from ..xrd.match import identify

    if args.wavelength is not None and not (0.1 < args.wavelength < 5.0):
        raise SpecfitError(f"--wavelength {args.wavelength} Å is outside 0.1–5 Å")
    tree = read(args.path, technique="xrd", format=args.format)
    result = identify(
        tree,
        candidates=_split(args.candidates),
        elements=_split(args.elements),
        wavelength=args.wavelength,
        max_phases=args.max_phases,
    )
    if args.plot:
        result.plot(path=args.plot, title=f"{args.path}: Rwp = {100 * result.rwp:.2f} %")
    if args.json:
        out = {
            "file": str(args.path),
            "phases": [_json_phase(p) for p in result.phases],
            "rwp": result.rwp,
            "rexp": result.rexp,
            "zero_shift_deg": result.zero_shift,
            "wavelength_angstrom": result.instrument.wavelength,
            "candidates": [{"name": n, "score": round(s, 4)} for n, s in result.candidates],
        }
        print_json(out)
        return 0
    lam = result.instrument.wavelength
    print(f"{args.path}: Rwp {100 * result.rwp:.2f} % (Rexp {100 * result.rexp:.2f} %), λ {lam} Å")
    print(f"  {'phase':<16} {'score':>5} {'wt%':>12} {'a (Å)':>10} {'b (Å)':>10} {'c (Å)':>10} {'size (nm)':>10}")
    for p in result.phases:
        size = f"{p.crystallite_size_nm:.0f}" if p.crystallite_size_nm else ">1e4"
        wf = f"{100 * p.weight_fraction:.1f}±{100 * p.weight_fraction_error:.1f}"
        print(
            f"  {p.name:<16} {p.score:5.2f} {wf:>12} {p.lattice['a']:10.4f} {p.lattice['b']:10.4f} "
            f"{p.lattice['c']:10.4f} {size:>10}"
        )
    if args.plot:
        print(f"  plot: {args.plot}")
    return 0


def run_phases(args: argparse.Namespace) -> int:
    from ..xrd.phases import library, missing_phases

    rows = [
        {**p.info(), "elements": sorted(p.elements), "crystal_system": p.crystal_system, "file": str(p.path.name)}
        for p in library()
    ]
    missing = missing_phases()
    if args.json:
        print_json({"phases": rows, "missing": missing})
        return 0
    for r in rows:
        flag = "" if r["confidence"] == "published" else f" [{r['confidence']}]"
        print(f"{r['name']:<14} {r['formula']:<22} {r['crystal_system']:<13}{flag}")
    for m in missing:
        print(f"{m['name']:<14} {m['formula']:<22} (no structure shipped: {m.get('note', '')})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("xrd", help="XRD phase identification and quantification")
    sub = p.add_subparsers(dest="xrd_command", metavar="ACTION")
    ident = sub.add_parser("identify", help="identify and quantify the phases of a powder pattern")
    ident.add_argument("path", metavar="PATH", help="pattern file (its first measurement block is used)")
    ident.add_argument("--candidates", help="comma-separated phase names or CIF paths (default: whole library)")
    ident.add_argument("--elements", help="comma-separated elements; only phases made of these are considered")
    ident.add_argument("--wavelength", type=float, help="Kα1 wavelength in Å (default: file, else Cu Kα1 1.540598)")
    ident.add_argument("--max-phases", type=int, default=6, help="largest number of phases reported (default 6)")
    ident.add_argument("--format", help="force a file format (see `specfit formats`)")
    ident.add_argument("--json", action="store_true", help="print JSON")
    ident.add_argument("--plot", metavar="FIG", help="save a fit plot (PNG/PDF/SVG)")
    ident.set_defaults(func=run_identify)
    phases = sub.add_parser("phases", help="list the reference phases")
    phases.add_argument("--json", action="store_true")
    phases.set_defaults(func=run_phases)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
