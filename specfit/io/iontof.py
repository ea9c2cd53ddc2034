"""IONTOF SurfaceLab text exports (depth profiles and spectra) and plain ToF-SIMS profile tables.

Depth profile export (SurfaceLab 6/7 "Export profile as text")::

    # Profile Smoothing is Disabled                          <- free comment lines (kept)
    #<TAB><TAB><TAB><TAB>total<TAB>Ag_3+<TAB>...              <- species labels
    #<TAB><TAB><TAB><TAB>N/A<TAB>320.7077<TAB>...            <- masses (u); N/A for sums and ratios
    #Data Point #<TAB>Sputter Time (s)<TAB>Dose (ions)<TAB>Fluence (ions/cm^2)<TAB>Intensity ...
    1<TAB>0<TAB>2.75934e+06<TAB>1.10373e+11<TAB>1.33704e+06<TAB>...

Columns with a label "A / ( B )" are intensity ratios (``inf`` where B is 0); labels such as
``^118SnI_3-SnI_3-`` with mass N/A are sums of several peaks; ``total`` is the total-ion count.
The reader gives one ``(sputter_time, fragment)`` leaf: ``intensity`` (counts per data point) for
species, sums and the total, with coordinates ``fragment_mass`` (u, NaN for sums), ``fragment_kind``
(species/sum/total) and, along ``sputter_time``, ``scan`` (the data point number), ``dose`` and
``fluence``. Ratio columns go to ``intensity_ratio`` on their own ``ratio`` dimension, kept as the
file has them (``inf`` included).

Spectrum export::

    # Binning: 200 channels
    # Deadtime Correction: on
    Channel<TAB>m/z<TAB>Intensity
    100<TAB>0.000202<TAB>2

gives one leaf on ``mass`` with ``channel`` as a coordinate along it.

Plain tables (CSV/TSV) whose first column is a time and whose other columns are ion labels
(``Time (s),Cl-,PS3-,SO-``) are read as depth profiles with fragment masses computed from the
fragment formulas where they parse.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import xarray as xr

from ..conventions import make_leaf, node_name
from ..errors import CorruptFileError, ReadError
from .registry import register
from .text import axis_from_label, decode_text, parse_columns

__all__ = ["read_iontof_profile", "read_iontof_spectrum", "read_tofsims_table"]

_AXIS_QUANTITIES = {
    "data point": ("scan", ""),
    "sputter time": ("sputter_time", "s"),
    "dose": ("dose", "ions"),
    "fluence": ("fluence", "ions/cm^2"),
    "depth": ("depth", "nm"),
}
_RATIO = re.compile(r"\s/\s*\(")
_ION_LABEL = re.compile(r"^[\^\[\]\(\)A-Za-z0-9_,\s]+[+-]+$")


def _cells(line: str) -> list[str]:
    parts = [p.strip() for p in line.rstrip("\r\n").split("\t")]
    if parts and parts[-1] == "":  # SurfaceLab ends most rows with a tab
        parts = parts[:-1]
    return parts


def _parse_rows(lines: list[str], first_line: int, ncols: int, path: Path) -> np.ndarray:
    """Parse tab-separated numeric rows; errors name the line and column."""
    rows: list[list[float]] = []
    for number, line in enumerate(lines, start=first_line):
        if not line.strip():
            continue
        parts = _cells(line)
        if len(parts) != ncols:
            raise CorruptFileError(path, f"row has {len(parts)} columns, expected {ncols} (truncated?)", line=number)
        try:
            rows.append([float(p) for p in parts])
        except ValueError:
            for column, p in enumerate(parts, start=1):
                try:
                    float(p)
                except ValueError:
                    raise CorruptFileError(path, f"non-numeric value {p!r} in column {column}", line=number) from None
    if not rows:
        raise CorruptFileError(path, "no data rows after the header", line=first_line)
    return np.asarray(rows, dtype=float)


def _unique_labels(labels: list[str], masses: list[float]) -> list[str]:
    """Make repeated labels unique (SurfaceLab allows two peaks with one label, e.g. SnO+ twice).

    A repeat gets its mass appended, ``"SnO+ (135.8979 u)"``, or a counter when it has none; the
    labels as exported stay in the ``fragment_label`` coordinate.
    """
    seen: dict[str, int] = {}
    out = []
    for label, mass in zip(labels, masses):
        seen[label] = seen.get(label, 0) + 1
        if seen[label] == 1:
            out.append(label)
        elif np.isfinite(mass):
            out.append(f"{label} ({mass:.4f} u)")
        else:
            out.append(f"{label} ({seen[label]})")
    taken: set[str] = set()
    unique = []
    for label in out:  # a pathological file could still repeat a suffixed label
        candidate, k = label, 2
        while candidate in taken:
            candidate = f"{label} ({k})"
            k += 1
        taken.add(candidate)
        unique.append(candidate)
    return unique


def _polarity(labels: list[str]) -> str:
    signs = {lab.strip()[-1] for lab in labels if lab.strip() and lab.strip()[-1] in "+-"}
    if signs == {"+"}:
        return "positive"
    if signs == {"-"}:
        return "negative"
    return ""


def _fragment_masses(labels: list[str]) -> np.ndarray:
    from ..tofsims.fragments import FormulaError, exact_mass

    masses = np.full(len(labels), np.nan)
    for i, label in enumerate(labels):
        try:
            masses[i] = exact_mass(label)
        except FormulaError:
            pass
    return masses


def _profile_leaf(
    time: np.ndarray,
    intensity: np.ndarray,
    labels: list[str],
    masses: np.ndarray,
    kinds: list[str],
    *,
    attrs: dict,
    coords_along_time: dict[str, tuple[np.ndarray, str, str]],
    ratios: tuple[np.ndarray, list[str]] | None = None,
    units: str = "counts",
    time_label: str = "",
) -> xr.Dataset:
    ds = make_leaf(
        intensity.T,
        "sputter_time",
        time,
        units=units,
        attrs=attrs,
        extra_dims={"fragment": np.asarray(labels, dtype=object).astype(str)},
        axis_attrs={"label": time_label} if time_label else None,
    ).transpose("sputter_time", "fragment")
    ds = ds.assign_coords(
        fragment_mass=("fragment", masses, {"units": "u", "long_name": "Fragment m/z"}),
        fragment_kind=("fragment", np.asarray(kinds, dtype=str)),
    )
    for name, (values, unit, label) in coords_along_time.items():
        ds = ds.assign_coords({name: ("sputter_time", values, {"units": unit, "label": label})})
    if ratios is not None and ratios[1]:
        values, names = ratios
        ds["intensity_ratio"] = xr.Variable(
            ("sputter_time", "ratio"),
            values,
            {"units": "1", "long_name": "Intensity ratio", "note": "as exported; inf where the denominator is 0"},
        )
        ds = ds.assign_coords(ratio=("ratio", np.asarray(names, dtype=str)))
    return ds


# ----------------------------------------------------------------------------------------------
# depth profiles


def _find_quantity_row(lines: list[str]) -> int | None:
    for i, line in enumerate(lines[:200]):
        if not line.startswith("#"):
            return None
        low = line.lower()
        if "sputter time" in low and "intensity" in low:
            return i
    return None


@register(
    name="iontof_profile_txt",
    description="IONTOF SurfaceLab depth-profile text export (3 '#' header rows, inf in ratio columns)",
    extensions=(".txt",),
    techniques=("tofsims",),
)
def read_iontof_profile(path: str | os.PathLike, *, technique: str | None = None) -> xr.DataTree:
    """Read an IONTOF SurfaceLab depth-profile text export.

    Parameters
    ----------
    path
        The ``.txt`` export.
    technique
        Must be ``"tofsims"`` or ``None``.

    Returns
    -------
    xarray.DataTree
        One child leaf ``(sputter_time, fragment)``; see the module docstring.
    """
    path = Path(path)
    text = decode_text(path.read_bytes(), path)
    lines = text.splitlines()
    q = _find_quantity_row(lines)
    if q is None:
        raise CorruptFileError(path, "no '#Data Point # / Sputter Time (s) / ... Intensity' header row", line=1)
    if q < 2:
        raise CorruptFileError(path, "the species-label and mass header rows are missing", line=q + 1)
    quantities = _cells(lines[q].lstrip("#"))
    label_row = _cells(lines[q - 2])
    mass_row = _cells(lines[q - 1])
    ncols = len(quantities)
    if len(label_row) != ncols or len(mass_row) != ncols:
        raise CorruptFileError(
            path,
            f"header rows disagree: {len(label_row)} labels, {len(mass_row)} masses, {ncols} quantities",
            line=q - 1,
        )
    label_row[0] = label_row[0].lstrip("#").strip()
    mass_row[0] = mass_row[0].lstrip("#").strip()
    comments = [ln.lstrip("#").strip() for ln in lines[: q - 2] if ln.strip()]

    data = _parse_rows(lines[q + 1 :], q + 2, ncols, path)

    axis_cols: dict[str, tuple[int, str, str]] = {}
    intensity_cols: list[int] = []
    for i, (quantity, label) in enumerate(zip(quantities, label_row)):
        low = quantity.lower()
        key = next((k for k in _AXIS_QUANTITIES if low.startswith(k) or low.startswith("#" + k)), None)
        if key is not None and not label:
            name, unit = _AXIS_QUANTITIES[key]
            axis_cols[name] = (i, unit, quantity)
        elif label:
            intensity_cols.append(i)
        else:
            raise CorruptFileError(path, f"column {i + 1} ({quantity!r}) has no species label", line=q - 1)
    if "sputter_time" not in axis_cols:
        raise CorruptFileError(path, "no 'Sputter Time' column", line=q + 1)
    t_index, _unit, t_label = axis_cols["sputter_time"]
    scale = axis_from_label(t_label)[1]
    time = data[:, t_index] * scale
    if not np.all(np.isfinite(time)):
        bad = int(np.argmin(np.isfinite(time)))
        raise CorruptFileError(path, "sputter time is not a finite number", line=q + 2 + bad)

    species: list[int] = []
    ratio_cols: list[int] = []
    kinds: list[str] = []
    masses: list[float] = []
    for i in intensity_cols:
        label, mass_text = label_row[i], mass_row[i]
        if _RATIO.search(label):
            ratio_cols.append(i)
            continue
        species.append(i)
        if mass_text.upper() == "N/A":
            masses.append(np.nan)
            kinds.append("total" if label.lower() == "total" else "sum")
        else:
            try:
                masses.append(float(mass_text))
            except ValueError:
                raise CorruptFileError(path, f"mass {mass_text!r} of {label!r} is not a number", line=q) from None
            kinds.append("species")
    if not species:
        raise CorruptFileError(path, "no intensity columns", line=q - 1)

    raw_labels = [label_row[i] for i in species]
    labels = _unique_labels(raw_labels, masses)
    counts = data[:, species]
    smoothing = next((m.group(1) for c in comments if (m := re.search(r"smoothing is (\w+)", c, re.I))), "")
    attrs = {
        "technique": "tofsims",
        "source_format": "iontof_profile_txt",
        "instrument": "IONTOF (SurfaceLab text export)",
        "measurement": "depth_profile",
        "polarity": _polarity([lab for lab, k in zip(labels, kinds) if k == "species"]),
        "original_metadata": {
            "comments": comments,
            "profile_smoothing": smoothing,
            "quantities": quantities,
            "n_ratio_columns": len(ratio_cols),
            "n_inf_values": int(np.isinf(data[:, intensity_cols]).sum()),
            "first_data_line": q + 2,
        },
    }
    along = {}
    for name in ("scan", "dose", "fluence", "depth"):
        if name in axis_cols:
            i, unit, label = axis_cols[name]
            values = data[:, i]
            if name == "scan" and np.all(values == np.round(values)):
                values = values.astype(np.int64)
            along[name] = (values, unit, label)
    ds = _profile_leaf(
        time,
        counts,
        labels,
        np.asarray(masses),
        kinds,
        attrs=attrs,
        coords_along_time=along,
        ratios=(data[:, ratio_cols], [label_row[i] for i in ratio_cols]),
        time_label=t_label,
    )
    if labels != raw_labels:
        ds = ds.assign_coords(fragment_label=("fragment", np.asarray(raw_labels, dtype=str)))
    return xr.DataTree(
        children={node_name(path.stem): xr.DataTree(ds)},
        dataset=xr.Dataset(attrs={"source_format": "iontof_profile_txt"}),
    )


@read_iontof_profile.sniffer
def _sniff_profile(head: bytes, path: Path) -> float:
    try:
        text = decode_text(head, path)
    except ReadError:
        return 0.0
    return 0.9 if _find_quantity_row(text.splitlines()) is not None else 0.0


# ----------------------------------------------------------------------------------------------
# spectra

_SPECTRUM_COLUMNS = (
    (re.compile(r"^channel", re.I), "channel"),
    (re.compile(r"m/z|^mass", re.I), "mass"),
    (re.compile(r"time|tof", re.I), "time_of_flight"),
    (re.compile(r"intensity|counts", re.I), "intensity"),
)


def _spectrum_header(lines: list[str]) -> tuple[int, list[str]] | None:
    for i, line in enumerate(lines[:50]):
        if not line.strip() or line.startswith("#"):
            continue
        cells = _cells(line)
        names = []
        for cell in cells:
            name = next((n for pattern, n in _SPECTRUM_COLUMNS if pattern.search(cell)), None)
            names.append(name)
        if "mass" in names and "intensity" in names:
            return i, cells
        return None
    return None


@register(
    name="iontof_spectrum_txt",
    description="IONTOF SurfaceLab spectrum text export (Channel / m/z / Intensity)",
    extensions=(".txt",),
    techniques=("tofsims",),
)
def read_iontof_spectrum(
    path: str | os.PathLike, *, technique: str | None = None, polarity: str | None = None
) -> xr.DataTree:
    """Read an IONTOF SurfaceLab mass-spectrum text export.

    Parameters
    ----------
    path
        The ``.txt`` export.
    technique
        Must be ``"tofsims"`` or ``None``.
    polarity
        ``"positive"`` or ``"negative"``; the export does not say, so it is recorded only when given.
    """
    path = Path(path)
    text = decode_text(path.read_bytes(), path)
    lines = text.splitlines()
    found = _spectrum_header(lines)
    if found is None:
        raise CorruptFileError(path, "no 'Channel / m/z / Intensity' header line", line=1)
    h, cells = found
    names = [next((n for p, n in _SPECTRUM_COLUMNS if p.search(c)), None) for c in cells]
    data = _parse_rows(lines[h + 1 :], h + 2, len(cells), path)
    if data.shape[0] < 2:
        raise CorruptFileError(path, "fewer than 2 data rows", line=h + 2)
    mass = data[:, names.index("mass")]
    if not np.all(np.isfinite(mass)):
        bad = int(np.argmin(np.isfinite(mass)))
        raise CorruptFileError(path, "m/z is not a finite number", line=h + 2 + bad)
    meta: dict[str, str] = {}
    for line in lines[:h]:
        m = re.match(r"#\s*([^:]+):\s*(.*)$", line.strip())
        if m:
            meta[m.group(1).strip()] = m.group(2).strip()
    attrs: dict = {
        "technique": "tofsims",
        "source_format": "iontof_spectrum_txt",
        "instrument": "IONTOF (SurfaceLab text export)",
        "measurement": "spectrum",
        "original_metadata": {"header": meta, "columns": cells, "first_data_line": h + 2},
    }
    if polarity:
        if polarity not in ("positive", "negative"):
            raise ReadError(path, f"polarity must be 'positive' or 'negative', not {polarity!r}")
        attrs["polarity"] = polarity
    binning = re.match(r"(\d+)", meta.get("Binning", ""))
    if binning:
        attrs["binning_channels"] = int(binning.group(1))
    if "Deadtime Correction" in meta:
        attrs["deadtime_correction"] = int(meta["Deadtime Correction"].lower() == "on")
    ds = make_leaf(data[:, names.index("intensity")], "mass", mass, units="counts", attrs=attrs)
    if "channel" in names:
        ds = ds.assign_coords(channel=("mass", data[:, names.index("channel")], {"units": "", "label": "Channel"}))
    if "time_of_flight" in names:
        i = names.index("time_of_flight")
        ds = ds.assign_coords(time_of_flight=("mass", data[:, i], {"label": cells[i]}))
    return xr.DataTree(
        children={node_name(path.stem): xr.DataTree(ds)},
        dataset=xr.Dataset(attrs={"source_format": "iontof_spectrum_txt"}),
    )


@read_iontof_spectrum.sniffer
def _sniff_spectrum(head: bytes, path: Path) -> float:
    try:
        text = decode_text(head, path)
    except ReadError:
        return 0.0
    lines = text.splitlines()
    if _spectrum_header(lines) is None:
        return 0.0
    return 0.9 if any(ln.startswith(("# Binning", "# Deadtime")) for ln in lines[:10]) else 0.6


# ----------------------------------------------------------------------------------------------
# plain tables: Time (s), Cl-, PS3-, SO-


def _table_header(text: str) -> list[str] | None:
    for line in text.splitlines()[:50]:
        if not line.strip() or line.lstrip().startswith(("#", "%", "!", "//")):
            continue
        for delimiter in ("\t", ";", ","):
            cells = [c.strip().strip('"') for c in line.split(delimiter)]
            if cells and cells[-1] == "":
                cells = cells[:-1]
            if len(cells) < 2:
                continue
            if axis_from_label(cells[0])[0] != "sputter_time" and not re.match(r"depth\b", cells[0], re.I):
                continue
            if all(_ION_LABEL.match(c) for c in cells[1:]):
                return cells
        return None
    return None


@register(
    name="tofsims_table",
    description="Delimited ToF-SIMS depth-profile table: a time column and one column per ion (Time (s),Cl-,PS3-)",
    extensions=(".csv", ".tsv", ".txt", ".dat"),
    techniques=("tofsims",),
)
def read_tofsims_table(path: str | os.PathLike, *, technique: str | None = None) -> xr.DataTree:
    """Read a plain depth-profile table (first column time, one column per ion label).

    Fragment masses are computed from the labels (:func:`specfit.tofsims.fragments.exact_mass`)
    where they parse as formulas, NaN otherwise.
    """
    path = Path(path)
    text = decode_text(path.read_bytes(), path)
    table = parse_columns(text, path)
    labels = table.header
    if labels is None or _table_header(text) is None:
        raise ReadError(path, "header is not 'time column, ion columns' (e.g. Time (s),Cl-,PS3-)", line=1)
    if axis_from_label(labels[0])[0] != "sputter_time":
        # claimed on purpose: the generic reader would take "Depth (nm)" for a wavelength axis
        raise ReadError(
            path,
            f"depth-profile tables on a depth axis ({labels[0]!r}) are not supported: specfit profiles run on "
            "sputter time; export the sputter time (s) and give the sputter rate to the analysis",
            line=table.first_data_line - 1,
        )
    _axis, scale = axis_from_label(labels[0])
    time = table.data[:, 0] * scale
    if not np.all(np.isfinite(time)):
        bad = int(np.argmin(np.isfinite(time)))
        raise CorruptFileError(path, "time column holds a non-finite value", line=table.first_data_line + bad)
    fragments = labels[1:]
    attrs = {
        "technique": "tofsims",
        "source_format": "tofsims_table",
        "measurement": "depth_profile",
        "polarity": _polarity(fragments),
        "original_metadata": {
            "header": labels,
            "comments": table.comments,
            "delimiter": {None: "whitespace", "\t": "tab"}.get(table.delimiter, table.delimiter),
            "first_data_line": table.first_data_line,
        },
    }
    units = "counts/s" if re.search(r"cps|counts/s|c/s", " ".join(table.comments).lower()) else "counts"
    ds = _profile_leaf(
        time,
        table.data[:, 1:],
        fragments,
        _fragment_masses(fragments),
        ["species"] * len(fragments),
        attrs=attrs,
        coords_along_time={},
        units=units,
        time_label=labels[0],
    )
    return xr.DataTree(
        children={node_name(path.stem): xr.DataTree(ds)},
        dataset=xr.Dataset(attrs={"source_format": "tofsims_table"}),
    )


@read_tofsims_table.sniffer
def _sniff_table(head: bytes, path: Path) -> float:
    try:
        text = decode_text(head, path)
    except ReadError:
        return 0.0
    return 0.5 if _table_header(text) is not None else 0.0
