"""specfit: spectroscopy fitting and phase identification for battery materials.

Reads XPS, Raman, XRD and ToF-SIMS instrument files into :mod:`xarray` trees with one set of
conventions (:mod:`specfit.conventions`), fits them with a constrained multi-peak fitter built on
lmfit, matches XRD patterns with pymatgen and stores everything as HDF5/NetCDF4.
"""

from .backgrounds import ActiveShirley, Constant, Linear, Polynomial, Shirley, Tougaard
from .errors import (
    ConventionError,
    CorruptFileError,
    FitError,
    ModelError,
    ReadError,
    SpecfitError,
    UnknownFormatError,
)
from .fitting import FitWarning, fit
from .io import formats, load, read, save
from .model import Doublet, Model, Peak, load_model
from .plot import plot
from .results import FitResult, FitStackResult

__version__ = "0.1.0"

__all__ = [
    "ActiveShirley",
    "Constant",
    "ConventionError",
    "CorruptFileError",
    "Doublet",
    "FitError",
    "FitResult",
    "FitStackResult",
    "FitWarning",
    "Linear",
    "Model",
    "ModelError",
    "Peak",
    "Polynomial",
    "ReadError",
    "Shirley",
    "SpecfitError",
    "Tougaard",
    "UnknownFormatError",
    "__version__",
    "fit",
    "formats",
    "load",
    "load_model",
    "plot",
    "read",
    "save",
]
