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

from ..errors import ModelError
from ..reference import reference_dir
from .library import Species, normalize_level, species, species_info, template_recipes

__all__ = [
    "DEFAULT_SHAPE",
    "component_name",
    "make_template",
    "template",
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


def _resolve(level: str, names: Sequence[str] | None) -> tuple[str, list[Species], dict]:
    recipes = template_recipes()
    if level in recipes:
        recipe = recipes[level]
        canonical, _ = normalize_level(recipe["level"])
        chosen = list(names) if names is not None else list(recipe["species"])
        return canonical, [_pick(canonical, n) for n in chosen], recipe
    canonical, _ = normalize_level(level)
    available = species(canonical)
    if names is None:
        chosen = available
    else:
        chosen = [_pick(canonical, n) for n in names]
    recipe = next((r for r in recipes.values() if normalize_level(r["level"])[0] == canonical), {})
    return canonical, chosen, recipe


def _pick(level: str, name: str) -> Species:
    """A species of ``level`` named fully (``S2p.PS4``) or by its short name (``PS4``)."""
    for entry in species(level):
        if name in (entry.name, component_name(entry)) or name.lower() in (
            entry.name.lower(),
            component_name(entry).lower(),
        ):
            return entry
    entry = species_info(name)  # raises UnknownEntryError with suggestions
    raise ModelError(f"species {entry.name!r} belongs to {entry.level}, not to {level}")


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
        Species to include, by full (``"S2p.PS4"``) or short (``"PS4"``) name; default: the
        recipe's species, or every species of the level.
    fit_range
        Binding-energy window of the fit (eV). Default: the recipe's range for the level; for a
        level without a recipe, the species windows widened by 4 eV (s levels only -- for doublets
        the upper spin-orbit line must be inside, so give the range).
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
        For species of another level, duplicates, or a doublet level without a range.
    """
    canonical, chosen, recipe = _resolve(level, species)
    if not chosen:
        raise ModelError(f"no species chosen for the {canonical} template")
    names = [component_name(s) for s in chosen]
    if len(set(names)) != len(names):
        raise ModelError(f"species listed twice in the {canonical} template: {names}")
    if fit_range is None:
        if recipe.get("range"):
            low, high = (float(v) for v in recipe["range"])
            low = min(low, min(s.be_min for s in chosen) - 2.0)
            high = max(high, max(s.be_max for s in chosen) + 2.0)
        elif canonical.endswith("s"):
            low, high = min(s.be_min for s in chosen) - 4.0, max(s.be_max for s in chosen) + 4.0
        else:
            raise ModelError(
                f"{canonical} is a spin-orbit doublet without a template recipe: give fit_range so that "
                "the upper-j line and background on both sides are inside"
            )
    else:
        low, high = sorted(float(v) for v in fit_range)
    if tie_fwhm is None:
        tie_fwhm = recipe.get("tie_fwhm", False) if level in template_recipes() else False
    if tie_fwhm is True:
        tied = list(names)
    elif not tie_fwhm:
        tied = []
    else:
        tied = [component_name(_pick(canonical, n)) for n in tie_fwhm]
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
