"""Renishaw WiRE 3.x ``.wxd`` single spectra.

WiRE 3 wrote ``.wxd`` before ``.wdf``; the format is unpublished and no open reader exists. This
decoder was written from the corpus file ``renishaw_wxd/PST_Reflex532_Z050_010_10000msx2.wxd`` and
is checked value by value against WiRE's own text export of the same spectrum. What is known:

- the file starts with the text signature ``#WXD``, then a directory, then its streams, each
  compressed with zlib (some in several saved versions);
- streams are COM-style *property bags*: ``<u32 name bytes> <UTF-16 name> <u16 VARTYPE> <value>``,
  where nested objects (VARTYPE 9/13) are ``<16-byte class id> <u32 count> <u32 0> <entries>``
  closed by the marker ``C0 FF EE 01``; a data list is such an object whose entries are bare
  VARIANT doubles (``<u16 5> <f64>``);
- the spectral axis is an unnamed data list stream (``<u32 n> <u32 0> n x VARIANT``); the spectrum
  is the data list inside the ``DataSet`` stream; the measurement's properties (exposure,
  accumulations, axis labels ``dataListLabels<k>``, the laser wavenumber under
  ``CalibrationState/Lasers``) are property bags.

The reader decodes a single spectrum. Every zlib stream must check (adler-32) and every list entry
must be a VARIANT double; a file holding several different datasets (maps, series) or an axis whose
length does not match the spectrum raises a :class:`~specfit.errors.ReadError` that asks for an
export, instead of guessing.
"""

from __future__ import annotations

import os
import struct
import zlib
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import xarray as xr

from ..conventions import node_name
from ..errors import CorruptFileError, ReadError
from .raman_common import metadata_json, raman_leaf
from .registry import register

__all__ = ["read_wxd"]

MAGIC = b"#WXD"
_END = b"\xc0\xff\xee\x01"
_VT_R8, _VT_BSTR, _VT_DISPATCH, _VT_UNKNOWN = 5, 8, 9, 13
_SCALARS = {
    2: "<h", 3: "<i", 4: "<f", 5: "<d", 7: "<d", 11: "<h",
    16: "<b", 17: "<B", 18: "<H", 19: "<I", 20: "<q", 21: "<Q", 22: "<i", 23: "<I",
}  # fmt: skip
_VT_DATE = 7
#: a guard against decompression bombs: no WiRE stream of a single spectrum comes near this
_MAX_STREAM_BYTES = 256 * 1024 * 1024
_TRUNCATED_STREAM_MIN = 256
_AXIS_LABELS = (("raman shift", "raman_shift"), ("wavenumber", "raman_shift"), ("wavelength", "wavelength"))
_EXPORT_HINT = "open it in WiRE and save it as .wdf, or export it as .txt or .spc, and read that file"


class _Malformed(Exception):
    """A stream is not the structure it was taken for (caught: the stream is then not that kind)."""


def _streams(buf: bytes, path: Path) -> list[bytes]:
    """Every complete zlib stream of the file, in file order."""
    found: list[bytes] = []
    i = buf.find(b"\x78", len(MAGIC))
    while 0 <= i < len(buf) - 2:
        if buf[i + 1] in (0x01, 0x5E, 0x9C, 0xDA) and ((buf[i] << 8) | buf[i + 1]) % 31 == 0:
            inflater = zlib.decompressobj()
            try:
                data = inflater.decompress(buf[i:], _MAX_STREAM_BYTES)
            except zlib.error:
                data = None
            if data is not None and inflater.unconsumed_tail:
                raise CorruptFileError(path, f"a stream inflates past {_MAX_STREAM_BYTES} bytes", offset=i)
            if data is not None and inflater.eof:
                found.append(data)
                i = len(buf) - len(inflater.unused_data)
                i = buf.find(b"\x78", i)
                continue
            if data is not None and len(buf) - i > _TRUNCATED_STREAM_MIN and len(data) > _TRUNCATED_STREAM_MIN:
                # a stream that inflates cleanly up to the end of the file without finishing: the file
                # was cut (a random 78 9C inside compressed data fails long before that)
                raise CorruptFileError(path, "truncated file: a compressed stream runs past the end", offset=i)
        i = buf.find(b"\x78", i + 1)
    return found


def _value(data: bytes, offset: int) -> tuple[object, int]:
    (vartype,) = struct.unpack_from("<H", data, offset)
    offset += 2
    if vartype == _VT_BSTR:
        (size,) = struct.unpack_from("<I", data, offset)
        end = offset + 4 + size
        if end > len(data):
            raise _Malformed("string past the end")
        return data[offset + 4 : end].decode("utf-16-le", "replace").rstrip("\0"), end
    if vartype in _SCALARS:
        fmt = _SCALARS[vartype]
        value = struct.unpack_from(fmt, data, offset)[0]
        if vartype == _VT_DATE:  # OLE automation date: days since 1899-12-30
            value = (datetime(1899, 12, 30) + timedelta(days=value)).isoformat(timespec="seconds")
        return value, offset + struct.calcsize(fmt)
    if vartype in (_VT_DISPATCH, _VT_UNKNOWN):
        count, _zero = struct.unpack_from("<II", data, offset + 16)
        offset += 24
        if offset + 2 <= len(data) and struct.unpack_from("<H", data, offset)[0] == _VT_R8:
            values, offset = _variant_doubles(data, offset, count)
            return values, offset
        bag, offset = _bag(data, offset, count)
        if data[offset : offset + 4] != _END:
            raise _Malformed(f"object not closed at byte {offset}")
        return bag, offset + 6  # the marker and a 16-bit zero
    raise _Malformed(f"VARTYPE {vartype} at byte {offset - 2}")


def _variant_doubles(data: bytes, offset: int, count: int) -> tuple[np.ndarray, int]:
    end = offset + 10 * count
    if end + 4 > len(data):
        raise _Malformed("data list past the end")
    items = np.frombuffer(data, dtype=np.dtype([("vt", "<u2"), ("value", "<f8")]), count=count, offset=offset)
    if not np.all(items["vt"] == _VT_R8) or data[end : end + 4] != _END:
        raise _Malformed("data list entries are not all VARIANT doubles")
    return items["value"].astype(float), end + 4


def _bag(data: bytes, offset: int, count: int | None = None) -> tuple[dict, int]:
    """A property bag of ``count`` entries (or up to the first thing that is not an entry)."""
    entries: dict = {}
    while count is None or len(entries) < count:
        if offset + 4 > len(data):
            if count is None:
                break
            raise _Malformed("bag past the end")
        (size,) = struct.unpack_from("<I", data, offset)
        if size == 0 or size % 2 or size > 1024 or offset + 4 + size + 2 > len(data):
            if count is None:
                break
            raise _Malformed(f"bad name length at byte {offset}")
        name = data[offset + 4 : offset + 4 + size].decode("utf-16-le", "replace").rstrip("\0")
        if not name.isprintable():
            if count is None:
                break
            raise _Malformed("unprintable name")
        value, offset = _value(data, offset + 4 + size)
        entries[name] = value
    return entries, offset


def _classify(streams: list[bytes]) -> tuple[list[np.ndarray], list[dict], dict]:
    """Unnamed data lists, datasets (bags holding a ``DataList<k>``), merged properties."""
    lists: list[np.ndarray] = []
    datasets: list[dict] = []
    properties: dict = {}
    for data in streams:
        if len(data) >= 8:
            count, zero = struct.unpack_from("<II", data, 0)
            if zero == 0 and len(data) == 8 + 10 * count + 4:
                try:
                    lists.append(_variant_doubles(data, 8, count)[0])
                    continue
                except _Malformed:
                    pass
            if zero == 0 and 0 < count < 1000:
                try:
                    bag, _ = _bag(data, 8, count)
                except (_Malformed, struct.error):
                    bag = {}
                if any(k.startswith("DataList") and isinstance(v, np.ndarray) for k, v in bag.items()):
                    datasets.append(bag)
                    continue
        try:
            bag, _ = _bag(data, 0)
        except (_Malformed, struct.error):
            continue
        if len(bag) >= 3:
            properties.update(bag)  # later saved versions override earlier ones
    return lists, datasets, properties


def _find(tree: dict, *keys: str) -> object:
    node: object = tree
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _laser_nm(properties: dict) -> float | None:
    lasers = _find(properties, "CalibrationState", "Lasers")
    if not isinstance(lasers, dict):
        return None
    for entry in lasers.values():
        if isinstance(entry, dict) and isinstance(entry.get("Wavenumber"), (int, float)) and entry["Wavenumber"] > 0:
            return 1e7 / float(entry["Wavenumber"])
    return None


@register(
    name="renishaw_wxd",
    description="Renishaw WiRE 3.x .wxd single spectrum (decoded from its zlib property-bag streams)",
    extensions=(".wxd",),
    techniques=("raman",),
)
def read_wxd(path: str | os.PathLike, *, technique: str | None = None) -> xr.DataTree:
    """Read a Renishaw WiRE 3.x ``.wxd`` single spectrum.

    Returns a tree with one leaf ``(raman_shift,)``, with the laser wavelength (from the calibrated
    laser wavenumber), exposure, accumulations and start time as attributes and every decoded
    property in ``original_metadata``.
    """
    path = Path(path)
    buf = path.read_bytes()
    if not buf.startswith(MAGIC):
        raise ReadError(path, "not a WiRE 3 .wxd file (no '#WXD' signature)", offset=0)
    streams = _streams(buf, path)
    if not streams:
        raise CorruptFileError(path, "no complete compressed stream found (truncated or damaged file)")
    lists, datasets, properties = _classify(streams)
    spectra = []
    for dataset in datasets:
        for key, value in dataset.items():
            if key.startswith("DataList") and isinstance(value, np.ndarray):
                if not any(np.array_equal(value, seen) for _, seen, _ in spectra):
                    spectra.append((key, value, dataset))
    if len(spectra) != 1:
        raise ReadError(
            path, f"{len(spectra)} datasets found; only single-spectrum .wxd files are decoded; {_EXPORT_HINT}"
        )
    key, intensity, dataset = spectra[0]
    axes = [a for a in lists if a.size == intensity.size]
    if not axes or any(not np.array_equal(a, axes[0]) for a in axes):
        raise ReadError(
            path,
            f"no unique {intensity.size}-point spectral axis for the {intensity.size}-point spectrum; {_EXPORT_HINT}",
        )
    axis = axes[0]
    labels = {
        k: str(v) for k, v in properties.items() if k.startswith("dataListLabels") and k != f"dataListLabels{key[8:]}"
    }
    native = None
    for label in labels.values():
        for word, name in _AXIS_LABELS:
            if word in label.lower():
                native = name
    if native is None:
        raise ReadError(
            path, f"the spectral axis is not labelled as Raman shift or wavelength ({labels}); {_EXPORT_HINT}"
        )
    if not np.all(np.isfinite(axis)) or not np.all(np.isfinite(intensity)):
        raise CorruptFileError(path, "non-finite values in the spectrum or its axis")
    laser = _laser_nm(properties)
    attrs: dict = {
        "technique": "raman",
        "source_format": "renishaw_wxd",
        "instrument": "Renishaw WiRE 3",
        "original_metadata": metadata_json(
            {"properties": properties, "dataset": {k: v for k, v in dataset.items() if k != key}}
        ),
    }
    if isinstance(properties.get("Exposure Time"), (int, float)):
        attrs["exposure_per_frame_s"] = float(properties["Exposure Time"]) / 1000.0  # WiRE stores ms
    if isinstance(properties.get("Accumulations"), int):
        attrs["frames"] = int(properties["Accumulations"])
    if isinstance(properties.get("StartTime"), str):
        attrs["acquired_at"] = properties["StartTime"]
    if properties.get("WiRE2 Version"):
        attrs["software"] = str(properties["WiRE2 Version"])
    units = "counts" if "count" in str(dataset.get(f"dataListLabels{key[8:]}", "counts")).lower() else "arb"
    ds = raman_leaf(intensity, native, axis, laser_nm=laser, units=units, attrs=attrs)
    return xr.DataTree(children={node_name(path.stem): xr.DataTree(ds)}, dataset=xr.Dataset(attrs={}))


@read_wxd.sniffer
def _sniff_wxd(head: bytes, path: Path) -> float:
    return 1.0 if head.startswith(MAGIC) else 0.0
