"""ToF-SIMS analysis: fragment masses and isotope patterns, spectra, depth profiles, 3-D stacks.

- :mod:`.fragments` — formula parser, exact masses, isotope patterns, the fragment library.
- :mod:`.spectrum` — mass calibration, peak integration, fragment assignment.
- :mod:`.profile` — depth-profile normalisation, interfaces (50 % of plateau), widths (16-84 %),
  steady state, layer thickness.
- :mod:`.stack` — 3-D image stacks ``(scan, y, x, fragment)``: ROI profiles, maps, slices.
- :mod:`.plot` — log-intensity depth-profile plots.
"""

from .fragments import (
    FormulaError,
    Fragment,
    IsotopePattern,
    exact_mass,
    fragment_library,
    isotope_pattern,
    lookup_fragment,
    parse_formula,
    parse_ion,
)

__all__ = [
    "FormulaError",
    "Fragment",
    "IsotopePattern",
    "exact_mass",
    "fragment_library",
    "isotope_pattern",
    "lookup_fragment",
    "parse_formula",
    "parse_ion",
]
