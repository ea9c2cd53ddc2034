"""Normalise XPS region names written by vendor software to one spelling.

Instruments and analysis programs name the same core level in many ways: ``S2p``, ``S 2p``,
``s2p``, ``S2p3``, ``Fe2p3/2``, ``Fe 2p3``, ``Sn3d5``, ``C1s C-C``, ``O1s_XAS_45°``, ``Su1s``
(PHI's survey). :func:`normalize_region` turns the core-level part into ``"<Element> <n><l>"``
with an optional spin-orbit component (``"Fe 2p3/2"``) and keeps anything it does not recognise
unchanged, so that a name is never lost. Surveys and valence bands get ``"Survey"`` and
``"Valence band"``.

The spin-orbit suffix digits used by vendors are the leading digit of the j fraction
(``p1``/``p3`` -> ``p1/2``/``p3/2``, ``d3``/``d5`` -> ``d3/2``/``d5/2``, ``f5``/``f7``); ``s`` has
no splitting.
"""

from __future__ import annotations

import re

__all__ = ["ELEMENTS", "normalize_region", "parse_core_level"]

#: Chemical element symbols (Z = 1..103), for recognising the element part of a region name.
ELEMENTS: tuple[str, ...] = (
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr "
    "Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb "
    "Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No Lr"
).split()
_ELEMENT_SET = {e.lower(): e for e in ELEMENTS}

# j = l ± 1/2 written as the numerator of the fraction
_SPIN_ORBIT = {"p": {"1": "1/2", "3": "3/2"}, "d": {"3": "3/2", "5": "5/2"}, "f": {"5": "5/2", "7": "7/2"}}

_CORE = re.compile(
    r"^\s*(?P<el>[A-Za-z]{1,2})\s*[-_ ]?\s*(?P<n>[1-7])\s*(?P<l>[spdfSPDF])"
    r"(?:\s*(?P<j>[1357])(?:\s*/\s*2)?)?(?P<rest>.*)$"
)
# PHI names its surveys "Su1s" or "1su"; Kratos "Wide"
_SURVEY = re.compile(r"^\s*(survey|wide|su\s*1s|\d+su|overview)\b", re.IGNORECASE)
_VALENCE = re.compile(r"^\s*(valence|vb\b|val\.?\s*band)", re.IGNORECASE)
_AUGER = re.compile(r"^\s*(?P<el>[A-Za-z]{1,2})\s*(?P<t>[KLMN][KLMN0-9,]*[KLMNV]{1,2}[0-9,]*)\s*$")


def parse_core_level(name: str) -> tuple[str, str, str | None, str] | None:
    """Split a region name into ``(element, shell, spin_orbit, rest)`` or ``None``.

    ``shell`` is e.g. ``"2p"``; ``spin_orbit`` is ``"3/2"`` or ``None``; ``rest`` is whatever
    followed the core level (a component or condition label), stripped.

    Examples
    --------
    >>> parse_core_level("Fe2p3")
    ('Fe', '2p', '3/2', '')
    >>> parse_core_level("C1s C-C")
    ('C', '1s', None, 'C-C')
    """
    m = _CORE.match(name)
    if not m:
        return None
    el = _ELEMENT_SET.get(m.group("el").lower())
    if el is None:
        return None
    n, l_ = m.group("n"), m.group("l").lower()
    if int(n) <= "spdf".index(l_):  # 1p, 2d ... do not exist: not a core level
        return None
    j = m.group("j")
    spin = None
    if j is not None:
        spin = _SPIN_ORBIT.get(l_, {}).get(j)
        if spin is None:  # "S2p5" - not a valid j; keep the digit in the rest
            return None
    rest = m.group("rest")
    # "C1s" followed by letters without a separator ("C1sX") is not a core-level name
    if rest and rest[0].isalnum():
        return None
    return el, f"{n}{l_}", spin, rest.strip(" _-:;,()").strip()


def normalize_region(name: str | None) -> str:
    """Return the canonical spelling of an XPS region name.

    ``"S2p"`` -> ``"S 2p"``, ``"Fe2p3"`` -> ``"Fe 2p3/2"``, ``"sn3d5"`` -> ``"Sn 3d5/2"``,
    ``"C1s C-C"`` -> ``"C 1s C-C"``, ``"Su1s"``/``"Wide"``/``"survey"`` -> ``"Survey"``,
    ``"VB"`` -> ``"Valence band"``, ``"Zn LMM"`` -> ``"Zn LMM"``. Unrecognised names are returned
    stripped but otherwise unchanged; an empty name gives ``""``.
    """
    if name is None:
        return ""
    text = " ".join(str(name).split())
    if not text:
        return ""
    text = re.sub(r"^\d+\s+(?=[A-Za-z])", "", text)  # SpecsLab numbers regions: "2 C1s"
    if _SURVEY.match(text):
        return "Survey"
    if _VALENCE.match(text):
        return "Valence band"
    parsed = parse_core_level(text)
    if parsed is not None and parsed[3].startswith(("+", "&")):
        return text  # a combined window such as "W4d+C1s" keeps its name
    if parsed is not None:
        el, shell, spin, rest = parsed
        core = f"{el} {shell}{spin or ''}"
        return f"{core} {rest}" if rest and rest.lower() != "none" else core
    m = _AUGER.match(text)
    if m and m.group("el").lower() in _ELEMENT_SET:
        return f"{_ELEMENT_SET[m.group('el').lower()]} {m.group('t').upper()}"
    return text
