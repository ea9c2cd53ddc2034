"""Ron Unwin's "Spectra" program files (VG / Omicron VGX-900 compatible), numbered ``.1``, ``.2`` ...

Text layout (from xylib's ``spectra.cpp`` description and the corpus file): line 1 is the
experiment name; then blocks of one parameter line with eight numbers -- start and end kinetic
energy (eV), step (eV), number of scans, dwell time (s), number of points, pass energy (eV) and
photon energy (eV) -- a line with the spectrum name, and one integer count per line.

Values are raw counts summed over the scans (xylib divides them by scans × dwell to give count
rates; we keep counts and store ``scans`` and ``dwell_time_s``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import xarray as xr

from ..conventions import node_name
from ..errors import CorruptFileError, UnknownFormatError
from ..xps.regions import normalize_region
from ._xpsutil import xps_leaf
from .registry import register
from .text import decode_text

__all__ = ["read_vgx900"]

_NUM = r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?"
_PARAMS = re.compile(rf"^\s*({_NUM})\s+({_NUM})\s+({_NUM})\s+({_NUM})\s+({_NUM})\s+(\d+)\s+({_NUM})\s+({_NUM})\s*$")


@register(
    name="vgx900",
    description="Ron Unwin's Spectra / VG-Omicron VGX-900 XPS text files (.1, .2, ...)",
    extensions=tuple(f".{i}" for i in range(1, 10)),
    techniques=("xps",),
)
def read_vgx900(path: str | os.PathLike, *, technique: str | None = None) -> xr.DataTree:
    """Read a "Spectra" (VGX-900) file: one leaf per block, binding energy = hν − kinetic energy."""
    path = Path(path)
    lines = decode_text(path.read_bytes(), path).splitlines()
    if len(lines) < 4 or not _PARAMS.match(lines[1]):
        raise UnknownFormatError(path, "second line is not the 8-number Spectra parameter line", line=2)
    experiment = lines[0].strip()
    children: dict[str, xr.DataTree] = {}
    taken: set[str] = set()
    pos = 1
    while pos < len(lines):
        if not lines[pos].strip():
            pos += 1
            continue
        m = _PARAMS.match(lines[pos])
        if not m:
            raise CorruptFileError(path, f"expected a parameter line, found {lines[pos].strip()[:40]!r}", line=pos + 1)
        start, end, step, scans, dwell = (float(m.group(i)) for i in range(1, 6))
        npts = int(m.group(6))
        pass_energy, hv = float(m.group(7)), float(m.group(8))
        if pos + 2 + npts > len(lines):
            raise CorruptFileError(path, f"block declares {npts} points but the file ends first", line=pos + 1)
        if npts < 2 or not np.isclose(start + (npts - 1) * step, end, atol=abs(step) * 0.01 + 1e-6):
            raise CorruptFileError(
                path, f"start {start}, step {step} and {npts} points do not reach end {end}", line=pos + 1
            )
        name = lines[pos + 1].strip()
        try:
            counts = np.array([float(v) for v in lines[pos + 2 : pos + 2 + npts]])
        except ValueError:
            bad = next(k for k, v in enumerate(lines[pos + 2 : pos + 2 + npts]) if not re.match(rf"^\s*{_NUM}\s*$", v))
            raise CorruptFileError(path, "count is not a number", line=pos + 3 + bad) from None
        kinetic = start + step * np.arange(npts)
        attrs = {
            "technique": "xps",
            "source_format": "vgx900",
            "region": normalize_region(name),
            "region_label": name,
            "sample": experiment,
            "excitation_energy_ev": hv,
            "pass_energy_ev": pass_energy,
            "dwell_time_s": dwell,
            "scans": int(scans),
            "original_metadata": {"parameter_line": lines[pos].strip(), "experiment": experiment, "end_ev": end},
        }
        ds = xps_leaf(counts, "kinetic_energy", kinetic, excitation_energy=hv, units="counts", attrs=attrs)
        children[node_name(name or f"block_{len(children) + 1}", taken)] = xr.DataTree(ds)
        pos += 2 + npts
    return xr.DataTree(children=children, dataset=xr.Dataset(attrs={"source_format": "vgx900", "sample": experiment}))


@read_vgx900.sniffer
def _sniff(head: bytes, path: Path) -> float:
    try:
        lines = head.decode("latin-1").splitlines()
    except UnicodeDecodeError:
        return 0.0
    if len(lines) < 6 or not _PARAMS.match(lines[1]):
        return 0.0
    if all(re.match(r"^\s*\d+\s*$", ln) for ln in lines[3:6]):
        return 0.9
    return 0.0
