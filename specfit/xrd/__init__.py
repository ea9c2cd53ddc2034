"""XRD: reference phases, pattern simulation (pymatgen), identification and whole-pattern quantification.

- :mod:`specfit.xrd.phases`: the reference library (``reference_library/xrd``) and user CIFs/structures.
- :mod:`specfit.xrd.simulate`: reflections at the data's wavelength (cached), Kα1+Kα2 pseudo-Voigt profiles.
- :mod:`specfit.xrd.match`: search-match and whole-pattern fit (weight fractions, cells, crystallite sizes).
- :mod:`specfit.xrd.plot`: observed/calculated/difference plot with tick marks per phase.
"""

from .match import PhaseResult, XRDFitResult, fit_phases, identify, search_match
from .phases import Phase, get_phase, library, select_phases
from .plot import plot_fit
from .simulate import Instrument, reflections, simulate_pattern, synthetic_mixture

__all__ = [
    "Instrument",
    "Phase",
    "PhaseResult",
    "XRDFitResult",
    "fit_phases",
    "get_phase",
    "identify",
    "library",
    "plot_fit",
    "reflections",
    "search_match",
    "select_phases",
    "simulate_pattern",
    "synthetic_mixture",
]
