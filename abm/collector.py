"""Mesa's ``DataCollector`` wired to the model's series and to its agents' properties.

Every :class:`abm.model.Powderkeg` collects into one (``model.datacollector``; the app's agent
panels read it). The model reporters are the columns of :func:`abm.reporting.ensemble_columns`:
world 0 under the plain name with one world, else the median over the worlds (``<column>_median``;
``<...>_converged_all``: whether every world converged; ``world_stopped_any``: whether any world
stopped). The agent reporters read the
per-family properties of :mod:`abm.agents`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import mesa
import numpy as np

from abm.agents import Bank, Fund, RetailSaver, StablecoinIssuer, TechFirm
from abm.reporting import ensemble_columns

__all__ = ["AGENT_REPORTERS", "FAMILY_REPORTERS", "make_datacollector"]


def _model_value(model: mesa.Model, column: str, how: str) -> float | bool | int:
    values = ensemble_columns(model)[column]
    if how == "world0":
        value = values[0]
    elif how == "all":
        value = bool(np.all(values))
    elif how == "any":
        value = bool(np.any(values))
    else:
        value = np.median(values)
    return value.item() if isinstance(value, np.generic) else value


#: Agent reporters of every family (attribute names of :class:`abm.agents.Institution`).
AGENT_REPORTERS = {
    "name": "key",
    "equity": "equity",
    "cash": "cash",
    "total_assets": "total_assets",
    "defaulted": "defaulted",
}

#: Family-specific agent reporters.
FAMILY_REPORTERS: dict[type, dict[str, str]] = {
    TechFirm: {"revenue": "revenue"},
    Bank: {"cet1_ratio": "cet1_ratio"},
    Fund: {},
    StablecoinIssuer: {"peg": "peg"},
    RetailSaver: {"wealth": "wealth"},
}


def make_datacollector(
    model: mesa.Model, *, agents: bool = True, retail_agents: bool = False
) -> mesa.DataCollector:
    """A ``mesa.DataCollector`` with the series as model reporters and per-family agent reporters.

    Model reporters are named after the :func:`ensemble_frame` columns. With one world they show
    world 0 under the plain name; with E > 1 worlds they show the median over the worlds and are
    named ``<column>_median`` (``<...>_converged_all``: whether every world converged,
    ``world_stopped_any``: whether any world stopped).
    Agent-level reporters (per family, agent-type reporters) show the world the agents'
    properties show (``model.world``, 0 by default).

    Args:
        model: the model whose reporters these are (it decides the columns and E).
        agents: collect agent-level reporters for the institutions (firms, banks, funds,
            stablecoin issuers): equity, cash, total assets, defaulted, and revenue, CET1 ratio
            or peg by family.
        retail_agents: also collect them for every retail cohort (with ``wealth``): a Python
            call per cohort per reporter per step, costly with thousands of cohorts, so off by
            default.
    """
    n_worlds = model.snapshot["prices"].shape[0]
    reporters: dict[str, Any] = {}
    for column in ensemble_columns(model):
        if n_worlds == 1:
            reporters[column] = partial(_model_value, column=column, how="world0")
        elif column.endswith("_converged"):
            reporters[f"{column}_all"] = partial(_model_value, column=column, how="all")
        elif column == "world_stopped":
            reporters[f"{column}_any"] = partial(_model_value, column=column, how="any")
        else:
            reporters[f"{column}_median"] = partial(_model_value, column=column, how="median")
    by_type: dict[type, dict[str, str]] = {}
    if agents:
        for cls, extra in FAMILY_REPORTERS.items():
            if cls is RetailSaver and not retail_agents:
                continue
            by_type[cls] = {**AGENT_REPORTERS, **extra}
    elif retail_agents:
        by_type[RetailSaver] = {**AGENT_REPORTERS, **FAMILY_REPORTERS[RetailSaver]}
    return mesa.DataCollector(model_reporters=reporters, agenttype_reporters=by_type or None)
