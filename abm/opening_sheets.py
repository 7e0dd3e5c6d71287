"""The end-2025 opening balance sheets of one world, built on the host from the calibration.

Construction, family by family (each number from ``calibration.toml``; the ``[assumptions]``
section holds the estimates the sources do not give):

- **Tech firms**: cash, bonds and loans as reported; book equity = market value × book-to-market;
  real assets balance the sheet.
- **Banks**: total assets; CET1 = ratio × risk density × assets; deposits and interbank funding as
  shares of assets; the rest of the funding is wholesale debt to outsiders (an ``other`` pool);
  assets are cash, Treasuries, bonds, a share of every modelled bank loan and interbank claims,
  and real assets (loans to the rest of the economy) for the remainder.
- **Funds**: sector assets split evenly over the sector's agents, invested by the sector's
  allocation; liabilities are pension claims (pension funds), policy reserves (insurers), bank
  lines plus fund shares (hedge and private-credit funds) or fund shares (mutual funds).
- **Stablecoin issuers**: tokens outstanding; reserves by the reported mix (Treasury bills and
  repo, bank deposits, gold, bitcoin, secured loans).
- **Retail cohorts**: equal slices of the population within each wealth group; assets by the
  group's shares of deposits, pension entitlements, equities and fund shares, crypto and
  stablecoins; the rest of net worth is real assets. Households' debts are not modelled.

**The AI issuers' bonds** go to holder types in the shares of ``[bond_holders.shares]`` (who holds
US corporate bonds, Federal Reserve Financial Accounts Z.1 table L.213): each type takes its share
of every issuer's bonds outstanding, split over its agents by their total assets; the EU banks take
the share the exposure lever sets (``banks.eu.us_ai_debt_share``); the rest of the world and the
sectors the model leaves out hold the remainder outside the model
(:meth:`OpeningSheets.place_ai_bonds`).

Where the agents' holdings of an asset exceed its outstanding amount, every holder is scaled down
to fit and the value goes to cash; ``OpeningSheets.notes`` records it (kept as
``BalanceSheets.adjustments``).

:func:`abm.balance_sheets.build_balance_sheets` copies the result into every world.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from abm.calibration import Calibration
from abm.exposures import (
    RESERVE_BANKS,
    ExposureRules,
    fill_in_proportion,
    market_share_syndicate,
    place_deposits,
    prime_brokers,
    stable_id,
)
from abm.interbank import interbank_network
from abm.market import AssetTable
from abm.roster import Roster

#: firm kinds on each side of the two financing instruments of :mod:`abm.financing`: chip vendors
#: finance GPU buyers (vendor financing); customers prepay neoclouds and SPVs (cloud commitments)
VENDOR_LENDERS = ("chip_vendor",)
VENDOR_BORROWERS = ("neocloud", "ai_lab", "spv")
CAPACITY_BUYERS = ("hyperscaler",)
CAPACITY_SELLERS = ("neocloud", "spv")

#: allocation keys of ``[funds.*.allocation]`` that are spread over several market assets
SPREAD_KEYS = {"ai_equity": "equity_"}

#: allocation key of the AI issuers' part of a sector's corporate bonds: booked as cash, out of
#: which the sector pays for its share of the AI bonds (:meth:`OpeningSheets.place_ai_bonds`)
AI_BONDS_KEY = "ai_bonds"


@dataclass
class _Pool:
    issuers: list[int] = field(default_factory=list)
    face: list[float] = field(default_factory=list)
    holders: list[int] = field(default_factory=list)
    claims: list[float] = field(default_factory=list)
    outside_holder: str = "outside_investors"
    #: a bilateral pool's edges (issuer, holder, USD bn, share of the issuer's new borrowing);
    #: ``None`` for a pool whose holders own it pro rata
    links: list[tuple[int, int, float, float]] | None = None
    #: each listed agent's position in ``issuers`` and in ``holders``
    issuer_at: dict[int, int] = field(default_factory=dict)
    holder_at: dict[int, int] = field(default_factory=dict)

    def link(self, issuer: int, holder: int, amount: float, weight: float) -> None:
        """A named claim of ``holder`` on ``issuer``; the holder's claims grow by ``amount``."""
        if self.links is None:
            raise TypeError("a pro-rata pool has no named links")
        self.links.append((issuer, holder, amount, weight))
        self.own(holder, amount)

    def owe(self, agent: int, amount: float) -> None:
        _add(self.issuers, self.face, self.issuer_at, agent, amount)

    def own(self, agent: int, amount: float) -> None:
        _add(self.holders, self.claims, self.holder_at, agent, amount)

    def take_holders(self) -> tuple[list[int], list[float]]:
        """The holders and their claims so far, removed from the pool (to be linked anew)."""
        taken = self.holders, self.claims
        self.holders, self.claims, self.holder_at = [], [], {}
        return taken

    def total_face(self) -> float:
        return float(sum(self.face))


def _add(
    agents: list[int], amounts: list[float], at: dict[int, int], agent: int, amount: float
) -> None:
    """Add ``amount`` to ``agent``'s entry, creating it if needed (a pool lists each agent once)."""
    if agent in at:
        amounts[at[agent]] += amount
    else:
        at[agent] = len(agents)
        agents.append(agent)
        amounts.append(amount)


class OpeningSheets:
    """One world's balance sheets on the host (NumPy, float64), filled family by family."""

    def __init__(
        self,
        cal: Calibration,
        roster: Roster,
        assets: AssetTable,
        capital_regime: str = "own",
        rules: ExposureRules | None = None,
    ) -> None:
        self.cal, self.roster, self.assets = cal, roster, assets
        self.capital_regime = capital_regime
        self.rules = rules or ExposureRules()
        n, m = roster.size, assets.size
        named = [] if self.rules.named else None
        self.cash = np.zeros(n)
        self.holdings = np.zeros((n, m))
        #: the part of ``holdings`` sized to a target that :meth:`fit_to_supply` leaves whole
        #: (the banks' trading books, USD bn)
        self.kept = np.zeros((n, m))
        self.real = np.zeros(n)
        self.bonds = np.zeros(n)
        self.bond_asset = np.full(n, -1)
        #: each bank's and fund's total assets at the start (USD bn): the AI bonds' split within a
        #: holder type
        self.book = np.zeros(n)
        self.pools = {
            "deposits": _Pool(outside_holder="rest_of_economy", links=named),
            "bank_loans": _Pool(links=[] if self.rules.named else None),
            "private_loans": _Pool(),
            "interbank": _Pool(links=[] if self.rules.named else None),
            "wholesale": _Pool(),
            "pension_claims": _Pool(),
            "policies": _Pool(outside_holder="rest_of_economy"),
            "fund_shares": _Pool(),  # mutual funds' shares, held by the retail cohorts
            # hedge and private-credit funds' shares, held by named investors (place_fund_investors)
            "private_fund_shares": _Pool(links=[] if self.rules.named else None),
            "tokens": _Pool(),
            "central_bank_loans": _Pool(outside_holder="central_bank"),  # abm.backstops
            "vendor_financing": _Pool(),  # chip vendors' loans to GPU buyers (abm.financing)
            "prepaid_capacity": _Pool(),  # customers' prepayments for cloud capacity
            # unpaid contract payments of a failed payer, claims of its suppliers (abm.deals)
            "trade_claims": _Pool(links=[]),
        }
        self.notes: list[str] = []

    def value(self, path: str) -> float:
        """The calibration value at ``path`` in model units."""
        return float(self.cal.model_value(path))

    def spread_over(self, prefix: str) -> np.ndarray:
        """(M,) weights over the assets whose key starts with ``prefix``, by outstanding."""
        w = np.array(
            [o if k.startswith(prefix) else 0.0
             for k, o in zip(self.assets.keys, self.assets.outstanding, strict=True)]
        )  # fmt: skip
        return w / w.sum()

    def invest(self, agent: int, key: str, amount: float) -> None:
        """Put ``amount`` of the agent's assets into allocation key ``key``."""
        if key in ("cash", AI_BONDS_KEY):  # AI bonds: paid out of cash by place_ai_bonds
            self.cash[agent] += amount
        elif key == "other":
            self.real[agent] += amount
        elif key in SPREAD_KEYS:
            self.holdings[agent] += amount * self.spread_over(SPREAD_KEYS[key])
        else:
            self.holdings[agent, self.assets.index(key)] += amount

    # -- families -----------------------------------------------------------------------------

    def firms(self) -> None:
        """Tech firms: cash, bonds and loans as reported; real assets balance the sheet.

        Book equity is market value × book-to-market (an SPV's equity is its book). Every firm
        can draw bank and private credit later; by kind it borrows from or lends to the vendor
        financing and prepaid-capacity pools (:data:`VENDOR_LENDERS`, :data:`CAPACITY_BUYERS`...).
        """
        for i in self.roster.indices("firm"):
            name = self.roster.names[i]
            node = f"firms.{name}"
            listed = bool(self.cal.node(node).get("listed", False))
            b2m = self.value(
                f"assumptions.firms.book_to_market_{'listed' if listed else 'private'}"
            )
            kind = self.roster.kind[i]
            book = self.value(f"{node}.equity_value") * (1.0 if kind == "spv" else b2m)
            bonds, loans = self.value(f"{node}.debt_bonds"), self.value(f"{node}.debt_loans")
            self.cash[i] = self.value(f"{node}.cash")
            self.bonds[i] = bonds
            own = self.assets.issued_by(name)
            bond_assets = [m for m in own if self.assets.asset_class[m] == "corporate_bond"]
            if bonds > 0.0:
                self.bond_asset[i] = (
                    bond_assets[0]
                    if bond_assets
                    else self.assets.index("ai_spv_debt" if kind == "spv" else "private_credit")
                )
            self.pools["bank_loans"].owe(i, loans)  # every firm can draw bank credit later
            self.pools["private_loans"].owe(i, 0.0)  # and private credit
            if kind in VENDOR_BORROWERS:
                self.pools["vendor_financing"].owe(i, 0.0)
            if kind in VENDOR_LENDERS:
                self.pools["vendor_financing"].own(i, 0.0)
            if kind in CAPACITY_SELLERS:
                self.pools["prepaid_capacity"].owe(i, 0.0)
            if kind in CAPACITY_BUYERS:
                self.pools["prepaid_capacity"].own(i, 0.0)
            self.real[i] = max(0.0, bonds + loans + book - self.cash[i])
        self._trade_links()

    def _trade_links(self) -> None:
        """One empty ``trade_claims`` edge from every firm (payer) to every other (supplier).

        Edges in payer-major firm order, the supplier running over the other firms: the order
        :class:`abm.deals.CircularDeals` books a failed payer's unpaid contract payments in.
        """
        pool, firms = self.pools["trade_claims"], self.roster.indices("firm")
        for payer in firms:
            pool.owe(payer, 0.0)
            for supplier in firms:
                if supplier != payer:
                    pool.link(payer, supplier, 0.0, 0.0)

    def funds(self) -> None:
        """Funds: each sector's assets split evenly over its agents, invested by its allocation.

        Liabilities by sector: pension claims, insurers' policy reserves, hedge funds' bank and
        wholesale borrowing plus fund shares, private-credit funds' bank lines plus fund shares,
        mutual funds' shares.
        """
        for i in self.roster.indices("fund", "private_credit"):
            self.pools["private_loans"].own(i, 0.0)  # new AI lending is booked as it happens
        for sector in self.cal.children("funds"):
            idx = self.roster.indices("fund", sector)
            per_agent = self.value(f"funds.{sector}.total_assets") / len(idx)
            allocation = self.cal.group(f"funds.{sector}.allocation", model_units=True)
            for i in idx:
                self.book[i] = per_agent
                for key, share in allocation.items():
                    self.invest(i, key, share * per_agent)
                self._fund_liabilities(sector, i, per_agent)

    def _fund_liabilities(self, sector: str, i: int, assets: float) -> None:
        a = "assumptions.funds"
        if sector == "pension":
            self.pools["pension_claims"].owe(i, assets * self.value(f"{a}.pension_claims_share"))
        elif sector == "insurer_life":
            self.pools["policies"].owe(i, assets * self.value(f"{a}.insurer_policy_reserves_share"))
        elif sector == "insurer_pc":
            reserves = self.value(f"{a}.insurer_pc_policy_reserves_share")
            self.pools["policies"].owe(i, assets * reserves)
        elif sector == "hedge":
            borrowing = assets * self.hedge_borrowing_share(i)
            bank = borrowing * self.value("banks.exposures.hedge_fund_borrowing_bank_share")
            self.pools["bank_loans"].owe(i, bank)
            self.pools["wholesale"].owe(i, borrowing - bank)
            self.pools["private_fund_shares"].owe(i, assets - borrowing)
        elif sector == "private_credit":
            line = assets * self.value(f"{a}.private_credit_bank_line_share")
            self.pools["bank_loans"].owe(i, line)
            self.pools["private_fund_shares"].owe(i, assets - line)
        else:  # mutual funds: the shareholders own the whole fund
            self.pools["fund_shares"].owe(i, assets)

    def hedge_borrowing_share(self, i: int) -> float:
        """Borrowing / assets of hedge fund ``i``: leverage spread over the funds.

        Leverage ``L_k = 1 + (L_max − 1)·u_k^p`` on an even grid ``u_k`` of the funds, with the
        exponent ``p`` chosen so that the mean borrowing share ``1 − 1/L`` equals the sector's
        (few funds very levered, most modestly: OFR's multi-strategy funds vs the industry).
        """
        if not hasattr(self, "_hedge_shares"):
            a = "assumptions.funds"
            target = self.value(f"{a}.hedge_borrowing_share_of_assets")
            top = self.value(f"{a}.hedge_max_leverage")
            count = len(self.roster.indices("fund", "hedge"))
            grid = (np.arange(count) + 0.5) / count
            lo, hi = 0.01, 100.0
            for _ in range(200):  # bisection on the exponent: the mean share falls as p grows
                p = (lo * hi) ** 0.5
                shares = 1.0 - 1.0 / (1.0 + (top - 1.0) * grid**p)
                lo, hi = (p, hi) if shares.mean() > target else (lo, p)
            self._hedge_shares = shares
        k = list(self.roster.indices("fund", "hedge")).index(i)
        return float(self._hedge_shares[k])

    def stablecoins(self) -> None:
        """Stablecoin issuers: tokens outstanding; reserves invested by the reported mix."""
        deposits = self.pools["deposits"]
        for i in self.roster.indices("stablecoin"):
            coin = self.roster.names[i]
            self.pools["tokens"].owe(i, self.value(f"stablecoins.{coin}.supply"))
            reserves = self.value(f"stablecoins.{coin}.reserves")
            for key, share in self.cal.group(
                f"stablecoins.{coin}.reserve_mix", model_units=True
            ).items():
                amount = share * reserves
                if key.startswith("bank_deposits"):
                    deposits.own(i, amount)
                elif key in ("treasuries_repo_mmf", "reverse_repo", "tbills"):
                    self.invest(i, "tbills", amount)  # bills, repo and money funds: the short end
                elif key == "bitcoin":
                    self.invest(i, "crypto", amount)
                elif key == "gold":
                    self.invest(i, "gold", amount)
                elif key == "cash_and_other":
                    self.invest(i, "cash", amount)
                else:  # secured loans, other investments: illiquid
                    self.invest(i, "other", amount)

    def retail(self) -> None:
        """Retail cohorts: equal slices of each wealth group, holding by the group's shares.

        They own the pension claims, fund shares and tokens the funds and issuers owe, deposits,
        equities and crypto; the rest of their net worth is real assets.
        """
        r = "retail"
        groups = self.cal.children("retail.cohorts")
        pop = {g: self.value(f"{r}.cohorts.{g}.population_share") for g in groups}
        crypto_weight = {g: pop[g] * self.value(f"{r}.cohorts.{g}.crypto_ownership_rate")
                         for g in groups}  # fmt: skip
        crypto_norm = sum(crypto_weight.values())
        pension_face = self.pools["pension_claims"].total_face()
        fund_face = self.pools["fund_shares"].total_face()
        token_face = self.pools["tokens"].total_face()
        direct_ai = self.value("assumptions.retail.direct_ai_equity_share")
        broad = self.value("assumptions.retail.broad_equity_share")
        equities = self.value(f"{r}.equities_direct_indirect")
        fund_claims = min(equities * (1.0 - direct_ai - broad), fund_face)
        for g in groups:
            idx = self.roster.indices("retail", g)
            c = f"{r}.cohorts.{g}"
            k = 1.0 / len(idx)
            net_worth = self.value(f"{c}.net_worth_share") * self.value(f"{r}.household_net_worth")
            eq = equities * self.value(f"{c}.equities_mf_share")
            crypto = self.value(f"{r}.crypto_holdings") * crypto_weight[g] / crypto_norm
            tokens = min(self.value(f"{r}.stablecoin_holdings"), token_face) * (
                crypto_weight[g] / crypto_norm
            )
            deposits = self.value(f"{r}.deposits") * self.value(f"{c}.deposits_share")
            pension = pension_face * self.value(f"{c}.pension_entitlements_share")
            funds = fund_claims * self.value(f"{c}.equities_mf_share")
            for i in idx:
                self.invest(i, "ai_equity", k * eq * direct_ai)
                self.invest(i, "equity_non_ai", k * eq * broad)
                self.invest(i, "crypto", k * crypto)
                self.pools["deposits"].own(i, k * deposits)
                self.pools["pension_claims"].own(i, k * pension)
                self.pools["fund_shares"].own(i, k * funds)
                self.pools["tokens"].own(i, k * tokens)
                held = k * (eq * (direct_ai + broad) + crypto + deposits + pension + funds + tokens)
                self.real[i] = max(0.0, k * net_worth - held)

    def banks(self) -> None:
        """Banks last: they lend what the other families borrowed.

        Each bank's capital is its own: US banks' reported CET1 ratios and risk densities; EU
        banks' 2018 CET1 from the EBA data scaled to the 2025 aggregate (so thin and thick banks
        stay as they were, equity / assets from 2.8% to 10%). Under
        a common ``capital_regime`` ("us" or "eu") every bank holds that region's aggregate
        capital instead: its ratio scaled by ``cet1_target`` of the regime over that of its home
        region, the difference funded by (or repaid to) wholesale creditors.

        The dealers' trading books are a net long position in listed equity (``equity_non_ai``),
        sized so that the stress tests' fall of equity prices costs them the supervisors' trading
        and market-risk losses (:meth:`trading_books`).
        """
        a = "assumptions.banks"
        total, cet1, risk, dep, unins, cash, trs, ig = ([] for _ in range(8))
        eu_banks = iter(self.cal.eu_banks)
        for i in self.roster.indices("bank"):
            name = self.roster.names[i]
            if self.roster.kind[i] == "us":
                node = f"banks.us.agents.{name}"
                total.append(self.value(f"{node}.total_assets"))
                cet1.append(self.value(f"{node}.cet1_ratio"))
                risk.append(self.value(f"{node}.risk_density"))
                dep.append(self.value(f"{node}.deposits_share"))
                unins.append(self.value(f"{node}.uninsured_deposit_share"))
                cash.append(self.value(f"{a}.us_cash_share"))
                trs.append(self.value(f"{a}.us_treasuries_share"))
                ig.append(self.value(f"{a}.us_ig_bonds_share"))
            else:
                eu = next(eu_banks)
                assets = eu.total_assets  # already scaled to 2025 (abm.calibration)
                total.append(assets)
                # the EBA data give CET1 and assets, not RWA: every EU bank is at the 2025
                # aggregate CET1 ratio and its own CET1 / assets sets its risk density, which
                # keeps aggregate RWA (thin banks hold low-risk-weight books, as in the data)
                cet1.append(self.value("banks.eu.cet1_ratio"))
                risk.append(eu.cet1 / (cet1[-1] * assets))
                dep.append(self.value(f"{a}.eu_deposits_share"))
                unins.append(self.value(f"{a}.eu_uninsured_deposit_share"))
                cash.append(self.value("banks.eu.cash_share"))
                trs.append(eu.gov_bonds / assets)
                ig.append(max(0.0, eu.debt_securities - eu.gov_bonds) / assets)
        idx = self.roster.indices("bank")
        assets = np.array(total)
        if self.capital_regime != "own":
            target = self.value(f"regulation.{self.capital_regime}.cet1_target")
            for k, i in enumerate(idx):
                home = self.value(f"regulation.{self.roster.kind[i]}.cet1_target")
                cet1[k] *= target / home
        self.bank_params = {
            "cet1_ratio": np.array(cet1), "risk_density": np.array(risk),
            "uninsured_share": np.array(unins),
        }  # fmt: skip
        interbank_share = self.value("banks.exposures.interbank_share")
        if self.rules.named:
            loans = self.lend(list(idx), assets)
            self.deposit_at_banks(list(idx), np.array(dep) * assets)
        else:  # every bank holds a share of every loan, in proportion to its assets
            loans = self.pools["bank_loans"].total_face() * assets / assets.sum()
            for k, i in enumerate(idx):
                self.pools["bank_loans"].own(i, loans[k])
        owed, owned = self.interbank(list(idx), assets, interbank_share)  # shares of assets
        trading = self.trading_books(list(idx), np.array(risk) * assets)
        for k, i in enumerate(idx):
            a_k = assets[k]
            equity = cet1[k] * risk[k] * a_k
            self.pools["deposits"].owe(i, dep[k] * a_k)
            self.pools["central_bank_loans"].owe(i, 0.0)  # the lender of last resort's window
            self.pools["wholesale"].owe(i, max(0.0, a_k - equity - (dep[k] + owed[k]) * a_k))
            self.cash[i] = cash[k] * a_k
            self.invest(i, "treasuries", trs[k] * a_k)
            self.invest(i, "ig_bonds_non_ai", ig[k] * a_k)
            self.invest(i, "equity_non_ai", trading[k])
            self.kept[i, self.assets.index("equity_non_ai")] += trading[k]
            self.book[i] = a_k
            placed = (cash[k] + trs[k] + ig[k] + owned[k]) * a_k + trading[k]
            self.real[i] = a_k - placed - loans[k]
            if self.real[i] < 0.0:
                raise ValueError(f"bank {self.roster.names[i]}: its assets do not cover its loans")

    def trading_books(self, banks: list[int], rwa: np.ndarray) -> np.ndarray:
        """(B,) each bank's trading book at the start: listed equity held net long (USD bn).

        A dealer's trading book is mostly hedged; what the stress tests' market shocks take from
        it is its net exposure. The model holds that exposure as listed equity, the risk factor on
        which the dealers' stress losses swing most (the Fed's 2025 severely adverse scenario
        halves equity prices), sized so that the stress tests' fall ``f``
        (``[assumptions.banks] trading_stress_equity_fall``) costs the banks what the
        supervisors project for trading, counterparty and market risk:

        - US: the Fed's 2025 trading and counterparty losses, 42.4 bn over nine quarters
          (``us_trading_stress_loss``), split over the six named banks by their shares of those
          losses in the Fed's 2012 test (``[banks.us.agents.<name>] trading_loss_weight``, the
          last split found); the two aggregates hold none.
        - EU: every bank the same share of its starting risk-weighted assets ``rwa``
          (``eu_trading_stress_loss_rwa``: the EBA's 2025 market-risk losses less what the
          model's EU banks lose on their bonds' marks).

        The book is marked to market each week like any security, weighs 250% in the bank's RWA
        (listed equity) and is sold like any security in a fire sale.
        """
        a = "assumptions.banks"
        fall = self.value(f"{a}.trading_stress_equity_fall")
        weights = np.zeros(len(banks))
        for k, i in enumerate(banks):
            node = f"banks.us.agents.{self.roster.names[i]}"
            if self.roster.kind[i] == "us" and "trading_loss_weight" in self.cal.node(node):
                weights[k] = self.value(f"{node}.trading_loss_weight")
        total = weights.sum()
        us_book = self.value(f"{a}.us_trading_stress_loss") / fall
        books = us_book * weights / total if total > 0.0 else weights
        eu = np.array([self.roster.kind[i] != "us" for i in banks])
        eu_share = self.value(f"{a}.eu_trading_stress_loss_rwa") / fall
        return np.where(eu, eu_share * rwa, books)

    def holder_shares(self) -> dict[tuple[str, str], float]:
        """(roster family, kind) -> its share of every listed AI issuer's bonds at the start.

        ``[bond_holders.shares]`` (keys ``<family>_<kind>``) and the EU banks' share, the exposure
        lever (:attr:`abm.exposures.ExposureRules.eu_ai_debt_share`, by default
        ``banks.eu.us_ai_debt_share``).
        """
        shares = {}
        for key, share in self.cal.group("bond_holders.shares", model_units=True).items():
            family, kind = key.split("_", 1)
            shares[(family, kind)] = float(share)
        eu = self.rules.eu_ai_debt_share
        shares[("bank", "eu")] = float(
            self.value("banks.eu.us_ai_debt_share") if eu is None else eu
        )
        if math.fsum(shares.values()) > 0.95:
            raise ValueError(f"AI bond holders' shares sum to over 95% of the bonds: {shares}")
        return shares

    def place_fund_investors(self) -> None:
        """Name who owns each hedge fund's and private-credit fund's shares.

        Each investor type of ``[exposures.fund_investors.<sector>]`` (keys ``<family>_<kind>``)
        owns its share of every fund of the sector: among pension funds and insurers,
        ``investors_per_fund`` of the type's agents drawn by total assets
        (:func:`abm.exposures.market_share_syndicate`: a fund has a few large institutional
        investors, so its loss lands on them), each in proportion to its assets; a wealth
        group's retail cohorts in equal parts (each cohort is a slice of the whole group). The
        rest (endowments, foundations, sovereign funds, funds of funds, foreign investors) is
        held outside the model. Institutions pay out of their other assets (alternatives), a
        cohort out of its real assets, so every sheet stays balanced.
        """
        pool, roster = self.pools["private_fund_shares"], self.roster
        for sector in ("hedge", "private_credit"):
            types = self.cal.group(f"exposures.fund_investors.{sector}", model_units=True)
            if math.fsum(types.values()) > 1.0:
                raise ValueError(f"the investors of {sector} funds own over 100% of them")
            agents = {key: np.array(roster.indices(*key.split("_", 1))) for key in types}
            ids = {key: np.array([stable_id(roster.names[i]) for i in idx])
                   for key, idx in agents.items()}  # fmt: skip
            for fund in roster.indices("fund", sector):
                nav = pool.face[pool.issuer_at[fund]]
                for key, share in types.items():
                    idx = agents[key]
                    if roster.family[idx[0]] == "retail":  # slices of one group: all, equally
                        chosen, weights = np.arange(idx.size), np.full(idx.size, 1.0 / idx.size)
                    else:  # a few institutions, by size
                        count = min(self.rules.investors_per_fund, idx.size)
                        chosen, weights = market_share_syndicate(
                            self.book[idx], count, stable_id(roster.names[fund]), ids[key]
                        )
                    for agent, w in zip(idx[chosen], weights, strict=True):
                        amount = float(share) * nav * float(w)
                        if pool.links is None:
                            pool.own(int(agent), amount)
                        else:
                            pool.link(fund, int(agent), amount, amount / nav)
                        self.real[agent] -= amount
        short = np.nonzero(self.real < -1e-9)[0]
        if short.size:
            names = [roster.names[i] for i in short]
            raise ValueError(f"the fund shares of {names} exceed what pays for them")

    def place_ai_bonds(self) -> None:
        """Give each holder type its share of every listed AI issuer's bonds.

        Within a type the bonds are split by the agents' total assets (:attr:`book`). What pays
        for them, so that every sheet stays balanced:

        - a fund, out of the cash its ``ai_bonds`` allocation set aside (:meth:`invest`): what it
          no longer puts in AI bonds stays cash, where the excess of its whole allocation over
          the bonds outstanding went before this rule (:meth:`fit_to_supply`), so its other
          assets are as they were;
        - a bank, out of its real assets (loans to the rest of the economy), the remainder of its
          sheet that its AI bonds came out of before: cash, Treasuries and other bonds stay at
          their calibrated shares of assets.

        What the types do not hold (the rest of the world, broker-dealers, governments...) stays
        outside the model.
        """
        bonds = [m for m, k in enumerate(self.assets.keys) if k.startswith("bonds_")]
        supply = np.array(self.assets.outstanding, dtype=float)[bonds]
        for (family, kind), share in self.holder_shares().items():
            idx = self.roster.indices(family, kind)
            weights = self.book[idx] / self.book[idx].sum()
            held = share * np.outer(weights, supply)  # (agents, bonds) USD bn at price 1
            self.holdings[np.ix_(idx, bonds)] += held
            paying = self.real if family == "bank" else self.cash
            paying[idx] -= held.sum(axis=1)
        short = np.nonzero((self.cash < -1e-9) | (self.real < -1e-9))[0]
        if short.size:
            names = [self.roster.names[i] for i in short]
            raise ValueError(f"the AI bonds of {names} exceed what pays for them")

    def interbank(
        self, banks: list[int], assets: np.ndarray, share: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Book the interbank claims; (B,) each bank's borrowing and lending, shares of assets.

        Named (:mod:`abm.interbank`): bilateral edges on a core-periphery network that keeps
        every bank's borrowing and lending at ``share`` of its assets. Pooled: every bank owes
        and owns ``share`` of its assets in one pool, so a failed bank's loss is spread over all
        banks by size.
        """
        pool = self.pools["interbank"]
        if not self.rules.named:
            for k, i in enumerate(banks):
                pool.owe(i, share * assets[k])
                pool.own(i, share * assets[k])
            return np.full(len(banks), share), np.full(len(banks), share)
        edges = interbank_network(
            assets,
            [self.roster.kind[i] for i in banks],
            share,
            int(self.value("banks.exposures.interbank_core_banks")),
            int(self.value("banks.exposures.interbank_links_per_periphery")),
            self.value("banks.exposures.interbank_home_bias"),
        )
        owed, owned = np.zeros(len(banks)), np.zeros(len(banks))
        for k, j, amount in edges:
            owed[k] += amount
            owned[j] += amount
        for k, i in enumerate(banks):
            pool.owe(i, float(owed[k]))
        for k, j, amount in edges:
            pool.link(banks[k], banks[j], amount, amount / owed[k])
        return owed / assets, owned / assets

    def lend(self, banks: list[int], assets: np.ndarray) -> np.ndarray:
        """Link every bank borrower to its lenders (:mod:`abm.exposures`); (B,) each bank's loans.

        Firms and SPVs: the named syndicate of ``[exposures.syndicates.<firm>]`` where deal
        reports give one, else the market-share rule; hedge funds: their prime brokers;
        private-credit funds: the market-share rule. What a named syndicate leaves is owed to
        lenders outside the model.
        """
        pool, roster, rules = self.pools["bank_loans"], self.roster, self.rules
        position = {agent: k for k, agent in enumerate(banks)}
        named = set(self.cal.children("exposures.syndicates"))
        brokers = self.cal.group("exposures.prime_brokerage", model_units=True)
        universe, shares = self._prime_broker_universe(banks, assets, brokers)
        held = np.zeros(len(banks))
        ids = np.array([stable_id(roster.names[b]) for b in banks])
        borrowers = list(zip(pool.issuers, pool.face, strict=True))
        for i, face in [(i, f) for i, f in borrowers if roster.kind[i] != "hedge"]:
            name = roster.names[i]
            if roster.family[i] == "firm" and name in named:
                split = self.cal.group(f"exposures.syndicates.{name}", model_units=True)
                lenders = [position[roster.index(b)] for b in split]
                weights = np.array(list(split.values()))
            else:
                chosen, weights = market_share_syndicate(
                    assets, rules.syndicate_size, stable_id(name), ids
                )
                lenders = [int(c) for c in chosen]
            for b, w in zip(lenders, weights, strict=True):
                pool.link(i, banks[b], face * float(w), float(w))
                held[b] += face * float(w)
        room = np.zeros(len(banks))
        room[universe] = self.value("exposures.prime_broker_max_share") * assets[universe]
        room = np.maximum(room - held, 0.0)
        funds = sorted((p for p in borrowers if roster.kind[p[0]] == "hedge"), key=lambda p: -p[1])
        for i, face in funds:
            chosen, weights = prime_brokers(
                shares, rules.prime_brokers_per_fund, stable_id(roster.names[i]), ids[universe]
            )
            lenders = np.array([universe[c] for c in chosen])
            lent = fill_in_proportion(face, weights, room, lenders, universe)
            for b in np.nonzero(lent)[0]:
                pool.link(i, banks[b], float(lent[b]), float(lent[b] / face))
                held[b] += lent[b]
        return held

    def _prime_broker_universe(
        self, banks: list[int], assets: np.ndarray, brokers: dict[str, float]
    ) -> tuple[list[int], np.ndarray]:
        """(bank positions, market shares) of the prime brokers.

        Named US brokers as given; ``eu_largest`` (the European brokers: BNP Paribas, Barclays,
        Deutsche Bank, UBS, whose names the EBA sample withholds) spread over the four largest
        EU banks by assets in proportion to their assets.
        """
        roster = self.roster
        universe, shares = [], []
        eu = [k for k, i in enumerate(banks) if roster.kind[i] == "eu"]
        largest = sorted(eu, key=lambda k: -assets[k])[:4]
        for name, share in brokers.items():
            if name == "eu_largest":
                for k in largest:
                    universe.append(k)
                    shares.append(share * assets[k] / assets[largest].sum())
            else:
                universe.append(banks.index(roster.index(name)))
                shares.append(share)
        return universe, np.array(shares)

    def deposit_at_banks(self, banks: list[int], deposits: np.ndarray) -> None:
        """Link every modelled depositor to its banks (:func:`abm.exposures.place_deposits`)."""
        pool, roster = self.pools["deposits"], self.roster
        holders, claims = pool.take_holders()
        edges = place_deposits(
            holders,
            claims,
            [roster.family[h] == "retail" for h in holders],
            deposits,
            np.array([roster.kind[i] == "us" for i in banks]),
            np.array([roster.names[i] in RESERVE_BANKS for i in banks]),
            self.rules.stablecoin_deposit_cap,
        )
        for h, b, amount in edges:
            pool.link(banks[b], h, amount, 0.0)

    def fit_to_supply(self, supply: np.ndarray) -> None:
        """Scale holders of an over-held asset down to 95% of its supply; the value becomes cash.

        The holdings in :attr:`kept` stay whole; the rest is scaled so that all together hold 95%.
        """
        held = np.array([math.fsum(col) for col in self.holdings.T])  # exact: any agent order
        kept = np.array([math.fsum(col) for col in self.kept.T])
        for m in np.nonzero(held > 0.95 * supply)[0]:
            if kept[m] >= 0.95 * supply[m]:
                raise ValueError(
                    f"{self.assets.keys[m]}: the holdings sized to a target ({kept[m]:.1f} bn) "
                    f"reach 95% of the {supply[m]:.1f} bn outstanding"
                )
            scale = (0.95 * supply[m] - kept[m]) / (held[m] - kept[m])
            free = self.holdings[:, m] - self.kept[:, m]
            moved = free * (1.0 - scale)
            self.holdings[:, m] = self.kept[:, m] + free * scale
            self.cash += moved
            self.notes.append(
                f"{self.assets.keys[m]}: agents held {held[m]:.1f} of {supply[m]:.1f} bn "
                f"outstanding; scaled to 95% ({moved.sum():.1f} bn moved to cash)"
            )


def build_opening_sheets(
    cal: Calibration,
    roster: Roster,
    assets: AssetTable,
    capital_regime: str = "own",
    rules: ExposureRules | None = None,
) -> OpeningSheets:
    """One world's opening balance sheets of ``roster`` on ``assets``, fitted to their supply.

    Families are filled in an order that lets each see what it needs: banks last, because they
    lend what the other families borrowed; retail after funds and stablecoin issuers, because
    households own the pension claims, fund shares and tokens those issued.
    """
    sheets = OpeningSheets(cal, roster, assets, capital_regime, rules)
    sheets.firms()
    sheets.funds()
    sheets.stablecoins()
    sheets.retail()
    sheets.place_fund_investors()
    sheets.banks()
    sheets.place_ai_bonds()
    sheets.fit_to_supply(np.array(assets.outstanding))
    return sheets
