"""X-ray diffraction: preprocessing, reference phases, pattern simulation, identification and quantification.

Readers for the diffractometer formats live in :mod:`specfit.io` (XRDML, Bruker RAW/BRML/UXD, Rigaku
RAS/RASX/ASC, GSAS, text exports); this package works on what they return.

- :mod:`specfit.xrd.preprocess`: background, Kα2 stripping, zero shift, masking.
- :mod:`specfit.xrd.phases`: the reference library (``reference_library/xrd``) and user CIFs/structures.
- :mod:`specfit.xrd.simulate`: reflections at the data's wavelength (cached), Kα1+Kα2 pseudo-Voigt profiles.
- :mod:`specfit.xrd.match`: search-match and whole-pattern fit (weight fractions, cells, crystallite sizes).
- :mod:`specfit.xrd.plot`: observed/calculated/difference plot with tick marks per phase.
"""

from .match import PhaseResult, XRDFitResult, fit_phases, identify, search_match
from .phases import Phase, get_phase, library, select_phases
from .plot import plot_fit
from .preprocess import correct_zero_shift, mask_regions, processing_history, strip_kalpha2, subtract_background
from .simulate import Instrument, reflections, simulate_pattern, synthetic_mixture

__all__ = [
    "Instrument",
    "Phase",
    "PhaseResult",
    "XRDFitResult",
    "correct_zero_shift",
    "fit_phases",
    "get_phase",
    "identify",
    "library",
    "mask_regions",
    "plot_fit",
    "processing_history",
    "reflections",
    "search_match",
    "select_phases",
    "simulate_pattern",
    "strip_kalpha2",
    "subtract_background",
    "synthetic_mixture",
]
