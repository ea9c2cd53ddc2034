"""File formats: the reader registry, one module per format, and specfit's own storage.

Format modules in this package register themselves with :func:`specfit.io.registry.register` and
are discovered automatically (a module whose name starts with ``_`` is private and skipped).
"""

from .native import load, save
from .registry import formats, get_reader, read, register

__all__ = ["formats", "get_reader", "load", "read", "register", "save"]
