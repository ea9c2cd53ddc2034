"""Peak-model fitting."""
