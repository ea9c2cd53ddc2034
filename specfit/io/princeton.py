"""Princeton Instruments WinView/WinSpec SPE 2.x and LightField SPE 3.0 files (``.spe``).

Written from the published layout (Princeton Instruments "WinView/WinSpec File Format", SPE 2.x,
and "SPE 3.0 File Format Specification", 2012): a 4100-byte binary header, the frames, and (SPE 3)
an XML footer whose offset is the uint64 at byte 678. rosettasciio has no SPE reader; this one is
short.

- SPE 2.x: x calibration polynomial (``polynom_coeff``, order at byte 3101) evaluated on 1-based
  pixel numbers (checked here: the polynomial of ``1d-1.spe`` reproduces its calibration points
  ``pixel 1 → 515.079 nm``). The axis is wavelength (nm) when the calibration label says nm; the
  laser line at byte 3311 (when non-zero) turns it into Raman shift.
- SPE 3.0: the ``Calibrations/WavelengthMapping/Wavelength`` list of the footer is the axis, and its
  ``laserLine`` attribute the laser wavelength.

Several frames become the ``frame`` dimension; several rows (``ydim > 1``, e.g. a multi-track
CCD read-out) the ``index`` dimension. ``.spe`` is also the extension of ULVAC-PHI XPS files; the
sniffer checks the binary header (size, data type, version) so it never claims those text-headed
files.
"""

from __future__ import annotations

import os
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import xarray as xr

from ..conventions import node_name
from ..errors import CorruptFileError
from .raman_common import metadata_json, raman_leaf
from .registry import register

__all__ = ["read_spe"]

HEADER_SIZE = 4100
#: SPE data-type code -> numpy dtype (2.x: 0-3, 5, 6, 8; 3.0 adds uint32 as 8)
_DTYPES = {0: "<f4", 1: "<i4", 2: "<i2", 3: "<u2", 5: "<f8", 6: "<u1", 8: "<u4"}


def _geometry(head: bytes) -> tuple[int, int, int, int, float]:
    xdim = struct.unpack_from("<H", head, 42)[0]
    dtype = struct.unpack_from("<h", head, 108)[0]
    ydim = struct.unpack_from("<H", head, 656)[0]
    frames = struct.unpack_from("<i", head, 1446)[0]
    version = struct.unpack_from("<f", head, 1992)[0]
    return xdim, ydim, frames, dtype, version


@register(
    name="princeton_spe",
    description="Princeton Instruments WinSpec/WinView SPE 2.x and LightField SPE 3.0 (.spe)",
    extensions=(".spe",),
    techniques=("raman",),
)
def read_spe(
    path: str | os.PathLike, *, technique: str | None = None, laser_wavelength_nm: float | None = None
) -> xr.DataTree:
    """Read a Princeton Instruments ``.spe`` file.

    Parameters
    ----------
    path
        The ``.spe`` file.
    laser_wavelength_nm
        Laser wavelength to convert the wavelength axis to Raman shift when the file has none.
    """
    path = Path(path)
    buf = path.read_bytes()
    if len(buf) < HEADER_SIZE:
        raise CorruptFileError(path, f"file is {len(buf)} bytes, shorter than the 4100-byte SPE header", offset=0)
    xdim, ydim, frames, dtype_code, version = _geometry(buf)
    if dtype_code not in _DTYPES:
        raise CorruptFileError(path, f"unknown SPE data type code {dtype_code}", offset=108)
    if xdim < 1 or ydim < 1 or frames < 1:
        raise CorruptFileError(path, f"bad image size {xdim} × {ydim} × {frames} frames", offset=42)
    dtype = np.dtype(_DTYPES[dtype_code])
    count = xdim * ydim * frames
    end = HEADER_SIZE + count * dtype.itemsize
    if end > len(buf):
        raise CorruptFileError(
            path,
            f"file ends inside the data ({count} values of {dtype} need {end} bytes, file has {len(buf)})",
            offset=len(buf),
        )
    data = np.frombuffer(buf, dtype, count=count, offset=HEADER_SIZE).astype(float).reshape(frames, ydim, xdim)
    meta: dict = {
        "spe_version": round(float(version), 3),
        "xdim": xdim,
        "ydim": ydim,
        "frames": frames,
        "data_type": str(dtype),
    }
    attrs: dict = {"technique": "raman", "source_format": "princeton_spe", "instrument": "Princeton Instruments"}
    laser = laser_wavelength_nm
    footer_offset = struct.unpack_from("<Q", buf, 678)[0]
    if version >= 3.0:
        if not (end <= footer_offset < len(buf)):
            raise CorruptFileError(path, f"SPE 3 XML footer offset {footer_offset} outside the file", offset=678)
        try:
            root = ET.fromstring(buf[footer_offset:].decode("utf-8", "replace").strip("\x00"))
        except ET.ParseError as exc:
            raise CorruptFileError(path, f"damaged SPE 3 XML footer ({exc})", offset=footer_offset) from exc
        ns = {"spe": root.tag.split("}")[0].strip("{")} if root.tag.startswith("{") else {}
        prefix = "spe:" if ns else ""
        mapping = root.find(f".//{prefix}Calibrations/{prefix}WavelengthMapping", ns)
        wave = mapping.find(f"{prefix}Wavelength", ns) if mapping is not None else None
        if wave is None or not (wave.text or "").strip():
            axis_name, axis = "wavelength", None
        else:
            axis = np.array([float(v) for v in wave.text.strip().split(",") if v.strip()])
            axis_name = "wavelength"
            if laser is None and mapping.get("laserLine"):
                laser = float(mapping.get("laserLine"))
        meta["footer"] = {
            el.tag.split("}")[-1]: {k: v for k, v in el.attrib.items()}
            for el in root.iter()
            if el.attrib and el.tag.split("}")[-1] not in ("Wavelength",)
        }
        if axis is None or axis.size < xdim:
            raise CorruptFileError(
                path, "the SPE 3 footer has no wavelength calibration for every pixel", offset=footer_offset
            )
        axis = axis[:xdim]
    else:
        order = buf[3101]
        coeffs = struct.unpack_from("<6d", buf, 3263)[: order + 1] if order <= 5 else ()
        label = buf[3018:3058].split(b"\x00")[0].decode("latin-1")
        meta.update(
            {
                "date": buf[20:30].split(b"\x00")[0].decode("latin-1"),
                "exposure_s": struct.unpack_from("<f", buf, 10)[0],
                "center_wavelength_nm": struct.unpack_from("<f", buf, 72)[0],
                "calibration_label": label,
                "calibration_polynomial": list(coeffs),
            }
        )
        if laser is None:
            stored = struct.unpack_from("<d", buf, 3311)[0]
            laser = stored if stored > 0 else None
        pixels = np.arange(1, xdim + 1, dtype=float)
        if coeffs and any(coeffs):
            axis = np.polynomial.polynomial.polyval(pixels, coeffs)
            axis_name = "wavelength"
            if "cm" in label.lower() and "nm" not in label.lower():
                axis_name = "raman_shift"
        else:
            raise CorruptFileError(path, "the SPE 2 header holds no x calibration", offset=3263)
        attrs["exposure_per_frame_s"] = meta["exposure_s"]
    attrs["original_metadata"] = metadata_json(meta)
    extra_dims: dict[str, np.ndarray] = {}
    intensity = data
    if frames > 1:
        extra_dims["frame"] = np.arange(frames)
    else:
        intensity = intensity[0]
    if ydim > 1:
        extra_dims["index"] = np.arange(ydim)
    elif frames > 1:
        intensity = intensity[:, 0, :]
    else:
        intensity = intensity[0]
    ds = raman_leaf(intensity, axis_name, axis, laser_nm=laser, units="counts", attrs=attrs, extra_dims=extra_dims)
    return xr.DataTree(children={node_name(path.stem): xr.DataTree(ds)}, dataset=xr.Dataset(attrs={}))


@read_spe.sniffer
def _sniff(head: bytes, path: Path) -> float:
    if len(head) < 2000:
        return 0.0
    xdim, ydim, frames, dtype_code, version = _geometry(head)
    if dtype_code not in _DTYPES or xdim < 1 or ydim < 1 or frames < 1 or not (1.0 <= version < 4.0):
        return 0.0
    try:
        size = path.stat().st_size
    except OSError:
        return 0.0
    needed = HEADER_SIZE + xdim * ydim * frames * np.dtype(_DTYPES[dtype_code]).itemsize
    return 0.9 if needed <= size else 0.3
