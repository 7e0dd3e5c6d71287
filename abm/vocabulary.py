"""The model's names in one place: the agent families and the asset classes.

Every module that lists the families (the roster, the reporters, the run summary, the figures,
the app's event log) or the asset classes (the calibration's schema) imports them from here, so
a family or an asset class is added or renamed once. The policy levers' names, units and ranges
live with the levers themselves (:meth:`abm.policy.Policy.levers`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

#: The agent families, in roster order, with their readable names (plural, for tables and
#: legends): the AI-linked tech firms that borrow to build data centres, the banks that lend to
#: them and take deposits, the funds (pensions, insurers, mutual, hedge and private-credit funds)
#: that hold their bonds and shares, the stablecoin issuers whose reserves hold Treasuries, gold
#: and crypto, and the retail cohorts (households by wealth group) who end up bearing the losses.
FAMILY_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "firm": "tech firms",
        "bank": "banks",
        "fund": "funds",
        "stablecoin": "stablecoin issuers",
        "retail": "retail cohorts",
    }
)
#: The agent families, in roster order.
FAMILIES: tuple[str, ...] = tuple(FAMILY_NAMES)
#: The families of institutions: their owners' losses are counted as lost equity, at most what
#: they put in (limited liability); the retail cohorts' losses are households' lost wealth.
INSTITUTIONS: tuple[str, ...] = tuple(f for f in FAMILIES if f != "retail")

#: The asset classes a market of the calibration may belong to (``[markets.*] asset_class``).
ASSET_CLASSES: tuple[str, ...] = (
    "sovereign",
    "equity",
    "corporate_bond",
    "loan",
    "abs",
    "crypto",
    "commodity",
    "private_equity",
)

__all__ = ["ASSET_CLASSES", "FAMILIES", "FAMILY_NAMES", "INSTITUTIONS"]
