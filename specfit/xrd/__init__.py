"""X-ray diffraction: preprocessing of measured patterns (and, from other modules, phase identification).

Readers for the diffractometer formats live in :mod:`specfit.io` (XRDML, Bruker RAW/BRML/UXD, Rigaku
RAS/RASX/ASC, GSAS, text exports); this package works on what they return.
"""

from .preprocess import correct_zero_shift, mask_regions, processing_history, strip_kalpha2, subtract_background

__all__ = ["correct_zero_shift", "mask_regions", "processing_history", "strip_kalpha2", "subtract_background"]
