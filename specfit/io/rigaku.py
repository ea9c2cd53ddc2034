"""Rigaku diffractometer files: SmartLab ``.ras`` (text), ``.rasx`` (zip) and the older ``.asc`` text.

``.ras`` (SmartLab Guidance)
    One or more blocks ``*RAS_DATA_START … *RAS_DATA_END``, each with a header of ``*KEY "value"`` lines
    between ``*RAS_HEADER_START``/``*RAS_HEADER_END`` and data rows ``angle counts attenuation`` between
    ``*RAS_INT_START``/``*RAS_INT_END``. The header is Shift-JIS (Japanese and English names joined by ``|``);
    CRLF and LF line ends read identically.
``.rasx`` (SmartLab Studio II)
    A zip with ``root.xml`` and, per measurement ``i`` and profile ``j``, ``Data{i}/Profile{j}.txt`` (tab
    separated ``angle intensity attenuation``) and ``Data{i}/MesurementConditions{j}.xml`` (sic), whose
    ``ScanInformation`` and ``HWConfigurations/XrayGenerator`` give scan and source.
``.asc`` (RINT / SmartLab ASCII)
    ``*KEY = value`` header lines; each group ``*BEGIN … *END`` holds ``*START``, ``*STEP``, ``*COUNT`` and the
    counts, comma separated, several per line.

In every case specfit's ``intensity`` is the recorded value times the attenuation factor (the count rate the
detector would have seen without the attenuator); the raw values and the factors are kept as the data
variables ``counts_raw`` and ``attenuation_factor`` when any factor differs from 1.

Rigaku's plain two-column ``.txt`` exports carry no header; they are read by the generic text reader
(``specfit.read(path, technique="xrd")``), which adds the default wavelength.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..conventions import node_name
from ..errors import CorruptFileError, ReadError, UnknownFormatError
from ._xrd import (
    finite_leaf,
    iso_datetime,
    open_zip_safely,
    parse_xml_safely,
    read_zip_member,
    to_float,
    wavelength_attrs,
)
from .registry import register

__all__ = ["read_asc", "read_ras", "read_rasx"]

_SCAN_AXIS_ALIASES = {"2-theta": "TwoTheta", "theta/2-theta": "TwoThetaTheta", "2-theta/omega": "TwoThetaOmega"}
_TWO_THETA_AXES = {
    "twotheta",
    "twothetatheta",
    "twothetaomega",
    "2-theta",
    "theta/2-theta",
    "2theta/theta",
    "2-theta/omega",
    "2theta",
    "2theta/omega",
    "theta/2theta",
}


def _decode(raw: bytes) -> str:
    # Rigaku writes Japanese names in Shift-JIS (cp932); latin-1 is a lossless fallback for anything else.
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def _counting_time(step: float | None, speed: float | None, unit: str) -> float | None:
    """Seconds per point from Rigaku's scan speed (deg/min for continuous scans, s/step for step scans)."""
    if step is None or speed is None or speed <= 0:
        return None
    unit = unit.lower()
    if "deg/min" in unit or "°/min" in unit:
        return abs(step) / speed * 60.0
    if "sec" in unit or unit in ("s", "s/step"):
        return speed
    return None


def _leaf_from_columns(
    path: Path,
    angle: np.ndarray,
    counts: np.ndarray,
    attenuation: np.ndarray | None,
    attrs: dict[str, Any],
    units: str,
) -> xr.Dataset:
    intensity = counts if attenuation is None else counts * attenuation
    ds = finite_leaf(path, intensity, angle, units=units, attrs=attrs)
    if attenuation is not None and not np.all(attenuation == 1):
        ds["counts_raw"] = ("two_theta", counts, {"units": units, "long_name": "recorded (attenuated) counts"})
        ds["attenuation_factor"] = ("two_theta", attenuation, {"units": "1"})
    return ds


def _units(unit: str | None) -> str:
    unit = (unit or "counts").strip().lower()
    return "counts/s" if unit in ("cps", "counts/s", "counts per second") else "counts"


def _check_axis(path: Path, axis: str) -> None:
    if axis and axis.replace(" ", "").lower() not in _TWO_THETA_AXES:
        raise ReadError(
            path, f"scan axis {axis!r} is not a 2θ scan; only 2θ, θ/2θ and 2θ/ω scans have a conventional axis"
        )


# --------------------------------------------------------------------------------------------------- .ras


def _parse_ras_block(lines: list[str], first_line: int, path: Path) -> tuple[dict[str, str], np.ndarray, int]:
    """Parse one block starting after ``*RAS_DATA_START``; returns header, data rows and the next line index."""
    header: dict[str, str] = {}
    rows: list[list[float]] = []
    i = first_line
    in_data = False
    ncols = None
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line:
            continue
        if line.startswith("*"):
            key, _, value = line.partition(" ")
            if key == "*RAS_DATA_END":
                break
            if key == "*RAS_INT_START":
                in_data = True
            elif key == "*RAS_INT_END":
                in_data = False
            elif not in_data and key not in ("*RAS_HEADER_START", "*RAS_HEADER_END"):
                header[key[1:]] = value.strip().strip('"')
            continue
        if not in_data:
            raise CorruptFileError(path, f"unexpected line outside header and data: {line[:40]!r}", line=i)
        parts = line.split()
        if ncols is None:
            ncols = len(parts)
            if ncols < 2:
                raise CorruptFileError(path, "data row has fewer than 2 columns", line=i)
        if len(parts) != ncols:
            raise CorruptFileError(path, f"data row has {len(parts)} columns, expected {ncols}", line=i)
        try:
            rows.append([float(p) for p in parts])
        except ValueError:
            raise CorruptFileError(path, f"non-numeric data row {line[:40]!r}", line=i) from None
    else:
        raise CorruptFileError(path, "block has no *RAS_DATA_END (file truncated?)", line=len(lines))
    if in_data:
        raise CorruptFileError(path, "data section has no *RAS_INT_END (file truncated?)", line=i)
    if len(rows) < 2:
        raise CorruptFileError(path, "block holds fewer than 2 data rows", line=i)
    return header, np.asarray(rows, dtype=float), i


@register(
    name="rigaku_ras",
    description="Rigaku SmartLab .ras text (one or more scans; Shift-JIS header)",
    extensions=(".ras",),
    techniques=("xrd",),
)
def read_ras(
    path: str | os.PathLike, *, technique: str | None = None, wavelength: float | dict | None = None
) -> xr.DataTree:
    """Read a Rigaku ``.ras`` file (one leaf per ``*RAS_DATA_START`` block).

    Parameters
    ----------
    path
        The file.
    technique
        ``"xrd"`` or ``None``.
    wavelength
        Override the wavelengths in the header (see :func:`specfit.io._xrd.wavelength_attrs`).
    """
    path = Path(path)
    lines = _decode(path.read_bytes()).splitlines()
    blocks: list[xr.Dataset] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == "*RAS_DATA_START":
            header, data, i = _parse_ras_block(lines, i + 1, path)
            blocks.append(_ras_leaf(header, data, path, wavelength))
            continue
        if lines[i].strip() and not blocks:
            raise UnknownFormatError(path, "does not start with *RAS_DATA_START", line=i + 1)
        i += 1
    if not blocks:
        raise CorruptFileError(path, "no *RAS_DATA_START block")
    children = {
        (path.stem if len(blocks) == 1 else f"{path.stem}_{n}"): xr.DataTree(ds) for n, ds in enumerate(blocks, 1)
    }
    return xr.DataTree(children=children, dataset=xr.Dataset(attrs={"source_format": "rigaku_ras"}))


def _ras_leaf(header: dict[str, str], data: np.ndarray, path: Path, wavelength) -> xr.Dataset:
    axis_name = header.get("MEAS_SCAN_AXIS_X_INTERNAL") or header.get("MEAS_SCAN_AXIS_X", "")
    _check_axis(path, axis_name)
    step = to_float(header.get("MEAS_SCAN_STEP"))
    speed = to_float(header.get("MEAS_SCAN_SPEED"))
    attrs: dict[str, Any] = {
        "technique": "xrd",
        "source_format": "rigaku_ras",
        "instrument": header.get("HW_GONIOMETER_NAME", "").split("|")[-1],
        "sample": header.get("FILE_SAMPLE", ""),
        "scan_axis": axis_name,
        "scan_mode": header.get("MEAS_SCAN_MODE", ""),
        # "11/01/12 12:55:51": the day/month order is not documented, so the text is kept as it is
        **iso_datetime(header.get("MEAS_SCAN_START_TIME"), ()),
        "original_metadata": header,
    }
    if step is not None:
        attrs["step_deg"] = step
    if (t := _counting_time(step, speed, header.get("MEAS_SCAN_SPEED_UNIT", ""))) is not None:
        attrs["counting_time_s"] = t
    if (kv := to_float(header.get("MEAS_COND_XG_VOLTAGE"))) is not None:
        attrs["voltage_kv"] = kv
    if (ma := to_float(header.get("MEAS_COND_XG_CURRENT"))) is not None:
        attrs["current_ma"] = ma
    attrs.update(
        wavelength_attrs(
            kalpha1=to_float(header.get("HW_XG_WAVE_LENGTH_ALPHA1")),
            kalpha2=to_float(header.get("HW_XG_WAVE_LENGTH_ALPHA2")),
            kbeta=to_float(header.get("HW_XG_WAVE_LENGTH_BETA")),
            anode=header.get("HW_XG_TARGET_NAME"),
            override=wavelength,
        )
    )
    expected = to_float(header.get("MEAS_DATA_COUNT"))
    if expected is not None and int(expected) != data.shape[0]:
        raise CorruptFileError(path, f"header announces {int(expected)} points, the data hold {data.shape[0]}")
    attenuation = data[:, 2] if data.shape[1] > 2 else None
    return _leaf_from_columns(path, data[:, 0], data[:, 1], attenuation, attrs, _units(header.get("MEAS_SCAN_UNIT_Y")))


@read_ras.sniffer
def _sniff_ras(head: bytes, path: Path) -> float:
    return 1.0 if head.lstrip(b"\xef\xbb\xbf").lstrip().startswith(b"*RAS_DATA_START") else 0.0


# -------------------------------------------------------------------------------------------------- .rasx


def _rasx_conditions(root) -> dict[str, Any]:
    def text(path: str) -> str | None:
        el = root.find(path)
        return el.text.strip() if el is not None and el.text else None

    scan = {el.tag: (el.text or "").strip() for el in (root.find("ScanInformation") or [])}
    xg = {el.tag: (el.text or "").strip() for el in (root.find("HWConfigurations/XrayGenerator") or [])}
    general = {el.tag: (el.text or "").strip() for el in (root.find("GeneralInformation") or [])}
    ras_header = {}
    for pair in root.findall("RASHeader/Pair"):
        items = pair.findall("string")
        if len(items) == 2:
            ras_header[(items[0].text or "").lstrip("*")] = items[1].text or ""
    return {
        "scan": scan,
        "xray_generator": xg,
        "general": general,
        "ras_header": ras_header,
        "sample_name": text("GeneralInformation/SampleName"),
    }


@register(
    name="rigaku_rasx",
    description="Rigaku SmartLab Studio .rasx (zip of profile text and measurement-condition XML)",
    extensions=(".rasx",),
    techniques=("xrd",),
)
def read_rasx(
    path: str | os.PathLike, *, technique: str | None = None, wavelength: float | dict | None = None
) -> xr.DataTree:
    """Read a Rigaku ``.rasx`` container (one leaf per profile).

    Parameters
    ----------
    path
        The file.
    technique
        ``"xrd"`` or ``None``.
    wavelength
        Override the wavelengths in the measurement conditions.
    """
    path = Path(path)
    children: dict[str, xr.DataTree] = {}
    taken: set[str] = set()
    with open_zip_safely(path) as archive:
        names = archive.namelist()
        profiles = sorted(n for n in names if re.fullmatch(r"Data\d+/Profile\d+\.txt", n))
        if not profiles:
            raise CorruptFileError(path, "rasx container holds no Data*/Profile*.txt")
        for member in profiles:
            folder, file = member.split("/")
            index = file[len("Profile") : -len(".txt")]
            cond_name = f"{folder}/MesurementConditions{index}.xml"
            if cond_name not in names:
                cond_name = f"{folder}/MeasurementConditions{index}.xml"
            conditions: dict[str, Any] = {}
            if cond_name in names:
                cond_root = parse_xml_safely(read_zip_member(archive, cond_name, path), path, cond_name)
                conditions = _rasx_conditions(cond_root)
            text = _decode(read_zip_member(archive, member, path))
            rows = []
            for number, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    rows.append([float(v) for v in line.split()])
                except ValueError:
                    raise CorruptFileError(path, f"{member}: non-numeric row {line[:40]!r}", line=number) from None
                if len(rows[-1]) != len(rows[0]) or len(rows[0]) < 2:
                    raise CorruptFileError(path, f"{member}: ragged row ({len(rows[-1])} columns)", line=number)
            if len(rows) < 2:
                raise CorruptFileError(path, f"{member} holds fewer than 2 data rows")
            data = np.asarray(rows)
            scan = conditions.get("scan", {})
            xg = conditions.get("xray_generator", {})
            _check_axis(path, scan.get("AxisName", ""))
            expected = to_float(scan.get("DataCount"))
            if expected is not None and int(expected) != data.shape[0]:
                raise CorruptFileError(
                    path, f"{member}: conditions announce {int(expected)} points, the profile holds {data.shape[0]}"
                )
            step = to_float(scan.get("Step"))
            attrs: dict[str, Any] = {
                "technique": "xrd",
                "source_format": "rigaku_rasx",
                "instrument": conditions.get("general", {}).get("SystemName", ""),
                "sample": conditions.get("sample_name") or "",
                "scan_axis": scan.get("AxisName", ""),
                "scan_mode": scan.get("Mode", ""),
                "acquired_at": scan.get("StartTime", ""),
                "original_metadata": {k: v for k, v in conditions.items() if k != "sample_name"},
            }
            if step is not None:
                attrs["step_deg"] = step
            t = _counting_time(step, to_float(scan.get("Speed")), scan.get("SpeedUnit", ""))
            if t is not None:
                attrs["counting_time_s"] = t
            if (kv := to_float(xg.get("Voltage"))) is not None:
                attrs["voltage_kv"] = kv
            if (ma := to_float(xg.get("Current"))) is not None:
                attrs["current_ma"] = ma
            attrs.update(
                wavelength_attrs(
                    kalpha1=to_float(xg.get("WavelengthKalpha1")),
                    kalpha2=to_float(xg.get("WavelengthKalpha2")),
                    kbeta=to_float(xg.get("WavelengthKbeta")),
                    anode=xg.get("TargetName"),
                    override=wavelength,
                )
            )
            attenuation = data[:, 2] if data.shape[1] > 2 else None
            ds = _leaf_from_columns(path, data[:, 0], data[:, 1], attenuation, attrs, _units(scan.get("IntensityUnit")))
            name = path.stem if len(profiles) == 1 else f"{folder}_profile{index}"
            children[node_name(name, taken)] = xr.DataTree(ds)
    return xr.DataTree(children=children, dataset=xr.Dataset(attrs={"source_format": "rigaku_rasx"}))


@read_rasx.sniffer
def _sniff_rasx(head: bytes, path: Path) -> float:
    if not head.startswith(b"PK\x03\x04"):
        return 0.0
    if b"MesurementConditions" in head or re.search(rb"Data\d+/Profile\d+\.txt", head):
        return 1.0
    return 0.3 if path.suffix.lower() == ".rasx" else 0.0


# --------------------------------------------------------------------------------------------------- .asc

_ASC_LINE = re.compile(r"^\*(\w+)\s*=\s*(.*)$")


@register(
    name="rigaku_asc",
    description="Rigaku RINT/SmartLab ASCII .asc (*KEY = value header, grouped counts)",
    extensions=(".asc",),
    techniques=("xrd",),
)
def read_asc(
    path: str | os.PathLike, *, technique: str | None = None, wavelength: float | dict | None = None
) -> xr.DataTree:
    """Read a Rigaku ``.asc`` file (one leaf per ``*BEGIN … *END`` group).

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
    lines = _decode(path.read_bytes()).splitlines()
    file_header: list[tuple[str, str]] = []
    groups: list[tuple[list[tuple[str, str]], list[float], int]] = []
    current: list[tuple[str, str]] | None = None
    values: list[float] = []
    begin_line = 0
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("*"):
            if line == "*BEGIN":
                if current is not None:
                    raise CorruptFileError(path, "*BEGIN inside an open group", line=number)
                current, values, begin_line = [], [], number
            elif line == "*END":
                if current is None:
                    raise CorruptFileError(path, "*END without *BEGIN", line=number)
                groups.append((current, values, begin_line))
                current = None
            elif line == "*EOF":
                break
            else:
                match = _ASC_LINE.match(line)
                if not match:
                    raise CorruptFileError(path, f"unreadable header line {line[:40]!r}", line=number)
                (file_header if current is None else current).append((match[1], match[2].strip()))
            continue
        if current is None:
            raise CorruptFileError(path, f"data outside a *BEGIN … *END group: {line[:40]!r}", line=number)
        try:
            values.extend(float(v) for v in line.replace(",", " ").split())
        except ValueError:
            raise CorruptFileError(path, f"non-numeric data {line[:40]!r}", line=number) from None
    if current is not None:
        raise CorruptFileError(path, "group has no *END (file truncated?)", line=len(lines))
    if not groups:
        raise CorruptFileError(path, "no *BEGIN … *END data group")
    head = dict(file_header)
    children: dict[str, xr.DataTree] = {}
    taken: set[str] = set()
    for g_no, (entries, counts, line_no) in enumerate(groups, start=1):
        group = dict(entries)
        start, step, count = to_float(group.get("START")), to_float(group.get("STEP")), to_float(group.get("COUNT"))
        if start is None or step is None or count is None:
            raise CorruptFileError(path, "group lacks *START, *STEP or *COUNT", line=line_no)
        if int(count) != len(counts):
            raise CorruptFileError(
                path, f"group announces {int(count)} points, holds {len(counts)} (file truncated?)", line=line_no
            )
        _check_axis(path, head.get("SCAN_AXIS", ""))
        angle = start + step * np.arange(len(counts))
        attrs: dict[str, Any] = {
            "technique": "xrd",
            "source_format": "rigaku_asc",
            "instrument": head.get("GONIO", "").split(",")[0],
            "sample": head.get("SAMPLE", ""),
            "scan_axis": head.get("SCAN_AXIS", ""),
            "scan_mode": head.get("MEAS_MODE", ""),
            **iso_datetime(head.get("DATE"), ("%d-%b-%y %H:%M", "%d-%b-%Y %H:%M")),  # "12-Jul-17 17:31"
            "step_deg": step,
            "original_metadata": {
                "header": file_header,
                "group": entries,
                "header_entries": len(file_header) + len(entries),
            },
        }
        t = _counting_time(step, to_float(group.get("SPEED")), head.get("SPEED_DIM", ""))
        if t is not None:
            attrs["counting_time_s"] = t
        if (kv := to_float(group.get("KV"))) is not None:
            attrs["voltage_kv"] = kv
        if (ma := to_float(group.get("MA"))) is not None:
            attrs["current_ma"] = ma
        target = to_float(head.get("TARGET"))
        anode = {29: "Cu", 27: "Co", 42: "Mo", 26: "Fe", 24: "Cr", 47: "Ag"}.get(int(target)) if target else None
        attrs.update(
            wavelength_attrs(
                kalpha1=to_float(head.get("WAVE_LENGTH1")),
                kalpha2=to_float(head.get("WAVE_LENGTH2")),
                anode=anode,
                override=wavelength,
            )
        )
        ds = finite_leaf(path, np.asarray(counts), angle, units=_units(head.get("YUNIT")), attrs=attrs)
        children[node_name(path.stem if len(groups) == 1 else f"{path.stem}_{g_no}", taken)] = xr.DataTree(ds)
    return xr.DataTree(children=children, dataset=xr.Dataset(attrs={"source_format": "rigaku_asc"}))


@read_asc.sniffer
def _sniff_asc(head: bytes, path: Path) -> float:
    start = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if (start.startswith(b"*TYPE") and b"*BEGIN" in head) or (start.startswith(b"*") and b"*START" in head):
        return 0.9 if re.search(rb"^\*\w+\s*=", start) else 0.0
    return 0.0
