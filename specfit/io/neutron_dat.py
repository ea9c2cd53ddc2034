"""Constant-wavelength neutron powder data in the "start step end" text layout (PSI DMC/HRPT, ILL D1A, RIET7).

Layout (as read by xylib's ``riet7`` reader, wojdyr/xylib: xylib/riet7.cpp): a few header lines, one of the
first six being ``start step end [...]`` (2θ in degrees, with (end − start)/step + 1 a whole number of points),
then the values, several per line, until a non-numeric line (PSI appends ``Filelist=…`` lines). Both corpus
files hold exactly twice the number of points: the intensities followed by a second block of the same length
whose values track √(I/k) — their estimated standard deviations — kept as ``intensity_error``.

The wavelength comes from ``lambda=`` (PSI) or from ``<number> A`` in the title (ILL, e.g. "1.9114 A"); the
radiation is recorded as ``radiation = "neutron"`` (no Kα doublet).
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
from ._xrd import finite_leaf, wavelength_attrs
from .registry import register
from .text import decode_text

__all__ = ["read_neutron_dat"]

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_SSE = re.compile(rf"^\s*({_NUM})\s+({_NUM})\s+({_NUM})(?:\s|,|$)")
_LAMBDA = re.compile(rf"lambda\s*=\s*({_NUM})", re.IGNORECASE)
_TITLE_LAMBDA = re.compile(rf"(?:^|\s)({_NUM})\s*A\b")


def _numbers(line: str) -> list[float] | None:
    parts = line.replace(",", " ").split()
    try:
        return [float(p) for p in parts] if parts else None
    except ValueError:
        return None


def _find_sse(lines: list[str]) -> tuple[int, float, float, float, int] | None:
    """Locate the start-step-end line among the first six (xylib's rule, plus: the next line differs)."""
    for i, line in enumerate(lines[:6]):
        match = _SSE.match(line)
        if not match:
            continue
        start, step, end = (float(g) for g in match.groups())
        if step == 0:
            continue
        count = (end - start) / step + 1
        if round(count) < 4 or abs(count - round(count)) > 1e-2:
            continue
        following = _numbers(lines[i + 1]) if i + 1 < len(lines) else None
        if following is None or len(following) == len(line.replace(",", " ").split()):
            continue
        return i, start, step, end, round(count)
    return None


@register(
    name="neutron_dat",
    description="Neutron powder .dat in the start-step-end layout (PSI DMC/HRPT, ILL D1A, RIET7)",
    extensions=(".dat",),
    techniques=("xrd",),
)
def read_neutron_dat(
    path: str | os.PathLike, *, technique: str | None = None, wavelength: float | dict | None = None
) -> xr.DataTree:
    """Read a start-step-end neutron powder file.

    Parameters
    ----------
    path
        The file.
    technique
        ``"xrd"`` (diffraction) or ``None``.
    wavelength
        Override the neutron wavelength found in the header.
    """
    path = Path(path)
    lines = decode_text(path.read_bytes(), path).splitlines()
    found = _find_sse(lines)
    if found is None:
        raise UnknownFormatError(path, "no 'start step end' line among the first six lines")
    at, start, step, end, count = found
    values: list[float] = []
    footer: list[str] = []
    for number, line in enumerate(lines[at + 1 :], start=at + 2):
        if not line.strip():
            continue
        row = _numbers(line)
        if row is None:
            if len(values) in (count, 2 * count):
                footer = [ln.strip() for ln in lines[number - 1 :] if ln.strip()]
                break
            raise CorruptFileError(path, f"non-numeric line {line.strip()[:40]!r} inside the data", line=number)
        values.extend(row)
        if len(values) > 2 * count:
            raise CorruptFileError(path, f"more than 2 × {count} values", line=number)
    if len(values) not in (count, 2 * count):
        raise CorruptFileError(
            path, f"{len(values)} values for {count} points ({start} to {end} by {step}); file truncated?"
        )
    header = [ln.strip() for ln in lines[:at]]
    header_text = " ".join(header)
    lam = _LAMBDA.search(header_text) or _TITLE_LAMBDA.search(header_text)
    attrs: dict[str, Any] = {
        "technique": "xrd",
        "source_format": "neutron_dat",
        "radiation": "neutron",
        "title": header[0] if header else "",
        "step_deg": step,
        "original_metadata": {"header": header, "start_step_end_line": lines[at].strip(), "footer": footer},
    }
    sample = re.search(r'sample="([^"]*)"', lines[at])
    if sample:
        attrs["sample"] = sample[1]
    date = re.search(r"Date=\s*([\d-]+ [\d:]+)", header_text)
    if date:
        attrs["acquired_at"] = date[1].replace(" ", "T")
    if wavelength is not None:
        attrs.update(wavelength_attrs(override=wavelength))
    elif lam is not None:
        attrs.update({"wavelength_angstrom": float(lam[1]), "wavelength_assumed": 0, "wavelength_source": "file"})
    else:
        attrs.update(wavelength_attrs())
        attrs["wavelength_source"] = "not stated: Cu Kα placeholder, pass wavelength= for neutron data"
    data = np.asarray(values)
    angle = start + step * np.arange(count)
    ds = finite_leaf(path, data[:count], angle, units="counts", attrs=attrs)
    if data.size == 2 * count:
        ds["intensity_error"] = ("two_theta", data[count:], {"units": "counts"})
    return xr.DataTree(
        children={node_name(path.stem): xr.DataTree(ds)}, dataset=xr.Dataset(attrs={"source_format": "neutron_dat"})
    )


@read_neutron_dat.sniffer
def _sniff(head: bytes, path: Path) -> float:
    try:
        text = decode_text(head, path)
    except Exception:
        return 0.0
    return 0.5 if _find_sse(text.splitlines()) is not None else 0.0
