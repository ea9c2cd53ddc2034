"""Bruker/Siemens DIFFRAC ``.uxd`` text (the text twin of the binary ``.raw``).

``_KEY=value`` lines (file header, then per range), ``;`` comment lines, and per range a data marker that says
what follows: ``_2THETACOUNTS`` / ``_2THETACPS`` (pairs angle, value) or ``_COUNTS`` / ``_CPS`` (values only,
several per line, the angle from ``_START`` and ``_STEPSIZE``). Every range becomes one leaf.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..conventions import node_name
from ..errors import CorruptFileError
from ._xrd import finite_leaf, iso_datetime, to_float, wavelength_attrs
from .registry import register
from .text import decode_text

__all__ = ["read_uxd"]

_MARKERS = {
    "_2THETACOUNTS": (True, "counts"),
    "_2THETACPS": (True, "counts/s"),
    "_COUNTS": (False, "counts"),
    "_CPS": (False, "counts/s"),
    "_2THETA_COUNTS": (True, "counts"),
    "_2THETA_CPS": (True, "counts/s"),
}


@register(
    name="bruker_uxd",
    description="Bruker/Siemens DIFFRAC .uxd text (one or more ranges)",
    extensions=(".uxd",),
    techniques=("xrd",),
)
def read_uxd(
    path: str | os.PathLike, *, technique: str | None = None, wavelength: float | dict | None = None
) -> xr.DataTree:
    """Read a Bruker ``.uxd`` file.

    Parameters
    ----------
    path
        The file.
    technique
        ``"xrd"`` or ``None``.
    wavelength
        Override the ``_WL1``/``_WL2``/``_WLRATIO`` the file states.
    """
    path = Path(path)
    lines = decode_text(path.read_bytes(), path).splitlines()
    file_header: dict[str, str] = {}
    comments: list[str] = []
    ranges: list[dict[str, Any]] = []
    current: dict[str, str] = file_header
    data: list[float] | None = None
    paired = False
    units = "counts"
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith(";"):
            comments.append(line[1:].strip())
            if "range number" in line.lower() and data is None and current is file_header:
                current = {}
            continue
        if line.startswith("_"):
            key, sep, value = line.partition("=")
            key = key.strip().upper()
            if not sep and key in _MARKERS:
                paired, units = _MARKERS[key]
                data = []
                ranges.append({"header": current, "data": data, "paired": paired, "units": units, "line": number})
                current = {}
                continue
            if data is not None:  # a key after data starts the next range
                data = None
            current[key[1:]] = value.strip().strip("'")
            continue
        if data is None:
            raise CorruptFileError(
                path, f"numbers before a data marker (_2THETACOUNTS, _COUNTS …): {line[:40]!r}", line=number
            )
        try:
            values = [float(v) for v in line.replace(",", " ").split()]
        except ValueError:
            raise CorruptFileError(path, f"non-numeric data {line[:40]!r}", line=number) from None
        if paired and len(values) != 2:
            raise CorruptFileError(path, f"expected 2 values (angle, intensity), found {len(values)}", line=number)
        data.extend(values)
    if not ranges:
        raise CorruptFileError(path, "no data marker (_2THETACOUNTS, _COUNTS, …) found")
    children: dict[str, xr.DataTree] = {}
    taken: set[str] = set()
    for r_no, rng in enumerate(ranges, start=1):
        header = rng["header"]
        values = np.asarray(rng["data"], dtype=float)
        if rng["paired"]:
            x, y = values[0::2], values[1::2]
        else:
            start, step = to_float(header.get("START")), to_float(header.get("STEPSIZE"))
            if start is None or step is None:
                raise CorruptFileError(path, "range without _START/_STEPSIZE for its counts", line=rng["line"])
            y = values
            x = start + step * np.arange(y.size)
        if y.size < 2:
            raise CorruptFileError(path, f"range {r_no} holds fewer than 2 points", line=rng["line"])
        step = to_float(header.get("STEPSIZE"))
        attrs: dict[str, Any] = {
            "technique": "xrd",
            "source_format": "bruker_uxd",
            "sample": file_header.get("SAMPLE", ""),
            **iso_datetime(file_header.get("DATEMEASURED"), ("%d-%b-%Y %H:%M:%S",)),  # "04-Mar-2010 20:59:14"
            "scan_axis": header.get("DRIVE", ""),
            "scan_mode": {"C": "continuous", "S": "step"}.get(header.get("STEPMODE", ""), header.get("STEPMODE", "")),
            "original_metadata": {"file": file_header, "range": header, "comments": comments},
        }
        if step is not None:
            attrs["step_deg"] = step
        if (t := to_float(header.get("STEPTIME"))) is not None:
            attrs["counting_time_s"] = t
        if (kv := to_float(header.get("KV"))) is not None:
            attrs["voltage_kv"] = kv
        if (ma := to_float(header.get("MA"))) is not None:
            attrs["current_ma"] = ma
        attrs.update(
            wavelength_attrs(
                kalpha1=to_float(file_header.get("WL1")),
                kalpha2=to_float(file_header.get("WL2")),
                kbeta=to_float(file_header.get("WL3")),
                ratio=to_float(file_header.get("WLRATIO")),
                anode=file_header.get("ANODE"),
                override=wavelength,
            )
        )
        ds = finite_leaf(path, y, x, units=rng["units"], attrs=attrs)
        children[node_name(path.stem if len(ranges) == 1 else f"range_{r_no}", taken)] = xr.DataTree(ds)
    return xr.DataTree(children=children, dataset=xr.Dataset(attrs={"source_format": "bruker_uxd"}))


@read_uxd.sniffer
def _sniff(head: bytes, path: Path) -> float:
    text = head.decode("latin-1")
    keys = sum(1 for line in text.splitlines() if line.startswith("_") and "=" in line)
    if "_FILEVERSION" in text and keys >= 3:
        return 0.95
    if keys >= 5 and any(m in text for m in _MARKERS):
        return 0.8
    return 0.0
