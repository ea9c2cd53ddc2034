"""CasaXPS "Save tabulated ASCII" export of VAMAS data (one section per spectrum).

Layout (from the corpus file ``vms_txt_export.txt``): each section starts with a title line
``Cycle <n>:<sample>:<region>``, then a tab-indented line of ``name<TAB>value`` pairs
(``Characteristic Energy eV``, ``Acquisition Time s``), the component table rows ``Name``,
``Position``, ``FWHM``, ``Area``, ``Lineshape`` (empty unless a fit was exported), the column
header (``K.E.  Counts  [components...]  B.E.  CPS``) and tab-separated numbers until the next
title line. ``Counts`` is the raw signal and ``CPS`` = Counts / acquisition time; we keep the raw
counts as ``intensity`` (units counts) and the count rate as the ``count_rate`` variable; fitted
component columns, when present, become ``fit_components`` (component × energy),
``fit_background`` and ``fit_envelope`` (and their ``_cps`` twins).
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
from ..xps.regions import normalize_region
from ._xpsutil import snake, xps_leaf
from .registry import register
from .text import decode_text

__all__ = ["read_casaxps_results", "read_casaxps_text"]

_TITLE = re.compile(r"^Cycle\s+(\d+):(.*)$")
_TABLE_ROWS = ("Name", "Position", "FWHM", "Area", "Lineshape")


def _section(lines: list[str], first: int, end: int, path) -> tuple[dict[str, Any], np.ndarray, list[str]]:
    """Parse lines[first:end] (title at ``first``) into (metadata, data, column labels)."""
    meta: dict[str, Any] = {"title": lines[first].strip()}
    pos = first + 1
    params = [p.strip() for p in lines[pos].split("\t") if p.strip()] if pos < end else []
    for key, value in zip(params[0::2], params[1::2]):
        try:
            meta[key] = float(value)
        except ValueError:
            meta[key] = value
    pos += 1
    table: dict[str, list[str]] = {}
    while pos < end and lines[pos].split("\t")[0].strip() in _TABLE_ROWS:
        cells = lines[pos].split("\t")
        table[cells[0].strip()] = [c.strip() for c in cells[1:]]
        pos += 1
    meta["components"] = table
    if pos >= end or not lines[pos].startswith("K.E."):
        raise CorruptFileError(path, "expected the column header line starting with 'K.E.'", line=pos + 1)
    labels = [c.strip() for c in lines[pos].split("\t")]
    pos += 1
    rows = []
    for number in range(pos, end):
        line = lines[number]
        if not line.strip():
            continue
        cells = line.split("\t")
        try:
            row = [float(c) if c.strip() else np.nan for c in cells]
        except ValueError:
            raise CorruptFileError(path, f"non-numeric value in {line.strip()[:40]!r}", line=number + 1) from None
        if len(row) != len(labels):
            raise CorruptFileError(path, f"row has {len(row)} columns, header {len(labels)}", line=number + 1)
        rows.append(row)
    if len(rows) < 2:
        raise CorruptFileError(path, "section holds fewer than 2 data rows", line=pos)
    return meta, np.asarray(rows), labels


@register(
    name="casaxps_text",
    description="CasaXPS tabulated ASCII export (Cycle n:sample:region sections, K.E./Counts/B.E./CPS)",
    extensions=(".txt", ".csv", ".dat"),
    techniques=("xps",),
)
def read_casaxps_text(path: str | os.PathLike, *, technique: str | None = None) -> xr.DataTree:
    """Read a CasaXPS text export: one leaf per section, named ``<sample> <region>``."""
    path = Path(path)
    lines = decode_text(path.read_bytes(), path).splitlines()
    starts = [k for k, line in enumerate(lines) if _TITLE.match(line.strip())]
    if not starts and _is_results_table(lines):
        raise UnknownFormatError(
            path,
            "a CasaXPS quantification table (no spectrum); specfit.io.casaxps_text.read_casaxps_results() reads it",
            line=1,
        )
    if not starts or starts[0] != next((k for k, ln in enumerate(lines) if ln.strip()), 0):
        raise UnknownFormatError(path, "does not start with a 'Cycle n:...' section title", line=1)
    children: dict[str, xr.DataTree] = {}
    taken: set[str] = set()
    for k, first in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(lines)
        meta, data, labels = _section(lines, first, end, path)
        title = _TITLE.match(lines[first].strip())
        parts = title.group(2).split(":")
        region_raw = parts[-1].strip()
        sample = ":".join(parts[:-1]).strip()
        try:
            ke_col, counts_col = labels.index("K.E."), labels.index("Counts")
        except ValueError:
            raise CorruptFileError(path, "column header lacks K.E. or Counts", line=first + 1) from None
        hv = meta.get("Characteristic Energy eV")
        hv = float(hv) if isinstance(hv, float) else None
        variables: dict[str, tuple] = {}
        axis = "binding_energy" if hv is not None else "kinetic_energy"
        # count-side columns run from "Counts" to the blank separator, CPS-side ones follow "CPS"
        blank = labels.index("") if "" in labels else len(labels)
        cps_col = labels.index("CPS") if "CPS" in labels else None
        if cps_col is not None:
            variables["count_rate"] = ((axis,), data[:, cps_col], {"units": "counts/s"})
        sides = [(range(counts_col + 1, blank), "")]
        if cps_col is not None:
            sides.append((range(cps_col + 1, len(labels)), "_cps"))
        names = meta["components"].get("Name", [])
        component_names: list[str] = []
        for cols, suffix in sides:
            comp_cols = [c for c in cols if not labels[c].lower().startswith(("background", "envelope"))]
            for c in cols:
                low = labels[c].lower()
                if low.startswith(("background", "envelope")):
                    variables[f"fit_{low.split()[0]}{suffix}"] = ((axis,), data[:, c], {"long_name": labels[c]})
            if comp_cols:
                variables[f"fit_components{suffix}"] = (
                    ("component", axis),
                    data[:, comp_cols].T,
                    {"long_name": "CasaXPS component curves" + (" (counts/s)" if suffix else "")},
                )
                component_names = [labels[c] for c in comp_cols]
        if names and "fit_components" in variables and len(names) < variables["fit_components"][1].shape[0]:
            raise CorruptFileError(path, "component table and component columns disagree", line=first + 3)
        attrs = {
            "technique": "xps",
            "source_format": "casaxps_text",
            "region": normalize_region(region_raw),
            "region_label": region_raw,
            "sample": sample,
            "cycle": int(title.group(1)),
            "original_metadata": meta,
        }
        if hv is not None:
            attrs["excitation_energy_ev"] = hv
        if isinstance(meta.get("Acquisition Time s"), float):
            attrs["dwell_time_s"] = meta["Acquisition Time s"]
        ds = xps_leaf(
            data[:, counts_col],
            "kinetic_energy",
            data[:, ke_col],
            excitation_energy=hv,
            units="counts",
            attrs=attrs,
            variables=variables,
        )
        if component_names:
            ds = ds.assign_coords(component_name=("component", component_names))
        if "B.E." in labels:
            be = data[:, labels.index("B.E.")]
            if hv is not None and not np.allclose(be, ds["binding_energy"].values, atol=1e-3):
                raise CorruptFileError(path, "B.E. column disagrees with characteristic energy − K.E.", line=first + 1)
        children[node_name(f"{sample} {region_raw}".strip(), taken)] = xr.DataTree(ds)
    return xr.DataTree(children=children, dataset=xr.Dataset(attrs={"source_format": "casaxps_text"}))


@read_casaxps_text.sniffer
def _sniff(head: bytes, path: Path) -> float:
    text = head.decode("latin-1", "replace").lstrip()
    first = text.split("\n", 1)[0].strip()
    if _TITLE.match(first) and "Characteristic Energy" in text and "K.E." in text:
        return 1.0
    if _is_results_table(text.splitlines()):
        return 0.05  # claimed weakly so that reading it explains what it is
    return 0.0


_RESULTS_HEADER = re.compile(r"^Name\tPosition\tFWHM\t.*Area", re.IGNORECASE)


def _is_results_table(lines: list[str]) -> bool:
    return any(_RESULTS_HEADER.match(line) for line in lines[:20])


def read_casaxps_results(path: str | os.PathLike) -> xr.Dataset:
    """Read a CasaXPS quantification export (``Name  Position  FWHM  Raw Area ... %At Conc``).

    Returns a dataset over a ``peak`` dimension with one variable per numeric column (CasaXPS's
    ``-1.#IND`` becomes NaN), the names in the ``name`` coordinate and the whole file text in the
    ``text`` attribute (the "compact form" tables that follow repeat these numbers).
    """
    path = Path(path)
    lines = decode_text(path.read_bytes(), path).splitlines()
    head = next((k for k, line in enumerate(lines[:20]) if _RESULTS_HEADER.match(line)), None)
    if head is None:
        raise UnknownFormatError(path, "no 'Name  Position  FWHM ...' header: not a CasaXPS results table", line=1)
    labels = [c.strip() for c in lines[head].split("\t")]
    labels = labels[: max(k for k, c in enumerate(labels) if c) + 1]
    rows = []
    for number in range(head + 1, len(lines)):
        cells = [c.strip() for c in lines[number].split("\t")]
        if not cells[0]:
            break
        if len(cells) < len(labels):
            raise CorruptFileError(path, f"row has {len(cells)} cells, header {len(labels)}", line=number + 1)
        rows.append(cells[: len(labels)])
    if not rows:
        raise CorruptFileError(path, "results table has no rows", line=head + 2)

    def number(cell: str) -> float:
        try:
            return float(cell)
        except ValueError:
            if "#IND" in cell or "#QNAN" in cell or "nan" in cell.lower():
                return float("nan")
            raise

    data_vars = {}
    for col, label in enumerate(labels[1:], start=1):
        try:
            values = np.array([number(r[col]) for r in rows])
        except ValueError:
            values = np.array([r[col] for r in rows])
        data_vars[snake(label)] = (("peak",), values, {"long_name": label})
    return xr.Dataset(
        data_vars,
        coords={"name": ("peak", [r[0] for r in rows])},
        attrs={"source_format": "casaxps_results", "source_file": path.name, "text": "\n".join(lines)},
    )
