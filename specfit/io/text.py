"""Generic reader for the delimited-text exports every vendor program can write.

Handles 2 or more numeric columns, with or without a header line, separated by commas, tabs,
semicolons or runs of whitespace, decimal commas, comment lines (``#``, ``%``, ``!``, ``//``),
ascending or descending axes and several y columns. The first column is the axis; what it is comes
from the header (binding/kinetic energy, Raman shift, 2θ, mass, sputter time ...) or, for a file
without a header, from the ``technique=`` hint.

Several y columns become several leaves (one spectrum each), except for ToF-SIMS depth profiles,
where they become the ``fragment`` dimension of one ``(sputter_time, fragment)`` leaf.

Format-specific text exports (SPECS .xy, Scienta .txt, IONTOF ...) have their own modules whose
sniffers outrank this one; this reader is the fallback for plain columns.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from ..conventions import SPECTRAL_AXES, TECHNIQUE_AXES, make_leaf, node_name
from ..errors import CorruptFileError, ReadError, UnknownFormatError
from ._xrd import wavelength_attrs
from .registry import SNIFF_BYTES, register

__all__ = ["TextTable", "axis_from_label", "decode_text", "parse_columns", "read_text"]

COMMENT_PREFIXES = ("#", "%", "!", "//")
_DELIMITERS = ("\t", ";", ",", None)  # None = runs of whitespace
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$|^[+-]?(inf|nan)$", re.IGNORECASE)

# Axis recognition: (regex on the lower-cased column label, axis name). Order matters: the first
# match wins, so specific words come before generic ones.
_AXIS_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"binding|\bb\.?e\.?\b", "binding_energy"),
    (r"kinetic|\bk\.?e\.?\b", "kinetic_energy"),
    (r"raman|shift|rel\.?\s*(wave|cm)", "raman_shift"),
    (r"2\s*-?\s*theta|2θ|2Θ|two.?theta|2th\b|°\s*2|angle", "two_theta"),
    (r"m/z|mass|\bamu\b|\(u\)|\[u\]", "mass"),
    (r"sputter|time|\(s\)|\[s\]|\bsec\b", "sputter_time"),
    (r"wavenumber|cm-1|cm\^-1|1/cm|cm⁻¹", "raman_shift"),
    (r"wavelength|\(nm\)|\[nm\]", "wavelength"),
    (r"energy|\(ev\)|\[ev\]", "binding_energy"),
)
_TIME_SCALE = ((r"\(min\)|\[min\]|\bmin\b", 60.0), (r"\(ms\)|\[ms\]", 1e-3), (r"\(h\)|\[h\]", 3600.0))
_AXIS_TECHNIQUE = {
    "binding_energy": "xps",
    "kinetic_energy": "xps",
    "raman_shift": "raman",
    "wavelength": "raman",
    "two_theta": "xrd",
    "mass": "tofsims",
    "sputter_time": "tofsims",
}


@dataclass
class TextTable:
    """The parsed content of a delimited text file."""

    data: np.ndarray  # (rows, columns)
    header: list[str] | None
    comments: list[str]
    delimiter: str | None
    decimal_comma: bool
    first_data_line: int  # 1-based
    header_line: str | None = None  # the raw line above the data, even when it did not split into columns


def decode_text(raw: bytes, path: str | os.PathLike | None = None) -> str:
    """Decode file bytes as text (UTF-8, UTF-16 with BOM, or Latin-1); binary data is an error."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    if b"\x00" in raw:
        raise UnknownFormatError(path, "binary content (NUL bytes) where text was expected", offset=raw.index(b"\x00"))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    control = sum(1 for ch in text[:4096] if ord(ch) < 32 and ch not in "\r\n\t\f")
    if control > max(4, len(text[:4096]) // 100):
        raise UnknownFormatError(path, "binary content where text was expected", offset=0)
    return text


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith(COMMENT_PREFIXES)


def _split(line: str, delimiter: str | None) -> list[str]:
    if delimiter is None:
        return line.split()
    parts = [p.strip() for p in line.split(delimiter)]
    if parts and parts[-1] == "":  # a trailing delimiter is common in vendor exports
        parts = parts[:-1]
    return parts


def _to_float(cell: str, decimal_comma: bool) -> float:
    if decimal_comma:
        cell = cell.replace(",", ".")
    return float(cell)


def _numeric_fields(line: str, delimiter: str | None, decimal_comma: bool) -> list[str] | None:
    parts = _split(line, delimiter)
    if len(parts) < 2:
        return None
    for p in parts:
        if not _NUMBER.match(p):
            return None
        if "," in p and not decimal_comma:
            return None
    return parts


def _detect_layout(lines: list[str]) -> tuple[str | None, bool, int] | None:
    """Find the delimiter and decimal mark from the first run of numeric lines.

    Returns ``(delimiter, decimal_comma, index of first data line)`` or ``None``.
    """
    for start, line in enumerate(lines):
        if not line.strip() or _is_comment(line):
            continue
        for delimiter in _DELIMITERS:
            for decimal_comma in (False, True):
                if decimal_comma and delimiter == ",":
                    continue
                fields = _numeric_fields(line, delimiter, decimal_comma)
                if fields is None:
                    continue
                # confirm on the next non-empty line (damage further down is reported by the parser)
                probe = [ln for ln in lines[start + 1 : start + 20] if ln.strip() and not _is_comment(ln)]
                if all(
                    (f := _numeric_fields(ln, delimiter, decimal_comma)) is not None and len(f) == len(fields)
                    for ln in probe[:1]
                ):
                    return delimiter, decimal_comma, start
    return None


def _split_header(line: str, delimiter: str | None, ncols: int) -> list[str] | None:
    line = line.strip()
    for prefix in COMMENT_PREFIXES:
        if line.startswith(prefix):
            line = line[len(prefix) :].strip()
    candidates = [_split(line, delimiter)]
    if delimiter is None:
        candidates.insert(0, [p.strip() for p in re.split(r"\t|\s{2,}", line) if p.strip()])
    for parts in candidates:
        if len(parts) == ncols:
            return [p.strip().strip('"').strip("'") for p in parts]
    return None


def parse_columns(text: str, path: str | os.PathLike | None = None) -> TextTable:
    """Parse delimited numeric columns from text.

    Raises
    ------
    ReadError
        With the line number of the first ragged row or non-numeric cell.
    """
    lines = text.splitlines()
    layout = _detect_layout(lines)
    if layout is None:
        raise UnknownFormatError(path, "no block of 2 or more numeric columns found")
    delimiter, decimal_comma, start = layout
    ncols = len(_split(lines[start], delimiter))

    comments: list[str] = []
    header: list[str] | None = None
    header_line: str | None = None
    for line in lines[:start]:
        if line.strip():
            comments.append(line.rstrip())
    # the header is the last non-empty line before the data that splits into the right count
    for number in range(start - 1, -1, -1):
        line = lines[number]
        if not line.strip():
            continue
        if not _is_comment(line):
            cells = _split(line, delimiter)
            numeric = [bool(_NUMBER.match(c)) for c in cells]
            # a damaged data row just above the data is not a header: never swallow it silently
            if len(cells) >= 2 and all(numeric):
                raise CorruptFileError(path, f"row has {len(cells)} columns, expected {ncols}", line=number + 1)
            if len(cells) == ncols and numeric[0] and not all(numeric):
                bad = cells[numeric.index(False)]
                raise CorruptFileError(
                    path, f"non-numeric value {bad!r} in column {numeric.index(False) + 1}", line=number + 1
                )
        header = _split_header(line, delimiter, ncols)
        header_line = line.strip()
        break

    rows: list[list[float]] = []
    for number, line in enumerate(lines[start:], start=start + 1):
        if not line.strip():
            continue
        if _is_comment(line):
            comments.append(line.rstrip())
            continue
        parts = _split(line, delimiter)
        if len(parts) != ncols:
            raise CorruptFileError(path, f"row has {len(parts)} columns, expected {ncols}", line=number)
        try:
            rows.append([_to_float(p, decimal_comma) for p in parts])
        except ValueError:
            bad = next(p for p in parts if not _NUMBER.match(p))
            column = parts.index(bad) + 1
            raise CorruptFileError(path, f"non-numeric value {bad!r} in column {column}", line=number) from None
    data = np.asarray(rows, dtype=float)
    if data.shape[0] < 2:
        raise CorruptFileError(path, "fewer than 2 data rows", line=start + 1)
    return TextTable(data, header, comments, delimiter, decimal_comma, start + 1, header_line)


def axis_from_label(label: str) -> tuple[str | None, float]:
    """Recognise the axis a column label names; returns ``(axis name or None, scale to SI units)``."""
    low = label.lower()
    for pattern, axis in _AXIS_PATTERNS:
        if re.search(pattern, low):
            scale = 1.0
            if axis == "sputter_time":
                for unit_pattern, factor in _TIME_SCALE:
                    if re.search(unit_pattern, low):
                        scale = factor
            return axis, scale
    return None, 1.0


def _intensity_units(labels: list[str]) -> str:
    joined = " ".join(labels).lower()
    if re.search(r"cps|c/s|counts/s|counts per second|count rate|/s\b", joined):
        return "counts/s"
    if "count" in joined or "cts" in joined:
        return "counts"
    return "arb"


@register(
    name="text",
    description="Delimited text columns (CSV/TSV/semicolon/whitespace, decimal comma, header optional)",
    extensions=(".csv", ".tsv", ".txt", ".dat", ".xy", ".asc", ".prn"),
    techniques=("xps", "raman", "xrd", "tofsims", "aes", "other"),
    priority=0,
)
def read_text(
    path: str | os.PathLike, *, technique: str | None = None, wavelength: float | dict | None = None
) -> xr.DataTree:
    """Read delimited text columns into a data tree.

    Parameters
    ----------
    path
        The text file.
    technique
        What the file holds, when the header does not say (``"xps"``, ``"raman"`` ...).
    wavelength
        XRD only: the X-ray wavelength(s) (plain columns state none; the Cu Kα default is recorded with
        ``wavelength_assumed = 1`` otherwise; see :func:`specfit.io._xrd.wavelength_attrs`).
    """
    path = Path(path)
    text = decode_text(path.read_bytes(), path)
    table = parse_columns(text, path)
    ncols = table.data.shape[1]
    labels = table.header or [f"column_{i + 1}" for i in range(ncols)]

    if table.header:
        axis, scale = axis_from_label(labels[0])
    elif table.header_line:  # a header we could not split (names with spaces in a space-separated file)
        axis, scale = axis_from_label(table.header_line)
    else:
        axis, scale = None, 1.0
    if technique is not None and axis is not None and axis not in TECHNIQUE_AXES.get(technique, ()):
        # header and hint disagree: the hint decides only if it knows a single axis
        if len(TECHNIQUE_AXES[technique]) == 1:
            axis = TECHNIQUE_AXES[technique][0]
    if axis is None:
        if technique is None:
            raise ReadError(
                path,
                "cannot tell what the first column is (no recognisable header); pass technique="
                "'xps'|'raman'|'xrd'|'tofsims'",
                line=table.first_data_line,
            )
        axis = TECHNIQUE_AXES[technique][0]
    technique = technique or _AXIS_TECHNIQUE.get(axis, "other")
    x = table.data[:, 0] * scale
    y = table.data[:, 1:]
    if not np.all(np.isfinite(x)):
        bad = int(np.argmin(np.isfinite(x)))
        raise CorruptFileError(path, "axis column holds a non-finite value", line=table.first_data_line + bad)

    attrs = {
        "technique": technique,
        "source_format": "text",
        "original_metadata": {
            "header": labels if table.header else None,
            "comments": table.comments,
            "delimiter": {None: "whitespace", "\t": "tab"}.get(table.delimiter, table.delimiter),
            "decimal_comma": table.decimal_comma,
            "first_data_line": table.first_data_line,
        },
    }
    if technique == "xrd":
        attrs.update(wavelength_attrs(override=wavelength))
    units = _intensity_units(labels[1:])
    axis_attrs = {"label": labels[0]} if table.header else {}

    children: dict[str, xr.DataTree] = {}
    if axis == "sputter_time" and ncols > 2:
        fragments = [lab.strip() for lab in labels[1:]]
        ds = make_leaf(
            y.T, axis, x, units=units, attrs=attrs, axis_attrs=axis_attrs, extra_dims={"fragment": fragments}
        )
        ds = ds.transpose(axis, "fragment")
        children[node_name(path.stem)] = xr.DataTree(ds)
    else:
        taken: set[str] = set()
        for i in range(y.shape[1]):
            name = path.stem if y.shape[1] == 1 else (labels[i + 1] if table.header else f"{path.stem}_{i + 1}")
            leaf_attrs = dict(attrs, column=labels[i + 1])
            ds = make_leaf(
                y[:, i], axis, x, units=_intensity_units([labels[i + 1]]), attrs=leaf_attrs, axis_attrs=axis_attrs
            )
            children[node_name(name, taken)] = xr.DataTree(ds)
    return xr.DataTree(children=children, dataset=xr.Dataset(attrs={"source_format": "text"}))


@read_text.sniffer
def _sniff(head: bytes, path: Path) -> float:
    try:
        text = decode_text(head, path)
    except ReadError:
        return 0.0
    lines = text.splitlines()
    if len(head) >= SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line of a full head may be cut
    return 0.1 if _detect_layout(lines) is not None else 0.0


assert set(_AXIS_TECHNIQUE) <= set(SPECTRAL_AXES)
