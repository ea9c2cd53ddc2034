"""Plots of ToF-SIMS depth profiles: log intensity against depth (or sputter time)."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .profile import AXIS, ProfileAnalysis, _analysable, profile_dataset, select_fragments

__all__ = ["plot_profile"]


def plot_profile(
    profile: xr.DataTree | xr.Dataset,
    *,
    fragments: list[str] | str | None = None,
    analysis: ProfileAnalysis | None = None,
    rate: float | None = None,
    ax: Any = None,
    max_fragments: int = 12,
):
    """Plot fragments on a log intensity scale against depth (nm, when a rate is known) or time.

    Interfaces from ``analysis`` are marked with dotted vertical lines. Returns the matplotlib axes.
    """
    import matplotlib.pyplot as plt

    ds = profile_dataset(profile)
    names = _analysable(ds) if fragments is None else list(select_fragments(ds, fragments)["fragment"].values)
    names = names[:max_fragments]
    rate = rate if rate is not None else (analysis.rate_nm_per_s if analysis else None)
    t = np.asarray(ds[AXIS].values, dtype=float)
    x, xlabel = (t * rate, "Depth (nm)") if rate else (t, "Sputter time (s)")
    if ax is None:
        _fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, name in enumerate(names):
        y = np.asarray(ds["intensity"].sel(fragment=name).values, dtype=float)
        y = np.where(y > 0, y, np.nan)  # zeros have no logarithm
        (line,) = ax.plot(x, y, lw=1.2, label=str(name), color=f"C{i % 10}")
        if analysis is not None:
            try:
                res = analysis.fragment(str(name))
            except Exception:
                continue
            for interface in res.interfaces:
                pos = interface.time_s * rate if rate else interface.time_s
                ax.axvline(pos, color=line.get_color(), ls=":", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"Intensity ({ds['intensity'].attrs.get('units', '')})")
    ax.legend(fontsize="small", ncol=2 if len(names) > 6 else 1)
    ax.set_title(str(ds.attrs.get("source_file", "")), fontsize="small")
    return ax
