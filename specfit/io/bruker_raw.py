"""Siemens/Bruker DIFFRAC binary ``.raw`` files, versions 1 to 4.

Byte layouts (little endian) as documented in "DIFFRAC^plus XCH V.5.0 Release 2002, User's Manual, Appendix
A" and as read by xylib (wojdyr/xylib: xylib/bruker_raw.cpp) and GSAS-II (G2pwd_BrukerRAW.py); only the
version-3 and -4 layouts could be checked against real files here (corpus xrd/bruker_raw), versions 1 and 2 are
implemented from those descriptions and tested on synthetic files.

Version 1, magic ``"RAW "``
    Per range a 156-byte header (the first including the magic; later ones may repeat it): uint32 steps,
    float32 time per step, float32 step, uint32 scan mode, 4 unused, float32 start 2θ, float32 θ/χ/φ starts
    (-1e6 = unknown), 32-byte sample name, float32 Kα1, Kα2, 72 unused, uint32 "another range follows";
    then ``steps`` float32 counts.
Version 2, magic ``"RAW2"``
    256-byte file header (uint16 range count at 4, date at 168, anode at 188, float32 Kα1/Kα2/ratio at
    190/194/198, total time at 210); per range a header of uint16 length (≥ 48), uint16 steps, float32
    time per step at +8, step at +12, start 2θ at +16, uint16 temperature at +46; then float32 counts.
Version 3, magic ``"RAW1.01"``
    712-byte file header (range count at 12, date/time at 16/26, sample at 326, anode at 608, float64 Kα
    average/Kα1/Kα2/Kβ/ratio at 616–648); per range a 304-byte header (steps at +4, float64 start θ/2θ at
    +8/+16, step at +176, float32 time per step at +192, uint32 kV/mA at +224/+228, float64 λ at +240,
    supplementary header length at +256) followed by the supplementary headers and float32 counts.
Version 4, magic ``"RAW4.00"``
    61-byte header, then tagged segments (uint32 type, uint32 length): 10 = text variable (name at +12,
    value at +36), 30 = source (float64 Kα average/Kα1/Kα2/Kβ/ratio at +72…+104, anode at +116),
    60 = drive alignment; a segment type 0 or 160 starts a range: 160-byte range header (scan type at +32,
    float64 start at +72, step at +80, uint32 steps at +88, float32 time per step at +92, kV/mA at
    +100/+104, float64 λ at +112, uint32 datum size at +136, supplementary header size at +140), the
    supplementary segments (type 50 = drive start, name at +12, float64 start at +56) and the data.

Every read is bounds-checked: a truncated or damaged file raises :class:`~specfit.errors.CorruptFileError` with
the byte offset; no loop runs longer than the file allows. A file starting with ``RIGAKU_RAW_FORMAT`` (Rigaku's
binary .raw) is not a Bruker file and is not claimed.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..conventions import make_leaf, node_name
from ..errors import CorruptFileError, UnknownFormatError
from ._xrd import iso_datetime, wavelength_attrs
from .registry import register

__all__ = ["read_bruker_raw"]

_MAGICS = {b"RAW ": 1, b"RAW2": 2, b"RAW1.01": 3, b"RAW4.00": 4}
#: v4 scan types whose angle axis is 2θ (others, e.g. rocking curves, are listed in the root attrs and skipped).
_TWO_THETA_SCANS = ("locked coupled", "unlocked coupled", "detector scan", "2theta", "coupled twotheta")


class _Cursor:
    """Bounds-checked little-endian reader over the file bytes."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data = data
        self.path = path

    def need(self, offset: int, size: int, what: str) -> None:
        if offset < 0 or size < 0 or offset + size > len(self.data):
            raise CorruptFileError(
                self.path,
                f"file ends before {what} ({size} bytes at {offset}; file has {len(self.data)})",
                offset=offset,
            )

    def unpack(self, fmt: str, offset: int, what: str) -> Any:
        size = struct.calcsize("<" + fmt)
        self.need(offset, size, what)
        values = struct.unpack_from("<" + fmt, self.data, offset)
        return values[0] if len(values) == 1 else values

    def string(self, offset: int, size: int, what: str) -> str:
        self.need(offset, size, what)
        return self.data[offset : offset + size].split(b"\x00", 1)[0].decode("latin-1").strip()

    def floats(self, offset: int, count: int, what: str, stride: int = 4) -> np.ndarray:
        self.need(offset, count * stride, what)
        if stride == 4:
            values = np.frombuffer(self.data, dtype="<f4", count=count, offset=offset).astype(float)
        else:  # wider data records: the count is the first float32 of each record
            block = np.frombuffer(self.data, dtype=np.uint8, count=count * stride, offset=offset)
            values = block.reshape(count, stride)[:, :4].copy().view("<f4").ravel().astype(float)
        if not np.all(np.isfinite(values)):
            bad = int(np.argmin(np.isfinite(values)))
            raise CorruptFileError(
                self.path, f"non-finite value in {what} (damaged data)", offset=offset + bad * stride
            )
        return values


def _positive_count(value: int, what: str, cursor: _Cursor, offset: int, limit: int) -> int:
    if value <= 0 or value > limit:
        raise CorruptFileError(cursor.path, f"implausible {what} {value}", offset=offset)
    return value


def _axis(start: float, step: float, steps: int, cursor: _Cursor, offset: int) -> np.ndarray:
    if not (np.isfinite(start) and np.isfinite(step)) or step == 0:
        raise CorruptFileError(cursor.path, f"implausible start {start} / step {step}", offset=offset)
    return start + step * np.arange(steps)


def _version1(c: _Cursor) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    ranges: list[dict[str, Any]] = []
    pos = 4
    follows = 1
    while follows:
        if ranges and c.data[pos : pos + 4] == b"RAW ":
            pos += 4  # early files repeat the magic on later ranges
        steps = _positive_count(c.unpack("I", pos, "range step count"), "step count", c, pos, len(c.data) // 4)
        time_per_step, step, mode = c.unpack("ffI", pos + 4, "range header")
        start = c.unpack("f", pos + 20, "start angle")
        theta, chi, phi = c.unpack("fff", pos + 24, "drive starts")
        sample = c.string(pos + 36, 32, "sample name")
        ka1, ka2 = c.unpack("ff", pos + 68, "wavelengths")
        follows = c.unpack("I", pos + 148, "range continuation flag")
        data_at = pos + 152
        y = c.floats(data_at, steps, "counts")
        meta = {"time_per_step_s": time_per_step, "scan_mode_code": mode, "sample": sample}
        for name, value in (("theta_start", theta), ("chi_start", chi), ("phi_start", phi)):
            if value != -1e6:
                meta[name] = value
        ranges.append(
            {
                "x": _axis(start, step, steps, c, pos),
                "y": y,
                "meta": meta,
                "step": step,
                "time": time_per_step,
                "ka1": ka1,
                "ka2": ka2,
            }
        )
        pos = data_at + 4 * steps
        if len(ranges) > len(c.data) // 156:
            raise CorruptFileError(c.path, "range chain does not end", offset=pos)
    first = ranges[0]
    file_meta = {"format_version": 1, "sample": first["meta"]["sample"]}
    wl = wavelength_attrs(kalpha1=first["ka1"] or None, kalpha2=first["ka2"] or None)
    return {"meta": file_meta, "wavelength": wl}, ranges


def _version2(c: _Cursor) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    count = _positive_count(c.unpack("H", 4, "range count"), "range count", c, 4, 10_000)
    meta = {
        "format_version": 2,
        "date_time": c.string(168, 20, "date"),
        "total_time_s": c.unpack("f", 210, "total time"),
    }
    anode = c.string(188, 2, "anode")
    ka1, ka2, ratio = c.unpack("fff", 190, "wavelengths")
    ranges = []
    pos = 256
    for _ in range(count):
        header_len, steps = c.unpack("HH", pos, "range header")
        if header_len < 48:
            raise CorruptFileError(c.path, f"range header length {header_len} < 48", offset=pos)
        steps = _positive_count(steps, "step count", c, pos + 2, len(c.data) // 4)
        time_per_step, step, start = c.unpack("fff", pos + 8, "range header")
        temperature = c.unpack("H", pos + 46, "temperature")
        y = c.floats(pos + header_len, steps, "counts")
        ranges.append(
            {
                "x": _axis(start, step, steps, c, pos),
                "y": y,
                "step": step,
                "time": time_per_step,
                "meta": {"time_per_step_s": time_per_step, "temperature_k": temperature},
            }
        )
        pos += header_len + 4 * steps
    wl = wavelength_attrs(kalpha1=ka1 or None, kalpha2=ka2 or None, ratio=ratio, anode=anode)
    return {"meta": meta, "wavelength": wl}, ranges


def _version3(c: _Cursor) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    c.need(0, 712, "the 712-byte file header")
    count = _positive_count(c.unpack("I", 12, "range count"), "range count", c, 12, len(c.data) // 304)
    status = {1: "done", 2: "active", 3: "aborted", 4: "interrupted"}.get(c.unpack("I", 8, "status"), "unknown")
    meta = {
        "format_version": 3,
        "file_status": status,
        "date": c.string(16, 10, "date"),
        "time": c.string(26, 10, "time"),
        "user": c.string(36, 72, "user"),
        "site": c.string(108, 218, "site"),
        "sample": c.string(326, 60, "sample"),
        "comment": c.string(386, 160, "comment"),
        "goniometer_radius_mm": c.unpack("f", 564, "goniometer radius"),
        "measurement_time_s": c.unpack("f", 664, "measurement time"),
    }
    anode = c.string(608, 4, "anode")
    average, ka1, ka2, kbeta, ratio = c.unpack("5d", 616, "wavelengths")
    ranges = []
    pos = 712
    for r in range(count):
        header_len, steps = c.unpack("Ii", pos, f"range {r + 1} header")
        if header_len != 304:
            raise CorruptFileError(c.path, f"range {r + 1} header length {header_len}, expected 304", offset=pos)
        steps = _positive_count(steps, "step count", c, pos + 4, len(c.data) // 4)
        start_theta, start_2theta = c.unpack("dd", pos + 8, "range starts")
        step = c.unpack("d", pos + 176, "step size")
        time_per_step = c.unpack("f", pos + 192, "time per step")
        kv, ma = c.unpack("II", pos + 224, "generator settings")
        used_lambda = c.unpack("d", pos + 240, "used wavelength")
        supplementary = c.unpack("i", pos + 256, "supplementary header size")
        if supplementary < 0 or supplementary > len(c.data):
            raise CorruptFileError(c.path, f"implausible supplementary header size {supplementary}", offset=pos + 256)
        data_at = pos + header_len + supplementary
        y = c.floats(data_at, steps, "counts")
        ranges.append(
            {
                "x": _axis(start_2theta, step, steps, c, pos),
                "y": y,
                "step": step,
                "time": time_per_step,
                "kv": float(kv),
                "ma": float(ma),
                "meta": {
                    "start_theta": start_theta,
                    "used_lambda_angstrom": used_lambda,
                    "high_voltage": c.unpack("f", pos + 100, "detector"),
                    "rotation_speed_rpm": c.unpack("f", pos + 208, "rotation"),
                    "temperature_k": c.unpack("f", pos + 212, "temperature"),
                },
            }
        )
        pos = data_at + 4 * steps
    wl = wavelength_attrs(
        kalpha1=ka1 or None, kalpha2=ka2 or None, kbeta=kbeta, ratio=ratio, average=average, anode=anode
    )
    return {"meta": meta, "wavelength": wl}, ranges


def _version4(c: _Cursor) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    meta: dict[str, Any] = {"format_version": 4, "date": c.string(12, 12, "date"), "time": c.string(24, 10, "time")}
    source: dict[str, Any] = {}
    pos = 61
    drives = 0
    while True:
        seg_type = c.unpack("I", pos, "segment type")
        if seg_type in (0, 160):
            break
        seg_len = c.unpack("I", pos + 4, "segment length")
        if seg_len < 8:
            raise CorruptFileError(c.path, f"segment length {seg_len} < 8", offset=pos + 4)
        c.need(pos, seg_len, f"segment of type {seg_type}")
        if seg_type == 10 and seg_len >= 36:
            meta[c.string(pos + 12, 24, "variable name")] = c.string(pos + 36, seg_len - 36, "variable value")
        elif seg_type == 30 and seg_len >= 120:
            average, ka1, ka2, kbeta, ratio = c.unpack("5d", pos + 72, "wavelengths")
            source = {
                "average": average,
                "kalpha1": ka1,
                "kalpha2": ka2,
                "kbeta": kbeta,
                "ratio": ratio,
                "anode": c.string(pos + 116, 4, "anode"),
            }
        elif seg_type == 60 and seg_len >= 76:
            meta[f"drive{drives}_name"] = c.string(pos + 12, 24, "drive name")
            meta[f"drive{drives}_align_flag"] = c.unpack("I", pos + 8, "align flag")
            meta[f"drive{drives}_delta"] = c.unpack("d", pos + 68, "drive delta")
            drives += 1
        pos += seg_len
    ranges = []
    skipped = []
    while pos < len(c.data):
        seg_type = c.unpack("I", pos, "range marker")
        if seg_type not in (0, 160):
            raise CorruptFileError(c.path, f"expected a range (segment type 0/160), found {seg_type}", offset=pos)
        c.need(pos, 160, "range header")
        scan_type = c.string(pos + 32, 24, "scan type")
        start, step = c.unpack("dd", pos + 72, "start/step")
        steps = _positive_count(c.unpack("I", pos + 88, "steps"), "step count", c, pos + 88, len(c.data) // 4)
        time_per_step = c.unpack("f", pos + 92, "time per step")
        kv, ma = c.unpack("ff", pos + 100, "generator settings")
        used_lambda = c.unpack("d", pos + 112, "used wavelength")
        datum_size, header_size = c.unpack("II", pos + 136, "datum/header sizes")
        if datum_size < 4 or datum_size > 1024:
            raise CorruptFileError(c.path, f"implausible datum size {datum_size}", offset=pos + 136)
        sub = pos + 160
        end_of_headers = sub + header_size
        c.need(sub, header_size, "supplementary range headers")
        drive_starts: dict[str, float] = {}
        while sub < end_of_headers:
            s_type, s_len = c.unpack("II", sub, "supplementary segment")
            if s_len < 8:
                raise CorruptFileError(c.path, f"segment length {s_len} < 8", offset=sub + 4)
            if s_type == 50 and s_len >= 64:
                drive_starts[c.string(sub + 12, 24, "drive name")] = c.unpack("d", sub + 56, "drive start")
            sub += s_len
        y = c.floats(end_of_headers, steps, "counts", stride=datum_size)
        range_meta = {
            "scan_type": scan_type,
            "used_lambda_angstrom": used_lambda,
            "time_per_step_s": time_per_step,
            **{f"start_{k.lower().replace(' ', '_')}": v for k, v in drive_starts.items()},
        }
        if scan_type.lower() in _TWO_THETA_SCANS:
            ranges.append(
                {
                    "x": _axis(start, step, steps, c, pos),
                    "y": y,
                    "step": step,
                    "time": time_per_step,
                    "kv": kv,
                    "ma": ma,
                    "meta": range_meta,
                }
            )
        else:
            skipped.append(scan_type)
        pos = end_of_headers + datum_size * steps
    if skipped:
        meta["skipped_ranges"] = skipped

    # v4 stores float32 values widened to float64 (1.5405999422…): round to the 6 decimals Bruker writes
    def _wl(key: str) -> float | None:
        value = source.get(key)
        return round(value, 6) if value else None

    wl = wavelength_attrs(
        kalpha1=_wl("kalpha1"),
        kalpha2=_wl("kalpha2"),
        kbeta=_wl("kbeta"),
        ratio=round(source["ratio"], 6) if "ratio" in source else None,
        average=_wl("average"),
        anode=source.get("anode"),
    )
    if not ranges and skipped:
        raise UnknownFormatError(c.path, f"no 2θ range in file (scan types {skipped}); not supported")
    return {"meta": meta, "wavelength": wl}, ranges


@register(
    name="bruker_raw",
    description="Siemens/Bruker DIFFRAC binary .raw, versions 1 (RAW), 2 (RAW2), 3 (RAW1.01), 4 (RAW4.00)",
    extensions=(".raw",),
    techniques=("xrd",),
)
def read_bruker_raw(
    path: str | os.PathLike, *, technique: str | None = None, wavelength: float | dict | None = None
) -> xr.DataTree:
    """Read a Bruker ``.raw`` file (one leaf per range).

    Parameters
    ----------
    path
        The file.
    technique
        ``"xrd"`` or ``None``.
    wavelength
        Override the wavelengths the file states.
    """
    path = Path(path)
    data = path.read_bytes()
    version = next((v for magic, v in _MAGICS.items() if data.startswith(magic)), None)
    if version is None:
        what = "a Rigaku binary .raw" if data.startswith(b"RIGAKU_RAW_FORMAT") else "not a Bruker RAW file"
        raise UnknownFormatError(path, f"{what} (no RAW/RAW2/RAW1.01/RAW4.00 magic)", offset=0)
    cursor = _Cursor(data, path)
    file_info, ranges = {1: _version1, 2: _version2, 3: _version3, 4: _version4}[version](cursor)
    if not ranges:
        raise CorruptFileError(path, "file holds no range", offset=0)
    wl = file_info["wavelength"] if wavelength is None else wavelength_attrs(override=wavelength)
    children: dict[str, xr.DataTree] = {}
    taken: set[str] = set()
    for r_no, rng in enumerate(ranges, start=1):
        attrs: dict[str, Any] = {
            "technique": "xrd",
            "source_format": "bruker_raw",
            "raw_version": version,
            "step_deg": float(rng["step"]),
            "counting_time_s": float(rng["time"]),
            "sample": str(file_info["meta"].get("sample") or file_info["meta"].get("SAMPLEID", "")),
            **wl,
        }
        if "kv" in rng:
            attrs["voltage_kv"] = float(rng["kv"])
            attrs["current_ma"] = float(rng["ma"])
        if "scan_type" in rng["meta"]:
            attrs["scan_axis"] = rng["meta"]["scan_type"]
        if version == 3:
            # v3 dates are MM/DD/YY: BT86.raw says 03/04/10 where its UXD twin says 04-Mar-2010
            stamp = f"{file_info['meta'].get('date', '')} {file_info['meta'].get('time', '')}"
            attrs.update(iso_datetime(stamp, ("%m/%d/%y %H:%M:%S",)))
        elif version == 4:  # "04/07/2025": day/month order undocumented, kept as text
            attrs.update(iso_datetime(f"{file_info['meta'].get('date', '')} {file_info['meta'].get('time', '')}", ()))
        attrs["original_metadata"] = {"file": file_info["meta"], "range": rng["meta"]}
        ds = make_leaf(rng["y"], "two_theta", rng["x"], units="counts", attrs=attrs)
        children[node_name(path.stem if len(ranges) == 1 else f"range_{r_no}", taken)] = xr.DataTree(ds)
    return xr.DataTree(children=children, dataset=xr.Dataset(attrs={"source_format": "bruker_raw"}))


@read_bruker_raw.sniffer
def _sniff(head: bytes, path: Path) -> float:
    if head.startswith((b"RAW1.01", b"RAW4.00", b"RAW2")):
        return 1.0
    if head.startswith(b"RAW ") and len(head) >= 156:
        return 0.9
    return 0.0
