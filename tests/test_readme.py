"""The README tells the truth: its commands, its CLI table and its formats table match the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import specfit
from specfit.cli import build_parser, main
from specfit.commands.formats import markdown_table

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _subparsers(parser) -> dict:
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            return dict(action.choices)
    return {}


def test_first_commands_are_the_ones_ci_runs():
    blocks = re.findall(r"```bash\n(.*?)\n```", README, re.S)
    assert blocks[0] == (
        "python3 -m venv .venv && . .venv/bin/activate && pip install -e . && specfit demo --out specfit-report"
    )
    assert blocks[1] == (
        'python3 -m venv .venv && . .venv/bin/activate && pip install -e ".[test]" && '
        "ruff check specfit tests benchmarks && pytest"
    )
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    assert 'pip install --quiet -e ".[test]" && ruff check specfit tests benchmarks && pytest' in ci


def test_formats_table_lists_every_registered_reader():
    section = README.split("<!-- formats:start -->")[1].split("<!-- formats:end -->")[0]
    listed = re.findall(r"^\| `([^`]+)` \|", section, re.M)
    registered = [f["name"] for f in specfit.formats()]
    assert sorted(listed) == sorted(registered), "regenerate the table with `specfit formats --markdown`"
    assert section.strip() == markdown_table().strip(), "regenerate the table with `specfit formats --markdown`"


def test_cli_table_names_every_command_and_only_real_ones():
    commands = _subparsers(build_parser())
    documented = set(re.findall(r"^\| `specfit (\w+)", README, re.M))
    assert documented == set(commands)
    for name, parser in commands.items():
        actions = list(_subparsers(parser))  # e.g. xps reference / quantify, xrd identify, tofsims profile
        for action in parser._actions:  # an action given as a positional choice (raman preprocess / fit)
            if not action.option_strings and action.choices and not isinstance(action.choices, dict):
                actions += list(action.choices)
        for action in actions:
            assert f"specfit {name} {action}" in README, f"specfit {name} {action} is not documented"


@pytest.mark.parametrize("argv", [[], *[[c] for c in _subparsers(build_parser())]])
def test_every_help_text_renders(argv, capsys):
    parser = build_parser()
    paths = [argv]
    if argv:
        paths += [[*argv, sub] for sub in _subparsers(_subparsers(parser)[argv[0]])]
    for path in paths:
        with pytest.raises(SystemExit) as stop:
            main([*path, "--help"])
        assert stop.value.code == 0
        assert "usage: specfit" in capsys.readouterr().out
