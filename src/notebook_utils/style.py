"""The book's plot style, in one call, so that every figure looks the same."""

from __future__ import annotations

from typing import Any

import matplotlib as mpl
from cycler import cycler

__all__ = ["PALETTE", "use_book_style"]

# Okabe–Ito: distinguishable with the common forms of colour blindness, and in greyscale
# by lightness. Order matters: the first colours are the most distinct.
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)

_RC: dict[str, Any] = {
    "figure.figsize": (6.4, 3.8),
    "figure.dpi": 110,
    "figure.constrained_layout.use": True,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "axes.grid": True,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "lines.linewidth": 1.8,
    "legend.frameon": False,
    "legend.fontsize": 9,
    "image.cmap": "viridis",
}


def use_book_style(**overrides: Any) -> None:
    """Apply the book's matplotlib style (and any rcParams ``overrides``) globally.

    Raises
    ------
    KeyError
        If an override names no matplotlib rcParam (a typo would otherwise pass silently).
    """
    unknown = [k for k in overrides if k not in mpl.rcParams]
    if unknown:
        raise KeyError(f"unknown matplotlib rcParams: {unknown}")
    rc: Any = mpl.rcParams  # typed with literal keys; ours are checked above
    rc.update(_RC)
    rc["axes.prop_cycle"] = cycler(color=list(PALETTE))
    rc.update(overrides)
