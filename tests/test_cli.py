"""The ``specfit`` command: info, convert, formats, demo; one-line errors on damaged input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import specfit
from specfit.conventions import leaves

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "specfit", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd or REPO,
    )


@pytest.fixture
def be_csv(tmp_path) -> Path:
    be = np.round(np.arange(172.0, 155.99, -0.1), 2)
    counts = np.round(500 + 900 * np.exp(-((be - 160.8) ** 2) / 0.5), 1)
    path = tmp_path / "S2p export.csv"
    path.write_text("Binding Energy (eV),Counts\n" + "".join(f"{a},{b}\n" for a, b in zip(be, counts)))
    return path


def test_info_json_and_convert_round_trip(be_csv, tmp_path):
    res = run_cli("info", str(be_csv), "--json")
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["format"] == "text"
    (block,) = info["blocks"]
    assert block["axis"] == {"name": "binding_energy", "units": "eV", "first": 172.0, "last": 156.0, "points": 161}
    assert block["attrs"]["technique"] == "xps"

    out = tmp_path / "out.h5"
    res = run_cli("convert", str(be_csv), str(out))
    assert res.returncode == 0, res.stderr
    loaded = specfit.load(out)
    xr.testing.assert_identical(loaded, specfit.read(be_csv))
    ((_, leaf),) = list(leaves(loaded))
    assert leaf["intensity"].dims == ("binding_energy",)
    # converting again refuses to replace the file unless asked
    res = run_cli("convert", str(be_csv), str(out))
    assert res.returncode == 1 and "exists" in res.stderr
    assert run_cli("convert", str(be_csv), str(out), "--overwrite").returncode == 0


def test_info_on_saved_file(be_csv, tmp_path):
    out = tmp_path / "out.h5"
    specfit.save(specfit.read(be_csv), out)
    res = run_cli("info", str(out))
    assert res.returncode == 0, res.stderr
    assert "binding_energy 172 -> 156 eV" in res.stdout


def _damaged_files(tmp_path: Path) -> dict[str, Path]:
    files = {
        "empty.csv": b"",
        "garbage.vms": bytes(np.random.default_rng(7).integers(0, 256, 2000, dtype=np.uint8)),
        "nonnumeric.csv": b"Binding Energy (eV),Counts\n290,1\n289,2\n288,n/a\n287,4\n",
        "ragged.csv": b"Binding Energy (eV),Counts\n290,1\n289,2\n288,3,3\n287,4\n286,5\n",
        "truncated.vms": b"VAMAS Surface Chemical Analysis Standard Data Transfer Format 1988 May 4\n"
        b"Not Specified\nNot Specified\nNot Specified\nNot Specified\n1\n",
    }
    paths = {}
    for name, content in files.items():
        paths[name] = tmp_path / name
        paths[name].write_bytes(content)
    return paths


@pytest.mark.parametrize("name", ["empty.csv", "garbage.vms", "nonnumeric.csv", "ragged.csv", "truncated.vms"])
def test_damaged_input_one_line_error(tmp_path, name):
    path = _damaged_files(tmp_path)[name]
    before = path.read_bytes()
    res = run_cli("info", str(path), timeout=30)
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert name in lines[0]
    assert "Traceback" not in res.stderr
    assert path.read_bytes() == before


def test_debug_shows_traceback(tmp_path):
    path = _damaged_files(tmp_path)["ragged.csv"]
    res = run_cli("--debug", "info", str(path))
    assert res.returncode == 1
    assert "Traceback" in res.stderr


def test_formats_lists_registered_readers():
    res = run_cli("formats", "--json")
    assert res.returncode == 0
    names = {f["name"] for f in json.loads(res.stdout)}
    assert {"text", "netcdf"} <= names
    assert names == {f["name"] for f in specfit.formats()}


def test_demo_writes_report(tmp_path):
    res = run_cli("demo", "--out", str(tmp_path / "report"), timeout=300)
    assert res.returncode == 0, res.stderr
    report = tmp_path / "report"
    page = (report / "index.html").read_text()
    assert "<img" in page
    for img in report.glob("figures/*.png"):
        assert img.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((report / "summary.json").read_text())
    assert summary["summary"]
    assert (report / "summary.csv").read_text().count("\n") == len(summary["summary"]) + 1
