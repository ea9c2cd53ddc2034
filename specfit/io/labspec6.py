"""HORIBA LabSpec 6 native single spectra (``.l6s``).

LabSpec 6 has no published file specification and no open reader; this decoder was written from the
corpus file ``horiba_l6s/PST10_iR785_OP01_8000msx8.l6s`` and is checked, value by value, against
LabSpec's own text export of the same measurement. What is known of the layout:

- the file starts with ``LabSpec6``; the rest is a serialised object tree of 24-byte records
  ``<type u32> <id u32> <tag 4 bytes> <reserved u32 = 0> <value 8 bytes>``. Types seen: 4 (integer),
  5 (float64), 7 (string of up to 8 bytes held in the value), 8 (empty), 0x1006 (float32 array),
  0x1007 (longer string), 0x1008 (UTF-16 string), 0x1009 (container). For 0x1006/0x1007 the value
  holds a (pointer, count) pair and the payload follows the run of consecutive records it belongs to.
- each data array (the spectral axis, the intensities) is a block: a 0x1006 record tagged ``l}``
  giving the number of points, short strings ``typm`` (what it is: ``Intens``, ``Spectr``) and
  ``uni|`` (unit: ``Cnt``, ``1/cm``, ``nm``), a container tagged ``mat`` whose record is followed
  directly by the float32 values, then a container tagged ``mi`` whose float64 children are the
  array's range (exact extremes for the axis, a display range within 0.1% of them for intensities).
- acquisition and instrument parameters are (``namm`` name, ``al}`` value[, ``uni|`` unit]) records.
- the file closes with the payload of its ``film`` record, the path it was saved under (UTF-16), so a
  truncated file is recognised.

Because the layout is inferred, the reader checks itself: every decoded array must reproduce the
range that the file stores beside it, the intensity and axis must have the same length
and the intensity block must hold a single spectrum; anything else (LabSpec maps and multi-spectrum
files, other layouts) raises a :class:`~specfit.errors.ReadError` asking for a LabSpec export instead of
returning numbers that might be wrong. Parameters whose name or value cannot be decoded are left out.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import xarray as xr

from ..conventions import node_name
from ..errors import CorruptFileError, ReadError
from .raman_common import metadata_json, raman_leaf
from .registry import register

__all__ = ["read_l6s"]

MAGIC = b"LabSpec6"
_RECORD = struct.Struct("<II4sI8s")
_INT, _FLOAT, _SHORT_STR, _EMPTY = 4, 5, 7, 8
_ARRAY, _LONG_STR, _WIDE_STR, _CONTAINER = 0x1006, 0x1007, 0x1008, 0x1009
_TYPES = {_INT, _FLOAT, _SHORT_STR, _EMPTY, _ARRAY, _LONG_STR, _WIDE_STR, _CONTAINER}
_TAG_COUNT = b"\xdb\xd4l}"
_TAG_MATRIX = b"\xe3tam"
_TAG_RANGE = b"\xe0\xdcmi"
_TAG_NAME = b"namm"
_TAG_VALUE = b"\xdbal}"
_TAG_UNIT = b"uni|"
_TAG_KIND = b"typm"
_TAG_POSITION = b"pos\x08"

#: units LabSpec writes for a spectral axis -> (specfit native axis, units)
_AXIS_UNITS = {"1/cm": "raman_shift", "cm-1": "raman_shift", "nm": "wavelength", "ev": "photon_energy"}
_INTENSITY_UNITS = {"cnt": "counts", "cnt/sec": "counts/s", "cnt/s": "counts/s"}


@dataclass
class _Record:
    offset: int
    type: int
    tag: bytes
    raw: bytes
    value: object = None


def _record_at(buf: bytes, offset: int) -> _Record | None:
    if offset < 0 or offset + _RECORD.size > len(buf):
        return None
    rtype, _ident, tag, reserved, raw = _RECORD.unpack_from(buf, offset)
    if rtype not in _TYPES or reserved != 0:
        return None
    return _Record(offset, rtype, tag, raw)


def _count(record: _Record) -> int:
    return struct.unpack_from("<I", record.raw, 4)[0]


def _text(raw: bytes) -> str | None:
    text = raw.split(b"\0", 1)[0].decode("latin-1")
    return text if text.isprintable() else None


def _records(buf: bytes) -> list[_Record]:
    """Every record of the file in order, with scalar and string values decoded.

    Long strings (0x1007) are resolved where their payloads follow the run of records in order and
    read as printable NUL-terminated text; where that does not hold (runs that also carry arrays or
    wide strings, shared payloads) their value stays ``None``.
    """
    found: list[_Record] = []
    offset = len(MAGIC)
    while offset + _RECORD.size <= len(buf):
        if _record_at(buf, offset) is None:
            offset += 1
            continue
        run: list[_Record] = []
        while (record := _record_at(buf, offset)) is not None:
            run.append(record)
            offset += _RECORD.size
        for record in run:
            if record.type == _SHORT_STR:
                record.value = _text(record.raw)
            elif record.type == _FLOAT:
                record.value = struct.unpack("<d", record.raw)[0]
            elif record.type == _INT:
                record.value = struct.unpack("<q", record.raw)[0]
            elif record.type == _EMPTY:
                record.value = ""
        if not any(r.type in (_ARRAY, _WIDE_STR) for r in run):
            cursor = offset
            for record in (r for r in run if r.type == _LONG_STR):
                size = _count(record)
                payload = buf[cursor : cursor + size]
                if len(payload) != size or not payload.endswith(b"\0") or _text(payload) is None:
                    break
                record.value = _text(payload)
                cursor += size
            else:
                offset = cursor
        found.extend(run)
    return found


def _check_complete(buf: bytes, records: list[_Record], path: Path) -> None:
    """A truncated file is refused: the file ends with the payload of its ``film`` record (the source
    path, UTF-16, ``count`` characters with the terminating NUL) right after the last record."""
    film = next((r for r in records if r.tag == b"film" and r.type == _WIDE_STR), None)
    if film is None or not records:
        raise CorruptFileError(path, "truncated or damaged LabSpec 6 file: no source-path record")
    start = records[-1].offset + _RECORD.size
    size = 2 * _count(film)
    tail = buf[start : start + size]
    if len(tail) != size or not tail.endswith(b"\0\0"):
        raise CorruptFileError(
            path, f"truncated LabSpec 6 file: its closing {size}-byte source path is incomplete", offset=start
        )


def _array_blocks(buf: bytes, records: list[_Record], path: Path) -> list[dict]:
    """Each float32 data block: kind, unit, values, checked against the block's stored min/max."""
    by_offset = {r.offset: i for i, r in enumerate(records)}
    blocks = []
    for i, record in enumerate(records):
        if not (record.tag == _TAG_MATRIX and record.type == _CONTAINER):
            continue
        # the block's describing records: the run of records that ends with this one
        count = kind = unit = None
        j = i - 1
        while j >= 0 and records[j].offset == records[j + 1].offset - _RECORD.size and records[j].tag != _TAG_RANGE:
            rec = records[j]
            if count is None and rec.tag == _TAG_COUNT and rec.type == _ARRAY:
                count = _count(rec)
            elif kind is None and rec.tag == _TAG_KIND:
                kind = rec.value
            elif unit is None and rec.tag == _TAG_UNIT:
                unit = rec.value
            j -= 1
        if count is None:
            continue
        start = record.offset + _RECORD.size
        end = start + 4 * count
        if end > len(buf):
            raise CorruptFileError(path, f"data block of {count} points runs past the end of the file", offset=start)
        rows = _count(record)
        values = np.frombuffer(buf, dtype="<f4", count=count, offset=start).astype(float)
        after = by_offset.get(end)
        if after is None or records[after].tag != _TAG_RANGE:
            raise ReadError(
                path,
                "unsupported LabSpec 6 layout: a data block is not followed by its range record; export the"
                " spectrum from LabSpec 6 (File > Export, .txt or .xml) and read that",
                offset=end,
            )
        stored = [r.value for r in records[after + 1 : after + 1 + _count(records[after])] if r.type == _FLOAT]
        # the axis block stores its exact extremes; the intensity block a display range that is close to
        # but not exactly the data's (corpus file: 1023.66..4866.67 for data 1024.38..4867.43), so the
        # check there is to 1% of the span — enough to catch a misaligned or mistyped decode
        tolerance = (
            1e-6 * max(abs(values).max(), 1.0) if (unit or "").strip().lower() in _AXIS_UNITS else 0.01 * np.ptp(values)
        )
        if len(stored) < 2 or not np.allclose([values.min(), values.max()], stored[:2], rtol=0, atol=tolerance):
            raise ReadError(
                path,
                f"LabSpec 6 data block at byte {start} does not reproduce the minimum/maximum stored with it"
                f" ({stored[:2]}): this layout is not one specfit decodes; export the spectrum from LabSpec 6",
                offset=start,
            )
        blocks.append({"kind": kind or "", "unit": unit or "", "values": values, "rows": rows, "offset": start})
    return blocks


def _parameters(records: list[_Record]) -> dict[str, dict]:
    """Named parameters: each ``namm`` paired with the value record right before it (acquisition
    settings are written value first) or else right after it (instrument and sample settings)."""
    params: dict[str, dict] = {}
    used: set[int] = set()
    for i, record in enumerate(records):
        if record.tag != _TAG_NAME or not record.value:
            continue
        pick = None
        if i > 0 and records[i - 1].tag == _TAG_VALUE and i - 1 not in used:
            pick = i - 1
        elif i + 1 < len(records) and records[i + 1].tag == _TAG_VALUE:
            pick = i + 1
        if pick is None or records[pick].value is None:
            continue
        used.add(pick)
        entry: dict = {"value": records[pick].value}
        for k in range(max(pick, i) + 1, min(max(pick, i) + 4, len(records))):
            if records[k].tag == _TAG_NAME:
                break
            if records[k].tag == _TAG_UNIT and records[k].value:
                entry["unit"] = records[k].value
            if records[k].tag == _TAG_POSITION and records[k].value is not None:
                entry["position"] = records[k].value
        params.setdefault(str(record.value), entry)
    return params


def _number(value: object) -> float | None:
    try:
        return float(str(value).split()[0])
    except (ValueError, IndexError):
        return None


@register(
    name="horiba_l6s",
    description="HORIBA LabSpec 6 native single spectrum .l6s (decoded, self-checked against stored ranges)",
    extensions=(".l6s", ".l6m"),
    techniques=("raman",),
)
def read_l6s(path: str | os.PathLike, *, technique: str | None = None) -> xr.DataTree:
    """Read a HORIBA LabSpec 6 native single spectrum (``.l6s``).

    Returns a tree with one leaf ``(raman_shift,)`` (or the stored wavelength axis converted with the
    laser line), the acquisition parameters as attributes and every decoded parameter in
    ``original_metadata``. Maps (``.l6m``) and multi-spectrum files raise a
    :class:`~specfit.errors.ReadError`: their layout is not decoded.
    """
    path = Path(path)
    buf = path.read_bytes()
    if not buf.startswith(MAGIC):
        raise ReadError(path, "not a LabSpec 6 file (no 'LabSpec6' signature)", offset=0)
    export_hint = "export it from LabSpec 6 (File > Export, .txt or .xml) and read that"
    if path.suffix.lower() == ".l6m":
        raise ReadError(path, f"LabSpec 6 maps (.l6m) are not decoded; {export_hint}")
    records = _records(buf)
    _check_complete(buf, records, path)
    blocks = _array_blocks(buf, records, path)
    axes = [b for b in blocks if b["unit"].strip().lower() in _AXIS_UNITS]
    signals = [b for b in blocks if b not in axes]
    if len(axes) != 1 or len(signals) != 1:
        raise CorruptFileError(
            path,
            f"expected one spectral axis and one intensity block, found {len(axes)} and {len(signals)}; {export_hint}",
        )
    axis, signal = axes[0], signals[0]
    if signal["rows"] != 1 or signal["values"].size != axis["values"].size:
        raise ReadError(
            path,
            f"the file holds {signal['rows']} x {signal['values'].size} intensities on a {axis['values'].size}-point"
            f" axis: LabSpec 6 files with several spectra are not decoded; {export_hint}",
        )
    params = _parameters(records)
    laser = None
    for name, entry in params.items():
        if name.lower().startswith("laser"):
            laser = entry.get("position") if isinstance(entry.get("position"), float) else _number(entry["value"])
            break
    attrs: dict = {
        "technique": "raman",
        "source_format": "horiba_l6s",
        "instrument": "HORIBA LabSpec 6",
        "original_metadata": metadata_json({"parameters": params, "axis_unit": axis["unit"], "unit": signal["unit"]}),
    }
    exposure = _number(params.get("Acq. time (s)", {}).get("value"))
    if exposure is not None:
        attrs["exposure_per_frame_s"] = exposure
    frames = params.get("Accumulations", {}).get("value")
    if isinstance(frames, int):
        attrs["frames"] = frames
    acquired = params.get("Acquired", {}).get("value")
    if isinstance(acquired, str) and acquired:
        try:  # LabSpec writes day.month.year
            attrs["acquired_at"] = datetime.strptime(acquired, "%d.%m.%Y %H:%M:%S").isoformat()
        except ValueError:
            attrs["acquired_at"] = acquired
    native = _AXIS_UNITS[axis["unit"].strip().lower()]
    units = _INTENSITY_UNITS.get(signal["unit"].strip().lower(), "arb")
    ds = raman_leaf(signal["values"], native, axis["values"], laser_nm=laser, units=units, attrs=attrs)
    return xr.DataTree(children={node_name(path.stem): xr.DataTree(ds)}, dataset=xr.Dataset(attrs={}))


@read_l6s.sniffer
def _sniff_l6s(head: bytes, path: Path) -> float:
    return 1.0 if head.startswith(MAGIC) else 0.0
