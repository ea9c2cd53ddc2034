"""XPS chemistry: species library, sensitivity factors, charge referencing, quantification, templates,
joint fits of several regions (:func:`fit_regions`), depth profiles (:func:`depth_profile`) and
CasaXPS interoperability (:mod:`specfit.xps.casaxps`)."""

from .casaxps import (
    CasaComponent,
    CasaRegion,
    casa_blocks_from_text,
    model_from_casa,
    model_from_vamas,
    parse_casa_lines,
)
from .joint import JointFitResult, Stoichiometry, fit_regions
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
from .quantify import atomic_percent, atomic_percent_table, ratio, ratio_table, read_table, species_fractions
from .referencing import charge_reference, charge_reference_info, locate_peak, shift
from .templates import make_template, template, template_model, template_names

__all__ = [
    "CasaComponent",
    "CasaRegion",
    "casa_blocks_from_text",
    "model_from_casa",
    "model_from_vamas",
    "JointFitResult",
    "Stoichiometry",
    "fit_regions",
    "template_model",
    "parse_casa_lines",
    "SensitivityFactor",
    "Species",
    "UnknownEntryError",
    "atomic_percent",
    "atomic_percent_table",
    "charge_reference",
    "charge_reference_info",
    "levels",
    "locate_peak",
    "make_template",
    "ratio",
    "ratio_table",
    "read_table",
    "sensitivity_factor",
    "sensitivity_factor_info",
    "sensitivity_sets",
    "shift",
    "species",
    "species_fractions",
    "species_info",
    "template",
    "template_names",
]
