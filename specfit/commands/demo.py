"""``specfit demo [--out DIR]``: the main job on the bundled example data."""

from __future__ import annotations

import argparse

from ..demo import run_demo


def run(args: argparse.Namespace) -> int:
    page = run_demo(args.out, show_progress=not args.quiet)
    print(page)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="analyse the bundled example data and write a report folder")
    p.add_argument("--out", default="specfit-report", help="report folder (default: specfit-report)")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=run)
