"""The ``specfit`` command.

Sub-commands live one per module in :mod:`specfit.commands`; each module defines
``register(subparsers)`` and is discovered automatically, so techniques add their commands without
touching this file. Errors print one line naming the file and exit non-zero; ``--debug`` shows the
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import traceback
from collections.abc import Sequence

from . import __version__
from .errors import SpecfitError

EXIT_ERROR = 1
EXIT_INTERNAL = 3


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every discovered sub-command."""
    parser = argparse.ArgumentParser(
        prog="specfit",
        description="Spectroscopy fitting and phase identification for battery materials (XPS, Raman, XRD, ToF-SIMS).",
    )
    parser.add_argument("--version", action="version", version=f"specfit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    import specfit.commands as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"specfit.commands.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SpecfitError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"specfit: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("specfit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: still one line, the traceback on request
        if args.debug:
            traceback.print_exc()
        print(
            f"specfit: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
