"""The five agent families as Mesa agents: each one is a row of the model's balance-sheet arrays.

Behaviour is not here: it is written per family as vectorized rules over every agent of the family
and every world at once (:mod:`abm.rules`), because a Python loop over a million retail cohorts or
ten thousand worlds would be the bottleneck (docs/design.md, "The state"). An agent object exists so
that people and tools can look at one institution: the app, Mesa's DataCollector and the event log
read its properties, which show the world the model is looking at (``model.world``, 0 by default) as
of the last completed step.
"""

from __future__ import annotations

import mesa

from abm.vocabulary import FAMILIES


class Institution(mesa.Agent):
    """One balance sheet of the model (USD bn).

    Attributes:
        row: the agent's index on the model's agent axis.
        key: its key in the calibration (``"amazon"``, ``"jpmorgan"``, ``"hedge_3"``...).
        label: a readable name.
        kind: its kind within the family.

    ``model`` is the :class:`abm.model.Powderkeg` it belongs to (any Mesa model with a
    ``world`` index and a host ``world_view`` of that world's declared arrays).
    """

    def __init__(self, model: mesa.Model, row: int, key: str, label: str, kind: str) -> None:
        super().__init__(model)
        self.row, self.key, self.label, self.kind = row, key, label, kind

    def _read(self, name: str) -> float:
        return float(self.model.world_view[name][self.row])

    @property
    def cash(self) -> float:
        """Cash, USD bn."""
        return self._read("cash")

    @property
    def total_assets(self) -> float:
        """Cash, securities at market prices, claims and real assets, USD bn."""
        return self._read("total_assets")

    @property
    def liabilities(self) -> float:
        """Everything the agent owes, USD bn."""
        return self._read("liabilities")

    @property
    def equity(self) -> float:
        """Total assets minus liabilities, USD bn."""
        return self._read("equity")

    @property
    def capital_ratio(self) -> float:
        """Equity over total assets (the fire-sale kernel's ratio)."""
        assets = self.total_assets
        return self.equity / assets if assets > 0 else 0.0

    @property
    def leverage(self) -> float:
        """Total assets over equity (infinite when equity is not positive)."""
        equity = self.equity
        return self.total_assets / equity if equity > 0 else float("inf")

    @property
    def defaulted(self) -> bool:
        """Whether the agent has failed in this world."""
        return bool(self.model.world_view["defaulted"][self.row])


class TechFirm(Institution):
    """Hyperscalers, chip vendors, neoclouds, AI labs and their data-centre SPVs.

    Kinds: ``hyperscaler``, ``chip_vendor``, ``neocloud``, ``ai_lab``, ``spv``.
    """

    @property
    def revenue(self) -> float:
        """Revenue of the last week, USD bn."""
        return self._read("revenue")


class Bank(Institution):
    """US and EU banks (kinds ``us`` and ``eu``)."""

    @property
    def cet1_ratio(self) -> float:
        """Capital over risk-weighted assets (equity / (risk density × total assets))."""
        return self._read("cet1_ratio")


class Fund(Institution):
    """Pension funds, insurers, mutual funds, hedge funds and private-credit funds (kinds)."""


class StablecoinIssuer(Institution):
    """Issuers of dollar stablecoins (Tether-like, USDC-like)."""

    @property
    def peg(self) -> float:
        """Recoverable value per token: min(1, reserves / tokens)."""
        return self._read("peg")


class RetailSaver(Institution):
    """A cohort of households of one wealth group (top 1%, 90–99%, 50–90%, bottom 50%)."""

    @property
    def wealth(self) -> float:
        """Net worth of the cohort, USD bn."""
        return self.equity


#: the agent class of each family, in the vocabulary's order (abm.vocabulary.FAMILIES)
FAMILY_CLASSES: dict[str, type[Institution]] = dict(
    zip(FAMILIES, (TechFirm, Bank, Fund, StablecoinIssuer, RetailSaver), strict=True)
)
