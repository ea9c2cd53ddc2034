"""Vendor text exports of Raman spectrometers that carry a header: WITec, B&W Tek, Neegala-style CSV.

- **WITec Project** "Exported ASCII-File": ``[Header]`` of ``key = value`` lines (``XAxisUnit``,
  ``DataUnit``, ``SizeX``/``SizeY``, ``Position*``), ``[Data]`` with a label row, a unit row and
  comma-separated columns (x, then one column per spectrum). The x axis is what the export says
  (often raw wavelength in nm); WITec does not write the laser wavelength, so a nm axis stays
  ``wavelength`` unless ``laser_wavelength_nm=`` is passed.
- **B&W Tek BWSpec** (``File Version;BWRam…``): ``key;value`` header lines (decimal comma),
  then per-pixel rows ``Pixel;Wavelength;Wavenumber;Raman Shift;Dark;Reference;Raw data #1;
  Dark Subtracted #1;…``. Pixels outside the calibrated range have empty wavelength/shift cells
  and are left out (their count is recorded); the intensity is ``Dark Subtracted #n``; ``raw``
  and ``dark`` are kept as extra variables and ``wavelength``/``pixel`` as coordinates.
- **Key,value CSV with named columns** (Neegala EZI860 and similar): ``key,value`` lines, then a
  header row naming a ``Raman_Shift``/``Raman Shift`` column; the intensity is the processed
  (background-subtracted) column when present, the raw one otherwise.

Plain headerless two-column exports (HORIBA, Renishaw, Zolix) are read by the generic text reader
with ``technique="raman"``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import xarray as xr

from ..conventions import node_name
from ..errors import CorruptFileError, ReadError
from .raman_common import metadata_json, raman_leaf
from .registry import register
from .text import decode_text

__all__ = ["read_bwtek_txt", "read_keyed_csv", "read_witec_txt"]


def _float(cell: str, decimal_comma: bool = False) -> float:
    cell = cell.strip()
    if decimal_comma:
        cell = cell.replace(",", ".")
    return float(cell)


def _laser_nm(value: str | None) -> float | None:
    if not value:
        return None
    m = re.search(r"[-+]?\d+(?:[.,]\d+)?", value)
    if not m:
        return None
    number = float(m.group(0).replace(",", "."))
    return number if 150 < number < 2000 else None


# ---------------------------------------------------------------------------------------------
# WITec
# ---------------------------------------------------------------------------------------------


@register(
    name="witec_txt",
    description="WITec Project 'Exported ASCII-File' ([Header] / [Data] sections)",
    extensions=(".txt",),
    techniques=("raman",),
)
def read_witec_txt(
    path: str | os.PathLike, *, technique: str | None = None, laser_wavelength_nm: float | None = None
) -> xr.DataTree:
    """Read a WITec ASCII export.

    Parameters
    ----------
    path
        The export.
    laser_wavelength_nm
        Excitation wavelength, to convert a nm axis to Raman shift (WITec does not write it).
    """
    path = Path(path)
    text = decode_text(path.read_bytes(), path)
    lines = text.splitlines()
    header: dict[str, str] = {}
    data_at = None
    section = None
    for i, line in enumerate(lines):
        s = line.strip()
        if s.startswith("[") and s.endswith("]"):
            section = s[1:-1].lower()
            if section == "data":
                data_at = i + 1
                break
            continue
        if section == "header" and "=" in s:
            key, value = s.split("=", 1)
            header[key.strip()] = value.strip()
    if data_at is None:
        raise CorruptFileError(path, "no [Data] section")
    labels = [c.strip() for c in lines[data_at].split(",")] if data_at < len(lines) else []
    units = [c.strip() for c in lines[data_at + 1].split(",")] if data_at + 1 < len(lines) else []
    rows = []
    for number, line in enumerate(lines[data_at + 2 :], start=data_at + 3):
        if not line.strip():
            continue
        parts = line.split(",")
        if len(parts) != len(labels):
            raise CorruptFileError(path, f"row has {len(parts)} columns, expected {len(labels)}", line=number)
        try:
            rows.append([_float(p) for p in parts])
        except ValueError:
            raise CorruptFileError(path, "non-numeric value in the data", line=number) from None
    if len(rows) < 2:
        raise CorruptFileError(path, "fewer than 2 data rows", line=data_at + 3)
    data = np.asarray(rows)
    x_unit = header.get("XAxisUnit", units[0] if units else "").strip()
    low = x_unit.lower()
    if low in ("nm", "nanometer", "nanometers"):
        native = "wavelength"
    elif "rel" in low or low in ("1/cm", "cm-1", "rel. 1/cm"):
        native = "raman_shift"
    elif low == "ev":
        native = "photon_energy"
    else:
        native = "raman_shift"
    data_unit = header.get("DataUnit", units[1] if len(units) > 1 else "")
    attrs: dict = {
        "technique": "raman",
        "source_format": "witec_txt",
        "instrument": "WITec",
        "original_metadata": metadata_json({"header": header, "labels": labels, "units": units}),
        "intensity_unit_file": data_unit,
    }
    units_out = "counts" if "cts" in data_unit.lower() or "count" in data_unit.lower() else "arb"
    spectra = data[:, 1:].T
    size_x, size_y = int(float(header.get("SizeX", 1) or 1)), int(float(header.get("SizeY", 1) or 1))
    children: dict[str, xr.DataTree] = {}
    if spectra.shape[0] == 1:
        ds = raman_leaf(spectra[0], native, data[:, 0], laser_nm=laser_wavelength_nm, units=units_out, attrs=attrs)
        children[node_name(header.get("GraphName", path.stem))] = xr.DataTree(ds)
    elif size_x * size_y == spectra.shape[0] and size_x > 1 and size_y > 1:
        grid = spectra.reshape(size_y, size_x, -1)
        attrs["map_note"] = "x/y are pixel indices of the WITec map (the export gives no step size)"
        ds = raman_leaf(
            grid,
            native,
            data[:, 0],
            laser_nm=laser_wavelength_nm,
            units=units_out,
            attrs=attrs,
            extra_dims={"y": np.arange(size_y), "x": np.arange(size_x)},
        )
        children[node_name(header.get("GraphName", path.stem))] = xr.DataTree(ds)
    else:
        ds = raman_leaf(
            spectra,
            native,
            data[:, 0],
            laser_nm=laser_wavelength_nm,
            units=units_out,
            attrs=attrs,
            extra_dims={"index": np.arange(spectra.shape[0])},
        )
        ds = ds.assign_coords(column=("index", labels[1:]))
        children[node_name(header.get("GraphName", path.stem))] = xr.DataTree(ds)
    return xr.DataTree(children=children, dataset=xr.Dataset(attrs={}))


@read_witec_txt.sniffer
def _sniff_witec(head: bytes, path: Path) -> float:
    try:
        text = decode_text(head, path)
    except ReadError:
        return 0.0
    if text.lstrip().startswith("//Exported ASCII-File"):
        return 1.0
    if "[Header]" in text and "GraphName" in text and "XAxisUnit" in text:
        return 0.9
    return 0.0


# ---------------------------------------------------------------------------------------------
# B&W Tek
# ---------------------------------------------------------------------------------------------


@register(
    name="bwtek_txt",
    description="B&W Tek BWSpec text export ('File Version;BWRam…', per-pixel rows)",
    extensions=(".txt",),
    techniques=("raman",),
)
def read_bwtek_txt(path: str | os.PathLike, *, technique: str | None = None) -> xr.DataTree:
    """Read a B&W Tek BWSpec per-pixel text export."""
    path = Path(path)
    text = decode_text(path.read_bytes(), path)
    lines = text.splitlines()
    header: dict[str, str] = {}
    table_at = None
    for i, line in enumerate(lines):
        if line.startswith("Pixel;"):
            table_at = i
            break
        if ";" in line:
            key, value = line.split(";", 1)
            header[key.strip()] = value.strip()
    if table_at is None:
        raise CorruptFileError(path, "no 'Pixel;Wavelength;…' table header")
    labels = [c.strip() for c in lines[table_at].rstrip(";").split(";")]
    index = {name: k for k, name in enumerate(labels)}
    for needed in ("Pixel", "Raman Shift"):
        if needed not in index:
            raise CorruptFileError(path, f"table has no {needed!r} column", line=table_at + 1)
    rows: list[list[float]] = []
    skipped = []
    for number, line in enumerate(lines[table_at + 1 :], start=table_at + 2):
        if not line.strip():
            continue
        parts = line.rstrip().rstrip(";").split(";")
        if len(parts) != len(labels):
            raise CorruptFileError(path, f"row has {len(parts)} columns, expected {len(labels)}", line=number)
        if not parts[index["Raman Shift"]].strip():
            skipped.append(int(parts[0]))  # outside the calibrated range
            continue
        try:
            rows.append([_float(p, decimal_comma=True) if p.strip() else np.nan for p in parts])
        except ValueError:
            raise CorruptFileError(path, "non-numeric value in the data", line=number) from None
    if len(rows) < 2:
        raise CorruptFileError(path, "fewer than 2 calibrated pixel rows", line=table_at + 2)
    data = np.asarray(rows)
    laser = _laser_nm(header.get("laser_wavelength"))
    attrs: dict = {
        "technique": "raman",
        "source_format": "bwtek_txt",
        "instrument": f"B&W Tek {header.get('model', '')}".strip(),
        "original_metadata": metadata_json({"header": header, "columns": labels}),
        "pixels_without_calibration": len(skipped),
    }
    if header.get("Date"):
        attrs["acquired_at"] = header["Date"].replace(" ", "T")
    if header.get("intigration times(ms)"):
        attrs["exposure_per_frame_s"] = _float(header["intigration times(ms)"], True) / 1000
    if header.get("average number"):
        attrs["frames"] = int(_float(header["average number"], True))
    children: dict[str, xr.DataTree] = {}
    taken: set[str] = set()
    numbers = sorted({int(m.group(1)) for lab in labels if (m := re.match(r"Dark Subtracted #(\d+)", lab))})
    for n in numbers or [1]:
        signal_col = f"Dark Subtracted #{n}"
        if signal_col not in index:
            raise CorruptFileError(path, f"table has no {signal_col!r} column", line=table_at + 1)
        ds = raman_leaf(
            data[:, index[signal_col]],
            "raman_shift",
            data[:, index["Raman Shift"]],
            laser_nm=laser,
            units="counts",
            attrs=dict(attrs, column=signal_col),
        )
        ds = ds.assign_coords(
            pixel=("raman_shift", data[:, index["Pixel"]].astype(int)),
            wavelength=("raman_shift", data[:, index["Wavelength"]], {"units": "nm"}),
        )
        for label, var in ((f"Raw data #{n}", "raw"), ("Dark", "dark")):
            if label in index:
                ds[var] = ("raman_shift", data[:, index[label]], {"units": "counts", "long_name": label})
        name = path.stem if len(numbers) <= 1 else f"{path.stem}_{n}"
        children[node_name(name, taken)] = xr.DataTree(ds)
    return xr.DataTree(children=children, dataset=xr.Dataset(attrs={}))


@read_bwtek_txt.sniffer
def _sniff_bwtek(head: bytes, path: Path) -> float:
    try:
        text = decode_text(head, path)
    except ReadError:
        return 0.0
    first = text.lstrip().split("\n", 1)[0]
    if first.startswith("File Version;BW"):
        return 1.0
    return 0.0


# ---------------------------------------------------------------------------------------------
# key,value CSV with a Raman shift column (Neegala and similar)
# ---------------------------------------------------------------------------------------------

_SHIFT_COLUMN = re.compile(r"^raman[ _]?shift", re.I)
_PREFERRED_SIGNAL = (r"processed", r"dark[ _]?subtracted", r"corrected", r"intensity", r"raw")


@register(
    name="raman_keyed_csv",
    description="Raman CSV with 'key,value' header lines and named columns incl. Raman_Shift (e.g. Neegala)",
    extensions=(".txt", ".csv"),
    techniques=("raman",),
)
def read_keyed_csv(path: str | os.PathLike, *, technique: str | None = None) -> xr.DataTree:
    """Read a CSV export with ``key,value`` header lines and a named-column table."""
    path = Path(path)
    text = decode_text(path.read_bytes(), path)
    lines = text.splitlines()
    header: dict[str, str] = {}
    table_at = None
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.split(",")]
        if any(_SHIFT_COLUMN.match(c) for c in cells):
            table_at = i
            break
        if len(cells) >= 2:
            header[cells[0]] = ",".join(cells[1:])
    if table_at is None:
        raise CorruptFileError(path, "no table header with a Raman shift column")
    labels = [c.strip() for c in lines[table_at].split(",")]
    rows = []
    for number, line in enumerate(lines[table_at + 1 :], start=table_at + 2):
        if not line.strip():
            continue
        parts = line.split(",")
        if len(parts) != len(labels):
            raise CorruptFileError(path, f"row has {len(parts)} columns, expected {len(labels)}", line=number)
        try:
            rows.append([_float(p) for p in parts])
        except ValueError:
            raise CorruptFileError(path, "non-numeric value in the data", line=number) from None
    if len(rows) < 2:
        raise CorruptFileError(path, "fewer than 2 data rows", line=table_at + 2)
    data = np.asarray(rows)
    shift_col = next(k for k, c in enumerate(labels) if _SHIFT_COLUMN.match(c))
    signal_col = None
    for pattern in _PREFERRED_SIGNAL:
        signal_col = next((k for k, c in enumerate(labels) if re.search(pattern, c, re.I)), None)
        if signal_col is not None:
            break
    if signal_col is None:
        signal_col = len(labels) - 1
    laser = _laser_nm(header.get("wl") or header.get("laser") or header.get("laser_wavelength"))
    attrs: dict = {
        "technique": "raman",
        "source_format": "raman_keyed_csv",
        "instrument": " ".join(v for v in (header.get("device"), header.get("spectrometer")) if v),
        "column": labels[signal_col],
        "original_metadata": metadata_json({"header": header, "columns": labels}),
    }
    if header.get("time_stamp"):
        attrs["acquired_at"] = header["time_stamp"].replace(" ", "T")
    ds = raman_leaf(data[:, signal_col], "raman_shift", data[:, shift_col], laser_nm=laser, units="counts", attrs=attrs)
    for k, label in enumerate(labels):
        if k in (signal_col, shift_col):
            continue
        low = label.lower()
        if low.startswith("pixel"):
            ds = ds.assign_coords(pixel=("raman_shift", data[:, k].astype(int)))
        elif low.startswith("wavelength"):
            ds = ds.assign_coords(wavelength=("raman_shift", data[:, k], {"units": "nm"}))
        else:
            name = re.sub(r"\W+", "_", low).strip("_") or f"column_{k + 1}"
            ds[name] = ("raman_shift", data[:, k], {"long_name": label})
    return xr.DataTree(children={node_name(header.get("name") or path.stem): xr.DataTree(ds)}, dataset=xr.Dataset())


@read_keyed_csv.sniffer
def _sniff_keyed(head: bytes, path: Path) -> float:
    try:
        text = decode_text(head, path)
    except ReadError:
        return 0.0
    lines = text.splitlines()[:60]
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.split(",")]
        if len(cells) >= 3 and any(_SHIFT_COLUMN.match(c) for c in cells):
            return 0.8 if i > 0 else 0.3
    return 0.0


# ---------------------------------------------------------------------------------------------
# generic text maps / line scans
# ---------------------------------------------------------------------------------------------

_MAP_DELIMITERS = ("\t", ",", ";", None)
_POSITION_NAMES = {"x": "x", "y": "y", "z": "z", "t": "time", "time": "time"}


def _cells(line: str, delimiter: str | None) -> list[str]:
    if delimiter is None:
        return line.split()
    return [c.strip() for c in line.rstrip("\r\n").split(delimiter)]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _wide_layout(lines: list[str]) -> tuple[str | None, int] | None:
    """``(delimiter, number of leading position columns)`` of a wide map table, or ``None``.

    The first row holds 1-3 empty or label cells, then the spectral axis (>= 5 numbers); every
    other row holds the positions and one intensity per axis value.
    """
    rows = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith(("#", "//", "%"))]
    if len(rows) < 2:
        return None
    for delimiter in _MAP_DELIMITERS:
        head = _cells(rows[0], delimiter)
        if delimiter is not None and head and head[-1] == "":
            head = head[:-1]
        lead = 0
        while lead < len(head) and not _is_number(head[lead]):
            lead += 1
        if not 1 <= lead <= 3 or len(head) - lead < 5 or not all(_is_number(c) for c in head[lead:]):
            continue
        body = [c for c in _cells(rows[1], delimiter) if c != ""] if delimiter is not None else _cells(rows[1], None)
        if len(body) == len(head) and all(_is_number(c) for c in body):
            return delimiter, lead
    return None


def _long_layout(lines: list[str]) -> tuple[str | None, list[str]] | None:
    """``(delimiter, labels)`` of a long (x, y, shift, intensity) table with a header, or ``None``."""
    rows = [ln for ln in lines if ln.strip()]
    if len(rows) < 3:
        return None
    for delimiter in _MAP_DELIMITERS:
        labels = [c.lstrip("#").strip().lower() for c in _cells(rows[0], delimiter) if c.strip()]
        if len(labels) < 3 or any(_is_number(c) for c in labels):
            continue
        positions = [lab for lab in labels[:-2] if lab.split("(")[0].split("[")[0].strip() in _POSITION_NAMES]
        spectral = labels[-2]
        if positions and len(positions) == len(labels) - 2 and re.search(r"shift|wave|raman|cm", spectral):
            body = [c for c in _cells(rows[1], delimiter) if c.strip()]
            if len(body) == len(labels) and all(_is_number(c) for c in body):
                return delimiter, labels
    return None


@register(
    name="raman_text_map",
    description="Text maps/line scans: a wide table (positions, then one column per shift) or long (x, y, shift, I)",
    extensions=(".txt", ".csv", ".tsv", ".dat"),
    techniques=("raman",),
)
def read_raman_text_map(
    path: str | os.PathLike,
    *,
    technique: str | None = None,
    axis: str = "raman_shift",
    laser_wavelength_nm: float | None = None,
) -> xr.DataTree:
    """Read a Raman map or line scan written as text.

    Two layouts are recognised:

    - *wide*: a first row of 1-3 empty/label cells followed by the spectral axis, then one row per
      point: its position(s) and the intensities (HORIBA LabSpec and many in-house exports);
    - *long*: a header naming position columns (``x``, ``y``, ``z``, ``time``), the spectral column
      and the intensity, then one row per (point, shift) (WiRE-like exports).

    Two position columns that fill a grid become ``(y, x, axis)``; one becomes ``(x|y|z|time, axis)``;
    anything else ``(index, axis)`` with the positions as coordinates.

    Parameters
    ----------
    axis
        What the spectral values of a wide table are (``raman_shift`` or ``wavelength``); a long
        table's header decides by itself.
    laser_wavelength_nm
        Converts a ``wavelength`` axis to Raman shift.
    """
    path = Path(path)
    text = decode_text(path.read_bytes(), path)
    lines = text.splitlines()
    attrs: dict = {"technique": "raman", "source_format": "raman_text_map"}
    wide = _wide_layout(lines)
    if wide is not None:
        delimiter, lead = wide
        rows = [
            (k + 1, ln) for k, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith(("#", "//", "%"))
        ]
        head = _cells(rows[0][1], delimiter)
        labels = head[:lead]
        spectral = np.array([float(c) for c in head[lead:] if c != ""])
        table = []
        for number, line in rows[1:]:
            cells = [c for c in _cells(line, delimiter) if c != ""] if delimiter is not None else _cells(line, None)
            if len(cells) != lead + spectral.size:
                raise CorruptFileError(
                    path, f"row has {len(cells)} values, expected {lead} positions + {spectral.size}", line=number
                )
            try:
                table.append([float(c) for c in cells])
            except ValueError:
                raise CorruptFileError(path, "non-numeric value in the map", line=number) from None
        data = np.asarray(table)
        points, spectra = data[:, :lead], data[:, lead:]
        names = [_POSITION_NAMES.get(lab.strip().lower()) for lab in labels]
        native, values = axis, spectral
        attrs["original_metadata"] = metadata_json({"layout": "wide", "position_labels": labels})
    else:
        long = _long_layout(lines)
        if long is None:
            raise CorruptFileError(path, "neither a wide map table nor a long (x, y, shift, intensity) table")
        delimiter, labels = long
        first = next(k for k, ln in enumerate(lines) if ln.strip())
        table = []
        for number, line in enumerate(lines[first + 1 :], start=first + 2):
            if not line.strip():
                continue
            cells = [c for c in _cells(line, delimiter) if c.strip()]
            if len(cells) != len(labels):
                raise CorruptFileError(path, f"row has {len(cells)} values, expected {len(labels)}", line=number)
            try:
                table.append([float(c) for c in cells])
            except ValueError:
                raise CorruptFileError(path, "non-numeric value in the map", line=number) from None
        data = np.asarray(table)
        npos = len(labels) - 2
        pos = data[:, :npos]
        change = np.any(np.diff(pos, axis=0) != 0, axis=1)
        starts = np.concatenate([[0], np.nonzero(change)[0] + 1])
        lengths = np.diff(np.concatenate([starts, [len(data)]]))
        if np.any(lengths != lengths[0]):
            raise CorruptFileError(
                path, "spectra of different lengths", line=first + 2 + int(starts[np.argmax(lengths != lengths[0])])
            )
        n = int(lengths[0])
        waves = data[:, -2].reshape(-1, n)
        if not np.allclose(waves, waves[0]):
            raise CorruptFileError(path, "the spectral axis differs between the spectra")
        points, spectra, values = pos[starts], data[:, -1].reshape(-1, n), waves[0]
        names = [_POSITION_NAMES.get(lab.split("(")[0].split("[")[0].strip()) for lab in labels[:npos]]
        native = "wavelength" if re.search(r"wavelength|\bnm\b", labels[-2]) else "raman_shift"
        attrs["original_metadata"] = metadata_json({"layout": "long", "labels": labels})
    extra_dims: dict[str, np.ndarray]
    intensity = spectra
    if sorted(n for n in names if n) == ["x", "y"] and len(names) == 2:
        xs, ys = points[:, names.index("x")], points[:, names.index("y")]
        ux, uy = np.unique(xs), np.unique(ys)
        if ux.size * uy.size == len(points) and len(np.unique(points, axis=0)) == len(points):
            grid = np.full((uy.size, ux.size, spectra.shape[1]), np.nan)
            grid[np.searchsorted(uy, ys), np.searchsorted(ux, xs)] = spectra
            extra_dims, intensity = {"y": uy, "x": ux}, grid
        else:
            extra_dims = {"index": np.arange(len(points))}
    elif len(names) == 1:
        dim = names[0] or "x"
        extra_dims = {dim: points[:, 0]}
    else:
        extra_dims = {"index": np.arange(len(points))}
    ds = raman_leaf(intensity, native, values, laser_nm=laser_wavelength_nm, attrs=attrs, extra_dims=extra_dims)
    if "index" in extra_dims:
        for k, name in enumerate(names):
            ds = ds.assign_coords({f"position_{name or k + 1}": ("index", points[:, k])})
    return xr.DataTree(children={node_name(path.stem): xr.DataTree(ds)}, dataset=xr.Dataset())


@read_raman_text_map.sniffer
def _sniff_text_map(head: bytes, path: Path) -> float:
    try:
        text = decode_text(head, path)
    except ReadError:
        return 0.0
    lines = text.splitlines()[:-1] or text.splitlines()
    if _wide_layout(lines[:5]) is not None:
        return 0.5
    if _long_layout(lines[:5]) is not None:
        return 0.5
    return 0.0
