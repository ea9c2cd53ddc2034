"""Reader registry: one module per file format, chosen by sniffing the content.

A format module registers itself with :func:`register`::

    @register(
        name="vamas",
        description="ISO 14976 VAMAS surface-chemical-analysis transfer format",
        extensions=(".vms", ".npl"),
        techniques=("xps", "aes"),
    )
    def read_vamas(path, *, technique=None):
        ...

    @read_vamas.sniffer
    def _sniff(head: bytes, path) -> float:
        return 1.0 if head.startswith(b"VAMAS Surface Chemical Analysis Standard") else 0.0

A sniffer sees the first :data:`SNIFF_BYTES` bytes of the file and returns a confidence in [0, 1]
(0 = "not mine"). :func:`read` asks every reader, prefers content over extension, and falls back on
the extension only as a tie-breaker. Format modules in :mod:`specfit.io` are discovered
automatically, so adding a format is adding a file.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import xarray as xr

from ..conventions import TECHNIQUES, leaves, validate
from ..errors import ReadError, SpecfitError, UnknownFormatError

__all__ = ["SNIFF_BYTES", "Reader", "formats", "get_reader", "read", "register"]

#: How many leading bytes a sniffer gets.
SNIFF_BYTES = 8192

Sniffer = Callable[[bytes, Path], float]
ReadFunction = Callable[..., xr.DataTree]


@dataclass
class Reader:
    """A registered file format."""

    name: str
    description: str
    read: ReadFunction
    extensions: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()
    sniff: Sniffer | None = None
    #: Lower priority readers (generic text) lose ties against specific ones.
    priority: int = 10
    module: str = field(default="")

    def sniffer(self, func: Sniffer) -> Sniffer:
        """Decorator that attaches a content sniffer to this reader."""
        self.sniff = func
        return func

    def __call__(self, path, **kwargs) -> xr.DataTree:
        return self.read(path, **kwargs)


_REGISTRY: dict[str, Reader] = {}
_DISCOVERED = False


def register(
    *,
    name: str,
    description: str,
    extensions: tuple[str, ...] = (),
    techniques: tuple[str, ...] = (),
    priority: int = 10,
) -> Callable[[ReadFunction], Reader]:
    """Register a reader function under ``name`` (decorator); returns the :class:`Reader`."""

    def decorate(func: ReadFunction) -> Reader:
        if name in _REGISTRY and _REGISTRY[name].module != func.__module__:
            raise SpecfitError(f"format name {name!r} registered twice ({_REGISTRY[name].module}, {func.__module__})")
        reader = Reader(
            name=name,
            description=description,
            read=func,
            extensions=tuple(e.lower() for e in extensions),
            techniques=techniques,
            priority=priority,
            module=func.__module__,
        )
        _REGISTRY[name] = reader
        return reader

    return decorate


def _discover() -> None:
    """Import every module of :mod:`specfit.io` (and its subpackages) so readers register."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    import specfit.io as package

    for info in pkgutil.walk_packages(package.__path__, prefix="specfit.io."):
        if info.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        importlib.import_module(info.name)


def formats() -> list[dict[str, object]]:
    """List the supported formats: name, description, extensions and techniques."""
    _discover()
    return [
        {
            "name": r.name,
            "description": r.description,
            "extensions": list(r.extensions),
            "techniques": list(r.techniques),
        }
        for r in sorted(_REGISTRY.values(), key=lambda r: r.name)
    ]


def get_reader(name: str) -> Reader:
    """Return the reader registered as ``name``."""
    _discover()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise SpecfitError(f"unknown format {name!r}; known formats: {known}") from None


def _choose(path: Path, head: bytes, technique: str | None) -> Reader:
    ext = "".join(path.suffixes[-1:]).lower()
    scored: list[tuple[float, int, int, Reader]] = []
    for reader in _REGISTRY.values():
        if technique and reader.techniques and technique not in reader.techniques:
            continue
        score = 0.0
        if reader.sniff is not None:
            try:
                score = float(reader.sniff(head, path))
            except Exception:  # a sniffer must never decide by crashing
                score = 0.0
        if score <= 0:
            continue
        scored.append((score, int(ext in reader.extensions), reader.priority, reader))
    if not scored:
        raise UnknownFormatError(
            path,
            "format not recognised from its content"
            + (f" (extension {ext!r})" if ext else "")
            + "; `specfit.formats()` lists the supported formats",
            offset=0,
        )
    scored.sort(key=lambda item: item[:3], reverse=True)
    return scored[0][3]


def read(
    path: str | os.PathLike,
    *,
    technique: str | None = None,
    format: str | None = None,  # noqa: A002 - the public keyword the API documents
    **options,
) -> xr.DataTree:
    """Read an instrument or vendor file into an :class:`xarray.DataTree` in specfit's conventions.

    Parameters
    ----------
    path
        The file to read. It is opened read-only and never modified.
    technique
        ``"xps"``, ``"raman"``, ``"xrd"``, ``"tofsims"`` ... A hint for formats that do not say
        (plain text columns), and a filter on the candidate readers.
    format
        Force a registered format (see :func:`formats`) instead of sniffing the content.
    **options
        Passed on to the format's reader (e.g. ``wavelength=`` for plain XRD columns).
        ``chunks=`` (``"auto"`` or ``{"y": 50}``) returns dask-backed data: read lazily from
        HDF5/NetCDF files, chunked after reading for other formats.

    Returns
    -------
    xarray.DataTree
        One leaf dataset per measurement block, each passing :func:`specfit.conventions.validate`.

    Raises
    ------
    ReadError
        Naming the file and, where known, the line or byte where parsing failed.
    """
    _discover()
    path = Path(path)
    if technique is not None and technique not in TECHNIQUES:
        raise SpecfitError(f"technique {technique!r} not one of {TECHNIQUES}")
    if not path.exists():
        raise ReadError(path, "no such file")
    if path.is_dir():
        raise ReadError(path, "is a directory, not a file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError as exc:
        raise ReadError(path, f"cannot open: {exc.strerror or exc}") from exc
    if not head:
        raise ReadError(path, "file is empty", offset=0)
    reader = get_reader(format) if format else _choose(path, head, technique)
    kwargs = dict(options)
    # lazy reading is the storage formats' business; other formats are read and then chunked in memory
    chunks = kwargs.pop("chunks", None) if reader.name != "netcdf" else None
    if technique is not None:
        kwargs["technique"] = technique
    try:
        tree = reader.read(path, **kwargs)
    except ReadError:
        raise
    except SpecfitError:
        raise
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:  # a reader bug or an unforeseen damage: still one clear line
        raise ReadError(path, f"could not be read as {reader.name}: {type(exc).__name__}: {exc}") from exc
    for node_path, _ds in leaves(tree):
        node = tree[node_path] if node_path != "/" else tree
        node.attrs.setdefault("source_file", path.name)
        node.attrs.setdefault("source_format", reader.name)
        if technique and "technique" not in node.attrs:
            node.attrs["technique"] = technique
    validate(tree)
    if chunks is not None:
        tree = tree.map_over_datasets(lambda ds: ds.chunk(_dims_chunks(ds, chunks)) if ds.data_vars else ds)
    return tree


def _dims_chunks(ds: xr.Dataset, chunks) -> dict | str:
    """The part of a ``chunks`` request that applies to this dataset's dimensions."""
    if isinstance(chunks, dict):
        return {d: c for d, c in chunks.items() if d in ds.dims}
    return chunks
