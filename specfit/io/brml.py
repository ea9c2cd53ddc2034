"""Bruker DIFFRAC.SUITE ``.brml`` (a zip of XML files).

The container holds ``experimentCollection.xml`` and, per experiment, ``Experiment{i}/RawData{j}.xml`` (one per
measured range) besides method/instruction containers that repeat the setup. A ``RawData`` file has::

    RawData
      TimeStampStarted
      DataRoutes/DataRoute RouteFlag="Measured"
        ScanInformation ScanName= : MeasurementPoints, TimePerStep, ScanMode, ScanAxes/ScanAxisInfo AxisId=…
        Datum*                      comma-separated columns, one element per point
        DataViews/RawDataView Start= Length= …   which column is what:
          FixedRawDataView LogicName="MeasuredTime" | "AbsorptionFactor"
          VaryingRawDataView … FieldDefinitions FieldName="TwoTheta" | "Theta" | …
          RecordedRawDataView MeasuredDataIndex="0"   the detector counts
      FixedInformation/Instrument/PrimaryTracks/…/Tube: WaveLengthAlpha1/Alpha2/Beta/Ratio Value=, TubeMaterial,
        Voltage, Current

The recorded counts are already scaled by the absorber factor (values such as 495559.8 = 59706 × 8.3 in the
corpus file 23-012-AG_2thomegascan_long.brml), so they are the ``intensity`` as they stand; the factor is kept as
the data variable ``absorption_factor``. Further recorded channels (e.g. an Eiger's ``maxPixelCount``) become
extra data variables.

Zip members are checked before unpacking (size and member-count limits) and XML with a DTD is refused.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import numpy as np
import xarray as xr

from ..conventions import node_name
from ..errors import CorruptFileError, ReadError
from ._xrd import (
    finite_leaf,
    open_zip_safely,
    parse_xml_safely,
    read_zip_member,
    strip_namespaces,
    to_float,
    wavelength_attrs,
)
from .registry import register

__all__ = ["read_brml"]

_RAW_MEMBER = re.compile(r"^Experiment(\d+)/RawData(\d+)\.xml$")


def _value(root: Element, tag: str) -> float | None:
    el = root.find(f".//{tag}")
    if el is None:
        return None
    return to_float(el.get("Value")) if el.get("Value") is not None else to_float(el.text)


def _columns(route: Element) -> dict[str, Any]:
    """Map column roles to indices from the DataViews."""
    roles: dict[str, Any] = {"recorded": []}
    for view in route.iter("RawDataView"):
        start = int(view.get("Start", "-1"))
        length = int(view.get("Length", "1"))
        logic = view.get("LogicName")
        kind = view.get("type", "")
        if logic in ("MeasuredTime", "AbsorptionFactor"):
            roles[logic] = start
        elif "Recorded" in kind or view.get("MeasuredDataIndex") is not None:
            rec = view.find("Recording")
            name = rec.get("LogicName", f"channel_{start}") if rec is not None else f"channel_{start}"
            index = int(view.get("MeasuredDataIndex", len(roles["recorded"])))
            roles["recorded"].append((index, start, name))
        else:
            varying = view.find("Varying")
            fields = varying.findall("FieldDefinitions") if varying is not None else []
            if varying is not None and varying.get("LogicName") == "ScanAxes":
                for k, field in enumerate(fields[:length]):
                    roles[f"axis:{field.get('AxisId') or field.get('FieldName')}"] = start + k
    roles["recorded"].sort()
    return roles


def _read_rawdata(root: Element, path: Path, member: str, wavelength) -> list[xr.Dataset]:
    leaves = []
    routes = [r for r in root.iter("DataRoute") if r.get("RouteFlag", "Measured") == "Measured"]
    if not routes:
        raise CorruptFileError(path, f"{member}: no measured DataRoute")
    tube: dict[str, Any] = {
        "kalpha1": _value(root, "WaveLengthAlpha1"),
        "kalpha2": _value(root, "WaveLengthAlpha2"),
        "kbeta": _value(root, "WaveLengthBeta"),
        "ratio": _value(root, "WaveLengthRatio"),
        "average": _value(root, "WaveLengthAverage"),
    }
    material = root.find(".//TubeMaterial")
    anode = material.text.strip() if material is not None and material.text else None
    voltage, current = _value(root, "Voltage"), _value(root, "Current")
    started = root.findtext("TimeStampStarted") or ""
    for route in routes:
        scan = route.find("ScanInformation")
        if scan is None:
            raise CorruptFileError(path, f"{member}: DataRoute without ScanInformation")
        rows = [d.text or "" for d in route.findall("Datum")]
        if len(rows) < 2:
            raise CorruptFileError(path, f"{member}: fewer than 2 <Datum> rows")
        try:
            table = np.asarray([[float(v) for v in row.split(",")] for row in rows])
        except ValueError:
            bad = next(i for i, row in enumerate(rows) if not all(_is_number(v) for v in row.split(",")))
            raise CorruptFileError(path, f"{member}: non-numeric <Datum> #{bad + 1}: {rows[bad][:40]!r}") from None
        except Exception:  # ragged rows make numpy raise
            raise CorruptFileError(path, f"{member}: <Datum> rows of different lengths") from None
        if table.ndim != 2:
            raise CorruptFileError(path, f"{member}: <Datum> rows of different lengths")
        expected = to_float(scan.findtext("MeasurementPoints"))
        if expected is not None and int(expected) != table.shape[0]:
            raise CorruptFileError(path, f"{member}: {table.shape[0]} data points, the scan announces {int(expected)}")
        roles = _columns(route)
        two_theta_col = roles.get("axis:TwoTheta")
        if two_theta_col is None:
            raise ReadError(
                path, f"{member}: scan {scan.get('ScanName')!r} does not drive 2θ; only 2θ scans are supported"
            )
        if not roles["recorded"]:
            raise CorruptFileError(path, f"{member}: no recorded detector channel in DataViews")
        if max(two_theta_col, *(s for _, s, _ in roles["recorded"])) >= table.shape[1]:
            raise CorruptFileError(path, f"{member}: DataViews point past the {table.shape[1]} <Datum> columns")
        _, counts_col, channel = roles["recorded"][0]
        axes = {el.get("AxisId"): el for el in scan.iter("ScanAxisInfo")}
        tt = axes.get("TwoTheta")
        attrs: dict[str, Any] = {
            "technique": "xrd",
            "source_format": "bruker_brml",
            "scan_axis": scan.get("ScanName", ""),
            "scan_mode": scan.findtext("ScanMode") or "",
            "acquired_at": started,
            "detector_channel": channel,
            "original_metadata": {
                "member": member,
                "scan": {k: v for k, v in scan.attrib.items()},
                "scan_axes": {k: {c.tag: (c.text or "").strip() for c in v} for k, v in axes.items()},
                "tube": {**tube, "anode": anode, "voltage_kv": voltage, "current_ma": current},
                "columns": {k: v for k, v in roles.items() if k != "recorded"},
                "recorded_channels": [name for _, _, name in roles["recorded"]],
            },
        }
        if tt is not None and (inc := to_float(tt.findtext("Increment"))) is not None:
            attrs["step_deg"] = inc
        if (t := to_float(scan.findtext("TimePerStep"))) is not None:
            attrs["counting_time_s"] = t
        if voltage is not None:
            attrs["voltage_kv"] = voltage
        if current is not None:
            attrs["current_ma"] = current
        attrs.update(wavelength_attrs(**tube, anode=anode, override=wavelength))
        ds = finite_leaf(path, table[:, counts_col], table[:, two_theta_col], units="counts", attrs=attrs)
        if "AbsorptionFactor" in roles:
            ds["absorption_factor"] = ("two_theta", table[:, roles["AbsorptionFactor"]], {"units": "1"})
        if "MeasuredTime" in roles and not np.all(table[:, roles["MeasuredTime"]] == table[0, roles["MeasuredTime"]]):
            ds["counting_time"] = ("two_theta", table[:, roles["MeasuredTime"]], {"units": "s"})
        for axis_id, col in ((k[5:], v) for k, v in roles.items() if k.startswith("axis:") and k != "axis:TwoTheta"):
            name = {"Theta": "omega_position"}.get(axis_id, f"{axis_id.lower()}_position")
            ds = ds.assign_coords({name: ("two_theta", table[:, col], {"units": "deg"})})
        for _, col, name in roles["recorded"][1:]:
            var = re.sub(r"\W+", "_", name).strip("_") or f"channel_{col}"
            ds[var] = ("two_theta", table[:, col], {"units": "counts"})
        leaves.append(ds)
    return leaves


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@register(
    name="bruker_brml",
    description="Bruker DIFFRAC.SUITE .brml (zip of XML; one leaf per measured range)",
    extensions=(".brml",),
    techniques=("xrd",),
)
def read_brml(
    path: str | os.PathLike, *, technique: str | None = None, wavelength: float | dict | None = None
) -> xr.DataTree:
    """Read a Bruker ``.brml`` container.

    Parameters
    ----------
    path
        The file.
    technique
        ``"xrd"`` or ``None``.
    wavelength
        Override the wavelengths the file states.
    """
    path = Path(path)
    children: dict[str, xr.DataTree] = {}
    taken: set[str] = set()
    with open_zip_safely(path) as archive:
        members = sorted(
            (m for m in archive.namelist() if _RAW_MEMBER.match(m)),
            key=lambda m: tuple(int(g) for g in _RAW_MEMBER.match(m).groups()),
        )
        if not members:
            raise CorruptFileError(path, "brml container holds no Experiment*/RawData*.xml")
        all_leaves = []
        for member in members:
            root = strip_namespaces(parse_xml_safely(read_zip_member(archive, member, path), path, member))
            for ds in _read_rawdata(root, path, member, wavelength):
                all_leaves.append((member, ds))
    for member, ds in all_leaves:
        exp, raw = _RAW_MEMBER.match(member).groups()
        name = path.stem if len(all_leaves) == 1 else f"experiment{exp}_range{raw}"
        children[node_name(name, taken)] = xr.DataTree(ds)
    return xr.DataTree(children=children, dataset=xr.Dataset(attrs={"source_format": "bruker_brml"}))


@read_brml.sniffer
def _sniff(head: bytes, path: Path) -> float:
    if not head.startswith(b"PK\x03\x04"):
        return 0.0
    if re.search(rb"Experiment\d+/", head) or b"experimentCollection.xml" in head:
        return 1.0
    return 0.3 if path.suffix.lower() == ".brml" else 0.0
