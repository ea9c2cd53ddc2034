"""CasaXPS quantification regions and components (stored as VAMAS block comments) -> specfit Models.

CasaXPS writes its analysis into the comment lines of each VAMAS block::

    CASA region (*Fe 2p*) (*U 3 Tougaard*) 737.52081 786.7632 16.42 2 0 0 335.44588 551 436 3 (*Fe 2p*) 55.8458 0 16.42
    CASA comp (*Fe 2p*) (*SGL(30)*) Area 35837.064 1e-020 6383903.5 -1 1 MFWHM 8 1.07 8 -1 1 Position 770.61 770.61 ...

A region line holds: name, background type, start and end (on the block's own x axis, kinetic
energy for most files), RSF, the end-point averaging width, start/end offsets, then the background's
cross-section parameters (for ``U 2``/``U 3 Tougaard``: ``B C D T0``), the element tag, mass ...
A component line holds: name, line shape, then for ``Area``, ``MFWHM`` (the FWHM) and ``Position``
five numbers ``value min max link factor``: ``link`` is -1, or the index of the component the
parameter is tied to (area and FWHM: ``factor × linked``; position: ``linked + factor``).

What has been checked against CasaXPS's own evaluation (the corpus file
``xps/casaxps_analysis/FeO_analyzed*.{vms,txt}``, CasaXPS 2.3.25): the ``U 3 Tougaard`` background
is ``K(T) = B T / ((C − T²)² + D T²)`` for ``T ≥ T0`` (the fourth number, 3 eV there) and zero below,
summed over the region's channels, anchored at the mean of 3 channels centred on each region end
for averaging width 2. CasaXPS draws and exports a component as straight lines between samples of
its line shape every FWHM/40 from the centre (:func:`casaxps_curve` does the same): so drawn,
``SGL(p)`` components match CasaXPS's exported curves to the export's rounding after one scale
factor, 0.99908 for both components of that file (see the tests for the numbers).
Not reproduced: CasaXPS's ``LA``/``LF`` Gaussian-width code ``m`` and ``LF``'s damping ``w`` are not
publicly documented; such components are reported and skipped (``unsupported="skip"``) or refused.

Energy calibration: ``Calib M = <measured> A = <assigned> [Regions] [Comps] BE ADD`` lines add
``A − M`` to the binding energies (:func:`casa_calibration`, :func:`apply_casa_calibration`, which
records the shift like a charge reference). Stored region limits and component positions are in
the calibrated frame unless the line carries the ``Regions``/``Comps`` flags. This frame rule is
how open-source CasaXPS readers describe it (pynxtools-xps parses the same lines); CasaXPS's own
documentation of it was not available to us. It is checked for self-consistency (calibrated data
+ calibrated model = raw data + raw model, shifted), not against a CasaXPS file holding both a fit
and a calibration (the corpus has none). Calibrations on a
measured *range* (CasaXPS locates the peak itself) are refused.

From a read file: :func:`model_from_vamas` (the block comments kept by the VAMAS reader in
``comments``); on the command line ``specfit fit FILE.vms --model casa`` (``casa:skip`` leaves out
unsupported components) applies the calibration and re-fits.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..backgrounds import Linear, Shirley, Tougaard
from ..errors import ModelError
from ..lineshapes import parse_shape
from ..model import Model, Peak

__all__ = [
    "CasaComponent",
    "CasaRegion",
    "casa_blocks_from_text",
    "model_from_casa",
    "model_from_vamas",
    "parse_casa_lines",
    "CasaCalibration",
    "apply_casa_calibration",
    "casa_calibration",
    "casaxps_curve",
]

_STR = re.compile(r"\(\*(.*?)\*\)")


@dataclass
class CasaRegion:
    """A CasaXPS quantification region."""

    name: str
    background: str
    start: float
    end: float
    rsf: float
    average_width: int
    start_offset: float
    end_offset: float
    cross_section: list[float] = field(default_factory=list)
    raw: str = ""


@dataclass
class CasaParameter:
    value: float
    min: float
    max: float
    link: int
    factor: float


@dataclass
class CasaComponent:
    """A CasaXPS synthetic component (line shape, area, FWHM, position with bounds and links)."""

    name: str
    shape: str
    area: CasaParameter
    fwhm: CasaParameter
    position: CasaParameter
    rsf: float | None = None
    raw: str = ""


def _split(line: str) -> tuple[list[str], list[str]]:
    strings = _STR.findall(line)
    rest = _STR.sub(" \x00 ", line).split()
    return strings, rest


def _parse_region(line: str) -> CasaRegion:
    strings, tokens = _split(line)
    if len(strings) < 2:
        raise ModelError(f"CasaXPS region line not understood: {line!r}")
    # tokens: CASA region \0 \0 numbers... \0 ...
    nums: list[float] = []
    seen = 0
    for t in tokens[2:]:
        if t == "\x00":
            seen += 1
            if seen > 2:
                break
            continue
        if seen == 2:
            nums.append(float(t))
    if len(nums) < 6:
        raise ModelError(f"CasaXPS region line has {len(nums)} numbers, expected at least 6: {line!r}")
    return CasaRegion(strings[0], strings[1], nums[0], nums[1], nums[2], int(nums[3]), nums[4], nums[5], nums[6:], line)


def _parse_component(line: str) -> CasaComponent:
    strings, tokens = _split(line)
    if len(strings) < 2:
        raise ModelError(f"CasaXPS component line not understood: {line!r}")
    found: dict[str, CasaParameter] = {}
    rsf = None
    for i, t in enumerate(tokens):
        if t in ("Area", "MFWHM", "FWHM", "Position") and i + 5 < len(tokens):
            try:
                v = [float(s) for s in tokens[i + 1 : i + 6]]
            except ValueError as exc:
                raise ModelError(f"CasaXPS component {strings[0]!r}: {t} needs 5 numbers: {line!r}") from exc
            found["fwhm" if "FWHM" in t else t.lower()] = CasaParameter(v[0], v[1], v[2], int(v[3]), v[4])
        if t == "RSF" and i + 1 < len(tokens) and rsf is None:
            rsf = float(tokens[i + 1])
    missing = {"area", "fwhm", "position"} - set(found)
    if missing:
        raise ModelError(f"CasaXPS component {strings[0]!r} lacks {sorted(missing)}: {line!r}")
    return CasaComponent(strings[0], strings[1], found["area"], found["fwhm"], found["position"], rsf, line)


def parse_casa_lines(lines: list[str]) -> tuple[list[CasaRegion], list[CasaComponent]]:
    """Parse ``CASA region`` / ``CASA comp`` comment lines (other lines are ignored)."""
    regions, comps = [], []
    for line in lines:
        s = line.strip()
        if s.startswith("CASA region"):
            regions.append(_parse_region(s))
        elif s.startswith("CASA comp"):
            comps.append(_parse_component(s))
    return regions, comps


def casa_blocks_from_text(text: str) -> list[list[str]]:
    """The CasaXPS comment lines of each block of a VAMAS file's text (blocks with no analysis omitted).

    A new block starts at a ``CASA region`` line that follows a ``CASA comp`` line (or a region
    line after other block content); this is enough for files a VAMAS reader has not parsed yet.
    """
    blocks: list[list[str]] = []
    current: list[str] = []
    last = ""
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("CASA region"):
            if current and last == "comp":
                blocks.append(current)
                current = []
            current.append(s)
            last = "region"
        elif s.startswith("CASA comp"):
            current.append(s)
            last = "comp"
    if current:
        blocks.append(current)
    return blocks


def _background(region: CasaRegion):
    kind = region.background.strip()
    low = kind.lower()
    points = 2 * (region.average_width // 2) + 1
    cs = region.cross_section
    if "tougaard" in low:
        form = "U3" if low.startswith("u 3") else "U2"
        B = cs[0] if cs else None
        C = cs[1] if len(cs) > 1 else 1643.0
        D = cs[2] if len(cs) > 2 and form == "U3" else 0.0
        gap = cs[3] if len(cs) > 3 and form == "U3" else 0.0
        return Tougaard(B=B, C=C, D=D, form=form, gap=gap, average_points=points)
    if "shirley" in low:
        return Shirley(average_points=points)
    if low == "linear":
        return Linear()
    if low in ("none", ""):
        return None
    raise ModelError(f"CasaXPS background {kind!r} is not supported")


def _convert(value: float, hv: float | None) -> float:
    return value if hv is None else round(hv - value, 9)


def model_from_casa(
    lines: list[str],
    *,
    excitation_energy: float | None = None,
    region: str | None = None,
    unsupported: str = "error",
) -> Model:
    """Build a specfit :class:`Model` from a block's CasaXPS comment lines.

    Parameters
    ----------
    lines
        The block's comment lines (see :func:`casa_blocks_from_text`).
    excitation_energy
        Photon energy (eV). Given, kinetic-energy positions, bounds and region limits are converted
        to binding energy (``BE = hν − KE``); otherwise they stay on the file's axis.
    region
        Which CasaXPS region to use when the block has several (default: the first).
    unsupported
        ``"error"`` refuses components whose line shape specfit cannot reproduce (CasaXPS ``LA``/``LF``
        with its undocumented width code); ``"skip"`` leaves them out with a warning.
    """
    regions, comps = parse_casa_lines(lines)
    if not regions and not comps:
        raise ModelError("no CASA region or CASA comp lines")
    reg = regions[0] if region is None else next((r for r in regions if r.name == region), None)
    if region is not None and reg is None:
        raise ModelError(f"no CasaXPS region named {region!r}")
    hv = excitation_energy
    names: list[str] = []
    for c in comps:  # CasaXPS allows repeated names ("Fe 2p" four times): make them unique
        base, k = c.name, 1
        name = base
        while name in names:
            k += 1
            name = f"{base} #{k}"
        names.append(name)
    peaks: list[Peak] = []
    kept: dict[int, str] = {}
    for i, (c, name) in enumerate(zip(comps, names)):
        try:
            shape = _casa_shape(c.shape)
        except ModelError as exc:
            if unsupported == "skip":
                warnings.warn(f"CasaXPS component {name!r} skipped: {exc}", stacklevel=2)
                continue
            raise
        kept[i] = name
        peaks.append((i, c, name, shape))
    out = []
    for i, c, name, shape in peaks:
        kw: dict[str, Any] = {}
        for q in ("position", "fwhm", "area"):
            p: CasaParameter = getattr(c, q)
            if p.link >= 0 and p.link in kept and p.link != i:
                ref = kept[p.link]
                from ..model.components import safe_name

                ref = safe_name(ref)
                if q == "position":
                    off = -p.factor if hv is not None else p.factor
                    kw[q] = f"{ref} + {off!r}"
                else:
                    kw[q] = f"{ref} * {p.factor!r}"
                continue
            value = _convert(p.value, hv) if q == "position" else p.value
            lo, hi = (p.min, p.max) if q != "position" else sorted((_convert(p.min, hv), _convert(p.max, hv)))
            kw[q] = value
            if lo <= value <= hi:
                kw[f"{q}_min"], kw[f"{q}_max"] = lo, hi
        area_value = kw.pop("area")
        out.append(Peak(name, shape, kw.pop("position"), kw.pop("fwhm"), area_value, **kw))
    bg = _background(reg) if reg is not None else None
    rng = None
    if reg is not None:
        rng = tuple(sorted((_convert(reg.start, hv), _convert(reg.end, hv))))
    return Model(out, bg, rng, name=reg.name if reg else "")


#: CasaXPS evaluates a component's line shape at its centre ± multiples of FWHM / 40 and draws (and
#: exports) straight lines between those samples; found from the second differences of CasaXPS's
#: exported component curves (corpus FeO_analyzed, zero except at every FWHM/40 from the centre)
CASAXPS_SAMPLES_PER_FWHM = 40


def casaxps_curve(
    x: np.ndarray, shape: Callable[..., np.ndarray], center: float, fwhm: float, area: float, *args: float
) -> np.ndarray:
    """A component curve as CasaXPS draws and exports it: ``shape`` sampled every FWHM/40 from the
    centre, linearly interpolated onto ``x``.

    For comparing with CasaXPS's exported curves, not for fitting (specfit's own curves are the line
    shapes themselves). The interpolation lowers a peak's top by ~(FWHM/40)²·|f''|/8 (4e-4 of the
    height for SGL(30)) and raises its flanks; the area is unchanged to ~1e-6.

    Parameters
    ----------
    x
        Where to evaluate (any order).
    shape
        A line-shape function ``shape(x, center, fwhm, area, *args)`` of :mod:`specfit.lineshapes`,
        e.g. :func:`~specfit.lineshapes.sgl`.
    center, fwhm, area, *args
        The component's parameters, passed to ``shape``.
    """
    x = np.asarray(x, dtype=float)
    if not (np.isfinite(fwhm) and fwhm > 0):
        raise ModelError(f"FWHM must be positive and finite, not {fwhm}")
    step = fwhm / CASAXPS_SAMPLES_PER_FWHM
    j = np.arange(np.floor((x.min() - center) / step) - 1, np.ceil((x.max() - center) / step) + 2)
    knots = center + j * step
    return np.interp(x, knots, shape(knots, center, fwhm, area, *args))


def _casa_shape(text: str):
    t = text.strip()
    up = t.upper()
    if up.startswith(("GL(", "SGL(")):
        return parse_shape(t)
    if up.startswith(("LA(", "LF(")):
        raise ModelError(
            f"line shape {t!r}: CasaXPS's Gaussian width code m (and LF's damping w) are not publicly "
            "documented, so specfit cannot reproduce this shape exactly"
        )
    return parse_shape(t)


def _casa_leaves(data: Any) -> list[tuple[str, Any]]:
    import xarray as xr

    from ..conventions import leaves

    if isinstance(data, xr.DataTree):
        found = list(leaves(data))
    elif isinstance(data, xr.Dataset):
        found = [("", data)]
    else:
        raise ModelError(f"expected a DataTree or Dataset read from a VAMAS file, got {type(data).__name__}")
    return [(p, ds) for p, ds in found if "CASA region" in str(ds.attrs.get("comments", ""))
            or "CASA comp" in str(ds.attrs.get("comments", ""))]  # fmt: skip


_CALIB = re.compile(r"^\s*Calib\s+M\s*=\s*(\S+)\s+A\s*=\s*(\S+)(.*)$")


@dataclass(frozen=True)
class CasaCalibration:
    """The energy calibration CasaXPS recorded in a block (``Calib M = 285.12 A = 284.8 BE ADD`` lines).

    ``shift`` (eV) is what CasaXPS added to the binding energies: the sum of ``A − M`` over the
    block's lines. Region limits and component positions are stored as kinetic energies in the
    calibrated frame, except for lines carrying the ``Regions`` / ``Comps`` flags (CasaXPS then
    moved the regions / components with the spectrum, so they stay in the raw frame):
    ``region_shift`` / ``comp_shift`` are the parts of ``shift`` the stored limits / positions
    already include.
    """

    shift: float
    region_shift: float
    comp_shift: float
    lines: tuple[str, ...]


def casa_calibration(lines: list[str]) -> CasaCalibration | None:
    """The calibration of a block's comment lines, or ``None`` when it has no ``Calib`` line.

    Raises
    ------
    ModelError
        For a calibration on a range of measured energies (``M = 282.4,283.5``: CasaXPS locates a
        peak in the range itself, which is not reproduced) or a non-additive (``KE``/scaling) one.
    """
    total = region = comp = 0.0
    found: list[str] = []
    for raw in lines:
        match = _CALIB.match(str(raw))
        if not match:
            continue
        line = str(raw).strip()
        measured, assigned, rest = match.groups()
        flags = {w.upper() for w in rest.split()}
        try:
            delta = float(assigned) - float(measured)
        except ValueError as exc:
            raise ModelError(
                f"CasaXPS calibration {line!r}: a measured range (peak located by CasaXPS) is not reproduced; "
                "charge-reference the data with specfit.xps.charge_reference instead"
            ) from exc
        if "BE" not in flags or ("ADD" not in flags and flags & {"MUL", "SCALE"}):
            raise ModelError(f"CasaXPS calibration {line!r}: only additive binding-energy calibrations are supported")
        total += delta
        region += 0.0 if "REGIONS" in flags else delta
        comp += 0.0 if "COMPS" in flags else delta
        found.append(line)
    if not found:
        return None
    return CasaCalibration(total, region, comp, tuple(found))


def apply_casa_calibration(data: Any, *, region: str | None = None) -> Any:
    """``data`` with every block that carries a CasaXPS ``Calib`` line shifted by its calibration
    (binding energy + shift; recorded like a charge reference: ``charge_shift_ev`` and
    ``charge_reference`` with method ``"casaxps"``). Blocks without one are unchanged."""
    import json

    import xarray as xr

    from .referencing import _shift_dataset

    def shifted(ds: xr.Dataset) -> xr.Dataset:
        cal = casa_calibration(str(ds.attrs.get("comments", "")).splitlines())
        if cal is None or cal.shift == 0.0:
            return ds
        record = {"method": "casaxps", "delta_ev": cal.shift, "calib": list(cal.lines)}
        return _shift_dataset(ds, cal.shift, json.loads(json.dumps(record)))

    if isinstance(data, xr.Dataset):
        return shifted(data)
    if not isinstance(data, xr.DataTree):
        raise ModelError(f"expected a DataTree or Dataset read from a VAMAS file, got {type(data).__name__}")
    from ..conventions import leaves

    new = data.copy(deep=False)
    for path, ds in leaves(data):
        if region is not None and ds.attrs.get("region") != region and path.rsplit("/", 1)[-1] != region:
            continue
        node = new[path] if path not in ("", "/") else new
        node.dataset = shifted(node.to_dataset(inherit=False))
    return new


def _move(model: Model, position_offset: float, range_offset: float) -> Model:
    """The model with numeric positions (and their bounds) and the range moved by the offsets (eV)."""
    for comp in model.components:
        if isinstance(comp.position, int | float):
            comp.position = float(comp.position) + position_offset
            for key in ("position_min", "position_max"):
                if key in comp.bounds:
                    comp.bounds[key] += position_offset
    if model.range is not None:
        model.range = (model.range[0] + range_offset, model.range[1] + range_offset)
    return model


def model_from_vamas(
    data: Any, *, region: str | None = None, unsupported: str = "error", frame: str = "calibrated"
) -> Model:
    """The specfit :class:`Model` of the CasaXPS analysis stored in a VAMAS block.

    CasaXPS keeps its quantification regions and components in the block comments, which the VAMAS
    reader keeps verbatim in the leaf attribute ``comments``. Positions, bounds and the region window
    are converted from CasaXPS's kinetic-energy scale to binding energy with the block's
    ``excitation_energy_ev`` when the leaf is on a binding-energy axis (as the reader puts XPS
    blocks); position links become offsets of the opposite sign, area and FWHM links stay factors.

    Parameters
    ----------
    data
        A tree from :func:`specfit.read` of a ``.vms`` file, or one of its leaves.
    region
        Which block (its ``region`` attribute or node name) when several blocks hold an analysis.
    unsupported
        ``"error"`` (default) refuses components whose line shape specfit cannot reproduce
        (CasaXPS ``LA``/``LF``: their Gaussian-width code and damping are undocumented) with a
        :class:`ModelError` naming them; ``"skip"`` builds the model without them (with a warning).
    frame
        ``"calibrated"`` (default): positions on the binding-energy scale of the spectrum after
        the block's CasaXPS calibration (:func:`apply_casa_calibration`), as CasaXPS shows them;
        ``"raw"``: on the file's own scale. The same for blocks without ``Calib`` lines.

    Raises
    ------
    ModelError
        When no block holds CasaXPS lines, the choice of block is ambiguous, or a component or the
        background cannot be reproduced.
    """
    from ..conventions import INTENSITY

    found = _casa_leaves(data)
    if region is not None:
        found = [(p, ds) for p, ds in found if ds.attrs.get("region") == region or p.rsplit("/", 1)[-1] == region]
    if not found:
        where = f" for region {region!r}" if region else ""
        raise ModelError(f"no CasaXPS analysis (CASA region/comp lines in the block comments){where}")
    if len(found) > 1:
        names = [ds.attrs.get("region") or p for p, ds in found]
        raise ModelError(f"{len(found)} blocks hold a CasaXPS analysis {names}; say which with region=")
    path, ds = found[0]
    lines = str(ds.attrs["comments"]).splitlines()
    blocks = casa_blocks_from_text(str(ds.attrs["comments"]))
    if len(blocks) > 1:
        # a stack (depth profile) read from several VAMAS blocks keeps every level's comments: each
        # level has its own CasaXPS analysis; the first level's serves as the model for all of them
        warnings.warn(
            f"block {ds.attrs.get('region') or path!r} holds {len(blocks)} CasaXPS analyses (one per level of "
            "the stack): the first level's is used as the model",
            stacklevel=2,
        )
        stripped = [line.strip() for line in lines]
        first = stripped.index(blocks[0][0])
        lines = [line for line in stripped[:first] if _CALIB.match(line)] + blocks[0]  # with its own Calib
    hv = None
    if INTENSITY in ds and "binding_energy" in ds[INTENSITY].dims:
        hv = ds.attrs.get("excitation_energy_ev")
        if not isinstance(hv, int | float):
            raise ModelError(
                f"block {path or ds.attrs.get('region', '')!r} is on a binding-energy axis but has no "
                "excitation_energy_ev: cannot convert CasaXPS's kinetic-energy positions"
            )
    if frame not in ("calibrated", "raw"):
        raise ModelError(f"frame must be 'calibrated' or 'raw', not {frame!r}")
    label = ds.attrs.get("region") or path
    try:
        model = model_from_casa(lines, excitation_energy=hv, unsupported=unsupported)
        cal = casa_calibration(lines)
    except ModelError as exc:
        raise ModelError(f"CasaXPS model of block {label!r}: {exc}") from exc
    if cal is None or hv is None:
        return model
    # stored KE positions -> binding energy of the calibrated spectrum (BE_raw + shift): the parts of
    # the shift the stored values do not include (Regions/Comps flags) are added; for the raw
    # spectrum, what they do include is taken off
    if frame == "calibrated":
        return _move(model, cal.shift - cal.comp_shift, cal.shift - cal.region_shift)
    return _move(model, -cal.comp_shift, -cal.region_shift)
