"""Damaged, truncated and hostile XRD files: a clear ReadError naming the file, never a hang or a crash."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from conftest import CORPUS, corpus_files, corpus_path, ids

import specfit
from specfit.errors import CorruptFileError, ReadError
from specfit.io import _xrd

pytestmark = [pytest.mark.corpus, pytest.mark.timeout(60)]

XRD_FILES = corpus_files("xrd")
# formats that announce no point count: a truncation at a line end cannot be seen, so the copy is cut mid-row
_COUNTLESS = {"panalytical_xy", "xy_csv", "rigaku_txt", "bruker_uxd"}
_PLAIN = {"panalytical_xy", "xy_csv", "rigaku_txt"}


def _folder(path: Path) -> str:
    return path.relative_to(CORPUS / "xrd").parts[0]


def _options(path: Path) -> dict:
    return {"technique": "xrd"} if _folder(path) in _PLAIN else {}


def _truncate(path: Path) -> bytes:
    data = path.read_bytes()
    cut = int(len(data) * 0.6)
    if _folder(path) in _COUNTLESS:
        start = data.rfind(b"\n", 0, cut) + 1
        line = data[start : data.find(b"\n", start)]
        first = line.replace(b",", b" ").replace(b"\t", b" ").split(b" ")[0]
        cut = start + len(first)  # the last row keeps its angle only
    return data[:cut]


@pytest.mark.parametrize("path", XRD_FILES, ids=ids(XRD_FILES))
def test_truncated_copy_raises_read_error(path: Path, tmp_path: Path) -> None:
    damaged = tmp_path / path.name
    damaged.write_bytes(_truncate(path))
    original = path.read_bytes()
    with pytest.raises(ReadError) as info:
        specfit.read(damaged, **_options(path))
    assert damaged.name in str(info.value)
    assert path.read_bytes() == original  # the corpus file is untouched


def _corrupt(path: Path) -> bytes:
    data = bytearray(path.read_bytes())
    folder = _folder(path)
    if folder == "bruker_raw":
        if data.startswith(b"RAW4.00"):
            data[65:69] = (3).to_bytes(4, "little")  # first segment length below its 8-byte minimum
        else:
            data[716:720] = (0x7FFFFFF0).to_bytes(4, "little")  # step count of range 1 far beyond the file
        return bytes(data)
    middle = len(data) // 2
    if folder in ("bruker_brml", "rigaku_rasx"):
        # inside the deflated data member the reader needs (damage in unused members does not matter)
        with zipfile.ZipFile(path) as archive:
            info = next(i for i in archive.infolist() if "RawData0" in i.filename or "Profile0" in i.filename)
        name_len = int.from_bytes(data[info.header_offset + 26 : info.header_offset + 28], "little")
        extra_len = int.from_bytes(data[info.header_offset + 28 : info.header_offset + 30], "little")
        at = info.header_offset + 30 + name_len + extra_len + info.compress_size // 2
        data[at : at + 64] = bytes(64)  # CRC/zlib failure
        return bytes(data)
    # text and XML: a row/element turned into letters
    start = data.rfind(b"\n", 0, middle) + 1
    data[start : start + 12] = b"12x.garbage!"
    return bytes(data)


@pytest.mark.parametrize("path", XRD_FILES, ids=ids(XRD_FILES))
def test_corrupted_copy_raises_read_error(path: Path, tmp_path: Path) -> None:
    damaged = tmp_path / path.name
    damaged.write_bytes(_corrupt(path))
    with pytest.raises(ReadError) as info:
        specfit.read(damaged, **_options(path))
    assert damaged.name in str(info.value)


def test_empty_and_garbage_files(tmp_path: Path) -> None:
    for name, content in (("a.xrdml", b"<?xml version='1.0'?><xrdMeasurements>"), ("b.raw", b"RAW1.01\0" + bytes(40)),
                          ("c.rasx", b"PK\x03\x04" + bytes(100)), ("d.brml", b"PK\x03\x04garbage")):  # fmt: skip
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ReadError):
            specfit.read(path)


# -------------------------------------------------------------------------------------------- XML attacks

_XXE = b"""<?xml version="1.0"?>
<!DOCTYPE xrdMeasurements [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<xrdMeasurements xmlns="http://www.xrdml.com/XRDMeasurement/1.5"><comment>&xxe;</comment></xrdMeasurements>
"""

_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<xrdMeasurements xmlns="http://www.xrdml.com/XRDMeasurement/1.5"><comment>&lol3;</comment></xrdMeasurements>
"""


@pytest.mark.parametrize("payload", [_XXE, _LAUGHS], ids=["external-entity", "entity-expansion"])
def test_xml_with_dtd_is_refused(payload: bytes, tmp_path: Path) -> None:
    path = tmp_path / "evil.xrdml"
    path.write_bytes(payload)
    with pytest.raises(ReadError, match="DTD/entity"):
        specfit.read(path)


def _rewrite_zip(source: Path, target: Path, replace: dict[str, bytes]) -> None:
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, replace.get(info.filename, src.read(info.filename)))


def test_zip_member_with_external_entity_is_refused(tmp_path: Path) -> None:
    rasx = corpus_path("xrd", "rigaku_rasx", "RM20220915Si01.rasx")
    evil = tmp_path / "evil.rasx"
    _rewrite_zip(rasx, evil, {"Data0/MesurementConditions0.xml": _XXE})
    with pytest.raises(ReadError, match="DTD/entity"):
        specfit.read(evil)
    brml = corpus_path("xrd", "bruker_brml", "BRML_attenuation.brml")
    evil = tmp_path / "evil.brml"
    _rewrite_zip(brml, evil, {"Experiment0/RawData0.xml": _XXE})
    with pytest.raises(ReadError, match="DTD/entity"):
        specfit.read(evil)


# -------------------------------------------------------------------------------------------- zip bombs


def _bomb(path: Path, size: int) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("Data0/Profile0.txt", b"0" * size)
        archive.writestr("Data0/MesurementConditions0.xml", b"<MeasurementConditions/>")
    path.write_bytes(buffer.getvalue())


def test_zip_bomb_by_expansion_ratio_is_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.rasx"
    _bomb(bomb, 64 << 20)  # 64 MiB of one byte: deflate shrinks it > 1000-fold
    assert bomb.stat().st_size < 100_000
    with pytest.raises(ReadError, match="zip bomb"):
        specfit.read(bomb)


def test_zip_total_size_and_member_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rasx = corpus_path("xrd", "rigaku_rasx", "RM20220915Si01.rasx")
    monkeypatch.setattr(_xrd, "MAX_ZIP_TOTAL_BYTES", 10_000)
    with pytest.raises(ReadError, match="would expand"):
        specfit.read(rasx)
    monkeypatch.setattr(_xrd, "MAX_ZIP_TOTAL_BYTES", 1 << 30)
    monkeypatch.setattr(_xrd, "MAX_ZIP_MEMBERS", 2)
    with pytest.raises(ReadError, match="members"):
        specfit.read(rasx)


def test_corrupt_error_carries_position(tmp_path: Path) -> None:
    raw = corpus_path("xrd", "bruker_raw", "BT86.raw")
    damaged = tmp_path / "BT86.raw"
    damaged.write_bytes(raw.read_bytes()[:5000])
    with pytest.raises(CorruptFileError) as info:
        specfit.read(damaged)
    assert info.value.offset is not None
    ras = corpus_path("xrd", "rigaku_ras", "rigaku_test.ras")
    damaged = tmp_path / "bad.ras"
    lines = ras.read_bytes().split(b"\n")
    lines[400] = b"2.0000 abc 1.0000"
    damaged.write_bytes(b"\n".join(lines))
    with pytest.raises(CorruptFileError) as info:
        specfit.read(damaged)
    assert info.value.line == 401


@pytest.mark.parametrize(
    "parts, old, new",
    [
        (("xrdml", "empyrean.xrdml"), b'<intensities unit="counts">8 ', b'<intensities unit="counts">inf '),
        (("rigaku_ras", "rigaku_test.ras"), b"2.0400 7984.0000", b"2.0400 nan"),
        (("bruker_uxd", "BT86_.UXD"), b"3.016\t183", b"3.016\tNaN"),
        (("gsas_std", "PBSO4.XRA"), b"     179     147", b"     179  -1e999"),
    ],
    ids=["xrdml", "ras", "uxd", "gsas"],
)
def test_non_finite_numbers_are_corruption(parts, old: bytes, new: bytes, tmp_path: Path) -> None:
    data = corpus_path("xrd", *parts).read_bytes()
    assert old in data
    damaged = tmp_path / parts[1]
    damaged.write_bytes(data.replace(old, new, 1))
    with pytest.raises(CorruptFileError, match=r"not finite|non-finite|bad STD|non-numeric"):
        specfit.read(damaged)
