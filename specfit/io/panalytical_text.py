"""Text exports of diffractometer software that carry a header: PANalytical CSV and Bruker EVA ``.xy``.

PANalytical (X'Pert HighScore / Data Viewer) ``.csv``
    ``[Measurement conditions]`` followed by ``key,value`` lines (anode, K-Alpha1/2 wavelengths and ratio,
    generator voltage/current, scan axis/range/step, number of points, scan type, time per step), then
    ``[Scan points]`` with a header line (``Angle,Intensity`` and optionally ``ESD``) and the rows.
Bruker DIFFRAC.EVA ``.xy``
    A first line starting with ``'`` holding ``Key: "value"`` pairs (``Anode``, ``Scantype``, ``TimePerStep``
    …) followed by whitespace-separated angle/intensity rows.

Plain headerless columns (PANalytical or Rigaku ``.xy``/``.txt``) are read by the generic text reader with
``technique="xrd"``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..conventions import node_name
from ..errors import CorruptFileError, UnknownFormatError
from ._xrd import finite_leaf, iso_datetime, to_float, wavelength_attrs
from .registry import register
from .text import decode_text, parse_columns

__all__ = ["read_bruker_xy", "read_panalytical_csv"]


def _split_csv(line: str) -> list[str]:
    """Split one ``key,value[,value]`` line, honouring double quotes."""
    parts, field, quoted = [], [], False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            parts.append("".join(field).strip())
            field = []
        else:
            field.append(ch)
    parts.append("".join(field).strip())
    return parts


@register(
    name="panalytical_csv",
    description="PANalytical HighScore/Data Viewer CSV export ([Measurement conditions] + [Scan points])",
    extensions=(".csv",),
    techniques=("xrd",),
)
def read_panalytical_csv(
    path: str | os.PathLike, *, technique: str | None = None, wavelength: float | dict | None = None
) -> xr.DataTree:
    """Read a PANalytical CSV export.

    Parameters
    ----------
    path
        The file.
    technique
        ``"xrd"`` or ``None``.
    wavelength
        Override the wavelengths in the header.
    """
    path = Path(path)
    lines = decode_text(path.read_bytes(), path).splitlines()
    try:
        points_at = next(i for i, line in enumerate(lines) if line.strip().lower().startswith("[scan points]"))
    except StopIteration:
        raise CorruptFileError(path, "no [Scan points] section (file truncated?)", line=len(lines)) from None
    header: dict[str, Any] = {}
    for line in lines[:points_at]:
        if not line.strip() or line.strip().startswith("["):
            continue
        key, *values = _split_csv(line)
        header[key] = values[0] if len(values) == 1 else values
    if points_at + 1 >= len(lines):
        raise CorruptFileError(path, "[Scan points] section is empty", line=points_at + 1)
    labels = _split_csv(lines[points_at + 1])
    rows = []
    for number, line in enumerate(lines[points_at + 2 :], start=points_at + 3):
        if not line.strip():
            continue
        parts = _split_csv(line)
        if len(parts) != len(labels):
            raise CorruptFileError(path, f"row has {len(parts)} columns, expected {len(labels)}", line=number)
        try:
            rows.append([float(p) for p in parts])
        except ValueError:
            raise CorruptFileError(path, f"non-numeric row {line[:40]!r}", line=number) from None
    if len(rows) < 2:
        raise CorruptFileError(path, "fewer than 2 scan points", line=points_at + 2)
    data = np.asarray(rows)
    expected = to_float(header.get("No. of points"))
    if expected is not None and int(expected) != data.shape[0]:
        raise CorruptFileError(path, f"header announces {int(expected)} points, the file holds {data.shape[0]}")
    attrs: dict[str, Any] = {
        "technique": "xrd",
        "source_format": "panalytical_csv",
        "scan_axis": str(header.get("Scan axis", "")),
        "scan_mode": str(header.get("Scan type", "")),
        "sample": str(header.get("Sample identification", "")),
        "original_metadata": {"header": header, "columns": labels},
    }
    for key, attr in (
        ("Scan step size", "step_deg"),
        ("Time per step", "counting_time_s"),
        ("Generator voltage", "voltage_kv"),
        ("Tube current", "current_ma"),
    ):
        if (value := to_float(header.get(key) if isinstance(header.get(key), str) else None)) is not None:
            attrs[attr] = value
    attrs.update(
        wavelength_attrs(
            kalpha1=to_float(header.get("K-Alpha1 wavelength")),
            kalpha2=to_float(header.get("K-Alpha2 wavelength")),
            ratio=to_float(header.get("Ratio K-Alpha2/K-Alpha1")),
            anode=header.get("Anode material") if isinstance(header.get("Anode material"), str) else None,
            override=wavelength,
        )
    )
    # PANalytical writes e.g. "20/May/2021 15:55" (local time, no zone)
    stamp = header.get("File date and time")
    attrs.update(iso_datetime(stamp if isinstance(stamp, str) else None, ("%d/%b/%Y %H:%M",)))
    units = "counts/s" if any("cps" in lab.lower() or "counts/s" in lab.lower() for lab in labels[1:]) else "counts"
    ds = finite_leaf(path, data[:, 1], data[:, 0], units=units, attrs=attrs, axis_attrs={"label": labels[0]})
    if len(labels) > 2 and "esd" in labels[2].lower():
        ds["intensity_error"] = ("two_theta", data[:, 2], {"units": units})
    return xr.DataTree(
        children={node_name(path.stem): xr.DataTree(ds)},
        dataset=xr.Dataset(attrs={"source_format": "panalytical_csv"}),
    )


@read_panalytical_csv.sniffer
def _sniff_csv(head: bytes, path: Path) -> float:
    start = head.lstrip(b"\xef\xbb\xbf").lstrip()
    return 1.0 if start.startswith(b"[Measurement conditions]") else 0.0


_EVA_PAIR = re.compile(r'(\w+):\s*"([^"]*)"')


@register(
    name="bruker_xy",
    description='Bruker DIFFRAC.EVA .xy export (quoted key: "value" header line, angle/intensity rows)',
    extensions=(".xy",),
    techniques=("xrd",),
)
def read_bruker_xy(
    path: str | os.PathLike, *, technique: str | None = None, wavelength: float | dict | None = None
) -> xr.DataTree:
    """Read a Bruker EVA ``.xy`` export with its metadata line.

    Parameters
    ----------
    path
        The file.
    technique
        ``"xrd"`` or ``None``.
    wavelength
        The wavelength (the export names only the anode; Cu Kα default otherwise).
    """
    path = Path(path)
    text = decode_text(path.read_bytes(), path)
    first, _, rest = text.partition("\n")
    if not first.startswith("'"):
        raise UnknownFormatError(path, "no quoted EVA metadata line", line=1)
    meta = dict(_EVA_PAIR.findall(first))
    table = parse_columns(rest, path)
    if table.data.shape[1] != 2:
        raise CorruptFileError(path, f"expected 2 columns, found {table.data.shape[1]}", line=table.first_data_line + 1)
    anode = meta.get("Anode") or None
    attrs: dict[str, Any] = {
        "technique": "xrd",
        "source_format": "bruker_xy",
        "scan_axis": meta.get("Scantype", ""),
        "sample": meta.get("Id", ""),
        "original_metadata": {"header": meta, "header_line": first.strip()},
    }
    if (t := to_float(meta.get("TimePerStep"))) is not None:
        attrs["counting_time_s"] = t
    x = table.data[:, 0]
    attrs["step_deg"] = float((x[-1] - x[0]) / (x.size - 1))
    # the export names the anode only; the wavelengths are the default Cu values when the anode is Cu
    wl = wavelength_attrs(override=wavelength)
    if anode and anode != "Cu" and wavelength is None:
        wl["wavelength_source"] = f"default Cu Kα although the file names anode {anode}: pass wavelength="
    wl["anode"] = anode or wl.get("anode", "")
    attrs.update(wl)
    y = table.data[:, 1]
    units = "counts"
    # EVA exports count rates: the values times TimePerStep are whole counts (102/28.8 = 3.5416667 …)
    if t and not np.allclose(y, np.round(y)) and np.allclose(y * t, np.round(y * t), rtol=0, atol=1e-3):
        units = "counts/s"
    ds = finite_leaf(path, y, x, units=units, attrs=attrs)
    return xr.DataTree(
        children={node_name(path.stem): xr.DataTree(ds)}, dataset=xr.Dataset(attrs={"source_format": "bruker_xy"})
    )


@read_bruker_xy.sniffer
def _sniff_xy(head: bytes, path: Path) -> float:
    first = head.split(b"\n", 1)[0]
    return 0.9 if first.startswith(b"'") and len(_EVA_PAIR.findall(first.decode("latin-1"))) >= 2 else 0.0
