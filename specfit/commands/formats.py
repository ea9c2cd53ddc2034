"""``specfit formats [--json]``: the supported file formats."""

from __future__ import annotations

import argparse

from ..io import formats
from ._util import print_json


def run(args: argparse.Namespace) -> int:
    table = formats()
    if args.json:
        print_json(table)
        return 0
    for f in table:
        ext = " ".join(f["extensions"])
        print(f"{f['name']:<18} {ext:<28} {f['description']}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("formats", help="list supported file formats")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)
