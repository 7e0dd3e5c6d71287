"""Model-level series for every world, read from the model's host snapshot, and Mesa's collector.

Everything here reads ``model.snapshot`` (host NumPy arrays, refreshed after every step; see
:meth:`abm.model.Powderkeg.take_snapshot`) and is vectorized over the world axis: no Python loop
over worlds, agents or retail cohorts. The series, per world and step (USD bn unless noted):

- ``ai_equity_index``: mean price of the listed AI equities (equal weights; 1.0 at the start).
- ``crypto_price``, ``treasury_price``: prices per unit (1.0 at the start).
- ``ai_sentiment``, ``crypto_sentiment``: the log sentiment indices that drive fundamentals.
- ``bond_price_<issuer>`` and ``spread_change_bp_<issuer>`` for every listed AI issuer with
  bonds: the implied change of the credit spread since the start, in basis points,
  ``Δs = −ln(P / P₀) / D`` with the bond's duration D in years. This inverts the model's bond
  valuation ``P = P₀·exp(−D·Δs)`` exactly and is ``−ΔP / (P·D)`` to first order.
- ``defaults_<family>`` and ``defaults_total``: agents that have failed so far.
- ``fire_sale_volume_usd_bn``: proceeds of the institutions' forced sales this step (banks,
  funds, stablecoin issuers and firms; market makers paid them); ``retail_sales_usd_bn``: what
  panicking households sold, reported apart because it is a choice, not a forced sale.
- ``bank_cet1_median`` and ``bank_cet1_min``: CET1 / risk-weighted assets over banks still alive.
- ``bank_leverage_median`` and ``hedge_fund_leverage_median``: total assets / equity over those
  still alive (infinite where equity is not positive). A fund's shares count among its
  liabilities, so its equity is near zero: hedge-fund leverage is total assets / (total assets −
  debt-like liabilities, the snapshot's ``debt``).
- ``bank_cet1_system``: the banks' aggregate CET1 over their aggregate risk-weighted assets
  (banks still alive); ``bank_cet1_p10`` and ``bank_cet1_p90``: the 10th and 90th percentiles of
  their CET1 ratios; ``banks_below_buffer``: banks alive below their CET1 buffer.
- ``bank_roe_median``: median return on equity (net income a year, averaged over a quarter, over
  equity: the model's equity is CET1, so this compares with return on tangible common equity);
  ``bank_nim_median``: median net interest income a year over total assets;
  ``bank_net_income_usd_bn``, ``bank_payouts_usd_bn``: all banks' this week.
- ``bank_provisions_usd_bn``, ``bank_lending_usd_bn`` (net of repayments) and
  ``bank_loans_usd_bn``: the banks' loan books to the economy outside the model
  (:mod:`abm.credit_risk`).
- ``<quantity>_<region>`` for each quantity of :data:`MACRO_SERIES` and region ``us``,
  ``euro_area``: GDP growth (annualised, over a quarter), unemployment, inflation, the policy
  rate, the 10-year yield, bank credit growth (fractions a year), house and commercial property
  price indices (:mod:`abm.macro`).
- ``peg_<issuer>``: recoverable value per stablecoin token.
- ``redemption_share_<issuer>``: tokens redeemed this week as a share of supply.
- ``lolr_loans_usd_bn``: banks' loans from the lender of last resort outstanding;
  ``bailouts_total``: banks recapitalised by the government so far; ``public_cost_usd_bn``: the
  capital it injected so far; ``backstop_bought_usd_bn``: the market maker of last resort's
  purchases so far (bonds and stablecoin reserves).
- ``rating_notch_<issuer>``: each listed AI bond issuer's rating (0 = AAA, 9 = BBB−; see
  ``abm.ratings.SCALE``); ``fallen_angel_sales_usd_bn``: bonds IG-constrained holders were forced
  to sell this week; ``equity_raised_usd_bn``, ``vendor_financed_usd_bn`` and
  ``capex_cut_usd_bn``: the firms' equity issues, vendor financing and capex cut this week.
- ``retail_wealth_usd_bn``: net worth of all retail cohorts, saving included;
  ``retail_loss_usd_bn`` and ``retail_loss_share``: what they lost on what they own since the
  start, net worth at the start plus the saving received since, less net worth now, the share
  over that start plus saving (one definition everywhere: the run summary, the overview figure and
  the app plot this; negative is a gain; saving itself is not counted as a gain);
  ``retail_loss_share_worst_decile``: mean loss share of the tenth of cohorts that lost most.
- ``fire_sale_converged``, ``failures_converged`` and ``deals_converged``: whether this step's
  fire sale, clearing of failures and clearing of circular-deal payments converged in that world;
  ``clearing_converged``: all three did.
- ``world_stopped``: the world's state became non-finite in this or an earlier step, so its
  numbers are not results (the run reports it as failed, with the week and the cause).

:func:`ensemble_frame` gives them as one row per world, :class:`Recorder` keeps them step by
step as a long table, and :func:`abm.collector.make_datacollector` wires them into
``mesa.DataCollector`` together with agent-level reporters.
"""

from __future__ import annotations

import math
import warnings
import weakref
from dataclasses import dataclass
from typing import Any

import mesa
import numpy as np
import pandas as pd

from abm.state import REGIONS
from abm.vocabulary import FAMILIES
from kernels.backend import to_numpy

#: the macro block's series, one column per region of abm.state.REGIONS (``gdp_growth_us``...)
MACRO_SERIES = ("gdp_growth", "unemployment", "inflation", "policy_rate", "yield_10y",
                "credit_growth", "house_prices", "cre_prices")  # fmt: skip
#: the iterative clearings of a step whose convergence is reported (snapshot keys)
CONVERGED_PARTS = ("fire_sale_converged", "failures_converged", "deals_converged")


@dataclass(frozen=True)
class Layout:
    """Index sets and starting values the reporters need, computed once per model.

    Attributes:
        ai_equity: market indices of the listed AI equities.
        crypto: market index of crypto.
        treasury: market index of Treasuries.
        bond_issuers: listed AI issuers that have a bond asset, in market order.
        bond_assets: their bond assets' market indices.
        bond_duration_years: those bonds' durations, in years.
        families: families present, in roster order.
        family_starts: first agent index of each family block.
        banks: index range of the banks.
        hedge_funds: agent indices of the hedge funds.
        stablecoins: index range of the stablecoin issuers.
        stablecoin_names: their keys.
        retail: index range of the retail cohorts.
        prices0: (E, M) prices at the start.
        retail_equity0: (E, R) retail cohorts' net worth at the start.
    """

    ai_equity: np.ndarray
    crypto: int
    treasury: int
    bond_issuers: tuple[str, ...]
    bond_assets: np.ndarray
    bond_duration_years: np.ndarray
    families: tuple[str, ...]
    family_starts: np.ndarray
    banks: slice
    hedge_funds: np.ndarray
    stablecoins: slice
    stablecoin_names: tuple[str, ...]
    retail: slice
    prices0: np.ndarray
    retail_equity0: np.ndarray

    @classmethod
    def of(cls, model: mesa.Model) -> Layout:
        """The layout of ``model`` (cached: built on first use)."""
        cached = _LAYOUTS.get(model)
        if cached is None:
            cached = cls._build(model)
            _LAYOUTS[model] = cached
        return cached

    @classmethod
    def _build(cls, model: mesa.Model) -> Layout:
        table, roster = model.sheets.assets, model.roster
        listed = [m for m, c in enumerate(table.asset_class) if c == "equity" and table.issuer[m]]
        issuers = [table.issuer[m] for m in listed]
        bonds = {
            table.issuer[m]: m
            for m, c in enumerate(table.asset_class)
            if c == "corporate_bond" and table.issuer[m] in issuers
        }
        bond_issuers = tuple(i for i in issuers if i in bonds)
        bond_assets = np.array([bonds[i] for i in bond_issuers], dtype=int)
        duration = np.asarray(table.duration, dtype=float)[bond_assets] / 52.0
        families = tuple(f for f in FAMILIES if f in roster.blocks)
        blocks = roster.blocks
        n_worlds = model.snapshot["prices"].shape[0]
        prices0 = getattr(getattr(model, "market", None), "prices0", None)
        prices0 = (
            np.ones_like(model.snapshot["prices"])
            if prices0 is None
            else np.broadcast_to(np.asarray(to_numpy(prices0), dtype=float), (n_worlds, table.size))
        )
        retail = slice(*blocks["retail"])
        start_equity = np.asarray(to_numpy(model.start_equity), dtype=float)
        return cls(
            ai_equity=np.array(listed, dtype=int),
            crypto=table.index("crypto"),
            treasury=table.index("treasuries"),
            bond_issuers=bond_issuers,
            bond_assets=bond_assets,
            bond_duration_years=duration,
            families=families,
            family_starts=np.array([blocks[f][0] for f in families], dtype=int),
            banks=slice(*blocks["bank"]),
            hedge_funds=np.asarray(roster.indices("fund", "hedge"), dtype=int),
            stablecoins=slice(*blocks["stablecoin"]),
            stablecoin_names=tuple(roster.names[slice(*blocks["stablecoin"])]),
            retail=retail,
            prices0=np.array(prices0, dtype=float),
            retail_equity0=start_equity[:, retail].copy(),
        )


_LAYOUTS: weakref.WeakKeyDictionary[Any, Layout] = weakref.WeakKeyDictionary()


def column_names(model: mesa.Model) -> list[str]:
    """Names of the series columns, in the order :func:`ensemble_columns` returns them."""
    return list(ensemble_columns(model))


def _masked(values: np.ndarray, keep: np.ndarray, how: str) -> np.ndarray:
    """Per-world median or min of ``values`` (E, K) over entries where ``keep``; NaN if none."""
    if values.shape[1] == 0:
        return np.full(values.shape[0], np.nan)
    masked = np.where(keep, values, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: every agent failed
        reduce = np.nanmedian if how == "median" else np.nanmin
        return reduce(masked, axis=1)


def _leverage(assets: np.ndarray, equity: np.ndarray) -> np.ndarray:
    """Total assets / equity, infinite where equity is not positive."""
    safe = np.where(equity > 0.0, equity, 1.0)
    return np.where(equity > 0.0, assets / safe, np.inf)


def _worst_decile_mean(loss_share: np.ndarray) -> np.ndarray:
    """(E,) mean of the largest tenth (at least one) of each row of ``loss_share`` (E, R)."""
    r = loss_share.shape[1]
    if r == 0:
        return np.zeros(loss_share.shape[0])
    k = max(1, math.ceil(r / 10))
    top = np.partition(loss_share, r - k, axis=1)[:, r - k :]
    return top.mean(axis=1)


def _bank_columns(
    snap: dict[str, np.ndarray], lay: Layout, cet1: np.ndarray, alive: np.ndarray
) -> dict[str, np.ndarray]:
    """The banks' system capital, its spread, buffer breaches, returns and margins."""
    rwa = np.where(alive, snap["risk_weighted_assets"][:, lay.banks], 0.0)
    total_rwa = rwa.sum(axis=1)
    assets = snap["total_assets"][:, lay.banks]
    with np.errstate(divide="ignore", invalid="ignore"):
        system = np.where(total_rwa > 0.0, (cet1 * rwa).sum(axis=1) / total_rwa, np.nan)
        margin = np.where(assets > 0.0, 52.0 * snap["net_interest_income"][:, lay.banks] / assets,
                          0.0)  # fmt: skip
    below = (cet1 < snap["cet1_buffer"][:, lay.banks]) & alive
    masked = np.where(alive, cet1, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: every bank failed
        p10, p90 = np.nanpercentile(masked, [10.0, 90.0], axis=1)
    return {
        "bank_cet1_system": system,
        "bank_cet1_p10": p10,
        "bank_cet1_p90": p90,
        "banks_below_buffer": below.sum(axis=1),
        "bank_roe_median": _masked(snap["return_on_equity"][:, lay.banks], alive, "median"),
        "bank_nim_median": _masked(margin, alive, "median"),
        "bank_net_income_usd_bn": snap["net_income"][:, lay.banks].sum(axis=1),
        "bank_payouts_usd_bn": snap["bank_payouts"][:, lay.banks].sum(axis=1),
    }


def ensemble_columns(model: mesa.Model) -> dict[str, np.ndarray]:
    """Every series for every world at the current step, as (E,) host arrays.

    Cached per snapshot, so Mesa's model reporters, the recorder and the app can all ask.
    """
    snap, step = model.snapshot, int(model.steps)
    cached = _COLUMNS.get(model)
    if cached is not None and cached[0] is snap and cached[1] == step:
        return cached[2]
    columns = _compute(model, snap)
    _COLUMNS[model] = (snap, step, columns)
    return columns


_COLUMNS: weakref.WeakKeyDictionary[Any, tuple[dict, int, dict[str, np.ndarray]]] = (
    weakref.WeakKeyDictionary()
)


def _compute(model: mesa.Model, snap: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    lay = Layout.of(model)
    prices = snap["prices"]
    n_worlds = prices.shape[0]
    out: dict[str, np.ndarray] = {
        "ai_equity_index": prices[:, lay.ai_equity].mean(axis=1)
        if lay.ai_equity.size
        else np.full(n_worlds, np.nan),
        "crypto_price": prices[:, lay.crypto].copy(),
        "treasury_price": prices[:, lay.treasury].copy(),
    }
    for key in ("ai_sentiment", "crypto_sentiment"):
        if key in snap:
            out[key] = np.asarray(snap[key], dtype=float).copy()

    bond = prices[:, lay.bond_assets]
    bond0 = lay.prices0[:, lay.bond_assets]
    with np.errstate(divide="ignore", invalid="ignore"):
        spread_bp = -np.log(bond / bond0) / lay.bond_duration_years * 1e4 + 0.0  # no -0.0
    for k, issuer in enumerate(lay.bond_issuers):
        out[f"bond_price_{issuer}"] = bond[:, k].copy()
    for k, issuer in enumerate(lay.bond_issuers):
        out[f"spread_change_bp_{issuer}"] = spread_bp[:, k]

    defaulted = snap["defaulted"]
    by_family = np.add.reduceat(defaulted.astype(np.int64), lay.family_starts, axis=1)
    for k, family in enumerate(lay.families):
        out[f"defaults_{family}"] = by_family[:, k]
    out["defaults_total"] = by_family.sum(axis=1)

    sold = snap["sale_proceeds"]
    out["fire_sale_volume_usd_bn"] = sold.sum(axis=1) - sold[:, lay.retail].sum(axis=1)
    out["retail_sales_usd_bn"] = sold[:, lay.retail].sum(axis=1)

    assets, equity = snap["total_assets"], snap["equity"]
    alive_banks = ~defaulted[:, lay.banks]
    cet1 = snap["cet1_ratio"][:, lay.banks]
    out["bank_cet1_median"] = _masked(cet1, alive_banks, "median")
    out["bank_cet1_min"] = _masked(cet1, alive_banks, "min")
    out["bank_leverage_median"] = _masked(
        _leverage(assets[:, lay.banks], equity[:, lay.banks]), alive_banks, "median"
    )
    hedge = lay.hedge_funds
    # A fund's shares are its investors' stake but count among its liabilities, so its equity
    # is close to zero; leverage is measured against assets minus debt-like liabilities instead.
    capital = assets - snap["debt"]
    out["hedge_fund_leverage_median"] = _masked(
        _leverage(assets[:, hedge], capital[:, hedge]), ~defaulted[:, hedge], "median"
    )

    if "return_on_equity" in snap:  # the banks' earnings and capital (abm.bank_earnings)
        out.update(_bank_columns(snap, lay, cet1, alive_banks))
    if "provisions" in snap:  # the banks' loan books (abm.credit_risk)
        for key, name in (("provisions", "provisions"), ("new_lending", "lending"),
                          ("loans_outside", "loans")):  # fmt: skip
            out[f"bank_{name}_usd_bn"] = snap[key][:, lay.banks].sum(axis=1)
    if "gdp_growth" in snap:  # the macro block, one column per region (abm.macro)
        for key in MACRO_SERIES:
            for r, region in enumerate(REGIONS):
                out[f"{key}_{region}"] = np.asarray(snap[key], dtype=float)[:, r].copy()

    pegs = snap["peg"][:, lay.stablecoins]
    for k, coin in enumerate(lay.stablecoin_names):
        out[f"peg_{coin}"] = pegs[:, k].copy()
    if "redemption_share" in snap:  # stablecoin runs and the public backstops (abm.backstops)
        shares = snap["redemption_share"][:, lay.stablecoins]
        for k, coin in enumerate(lay.stablecoin_names):
            out[f"redemption_share_{coin}"] = shares[:, k].copy()
        out["lolr_loans_usd_bn"] = snap["lolr_loans"].sum(axis=1)
        out["bailouts_total"] = snap["rescued"].sum(axis=1)
        out["public_cost_usd_bn"] = np.asarray(snap["public_cost"], dtype=float).copy()
        out["backstop_bought_usd_bn"] = np.asarray(snap["backstop_bought"], dtype=float).copy()
    if "rating_notch" in snap:  # ratings and financing of the tech firms (abm.ratings, financing)
        for issuer in lay.bond_issuers:
            out[f"rating_notch_{issuer}"] = snap["rating_notch"][:, model.roster.index(issuer)]
        firms = slice(*model.roster.blocks["firm"])
        for key in ("fallen_angel_sales", "equity_raised", "vendor_financed", "capex_cut"):
            out[f"{key}_usd_bn"] = snap[key][:, firms].sum(axis=1)

    wealth = equity[:, lay.retail]
    start = lay.retail_equity0 + snap["saved"][:, lay.retail]  # what they would have kept
    total, total0 = wealth.sum(axis=1), start.sum(axis=1)
    out["retail_wealth_usd_bn"] = total
    out["retail_loss_usd_bn"] = total0 - total
    out["retail_loss_share"] = (total0 - total) / np.where(total0 != 0.0, total0, 1.0)
    cohort_loss = np.where(start > 0.0, (start - wealth) / np.where(start > 0.0, start, 1.0), 0.0)
    out["retail_loss_share_worst_decile"] = _worst_decile_mean(cohort_loss)

    parts = {key: np.asarray(snap[key], dtype=bool) for key in CONVERGED_PARTS}
    for key, converged in parts.items():
        out[key] = converged.copy()
    out["clearing_converged"] = np.logical_and.reduce(list(parts.values()))
    out["world_stopped"] = np.asarray(snap["world_stopped"], dtype=bool).copy()
    return out


def ensemble_frame(model: mesa.Model) -> pd.DataFrame:
    """One row per world for the current step: ``step``, ``world`` and every series column."""
    columns = ensemble_columns(model)
    n_worlds = model.snapshot["prices"].shape[0]
    head = {
        "step": np.full(n_worlds, int(model.steps), dtype=np.int64),
        "world": np.arange(n_worlds, dtype=np.int64),
    }
    return pd.DataFrame({**head, **columns})


class Recorder:
    """Keeps :func:`ensemble_frame` rows step after step; :meth:`frame` is the long table.

    Call :meth:`record` once before the first step (step 0, the calibrated start) and after every
    step. Only host arrays are kept; the DataFrame is built once, at the end.
    """

    def __init__(self) -> None:
        self._chunks: list[dict[str, np.ndarray]] = []

    def record(self, model: mesa.Model) -> None:
        """Append the current step's row for every world."""
        columns = ensemble_columns(model)
        n_worlds = model.snapshot["prices"].shape[0]
        chunk = {
            "step": np.full(n_worlds, int(model.steps), dtype=np.int64),
            "world": np.arange(n_worlds, dtype=np.int64),
        }
        chunk.update(columns)
        self._chunks.append(chunk)

    update = record

    def __len__(self) -> int:
        """Steps recorded."""
        return len(self._chunks)

    def frame(self) -> pd.DataFrame:
        """Long table: one row per (step, world), columns ``step``, ``world`` and the series."""
        if not self._chunks:
            return pd.DataFrame({"step": np.zeros(0, np.int64), "world": np.zeros(0, np.int64)})
        names = list(self._chunks[0])
        return pd.DataFrame({n: np.concatenate([c[n] for c in self._chunks]) for n in names})


#: Columns of :func:`agents_frame`.
AGENT_COLUMNS = (
    "world",
    "name",
    "label",
    "family",
    "kind",
    "cash",
    "total_assets",
    "liabilities",
    "equity",
    "defaulted",
)


def agents_frame(model: mesa.Model) -> pd.DataFrame:
    """The current balance sheet of every agent in every world, one row per (world, agent)."""
    snap, roster = model.snapshot, model.roster
    n_worlds, n = snap["equity"].shape

    def tiled(values: tuple[str, ...]) -> np.ndarray:
        return np.tile(np.asarray(values, dtype=object), n_worlds)

    data: dict[str, Any] = {
        "world": np.repeat(np.arange(n_worlds, dtype=np.int64), n),
        "name": tiled(roster.names),
        "label": tiled(roster.labels),
        "family": tiled(roster.family),
        "kind": tiled(roster.kind),
    }
    for key in ("cash", "total_assets", "liabilities", "equity"):
        data[key] = np.asarray(snap[key], dtype=float).reshape(-1)
    data["defaulted"] = np.asarray(snap["defaulted"], dtype=bool).reshape(-1)
    return pd.DataFrame(data)


__all__ = [
    "AGENT_COLUMNS",
    "Layout",
    "Recorder",
    "agents_frame",
    "column_names",
    "ensemble_columns",
    "ensemble_frame",
]
