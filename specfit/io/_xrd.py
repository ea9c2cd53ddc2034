"""Shared helpers of the X-ray diffraction readers: wavelengths, safe XML and safe zip access.

Private module (the leading underscore keeps the registry from importing it as a format).

Wavelength attributes follow one convention in every XRD leaf:

``wavelength_angstrom``
    Kα1 (or the single wavelength of a monochromatic / neutron source), Å.
``wavelength_kalpha2_angstrom``, ``wavelength_kbeta_angstrom``, ``wavelength_average_angstrom``
    When the file states them, Å.
``kalpha2_ratio``
    Kα2/Kα1 intensity ratio as the file states it (0 means "Kα2 removed or monochromated").
``anode``
    Tube anode element symbol.
``wavelength_assumed``
    1 when the file states no wavelength and specfit's default was used (see :data:`DEFAULT_WAVELENGTH`),
    0 otherwise.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CorruptFileError, ReadError, SpecfitError

__all__ = [
    "DEFAULT_WAVELENGTH",
    "MAX_ZIP_MEMBERS",
    "MAX_ZIP_TOTAL_BYTES",
    "open_zip_safely",
    "parse_xml_safely",
    "read_zip_member",
    "strip_namespaces",
    "wavelength_attrs",
]

#: Default for files that state no wavelength: Cu Kα1/Kα2 as written by PANalytical Data Collector into its
#: XRDML files (``usedWavelength`` of the corpus file xrd/xrdml/xrd.xrdml: kAlpha1 1.5405980, kAlpha2 1.5444260,
#: kBeta 1.3922500 Å) with the conventional Kα2/Kα1 intensity ratio 0.5 that the same software writes for
#: unmonochromated tubes (XRDML_alt.xrdml, m82762 mesh). Bruker and Rigaku software write slightly different
#: Cu values (1.5406/1.54439 and 1.540593/1.544414 Å); a reader always prefers what the file says.
DEFAULT_WAVELENGTH: dict[str, float] = {
    "wavelength_angstrom": 1.540598,
    "wavelength_kalpha2_angstrom": 1.544426,
    "wavelength_kbeta_angstrom": 1.39225,
    "kalpha2_ratio": 0.5,
}

#: Zip-bomb guard: the declared uncompressed size of all members together may not exceed this.
MAX_ZIP_TOTAL_BYTES = 1 << 30
#: Zip-bomb guard: at most this many members.
MAX_ZIP_MEMBERS = 10_000
#: A single member may not expand more than this factor over its compressed size (real .brml/.rasx: < 20).
MAX_ZIP_RATIO = 1000

_FORBIDDEN_XML = (b"<!DOCTYPE", b"<!ENTITY", "<!DOCTYPE".encode("utf-16-le"), "<!ENTITY".encode("utf-16-le"))


def wavelength_attrs(
    *,
    kalpha1: float | None = None,
    kalpha2: float | None = None,
    ratio: float | None = None,
    kbeta: float | None = None,
    average: float | None = None,
    anode: str | None = None,
    override: float | Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Build the conventional wavelength attributes from what a file states.

    Parameters
    ----------
    kalpha1, kalpha2, ratio, kbeta, average, anode
        Values the file states (``None`` where it does not).
    override
        The reader's ``wavelength=`` option: a number (Kα1 or the single wavelength, Å; Kα2 and the ratio are
        then dropped) or a mapping with any of the keys ``wavelength_angstrom``,
        ``wavelength_kalpha2_angstrom``, ``kalpha2_ratio``, ``wavelength_kbeta_angstrom`` (also accepted:
        ``kalpha1``, ``kalpha2``, ``ratio``, ``kbeta``). It replaces what the file says.

    Returns
    -------
    dict
        Attributes to merge into a leaf; ``wavelength_assumed`` is 1 only when neither the file nor the
        override gave a Kα1 wavelength.
    """
    attrs: dict[str, Any] = {}
    if anode:
        attrs["anode"] = anode.strip()
    if override is not None:
        if isinstance(override, Mapping):
            aliases = {
                "kalpha1": "wavelength_angstrom",
                "kalpha2": "wavelength_kalpha2_angstrom",
                "ratio": "kalpha2_ratio",
                "kbeta": "wavelength_kbeta_angstrom",
            }
            allowed = set(aliases) | set(aliases.values())
            for key, value in override.items():
                if key not in allowed:
                    raise SpecfitError(f"wavelength= key {key!r} not one of {sorted(allowed)}")
                attrs[aliases.get(key, key)] = float(value)
            if "wavelength_angstrom" not in attrs:
                raise SpecfitError("wavelength= mapping needs 'wavelength_angstrom' (or 'kalpha1')")
        else:
            attrs["wavelength_angstrom"] = float(override)
        attrs["wavelength_assumed"] = 0
        attrs["wavelength_source"] = "user"
        return attrs
    stated = {
        "wavelength_angstrom": kalpha1,
        "wavelength_kalpha2_angstrom": kalpha2,
        "kalpha2_ratio": ratio,
        "wavelength_kbeta_angstrom": kbeta,
        "wavelength_average_angstrom": average,
    }
    if kalpha1 is None or not kalpha1 > 0:
        attrs.update(DEFAULT_WAVELENGTH)
        attrs["wavelength_assumed"] = 1
        attrs["wavelength_source"] = "default Cu Kα (file states no wavelength)"
        attrs.setdefault("anode", "Cu")
        return attrs
    attrs.update({k: float(v) for k, v in stated.items() if v is not None})
    attrs["wavelength_assumed"] = 0
    attrs["wavelength_source"] = "file"
    return attrs


def finite_leaf(path: str | os.PathLike | None, intensity: Any, two_theta: Any, **kwargs: Any) -> Any:
    """:func:`specfit.conventions.make_leaf` on a ``two_theta`` axis after refusing non-finite values.

    A NaN or infinity where a diffractometer wrote a number means a damaged file, not a measurement.
    """
    from ..conventions import make_leaf

    for values, what in ((two_theta, "2θ value"), (intensity, "intensity")):
        flat = np.asarray(values, dtype=float).ravel()
        finite = np.isfinite(flat)
        if not finite.all():
            raise CorruptFileError(path, f"{what} #{int(np.argmin(finite)) + 1} is not finite ({flat[~finite][0]})")
    return make_leaf(intensity, "two_theta", two_theta, **kwargs)


def check_no_dtd(raw: bytes, path: str | os.PathLike | None, what: str = "") -> None:
    """Refuse XML that declares a DTD or entities (external-entity and entity-expansion attacks)."""
    for pattern in _FORBIDDEN_XML:
        at = raw.find(pattern)
        if at >= 0:
            raise ReadError(
                path,
                f"XML{' member ' + what if what else ''} declares a DTD/entity ({pattern.decode('latin-1')!r}); "
                "refused for safety (instrument files never need one)",
                offset=at,
            )


def parse_xml_safely(raw: bytes, path: str | os.PathLike | None, what: str = "") -> ET.Element:
    """Parse XML bytes into an element tree after refusing DTDs and entity declarations.

    ``xml.etree`` (expat) never fetches external entities, but it does expand internal ones; refusing any
    ``<!DOCTYPE``/``<!ENTITY`` closes both the external-entity and the "billion laughs" holes without a
    third-party dependency (defusedxml is not a dependency of specfit).
    """
    check_no_dtd(raw, path, what)
    try:
        return ET.fromstring(raw)
    except ET.ParseError as exc:
        line = exc.position[0]
        raise CorruptFileError(
            path, f"malformed XML{' in ' + what if what else ''}: {exc.msg if hasattr(exc, 'msg') else exc}", line=line
        ) from None


def strip_namespaces(root: ET.Element) -> ET.Element:
    """Drop ``{namespace}`` prefixes from every tag in place (XRDML versions differ only by namespace)."""
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.startswith("{"):
            element.tag = element.tag.split("}", 1)[1]
        for key in [k for k in element.attrib if k.startswith("{")]:
            element.attrib[key.split("}", 1)[1]] = element.attrib.pop(key)
    return root


def open_zip_safely(path: str | os.PathLike) -> zipfile.ZipFile:
    """Open a zip container after checking member count and declared sizes (zip-bomb guard).

    Raises
    ------
    CorruptFileError
        Not a zip file, or a damaged one.
    ReadError
        Too many members, too large in total, or a member expanding implausibly much.
    """
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise CorruptFileError(path, f"not a valid zip container: {exc}", offset=0) from None
    except OSError as exc:
        raise ReadError(path, f"cannot open: {exc}") from exc
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        archive.close()
        raise ReadError(path, f"zip container has {len(infos)} members (limit {MAX_ZIP_MEMBERS}); refused")
    total = sum(i.file_size for i in infos)
    if total > MAX_ZIP_TOTAL_BYTES:
        archive.close()
        raise ReadError(
            path, f"zip container would expand to {total} bytes (limit {MAX_ZIP_TOTAL_BYTES}); refused as a zip bomb"
        )
    for info in infos:
        if info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1) and info.file_size > 1 << 20:
            archive.close()
            raise ReadError(
                path,
                f"zip member {info.filename!r} expands {info.file_size / max(info.compress_size, 1):.0f}-fold "
                f"(limit {MAX_ZIP_RATIO}); refused as a zip bomb",
            )
    return archive


def read_zip_member(archive: zipfile.ZipFile, name: str, path: str | os.PathLike) -> bytes:
    """Read one member; damage (CRC, truncation, bad compression) becomes :class:`CorruptFileError`.

    ``ZipExtFile`` stops at the declared size, so the guard of :func:`open_zip_safely` bounds memory.
    """
    try:
        return archive.read(name)
    except KeyError:
        raise CorruptFileError(path, f"zip container has no member {name!r}") from None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
        raise CorruptFileError(path, f"zip member {name!r} is damaged: {exc}") from None
    except Exception as exc:  # zlib.error and friends
        raise CorruptFileError(path, f"zip member {name!r} is damaged: {type(exc).__name__}: {exc}") from None


def iso_datetime(text: str | None, formats: tuple[str, ...]) -> dict[str, str]:
    """``{"acquired_at": ISO 8601}`` when ``text`` matches one of the ``strptime`` formats, else the text kept
    as ``{"acquired_at_text": text}`` (never a guessed date: 04/07/2025 is ambiguous without the format)."""
    text = (text or "").strip()
    if not text:
        return {}
    for fmt in formats:
        try:
            return {"acquired_at": datetime.strptime(text, fmt).isoformat()}
        except ValueError:
            continue
    return {"acquired_at_text": text}


def to_float(text: str | None) -> float | None:
    """Parse a number, ``None`` for missing/unparsable text."""
    if text is None:
        return None
    try:
        return float(text.strip().strip('"').strip("'"))
    except ValueError:
        return None


_NUMBER_LIST = re.compile(r"\s+")


def parse_numbers(text: str | None, path: str | os.PathLike | None, what: str) -> list[float]:
    """Split a whitespace-separated list of numbers; a non-number is a :class:`CorruptFileError`."""
    if not text or not text.strip():
        return []
    parts = _NUMBER_LIST.split(text.strip())
    try:
        return [float(p) for p in parts]
    except ValueError:
        bad = next(p for p in parts if not _is_float(p))
        raise CorruptFileError(path, f"non-numeric value {bad[:40]!r} in {what}") from None


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
