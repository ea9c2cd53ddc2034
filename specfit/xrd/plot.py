"""Plots of XRD fits: observed, calculated, background, difference curve and tick marks per phase."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .match import XRDFitResult

__all__ = ["plot_fit"]


def plot_fit(result: XRDFitResult, ax=None, *, path: str | Path | None = None, title: str | None = None):
    """Rietveld-style plot of a whole-pattern fit.

    Parameters
    ----------
    result
        A fit from :func:`specfit.xrd.match.fit_phases` or :func:`~specfit.xrd.match.identify`.
    ax
        Matplotlib axes to draw in (a new figure when ``None``).
    path
        Save the figure there (PNG, PDF, SVG ... by extension).
    title
        Figure title (default: Rwp and the phases with weight fractions).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib

    if ax is None and path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig = ax.figure if ax is not None else plt.figure(figsize=(9, 5.5))
    ax = ax or fig.add_subplot(111)
    x, y, fit = result.x, result.y, result.fit
    span = float(np.max(y) - np.min(np.minimum(y, fit)))
    ax.plot(x, y, ".", ms=2, color="0.2", label="observed")
    ax.plot(x, fit, "-", lw=1, color="tab:red", label="calculated")
    ax.plot(x, result.background, "-", lw=0.8, color="tab:green", label="background")
    diff = y - fit
    offset = float(np.min(np.minimum(y, fit))) - 0.08 * span - float(np.max(diff))
    ax.plot(x, diff + offset, "-", lw=0.7, color="tab:blue", label="difference")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    tick_base = offset + float(np.min(diff)) - 0.04 * span
    for i, phase in enumerate(result.phases):
        level = tick_base - i * 0.05 * span
        color = colors[(i + 4) % len(colors)]
        ax.vlines(phase.ticks, level - 0.015 * span, level + 0.015 * span, color=color, lw=0.8)
        wf = f"{100 * phase.weight_fraction:.1f} wt%" if np.isfinite(phase.weight_fraction) else ""
        ax.text(x[-1], level, f" {phase.name} {wf}", color=color, va="center", ha="left", fontsize=8)
    ax.set_xlabel("2θ (deg)")
    ax.set_ylabel("intensity (counts)")
    ax.set_xlim(x[0], x[-1])
    ax.set_title(title or f"Rwp = {100 * result.rwp:.2f} %")
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=150)
    return fig
