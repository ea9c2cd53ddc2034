"""GSAS powder data files (``.gsa``, ``.gsas``, ``.fxye``, ``.xra``, ``.raw`` written by GSAS tools).

Layout (GSAS manual, "Powder data file"; also GSAS-II G2pwd_GSAS.py)::

    title line (80 characters)
    [Instrument parameter file:… | # comment lines]
    BANK ibank nchan nrec BINTYP bcoef1 bcoef2 bcoef3 bcoef4 TYPE
    data records

``BINTYP CONST`` (constant-wavelength, bcoef1/bcoef2 = start/step in centidegrees) is supported with the data
types ``STD`` (ten ``I2,F6.0`` fields per record: number of counters, intensity), ``ESD`` (five pairs
intensity, esd in ``F8.0`` fields) and ``FXYE``/``FXY`` (free-format lines 2θ [centidegrees], intensity
[, esd]; any BINTYP). Time-of-flight banks (``RALF``, ``SLOG``, ``TIME_MAP``) have no 2θ axis and are refused
with a clear error, as is the ``ALT`` record type (no example file to check it against).

The data file states no wavelength (GSAS keeps it in the instrument parameter file), so unless ``wavelength=`` is
given, the Cu Kα default is recorded with ``wavelength_assumed = 1``. The intensity uncertainty is kept as
``intensity_error``: the file's esd (ESD/FXYE) or, for STD, ``sqrt(I / ncounters)`` (counting statistics).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..conventions import node_name
from ..errors import CorruptFileError, ReadError
from ._xrd import finite_leaf, wavelength_attrs
from .registry import register
from .text import decode_text

__all__ = ["read_gsas"]

_BANK = re.compile(r"^BANK\s+(\d+)\s+(\d+)\s+(\d+)\s+(\w+)(.*)$")


def _parse_bank(
    line: str, lines: list[str], start: int, path: Path
) -> tuple[dict[str, Any], np.ndarray, np.ndarray, np.ndarray, int]:
    match = _BANK.match(line.strip())
    if not match:
        raise CorruptFileError(path, f"unreadable BANK line {line[:60]!r}", line=start)
    bank, nchan, nrec, bintyp = int(match[1]), int(match[2]), int(match[3]), match[4].upper()
    rest = match[5].split()
    data_type = "STD"
    if rest and not re.match(r"^[-+.\d]", rest[-1]):
        data_type = rest[-1].upper()
    coefs = [float(v) for v in rest if re.match(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$", v)]
    info = {
        "bank": bank,
        "points": nchan,
        "records": nrec,
        "bintyp": bintyp,
        "coefficients": coefs,
        "data_type": data_type,
    }
    if bintyp in ("RALF", "SLOG", "TIME_MAP"):
        raise ReadError(
            path, f"bank {bank} is time-of-flight ({bintyp}); only constant-wavelength 2θ data are read", line=start
        )
    if data_type == "ALT":
        raise ReadError(path, f"bank {bank}: the ALT record type is not supported", line=start)
    if nchan <= 0 or nrec <= 0:
        raise CorruptFileError(path, f"bank {bank}: {nchan} points in {nrec} records", line=start)
    end = start + nrec  # records follow the BANK line (line numbers are 1-based: line `start` is the BANK line)
    if end > len(lines):
        raise CorruptFileError(
            path, f"bank {bank} announces {nrec} records, file ends after {len(lines) - start}", line=len(lines)
        )
    records = lines[start:end]
    x = None
    if data_type == "STD":
        values, counters = [], []
        for number, rec in enumerate(records, start=start + 1):
            rec = rec.rstrip("\r\n")
            for k in range(0, len(rec.rstrip()), 8):
                field = rec[k : k + 8]
                if not field.strip():
                    continue
                try:
                    counters.append(int(field[:2]) if field[:2].strip() else 1)
                    values.append(float(field[2:]))
                except ValueError:
                    raise CorruptFileError(path, f"bad STD field {field!r}", line=number) from None
        y = np.asarray(values[:nchan])
        ncounters = np.maximum(np.asarray(counters[:nchan], dtype=float), 1)
        err = np.sqrt(np.clip(y, 0, None) / ncounters)
    elif data_type == "ESD":
        values = []
        for number, rec in enumerate(records, start=start + 1):
            rec = rec.rstrip("\r\n")
            try:
                values.extend(float(rec[k : k + 8]) for k in range(0, len(rec.rstrip()), 8) if rec[k : k + 8].strip())
            except ValueError:
                raise CorruptFileError(path, f"bad ESD record {rec[:40]!r}", line=number) from None
        pairs = np.asarray(values[: 2 * nchan])
        y, err = pairs[0::2], pairs[1::2]
    elif data_type in ("FXYE", "FXY"):
        width = 3 if data_type == "FXYE" else 2
        rows = []
        for number, rec in enumerate(records, start=start + 1):
            try:
                rows.append([float(v) for v in rec.split()[:width]])
            except ValueError:
                raise CorruptFileError(path, f"bad {data_type} record {rec[:40]!r}", line=number) from None
            if len(rows[-1]) != width:
                raise CorruptFileError(path, f"{data_type} record needs {width} values", line=number)
        table = np.asarray(rows)
        x, y = table[:, 0] / 100.0, table[:, 1]  # x in centidegrees
        # FXY states no esd: counting statistics, as for STD with one counter
        err = table[:, 2] if width == 3 else np.sqrt(np.clip(y, 0, None))
    else:
        raise ReadError(path, f"bank {bank}: unknown data type {data_type!r}", line=start)
    if y.size != nchan or err.size != nchan:
        raise CorruptFileError(path, f"bank {bank} announces {nchan} points, its records hold {y.size}", line=start)
    if x is None:
        if bintyp != "CONST" or len(coefs) < 2:
            raise ReadError(path, f"bank {bank}: BINTYP {bintyp} without a constant step is not supported", line=start)
        x = (coefs[0] + coefs[1] * np.arange(nchan)) / 100.0  # centidegrees -> degrees
        info["start_deg"], info["step_deg"] = coefs[0] / 100.0, coefs[1] / 100.0
    return info, x, y, err, end


@register(
    name="gsas",
    description="GSAS powder data (.gsa/.gsas/.fxye/.xra; CONST bins, STD/ESD/FXYE records)",
    extensions=(".gsa", ".gsas", ".fxye", ".xra", ".gss"),
    techniques=("xrd",),
)
def read_gsas(
    path: str | os.PathLike, *, technique: str | None = None, wavelength: float | dict | None = None
) -> xr.DataTree:
    """Read a GSAS powder data file (one leaf per bank).

    Parameters
    ----------
    path
        The file.
    technique
        ``"xrd"`` or ``None``.
    wavelength
        The wavelength (the data file does not state it; the Cu Kα default is assumed otherwise).
    """
    path = Path(path)
    lines = decode_text(path.read_bytes(), path).splitlines()
    if not lines:
        raise CorruptFileError(path, "empty file", line=1)
    title = lines[0].strip()
    comments: list[str] = []
    instrument_file = ""
    children: dict[str, xr.DataTree] = {}
    taken: set[str] = set()
    i = 1
    while i < len(lines):
        line = lines[i]
        i += 1
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.upper().startswith("BANK"):
            info, x, y, err, i = _parse_bank(line, lines, i, path)
            attrs: dict[str, Any] = {
                "technique": "xrd",
                "source_format": "gsas",
                "title": title,
                "bank": info["bank"],
                "original_metadata": {
                    "title": title,
                    "comments": comments,
                    "bank": info,
                    "instrument_parameter_file": instrument_file,
                },
                **wavelength_attrs(override=wavelength),
            }
            if "step_deg" in info:
                attrs["step_deg"] = info["step_deg"]
            ds = finite_leaf(path, y, x, units="counts", attrs=attrs)
            ds["intensity_error"] = ("two_theta", err, {"units": "counts"})
            children[node_name(f"bank_{info['bank']}", taken)] = xr.DataTree(ds)
            continue
        if stripped.lower().startswith("instrument parameter"):
            instrument_file = stripped.split(":", 1)[-1].strip()
        elif children:
            raise CorruptFileError(path, f"unexpected line after a bank: {stripped[:40]!r}", line=i)
        comments.append(stripped.lstrip("#").strip())
    if not children:
        raise CorruptFileError(path, "no BANK line found")
    return xr.DataTree(children=children, dataset=xr.Dataset(attrs={"source_format": "gsas", "title": title}))


@read_gsas.sniffer
def _sniff(head: bytes, path: Path) -> float:
    text = head.decode("latin-1").splitlines()
    for line in text[1:12]:
        if _BANK.match(line.strip()):
            return 0.95
    return 0.0
