"""Replications of published stylized facts with powderkeg's own kernels (``powderkeg validate``).

One module per replication, each run by name through the command line (``powderkeg validate
NAME``; :mod:`.command`), each writing its figure (PNG) and its numbers (JSON and CSV) and a
section of ``docs/validation.md``:

- ``overlapping_portfolios``: Caccioli, Shrestha, Moore & Farmer (2014);
- ``leverage_fat_tails``: Thurner, Farmer & Geanakoplos (2012), on the sub-model in
  ``leverage_market``;
- ``system_fire_sales``: Farmer et al. (2020) / INET ``firesale_stresstest`` on the EBA 2018 banks;
- ``clearing_debtrank``: Eisenberg–Noe, Rogers–Veraart and DebtRank;
- ``runs``: the one-period stablecoin run and Diamond–Dybvig;
- ``channel_interaction``: all contagion channels vs the sum of single channels across the
  presets (Farmer et al. 2020; the ECB's system-wide amplification), on the full model.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: Replication name -> module, in the order of the document.
REPLICATIONS: dict[str, str] = {
    "overlapping_portfolios": "experiments.replications.overlapping_portfolios",
    "leverage_fat_tails": "experiments.replications.leverage_fat_tails",
    "system_fire_sales": "experiments.replications.system_fire_sales",
    "clearing_debtrank": "experiments.replications.clearing_debtrank",
    "runs": "experiments.replications.runs",
    "channel_interaction": "experiments.replications.channel_interaction",
}


def load(name: str) -> ModuleType:
    """The module of replication ``name``.

    Raises:
        KeyError: ``name`` is not a replication; the message lists the allowed names.
    """
    if name not in REPLICATIONS:
        raise KeyError(f"unknown replication {name!r}; choose from {', '.join(REPLICATIONS)}")
    return importlib.import_module(REPLICATIONS[name])


__all__ = ["REPLICATIONS", "load"]
