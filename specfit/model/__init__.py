"""Fit models: components, backgrounds, ties, and the model-file (TOML) format.

Model file schema
-----------------
A model file is TOML. Top-level keys:

``name`` / ``description`` (optional strings), ``range = [low, high]`` (optional fit window in the
data's axis units).

``[background]`` (optional) with ``type`` one of ``shirley`` (``average_points``), ``tougaard``
(``B`` — omit to meet the data at the loss end —, ``C``, ``D``, ``form = "U2"|"U3"``, ``gap``,
``average_points``), ``active_shirley`` (refined inside the fit), ``linear``, ``polynomial``
(``degree``), ``constant``.

``[[components]]``, one table per peak:

- ``name`` (required, unique), ``shape`` (``"GL(30)"``, ``"SGL(30)"``, ``"LA(a,b,gfwhm)"``,
  ``"gaussian"``, ``"lorentzian"``, ``"voigt(gfwhm)"``, ``"pseudo_voigt(eta)"``, ``"DS(asym)"``).
- ``level`` (e.g. ``"S 2p"``): a doublet core level makes the component a spin-orbit doublet with
  splitting and branching ratio from ``reference_library/xps/core_levels.toml``; ``position`` is then
  the main (lower-j) line. Override with ``splitting``, ``ratio``, ``width_ratio`` (and ``*_min``/``*_max``
  to let them vary within bounds).
- ``position``, ``fwhm``, ``area``: a number (start value) or a tie (a string): ``"PS4"`` (same as
  component PS4), ``"PS4 + 2.1"``, ``"PS4 * 0.5"``, or an expression in other components' names,
  ``"PS4.area * 0.5"`` naming another quantity. ``area`` may be omitted (guessed from the data).
- ``<quantity>_min`` / ``_max`` bound a quantity; for ties ``"REF + c"`` the keys
  ``<quantity>_offset_min``/``_max`` make the offset a free, bounded parameter (e.g. a position offset
  of 1.9–2.3 eV), and for ``"REF * c"`` the keys ``<quantity>_ratio_min``/``_max`` do so for the ratio.
- ``<quantity>_vary = false`` fixes a quantity at its start value.

Parameters are lmfit Parameters named ``<component>_position``, ``<component>_fwhm``,
``<component>_area`` (doublets add ``_splitting``, ``_ratio``, ``_width_ratio`` and the second line
``<component>_2_*``), background parameters ``bg_*``.
"""

from ..backgrounds import ActiveShirley, Constant, Linear, Polynomial, Shirley, Tougaard
from .components import Doublet, Line, Peak, core_level
from .core import CompiledModel, Model, load_model

__all__ = [
    "ActiveShirley",
    "CompiledModel",
    "Constant",
    "Doublet",
    "Line",
    "Linear",
    "Model",
    "Peak",
    "Polynomial",
    "Shirley",
    "Tougaard",
    "core_level",
    "load_model",
]
