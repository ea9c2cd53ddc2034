"""Raman Open Database (ROD, https://solsa.crystallography.net/rod/) ``.rod`` entries.

A ROD file is CIF-style text: ``_tag value`` items, ``;``-delimited multi-line values and
``loop_`` tables. The spectrum is the loop of ``_raman_spectrum.raman_shift`` and
``_raman_spectrum.intensity``. Every other item (publication, DOI, instrument, laser ...) goes to
``original_metadata``; the conventional ones also to attributes (``laser_wavelength_nm``,
``sample``, ``doi``, ``rod_code``). A small CIF tokenizer is written here because the only CIF
readers at hand (pymatgen, gemmi) target crystal structures and reject or drop the ROD tags.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import numpy as np
import xarray as xr

from ..conventions import node_name
from ..errors import CorruptFileError, ReadError
from .raman_common import metadata_json, raman_leaf
from .registry import register
from .text import decode_text

__all__ = ["parse_cif_items", "read_rod"]


def _split_values(line: str) -> list[str]:
    try:
        return shlex.split(line, posix=True)
    except ValueError:
        return line.split()


def parse_cif_items(
    text: str, path: str | os.PathLike | None = None
) -> tuple[dict[str, str], list[dict[str, list[str]]]]:
    """Parse CIF text into ``(items, loops)``; each loop is ``{tag: [values...]}``."""
    lines = text.splitlines()
    items: dict[str, str] = {}
    loops: list[dict[str, list[str]]] = []
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i].strip()
        if not line or line.startswith("#") or line.lower().startswith("data_"):
            i += 1
            continue
        if line.lower() == "loop_":
            i += 1
            tags: list[str] = []
            while i < n and lines[i].strip().startswith("_"):
                tags.append(lines[i].strip().split()[0])
                i += 1
            if not tags:
                raise CorruptFileError(path, "loop_ without tags", line=i)
            values: list[str] = []
            while i < n:
                row = lines[i].strip()
                if not row or row.startswith("#"):
                    i += 1
                    continue
                if row.startswith("_") or row.lower() == "loop_" or row.lower().startswith("data_"):
                    break
                if row.startswith(";"):
                    block = [row[1:]]
                    i += 1
                    while i < n and not lines[i].startswith(";"):
                        block.append(lines[i])
                        i += 1
                    values.append("\n".join(block).strip())
                    i += 1
                    continue
                values.extend(_split_values(row))
                i += 1
            if len(values) % len(tags):
                raise CorruptFileError(
                    path, f"loop of {len(tags)} columns holds {len(values)} values (not a multiple)", line=i
                )
            loops.append({tag: values[k :: len(tags)] for k, tag in enumerate(tags)})
            continue
        if line.startswith("_"):
            parts = line.split(None, 1)
            tag = parts[0]
            if len(parts) == 2 and parts[1].strip():
                vals = _split_values(parts[1])
                items[tag] = " ".join(vals) if vals else parts[1].strip()
                i += 1
                continue
            # value on the next line(s): a quoted line or a ;-block
            i += 1
            while i < n and not lines[i].strip():
                i += 1
            if i < n and lines[i].startswith(";"):
                block = [lines[i][1:]]
                i += 1
                while i < n and not lines[i].startswith(";"):
                    block.append(lines[i])
                    i += 1
                if i >= n:
                    raise CorruptFileError(path, f"unterminated ';' text field of {tag}", line=n)
                items[tag] = "\n".join(block).strip()
                i += 1
            elif i < n and not lines[i].strip().startswith("_"):
                vals = _split_values(lines[i].strip())
                items[tag] = " ".join(vals)
                i += 1
            else:
                items[tag] = ""
            continue
        i += 1
    return items, loops


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.split("(")[0])
    except ValueError:
        return None


@register(
    name="rod",
    description="Raman Open Database entry (.rod, CIF-style text with a measured spectrum)",
    extensions=(".rod",),
    techniques=("raman",),
)
def read_rod(path: str | os.PathLike, *, technique: str | None = None) -> xr.DataTree:
    """Read a Raman Open Database ``.rod`` file."""
    path = Path(path)
    text = decode_text(path.read_bytes(), path)
    items, loops = parse_cif_items(text, path)
    loop = next((lp for lp in loops if "_raman_spectrum.raman_shift" in lp), None)
    if loop is None or "_raman_spectrum.intensity" not in loop:
        raise CorruptFileError(path, "no _raman_spectrum.raman_shift / .intensity loop")
    try:
        shift = np.array([float(v) for v in loop["_raman_spectrum.raman_shift"]])
        intensity = np.array([float(v) for v in loop["_raman_spectrum.intensity"]])
    except ValueError as exc:
        raise CorruptFileError(path, f"non-numeric value in the spectrum loop ({exc})") from None
    if shift.size < 2:
        raise CorruptFileError(path, "the spectrum loop has fewer than 2 points")
    authors = next((lp["_publ_author_name"] for lp in loops if "_publ_author_name" in lp), [])
    attrs: dict = {
        "technique": "raman",
        "source_format": "rod",
        "instrument": " ".join(
            v
            for v in (items.get("_raman_measurement_device.company"), items.get("_raman_measurement_device.model"))
            if v
        ),
        "sample": items.get("_chemical_name_mineral") or items.get("_chemical_name_systematic") or "",
        "formula": items.get("_chemical_formula_sum", ""),
        "doi": items.get("_journal_paper_doi", ""),
        "rod_code": items.get("_rod_database.code", ""),
        "license": "ROD data are in the public domain (CC0)",
        "original_metadata": metadata_json({"items": items, "authors": authors}),
    }
    if items.get("_raman_measurement.datetime_initiated"):
        attrs["acquired_at"] = items["_raman_measurement.datetime_initiated"]
    integration = _number(items.get("_raman_measurement.integration_time"))
    if integration is not None:
        attrs["integration_time_s"] = integration
    laser = _number(items.get("_raman_measurement_device.excitation_laser_wavelength"))
    ds = raman_leaf(intensity, "raman_shift", shift, laser_nm=laser, units="counts", attrs=attrs)
    name = node_name(attrs["rod_code"] or path.stem)
    return xr.DataTree(children={name: xr.DataTree(ds)}, dataset=xr.Dataset(attrs={}))


@read_rod.sniffer
def _sniff(head: bytes, path: Path) -> float:
    try:
        text = decode_text(head, path)
    except ReadError:
        return 0.0
    if "_raman_spectrum." in text or "_rod_database.code" in text:
        return 1.0
    if "Raman Open Database" in text and "data_" in text:
        return 0.8
    return 0.0
