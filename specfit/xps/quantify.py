"""XPS quantification on tables of peak areas: atomic %, species fractions, ratios with uncertainties.

Engine-agnostic: the input is a :class:`pandas.DataFrame` with one row per fitted component --

========================  =========================================================================
column                    meaning
========================  =========================================================================
``region``                core level / region the component belongs to (``"S 2p"``, ``"C 1s"``)
``component``             component name (``"PS4"``, ``"intermediate"``)
``area``                  background-subtracted area (any consistent unit, e.g. counts/s·eV)
``area_error``            (optional) one-sigma uncertainty of ``area``
``sample``                (optional) sample / state; every calculation runs per sample
``level``                 (optional) level used to look up the sensitivity factor (default: region)
``sensitivity_factor``    (optional) explicit factor for the row (overrides the library)
``transmission``          (optional) analyser transmission at the peak (relative)
``kinetic_energy``        (optional) peak kinetic energy, eV, for the energy term
``binding_energy``        (optional) peak binding energy, eV (KE = photon energy − BE)
========================  =========================================================================

The normalised area of a row is ``N = A / (S · T · E)`` with S the sensitivity factor, T the
transmission (1 when not given) and E the energy term: none, ``KE**n`` (IMFP-like power law, e.g.
n = 0.6-0.75) or the TPP-2M inelastic mean free path of an average matrix (what Thermo Avantage
calls the "TPP-2M" correction). Atomic % of a region (or component) is ``100 · N / ΣN`` over all
regions of the sample. Uncertainties are propagated to first order from ``area_error`` assuming
independent areas (errors of the factors themselves are not included).

:func:`read_table` reads CSV, or the JSON written by ``specfit fit --json`` (a dict with
``"components": [{"name", "area", "area_error", ...}]`` and the region), so fit results can be
passed directly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ReadError, SpecfitError
from .library import UnknownEntryError, normalize_level, sensitivity_factor

__all__ = [
    "AL_KA_EV",
    "AVERAGE_MATRIX",
    "MG_KA_EV",
    "Ratio",
    "atomic_percent",
    "atomic_percent_table",
    "imfp_tpp2m",
    "ratio",
    "ratio_table",
    "read_table",
    "species_fractions",
    "table_from_records",
    "table_from_results",
    "transmission_at",
]

#: Photon energies (eV) of the usual laboratory sources.
AL_KA_EV = 1486.6
MG_KA_EV = 1253.6

#: TPP-2M "average matrix" parameters: valence electrons per molecule, density (g/cm³), molecular
#: weight (g/mol), band gap (eV). Taken from gkerherve/KherveFitting (libraries/TPP-2M.py, which
#: attributes them to Briggs & Grant); with them :func:`imfp_tpp2m` reproduces Thermo Avantage's
#: "Area (N) TPP-2M" column of the corpus file xps/thermo_avantage/CC-A.xlsx to within its rounding
#: (0.1 % for the well-rounded rows), so they are what Avantage uses.
AVERAGE_MATRIX = {"valence_electrons": 4.684, "density": 6.767, "molecular_weight": 137.51, "band_gap": 0.0}

_REQUIRED = ("region", "component", "area")
_NUMERIC = ("area", "area_error", "sensitivity_factor", "transmission", "kinetic_energy", "binding_energy")


def imfp_tpp2m(
    kinetic_energy: float | np.ndarray,
    *,
    valence_electrons: float = AVERAGE_MATRIX["valence_electrons"],
    density: float = AVERAGE_MATRIX["density"],
    molecular_weight: float = AVERAGE_MATRIX["molecular_weight"],
    band_gap: float = AVERAGE_MATRIX["band_gap"],
) -> float | np.ndarray:
    """Inelastic mean free path (Å) from the TPP-2M predictive formula.

    S. Tanuma, C. J. Powell, D. R. Penn, Surf. Interface Anal. 21, 165 (1994),
    DOI 10.1002/sia.740210302:
    ``λ = E / (Ep² [β ln(γE) − C/E + D/E²])`` with ``Ep = 28.8 (Nv ρ / M)^½``,
    ``β = −0.10 + 0.944 (Ep² + Eg²)^−½ + 0.069 ρ^0.1``, ``γ = 0.191 ρ^−½``,
    ``C = 1.97 − 0.91 U``, ``D = 53.4 − 20.8 U``, ``U = Nv ρ / M``. Defaults: the average matrix
    (:data:`AVERAGE_MATRIX`).
    """
    energy = np.asarray(kinetic_energy, dtype=float)
    u = valence_electrons * density / molecular_weight
    ep = 28.8 * math.sqrt(u)
    beta = -0.10 + 0.944 / math.sqrt(ep**2 + band_gap**2) + 0.069 * density**0.1
    gamma = 0.191 / math.sqrt(density)
    c = 1.97 - 0.91 * u
    d = 53.4 - 20.8 * u
    result = energy / (ep**2 * (beta * np.log(gamma * energy) - c / energy + d / energy**2))
    return float(result) if np.ndim(result) == 0 else result


# --------------------------------------------------------------------------------------------------
# input
# --------------------------------------------------------------------------------------------------


def _check_table(table: pd.DataFrame, where: str = "table") -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise SpecfitError(f"{where}: expected a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in _REQUIRED if c not in table.columns]
    if missing:
        raise SpecfitError(
            f"{where}: missing column(s) {', '.join(missing)} (have {', '.join(map(str, table.columns))})"
        )
    if table.empty:
        raise SpecfitError(f"{where}: no rows")
    out = table.copy()
    for col in _NUMERIC:
        if col in out.columns:
            converted = pd.to_numeric(out[col], errors="coerce")
            bad = converted.isna() & out[col].notna() & (out[col].astype(str).str.strip() != "")
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise SpecfitError(f"{where}: row {row + 1}: column {col!r} is not a number: {out[col].iloc[row]!r}")
            out[col] = converted.astype(float)
    if out["area"].isna().any():
        row = int(np.flatnonzero(out["area"].isna().to_numpy())[0])
        raise SpecfitError(f"{where}: row {row + 1}: area is missing")
    if (out["area"] < 0).any():
        row = int(np.flatnonzero((out["area"] < 0).to_numpy())[0])
        raise SpecfitError(f"{where}: row {row + 1}: negative area {out['area'].iloc[row]}")
    if "area_error" not in out.columns:
        out["area_error"] = np.nan
    out["region"] = out["region"].astype(str)
    out["component"] = out["component"].astype(str)
    return out


def table_from_records(records: Any, where: str = "input") -> pd.DataFrame:
    """A quantification table from fit-result records.

    Accepts the JSON of ``specfit fit --json`` -- a dict with ``"components"`` (each with
    ``name``, ``area``, ``area_error`` and optionally ``position``/``center``) and the region under
    ``"region"`` (or ``"level"``), optionally ``"sample"`` -- a list of such dicts, a dict with
    ``"results"``, or flat row dicts with the table's columns.
    """
    if isinstance(records, Mapping) and "results" in records and "components" not in records:
        records = records["results"]
    if isinstance(records, Mapping):
        records = [records]
    if not isinstance(records, Sequence) or isinstance(records, str):
        raise SpecfitError(f"{where}: expected a fit result (dict with 'components') or a list of them")
    rows: list[dict[str, Any]] = []
    for i, rec in enumerate(records):
        if not isinstance(rec, Mapping):
            raise SpecfitError(f"{where}: entry {i + 1} is not an object")
        if "components" in rec:
            region = rec.get("region") or rec.get("level")
            sample = rec.get("sample")
            attrs = rec.get("attrs") if isinstance(rec.get("attrs"), Mapping) else {}
            region = region or attrs.get("region")
            sample = sample if sample is not None else attrs.get("sample")
            for j, comp in enumerate(_whole_components(rec["components"])):
                if not isinstance(comp, Mapping) or "area" not in comp:
                    raise SpecfitError(f"{where}: result {i + 1}, component {j + 1} has no 'area'")
                comp_region = comp.get("region") or region or comp.get("level")
                if not comp_region:
                    raise SpecfitError(f"{where}: result {i + 1} names no region (key 'region')")
                row = {
                    "region": comp_region,
                    "component": comp.get("name", f"component{j + 1}"),
                    "area": comp["area"],
                    "area_error": comp.get("area_error", comp.get("area_stderr")),
                }
                if comp.get("level"):
                    row["level"] = comp["level"]
                position = comp.get("position", comp.get("center"))
                if isinstance(position, Mapping):
                    position = position.get("value")
                if position is not None:
                    row["binding_energy"] = position
                for key in ("sensitivity_factor", "transmission", "kinetic_energy"):
                    if key in comp:
                        row[key] = comp[key]
                if sample is not None:
                    row["sample"] = sample
                rows.append(row)
        else:
            rows.append(dict(rec))
    if not rows:
        raise SpecfitError(f"{where}: no components")
    return _check_table(pd.DataFrame(rows), where)


def _whole_components(lines: Any) -> list[Any]:
    """One entry per component from the per-line rows of ``specfit fit --json``.

    A spin-orbit doublet is fitted as two lines (``PS4`` and ``PS4_2``) that share the component name
    and carry the component's total area (``component_area``): quantification works on components,
    so the lines of one component become one row with the total area and the main line's position.
    Rows without ``component``/``component_area`` (hand-written tables) pass through unchanged.
    """
    if not isinstance(lines, Sequence) or isinstance(lines, str):
        return lines
    out: list[Any] = []
    seen: set[str] = set()
    for line in lines:
        if not (isinstance(line, Mapping) and line.get("component") is not None and "component_area" in line):
            out.append(line)
            continue
        owner = str(line["component"])
        if owner in seen:
            continue  # a doublet's second line: already counted in the component's total area
        seen.add(owner)
        row = dict(line)
        row["name"] = owner
        row["area"] = line["component_area"]
        row["area_error"] = line.get("component_area_error")
        out.append(row)
    return out


def transmission_at(dataset: Any, energies: Sequence[float]) -> list[float] | None:
    """The analyser transmission of a spectrum at the given energies (on its spectral axis), linearly
    interpolated from its ``transmission`` variable; ``None`` when the spectrum has none.

    Files that carry a transmission function (VAMAS "transmission" corresponding variable, SPECS,
    ...) put it there; quantification divides each area by it (:func:`atomic_percent`).
    """
    import xarray as xr

    if not isinstance(dataset, xr.Dataset) or "transmission" not in dataset:
        return None
    from ..conventions import spectral_axis

    trans = dataset["transmission"]
    axis = spectral_axis(dataset["intensity"]) if "intensity" in dataset else trans.dims[-1]
    others = [d for d in trans.dims if d != axis]
    if others:  # one transmission per energy for a stack: its first spectrum (it is the analyser's)
        trans = trans.isel({d: 0 for d in others})
    x = np.asarray(trans[axis].values, float)
    y = np.asarray(trans.values, float)
    order = np.argsort(x)
    values = np.interp(np.asarray(energies, float), x[order], y[order], left=np.nan, right=np.nan)
    return [float(v) for v in values]


def table_from_results(results: Any, *, data: Any = None, sample: Any = None) -> pd.DataFrame:
    """A quantification table (one row per component, total area of doublets) from fit results.

    Parameters
    ----------
    results
        A :class:`~specfit.results.FitResult`, a list or dict (region -> result) of them, or a
        :class:`~specfit.xps.joint.JointFitResult`. The region of each result comes from its
        attributes (the data's ``region``), the dict key, or the model's core level.
    data
        The tree the results were fitted from: when a region's spectrum holds a ``transmission``
        variable, each component gets the transmission at its position (transmission-corrected
        quantification).
    sample
        Sample name written into the table (default: the results' ``sample`` attribute, if any).
    """
    from ..results import FitResult

    if hasattr(results, "results") and isinstance(results.results, Mapping):
        results = results.results
    if isinstance(results, FitResult):
        results = [results]
    items = list(results.items()) if isinstance(results, Mapping) else [(None, r) for r in results]
    records = []
    for key, result in items:
        if not isinstance(result, FitResult):
            raise SpecfitError(f"expected FitResult objects, got {type(result).__name__}")
        rec = result.to_dict()
        levels = {getattr(c, "level", None) for c in result.model.components} - {None}
        region = rec["attrs"].get("region") or key or (levels.pop() if len(levels) == 1 else None)
        rec["attrs"]["region"] = region
        if sample is not None:
            rec["attrs"]["sample"] = sample
        if data is not None and region is not None:
            from ..fitting.engine import _pick_dataset

            try:
                leaf = _pick_dataset(data, region)
            except SpecfitError:
                leaf = None
            positions = [c["position"] for c in rec["components"]]
            values = transmission_at(leaf, positions) if leaf is not None else None
            if values is not None:
                for comp, t in zip(rec["components"], values, strict=True):
                    comp["transmission"] = t
        records.append(rec)
    return table_from_records(records, "fit results")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a quantification table from CSV (header row with the column names) or JSON.

    Raises
    ------
    ReadError
        Naming the file (and the line, for CSV) when it cannot be parsed or lacks columns.
    """
    path = Path(path)
    if not path.is_file():
        raise ReadError(path, "no such file")
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    if path.suffix.lower() == ".json" or text.lstrip().startswith(("{", "[")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ReadError(path, f"invalid JSON: {exc.msg}", line=exc.lineno) from exc
        try:
            return table_from_records(data, str(path))
        except SpecfitError as exc:
            raise ReadError(path, str(exc).removeprefix(f"{path}: ")) from exc
    import io

    try:
        table = pd.read_csv(io.StringIO(text), comment="#", skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ReadError(path, f"cannot parse CSV: {exc}") from exc
    table.columns = [str(c).strip() for c in table.columns]
    try:
        return _check_table(table, str(path))
    except SpecfitError as exc:
        raise ReadError(path, str(exc).removeprefix(f"{path}: ")) from exc


# --------------------------------------------------------------------------------------------------
# calculations
# --------------------------------------------------------------------------------------------------


def _row_sensitivity(row: pd.Series, library: str, source: str, overrides: Mapping[str, float]) -> float:
    key = row.get("level") if isinstance(row.get("level"), str) and row.get("level") else row["region"]
    for name in (row["component"], row["region"], key):
        if name in overrides:
            return float(overrides[name])
    explicit = row.get("sensitivity_factor")
    if explicit is not None and np.isfinite(explicit):
        return float(explicit)
    try:
        return sensitivity_factor(key, source, library=library)
    except UnknownEntryError as exc:
        raise SpecfitError(
            f"no sensitivity factor for region {row['region']!r}: {exc}. Add a 'level' or 'sensitivity_factor' column, "
            "or pass sensitivity_factors={...}"
        ) from exc


def _energy_term(table: pd.DataFrame, energy_correction: Any, photon_energy: float) -> np.ndarray:
    if energy_correction is None:
        return np.ones(len(table))
    if "kinetic_energy" in table.columns and table["kinetic_energy"].notna().all():
        ke = table["kinetic_energy"].to_numpy(float)
    elif "binding_energy" in table.columns and table["binding_energy"].notna().all():
        ke = photon_energy - table["binding_energy"].to_numpy(float)
    else:
        raise SpecfitError(
            "an energy correction needs the peak energy of every row: a 'kinetic_energy' or 'binding_energy' column"
        )
    if np.any(ke <= 0):
        raise SpecfitError(f"non-positive kinetic energy in the table (photon energy {photon_energy} eV too low?)")
    if isinstance(energy_correction, str):
        if energy_correction.lower().replace("-", "") != "tpp2m":
            raise SpecfitError(f"unknown energy correction {energy_correction!r}; use 'tpp2m' or an exponent n")
        return np.asarray(imfp_tpp2m(ke))
    exponent = float(energy_correction)
    return ke**exponent


def _normalised(
    table: pd.DataFrame,
    library: str,
    source: str,
    sensitivity_factors: Mapping[str, float] | None,
    energy_correction: Any,
    photon_energy: float | None,
) -> pd.DataFrame:
    out = _check_table(table)
    if photon_energy is None:
        photon_energy = MG_KA_EV if source.lower().startswith("mg") else AL_KA_EV
    overrides = dict(sensitivity_factors or {})
    out["sensitivity_factor"] = [_row_sensitivity(r, library, source, overrides) for _, r in out.iterrows()]
    transmission = out["transmission"].fillna(1.0).to_numpy(float) if "transmission" in out.columns else 1.0
    out["energy_term"] = _energy_term(out, energy_correction, photon_energy)
    divisor = out["sensitivity_factor"].to_numpy(float) * transmission * out["energy_term"].to_numpy(float)
    if np.any(~np.isfinite(divisor)) or np.any(divisor <= 0):
        raise SpecfitError("sensitivity factor x transmission x energy term must be positive for every row")
    out["normalised_area"] = out["area"].to_numpy(float) / divisor
    out["normalised_area_error"] = out["area_error"].to_numpy(float) / divisor
    return out


def _sample_groups(table: pd.DataFrame) -> list[tuple[Any, pd.DataFrame]]:
    if "sample" in table.columns:
        return [(key, group) for key, group in table.groupby("sample", sort=False, dropna=False)]
    return [(None, table)]


def _fractions(values: np.ndarray, errors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fractions v_k / Σv with first-order errors for independent v (NaN error if any is unknown)."""
    total = values.sum()
    if total <= 0:
        raise SpecfitError("total normalised area is zero: nothing to quantify")
    frac = values / total
    var = errors**2
    # d(v_k/Σ)/dv_k = (1 - f_k)/Σ ; d(v_k/Σ)/dv_j = -f_k/Σ
    frac_var = ((1 - frac) ** 2 * var + frac**2 * (var.sum() - var)) / total**2
    return frac, np.sqrt(frac_var)


def atomic_percent(
    table: pd.DataFrame,
    *,
    by: str = "region",
    library: str = "scofield",
    source: str = "Al Ka",
    sensitivity_factors: Mapping[str, float] | None = None,
    energy_correction: float | str | None = None,
    photon_energy: float | None = None,
) -> pd.DataFrame:
    """Atomic % of each region (element) or component, per sample.

    Parameters
    ----------
    table
        Component areas (see the module docstring for the columns).
    by
        ``"region"``: one row per region (its components' normalised areas summed);
        ``"component"``: one row per component (as Avantage's "Quantifications" sheet).
    library, source
        Sensitivity-factor set and X-ray line for the library look-up
        (:func:`specfit.xps.sensitivity_factor`); rows with a ``sensitivity_factor`` column value or
        an entry in ``sensitivity_factors`` (keyed by component, region or level) use that instead.
    energy_correction
        ``None`` (factors already include it), a number n for ``KE**n``, or ``"tpp2m"`` for the
        TPP-2M IMFP of the average matrix (Avantage's correction).
    photon_energy
        For KE = photon energy − BE; default Al Kα 1486.6 eV (Mg Kα 1253.6 eV for ``source="Mg Ka"``).

    Returns
    -------
    DataFrame with ``sample`` (when given), ``region`` (and ``component``), ``sensitivity_factor``
    (of the region's first row when by region), ``area``, ``normalised_area``,
    ``normalised_area_error``, ``atomic_percent``, ``atomic_percent_error``. Per sample the atomic %
    sum to 100.
    """
    if by not in ("region", "component"):
        raise SpecfitError(f"by must be 'region' or 'component', got {by!r}")
    rows = _normalised(table, library, source, sensitivity_factors, energy_correction, photon_energy)
    results = []
    for key, group in _sample_groups(rows):
        if by == "region":
            agg = group.groupby("region", sort=False).agg(
                sensitivity_factor=("sensitivity_factor", "first"),
                area=("area", "sum"),
                normalised_area=("normalised_area", "sum"),
                normalised_area_error=("normalised_area_error", lambda e: float(np.sqrt(np.sum(np.square(e))))),
            )
            agg = agg.reset_index()
        else:
            cols = ["region", "component", "sensitivity_factor", "energy_term", "area", "normalised_area"]
            agg = group[[*cols, "normalised_area_error"]].reset_index(drop=True)
        frac, err = _fractions(agg["normalised_area"].to_numpy(float), agg["normalised_area_error"].to_numpy(float))
        agg["atomic_percent"] = 100 * frac
        agg["atomic_percent_error"] = 100 * err
        if key is not None:
            agg.insert(0, "sample", key)
        results.append(agg)
    out = pd.concat(results, ignore_index=True)
    out.attrs.update(
        {
            "sensitivity_library": library,
            "xray_source": source,
            "energy_correction": "none" if energy_correction is None else str(energy_correction),
        }
    )
    return out


def atomic_percent_table(tables: Mapping[str, pd.DataFrame] | pd.DataFrame, **options: Any) -> pd.DataFrame:
    """Atomic % of several samples/states side by side: rows = regions, columns = samples.

    ``tables`` is a mapping sample -> component table, or one table with a ``sample`` column.
    ``options`` go to :func:`atomic_percent` (``by="region"`` only).
    """
    if isinstance(tables, Mapping):
        frames = []
        for name, table in tables.items():
            t = _check_table(table, str(name)).copy()
            t["sample"] = name
            frames.append(t)
        combined = pd.concat(frames, ignore_index=True)
    else:
        combined = _check_table(tables)
        if "sample" not in combined.columns:
            combined = combined.assign(sample="sample")
    result = atomic_percent(combined, by="region", **options)
    wide = result.pivot_table(index="region", columns="sample", values="atomic_percent", sort=False).fillna(0.0)
    wide.columns.name = None
    return wide


def species_fractions(table: pd.DataFrame, region: str | None = None) -> pd.DataFrame:
    """Fraction (%) of each component within its region, per sample, with propagated errors.

    Within one region the sensitivity factor cancels; kinetic-energy differences between
    components of one region (a few eV) are neglected.
    """
    rows = _check_table(table)
    if region is not None:
        rows = rows[_region_mask(rows, region)]
        if rows.empty:
            raise SpecfitError(f"no components of region {region!r} in the table")
    results = []
    keys = ["sample", "region"] if "sample" in rows.columns else ["region"]
    for _, group in rows.groupby(keys, sort=False, dropna=False):
        frac, err = _fractions(group["area"].to_numpy(float), group["area_error"].to_numpy(float))
        part = group[[*keys, "component", "area", "area_error"]].copy()
        part["fraction_percent"] = 100 * frac
        part["fraction_percent_error"] = 100 * err
        results.append(part)
    return pd.concat(results, ignore_index=True)


def _region_mask(table: pd.DataFrame, region: str) -> pd.Series:
    try:
        wanted = normalize_level(region)[0]
    except UnknownEntryError:
        return table["region"].str.strip().str.lower() == region.strip().lower()

    def same(value: str) -> bool:
        try:
            return normalize_level(value)[0] == wanted
        except UnknownEntryError:
            return value.strip().lower() == region.strip().lower()

    return table["region"].map(same)


@dataclass(frozen=True)
class Ratio:
    """A ratio of summed component areas with its first-order uncertainty."""

    value: float
    error: float
    numerator: tuple[str, ...]
    denominator: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.value:.3g} ± {self.error:.2g} ({'+'.join(self.numerator)} : {'+'.join(self.denominator)})"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "value": self.value,
            "error": self.error,
            "numerator": list(self.numerator),
            "denominator": list(self.denominator),
        }


def _sum_components(table: pd.DataFrame, names: tuple[str, ...], column: str) -> tuple[float, float]:
    total, var = 0.0, 0.0
    for name in names:
        hit = table[table["component"] == name]
        if hit.empty:
            raise SpecfitError(
                f"no component {name!r} in the table (have {', '.join(sorted(set(table['component'])))})"
            )
        if len(hit) > 1:
            raise SpecfitError(
                f"component {name!r} appears {len(hit)} times (regions {', '.join(hit['region'])}); "
                "give region= or sample="
            )
        total += float(hit[column].iloc[0])
        var += float(hit[f"{column}_error"].iloc[0]) ** 2
    return total, var


def _region_holding_all(rows: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    """When component names repeat across regions (PS4 in S 2p and P 2p) but exactly one region holds
    all of ``names``, the rows of that region; otherwise ``rows`` unchanged (then repeats raise)."""
    if not rows["component"].duplicated().any():
        return rows
    holding = [r for r, g in rows.groupby("region", sort=False) if set(names) <= set(g["component"])]
    return rows[rows["region"] == holding[0]] if len(holding) == 1 else rows


def ratio(
    table: pd.DataFrame,
    numerator: str | Sequence[str],
    denominator: str | Sequence[str],
    *,
    region: str | None = None,
    sample: Any = None,
    correlation: float = 0.0,
    normalise: bool = False,
    **options: Any,
) -> Ratio:
    """Ratio of component areas, e.g. ``ratio(t, "intermediate", "PS4")`` -> 1.56 ± 0.05.

    Parameters
    ----------
    numerator, denominator
        A component name or several (their areas are summed).
    region, sample
        Restrict the table (needed when names repeat across samples, or across regions unless
        exactly one region holds all the named components -- then that region is used).
    correlation
        Correlation coefficient of the numerator and denominator areas (fit covariance); 0 assumes
        independence. ``σ_r² = r² [(σ_a/a)² + (σ_b/b)² − 2ρ σ_a σ_b / (a b)]``.
    normalise
        Use sensitivity-normalised areas (for components of different elements); ``options`` then
        go to the normalisation as in :func:`atomic_percent`.
    """
    if not -1.0 <= correlation <= 1.0:
        raise SpecfitError(f"correlation must be in [-1, 1], got {correlation}")
    num = (numerator,) if isinstance(numerator, str) else tuple(numerator)
    den = (denominator,) if isinstance(denominator, str) else tuple(denominator)
    rows = _check_table(table)
    if region is not None:
        rows = rows[_region_mask(rows, region)]
    if sample is not None:
        if "sample" not in rows.columns:
            raise SpecfitError("the table has no 'sample' column")
        rows = rows[rows["sample"] == sample]
    if rows.empty:
        raise SpecfitError(f"no rows for region={region!r}, sample={sample!r}")
    if region is None and not normalise:
        rows = _region_holding_all(rows, num + den)
    column = "area"
    if normalise:
        rows = _normalised(
            rows,
            options.get("library", "scofield"),
            options.get("source", "Al Ka"),
            options.get("sensitivity_factors"),
            options.get("energy_correction"),
            options.get("photon_energy"),
        )
        column = "normalised_area"
    a, var_a = _sum_components(rows, num, column)
    b, var_b = _sum_components(rows, den, column)
    if b == 0:
        raise SpecfitError(f"denominator {'+'.join(den)} has zero area")
    value = a / b
    rel = var_b / b**2
    if a != 0:
        rel += var_a / a**2 - 2 * correlation * math.sqrt(var_a * var_b) / (a * b)
        error = abs(value) * math.sqrt(max(rel, 0.0))
    else:
        error = math.sqrt(var_a) / abs(b)
    return Ratio(value=value, error=error, numerator=num, denominator=den)


def ratio_table(
    table: pd.DataFrame, numerator: str | Sequence[str], denominator: str | Sequence[str], **options: Any
) -> pd.DataFrame:
    """:func:`ratio` for every sample of a table (columns ``sample``, ``ratio``, ``ratio_error``)."""
    rows = _check_table(table)
    samples = list(dict.fromkeys(rows["sample"])) if "sample" in rows.columns else [None]
    records = []
    for s in samples:
        r = ratio(rows, numerator, denominator, sample=s, **options)
        records.append({"sample": s, "ratio": r.value, "ratio_error": r.error})
    return pd.DataFrame(records)
