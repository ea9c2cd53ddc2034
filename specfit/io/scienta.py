"""Scienta SES exports: text (``.txt``, ``[Region n]``/``[Info n]``/``[Data n]`` sections) and Igor
binary waves (``.ibw``, read with :mod:`igor2`; the SES parameters are in the wave note).

SES writes the energy axis as the ``Dimension 1`` scale (text) or as the wave scaling (ibw), in the
scale named by ``Energy Scale`` (``Binding`` or ``Kinetic``); hν is ``Excitation Energy``. With
more than one slice (angle-resolved lens modes) the data get a leading ``index`` dimension.
Intensities are SES's "Counts [a.u.]": they are counts scaled by SES (per-channel normalised), so
the units are ``arb``.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..conventions import node_name
from ..errors import CorruptFileError, ReadError, UnknownFormatError
from ..xps.regions import normalize_region
from ._xpsutil import xps_leaf
from .registry import register
from .text import decode_text

__all__ = ["read_scienta_ibw", "read_scienta_txt"]

_SECTION = re.compile(r"^\[(?P<name>[^\]\d]+?)\s*(?P<n>\d+)?\]\s*$")


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def _leaf_from_info(
    info: dict[str, str], x: np.ndarray, y: np.ndarray, axis_label: str, source_format: str, extra: dict[str, Any]
) -> xr.Dataset:
    scale = info.get("Energy Scale", "").lower()
    label = axis_label.lower()
    kind = "kinetic_energy" if ("kinetic" in label or (not label and scale == "kinetic")) else "binding_energy"
    hv = _number(info.get("Excitation Energy"))
    name = info.get("Region Name", "")
    attrs: dict[str, Any] = {
        "technique": "xps",
        "source_format": source_format,
        "region": normalize_region(name),
        "region_label": name,
        "instrument": info.get("Instrument", ""),
        "sample": info.get("Sample", ""),
        "analyser_lens_mode": info.get("Lens Mode", ""),
        "acquisition_mode": info.get("Acquisition Mode", ""),
        "original_metadata": {"info": info, **extra},
    }
    for key, attr, scale_ in (
        ("Pass Energy", "pass_energy_ev", 1.0),
        ("Step Time", "dwell_time_s", 1e-3),
        ("Number of Sweeps", "scans", 1.0),
    ):
        value = _number(info.get(key))
        if value is not None:
            attrs[attr] = int(value) if attr == "scans" else value * scale_
    if hv is not None:
        attrs["excitation_energy_ev"] = hv
    date, time = info.get("Date", ""), info.get("Time", "")
    if re.match(r"^\d{4}-\d{2}-\d{2}$", date):
        attrs["acquired_at"] = f"{date}T{time}" if re.match(r"^\d{1,2}:\d{2}:\d{2}$", time) else date
    extra_dims = {"index": np.arange(y.shape[0])} if y.ndim == 2 else None
    return xps_leaf(
        y,
        kind,
        x,
        excitation_energy=hv,
        units="arb",
        attrs=attrs,
        extra_dims=extra_dims,
        axis_attrs={"label": axis_label},
    )


@register(
    name="scienta_txt",
    description="Scienta SES text export ([Region n] / [Info n] / [Data n] sections)",
    extensions=(".txt",),
    techniques=("xps",),
)
def read_scienta_txt(path: str | os.PathLike, *, technique: str | None = None) -> xr.DataTree:
    """Read a Scienta SES text export: one leaf per region."""
    path = Path(path)
    text = decode_text(path.read_bytes(), path)
    lines = text.splitlines()
    sections: list[tuple[str, int | None, int, list[str]]] = []  # name, number, first line, content
    for number, line in enumerate(lines, start=1):
        m = _SECTION.match(line.strip())
        if m:
            sections.append((m.group("name").strip(), int(m.group("n")) if m.group("n") else None, number, []))
        elif sections:
            sections[-1][3].append(line)
        elif line.strip():
            raise UnknownFormatError(path, "text before the first [section]: not a Scienta SES export", line=number)
    if not sections or sections[0][0] != "Info":
        raise UnknownFormatError(path, "no [Info] section: not a Scienta SES export", line=1)

    def keyvals(content: list[str]) -> dict[str, str]:
        out = {}
        for ln in content:
            if "=" in ln:
                k, _, v = ln.partition("=")
                out[k.strip()] = v.strip()
        return out

    file_info = keyvals(sections[0][3])
    by_region: dict[int, dict[str, Any]] = {}
    for name, n, first, content in sections[1:]:
        if n is None:
            continue
        entry = by_region.setdefault(n, {})
        if name == "Data":
            entry["data"] = (first, content)
        else:
            entry[name] = keyvals(content)
    declared = _number(file_info.get("Number of Regions"))
    if declared is not None and int(declared) != len(by_region):
        raise CorruptFileError(path, f"header declares {int(declared)} regions, file holds {len(by_region)}", line=2)

    children: dict[str, xr.DataTree] = {}
    taken: set[str] = set()
    for n, entry in sorted(by_region.items()):
        region = entry.get("Region", {})
        info = {**region, **entry.get("Info", {})}
        if "data" not in entry:
            raise CorruptFileError(path, f"region {n} has no [Data {n}] section")
        first, content = entry["data"]
        rows = []
        for k, ln in enumerate(content, start=first + 1):
            if not ln.strip():
                continue
            try:
                rows.append([float(v) for v in ln.split()])
            except ValueError:
                raise CorruptFileError(path, f"non-numeric data row {ln.strip()[:40]!r}", line=k) from None
            if len(rows[-1]) != len(rows[0]):
                raise CorruptFileError(path, "ragged data row", line=k)
        if len(rows) < 2 or len(rows[0]) < 2:
            raise CorruptFileError(path, f"region {n}: fewer than 2 data rows", line=first)
        data = np.asarray(rows)
        size = _number(region.get("Dimension 1 size"))
        if size is not None and int(size) != data.shape[0]:
            raise CorruptFileError(path, f"region {n}: {data.shape[0]} data rows, header says {int(size)}", line=first)
        x = data[:, 0]
        y = data[:, 1] if data.shape[1] == 2 else data[:, 1:].T
        leaf = _leaf_from_info(
            info,
            x,
            y,
            region.get("Dimension 1 name", ""),
            "scienta_txt",
            {"file_info": file_info, "run_mode": entry.get("Run Mode Information", {})},
        )
        children[node_name(info.get("Region Name") or f"region_{n}", taken)] = xr.DataTree(leaf)
    return xr.DataTree(children=children, dataset=xr.Dataset(attrs={"source_format": "scienta_txt", **file_info}))


@read_scienta_txt.sniffer
def _sniff_txt(head: bytes, path: Path) -> float:
    start = head.lstrip(b"\xef\xbb\xbf\r\n ")
    if start.startswith(b"[Info]") and (b"[Region 1]" in head or b"Number of Regions" in head):
        return 1.0
    return 0.0


def _note_fields(note: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in re.split(r"[\r\n]+", note):
        if "=" in line:
            k, _, v = line.partition("=")
            out[k.strip()] = v.strip()
    return out


@register(
    name="scienta_ibw",
    description="Scienta SES Igor binary wave (.ibw) with the SES parameters in the wave note",
    extensions=(".ibw",),
    techniques=("xps",),
)
def read_scienta_ibw(path: str | os.PathLike, *, technique: str | None = None) -> xr.DataTree:
    """Read a Scienta SES ``.ibw`` (one region) with igor2."""
    from igor2 import binarywave

    path = Path(path)
    # igor2 logs the whole raw buffer at ERROR level when a damaged wave does not reshape; we raise
    # our own one-line error instead, so its logger is silenced while loading
    igor_logger = logging.getLogger("igor2")
    level = igor_logger.level
    igor_logger.setLevel(logging.CRITICAL)
    try:
        wave = binarywave.load(str(path))["wave"]
    except (ValueError, EOFError, OSError, KeyError, IndexError, TypeError, AssertionError) as exc:
        raise CorruptFileError(path, f"not a readable Igor binary wave: {type(exc).__name__}: {exc}"[:300]) from None
    except Exception as exc:  # igor2 raises struct.error and others for damaged files
        raise CorruptFileError(path, f"not a readable Igor binary wave: {type(exc).__name__}: {exc}"[:300]) from None
    finally:
        igor_logger.setLevel(level)
    header = wave["wave_header"]
    data = np.asarray(wave["wData"], dtype=float)
    note = wave.get("note", b"")
    note = note.decode("latin-1") if isinstance(note, bytes) else str(note)
    info = _note_fields(note)
    if data.ndim not in (1, 2) or data.shape[0] < 2:
        raise CorruptFileError(path, f"wave of shape {data.shape} is not a spectrum")
    npts = data.shape[0]
    step, start = float(header["sfA"][0]), float(header["sfB"][0])
    if not (np.isfinite(step) and np.isfinite(start)) or step == 0:
        raise CorruptFileError(path, "wave scaling of the energy dimension is invalid")
    x = np.round(start + step * np.arange(npts), 9)  # 382 - 360*0.05 is 363.99999999999

    units = wave.get("dimension_units", b"")
    axis_label = units.decode("latin-1") if isinstance(units, bytes) else str(units)
    if not info.get("Region Name"):
        raise ReadError(path, "Igor wave without Scienta SES parameters in its note (not an SES export)")
    y = data if data.ndim == 1 else data.T
    bname = header.get("bname", b"")
    leaf = _leaf_from_info(
        info,
        x,
        y,
        axis_label,
        "scienta_ibw",
        {"wave_name": bname.decode("latin-1") if isinstance(bname, bytes) else str(bname), "note": note},
    )
    name = node_name(info.get("Region Name") or path.stem)
    return xr.DataTree(children={name: xr.DataTree(leaf)}, dataset=xr.Dataset(attrs={"source_format": "scienta_ibw"}))


@read_scienta_ibw.sniffer
def _sniff_ibw(head: bytes, path: Path) -> float:
    # Igor binary wave: version 2/3/5 in either byte order, and the 16-bit checksum over the
    # binary + wave headers (126 bytes for v2/v3, 384 for v5) is zero
    if len(head) < 384:
        return 0.0
    for order in ("<", ">"):
        version = int.from_bytes(head[:2], "little" if order == "<" else "big")
        size = {2: 126, 3: 126, 5: 384}.get(version)
        if size is None:
            continue
        if int(np.frombuffer(head[:size], dtype=f"{order}u2").sum()) % 65536 == 0:
            return 1.0 if (b"[SES]" in head or b"Region Name=" in head) else 0.7
    return 0.0
