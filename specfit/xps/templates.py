"""Fit-model templates built from the species library.

A template is a model file in the fitting engine's TOML schema (``range``, ``[background]``,
``[[components]]`` with ``name``, ``level``, ``shape``, ``position`` with bounds and ``fwhm`` with
bounds or a tie to another component's name). :func:`make_template` writes one from any subset of
the species of a level; the named recipes of ``species.toml`` (``[templates.<name>]``) are the usual
analyses and are committed as ``reference_library/xps/templates/<name>.toml`` (regenerate them with
``specfit xps templates --write``; a test checks that the committed files equal the generated ones).

Each component's position starts at the species' typical binding energy and is bounded by its
window; the width starts at the typical FWHM and is bounded by the library's FWHM range.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ModelError
from ..reference import reference_dir
from .library import Species, normalize_level, species, species_info, template_recipes

if TYPE_CHECKING:
    from ..model import Model

__all__ = [
    "DEFAULT_SHAPE",
    "component_name",
    "make_template",
    "subset_model",
    "template",
    "template_model",
    "template_names",
    "template_path",
    "write_templates",
]

#: Default line shape: Gaussian-Lorentzian product with 30 % Lorentzian (CasaXPS notation), the
#: usual choice for sulfide and oxide core levels measured with a monochromated source.
DEFAULT_SHAPE = "GL(30)"

TEMPLATE_FOLDER = "xps/templates"


def _num(value: float) -> str:
    """A TOML float literal (always with a decimal point)."""
    text = f"{round(float(value), 4):.4f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _str(value: str) -> str:
    # JSON string escapes are valid TOML basic-string escapes
    return json.dumps(value, ensure_ascii=False)


def component_name(entry: Species) -> str:
    """The component name used for a species in templates: the part after the level prefix."""
    return entry.name.split(".", 1)[1] if "." in entry.name else entry.name


def template_names() -> list[str]:
    """Names of the template recipes (``s2p-sulfide``, ``c1s-adventitious``, ...)."""
    return sorted(template_recipes())


def _resolve(level: str, names: Sequence[str] | None) -> tuple[str, list[tuple[Species, str]], dict]:
    """The canonical level, the chosen ``(species, component name)`` pairs and the recipe (or ``{}``)."""
    recipes = template_recipes()
    if level in recipes:
        recipe = recipes[level]
        canonical, _ = normalize_level(recipe["level"])
        chosen = list(names) if names is not None else list(recipe["species"])
        return canonical, [_pick(canonical, n) for n in chosen], recipe
    canonical, _ = normalize_level(level)
    available = species(canonical)
    if names is None:
        picked = [(s, component_name(s)) for s in available]
    else:
        picked = [_pick(canonical, n) for n in names]
    recipe = next((r for r in recipes.values() if normalize_level(r["level"])[0] == canonical), {})
    return canonical, picked, recipe


def _pick(level: str, name: str) -> tuple[Species, str]:
    """A species of ``level`` named fully (``S2p.PS4``), by its short name (``PS4``) or by one of its
    aliases (``intermediate``), with the component name to use: the alias when picked by an alias."""
    wanted = name.strip().lower()
    for entry in species(level):
        if wanted in (entry.name.lower(), component_name(entry).lower()):
            return entry, component_name(entry)
    for entry in species(level):
        for alias in entry.aliases:
            if wanted == alias.lower():
                return entry, alias
    entry = species_info(name)  # raises UnknownEntryError with suggestions
    raise ModelError(f"species {entry.name!r} belongs to {entry.level}, not to {level}")


def _splitting(level: str) -> float:
    """Spin-orbit splitting of ``level`` from ``core_levels.toml`` (0 for s levels and unknown levels)."""
    from ..model.components import core_level

    try:
        return float(core_level(level).get("splitting", 0.0))
    except ModelError:
        return 0.0


def make_template(
    level: str,
    species: Sequence[str] | None = None,
    *,
    fit_range: tuple[float, float] | None = None,
    background: str = "shirley",
    shape: str = DEFAULT_SHAPE,
    tie_fwhm: bool | Sequence[str] | None = None,
    title: str | None = None,
) -> str:
    """The TOML text of a fit model for some species of one core level.

    Parameters
    ----------
    level
        A core level (``"S 2p"``) or a recipe name (``"s2p-sulfide"``).
    species
        Species to include, by full (``"S2p.PS4"``) or short (``"PS4"``) name or by an alias of
        the library entry (``"intermediate"`` for ``S2p.polysulfide``; the component is then named
        by the alias); default: the recipe's species, or every species of the level.
    fit_range
        Binding-energy window of the fit (eV). Default: the recipe's range for the level; for a
        level without a recipe, the species windows widened by 4 eV; for doublets the upper window
        edge also moves up by the spin-orbit splitting of ``core_levels.toml`` (so the upper-j line
        of every species is inside).
    background
        Background type for the engine (``"shirley"``, ``"linear"``, ``"tougaard"``).
    shape
        Line shape of every component.
    tie_fwhm
        ``True`` ties every component's FWHM to the first one's; a list of component names ties
        those to the first name of the list (which keeps a free, bounded FWHM). Default: the
        recipe's choice, else no ties.
    title
        Name written in the header comment.

    Raises
    ------
    UnknownEntryError
        For unknown levels or species.
    ModelError
        For species of another level or duplicates.
    """
    canonical, picked, recipe = _resolve(level, species)
    if not picked:
        raise ModelError(f"no species chosen for the {canonical} template")
    chosen = [entry for entry, _ in picked]
    names = [comp for _, comp in picked]
    if len(set(names)) != len(names):
        raise ModelError(f"species listed twice in the {canonical} template: {names}")
    # the upper-j line of a doublet lies `splitting` eV above the main line: the window must hold it
    upper = _splitting(canonical)
    if fit_range is None:
        if recipe.get("range"):
            low, high = (float(v) for v in recipe["range"])
            low = min(low, min(s.be_min for s in chosen) - 2.0)
            high = max(high, max(s.be_max for s in chosen) + upper + 2.0)
        else:
            low, high = min(s.be_min for s in chosen) - 4.0, max(s.be_max for s in chosen) + upper + 4.0
    else:
        low, high = sorted(float(v) for v in fit_range)
    if tie_fwhm is None:
        tie_fwhm = recipe.get("tie_fwhm", False) if level in template_recipes() else False
    if tie_fwhm is True:
        tied = list(names)
    elif not tie_fwhm:
        tied = []
    else:
        by_species = {entry.name: comp for entry, comp in picked}
        tied = [by_species.get(_pick(canonical, n)[0].name) for n in tie_fwhm]
        tied = [n for n in tied if n in names]
    name = title or (level if level in template_recipes() else canonical)
    lines = [
        f"# specfit XPS fit model: {name} ({canonical})",
        "# Generated by specfit.xps.templates.make_template from reference_library/xps/species.toml;",
        "# regenerate with `specfit xps templates --write` instead of editing by hand.",
        "# Positions are main-line (lower-j) binding energies, charge-referenced to C 1s C-C/C-H at 284.8 eV.",
    ]
    if recipe.get("description") and level in template_recipes():
        lines.append(f"# {recipe['description']}")
    if recipe.get("note") and level in template_recipes():
        parts = [part for part in str(recipe["note"]).splitlines() if part.strip()]
        lines += [f"# {'Note: ' if i == 0 else '  '}{part}" for i, part in enumerate(parts)]
    lines += [
        "",
        f"range = [{_num(low)}, {_num(high)}]",
        "",
        "[background]",
        f"type = {_str(background)}",
    ]
    leader = tied[0] if tied else None
    if leader is not None:
        # the component holding the shared width comes first, so that ties never point forward
        order = sorted(range(len(names)), key=lambda i: names[i] != leader)
        chosen, names = [chosen[i] for i in order], [names[i] for i in order]
    for entry, comp in zip(chosen, names, strict=True):
        lines += [
            "",
            f"# species {entry.name}: {entry.assignment}",
            f"# source: {entry.source}",
            "[[components]]",
            f"name = {_str(comp)}",
            f"level = {_str(canonical)}",
            f"shape = {_str(shape)}",
            f"position = {_num(entry.be)}",
            f"position_min = {_num(entry.be_min)}",
            f"position_max = {_num(entry.be_max)}",
        ]
        if leader is not None and comp in tied and comp != leader:
            lines.append(f"fwhm = {_str(leader)}")
        else:
            lines += [
                f"fwhm = {_num(entry.fwhm)}",
                f"fwhm_min = {_num(entry.fwhm_min)}",
                f"fwhm_max = {_num(entry.fwhm_max)}",
            ]
    return "\n".join(lines) + "\n"


def template(name: str) -> str:
    """The generated TOML text of a named recipe (``template("s2p-sulfide")``)."""
    if name not in template_recipes():
        raise ModelError(f"unknown XPS template {name!r}; known: {', '.join(template_names())}")
    return make_template(name)


def template_path(name: str) -> Path:
    """Where the committed file of template ``name`` lives."""
    return reference_dir() / TEMPLATE_FOLDER / f"{name}.toml"


def write_templates(folder: str | Path | None = None) -> list[Path]:
    """Write every recipe as ``<folder>/<name>.toml`` (default: the library's templates folder)."""
    target = Path(folder) if folder is not None else reference_dir() / TEMPLATE_FOLDER
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name in template_names():
        path = target / f"{name}.toml"
        path.write_text(template(name), encoding="utf-8")
        written.append(path)
    return written


def subset_model(model: Model, names: Sequence[str]) -> Model:
    """A copy of ``model`` with only the components ``names`` (in the model's order).

    Ties of a kept component to a dropped one cannot be kept: they raise :class:`ModelError` naming
    them (build the subset from the species library with :func:`make_template` instead, which
    re-points shared widths to the first kept component).
    """
    from ..model import Model as _Model

    have = [c.name for c in model.components]
    wanted = [n.strip() for n in names if n.strip()]
    missing = [n for n in wanted if n not in have]
    if missing:
        raise ModelError(f"the model has no component(s) {missing}; it has {have}")
    kept = [c for c in model.components if c.name in wanted]
    try:
        return _Model(kept, model.background, model.range, model.name, model.description)
    except ModelError as exc:
        raise ModelError(f"cannot keep only {wanted}: {exc}") from exc


def template_model(
    name_or_path: str | Path | Model, species: Sequence[str] | None = None, *, shape: str | None = None
) -> Model:
    """The :class:`~specfit.model.Model` of a template (by name) or model file, optionally with a
    subset of its species (``template_model("s2p-sulfide", ["PS4", "intermediate"])``).

    For a template recipe the subset is generated from the library (:func:`make_template`: shared
    widths re-pointed, aliases allowed); for any other model file the components are filtered by
    name (:func:`subset_model`). ``shape`` replaces the line shape of every component (e.g.
    ``"SGL(30)"`` or ``"pseudo_voigt(0.3)"`` instead of the templates' ``GL(30)``).
    """
    from ..model import Model as _Model
    from ..model import load_model

    if isinstance(name_or_path, str) and name_or_path in template_recipes():
        if species is None and shape is None:
            return load_model(name_or_path)
        kwargs = {"shape": shape} if shape is not None else {}
        return _Model.from_toml(make_template(name_or_path, None if species is None else list(species), **kwargs))
    model = name_or_path if isinstance(name_or_path, _Model) else load_model(name_or_path)
    model = model if species is None else subset_model(model, list(species))
    if shape is not None:
        spec = model.to_dict()
        for comp in spec["components"]:
            comp["shape"] = shape
        model = _Model.from_dict(spec, f"{model.name or 'model'} with shape {shape}")
    return model
