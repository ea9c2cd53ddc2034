"""XRD: reference phases, pattern simulation (pymatgen), identification and whole-pattern quantification."""

from .phases import Phase, get_phase, library, select_phases
from .simulate import Instrument, reflections, simulate_pattern, synthetic_mixture

__all__ = [
    "Instrument",
    "Phase",
    "get_phase",
    "library",
    "reflections",
    "select_phases",
    "simulate_pattern",
    "synthetic_mixture",
]
