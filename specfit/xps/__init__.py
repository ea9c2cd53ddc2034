"""XPS chemistry: species library, sensitivity factors, charge referencing, quantification, templates."""

from .library import (
    SensitivityFactor,
    Species,
    UnknownEntryError,
    levels,
    sensitivity_factor,
    sensitivity_factor_info,
    sensitivity_sets,
    species,
    species_info,
)

__all__ = [
    "SensitivityFactor",
    "Species",
    "UnknownEntryError",
    "levels",
    "sensitivity_factor",
    "sensitivity_factor_info",
    "sensitivity_sets",
    "species",
    "species_info",
]
