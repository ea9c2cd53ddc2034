"""Figures of fit results as XPS/Raman analysts draw them.

:func:`plot_fit`: data as points, each component filled above the background, the envelope, the
background, and a residual panel below; a binding-energy axis runs from high to low.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["plot", "plot_fit"]

_LABELS = {
    "binding_energy": "Binding energy (eV)",
    "kinetic_energy": "Kinetic energy (eV)",
    "raman_shift": "Raman shift (cm$^{-1}$)",
    "two_theta": "2θ (deg)",
}


def plot_fit(result: Any, ax=None, *, title: str | None = None, residual: bool = True, legend: bool = True):
    """Draw a :class:`~specfit.results.FitResult`; returns the matplotlib Figure.

    Parameters
    ----------
    result
        The fit result.
    ax
        Axes to draw the spectrum into (the residual panel is then omitted). ``None`` makes a new
        figure with a residual panel below.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        if residual:
            fig, (ax, rax) = plt.subplots(
                2, 1, sharex=True, figsize=(6.4, 5.2), gridspec_kw={"height_ratios": [4, 1], "hspace": 0.05}
            )
        else:
            fig, ax = plt.subplots(figsize=(6.4, 4.4))
            rax = None
    else:
        fig, rax = ax.figure, None
    x, bg = result.x, result.background
    ax.plot(x, result.data, ".", ms=3, color="0.25", label="data", zorder=3)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    by_component: dict[str, list[str]] = {}
    for name in result.curves:
        comp = result.components.set_index("name").loc[name, "component"] if len(result.components) else name
        by_component.setdefault(comp, []).append(name)
    for i, (comp, names) in enumerate(by_component.items()):
        color = colors[i % len(colors)]
        for k, name in enumerate(names):
            curve = result.curves[name]
            ax.fill_between(x, bg, bg + curve, color=color, alpha=0.35, lw=0, label=comp if k == 0 else None)
            ax.plot(x, bg + curve, color=color, lw=0.8)
    ax.plot(x, bg, "--", color="0.45", lw=1, label="background")
    ax.plot(x, result.envelope, color="crimson", lw=1.3, label="envelope")
    ax.set_ylabel("Intensity" + (f" ({result.attrs.get('units')})" if result.attrs.get("units") else ""))
    if title or result.attrs.get("region"):
        ax.set_title(title or str(result.attrs.get("region")))
    if legend:
        ax.legend(frameon=False, fontsize="small")
    last = rax if rax is not None else ax
    if rax is not None:
        rax.axhline(0, color="0.5", lw=0.8)
        w = result.weights
        rax.plot(x, result.residual * w if np.any(w != 1) else result.residual, color="0.2", lw=0.8)
        rax.set_ylabel("weighted\nresidual" if np.any(w != 1) else "residual")
    last.set_xlabel(_LABELS.get(result.axis, result.axis))
    if result.axis == "binding_energy":
        lo, hi = float(np.min(x)), float(np.max(x))
        ax.set_xlim(hi, lo)
    return fig


def plot(result: Any, ax=None, **kwargs):
    """Plot a fit result (alias of :func:`plot_fit`)."""
    return plot_fit(result, ax=ax, **kwargs)
