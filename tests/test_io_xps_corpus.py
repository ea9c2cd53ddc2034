"""Every XPS corpus file: reads and validates (or, for the non-spectrum fragments, raises a clear
ReadError); damaged copies raise ReadError or read correctly, never hang or crash otherwise;
`specfit info` prints one line per block and valid JSON."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pytest

import specfit
from specfit.cli import main
from specfit.conventions import leaves, validate
from specfit.errors import ReadError
from tests.conftest import corpus_files, ids

ALL = corpus_files("xps")
#: files that are not spectra: CasaXPS/vendor comment fragments (fixtures for comment parsing) and
#: CasaXPS's quantification table
NOT_SPECTRA = {"vamas_comments", "FeO_analyzed_results.csv"}
SPECTRA = [p for p in ALL if p.parent.name not in NOT_SPECTRA and p.name not in NOT_SPECTRA]
FRAGMENTS = [p for p in ALL if p not in SPECTRA]

EXPECTED_FORMAT = {
    "vamas": "vamas",
    "vamas_transmission": "vamas",
    "casaxps_analysis": None,  # .vms -> vamas, _cols.txt -> casaxps_text
    "casaxps_txt_export": "casaxps_text",
    "phi_spe": "phi",
    "phi_pro": "phi",
    "scienta_txt": "scienta_txt",
    "scienta_ibw": "scienta_ibw",
    "specs_xy": "specs_xy",
    "specs_xml": "specs_xml",
    "thermo_avantage": "thermo_xlsx",
    "vgx900_spectra": "vgx900",
}


def test_corpus_is_present_and_complete():
    if not ALL:
        pytest.skip("corpus not available")
    assert len(SPECTRA) == 41 and len(FRAGMENTS) == 7


@pytest.mark.timeout(60)
@pytest.mark.parametrize("path", SPECTRA, ids=ids(SPECTRA))
def test_reads_and_validates(path):
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    tree = specfit.read(path)
    validate(tree)
    found = list(leaves(tree))
    assert found
    fmt = EXPECTED_FORMAT[path.parent.name]
    if fmt is None:
        fmt = "vamas" if path.suffix == ".vms" else "casaxps_text"
    for node, ds in found:
        assert ds.attrs["source_format"] == fmt, node
        assert ds.attrs["technique"] in ("xps", "aes")
        axis = ds.intensity.dims[-1]
        assert np.all(np.isfinite(ds[axis].values))
        assert np.isfinite(ds.intensity.values).all()
        json.loads(ds.attrs["original_metadata"])  # nothing the file says is lost to a bad encoding
    regions = [ds.attrs.get("region", "") for _, ds in found]
    assert all(isinstance(r, str) for r in regions)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest  # never modified


@pytest.mark.timeout(30)
@pytest.mark.parametrize("path", FRAGMENTS, ids=ids(FRAGMENTS))
def test_non_spectrum_files_raise_read_error(path):
    with pytest.raises(ReadError, match=re.escape(path.name)):
        specfit.read(path)


def _variants(raw: bytes, seed: int) -> list[tuple[str, bytes]]:
    n = len(raw)
    out = [(f"cut{k}", raw[:k]) for k in sorted({1, 17, n // 10, n // 3, n // 2, (9 * n) // 10, n - 1}) if 0 < k < n]
    rng = np.random.default_rng(seed)
    for trial in range(3):
        buf = bytearray(raw)
        for pos in rng.integers(0, n, size=4):
            buf[pos] ^= 0x5A
        out.append((f"flip{trial}", bytes(buf)))
    # a digit changed into a huge count where the file declares sizes
    out.append(("huge", re.sub(rb"(?m)^(\s*)(\d{3,4})(\r?)$", rb"\g<1>999999999\3", raw, count=3)))
    return out


@pytest.mark.timeout(120)
@pytest.mark.parametrize("path", SPECTRA, ids=ids(SPECTRA))
def test_damaged_copies_raise_read_error_or_read(path, tmp_path):
    raw = path.read_bytes()
    outcomes = {}
    for label, data in _variants(raw, seed=len(raw)):
        copy = tmp_path / f"{label}{path.suffix}"
        copy.write_bytes(data)
        try:
            tree = specfit.read(copy)
        except ReadError as exc:
            assert copy.name in str(exc)
            outcomes[label] = "error"
        else:
            validate(tree)
            outcomes[label] = "read"
    # a cut in the middle of the data must never pass silently for the binary formats
    if path.suffix in (".spe", ".pro", ".ibw"):
        assert outcomes["cut" + str(len(raw) // 2)] == "error"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("path", SPECTRA, ids=ids(SPECTRA))
def test_cli_info(path, capsys):
    tree = specfit.read(path)
    n_leaves = len(list(leaves(tree)))
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert re.search(rf"{n_leaves} block\(s\)", out[0])
    assert sum(1 for line in out if line.startswith("  /")) == n_leaves
    assert main(["info", "--json", str(path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert len(summary["blocks"]) == n_leaves and summary["format"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("path", SPECTRA, ids=ids(SPECTRA))
def test_native_storage_round_trip(path, tmp_path):
    tree = specfit.read(path)
    out = tmp_path / "tree.h5"
    specfit.save(tree, out)
    back = specfit.load(out)
    before, after = dict(leaves(tree)), dict(leaves(back))
    assert before.keys() == after.keys()
    for node, ds in before.items():
        np.testing.assert_array_equal(ds.intensity.values, after[node].intensity.values)
        assert set(ds.data_vars) == set(after[node].data_vars)
        assert ds.attrs["original_metadata"] == after[node].attrs["original_metadata"]
