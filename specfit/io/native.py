"""specfit's own storage: HDF5 files that are also valid NetCDF4 (groups = tree nodes).

:func:`save` writes data trees, datasets and result objects (anything with ``to_datatree()``);
:func:`load` reads them back exactly. Any NetCDF4/HDF5 file laid out in the conventions is read by
the registered ``netcdf`` format, so stacks and maps saved by specfit (or by other tools following
the conventions) go wherever a PATH is accepted.

NetCDF cannot tell a one-element list attribute from a scalar, so :func:`save` records which
attributes were lists in ``_specfit_list_attrs`` and :func:`load` restores them; that is what makes
the round trip exact.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..conventions import sanitize_attrs
from ..errors import CorruptFileError, ReadError, SpecfitError
from .registry import register

__all__ = ["HDF5_MAGIC", "load", "register_loadable", "save"]

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
NETCDF3_MAGIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05")
_LIST_KEY = "_specfit_list_attrs"
_TYPE_KEY = "specfit_type"

#: Result classes that :func:`load` can rebuild: type name -> ``from_datatree`` function.
_LOADABLE: dict[str, Callable[[xr.DataTree], Any]] = {}


def register_loadable(type_name: str, from_datatree: Callable[[xr.DataTree], Any]) -> None:
    """Let :func:`load` rebuild objects whose saved root has ``specfit_type == type_name``."""
    _LOADABLE[type_name] = from_datatree


def _encode_attrs(attrs: dict) -> dict:
    clean = sanitize_attrs(attrs)
    lists = sorted(k for k, v in clean.items() if isinstance(v, list))
    if lists:
        clean[_LIST_KEY] = json.dumps(lists)
    return clean


def _decode_attrs(attrs: dict) -> dict:
    out: dict[str, Any] = {}
    lists = set(json.loads(attrs.get(_LIST_KEY, "[]")))
    for key, value in attrs.items():
        if key == _LIST_KEY:
            continue
        if isinstance(value, np.ndarray):
            value = [v.item() for v in value.ravel()]
        elif isinstance(value, np.generic):
            value = value.item()
        if key in lists and not isinstance(value, list):
            value = [value]
        out[key] = value
    return out


def _to_tree(obj: Any) -> xr.DataTree:
    if isinstance(obj, xr.DataTree):
        return obj
    if isinstance(obj, xr.Dataset):
        return xr.DataTree(dataset=obj)
    if isinstance(obj, xr.DataArray):
        return xr.DataTree(dataset=obj.to_dataset(name=obj.name or "intensity"))
    if hasattr(obj, "to_datatree"):
        return obj.to_datatree()
    raise SpecfitError(f"cannot save an object of type {type(obj).__name__}")


def _encoded_tree(tree: xr.DataTree) -> xr.DataTree:
    nodes: dict[str, xr.Dataset] = {}
    for node in tree.subtree:
        ds = node.to_dataset(inherit=False).copy()
        ds.attrs = _encode_attrs(ds.attrs)
        for name in ds.variables:
            ds[name].attrs = _encode_attrs(ds[name].attrs)
            if ds[name].dtype.kind == "b":
                raise SpecfitError(f"{node.path}: variable {name!r} is boolean; store it as int8")
        nodes[node.path] = ds
    return xr.DataTree.from_dict(nodes)


def save(obj: Any, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Save a data tree, dataset or result to an HDF5/NetCDF4 file, atomically.

    Parameters
    ----------
    obj
        An :class:`xarray.DataTree`, :class:`xarray.Dataset`, or an object with ``to_datatree()``
        (fit results).
    path
        Destination (``.h5`` or ``.nc`` by custom).
    overwrite
        Replace an existing file. Without it an existing file is an error and is left untouched.

    Returns
    -------
    pathlib.Path
        The written file.

    Notes
    -----
    The file is written to a temporary file in the destination folder and renamed into place, so an
    interrupted save never leaves a damaged file behind.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise SpecfitError(f"{path}: file exists; pass overwrite=True to replace it")
    if not path.parent.exists():
        raise SpecfitError(f"{path}: folder {path.parent} does not exist")
    tree = _encoded_tree(_to_tree(obj))
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        tree.to_netcdf(tmp, engine="h5netcdf", invalid_netcdf=False)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _open_tree(path: Path, chunks: Any = None) -> xr.DataTree:
    """Open a file as a tree; with ``chunks`` the data stay on disk as dask arrays (lazy)."""
    try:
        if chunks is None:
            with xr.open_datatree(path, engine="h5netcdf") as opened:
                tree = opened.load()
        else:
            # lazy: xarray keeps the file open through its file manager until the arrays are computed
            tree = xr.open_datatree(path, engine="h5netcdf", chunks=chunks)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CorruptFileError(path, f"not a readable NetCDF4/HDF5 file: {exc}", offset=0) from exc
    nodes = {}
    for node in tree.subtree:
        ds = node.to_dataset(inherit=False)
        ds.attrs = _decode_attrs(ds.attrs)
        for name in ds.variables:
            ds[name].attrs = _decode_attrs(ds[name].attrs)
            if ds[name].dtype == object and ds[name].size and isinstance(ds[name].values.flat[0], str):
                ds[name] = ds[name].astype(str)
        nodes[node.path] = ds
    return xr.DataTree.from_dict(nodes)


def load(path: str | os.PathLike) -> Any:
    """Load what :func:`save` wrote: a data tree, or the result object that was saved.

    Raises
    ------
    ReadError
        If the file is missing or not a NetCDF4/HDF5 file.
    """
    path = Path(path)
    if not path.exists():
        raise ReadError(path, "no such file")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if not head.startswith(HDF5_MAGIC):
        raise ReadError(path, "not an HDF5/NetCDF4 file (no HDF5 signature)", offset=0)
    tree = _open_tree(path)
    type_name = tree.attrs.get(_TYPE_KEY)
    if type_name:
        if type_name not in _LOADABLE:
            # result types register when their module is imported
            import specfit  # noqa: F401  (imports the fitting modules)
        if type_name in _LOADABLE:
            return _LOADABLE[type_name](tree)
    return tree


@register(
    name="netcdf",
    description="specfit HDF5 / NetCDF4 files and any NetCDF4 file laid out in specfit's conventions",
    extensions=(".h5", ".hdf5", ".nc", ".nc4", ".netcdf"),
    techniques=(),
    priority=20,
)
def read_netcdf(path: str | os.PathLike, *, technique: str | None = None, chunks: Any = None) -> xr.DataTree:
    """Read a specfit HDF5 file or a conventional NetCDF4 file as a data tree.

    Parameters
    ----------
    chunks
        Open lazily with dask arrays of these chunks (``"auto"``, ``{"y": 100}`` ...), for data larger
        than memory; ``None`` (default) loads everything.
    """
    path = Path(path)
    tree = _open_tree(path, chunks)
    if technique:
        for node in tree.subtree:
            if "intensity" in node.ds.data_vars and "technique" not in node.attrs:
                node.attrs["technique"] = technique
    return tree


@read_netcdf.sniffer
def _sniff(head: bytes, path: Path) -> float:
    return 1.0 if head.startswith(HDF5_MAGIC) else 0.0
