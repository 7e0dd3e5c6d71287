"""Global sensitivity analysis with SALib: the designs a sweep samples, the indices it reports.

A sweep of ``kind = "sobol"``, ``"morris"`` or ``"lhs"`` draws its points here from the SALib
*problem* of its numeric parameters (names and ``[low, high]`` bounds), and ``powderkeg report``
reads the finished points back and analyses one output per point (the mean over its worlds):

- **Sobol'** (Saltelli 2002, *Comput. Phys. Commun.* 145:280; Saltelli et al. 2010, *Comput. Phys.
  Commun.* 181:259): ``N (D + 2)`` points (``N (2D + 2)`` with second-order indices) from a
  scrambled Sobol' sequence; first-order ``S1_i = V[E(Y | X_i)] / V(Y)`` and total
  ``ST_i = E[V(Y | X_~i)] / V(Y)``, with bootstrap confidence intervals (SALib
  ``sample.sobol`` / ``analyze.sobol``). ``N`` must be a power of two.
- **Morris** elementary effects (Morris 1991, *Technometrics* 33:161; Campolongo, Cariboni &
  Saltelli 2007, *Environ. Model. Softw.* 22:1509): ``N`` trajectories of ``D + 1`` points on a
  ``levels``-level grid; ``mu*`` (mean absolute elementary effect: importance) and ``sigma``
  (their spread: interactions or non-linearity) (SALib ``sample.morris`` / ``analyze.morris``).
- **Latin hypercube** (McKay, Beckman & Conover 1979, *Technometrics* 21:239): ``N`` points, one
  in each of ``N`` equal slices of every parameter's range (SALib ``sample.latin``); no indices,
  for heat maps and scatter plots.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: Designs whose points come from SALib.
SALIB_DESIGNS = ("sobol", "morris", "lhs")
#: Designs with indices to analyse.
ANALYSED = ("sobol", "morris")


def problem(names: Sequence[str], bounds: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """A SALib problem: ``num_vars``, ``names`` and ``bounds`` (``[low, high]`` each)."""
    return {
        "num_vars": len(names),
        "names": list(names),
        "bounds": [[float(lo), float(hi)] for lo, hi in bounds],
    }


def design_size(kind: str, n: int, num_vars: int, *, second_order: bool = False) -> int:
    """Points a SALib design draws: Sobol' N(D+2) or N(2D+2), Morris N(D+1), LHS N."""
    if kind == "sobol":
        return n * (2 * num_vars + 2 if second_order else num_vars + 2)
    if kind == "morris":
        return n * (num_vars + 1)
    if kind == "lhs":
        return n
    raise ValueError(f"kind must be one of {', '.join(SALIB_DESIGNS)}; got {kind!r}")


def sample(
    kind: str,
    spec: dict[str, Any],
    n: int,
    *,
    seed: int = 0,
    second_order: bool = False,
    levels: int = 4,
) -> np.ndarray:
    """The (points, D) design matrix of ``kind`` for SALib problem ``spec``.

    Args:
        kind: ``sobol``, ``morris`` or ``lhs``.
        spec: the problem of :func:`problem`.
        n: Sobol' base sample (a power of two), Morris trajectories, or LHS points.
        seed: the sampling seed (the same seed gives the same design).
        second_order: Sobol' only: also sample for second-order indices.
        levels: Morris only: grid levels per parameter (even, at least 2).
    """
    if kind == "sobol":
        from SALib.sample import sobol

        return sobol.sample(spec, n, calc_second_order=second_order, seed=seed)
    if kind == "morris":
        from SALib.sample import morris

        return morris.sample(spec, n, num_levels=levels, seed=seed)
    if kind == "lhs":
        from SALib.sample import latin

        return latin.sample(spec, n, seed=seed)
    raise ValueError(f"kind must be one of {', '.join(SALIB_DESIGNS)}; got {kind!r}")


def analyze(
    kind: str,
    spec: dict[str, Any],
    x: np.ndarray,
    y: np.ndarray,
    *,
    second_order: bool = False,
    levels: int = 4,
    seed: int = 0,
) -> Any:
    """Sensitivity indices of output ``y`` (one value per design point, in design order).

    Returns:
        A pandas DataFrame indexed by parameter: Sobol' ``S1``, ``S1_conf``, ``ST``,
        ``ST_conf``; Morris ``mu``, ``mu_star``, ``mu_star_conf``, ``sigma``. Indices are NaN
        when ``y`` does not vary (nothing to apportion).

    Raises:
        ValueError: ``y`` is not one finite value per design point.
    """
    import pandas as pd

    y = np.asarray(y, dtype=float)
    if y.shape != (x.shape[0],) or not np.isfinite(y).all():
        raise ValueError(
            f"y must hold one finite value per design point ({x.shape[0]}); got shape {y.shape}"
        )
    names = spec["names"]
    if float(np.ptp(y)) == 0.0:
        columns = ("S1", "S1_conf", "ST", "ST_conf")
        if kind == "morris":
            columns = ("mu", "mu_star", "mu_star_conf", "sigma")
        return pd.DataFrame(np.nan, index=pd.Index(names, name="parameter"), columns=columns)
    if kind == "sobol":
        from SALib.analyze import sobol

        result = sobol.analyze(spec, y, calc_second_order=second_order, seed=seed)
        keys = ("S1", "S1_conf", "ST", "ST_conf")
    elif kind == "morris":
        from SALib.analyze import morris

        result = morris.analyze(spec, x, y, num_levels=levels, seed=seed)
        keys = ("mu", "mu_star", "mu_star_conf", "sigma")
    else:
        raise ValueError(f"kind must be one of {', '.join(ANALYSED)}; got {kind!r}")
    frame = pd.DataFrame({k: np.asarray(result[k], dtype=float) for k in keys}, index=names)
    frame.index.name = "parameter"
    return frame


def ranking_column(kind: str) -> str:
    """The index a tornado plot ranks by: Sobol' ``ST``, Morris ``mu_star``."""
    return "ST" if kind == "sobol" else "mu_star"


__all__ = ["ANALYSED", "SALIB_DESIGNS", "analyze", "design_size", "problem", "sample"]
