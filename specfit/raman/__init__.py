"""Raman spectroscopy: preprocessing (despiking, baselines, smoothing, normalisation) and the band library.

Readers for Raman instrument files live in :mod:`specfit.io` (``specfit.read``); band fitting
uses the fitting engine with the templates in ``reference_library/raman/templates``
(:func:`fit_bands`, :func:`species_table`, :func:`species_maps`, :func:`plot_species_maps`).
"""

from .bandfit import (
    BandFit,
    band_table,
    fit_bands,
    plot_species_maps,
    species_maps,
    species_of,
    species_table,
)
from .library import Band, band_window, bands, template_path, templates
from .preprocess import crop, despike, normalize, processing_history, remove_baseline, smooth
from .synthetic import SyntheticBand, synthetic_map, synthetic_spectrum

__all__ = [
    "BandFit",
    "SyntheticBand",
    "band_table",
    "fit_bands",
    "plot_species_maps",
    "species_maps",
    "species_of",
    "species_table",
    "synthetic_map",
    "synthetic_spectrum",
    "Band",
    "band_window",
    "bands",
    "crop",
    "despike",
    "normalize",
    "processing_history",
    "remove_baseline",
    "smooth",
    "template_path",
    "templates",
]
