"""Who the agents are: one global index of N agents in family blocks, built from the calibration.

Tech firms come first, then banks (the US agents of ``banks.us.agents`` and the EBA banks of
``banks.eu``), funds (``n_agents`` per sector), stablecoin issuers and, last, the retail cohorts:
``n_cohorts`` slices of the household sector, spread over the wealth groups in proportion to their
population (at least one each). Every array of the model with an agent axis uses this order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from abm.calibration import Calibration


@dataclass(frozen=True)
class Roster:
    """Who the N agents are: names, families, kinds and the index block of each family.

    Attributes:
        names: agent keys (``"amazon"``, ``"jpmorgan"``, ``"hedge_3"``, ``"retail_17"``...).
        labels: readable names.
        family: per agent, one of :data:`abm.vocabulary.FAMILIES`.
        kind: per agent, its kind within the family (``"hyperscaler"``, ``"us"``, ``"hedge"``...).
        blocks: family -> (first index, end index).
    """

    names: tuple[str, ...]
    labels: tuple[str, ...]
    family: tuple[str, ...]
    kind: tuple[str, ...]
    blocks: dict[str, tuple[int, int]]

    @property
    def size(self) -> int:
        """N, the number of agents."""
        return len(self.names)

    def indices(self, family: str, kind: str | None = None) -> np.ndarray:
        """Global indices of a family's agents (of one kind if given), as a host int array."""
        lo, hi = self.blocks[family]
        idx = np.arange(lo, hi)
        if kind is None:
            return idx
        return idx[np.array([self.kind[i] == kind for i in idx], dtype=bool)]

    def index(self, name: str) -> int:
        """Global index of agent ``name``."""
        return self.names.index(name)


def build_roster(cal: Calibration, n_cohorts: int) -> Roster:
    """The agents of the calibration, firms first, retail cohorts last."""
    names: list[str] = []
    labels: list[str] = []
    family: list[str] = []
    kind: list[str] = []
    blocks: dict[str, tuple[int, int]] = {}

    def add(fam: str, name: str, label: str, knd: str) -> None:
        names.append(name)
        labels.append(label)
        family.append(fam)
        kind.append(knd)

    start = 0
    for firm in cal.firms():
        node = cal.node(f"firms.{firm}")
        add("firm", firm, str(node.get("label", firm)), str(node["kind"]))
    blocks["firm"], start = (start, len(names)), len(names)
    for bank in cal.children("banks.us.agents"):
        add("bank", bank, str(cal.node(f"banks.us.agents.{bank}").get("label", bank)), "us")
    for eu in cal.eu_banks:
        add("bank", f"eu_{eu.bank_id.lower()}", f"EU bank {eu.bank_id} ({eu.country})", "eu")
    blocks["bank"], start = (start, len(names)), len(names)
    for sector in cal.children("funds"):
        count = int(cal.value(f"funds.{sector}.n_agents"))
        label = str(cal.node(f"funds.{sector}").get("label", sector))
        for k in range(count):
            add("fund", f"{sector}_{k + 1}", f"{label} #{k + 1}", sector)
    blocks["fund"], start = (start, len(names)), len(names)
    for coin in _stablecoins(cal):
        add("stablecoin", coin, str(cal.node(f"stablecoins.{coin}").get("label", coin)), coin)
    blocks["stablecoin"], start = (start, len(names)), len(names)
    for group, count in _cohort_counts(cal, n_cohorts).items():
        for k in range(count):
            add("retail", f"{group}_{k + 1}", f"Retail cohort {group} #{k + 1}", group)
    blocks["retail"] = (start, len(names))
    return Roster(tuple(names), tuple(labels), tuple(family), tuple(kind), blocks)


def _stablecoins(cal: Calibration) -> list[str]:
    return [c for c in cal.children("stablecoins") if "supply" in cal.node(f"stablecoins.{c}")]


def _cohort_counts(cal: Calibration, n_cohorts: int) -> dict[str, int]:
    """Cohorts per wealth group, proportional to population, at least one each."""
    groups = cal.children("retail.cohorts")
    shares = np.array([cal.value(f"retail.cohorts.{g}.population_share") for g in groups])
    counts = np.maximum(1, np.floor(shares / shares.sum() * n_cohorts)).astype(int)
    counts[int(np.argmax(shares))] += n_cohorts - counts.sum()  # the largest group takes the rest
    if n_cohorts < len(groups) or counts.min() < 1:
        raise ValueError(f"n_cohorts must be at least {len(groups)} (one per wealth group)")
    return dict(zip(groups, (int(c) for c in counts), strict=True))
