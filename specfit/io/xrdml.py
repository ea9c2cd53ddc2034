"""PANalytical / Malvern Panalytical XRDML (XML, schema versions 1.0 to 2.3).

Layout (namespace ``http://www.xrdml.com/XRDMeasurement/<version>``; versions differ only in optional
elements, so namespaces are stripped)::

    xrdMeasurements
      sample/{id,name}
      xrdMeasurement measurementType= ("Scan", "Repeated scan", "Area measurement") measurementStepAxis=
        usedWavelength/{kAlpha1,kAlpha2,kBeta,ratioKAlpha2KAlpha1}
        incidentBeamPath/xRayTube/{tension,current,anodeMaterial}
        scan mode= ("Continuous", "Pre-set time") scanAxis= ("Gonio", "2Theta-Omega", "2Theta" ...)
          header/{startTimeStamp,endTimeStamp,source/...}
          dataPoints
            positions axis= unit= : startPosition+endPosition | listPositions | commonPosition
            beamAttenuationFactors (optional, one per point)
            commonCountingTime | countingTimes
            counts | intensities   (unit="counts" or "counts per second")

Intensities: ``<counts>`` are the detector counts as recorded (with the beam attenuator in, they are the
attenuated counts); ``<intensities>`` are already corrected for the attenuation by the Data Collector. specfit's
``intensity`` is always the attenuation-corrected value (``counts × beamAttenuationFactors`` for ``<counts>``);
the raw counts and the factors are kept as the data variables ``counts_raw`` and ``beam_attenuation_factor``.

Several scans: scans that share the same 2θ points become one leaf with a leading series dimension — the
measurement step axis for area measurements (``omega`` for an ω × 2θ mesh, else ``scan``) — and scans with
different 2θ points become one leaf each.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import numpy as np
import xarray as xr

from ..conventions import SERIES_DIMS, node_name
from ..errors import CorruptFileError, ReadError, UnknownFormatError
from ._xrd import finite_leaf, parse_numbers, parse_xml_safely, strip_namespaces, to_float, wavelength_attrs
from .registry import register

__all__ = ["read_xrdml"]

_CPS_UNITS = {"counts per second", "cps", "counts/s", "counts/second"}


def element_to_dict(element: Element, skip: frozenset[str] = frozenset()) -> Any:
    """Turn an XML element into nested dicts (attributes prefixed ``@``, text as ``#text``, repeats as lists)."""
    children = [c for c in element if isinstance(c.tag, str) and c.tag not in skip]
    text = (element.text or "").strip()
    if not children and not element.attrib:
        return text
    out: dict[str, Any] = {f"@{k}": v for k, v in element.attrib.items()}
    for child in children:
        value = element_to_dict(child, skip)
        if child.tag in out:
            if not isinstance(out[child.tag], list):
                out[child.tag] = [out[child.tag]]
            out[child.tag].append(value)
        else:
            out[child.tag] = value
    if text:
        out["#text"] = text
    return out


def _text(element: Element | None, path: str) -> str | None:
    if element is None:
        return None
    found = element.find(path)
    if found is None or found.text is None:
        return None
    return found.text.strip()


def _positions(points: Element, n: int, path: Path, scan_no: int) -> dict[str, dict[str, Any]]:
    """Axis name -> {"unit", "values" (array of n) or "common" (float)}."""
    axes: dict[str, dict[str, Any]] = {}
    for pos in points.findall("positions"):
        axis = pos.get("axis", "")
        entry: dict[str, Any] = {"unit": pos.get("unit", "")}
        listed = pos.find("listPositions")
        start, end = to_float(_text(pos, "startPosition")), to_float(_text(pos, "endPosition"))
        common = to_float(_text(pos, "commonPosition"))
        if listed is not None:
            values = np.asarray(parse_numbers(listed.text, path, f"listPositions of {axis} (scan {scan_no})"))
            if values.size != n:
                raise CorruptFileError(
                    path, f"scan {scan_no}: {values.size} {axis} positions for {n} intensities (file truncated?)"
                )
            entry["values"] = values
        elif start is not None and end is not None:
            entry["values"] = np.linspace(start, end, n) if n > 1 else np.array([start])
            entry["start"], entry["end"] = start, end
        elif common is not None:
            entry["common"] = common
        else:
            raise CorruptFileError(path, f"scan {scan_no}: positions of axis {axis!r} have no values")
        axes[axis] = entry
    return axes


def _read_scan(scan: Element, path: Path, scan_no: int) -> dict[str, Any]:
    points = scan.find("dataPoints")
    if points is None:
        raise CorruptFileError(path, f"scan {scan_no} has no dataPoints")
    signal = points.find("counts")
    kind = "counts"
    if signal is None:
        signal = points.find("intensities")
        kind = "intensities"
    if signal is None:
        raise CorruptFileError(path, f"scan {scan_no} has neither <counts> nor <intensities>")
    values = np.asarray(parse_numbers(signal.text, path, f"<{kind}> of scan {scan_no}"), dtype=float)
    n = values.size
    if n == 0:
        raise CorruptFileError(path, f"scan {scan_no} holds no data points")
    unit = (signal.get("unit") or "counts").strip()
    axes = _positions(points, n, path, scan_no)
    if "2Theta" not in axes or "values" not in axes["2Theta"]:
        scan_axis = scan.get("scanAxis", "?")
        raise ReadError(
            path,
            f"scan {scan_no} (scan axis {scan_axis!r}) does not scan 2θ; rocking curves and other non-2θ scans "
            "have no conventional spectral axis and are not supported",
        )
    attenuation = None
    att = points.find("beamAttenuationFactors")
    if att is not None and att.text and att.text.strip():
        attenuation = np.asarray(parse_numbers(att.text, path, f"beamAttenuationFactors of scan {scan_no}"))
        if attenuation.size != n:
            raise CorruptFileError(path, f"scan {scan_no}: {attenuation.size} attenuation factors for {n} points")
    counting_time = to_float(_text(points, "commonCountingTime"))
    counting_times = None
    times = points.find("countingTimes")
    if times is not None and times.text and times.text.strip():
        counting_times = np.asarray(parse_numbers(times.text, path, f"countingTimes of scan {scan_no}"))
        if counting_times.size != n:
            raise CorruptFileError(path, f"scan {scan_no}: {counting_times.size} counting times for {n} points")
    header = scan.find("header")
    return {
        "values": values,
        "kind": kind,
        "unit": unit,
        "axes": axes,
        "attenuation": attenuation,
        "counting_time": counting_time,
        "counting_times": counting_times,
        "mode": scan.get("mode", ""),
        "scan_axis": scan.get("scanAxis", ""),
        "status": scan.get("status", ""),
        "start": _text(header, "startTimeStamp"),
        "end": _text(header, "endTimeStamp"),
        "software": _text(header, "source/applicationSoftware"),
        "control": _text(header, "source/instrumentControlSoftware"),
        "meta": element_to_dict(scan, frozenset({"dataPoints"})),
    }


def _series_dim(step_axis: str) -> str:
    low = step_axis.lower()
    return low if low in SERIES_DIMS and low not in ("scan",) else "scan"


def _leaf(path: Path, scans: list[dict[str, Any]], base_attrs: dict[str, Any], step_axis: str | None) -> xr.Dataset:
    """One dataset from scans sharing the same 2θ points (a series dimension when there are several)."""
    first = scans[0]
    two_theta = first["axes"]["2Theta"]["values"]
    corrected = []
    for s in scans:
        y = s["values"]
        if s["kind"] == "counts" and s["attenuation"] is not None:
            y = y * s["attenuation"]
        corrected.append(y)
    units = "counts/s" if first["unit"].lower() in _CPS_UNITS else "counts"
    n = two_theta.size
    attrs = dict(base_attrs)
    attrs.update(
        {
            "scan_mode": first["mode"],
            "scan_axis": first["scan_axis"],
            "intensity_source": first["kind"],
            "acquired_at": first["start"] or "",
            "acquisition_end": scans[-1]["end"] or "",
            "step_deg": float((two_theta[-1] - two_theta[0]) / (n - 1)) if n > 1 else 0.0,
        }
    )
    if first["counting_time"] is not None:
        attrs["counting_time_s"] = first["counting_time"]
    if first["control"]:
        attrs["instrument"] = first["control"]
    extra_dims: dict[str, np.ndarray] = {}
    if len(scans) > 1:
        dim = _series_dim(step_axis) if step_axis else "scan"
        if dim != "scan":
            name = next((k for k in first["axes"] if k.lower() == dim), None)
            coord = [s["axes"].get(name, {}).get("common") for s in scans] if name else [None]
            if any(c is None for c in coord):
                dim = "scan"
            elif dim in ("x", "y", "z") and first["axes"][name]["unit"] == "mm":
                coord = [c * 1000.0 for c in coord]  # specfit's x/y/z are in µm
        if dim == "scan":
            coord = list(range(len(scans)))
        extra_dims[dim] = np.asarray(coord, dtype=float if dim != "scan" else int)
        data = np.stack(corrected)
    else:
        data = corrected[0]
    ds = finite_leaf(path, data, two_theta, units=units, attrs=attrs, extra_dims=extra_dims)
    lead = tuple(extra_dims)
    # other positions: scanned ones become coordinates along 2θ, fixed ones attributes
    for axis, entry in first["axes"].items():
        if axis == "2Theta":
            continue
        key = axis.lower().replace("-", "_")
        if lead and key == lead[0]:
            continue
        if "values" in entry:
            values = np.stack([s["axes"].get(axis, entry).get("values", entry["values"]) for s in scans])
            if lead:
                ds = ds.assign_coords({f"{key}_position": ((*lead, "two_theta"), values, {"units": entry["unit"]})})
            else:
                ds = ds.assign_coords({f"{key}_position": ("two_theta", values[0], {"units": entry["unit"]})})
        else:
            commons = [s["axes"].get(axis, {}).get("common") for s in scans]
            if len(set(commons)) == 1:
                ds.attrs[f"position_{key}"] = float(commons[0])
                ds.attrs[f"position_{key}_units"] = entry["unit"]
            elif lead and all(c is not None for c in commons):
                ds = ds.assign_coords({f"{key}_position": (lead, np.asarray(commons, float), {"units": entry["unit"]})})
    if first["attenuation"] is not None:
        stacked = np.stack([s["attenuation"] for s in scans]) if lead else first["attenuation"]
        ds["beam_attenuation_factor"] = ((*lead, "two_theta"), stacked, {"units": "1"})
        if first["kind"] == "counts":
            raw = np.stack([s["values"] for s in scans]) if lead else first["values"]
            ds["counts_raw"] = (
                (*lead, "two_theta"),
                raw,
                {"units": units, "long_name": "recorded (attenuated) counts"},
            )
    if first["counting_times"] is not None:
        stacked = np.stack([s["counting_times"] for s in scans]) if lead else first["counting_times"]
        ds["counting_time"] = ((*lead, "two_theta"), stacked, {"units": "s"})
    return ds


@register(
    name="xrdml",
    description="PANalytical / Malvern Panalytical XRDML (XML, versions 1.x and 2.x; scans, repeated scans, "
    "area measurements)",
    extensions=(".xrdml",),
    techniques=("xrd",),
)
def read_xrdml(
    path: str | os.PathLike,
    *,
    technique: str | None = None,
    wavelength: float | dict | None = None,
) -> xr.DataTree:
    """Read a PANalytical XRDML file.

    Parameters
    ----------
    path
        The ``.xrdml`` file.
    technique
        Only ``"xrd"`` (or ``None``) makes sense.
    wavelength
        Override the wavelengths the file states (see :func:`specfit.io._xrd.wavelength_attrs`).

    Returns
    -------
    xarray.DataTree
        One leaf per measurement (and per group of scans sharing the same 2θ points); a repeated scan or an
        area measurement is one leaf with a leading ``scan`` / ``omega`` dimension.
    """
    path = Path(path)
    raw = path.read_bytes()
    root = strip_namespaces(parse_xml_safely(raw, path))
    if root.tag != "xrdMeasurements":
        raise UnknownFormatError(path, f"root element is <{root.tag}>, not <xrdMeasurements>")
    namespace = ""
    head = raw[:2000].decode("latin-1")
    if "xrdml.com/XRDMeasurement/" in head:
        namespace = head.split("xrdml.com/XRDMeasurement/", 1)[1].split('"', 1)[0]
    sample = root.find("sample")
    file_meta = element_to_dict(root, frozenset({"xrdMeasurement"}))
    measurements = root.findall("xrdMeasurement")
    if not measurements:
        raise CorruptFileError(path, "no <xrdMeasurement> element")

    children: dict[str, xr.DataTree] = {}
    taken: set[str] = set()
    for m_no, meas in enumerate(measurements, start=1):
        scans_el = meas.findall("scan")
        if not scans_el:
            raise CorruptFileError(path, f"measurement {m_no} has no <scan>")
        scans = [_read_scan(s, path, i) for i, s in enumerate(scans_el, start=1)]
        tube = meas.find("incidentBeamPath/xRayTube")
        wl = meas.find("usedWavelength")
        attrs: dict[str, Any] = {
            "technique": "xrd",
            "source_format": "xrdml",
            "xrdml_version": namespace,
            "measurement_type": meas.get("measurementType", ""),
            "sample_mode": meas.get("sampleMode", ""),
        }
        attrs.update(
            wavelength_attrs(
                kalpha1=to_float(_text(wl, "kAlpha1")),
                kalpha2=to_float(_text(wl, "kAlpha2")),
                kbeta=to_float(_text(wl, "kBeta")),
                ratio=to_float(_text(wl, "ratioKAlpha2KAlpha1")),
                anode=_text(tube, "anodeMaterial"),
                override=wavelength,
            )
        )
        if wl is not None and wl.get("intended"):
            attrs["wavelength_intended"] = wl.get("intended")
        if tube is not None:
            attrs["tube"] = tube.get("name", "")
            if (kv := to_float(_text(tube, "tension"))) is not None:
                attrs["voltage_kv"] = kv
            if (ma := to_float(_text(tube, "current"))) is not None:
                attrs["current_ma"] = ma
        sample_name = _text(sample, "name") or _text(sample, "id")
        if sample_name:
            attrs["sample"] = sample_name
        meta = {
            "file": file_meta,
            "measurement": element_to_dict(meas, frozenset({"scan"})),
            "scans": [s["meta"] for s in scans] if len(scans) <= 5 else [scans[0]["meta"], f"... {len(scans)} scans"],
        }
        if len(scans) > 5:  # keep every scan's header, compactly
            meta["scan_start_times"] = [s["start"] for s in scans]
        attrs["original_metadata"] = meta
        step_axis = meas.get("measurementStepAxis")
        groups: list[list[dict[str, Any]]] = []
        for s in scans:
            for g in groups:
                ref = g[0]["axes"]["2Theta"]["values"]
                tt = s["axes"]["2Theta"]["values"]
                if ref.shape == tt.shape and np.allclose(ref, tt, rtol=0, atol=1e-6) and g[0]["kind"] == s["kind"]:
                    g.append(s)
                    break
            else:
                groups.append([s])
        for g_no, group in enumerate(groups, start=1):
            ds = _leaf(path, group, attrs, step_axis)
            name = path.stem if len(measurements) == 1 else f"measurement_{m_no}"
            if len(groups) > 1:
                name = f"{name}_scan_{g_no}"
            children[node_name(name, taken)] = xr.DataTree(ds)
    root_attrs = {"source_format": "xrdml", "xrdml_version": namespace}
    return xr.DataTree(children=children, dataset=xr.Dataset(attrs=root_attrs))


@read_xrdml.sniffer
def _sniff(head: bytes, path: Path) -> float:
    if b"<xrdMeasurements" in head or b"xrdml.com/XRDMeasurement" in head:
        return 1.0
    text = head.decode("utf-16", errors="ignore") if head.startswith((b"\xff\xfe", b"\xfe\xff")) else ""
    return 1.0 if "<xrdMeasurements" in text else 0.0
