"""ULVAC-PHI MultiPak / SmartSoft files: spectra (``.spe``) and sputter depth profiles (``.pro``).

Layout (worked out from the corpus files and checked against yadg's and pynxtools-xps's readings):
an ASCII header between ``SOFH`` and ``EOFH`` (CRLF or LF line ends) of ``Key: value`` lines, then
binary little-endian data. The binary part starts with four uint32 (group, number of traces,
size of the trace headers, size of this header = 16) and one 96-byte header per trace (24
uint32/char[4] fields): trace number, ..., number of points (field 6), number of cycles (field 7),
the axis/unit tags (``pnt``/``cyc``/``reg``, ``c/s``/``s``), the data type (``f4``/``f8``), the data
size in bytes (field 20) and its offset from the start of the binary part (field 21).
``SpectralRegDef`` header lines give each region's energy axis: number, number, name, atomic
number, points, step, start and end binding energy, ..., dwell time, pass energy.

A ``.pro`` file (``FileType: DEPTHPRO``) stores each region as cycles × points, plus two
(region × cycle) traces: the sputter time of each cycle (unit ``s``) and a per-cycle integrated
signal; they become an ``(etch_level, binding_energy)`` leaf per region with ``sputter_time`` as
the coordinate of ``etch_level``.

PHI ``.spe`` shares its extension with Princeton Instruments camera files: the sniffer looks for
``SOFH`` and the PHI keys, not at the extension.
"""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..conventions import node_name
from ..errors import CorruptFileError, UnknownFormatError
from ..xps.regions import normalize_region
from ._xpsutil import intensity_units, xps_leaf
from .registry import register

__all__ = ["read_phi"]

_TRACE_HEADER = 96
_DTYPES = {"f4": "<f4", "f8": "<f8", "i4": "<i4", "u4": "<u4", "i2": "<i2"}


def _split_header(raw: bytes, path) -> tuple[dict[str, list[str]], list[str], int]:
    """Return (key -> values, header lines, offset of the binary part)."""
    if not raw.startswith(b"SOFH"):
        raise UnknownFormatError(path, "not a PHI file (no SOFH at the start)", offset=0)
    end = raw.find(b"EOFH")
    if end < 0:
        raise CorruptFileError(path, "header end marker EOFH not found (truncated?)", offset=len(raw))
    nl = raw.find(b"\n", end)
    if nl < 0:
        raise CorruptFileError(path, "file ends right after EOFH", offset=end)
    text = raw[:end].decode("latin-1")
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    fields: dict[str, list[str]] = {}
    for line in lines[1:]:
        if ":" not in line:
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), []).append(value.strip())
    return fields, lines, nl + 1


def _region_defs(fields: dict[str, list[str]], path) -> list[dict[str, Any]]:
    regions = []
    for line in fields.get("SpectralRegDef", []):
        parts = line.split()
        try:
            regions.append(
                {
                    "number": int(parts[0]),
                    "name": parts[2],
                    "atomic_number": int(parts[3]),
                    "points": int(parts[4]),
                    "step": float(parts[5]),
                    "start": float(parts[6]),
                    "end": float(parts[7]),
                    "dwell_time_s": float(parts[10]),
                    "pass_energy_ev": float(parts[11]),
                    "definition": line,
                }
            )
        except (IndexError, ValueError):
            raise CorruptFileError(path, f"cannot parse SpectralRegDef {line!r}") from None
    return regions


def _traces(raw: bytes, base: int, path) -> list[dict[str, Any]]:
    if len(raw) < base + 16:
        raise CorruptFileError(path, "binary data header missing (truncated?)", offset=base)
    _group, ntraces, trace_bytes, header_bytes = struct.unpack_from("<4I", raw, base)
    if header_bytes != 16 or trace_bytes != ntraces * _TRACE_HEADER or ntraces > (len(raw) - base) // _TRACE_HEADER:
        raise CorruptFileError(
            path, f"implausible binary header ({ntraces} traces, {trace_bytes} header bytes)", offset=base
        )
    traces = []
    data_size = len(raw) - base
    for i in range(ntraces):
        off = base + 16 + i * _TRACE_HEADER
        words = struct.unpack_from("<24I", raw, off)
        tags = [raw[off + 4 * k : off + 4 * k + 4].split(b"\0")[0].decode("latin-1", "replace") for k in range(24)]
        dtype = _DTYPES.get(tags[18])
        if dtype is None:
            raise CorruptFileError(path, f"trace {i + 1}: unknown data type {tags[18]!r}", offset=off + 72)
        npts, ncyc, nbytes, start = words[5], words[6], words[19], words[20]
        itemsize = np.dtype(dtype).itemsize
        if npts * ncyc * itemsize != nbytes or start + nbytes > data_size:
            raise CorruptFileError(
                path,
                f"trace {i + 1}: {npts} x {ncyc} values of {itemsize} bytes do not fit its {nbytes} bytes "
                f"at offset {start} (file has {data_size} data bytes)",
                offset=off,
            )
        values = np.frombuffer(raw, dtype=dtype, count=npts * ncyc, offset=base + start).astype(float)
        traces.append(
            {
                "number": words[0],
                "region": words[3],
                "points": npts,
                "cycles": ncyc,
                "axis_tag": tags[8],
                "series_tag": tags[10],
                "unit": tags[14].strip(),
                "values": values,
            }
        )
    return traces


@register(
    name="phi",
    description="ULVAC-PHI MultiPak/SmartSoft spectra (.spe) and sputter depth profiles (.pro)",
    extensions=(".spe", ".pro"),
    techniques=("xps", "aes"),
)
def read_phi(path: str | os.PathLike, *, technique: str | None = None) -> xr.DataTree:
    """Read a PHI ``.spe`` spectrum file or ``.pro`` depth profile.

    Returns one leaf per spectral region on a binding-energy axis; for a depth profile each leaf
    is ``(etch_level, binding_energy)`` with the ``sputter_time`` of every level.
    """
    path = Path(path)
    raw = path.read_bytes()
    fields, lines, base = _split_header(raw, path)
    regions = _region_defs(fields, path)
    if not regions:
        raise CorruptFileError(path, "no SpectralRegDef line in the header")
    traces = _traces(raw, base, path)
    region_traces = [t for t in traces if t["axis_tag"] == "pnt"]
    if len(region_traces) != len(regions):
        raise CorruptFileError(
            path, f"header defines {len(regions)} regions but the data hold {len(region_traces)} spectra", offset=base
        )
    profile = fields.get("FileType", [""])[0].upper() == "DEPTHPRO"
    sputter_times = next((t for t in traces if t["axis_tag"] == "cyc" and t["unit"] == "s"), None)
    profile_signal = next((t for t in traces if t["axis_tag"] == "cyc" and t["unit"] != "s"), None)

    hv = None
    source = fields.get("XraySource", [""])[0]
    m = re.search(r"(\d+(?:\.\d+)?)", source)
    if m:
        hv = float(m.group(1))
    technique = technique or ("aes" if fields.get("Technique", ["XPS"])[0].upper().startswith("AES") else "xps")
    common = {
        "technique": technique,
        "source_format": "phi",
        "instrument": fields.get("InstrumentModel", [""])[0],
        "source_label": source,
        "analyser_mode": fields.get("AnalyserMode", [""])[0],
    }
    work_function = re.match(r"([-\d.]+)", fields.get("AnalyserWorkFcn", [""])[0])
    if work_function:
        common["work_function_ev"] = float(work_function.group(1))
    date = fields.get("AcqFileDate", fields.get("FileDate", [""]))[0].split()
    if len(date) == 3 and all(p.isdigit() for p in date):
        common["acquired_at"] = f"{int(date[0]):04d}-{int(date[1]):02d}-{int(date[2]):02d}"
    if hv is not None:
        common["excitation_energy_ev"] = hv

    children: dict[str, xr.DataTree] = {}
    taken: set[str] = set()
    for k, (reg, tr) in enumerate(zip(regions, region_traces)):
        if tr["points"] != reg["points"]:
            raise CorruptFileError(
                path, f"region {reg['name']}: header says {reg['points']} points, data {tr['points']}"
            )
        x = np.linspace(reg["start"], reg["end"], reg["points"])
        attrs = dict(
            common,
            region=normalize_region(reg["name"]),
            region_label=reg["name"],
            pass_energy_ev=reg["pass_energy_ev"],
            dwell_time_s=reg["dwell_time_s"],
            original_metadata={"region_definition": reg, "header": fields},
        )
        units = intensity_units(tr["unit"])
        if profile or tr["cycles"] > 1:
            data = tr["values"].reshape(tr["cycles"], tr["points"])
            # sputter cycles of a depth profile are etch levels; repeated cycles of a plain
            # spectrum file are just cycles
            series = "etch_level" if profile else "cycle"
            coords: dict[str, tuple] = {}
            if sputter_times is not None and sputter_times["cycles"] >= len(regions):
                per_region = sputter_times["values"].reshape(-1, sputter_times["points"])
                if per_region.shape[1] == tr["cycles"] and k < per_region.shape[0]:
                    coords["sputter_time"] = (
                        (series,),
                        per_region[k] + 0.0,
                        {"units": "s", "long_name": "Sputter time"},
                    )
            variables: dict[str, tuple] = {}
            if profile_signal is not None:
                per_region = profile_signal["values"].reshape(-1, profile_signal["points"])
                if per_region.shape[1] == tr["cycles"] and k < per_region.shape[0]:
                    variables["profile_signal"] = (
                        (series,),
                        per_region[k],
                        {"units": intensity_units(profile_signal["unit"]), "long_name": "PHI per-cycle region signal"},
                    )
            ds = xps_leaf(
                data,
                "binding_energy",
                x,
                excitation_energy=hv,
                units=units,
                attrs=attrs,
                extra_dims={series: np.arange(tr["cycles"])},
                coords=coords,
                variables=variables,
            )
        else:
            ds = xps_leaf(tr["values"], "binding_energy", x, excitation_energy=hv, units=units, attrs=attrs)
        children[node_name(reg["name"], taken)] = xr.DataTree(ds)
    root = {
        "source_format": "phi",
        "file_type": fields.get("FileType", [""])[0],
        "instrument": common["instrument"],
        "header": "\n".join(lines),
    }
    return xr.DataTree(children=children, dataset=xr.Dataset(attrs=root))


@read_phi.sniffer
def _sniff(head: bytes, path: Path) -> float:
    if head.startswith(b"SOFH") and (b"SpectralRegDef" in head or b"FileType" in head or b"EOFH" in head):
        return 1.0
    return 0.0
