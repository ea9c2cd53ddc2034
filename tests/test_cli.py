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


def _summary_value(rows: list[dict], quantity: str, sample: str = "") -> dict:
    hits = [r for r in rows if r["quantity"] == quantity and r["sample"] == sample]
    assert len(hits) == 1, (quantity, sample, hits)
    return hits[0]


def test_demo_writes_report(tmp_path):
    res = run_cli("demo", "--out", str(tmp_path / "report"), timeout=300)
    assert res.returncode == 0, res.stderr
    assert "[8/8]" in res.stderr  # progress lines, one per step
    report = tmp_path / "report"
    page = (report / "index.html").read_text()
    assert "<img" in page
    assert "Failed steps" not in page
    figures = sorted(report.glob("figures/*.png"))
    assert len(figures) >= 10
    for img in figures:
        assert img.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f'src="figures/{img.name}"' in page
    summary = json.loads((report / "summary.json").read_text())
    rows = summary["summary"]
    assert (report / "summary.csv").read_text().count("\n") == len(rows) + 1

    # the key numbers against the parameters the example data were generated with
    for state, truth in (("charged", 1.56), ("discharged", 0.56)):
        row = _summary_value(rows, "S 2p intermediate : PS4³⁻ area ratio", state)
        assert row["truth"] == truth
        assert row["value"] == pytest.approx(truth, rel=0.05)
        assert 0 < row["error"] < 0.05 * truth
        shift = _summary_value(rows, "charging shift from C 1s", state)
        assert shift["value"] == pytest.approx(shift["truth"], abs=0.03)
    for phase, wt in (("Li6PS5Cl", 85.0), ("Li2S", 10.0), ("LiCl", 5.0)):
        assert _summary_value(rows, f"{phase} weight fraction")["value"] == pytest.approx(wt, abs=1.5)
    assert _summary_value(rows, "Li6PS5Cl cell a")["value"] == pytest.approx(9.8697, abs=0.002)
    coating = _summary_value(rows, "LiNbO3 coating thickness (NbO2⁻ between 50 % points)")
    assert coating["value"] == pytest.approx(15.0, abs=0.5)
    for band, fraction in (("PS4", 0.625), ("P2S7", 0.219), ("P2S6", 0.156)):
        assert _summary_value(rows, f"{band} band area fraction (360–450 cm⁻¹)")["value"] == pytest.approx(
            fraction, abs=0.02
        )
    decay = _summary_value(rows, "sputter series: decay time of the intermediate")
    assert decay["value"] == pytest.approx(60.0, rel=0.15)

    # every result is a specfit HDF5 file; fit results load back as result objects
    results = sorted(report.glob("results/*.h5"))
    assert len(results) >= 10
    for path in results:
        assert path.read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"
    fit = specfit.load(report / "results" / "xps_fit_charged_S2p.h5")
    assert type(fit).__name__ == "FitResult"
    assert set(fit.table()["component"]) == {"PS4", "intermediate"}
