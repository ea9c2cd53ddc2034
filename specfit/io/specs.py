"""SPECS exports: SpecsLab2 / SpecsLab Prodigy ``.xy`` text and SpecsLab2 ``.xml`` (CORBA serializer).

``.xy``
    ``#``-comment metadata (export settings, then per ``Group:``/``Region:`` the acquisition
    parameters), then for every ``Cycle: n, Curve: c[, Scan: s]`` a ``ColumnLabels:`` line and
    whitespace-separated columns (energy, counts or counts/s, optionally transmission or a scaling
    factor). Each region becomes one leaf; its cycles and (separately exported) scans become
    ``cycle``/``scan`` dimensions when there is more than one. The energy axis is binding energy
    when the export settings say so (Prodigy "Energy Axis: Binding Energy", SpecsLab2
    "Kinetic Energy Axis: no" or "values in binding energy"), otherwise kinetic energy; scans in
    constant-final-state mode (XAS) run over the photon energy. Regions recorded at fixed energies
    (an ``index`` column: detector alignment snapshots) are not spectra: they are kept as non-leaf
    nodes holding ``signal`` over ``index``.
``.xml``
    SpecsLab2's XMLSerializer output. For each region, ``RegionDef`` gives the scan (start kinetic
    energy, step ``scan_delta``, ``values_per_curve``, pass energy, hν) and every cycle holds
    ``scans`` of raw ``counts`` recorded by the multi-channel detector: per energy step one count
    per channeltron, ``mcd_head`` + values + ``mcd_tail`` steps. Channel *i* sees the energy
    E + shift_i × E_pass, so the count of channel *i* for nominal step *k* is raw step
    ``k + mcd_head - round(shift_i × E_pass / scan_delta)`` (SpecsLab's own channel alignment;
    pynxtools-xps instead cuts ``mcd_head`` off every channel without the shift; option
    ``channel_alignment="head_cut"`` reproduces that). The leaf holds the channel-summed counts
    per ``(cycle, scan)`` as ``scan_counts`` and, as ``intensity``, their mean over scans and
    cycles (counts per scan, as pynxtools-xps stores them). The XML calls its scan start
    ``kinetic_energy``, and it is one: with hν = 1253.6 eV the survey's 553.6 eV start is 700 eV
    binding energy, so the axis runs 700 → -1 eV BE (pynxtools labels its BE-valued axis
    "kinetic" and shifts it by +1 eV).
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..conventions import node_name
from ..errors import CorruptFileError, ReadError, UnknownFormatError
from ..xps.regions import normalize_region
from ._xpsutil import intensity_units, snake, xps_leaf
from .registry import register
from .text import decode_text

__all__ = ["read_specs_xml", "read_specs_xy"]

_META = re.compile(r"^#\s*([^:]+?):\s*(.*?)\s*$")
_CURVE = re.compile(r"^#\s*Cycle:\s*(\d+),\s*Curve:\s*(\d+)(?:,\s*Scan:\s*(\d+))?")
_CYCLE = re.compile(r"^#\s*Cycle:\s*(\d+)\s*$")


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _parse_xy(lines: list[str], path) -> tuple[dict[str, str], list[dict[str, Any]]]:
    settings: dict[str, str] = {}
    regions: list[dict[str, Any]] = []
    group = ""
    energy_note = ""
    region: dict[str, Any] | None = None
    curve: dict[str, Any] | None = None
    in_settings = True
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            low = line.lower()
            if "values in kinetic energy" in low or "values in binding energy" in low:
                energy_note = "binding" if "binding" in low else "kinetic"
                continue
            m = _CURVE.match(line)
            if m:
                if region is None:
                    raise CorruptFileError(path, "curve before any Region: line", line=number)
                curve = {
                    "cycle": int(m.group(1)),
                    "curve": int(m.group(2)),
                    "scan": int(m.group(3)) if m.group(3) is not None else None,
                    "rows": [],
                    "meta": {},
                    "line": number,
                }
                region["curves"].append(curve)
                continue
            m = _CYCLE.match(line)
            if m:
                curve = None
                continue
            m = _META.match(line)
            if not m:
                if region is not None and curve is None and line.strip("# "):
                    region["meta"].setdefault("text", []).append(line.lstrip("# "))
                continue
            key, value = m.group(1).strip(), m.group(2)
            if key == "Group":
                group, in_settings = value, False
                continue
            if key == "Region":
                in_settings = False
                region = {
                    "group": group,
                    "name": value,
                    "meta": {},
                    "curves": [],
                    "energy_note": energy_note,
                    "line": number,
                }
                regions.append(region)
                curve = None
                energy_note = ""
                continue
            if in_settings:
                settings[key] = value
            elif curve is not None:
                curve["meta"][key] = value
            elif region is not None:
                region["meta"].setdefault(key, value)
            continue
        if curve is None:
            raise CorruptFileError(path, "data row outside a Cycle/Curve section", line=number)
        try:
            curve["rows"].append([float(v) for v in line.split()])
        except ValueError:
            raise CorruptFileError(path, f"non-numeric data row {line[:40]!r}", line=number) from None
        if len(curve["rows"][-1]) != len(curve["rows"][0]):
            raise CorruptFileError(path, "data row with a different number of columns", line=number)
    return settings, regions


def _xy_axis_kind(settings: dict[str, str], region: dict[str, Any]) -> str:
    scan_mode = region["meta"].get("Scan Mode", "").lower()
    if "constantfinalstate" in scan_mode.replace(" ", "") or "constantinitialstate" in scan_mode.replace(" ", ""):
        return "photon_energy"
    if region["energy_note"]:
        return f"{region['energy_note']}_energy"
    axis = settings.get("Energy Axis", "").lower()
    if axis:
        return "binding_energy" if "binding" in axis else "kinetic_energy"
    ke = settings.get("Kinetic Energy Axis", "").lower()
    if ke:
        return "kinetic_energy" if ke == "yes" else "binding_energy"
    return "binding_energy" if "Binding Energy" in region["meta"] else "kinetic_energy"


@register(
    name="specs_xy",
    description="SPECS SpecsLab2 / Prodigy .xy export (groups, regions, cycles, scans, transmission)",
    extensions=(".xy", ".txt"),
    techniques=("xps",),
)
def read_specs_xy(path: str | os.PathLike, *, technique: str | None = None) -> xr.DataTree:
    """Read a SPECS ``.xy`` export: one leaf per region (cycles/scans as extra dimensions)."""
    path = Path(path)
    lines = decode_text(path.read_bytes(), path).splitlines()
    settings, regions = _parse_xy(lines, path)
    if not regions:
        raise UnknownFormatError(path, "no '# Region:' section: not a SPECS .xy export", line=1)
    children: dict[str, xr.DataTree] = {}
    taken: set[str] = set()
    groups: dict[str, dict[str, xr.DataTree]] = {}
    for region in regions:
        curves = [c for c in region["curves"] if c["rows"]]
        if not curves:
            raise CorruptFileError(path, f"region {region['name']!r} holds no data", line=region["line"])
        labels = (curves[0]["meta"].get("ColumnLabels") or region["meta"].get("ColumnLabels", "")).split()
        arrays = [np.asarray(c["rows"]) for c in curves]
        shape = arrays[0].shape
        declared = _float(region["meta"].get("Values/Curve"))
        if declared is not None and int(declared) != shape[0]:
            raise CorruptFileError(
                path,
                f"region {region['name']!r}: {shape[0]} rows, Values/Curve says {int(declared)}",
                line=region["line"],
            )
        if any(a.shape != shape or not np.allclose(a[:, 0], arrays[0][:, 0]) for a in arrays):
            raise CorruptFileError(
                path, f"region {region['name']!r}: cycles/scans on different energy axes", line=region["line"]
            )
        if shape[0] < 2:
            raise CorruptFileError(path, f"region {region['name']!r}: fewer than 2 points", line=region["line"])
        cycles = sorted({c["cycle"] for c in curves})
        scans = sorted({c["scan"] if c["scan"] is not None else 0 for c in curves})
        declared_scans = _float(region["meta"].get("Number of Scans"))
        if any(c["scan"] is not None for c in curves) and declared_scans is not None:
            # separately exported scans: the declared count also covers scans that never came
            if declared_scans * len(cycles) * shape[0] * shape[1] > 50_000_000:
                raise CorruptFileError(
                    path,
                    f"region {region['name']!r}: {declared_scans:g} scans declared, implausible",
                    line=region["line"],
                )
            scans = sorted(set(scans) | set(range(int(declared_scans))))
        curve_ids = sorted({c["curve"] for c in curves})  # several curves per scan: detector slices
        stack = np.full((len(cycles), len(scans), len(curve_ids), shape[0], shape[1]), np.nan)
        seen: set[tuple[int, int, int]] = set()
        for c, a in zip(curves, arrays):
            key = (cycles.index(c["cycle"]), scans.index(c["scan"] or 0), curve_ids.index(c["curve"]))
            if key in seen:
                raise CorruptFileError(path, "the same cycle/curve/scan appears twice", line=c["line"])
            seen.add(key)
            stack[key] = a
        # an interrupted acquisition leaves cycles/scans missing: they stay NaN and are counted
        missing = stack.shape[0] * stack.shape[1] * stack.shape[2] - len(seen)
        # keep cycle/scan/curve dimensions only where there is more than one
        lead: dict[str, np.ndarray] = {}
        values = stack
        for axis_index, (dim, ids) in reversed(
            list(enumerate((("cycle", cycles), ("scan", scans), ("index", curve_ids))))
        ):
            if len(ids) == 1:
                values = np.take(values, 0, axis=axis_index)
            else:
                lead = {dim: np.asarray(ids), **lead}
        x = arrays[0][:, 0]
        meta = region["meta"]
        hv = _float(meta.get("Excitation Energy"))
        kind = _xy_axis_kind(settings, region)
        ylabel = labels[1] if len(labels) > 1 else "counts"
        units = intensity_units(
            "", ylabel, settings.get("Count Rate", "") + " " + settings.get("Counts Per Second", "")
        )
        if "Counts Per Second" in settings and settings["Counts Per Second"].lower() == "yes":
            units = "counts/s"
        attrs: dict[str, Any] = {
            "technique": technique
            or ("xps" if meta.get("Analysis Method", "XPS").upper() in ("XPS", "UPS") else "other"),
            "source_format": "specs_xy",
            "region": normalize_region(region["name"]),
            "region_label": region["name"],
            "group": region["group"],
            "instrument": meta.get("Analyzer", ""),
            "analyser_mode": meta.get("Scan Mode", ""),
            "source_label": meta.get("Source", ""),
            "missing_curves": missing,
            "original_metadata": {"settings": settings, "region": meta, "curves": [c["meta"] for c in curves]},
        }
        for key, attr in (
            ("Pass Energy", "pass_energy_ev"),
            ("Dwell Time", "dwell_time_s"),
            ("Eff. Workfunction", "work_function_ev"),
        ):
            value = _float(meta.get(key))
            if value is not None:
                attrs[attr] = value
        nscans = _float(meta.get("Number of Scans") or curves[0]["meta"].get("Number of Scans"))
        if nscans is not None:
            attrs["scans"] = int(nscans)
        if hv is not None:
            attrs["excitation_energy_ev"] = hv
        date = meta.get("Acquisition Date", "")
        m = re.match(r"(\d\d)/(\d\d)/(\d\d)\s+(\d\d:\d\d:\d\d)(\s+UTC)?", date)
        if m:
            attrs["acquired_at"] = f"20{m.group(3)}-{m.group(1)}-{m.group(2)}T{m.group(4)}" + (
                "Z" if m.group(5) else ""
            )
        dims = (*lead, "AXIS")
        extra_vars: dict[str, tuple] = {}
        for col in range(2, shape[1]):
            label = labels[col] if col < len(labels) else f"column_{col + 1}"
            name = "transmission" if "transmission" in label.lower() else snake(label)
            extra_vars[name] = (dims, values[..., col], {"long_name": label})
        group_children = groups.setdefault(region["group"], {})
        name = node_name(region["name"], taken)
        if kind in ("binding_energy", "kinetic_energy", "photon_energy") and labels[:1] != ["index"]:
            axis_name = (
                "binding_energy"
                if (kind == "binding_energy" or (kind == "kinetic_energy" and hv is not None))
                else kind
            )
            extra_vars = {
                k: (tuple(axis_name if d == "AXIS" else d for d in v[0]), v[1], v[2]) for k, v in extra_vars.items()
            }
            ds = xps_leaf(
                values[..., 1],
                kind,
                x,
                excitation_energy=hv if kind != "photon_energy" else None,
                units=units,
                attrs=attrs,
                extra_dims=lead,
                variables=extra_vars,
                axis_attrs={"label": labels[0] if labels else ""},
            )
            group_children[name] = xr.DataTree(ds)
        else:  # fixed-energy (alignment) acquisition: a signal over an index, not a spectrum
            ds = xr.Dataset(
                {"signal": ((*lead, "index"), values[..., 1], {"units": units})},
                coords={"index": x, **{k: (k, v) for k, v in lead.items()}},
                attrs=attrs,
            )
            for k, (d, v, a) in extra_vars.items():
                ds[k] = (tuple("index" if dd == "AXIS" else dd for dd in d), v, a)
            from ..conventions import sanitize_attrs

            ds.attrs = sanitize_attrs(ds.attrs)
            group_children[name] = xr.DataTree(ds)
    if len(groups) == 1:
        children = next(iter(groups.values()))
    else:
        gtaken: set[str] = set()
        for gname, kids in groups.items():
            children[node_name(gname or "group", gtaken)] = xr.DataTree(
                children=kids, dataset=xr.Dataset(attrs={"group": gname})
            )
    return xr.DataTree(children=children, dataset=xr.Dataset(attrs={"source_format": "specs_xy", **settings}))


@read_specs_xy.sniffer
def _sniff_xy(head: bytes, path: Path) -> float:
    text = head.decode("latin-1", "replace")
    if text.lstrip().startswith("# Created by:") and ("SpecsLab" in text[:300] or "XY-Serializer" in text):
        return 1.0
    return 0.0


# ----------------------------------------------------------------------------------------------
# SpecsLab2 XML


def _named(struct: ET.Element, name: str) -> ET.Element | None:
    for child in struct:
        if child.attrib.get("name") == name:
            return child
    return None


def _value(struct: ET.Element, name: str, path) -> str:
    el = _named(struct, name)
    if el is None:
        raise CorruptFileError(path, f"element '{name}' missing in {struct.attrib.get('type_name', struct.tag)}")
    return (el.text or "").strip()


def _numbers(seq: ET.Element, path, what: str) -> np.ndarray:
    length = int(seq.attrib.get("length", "0"))
    if length == 0:
        return np.zeros(0)
    leaf = seq[0] if len(seq) else None
    text = (leaf.text if leaf is not None else "") or ""
    try:
        values = np.array(text.split(), dtype=float)
    except ValueError:
        raise CorruptFileError(path, f"non-numeric value in {what}") from None
    if values.size != length:
        raise CorruptFileError(path, f"{what}: {values.size} values, declared length {length}")
    return values


def _params(seq: ET.Element | None) -> dict[str, str]:
    out: dict[str, str] = {}
    if seq is None:
        return out
    for p in seq:
        name = _named(p, "name")
        value = _named(p, "value")
        if name is not None and value is not None:
            out[(name.text or "").strip()] = " ".join(t.strip() for t in value.itertext() if t.strip())
    return out


@register(
    name="specs_xml",
    description="SPECS SpecsLab2 XML (XMLSerializer) with raw multi-channel-detector scans",
    extensions=(".xml",),
    techniques=("xps",),
)
def read_specs_xml(
    path: str | os.PathLike, *, technique: str | None = None, channel_alignment: str = "shift"
) -> xr.DataTree:
    """Read a SpecsLab2 ``.xml`` file: one leaf per region (raw scans kept as ``scan_counts``).

    Parameters
    ----------
    channel_alignment
        ``"shift"`` (default) shifts each channeltron by its calibrated energy offset before summing;
        ``"head_cut"`` only drops ``mcd_head``/``mcd_tail`` steps from every channel (what
        pynxtools-xps does; kept to compare with it).
    """
    if channel_alignment not in ("shift", "head_cut"):
        raise ValueError(f"channel_alignment must be 'shift' or 'head_cut', not {channel_alignment!r}")
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        line, _col = exc.position
        raise CorruptFileError(path, f"XML is damaged: {exc}", line=line) from None
    groups = root.findall("./sequence[@type_name='RegionGroupSeq']/struct")
    if not groups:
        raise UnknownFormatError(path, "no RegionGroupSeq: not a SpecsLab2 XML file")
    children: dict[str, xr.DataTree] = {}
    taken: set[str] = set()
    for group in groups:
        gname = _value(group, "name", path)
        regions = _named(group, "regions")
        if regions is None:
            continue
        for rd in regions:
            leaf = _xml_region(rd, gname, path, channel_alignment)
            children[node_name(_value(rd, "name", path), taken)] = xr.DataTree(leaf)
    if not children:
        raise CorruptFileError(path, "the XML holds no region")
    return xr.DataTree(children=children, dataset=xr.Dataset(attrs={"source_format": "specs_xml"}))


def _xml_region(rd: ET.Element, group: str, path, channel_alignment: str) -> xr.Dataset:
    name = _value(rd, "name", path)
    rdef = _named(rd, "region")
    if rdef is None:
        raise CorruptFileError(path, f"region {name!r} has no RegionDef")
    f = {child.attrib.get("name"): (child.text or "").strip() for child in rdef if child.attrib.get("name")}
    scan_mode_el = _named(rdef, "scan_mode")
    scan_mode = _value(scan_mode_el, "name", path) if scan_mode_el is not None else ""
    try:
        npts = int(f["values_per_curve"])
        curves = int(f["curves_per_scan"])
        delta = float(f["scan_delta"])
        ke_start = float(f["kinetic_energy"]) + float(f.get("kinetic_energy_base", 0) or 0)
        hv = float(f["excitation_energy"])
        pass_energy = float(f["pass_energy"])
        dwell = float(f["dwell_time"])
        head = int(_value(rd, "mcd_head", path))
        tail = int(_value(rd, "mcd_tail", path))
    except (KeyError, ValueError) as exc:
        raise CorruptFileError(path, f"region {name!r}: RegionDef value missing or invalid ({exc})") from None
    if npts < 2 or curves < 1 or head < 0 or tail < 0 or delta == 0:
        raise CorruptFileError(
            path, f"region {name!r}: implausible RegionDef ({npts} values, {curves} curves, head {head}, tail {tail})"
        )
    analyzer = _named(rd, "analyzer_info")
    detectors = _named(analyzer, "detectors") if analyzer is not None else None
    shifts = np.array([float(_value(d, "shift", path)) for d in detectors]) if detectors is not None else np.zeros(1)
    nchan = len(shifts)
    nsteps = (npts * curves) + head + tail
    cycles_el = _named(rd, "cycles")
    cycle_data = []
    times = []
    for cyc in cycles_el if cycles_el is not None else []:
        scans_el = _named(cyc, "scans")
        times.append(int(_value(cyc, "time", path) or 0))
        per_scan = []
        for scan in scans_el if scans_el is not None else []:
            counts = _numbers(_named(scan, "counts"), path, f"{name} counts")
            if counts.size != nsteps * nchan:
                raise CorruptFileError(
                    path, f"region {name!r}: {counts.size} counts, expected ({npts}+{head}+{tail}) × {nchan} channels"
                )
            per_scan.append(counts.reshape(nsteps, nchan))
        if per_scan:
            cycle_data.append(per_scan)
    if not cycle_data:
        raise CorruptFileError(path, f"region {name!r} holds no counts")
    nscans = max(len(c) for c in cycle_data)
    if any(len(c) != nscans for c in cycle_data):
        raise ReadError(path, f"region {name!r}: cycles with different numbers of scans are not supported")
    raw = np.asarray(cycle_data)  # (cycle, scan, step, channel)
    offsets = np.rint(shifts * pass_energy / delta).astype(int)
    k = np.arange(npts * curves)
    aligned = np.zeros((*raw.shape[:2], npts * curves))
    alignment = "shift"
    fits = np.all(head - offsets >= 0) and np.all(head - offsets + npts * curves <= nsteps)
    if channel_alignment == "shift" and fits:
        for ch, off in enumerate(offsets):
            aligned += raw[:, :, k + head - off, ch]
    else:  # asked for, or shifts outside the recorded head/tail: the plain head cut
        alignment = "head_cut"
        aligned = raw[:, :, head : head + npts * curves, :].sum(axis=-1)
    # counts per scan: channel-summed counts averaged over the scans and cycles (the pynxtools-xps
    # "averaged" data); the per-scan counts stay in scan_counts
    intensity = aligned.mean(axis=(0, 1))
    kinetic = ke_start + delta * np.arange(npts * curves)
    transmission = (
        _numbers(_named(rd, "transmission"), path, f"{name} transmission")
        if _named(rd, "transmission") is not None
        else np.zeros(0)
    )
    variables: dict[str, tuple] = {
        "scan_counts": (
            ("cycle", "scan", "binding_energy"),
            aligned,
            {"units": "counts", "long_name": "channel-summed counts per scan"},
        ),
    }
    if transmission.size == npts * curves:
        variables["transmission"] = (("binding_energy",), transmission, {"long_name": "analyser transmission"})
    source = _named(rd, "source_info")
    attrs = {
        "technique": "xps",
        "source_format": "specs_xml",
        "region": normalize_region(name),
        "region_label": name,
        "group": group,
        "instrument": _value(analyzer, "name", path) if analyzer is not None else "",
        "analyser_mode": scan_mode,
        "source_label": _value(source, "name", path) if source is not None else "",
        "excitation_energy_ev": hv,
        "pass_energy_ev": pass_energy,
        "dwell_time_s": dwell,
        "scans": nscans,
        "cycles": len(cycle_data),
        "channel_alignment": alignment,
        "work_function_ev": float(f.get("effective_workfunction", "nan") or "nan"),
        "original_metadata": {
            "region_def": f,
            "detector_shifts": shifts.tolist(),
            "mcd_head": head,
            "mcd_tail": tail,
            "cycle_times_unix": times,
            "parameters": _params(_named(rd, "parameters")),
            "source_parameters": _params(_named(source, "parameters")) if source is not None else {},
        },
    }
    return xps_leaf(
        intensity,
        "kinetic_energy",
        kinetic,
        excitation_energy=hv,
        units="counts",
        attrs=attrs,
        variables=variables,
        coords={"cycle": (("cycle",), np.arange(len(cycle_data)), {}), "scan": (("scan",), np.arange(nscans), {})},
    )


@read_specs_xml.sniffer
def _sniff_xml(head: bytes, path: Path) -> float:
    if b"<?xml" in head[:100] and (b"specs.de/Serializer" in head or b"XMLSerializer" in head[:400]):
        return 1.0
    return 0.0
