"""Raman spectroscopy: preprocessing (despiking, baselines, smoothing, normalisation) and the band library.

Readers for Raman instrument files live in :mod:`specfit.io` (``specfit.read``); band fitting
uses the fitting engine with the templates in ``reference_library/raman/templates``.
"""

from .library import Band, band_window, bands, template_path, templates
from .preprocess import crop, despike, normalize, processing_history, remove_baseline, smooth

__all__ = [
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
