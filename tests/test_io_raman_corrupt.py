"""Damaged copies of every Raman corpus file (written to tmp_path) raise ReadError quickly, never hang,
never return data silently, and never touch the original."""

from __future__ import annotations

import hashlib
import logging
import re
import warnings

import numpy as np
import pytest

import specfit
from specfit.errors import ReadError
from tests.conftest import CORPUS, corpus_files, ids

pytestmark = pytest.mark.corpus

FILES = corpus_files("raman")
TEXT_SUFFIXES = (".txt", ".xml", ".tvf", ".rod")


def _read(path):
    logging.getLogger("rsciio").setLevel(logging.CRITICAL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return specfit.read(path, technique="raman")


def _cut_inside_a_row(raw: bytes, start: int) -> bytes:
    """Truncate a text file right after the first field separator from ``start`` on, so the last row
    is incomplete.

    (A text file cut exactly at a line end is a valid, shorter file: no reader can tell.)
    """
    m = re.compile(rb"[\t,;]").search(raw, start)
    if m is None or raw.endswith(b">") or raw.rstrip().endswith(b"</LSX_Data>"):
        return raw[:start]
    return raw[: m.end()]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("path", FILES, ids=ids(FILES))
def test_truncated_copies_raise_read_error(path, tmp_path):
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    raw = path.read_bytes()
    text_like = path.suffix.lower() in TEXT_SUFFIXES
    variants = {
        "head64": _cut_inside_a_row(raw, 64) if text_like else raw[:64],
        "cut60": _cut_inside_a_row(raw, int(len(raw) * 0.6)) if text_like else raw[: int(len(raw) * 0.6)],
    }
    if not text_like:
        variants["cut95"] = raw[: int(len(raw) * 0.95)]
    for name, content in variants.items():
        damaged = tmp_path / f"{name}_{path.name}"
        damaged.write_bytes(content)
        with pytest.raises(ReadError) as info:
            _read(damaged)
        assert damaged.name in str(info.value), name
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest  # the original is untouched


@pytest.mark.timeout(60)
@pytest.mark.parametrize("path", FILES, ids=ids(FILES))
def test_zeroed_header_raises_read_error(path, tmp_path):
    raw = bytearray(path.read_bytes())
    raw[:512] = bytes(min(512, len(raw)))
    damaged = tmp_path / path.name
    damaged.write_bytes(bytes(raw))
    with pytest.raises(ReadError):
        _read(damaged)


def _edited_copy(tmp_path, relative: str, edit, name: str | None = None):
    """A copy of corpus file ``raman/<relative>`` in tmp_path with ``edit(bytearray)`` applied."""
    src = CORPUS / "raman" / relative
    if not src.exists():
        pytest.skip("corpus absent")
    raw = bytearray(src.read_bytes())
    edit(raw)
    damaged = tmp_path / (name or src.name)
    damaged.write_bytes(bytes(raw))
    return damaged


@pytest.mark.timeout(60)
def test_garbled_spc_counts_raise(tmp_path):
    """Implausible point/subfile counts in an SPC header are reported with their byte offset."""

    def fnpts(raw):
        raw[4:8] = (10**9).to_bytes(4, "little")

    damaged = _edited_copy(tmp_path, "galactic_spc/RAMAN.SPC", fnpts)
    with pytest.raises(ReadError):  # no longer recognised as SPC from its content
        specfit.read(damaged)
    with pytest.raises(ReadError, match="implausible number of points") as info:
        specfit.read(damaged, format="spc")
    assert info.value.offset == 4


@pytest.mark.timeout(60)
def test_garbled_wdf_block_size_raises(tmp_path):

    def terabyte_block(raw):  # the first block claims a terabyte
        raw[8:16] = (2**40).to_bytes(8, "little")

    damaged = _edited_copy(tmp_path, "renishaw_wdf/renishaw_test_spectrum.wdf", terabyte_block, "bad.wdf")
    with pytest.raises(ReadError, match="truncated") as info:
        specfit.read(damaged)
    assert info.value.offset == 0


@pytest.mark.timeout(60)
def test_l6s_axis_value_changed_is_refused(tmp_path):
    """The .l6s decoder checks each array against the range stored beside it: a changed axis value
    (here the first Raman shift, float32 at byte 4881) is refused, not returned."""

    def first_shift(raw):
        raw[4881:4885] = np.float32(150.0).tobytes()

    damaged = _edited_copy(tmp_path, "horiba_l6s/PST10_iR785_OP01_8000msx8.l6s", first_shift)
    with pytest.raises(ReadError, match="minimum|range") as info:
        specfit.read(damaged)
    assert info.value.offset == 4881


@pytest.mark.timeout(60)
def test_wxd_flipped_byte_in_the_spectrum_stream_is_refused(tmp_path):
    """zlib's checksum catches a damaged compressed spectrum; the reader then finds no spectrum."""

    def flip(raw):  # a byte inside the DataSet stream (70745 .. 90754)
        raw[80000] ^= 0xFF

    damaged = _edited_copy(tmp_path, "renishaw_wxd/PST_Reflex532_Z050_010_10000msx2.wxd", flip)
    with pytest.raises(ReadError, match="datasets found|spectral axis") as info:
        specfit.read(damaged)
    assert damaged.name in str(info.value)
