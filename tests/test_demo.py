"""``specfit demo`` machinery: a failing step is reported on the page and makes the run fail loudly."""

from __future__ import annotations

import json

import pytest

from specfit import demo
from specfit.cli import main
from specfit.errors import SpecfitError
from specfit.report import Report, Section


def _good(ctx: demo.DemoContext) -> None:
    ctx.summary("all", "answer", 42.0, unit="", truth=42.0)
    ctx.report.add(Section("Good step", "it worked"))


def _bad(ctx: demo.DemoContext) -> None:
    raise ValueError("synthetic failure")


def test_failing_step_is_reported_and_raises(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "STEPS", [("good", _good), ("bad", _bad), ("good again", _good)])
    with pytest.raises(SpecfitError, match="1 demo step.*bad.*synthetic failure"):
        demo.run_demo(tmp_path / "r", show_progress=False)
    page = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    assert "Failed steps" in page and "synthetic failure" in page
    assert page.count("Good step") == 2 + 2  # the later step still ran (heading + contents link each)
    rows = json.loads((tmp_path / "r" / "summary.json").read_text())["summary"]
    assert [r["value"] for r in rows] == [42.0, 42.0]


def test_cli_exit_status_on_failure(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(demo, "STEPS", [("bad", _bad)])
    assert main(["demo", "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert "[1/1] bad" in err
    assert "specfit: error: 1 demo step(s) failed" in err


def test_report_writes_nan_as_empty(tmp_path):
    report = Report(tmp_path, "t")
    report.add_summary(quantity="x", value=float("nan"), error=None)
    report.write()
    assert json.loads((tmp_path / "summary.json").read_text())["summary"] == [
        {"quantity": "x", "value": None, "error": None}
    ]
    assert (tmp_path / "summary.csv").read_text().splitlines() == ["quantity,value,error", "x,,"]
