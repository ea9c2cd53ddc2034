"""``specfit formats [--json | --markdown]``: the supported file formats."""

from __future__ import annotations

import argparse

from ..io import formats
from ._util import print_json


def markdown_table(table: list[dict] | None = None) -> str:
    """The formats as a Markdown table (name, extensions, techniques, description), as in the README."""
    table = formats() if table is None else table
    lines = ["| format | extensions | techniques | description |", "|---|---|---|---|"]
    for f in table:
        ext = " ".join(f["extensions"])
        techniques = ", ".join(f["techniques"])
        description = f["description"].replace("|", "\\|")
        lines.append(f"| `{f['name']}` | {ext} | {techniques} | {description} |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    table = formats()
    if args.json:
        print_json(table)
        return 0
    if args.markdown:
        print(markdown_table(table))
        return 0
    for f in table:
        ext = " ".join(f["extensions"])
        print(f"{f['name']:<18} {ext:<28} {f['description']}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("formats", help="list supported file formats")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print JSON")
    out.add_argument("--markdown", action="store_true", help="print a Markdown table (the README's)")
    p.set_defaults(func=run)
