"""The Raman band library (``reference_library/raman/bands.toml``) and fit templates.

Each band has a ``name`` (short id, e.g. ``"PS4"``), ``species``, typical ``position`` and a
``window = (low, high)`` in cm⁻¹, an ``assignment``, its ``source`` and ``doi``, and a ``note``
where the value is uncertain. Templates for the fitting engine live in
``reference_library/raman/templates/*.toml``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import SpecfitError
from ..reference import load_toml, reference_dir

__all__ = ["Band", "band_window", "bands", "template_path", "templates"]

BANDS_FILE = "raman/bands.toml"


@dataclass(frozen=True)
class Band:
    """One Raman band of the reference library."""

    name: str
    species: str
    position: float
    window: tuple[float, float]
    assignment: str
    source: str
    doi: str = ""
    note: str = ""

    def contains(self, shift: float) -> bool:
        """Whether ``shift`` (cm⁻¹) lies in the band's window."""
        return self.window[0] <= shift <= self.window[1]


def _load() -> list[Band]:
    raw = load_toml(BANDS_FILE)
    out: list[Band] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw.get("bands", [])):
        try:
            low, high = (float(v) for v in entry["window"])
            band = Band(
                name=str(entry["name"]),
                species=str(entry["species"]),
                position=float(entry["position"]),
                window=(low, high),
                assignment=str(entry["assignment"]),
                source=str(entry["source"]),
                doi=str(entry.get("doi", "")),
                note=str(entry.get("note", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SpecfitError(f"{BANDS_FILE}: band #{i + 1} is incomplete or malformed ({exc})") from exc
        if band.name in seen:
            raise SpecfitError(f"{BANDS_FILE}: band name {band.name!r} appears twice")
        if not (low <= band.position <= high):
            raise SpecfitError(f"{BANDS_FILE}: band {band.name!r} position {band.position} outside its window")
        seen.add(band.name)
        out.append(band)
    return out


def bands(species: str | Iterable[str] | None = None) -> list[Band]:
    """Bands of the library, optionally only those of some species.

    Parameters
    ----------
    species
        A species (``"PS4(3-)"``, ``"S8"``, ``"NCM"`` ...) or several; matched case-insensitively,
        ignoring charges in parentheses (``"PS4"`` matches ``"PS4(3-)"``). Band names match too.
    """
    all_bands = _load()
    if species is None:
        return all_bands
    wanted = {species} if isinstance(species, str) else set(species)
    keys = {_key(s) for s in wanted}
    found = [b for b in all_bands if _key(b.species) in keys or _key(b.name) in keys]
    if not found:
        known = sorted({b.species for b in all_bands})
        raise SpecfitError(f"no band for species {sorted(wanted)}; known species: {', '.join(known)}")
    return found


def _key(text: str) -> str:
    return text.split("(")[0].strip().lower()


def band_window(name: str) -> tuple[float, float]:
    """The position window of the band called ``name`` (or of the species' first band)."""
    for band in _load():
        if band.name.lower() == name.lower():
            return band.window
    matches = bands(name)
    return matches[0].window


def templates() -> list[str]:
    """Names of the Raman fit templates (``reference_library/raman/templates/<name>.toml``)."""
    folder = reference_dir() / "raman" / "templates"
    return sorted(p.stem for p in folder.glob("*.toml"))


def template_path(name: str) -> Path:
    """Path of a Raman fit template by name (e.g. ``"thiophosphate"``)."""
    path = reference_dir() / "raman" / "templates" / f"{name}.toml"
    if not path.exists():
        raise SpecfitError(f"no Raman template {name!r}; available: {', '.join(templates())}")
    return path
