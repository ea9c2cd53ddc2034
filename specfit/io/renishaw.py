"""Renishaw WiRE files: native ``.wdf`` (through rosettasciio) and WiRE text exports.

``.wdf`` is read with :mod:`rsciio.renishaw` (rosettasciio reads every WiRE file of the test corpus
correctly, including line scans, maps, depth and time series and interrupted maps), then put into
specfit's conventions:

- single spectrum: ``(raman_shift,)``;
- map: ``(y, x, raman_shift)`` (µm);
- line scan: ``(x, raman_shift)`` where ``x`` is the distance along the line (µm);
- depth series: ``(z, raman_shift)`` (µm);
- time series: ``(time, raman_shift)`` (s, from the per-spectrum acquisition times);
- focus-track series (each spectrum at an automatically re-focused, non-ordered Z):
  ``(time, raman_shift)`` when the file records the times, else ``(index, raman_shift)``.

Where the spectral axis is stored as wavelength (nm) it is converted to Raman shift with the
file's laser wavenumber and kept as the coordinate ``wavelength``.

``.wxd`` (WiRE 3.x) is decoded by :mod:`specfit.io.renishaw_wxd`.
"""

from __future__ import annotations

import os
import re
import struct
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from ..conventions import node_name
from ..errors import CorruptFileError, ReadError
from .raman_common import metadata_json, quiet_rsciio, raman_leaf, rsciio_signal_to_leaf
from .registry import register
from .text import decode_text, parse_columns

__all__ = ["read_renishaw_txt", "read_wdf"]


#: WiRE stores per-spectrum times as Windows FILETIME ticks of 100 ns (rosettasciio labels them
#: "ns"); checked on the corpus: with 100-ns ticks the times of renishaw_test_map.wdf (9 spectra,
#: 4.96 s apart) and of the time series (3.07 s apart) fit the files' start/end stamps (44 s and 8 s),
#: with ns they would span under half a second.
FILETIME_TICK_S = 1e-7


def _wdf_nav_dims(signal: dict) -> tuple[dict[str, str], dict[str, np.ndarray], dict]:
    """Map rosettasciio navigation axes of a WiRE file to specfit dimensions."""
    om = signal.get("original_metadata", {})
    orgn = om.get("ORGN_0", {}) or {}
    times_ticks = None
    if isinstance(orgn.get("Time"), dict) and orgn["Time"].get("data") is not None:
        times_ticks = np.asarray(orgn["Time"]["data"], dtype=float)
    dims: dict[str, str] = {}
    values: dict[str, np.ndarray] = {}
    notes: dict = {}
    for ax in signal["axes"]:
        if not ax.get("navigate", False):
            continue
        name = str(ax.get("name", ""))
        size = int(ax.get("size", 0))
        low = name.lower()
        if name == "Y":
            dims[name] = "y"
        elif name == "X":
            dims[name] = "x"
        elif name == "Abs. Distance":
            dims[name] = "x"
            notes["x_note"] = "line scan: x is the distance along the scanned line (µm)"
        elif name == "Z" and ax.get("units"):
            dims[name] = "z"
        elif low == "time":
            dims[name] = "time"
            notes["time_note"] = "time since the first spectrum (s), from WiRE's 100-ns FILETIME ticks"
            if times_ticks is not None and times_ticks.size == size:
                values["time"] = times_ticks * FILETIME_TICK_S
            else:
                offset = float(ax.get("offset", 0) or 0)
                scale = float(ax.get("scale", 1) or 1)
                factor = FILETIME_TICK_S if str(ax.get("units", "")).lower() == "ns" else 1.0
                values["time"] = (offset + scale * np.arange(size)) * factor
        else:
            # focus-track or invariant Z: the per-spectrum Z is not an ordered axis; index the
            # spectra by acquisition time when the file has it
            if times_ticks is not None and times_ticks.size == size:
                dims[name] = "time"
                values["time"] = times_ticks * FILETIME_TICK_S
            else:
                dims[name] = "index"
                values["index"] = np.arange(size)
            notes["series_note"] = (
                f"WiRE series axis {name!r} is not an ordered position axis (focus track / invariant); "
                f"spectra indexed by {dims[name]}"
            )
    return dims, values, notes


def _check_wdf_blocks(path: Path) -> None:
    """Walk the WDF block chain (16-byte headers: name, uid, uint64 size) to catch truncation.

    rosettasciio reads the blocks it needs and silently ignores a cut-off tail (white-light image,
    map description ...); a file whose last block runs past its end is damaged, so say so.
    """
    size = path.stat().st_size
    offset = 0
    with open(path, "rb") as fh:
        while offset < size:  # each step advances by >= 16 bytes: bounded by the file size
            fh.seek(offset)
            header = fh.read(16)
            if len(header) < 16:
                raise CorruptFileError(path, "file ends inside a WDF block header (truncated)", offset=offset)
            name = header[:4]
            block_size = struct.unpack_from("<Q", header, 8)[0]
            if block_size < 16 or not name.isascii():
                raise CorruptFileError(path, f"invalid WDF block header {name!r} (size {block_size})", offset=offset)
            if offset + block_size > size:
                raise CorruptFileError(
                    path,
                    f"WDF block {name.decode('ascii', 'replace')!r} needs {block_size} bytes but the file ends"
                    f" {size - offset} bytes after its start (truncated)",
                    offset=offset,
                )
            offset += block_size


@register(
    name="renishaw_wdf",
    description="Renishaw WiRE .wdf (spectra, maps, line scans, depth/time series) via rosettasciio",
    extensions=(".wdf",),
    techniques=("raman",),
)
def read_wdf(path: str | os.PathLike, *, technique: str | None = None) -> xr.DataTree:
    """Read a Renishaw WiRE ``.wdf`` file.

    Parameters
    ----------
    path
        The ``.wdf`` file.
    technique
        Ignored (always Raman); accepted for the registry's uniform call.
    """
    path = Path(path)
    size = path.stat().st_size
    if size < 512:
        raise CorruptFileError(path, f"file is {size} bytes, too short for a WiRE WDF header (512 bytes)", offset=0)
    _check_wdf_blocks(path)
    from rsciio.renishaw import file_reader

    try:
        with quiet_rsciio():
            signals = file_reader(str(path))
    except ReadError:
        raise
    except Exception as exc:  # rosettasciio raises assorted errors on damaged files
        raise CorruptFileError(path, f"damaged or truncated WiRE file ({type(exc).__name__}: {exc})") from exc
    children: dict[str, xr.DataTree] = {}
    taken: set[str] = set()
    root_attrs: dict = {"source_format": "renishaw_wdf"}
    for signal in signals:
        data = np.asarray(signal.get("data"))
        if data.dtype.names:  # the white-light image of a map: not a spectrum
            root_attrs["white_light_image_shape"] = list(data.shape)
            continue
        if data.size == 0 or data.ndim < 1:
            raise CorruptFileError(path, "the file holds no spectral data")
        om = signal.get("original_metadata", {})
        header = om.get("WDF1_1", {}) or {}
        dims, values, notes = _wdf_nav_dims(signal)
        extra = {
            "instrument": "Renishaw " + str(om.get("WXIS_0", {}).get("Instrument type", "WiRE")).strip(),
            "measurement_type": str(header.get("measurement_type", "")),
            "scan_type": str(header.get("scan_type", "")),
            "accumulations": int(header.get("accumulations_per_spectrum", 0) or 0),
            "software": f"{header.get('app_name', '')} {header.get('app_version', '')}".strip(),
            **notes,
        }
        planned, acquired = header.get("capacity"), header.get("num_spectra")
        if planned is not None and acquired is not None:
            extra["spectra_planned"] = int(planned)
            extra["spectra_acquired"] = int(acquired)
            extra["acquisition_complete"] = int(int(acquired) >= int(planned))
            if int(acquired) < int(planned) and header.get("measurement_type") == "Mapping":
                warnings.warn(
                    f"{path.name}: unfinished measurement ({acquired} of {planned} spectra acquired)", stacklevel=2
                )
        if int(header.get("num_spectra", 1) or 1) > 1 and data.ndim == 1:
            extra["averaged_spectra"] = int(header["num_spectra"])
            extra["averaging_note"] = (
                "the file holds several spectra on no navigation axis; rosettasciio returns their average"
            )
        ds = rsciio_signal_to_leaf(
            signal,
            path,
            source_format="renishaw_wdf",
            nav_dims=dims,
            nav_values=values,
            extra_attrs=extra,
        )
        title = str(signal.get("metadata", {}).get("General", {}).get("title") or path.stem)
        children[node_name(title, taken)] = xr.DataTree(ds)
    if not children:
        raise CorruptFileError(path, "the file holds no spectrum")
    return xr.DataTree(children=children, dataset=xr.Dataset(attrs=root_attrs))


@read_wdf.sniffer
def _sniff_wdf(head: bytes, path: Path) -> float:
    return 1.0 if head.startswith(b"WDF1") else 0.0


# ---------------------------------------------------------------------------------------------
# WiRE text export
# ---------------------------------------------------------------------------------------------

_WIRE_HEADER = re.compile(r"^\s*#(Wave|X|Y|Z|Time|R|Theta|Phi)\b.*#(Wave)\b.*#Intensity\b|^\s*#Wave\s+#Intensity", re.I)
_POSITION_DIMS = {"x": "x", "y": "y", "z": "z", "time": "time"}


@register(
    name="renishaw_txt",
    description="Renishaw WiRE text export ('#Wave #Intensity', and '#X #Y #Wave #Intensity' maps)",
    extensions=(".txt",),
    techniques=("raman",),
)
def read_renishaw_txt(
    path: str | os.PathLike,
    *,
    technique: str | None = None,
    laser_wavelength_nm: float | None = None,
) -> xr.DataTree:
    """Read a WiRE text export.

    The header names the columns with ``#``: ``#Wave #Intensity`` for one spectrum, with leading
    ``#X #Y`` (maps), ``#Z`` (depth series) or ``#Time`` (time series) position columns. WiRE writes
    the spectral axis in the unit of the measurement, Raman shift for Raman measurements; the export
    does not carry the laser wavelength, so ``laser_wavelength_nm`` (optional) is only recorded.
    """
    path = Path(path)
    text = decode_text(path.read_bytes(), path)
    lines = text.splitlines()
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is None:
        raise CorruptFileError(path, "file is empty", line=1)
    labels = [t.strip().lstrip("#").strip() for t in lines[first].split("\t") if t.strip()]
    if not labels or labels[-2:] != ["Wave", "Intensity"]:
        raise CorruptFileError(path, "no WiRE '#Wave #Intensity' header", line=first + 1)
    # blank out the header so that parse errors report the file's own line numbers
    table = parse_columns("\n".join([""] * (first + 1) + lines[first + 1 :]), path)
    if table.data.shape[1] != len(labels):
        raise CorruptFileError(
            path, f"{table.data.shape[1]} data columns but the header names {len(labels)}", line=first + 2
        )
    data = table.data
    positions = labels[:-2]
    attrs = {
        "technique": "raman",
        "source_format": "renishaw_txt",
        "instrument": "Renishaw (WiRE text export)",
        "original_metadata": metadata_json({"header": labels}),
    }
    if not positions:
        ds = raman_leaf(data[:, 1], "raman_shift", data[:, 0], laser_nm=laser_wavelength_nm, attrs=attrs)
        return xr.DataTree(children={node_name(path.stem): xr.DataTree(ds)}, dataset=xr.Dataset(attrs={}))
    # long format: one row per (position..., wave); a spectrum is a run of rows with the same position
    pos = data[:, : len(positions)]
    change = np.any(np.diff(pos, axis=0) != 0, axis=1)
    starts = np.concatenate([[0], np.nonzero(change)[0] + 1])
    lengths = np.diff(np.concatenate([starts, [len(data)]]))
    if np.any(lengths != lengths[0]):
        bad = int(starts[np.argmax(lengths != lengths[0])])
        raise CorruptFileError(path, "spectra of different lengths in the map export", line=first + 2 + bad)
    n = int(lengths[0])
    spectra = data[:, -1].reshape(-1, n)
    waves = data[:, -2].reshape(-1, n)
    if not np.allclose(waves, waves[0], rtol=0, atol=1e-6 * max(1.0, float(np.abs(waves[0]).max()))):
        raise CorruptFileError(path, "the spectral axis differs between the spectra of the map export")
    points = pos[starts]
    names = [p.lower() for p in positions]
    extra_dims: dict[str, np.ndarray]
    intensity = spectra
    if names == ["x", "y"] or names == ["y", "x"]:
        xs, ys = points[:, names.index("x")], points[:, names.index("y")]
        ux, uy = np.unique(xs), np.unique(ys)
        if ux.size * uy.size == len(points):
            grid = np.full((uy.size, ux.size, n), np.nan)
            grid[np.searchsorted(uy, ys), np.searchsorted(ux, xs)] = spectra
            # keep the file's scan direction
            extra_dims = {"y": uy, "x": ux}
            intensity = grid
        else:
            extra_dims = {"index": np.arange(len(points))}
    elif len(names) == 1 and names[0] in _POSITION_DIMS:
        extra_dims = {_POSITION_DIMS[names[0]]: points[:, 0]}
    else:
        extra_dims = {"index": np.arange(len(points))}
    ds = raman_leaf(
        intensity, "raman_shift", waves[0], laser_nm=laser_wavelength_nm, attrs=attrs, extra_dims=extra_dims
    )
    if "index" in extra_dims:
        for i, name in enumerate(names):
            ds = ds.assign_coords({f"position_{name}": ("index", points[:, i])})
    return xr.DataTree(children={node_name(path.stem): xr.DataTree(ds)}, dataset=xr.Dataset(attrs={}))


@read_renishaw_txt.sniffer
def _sniff_txt(head: bytes, path: Path) -> float:
    try:
        text = decode_text(head, path)
    except ReadError:
        return 0.0
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    return 0.9 if _WIRE_HEADER.match(first) else 0.0
