"""XPS-specific tools: region names, chemistry and quantification."""
