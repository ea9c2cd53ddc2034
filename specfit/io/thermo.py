"""Thermo Fisher Avantage Excel exports (``.xlsx``), read with openpyxl.

Every spectrum sheet has an ``Axis | Energy | Elements= | n`` row, the path of the source
``.VGD``, then a header row (``Binding Energy (E)`` in column A, fitted-component names,
``Backgnd.``, ``Envelope``, ``Residuals`` from column E on), a units row (``eV``,
``Counts / s``) and ``n`` rows of numbers: column A the energy, column C the measured spectrum,
columns E... the fit curves. Each spectrum sheet becomes one leaf (measured ``intensity``; the fit
curves as ``fit_components`` (component × energy), ``fit_background``, ``fit_envelope`` and
``fit_residuals``).

Avantage's own results sheets are kept as tables in non-leaf nodes: ``peak_table`` ("Peak
Table") and ``quantification`` ("Quantifications"), one variable per column over a ``peak``
dimension (names in the ``name`` coordinate), with the rows also as JSON in the node attrs.
Other sheets (a user's "Titles" notes ...) go to the root attrs as JSON cell lists.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..conventions import node_name
from ..errors import CorruptFileError, UnknownFormatError
from ..xps.regions import normalize_region
from ._xpsutil import intensity_units, snake, xps_leaf
from .registry import register

__all__ = ["read_thermo_xlsx"]

#: A sheet is read up to this many rows (Avantage spectra are a few thousand points).
MAX_ROWS = 200_000
_RESULT_SHEETS = {"peak table": "peak_table", "quantifications": "quantification", "quantification": "quantification"}


def _rows(ws) -> list[tuple]:
    rows = []
    for i, row in enumerate(ws.iter_rows(values_only=True)):
        if i >= MAX_ROWS:
            break
        rows.append(row)
    return rows


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v)


def _spectrum(rows: list[tuple], sheet: str, path) -> xr.Dataset | None:
    axis_row = next((i for i, r in enumerate(rows[:40]) if r and r[0] == "Axis" and "Elements=" in r), None)
    if axis_row is None:
        return None
    declared = rows[axis_row][list(rows[axis_row]).index("Elements=") + 1]
    header = next(
        (
            i
            for i in range(axis_row, min(len(rows), axis_row + 20))
            if rows[i] and isinstance(rows[i][0], str) and "Energy" in rows[i][0]
        ),
        None,
    )
    if header is None:
        raise CorruptFileError(path, f"sheet {sheet!r}: no 'Binding Energy' header row", line=axis_row + 1)
    labels = [str(c).strip() if c is not None else "" for c in rows[header]]
    units_row = [str(c).strip() if c is not None else "" for c in rows[header + 1]] if header + 1 < len(rows) else []
    data_rows = []
    for k in range(header + 2, len(rows)):
        r = rows[k]
        if not r or not _is_number(r[0]):
            if any(c is not None for c in (r or ())):
                raise CorruptFileError(path, f"sheet {sheet!r}: non-numeric energy {r[0]!r}", line=k + 1)
            continue
        data_rows.append([float(c) if _is_number(c) else np.nan for c in r])
    if not _is_number(declared) or int(declared) != len(data_rows):
        raise CorruptFileError(
            path, f"sheet {sheet!r}: {len(data_rows)} data rows, the sheet declares {declared}", line=header + 3
        )
    width = max(len(r) for r in data_rows)
    data = np.array([r + [np.nan] * (width - len(r)) for r in data_rows])
    if data.shape[0] < 2 or data.shape[1] < 3 or np.isnan(data[:, 2]).all():
        raise CorruptFileError(path, f"sheet {sheet!r}: no measured column", line=header + 3)
    energy_label = labels[0]
    kind = "kinetic_energy" if "kinetic" in energy_label.lower() else "binding_energy"
    comps, comp_names = [], []
    variables: dict[str, tuple] = {}
    for col in range(4, data.shape[1]):
        label = labels[col] if col < len(labels) else ""
        if not label:
            continue
        low = label.lower()
        if low.startswith("backgnd"):
            variables["fit_background"] = ((kind,), data[:, col], {"long_name": label})
        elif low.startswith("envelope"):
            variables["fit_envelope"] = ((kind,), data[:, col], {"long_name": label})
        elif low.startswith("residual"):
            variables["fit_residuals"] = (
                (kind,),
                data[:, col],
                {"long_name": label, "scale": units_row[col] if col < len(units_row) else ""},
            )
        else:
            comps.append(data[:, col])
            comp_names.append(label)
    if comps:
        variables["fit_components"] = (("component", kind), np.array(comps), {"long_name": "Avantage component curves"})
    source_vgd = next((r[0] for r in rows[axis_row + 1 : header] if r and isinstance(r[0], str) and r[0].strip()), "")
    region_raw = re.sub(r"\s*scan\s*$", "", sheet, flags=re.IGNORECASE).strip()
    attrs = {
        "technique": "xps",
        "source_format": "thermo_xlsx",
        "region": normalize_region(region_raw),
        "region_label": sheet,
        "instrument": "Thermo Fisher Avantage export",
        "original_metadata": {"sheet": sheet, "source_vgd": source_vgd, "labels": labels, "units": units_row},
    }
    ds = xps_leaf(
        data[:, 2],
        kind,
        data[:, 0],
        excitation_energy=None,
        units=intensity_units(units_row[2] if len(units_row) > 2 else "", units_row[2] if len(units_row) > 2 else ""),
        attrs=attrs,
        variables=variables,
        axis_attrs={"label": energy_label},
    )
    if comps:
        ds = ds.assign_coords(component_name=("component", comp_names))
    return ds


def _table(rows: list[tuple], sheet: str, path) -> xr.Dataset:
    """An Avantage results table: header row has 'Name', rows below it until the first empty name."""
    head = next(
        (i for i, r in enumerate(rows[:10]) if r and any(isinstance(c, str) and c.strip() == "Name" for c in r)), None
    )
    if head is None:
        raise CorruptFileError(path, f"sheet {sheet!r}: no 'Name' header row")
    header = [str(c).strip() if c is not None else "" for c in rows[head]]
    name_col = header.index("Name")
    records = []
    for r in rows[head + 1 :]:
        if not r or name_col >= len(r) or r[name_col] in (None, ""):
            continue
        rec = {}
        for col, label in enumerate(header):
            if label and col < len(r) and r[col] is not None:
                rec[label] = r[col].strip() if isinstance(r[col], str) else r[col]
        records.append(rec)
    names = [str(rec["Name"]) for rec in records]
    data_vars = {}
    for label in header:
        if not label or label == "Name":
            continue
        values = [rec.get(label) for rec in records]
        if all(v is None or _is_number(v) for v in values):
            data_vars[snake(label)] = (
                ("peak",),
                np.array([np.nan if v is None else float(v) for v in values]),
                {"long_name": label},
            )
        else:
            data_vars[snake(label)] = (
                ("peak",),
                np.array(["" if v is None else str(v) for v in values]),
                {"long_name": label},
            )
    return xr.Dataset(
        data_vars,
        coords={"name": ("peak", names)},
        attrs={"sheet": sheet, "rows": json.dumps(records), "source_format": "thermo_xlsx"},
    )


@register(
    name="thermo_xlsx",
    description="Thermo Fisher Avantage Excel export (.xlsx): spectrum sheets, Peak Table, Quantifications",
    extensions=(".xlsx",),
    techniques=("xps",),
)
def read_thermo_xlsx(path: str | os.PathLike, *, technique: str | None = None) -> xr.DataTree:
    """Read an Avantage ``.xlsx`` export: one leaf per spectrum sheet plus result tables."""
    import openpyxl

    path = Path(path)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError) as exc:
        raise CorruptFileError(path, f"not a readable .xlsx workbook: {type(exc).__name__}: {exc}") from None
    except Exception as exc:  # openpyxl raises many types (lxml errors, TypeError ...) on damage
        raise CorruptFileError(path, f"not a readable .xlsx workbook: {type(exc).__name__}: {exc}") from None
    try:
        children: dict[str, xr.DataTree] = {}
        taken: set[str] = set()
        extras: dict[str, Any] = {}
        for ws in wb.worksheets:
            rows = _rows(ws)
            kind = _RESULT_SHEETS.get(ws.title.strip().lower())
            if kind is not None:
                children[node_name(kind, taken)] = xr.DataTree(_table(rows, ws.title, path))
                continue
            ds = _spectrum(rows, ws.title, path)
            if ds is not None:
                children[node_name(ds.attrs["region"] or ws.title, taken)] = xr.DataTree(ds)
            else:
                cells = [
                    [c if _is_number(c) or c is None else str(c) for c in r]
                    for r in rows
                    if any(c is not None for c in r)
                ]
                extras[ws.title] = cells
    finally:
        wb.close()
    if not any("intensity" in c.ds for c in children.values()):
        raise UnknownFormatError(path, "no Avantage spectrum sheet (no 'Axis | Energy | Elements=' row)")
    attrs = {"source_format": "thermo_xlsx", "other_sheets": json.dumps(extras, default=str)}
    return xr.DataTree(children=children, dataset=xr.Dataset(attrs=attrs))


@read_thermo_xlsx.sniffer
def _sniff(head: bytes, path: Path) -> float:
    # an .xlsx is a zip; the sheet content is compressed, so only the container is visible here
    if head.startswith(b"PK\x03\x04") and (b"xl/" in head or b"[Content_Types].xml" in head):
        return 0.6
    return 0.0
