"""specfit: spectroscopy fitting and phase identification for battery materials.

Reads XPS, Raman, XRD and ToF-SIMS instrument files into :mod:`xarray` trees with one set of
conventions (:mod:`specfit.conventions`), fits them with a constrained multi-peak fitter built on
lmfit, matches XRD patterns with pymatgen and stores everything as HDF5/NetCDF4.
"""

from .errors import (
    ConventionError,
    CorruptFileError,
    FitError,
    ModelError,
    ReadError,
    SpecfitError,
    UnknownFormatError,
)
from .io import formats, load, read, save

__version__ = "0.1.0"

__all__ = [
    "ConventionError",
    "CorruptFileError",
    "FitError",
    "ModelError",
    "ReadError",
    "SpecfitError",
    "UnknownFormatError",
    "__version__",
    "formats",
    "load",
    "read",
    "save",
]
