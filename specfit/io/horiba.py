"""HORIBA LabSpec files: XML export (through rosettasciio) and text export.

- LabSpec 6 ``.xml`` (``<LSX_Data>``) is read with :mod:`rsciio.jobinyvon`: single and glued
  spectra, line scans ``(x|y, ...)`` and maps ``(y, x, ...)``. rosettasciio returns spectra in
  ascending axis order (the reverse of the file's order); specfit keeps that order. Wavelength (nm),
  absolute wavenumber (cm⁻¹) and energy (eV) axes are converted to Raman shift with the file's laser
  wavelength, the native values kept as a coordinate.
- LabSpec ``.txt`` export: an optional header of ``#Key=\tvalue`` lines (``#Acq. time (s)=``,
  ``#Laser (nm)=`` ...), then either two columns (one spectrum), or a map/line-scan table whose
  first row is the spectral axis (after one or two empty cells) and whose rows start with the
  position(s). A headerless two-column file carries nothing that says it is LabSpec, so the generic
  text reader reads it (pass ``technique="raman"``) unless this format is forced
  (``format="horiba_txt"``).
- ``.l6s`` (LabSpec 6 native, binary) is decoded by :mod:`specfit.io.labspec6`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import xarray as xr

from ..conventions import node_name
from ..errors import CorruptFileError, ReadError
from .raman_common import metadata_json, quiet_rsciio, raman_leaf, rsciio_signal_to_leaf
from .registry import register
from .text import decode_text, parse_columns

__all__ = ["read_labspec_txt", "read_labspec_xml"]

_NAV = {"X": "x", "Y": "y", "XA": "x", "YA": "y", "Z": "z", "Time": "time", "time": "time"}


@register(
    name="horiba_xml",
    description="HORIBA LabSpec 6 XML export (spectra, glued spectra, line scans, maps) via rosettasciio",
    extensions=(".xml",),
    techniques=("raman",),
)
def read_labspec_xml(path: str | os.PathLike, *, technique: str | None = None) -> xr.DataTree:
    """Read a HORIBA LabSpec 6 ``.xml`` export."""
    path = Path(path)
    from rsciio.jobinyvon import file_reader

    try:
        with quiet_rsciio():
            signals = file_reader(str(path))
    except Exception as exc:  # ElementTree / rosettasciio errors on damaged files
        raise CorruptFileError(path, f"damaged or truncated LabSpec XML ({type(exc).__name__}: {exc})") from exc
    children: dict[str, xr.DataTree] = {}
    taken: set[str] = set()
    for signal in signals:
        data = np.asarray(signal.get("data"))
        if data.size == 0:
            raise CorruptFileError(path, "the file holds no spectral data")
        nav = {str(a.get("name")): _NAV.get(str(a.get("name")), "index") for a in signal["axes"] if a.get("navigate")}
        metadata = signal.get("metadata", {})
        extra: dict = {
            "instrument": "HORIBA "
            + str(metadata.get("Acquisition_instrument", {}).get("Spectrometer", {}).get("model", "LabSpec")).strip()
        }
        rotation = metadata.get("Acquisition_instrument", {}).get("Spectral_image", {}).get("rotation_angle")
        if rotation is not None:
            extra["stage_rotation_deg"] = float(rotation)
            extra["map_note"] = "x/y are the map's own (rotated) axes XA/YA; the stage is rotated by stage_rotation_deg"
        if metadata.get("General", {}).get("notes"):
            extra["notes"] = metadata["General"]["notes"]
        extra["order_note"] = "spectra in ascending axis order (rosettasciio reverses the file's order)"
        ds = rsciio_signal_to_leaf(signal, path, source_format="horiba_xml", nav_dims=nav, extra_attrs=extra)
        title = str(metadata.get("General", {}).get("title") or path.stem)
        children[node_name(title, taken)] = xr.DataTree(ds)
    if not children:
        raise CorruptFileError(path, "the file holds no spectrum")
    return xr.DataTree(children=children, dataset=xr.Dataset(attrs={"source_format": "horiba_xml"}))


@read_labspec_xml.sniffer
def _sniff_xml(head: bytes, path: Path) -> float:
    return 1.0 if b"<LSX_Data" in head[:2048] else 0.0


# ---------------------------------------------------------------------------------------------
# LabSpec text export
# ---------------------------------------------------------------------------------------------

_KEY_LINE = re.compile(r"^#([^=]+)=\s*(.*)$")
_LABSPEC_KEYS = re.compile(
    r"acq\. ?time|accumulations|laser|grating|spectro|objective|hole|range|detector|instrument", re.I
)


def _header(lines: list[str]) -> tuple[dict[str, str], int]:
    """The ``#key=value`` header and the index of the first line after it."""
    meta: dict[str, str] = {}
    i = 0
    while i < len(lines) and (lines[i].startswith("#") or not lines[i].strip()):
        m = _KEY_LINE.match(lines[i].strip())
        if m:
            meta[m.group(1).strip()] = m.group(2).strip()
        i += 1
    return meta, i


def _laser_from_header(meta: dict[str, str]) -> float | None:
    for key, value in meta.items():
        if key.lower().startswith("laser"):
            try:
                return float(value.replace(",", ".").split()[0])
            except (ValueError, IndexError):
                return None
    return None


@register(
    name="horiba_txt",
    description="HORIBA LabSpec text export (single spectra with '#key=' header, maps and line scans)",
    extensions=(".txt",),
    techniques=("raman",),
)
def read_labspec_txt(
    path: str | os.PathLike, *, technique: str | None = None, axis: str = "raman_shift"
) -> xr.DataTree:
    """Read a HORIBA LabSpec text export.

    Parameters
    ----------
    path
        The ``.txt`` export.
    axis
        What the spectral column is when the header does not say: ``raman_shift`` (LabSpec's
        default export unit) or ``wavelength``.
    """
    path = Path(path)
    text = decode_text(path.read_bytes(), path)
    lines = text.splitlines()
    meta, start = _header(lines)
    body = lines[start:]
    if not body:
        raise CorruptFileError(path, "no data after the header", line=start + 1)
    laser = _laser_from_header(meta)
    attrs: dict = {
        "technique": "raman",
        "source_format": "horiba_txt",
        "instrument": "HORIBA LabSpec",
        "original_metadata": metadata_json({"header": meta}),
    }
    for key, value in meta.items():
        low = key.lower()
        try:
            number = float(value.replace(",", ".").split()[0])
        except (ValueError, IndexError):
            continue
        if low.startswith("acq. time"):
            attrs["exposure_per_frame_s"] = number
        elif low.startswith("accumulations"):
            attrs["frames"] = int(number)
    first = body[0]
    leading_tabs = len(first) - len(first.lstrip("\t"))
    if leading_tabs >= 1 and first.strip():
        # map / line scan: first row = spectral axis after `leading_tabs` empty cells
        try:
            spectral = np.array([float(v) for v in first.strip().split("\t")])
        except ValueError:
            raise CorruptFileError(path, "non-numeric value in the spectral-axis row", line=start + 1) from None
        # blank lines in place of the header keep the file's own line numbers in errors
        table = parse_columns("\n".join([""] * (start + 1) + body[1:]), path)
        npos = leading_tabs
        if table.data.shape[1] != npos + spectral.size:
            raise CorruptFileError(
                path,
                f"rows have {table.data.shape[1]} columns, expected {npos} positions + {spectral.size} spectral values",
                line=start + 2,
            )
        points = table.data[:, :npos]
        spectra = table.data[:, npos:]
        if npos == 2:
            # LabSpec writes X then Y for maps
            xs, ys = points[:, 0], points[:, 1]
            ux, uy = np.unique(xs), np.unique(ys)
            if ux.size * uy.size == len(points):
                grid = np.full((uy.size, ux.size, spectral.size), np.nan)
                grid[np.searchsorted(uy, ys), np.searchsorted(ux, xs)] = spectra
                extra_dims = {"y": uy, "x": ux}
                intensity = grid
            else:
                extra_dims = {"index": np.arange(len(points))}
                intensity = spectra
        else:
            extra_dims = {"x": points[:, 0]}
            intensity = spectra
            attrs["x_note"] = "line scan: x is the position column of the export (µm)"
        ds = raman_leaf(intensity, axis, spectral, laser_nm=laser, attrs=attrs, extra_dims=extra_dims)
        if "index" in extra_dims:
            ds = ds.assign_coords(position_x=("index", points[:, 0]), position_y=("index", points[:, 1]))
    else:
        table = parse_columns("\n".join([""] * start + body), path)
        if table.data.shape[1] != 2:
            raise CorruptFileError(path, f"{table.data.shape[1]} columns, expected 2 (axis, intensity)", line=start + 1)
        ds = raman_leaf(table.data[:, 1], axis, table.data[:, 0], laser_nm=laser, attrs=attrs)
    return xr.DataTree(children={node_name(path.stem): xr.DataTree(ds)}, dataset=xr.Dataset(attrs={}))


@read_labspec_txt.sniffer
def _sniff_labspec_txt(head: bytes, path: Path) -> float:
    try:
        text = decode_text(head, path)
    except ReadError:
        return 0.0
    lines = text.splitlines()
    meta, _start = _header(lines[:-1] or lines)
    if meta and sum(1 for k in meta if _LABSPEC_KEYS.search(k)) >= 2:
        return 0.8
    return 0.0
