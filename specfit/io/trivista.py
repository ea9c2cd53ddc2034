"""Teledyne Princeton Instruments / S&I TriVista ``.tvf`` files, read through rosettasciio.

rosettasciio (:mod:`rsciio.trivista`) reads single spectra, time series, line scans and maps.
specfit maps them to ``(raman_shift|wavelength,)``, ``(time, ...)``, ``(x, ...)`` and
``(y, x, ...)``. The spectral axis is stored as wavelength (nm); it becomes Raman shift when the
file gives a laser wavelength (the coordinate ``wavelength`` keeps the stored values), and stays
``wavelength`` otherwise (``axis_note`` says so).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from ..conventions import node_name
from ..errors import CorruptFileError
from .raman_common import quiet_rsciio, rsciio_signal_to_leaf
from .registry import register

__all__ = ["read_tvf"]

_NAV = {"X": "x", "Y": "y", "Z": "z", "time": "time", "Time": "time"}


@register(
    name="trivista_tvf",
    description="TriVista .tvf (Teledyne Princeton Instruments / S&I) spectra, series, line scans, maps",
    extensions=(".tvf",),
    techniques=("raman",),
)
def read_tvf(path: str | os.PathLike, *, technique: str | None = None) -> xr.DataTree:
    """Read a TriVista ``.tvf`` file."""
    path = Path(path)
    from rsciio.trivista import file_reader

    try:
        with quiet_rsciio():
            signals = file_reader(str(path))
    except Exception as exc:  # XML / rosettasciio errors on damaged files
        raise CorruptFileError(path, f"damaged or truncated TriVista file ({type(exc).__name__}: {exc})") from exc
    children: dict[str, xr.DataTree] = {}
    taken: set[str] = set()
    for signal in signals:
        data = np.asarray(signal.get("data"))
        if data.size == 0:
            raise CorruptFileError(path, "the file holds no spectral data")
        names = [str(a.get("name")) for a in signal["axes"]]
        nav = {n: _NAV.get(n, "index") for n in names[:-1]}
        for ax in signal["axes"]:
            if str(ax.get("name")) in nav:
                ax["navigate"] = True
        metadata = signal.get("metadata", {})
        spectrometer = metadata.get("Acquisition_instrument", {}).get("Spectrometer", {})
        extra = {"instrument": f"TriVista {spectrometer.get('model', '')}".strip()}
        ds = rsciio_signal_to_leaf(signal, path, source_format="trivista_tvf", nav_dims=nav, extra_attrs=extra)
        title = str(metadata.get("General", {}).get("title") or path.stem)
        children[node_name(title, taken)] = xr.DataTree(ds)
    if not children:
        raise CorruptFileError(path, "the file holds no spectrum")
    return xr.DataTree(children=children, dataset=xr.Dataset(attrs={"source_format": "trivista_tvf"}))


@read_tvf.sniffer
def _sniff(head: bytes, path: Path) -> float:
    return 1.0 if b"TriVista-File" in head[:512] or b"<XmlMain" in head[:2048] else 0.0
