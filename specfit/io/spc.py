"""Thermo Galactic GRAMS ``.spc`` files (new LSB format 0x4B and the old format 0x4D).

Written from the published format description (Galactic Industries, "SPC file format", GRAMS
``SPC.H``, 1996/1997) because the Python packages available fail on part of the corpus: spc-io
refuses the old-format multifile ``m_ordz.spc`` ("only LSB format is supported") and spc-spectra
cannot read it either. One parser covers:

- new format (version byte 0x4B, 512-byte header): single Y, even X (``ffirst..flast``), one
  shared X array (``TXVALS``), multifile with even or ordered Z (``TMULTI``), and XYXY multifiles
  (``TXYXYS``: each subfile with its own X, read as separate leaves);
- old format (0x4D, 256-byte header whose last 32 bytes are the first subfile header), where the
  32-bit integer Y values are stored as two 16-bit words, high word first;
- the log block (``flogoff``): its ``key=value`` text goes into ``original_metadata``.

Y values are 32-bit floats when the exponent byte is 0x80, else scaled integers
``y = int32 * 2**(exp - 32)`` (``int16 * 2**(exp - 16)`` with ``TSPREC``).

The X unit code (``fxtype``) decides the axis: Raman shift (13) → ``raman_shift``; wavenumber (1)
→ ``wavenumber`` (``raman_shift`` for Raman experiments); nm/µm → ``wavelength``; eV →
``photon_energy``; m/z → ``mass``; time units (chromatograms) → ``sputter_time`` in seconds, the only
conventional time-like axis, with technique ``other``. The attribute ``x_unit`` records the file's
own unit name.

WiRE SPC exports are re-sampled by WiRE onto an even grid; their intensities belong to that grid
only (never pair them with the native ``.wdf``/``.txt`` axis).
"""

from __future__ import annotations

import os
import struct
from datetime import datetime
from pathlib import Path

import numpy as np
import xarray as xr

from ..conventions import make_leaf, node_name
from ..errors import CorruptFileError
from .raman_common import metadata_json
from .registry import register

__all__ = ["read_spc"]

# ftflgs bits (SPC.H)
TSPREC, TCGRAM, TMULTI, TRANDM, TORDRD, TALABS, TXYXYS, TXVALS = (1 << i for i in range(8))

#: fxtype codes -> (name, unit) from SPC.H
_XTYPES = {
    0: ("arbitrary", ""),
    1: ("wavenumber", "cm-1"),
    2: ("micrometers", "um"),
    3: ("nanometers", "nm"),
    4: ("seconds", "s"),
    5: ("minutes", "min"),
    6: ("hertz", "Hz"),
    7: ("kilohertz", "kHz"),
    8: ("megahertz", "MHz"),
    9: ("mass", "m/z"),
    10: ("ppm", "ppm"),
    11: ("days", "d"),
    12: ("years", "yr"),
    13: ("raman_shift", "cm-1"),
    14: ("electron_volts", "eV"),
    15: ("xyz_text", ""),
    16: ("diode_number", ""),
    17: ("channel", ""),
    18: ("degrees", "deg"),
    19: ("temperature_f", "F"),
    20: ("temperature_c", "C"),
    21: ("temperature_k", "K"),
    22: ("data_points", ""),
    23: ("milliseconds", "ms"),
    24: ("microseconds", "us"),
    25: ("nanoseconds", "ns"),
    26: ("gigahertz", "GHz"),
    27: ("centimeters", "cm"),
    28: ("meters", "m"),
    29: ("millimeters", "mm"),
    30: ("hours", "h"),
    255: ("double_interferogram", ""),
}

_YTYPES = {
    0: "arbitrary",
    1: "interferogram",
    2: "absorbance",
    3: "kubelka_munk",
    4: "counts",
    5: "volts",
    6: "degrees",
    7: "milliamps",
    8: "millimeters",
    9: "millivolts",
    10: "log(1/R)",
    11: "percent",
    12: "intensity",
    13: "relative_intensity",
    14: "energy",
    16: "decibel",
    19: "temperature_f",
    20: "temperature_c",
    21: "temperature_k",
    22: "index_of_refraction",
    23: "extinction_coeff",
    24: "real",
    25: "imaginary",
    26: "complex",
    128: "transmission",
    129: "reflectance",
    130: "arbitrary_valley",
    131: "emission",
}

_EXPERIMENTS = {
    0: "general",
    1: "gas_chromatogram",
    2: "general_chromatogram",
    3: "hplc_chromatogram",
    4: "ftir_ftnir_ftraman",
    5: "nir",
    6: "uv_vis",
    7: "xray_diffraction",
    8: "mass_spec",
    9: "nmr",
    10: "raman",
    11: "fluorescence",
    12: "atomic",
    13: "chromatography_diode_array",
}

# spectral axis for each X unit code; time-like X (chromatograms) has no spectral meaning here
_XTYPE_AXIS = {
    1: ("wavenumber", 1.0),
    2: ("wavelength", 1e3),  # µm -> nm
    3: ("wavelength", 1.0),
    9: ("mass", 1.0),
    13: ("raman_shift", 1.0),
    14: ("photon_energy", 1.0),
    18: ("two_theta", 1.0),
    4: ("sputter_time", 1.0),
    5: ("sputter_time", 60.0),
    23: ("sputter_time", 1e-3),
    30: ("sputter_time", 3600.0),
}

_NEW_HEADER = struct.Struct("<BBBbiddiBBBBI9s9sH32s130s30siiBBHf48sfifB187s")
_OLD_HEADER = struct.Struct("<BBhfffBBhBBBB8sHH28s130s30s")
_SUBHEADER = struct.Struct("<BbhfffiifI")
assert _NEW_HEADER.size == 512 and _OLD_HEADER.size == 224 and _SUBHEADER.size == 32


def _text(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("latin-1").strip()


def _y_values(raw: bytes, npts: int, exp: int, prec16: bool, old: bool) -> np.ndarray:
    """Decode one subfile's Y block (float or scaled integers)."""
    if exp == -128:
        return np.frombuffer(raw, "<f4", count=npts).astype(float)
    if prec16:
        return np.frombuffer(raw, "<i2", count=npts).astype(float) * 2.0 ** (exp - 16)
    if old:
        # old format: each 32-bit value is two little-endian 16-bit words, high word first
        words = np.frombuffer(raw, "<u2", count=2 * npts).reshape(npts, 2).astype(np.int64)
        ints = ((words[:, 0] << 16) | words[:, 1]).astype(np.uint32).view(np.int32)
        return ints.astype(float) * 2.0 ** (exp - 32)
    return np.frombuffer(raw, "<i4", count=npts).astype(float) * 2.0 ** (exp - 32)


def _date(code: int) -> str | None:
    year, month, day = code >> 20, (code >> 16) & 0xF, (code >> 11) & 0x1F
    hour, minute = (code >> 6) & 0x1F, code & 0x3F
    try:
        return datetime(year, month, day, hour, minute).isoformat()
    except ValueError:
        return None


def _log_block(path: Path, buf: bytes, offset: int) -> dict[str, str]:
    """The ``key=value`` text of the log block (empty when absent or unreadable)."""
    if offset <= 0:
        return {}
    if offset + 64 > len(buf):
        raise CorruptFileError(
            path, f"the log block at byte {offset} lies beyond the end of the file (truncated)", offset=offset
        )
    size_disk, _size_mem, text_offset = struct.unpack_from("<iii", buf, offset)
    start = offset + text_offset
    if text_offset <= 0:
        return {}
    if start >= len(buf) or offset + size_disk > len(buf):
        raise CorruptFileError(path, "the log block runs past the end of the file (truncated)", offset=offset)
    end = min(len(buf), offset + max(size_disk, 64))
    raw = buf[start:end].split(b"\x00", 1)[0].decode("latin-1")
    out: dict[str, str] = {}
    for line in raw.replace("\r", "\n").split("\n"):
        if "=" in line:
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


class _Cursor:
    """Bounds-checked reader over the file bytes: a truncated file is an error with the offset."""

    def __init__(self, path: Path, buf: bytes, pos: int) -> None:
        self.path, self.buf, self.pos = path, buf, pos

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.buf):
            raise CorruptFileError(
                self.path,
                f"file ends inside {what} (needs {n} bytes, {len(self.buf) - self.pos} left)",
                offset=self.pos,
            )
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out


@register(
    name="spc",
    description="Thermo Galactic GRAMS .spc (new and old format; single, multifile, XYXY)",
    extensions=(".spc",),
    techniques=("raman", "other"),
)
def read_spc(path: str | os.PathLike, *, technique: str | None = None) -> xr.DataTree:
    """Read a Galactic ``.spc`` file.

    Parameters
    ----------
    path
        The ``.spc`` file.
    technique
        Override the technique (otherwise ``raman`` when the X unit is Raman shift or the
        experiment type is Raman/FT-Raman, else ``other``).
    """
    path = Path(path)
    buf = path.read_bytes()
    if len(buf) < 2:
        raise CorruptFileError(path, "file too short for an SPC header", offset=0)
    version = buf[1]
    if version == 0x4B:
        return _read_new(path, buf, technique)
    if version == 0x4D:
        return _read_old(path, buf, technique)
    if version == 0x4C:
        raise CorruptFileError(path, "big-endian (MSB, version 0x4C) SPC files are not supported", offset=1)
    raise CorruptFileError(path, f"unknown SPC version byte 0x{version:02X}", offset=1)


def _axis_for(path: Path, xtype: int, experiment: int, technique: str | None) -> tuple[str, float, str]:
    axis, scale = _XTYPE_AXIS.get(xtype, ("wavenumber", 1.0))
    if technique is None:
        technique = (
            "raman" if (xtype == 13 or experiment in (4, 10)) and axis in ("raman_shift", "wavenumber") else "other"
        )
        if xtype == 13:
            technique = "raman"
    if axis == "wavenumber" and technique == "raman" and experiment in (10,):
        axis = "raman_shift"
    return axis, scale, technique


def _read_new(path: Path, buf: bytes, technique: str | None) -> xr.DataTree:
    cur = _Cursor(path, buf, 0)
    fields = _NEW_HEADER.unpack(cur.take(512, "the 512-byte SPC header"))
    (
        flags, _ver, fexper, fexp, fnpts, ffirst, flast, fnsub, fxtype, fytype, fztype, fpost, fdate,
        fres, fsource, fpeakpt, _fspare, fcmnt, fcatxt, flogoff, fmods, fprocs, flevel, fsampin, ffactor,
        fmethod, fzinc, fwplanes, fwinc, fwtype, _reserv,
    ) = fields  # fmt: skip
    multi = bool(flags & TMULTI)
    xyxy = bool(flags & TXYXYS)
    nsub = fnsub if multi else 1
    if nsub < 1 or nsub > len(buf) // 32:
        raise CorruptFileError(path, f"implausible number of subfiles {fnsub}", offset=12)
    if not xyxy and (fnpts < 1 or fnpts * 4 > len(buf)):
        raise CorruptFileError(path, f"implausible number of points {fnpts}", offset=4)
    x_shared: np.ndarray | None = None
    if flags & TXVALS and not xyxy:
        x_shared = np.frombuffer(cur.take(4 * fnpts, "the X array"), "<f4").astype(float)
    elif not xyxy:
        x_shared = np.linspace(ffirst, flast, fnpts)
    axis, scale, technique = _axis_for(path, fxtype, fexper, technique)
    meta = {
        "flags": flags,
        "experiment": _EXPERIMENTS.get(fexper, fexper),
        "x_unit": _XTYPES.get(fxtype, (str(fxtype), ""))[0],
        "y_unit": _YTYPES.get(fytype, str(fytype)),
        "z_unit": _XTYPES.get(fztype, (str(fztype), ""))[0],
        "resolution": _text(fres),
        "source_instrument": _text(fsource),
        "comment": _text(fcmnt),
        "axis_labels": _text(fcatxt) if flags & TALABS else "",
        "method": _text(fmethod),
        "z_increment": fzinc,
        "subfiles": nsub,
        "log": _log_block(path, buf, flogoff),
        "post_disposition": fpost,
        "peak_point": fpeakpt,
        "modified_flags": fmods,
        "processing_code": fprocs,
        "calibration_level": flevel,
        "sub_method_sample_injection": fsampin,
        "floating_data_multiplier": ffactor,
        "w_planes": fwplanes,
        "w_increment": fwinc,
        "w_unit": _XTYPES.get(fwtype, (str(fwtype), ""))[0],
    }
    subs = []
    directory: list[int] = []
    if xyxy and fnpts > 0:
        # XYXY files with fnpts > 0 store a subfile directory at byte fnpts: (offset, size, z) per subfile
        if fnpts + 12 * nsub > len(buf):
            raise CorruptFileError(path, "the XYXY subfile directory lies beyond the end of the file", offset=fnpts)
        directory = [struct.unpack_from("<i", buf, fnpts + 12 * i)[0] for i in range(nsub)]
    for i in range(nsub):
        if directory:
            cur.pos = directory[i]
            if not 512 <= cur.pos < len(buf):
                raise CorruptFileError(
                    path, f"subfile {i + 1} offset {cur.pos} outside the file", offset=fnpts + 12 * i
                )
        sub_offset = cur.pos
        sflags, sexp, sindx, stime, snext, snois, snpts, sscan, swlevel, _resv = _SUBHEADER.unpack(
            cur.take(32, f"the header of subfile {i + 1}")
        )
        npts = snpts if xyxy else fnpts
        if xyxy and (npts < 1 or npts * 8 > len(buf)):
            raise CorruptFileError(path, f"subfile {i + 1}: implausible number of points {npts}", offset=sub_offset)
        x = (
            np.frombuffer(cur.take(4 * npts, f"the X values of subfile {i + 1}"), "<f4").astype(float)
            if xyxy
            else x_shared
        )
        exp = sexp if multi else fexp
        if exp != -128 and not (-128 < exp < 128):
            exp = fexp
        width = 2 if flags & TSPREC else 4
        y = _y_values(
            cur.take(width * npts, f"the Y values of subfile {i + 1}"), npts, exp, bool(flags & TSPREC), False
        )
        subs.append(
            (
                x,
                y,
                {
                    "z_start": stime,
                    "z_end": snext,
                    "index": sindx,
                    "scans": sscan,
                    "w_level": swlevel,
                    "flags": sflags,
                    "noise": snois,
                },
            )
        )
    acquired = _date(fdate)
    return _assemble(path, subs, axis, scale, technique, meta, acquired, multi, xyxy, "spc", fztype)


def _read_old(path: Path, buf: bytes, technique: str | None) -> xr.DataTree:
    cur = _Cursor(path, buf, 0)
    (
        flags, _ver, oexp, onpts, ofirst, olast, oxtype, oytype, oyear, omonth, oday, ohour, ominute,
        ores, _opeakpt, _onscans, _ospare, ocmnt, ocatxt,
    ) = _OLD_HEADER.unpack(cur.take(224, "the old-format SPC header"))  # fmt: skip
    npts = int(onpts)
    if npts < 1 or npts * 4 > len(buf) or npts != onpts:
        raise CorruptFileError(path, f"implausible number of points {onpts}", offset=4)
    x = np.linspace(ofirst, olast, npts)
    axis, scale, technique = _axis_for(path, oxtype, 0, technique)
    multi = bool(flags & TMULTI)
    subs = []
    i = 0
    # the old format does not store the number of subfiles: read them until the file ends
    # (bounded by the file size: each subfile consumes at least 32 + 4*npts bytes)
    while cur.pos < len(buf):
        sub_offset = cur.pos
        sflags, sexp, sindx, stime, snext, snois, _snpts, sscan, swlevel, _resv = _SUBHEADER.unpack(
            cur.take(32, f"the header of subfile {i + 1}")
        )
        exp = sexp if multi else oexp
        if not (-128 <= exp < 128):
            raise CorruptFileError(path, f"subfile {i + 1}: bad exponent {exp}", offset=sub_offset)
        width = 2 if flags & TSPREC else 4
        y = _y_values(cur.take(width * npts, f"the Y values of subfile {i + 1}"), npts, exp, bool(flags & TSPREC), True)
        subs.append(
            (
                x,
                y,
                {
                    "z_start": stime,
                    "z_end": snext,
                    "index": sindx,
                    "scans": sscan,
                    "w_level": swlevel,
                    "flags": sflags,
                    "noise": snois,
                },
            )
        )
        i += 1
        if not multi:
            break
    meta = {
        "flags": flags,
        "format": "old (0x4D)",
        "x_unit": _XTYPES.get(oxtype, (str(oxtype), ""))[0],
        "y_unit": _YTYPES.get(oytype, str(oytype)),
        "resolution": _text(ores),
        "comment": _text(ocmnt),
        "axis_labels": _text(ocatxt),
        "subfiles": len(subs),
    }
    acquired = None
    try:
        if oyear:
            acquired = datetime(oyear, omonth, oday, ohour, ominute).isoformat()
    except ValueError:
        acquired = None
    return _assemble(path, subs, axis, scale, technique, meta, acquired, multi, False, "spc", 0)


def _assemble(
    path: Path,
    subs: list,
    axis: str,
    scale: float,
    technique: str,
    meta: dict,
    acquired: str | None,
    multi: bool,
    xyxy: bool,
    fmt: str,
    ztype: int,
) -> xr.DataTree:
    if not xyxy:  # XYXY leaves carry their own subfile header instead
        meta = {**meta, "subfile_headers": [s[2] for s in subs]}
    attrs: dict = {"technique": technique, "source_format": fmt, "original_metadata": metadata_json(meta)}
    if meta.get("source_instrument"):
        attrs["instrument"] = meta["source_instrument"]
    if acquired:
        attrs["acquired_at"] = acquired
    attrs["x_unit"] = meta["x_unit"]
    attrs["y_unit"] = meta["y_unit"]
    units = "counts" if meta["y_unit"] == "counts" else "arb"
    children: dict[str, xr.DataTree] = {}
    taken: set[str] = set()
    if multi and not xyxy:
        # one leaf, the subfiles along `index` with their Z values as a coordinate
        y = np.vstack([s[1] for s in subs])
        z = np.array([s[2]["z_start"] for s in subs], dtype=float)
        ds = make_leaf(
            y, axis, subs[0][0] * scale, units=units, attrs=attrs, extra_dims={"index": np.arange(len(subs))}
        )
        z_unit = _XTYPES.get(ztype, ("", ""))
        ds = ds.assign_coords(subfile_z=("index", z, {"units": z_unit[1], "long_name": f"subfile Z ({z_unit[0]})"}))
        children[node_name(path.stem)] = xr.DataTree(ds)
    else:
        for i, (x, y, sub) in enumerate(subs):
            leaf_attrs = dict(attrs, subfile=i + 1, subfile_z=sub["z_start"])
            if xyxy:
                leaf_attrs["subfile_header"] = metadata_json(sub)
            ds = make_leaf(y, axis, x * scale, units=units, attrs=leaf_attrs)
            name = path.stem if len(subs) == 1 else f"subfile_{i + 1:03d}"
            children[node_name(name, taken)] = xr.DataTree(ds)
    return xr.DataTree(children=children, dataset=xr.Dataset(attrs={"source_format": fmt}))


@read_spc.sniffer
def _sniff(head: bytes, path: Path) -> float:
    # a ZIP archive (xlsx, rasx, brml ...) also has 'K' as its second byte
    if len(head) < 32 or head.startswith(b"PK\x03\x04"):
        return 0.0
    version = head[1]
    if version == 0x4B and len(head) >= 512:
        flags, _v, fexper, _exp, npts = struct.unpack_from("<BBBbi", head, 0)
        first, last = struct.unpack_from("<dd", head, 8)
        fxtype, fytype, fztype = head[28], head[29], head[30]
        if fexper not in _EXPERIMENTS or fxtype not in _XTYPES or fztype not in _XTYPES or fytype not in _YTYPES:
            return 0.0
        if not (np.isfinite(first) and np.isfinite(last)):
            return 0.0
        try:
            size = path.stat().st_size
        except OSError:
            return 0.0
        if flags & TXYXYS:
            plausible = 0 <= npts < size
        else:
            plausible = 0 < npts and 512 + 4 * npts <= size
        return 0.9 if plausible else 0.0
    if version == 0x4D and path.suffix.lower() == ".spc":
        return 0.8
    return 0.0
