"""XPS-specific tools: CasaXPS interoperability (:mod:`specfit.xps.casaxps`)."""

from .casaxps import CasaComponent, CasaRegion, casa_blocks_from_text, model_from_casa, parse_casa_lines

__all__ = ["CasaComponent", "CasaRegion", "casa_blocks_from_text", "model_from_casa", "parse_casa_lines"]
