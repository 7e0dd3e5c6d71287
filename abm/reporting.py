"""Model-level series for every world, reduced on the device, and the tables built from them.

:func:`device_series` reads what the rules declare for reporting while it is still on the
device (:mod:`abm.snapshot`), and the model copies the (E,) results to the host once a step (see
:meth:`abm.model.Powderkeg.take_snapshot`): a GPU sends E numbers per series, not the E × N
balance sheets. Everything is vectorized over the world axis: no Python loop
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
  (banks still alive); ``bank_cet1_system_us`` and ``bank_cet1_system_eu``: the same over the
  US and the EU banks (the Fed's and the EBA's stress tests report each region's);
  ``bank_cet1_p10`` and ``bank_cet1_p90``: the 10th and 90th percentiles of their CET1 ratios;
  ``banks_below_buffer``: banks alive below their CET1 buffer.
- ``bank_roe_median``: median return on equity (net income a year, averaged over a quarter, over
  equity: the model's equity is CET1, so this compares with return on tangible common equity);
  ``bank_nim_median``: median net interest income a year over total assets;
  ``bank_net_income_usd_bn``, ``bank_payouts_usd_bn``: all banks' this week.
- ``bank_provisions_usd_bn``, ``bank_lending_usd_bn`` (net of repayments) and
  ``bank_loans_usd_bn``: the banks' loan books to the economy outside the model
  (:mod:`abm.credit_risk`); per region (``us``, ``eu``, banks still alive or not):
  ``bank_loans_<region>_usd_bn`` (gross), ``bank_write_offs_<region>_usd_bn`` (this week's
  charge-offs), ``bank_payouts_<region>_usd_bn`` (this week's dividends and buybacks) and
  ``bank_rwa_<region>_usd_bn`` (risk-weighted assets of the banks alive); by
  book of ``abm.state.LOAN_BOOKS`` (``mortgages``, ``consumer``, ``corporate``,
  ``commercial_real_estate``): ``bank_loans_<region>_<book>_usd_bn`` and
  ``bank_write_offs_<region>_<book>_usd_bn``, whose books add up to the region's.
- ``<quantity>_<region>`` for each quantity of :data:`MACRO_SERIES` and region ``us``,
  ``euro_area``: GDP growth (annualised, over a quarter), unemployment, inflation, the policy
  rate, the 10-year yield, bank credit growth (fractions a year), house and commercial property
  price indices (:mod:`abm.macro`).
- ``peg_<issuer>``: recoverable value per stablecoin token.
- ``tokens_outstanding_<issuer>``: the issuer's tokens at the end of the week (USD bn at par).
- ``redemption_share_<issuer>``: tokens redeemed this week as a share of supply.
- ``lolr_loans_usd_bn``: banks' loans from the lender of last resort outstanding;
  ``bailouts_total``: banks recapitalised by the government so far; ``public_cost_usd_bn``: the
  capital it injected so far; ``backstop_bought_usd_bn``: the market maker of last resort's
  purchases so far (bonds and stablecoin reserves).
- ``rating_notch_<issuer>``: each listed AI bond issuer's rating (0 = AAA, 9 = BBB−; see
  ``abm.ratings.SCALE``); ``fallen_angel_sales_usd_bn``: bonds IG-constrained holders were forced
  to sell this week; ``equity_raised_usd_bn``, ``vendor_financed_usd_bn`` and
  ``capex_cut_usd_bn``: the firms' equity issues, vendor financing and capex cut this week;
  ``warrant_shares_usd_bn``: the value of the shares warrant holders received as tranches
  vested this week (AMD's warrants to OpenAI, :mod:`abm.warrants`).
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
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mesa
import numpy as np
import pandas as pd

from abm.reductions import masked_median, masked_min, masked_percentile
from abm.state import LOAN_BOOKS, REGIONS
from abm.vocabulary import FAMILIES
from kernels.backend import array_namespace

#: the macro block's series, one column per region of abm.state.REGIONS (``gdp_growth_us``...)
MACRO_SERIES = ("gdp_growth", "unemployment", "inflation", "policy_rate", "yield_10y",
                "credit_growth", "house_prices", "cre_prices")  # fmt: skip
#: the iterative clearings of a step whose convergence is reported (snapshot keys)
CONVERGED_PARTS = ("fire_sale_converged", "failures_converged", "deals_converged")


@dataclass(frozen=True)
class Layout:
    """Index sets and starting values the reporters need, computed once per model.

    Index arrays live where the state lives (the device), so the series are reduced there.

    Attributes:
        ai_equity: market indices of the listed AI equities.
        crypto: market index of crypto.
        treasury: market index of Treasuries.
        bond_issuers: listed AI issuers that have a bond asset, in market order.
        bond_assets: their bond assets' market indices.
        bond_duration_years: those bonds' durations, in years.
        families: families present, in roster order, with each one's block of agents.
        banks: index range of the banks.
        bank_regions: ((region, (B,) bool mask of its banks), ...) for ``us`` and ``eu``, in the
            order of :data:`abm.state.REGIONS`.
        hedge_funds: agent indices of the hedge funds.
        stablecoins: index range of the stablecoin issuers.
        stablecoin_names: their keys.
        retail: index range of the retail cohorts.
        firms: index range of the tech firms.
        bond_issuer_rows: agent rows of ``bond_issuers``.
        retail_equity0: (E, R) retail cohorts' net worth at the start.
    """

    ai_equity: tuple[int, ...]
    crypto: int
    treasury: int
    bond_issuers: tuple[str, ...]
    bond_assets: Any
    bond_duration_years: Any
    families: tuple[tuple[str, slice], ...]
    banks: slice
    bank_regions: tuple[tuple[str, Any], ...]
    hedge_funds: Any
    stablecoins: slice
    stablecoin_names: tuple[str, ...]
    retail: slice
    firms: slice
    bond_issuer_rows: tuple[int, ...]
    retail_equity0: Any

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
        table, roster, xp = model.sheets.assets, model.roster, model.xp
        device = model.sheets.prices.device

        def on_device(values: list[int] | np.ndarray, dtype: Any = None) -> Any:
            return xp.asarray(np.asarray(values), dtype=dtype or xp.int64, device=device)

        listed = [m for m, c in enumerate(table.asset_class) if c == "equity" and table.issuer[m]]
        issuers = [table.issuer[m] for m in listed]
        bonds = {
            table.issuer[m]: m
            for m, c in enumerate(table.asset_class)
            if c == "corporate_bond" and table.issuer[m] in issuers
        }
        bond_issuers = tuple(i for i in issuers if i in bonds)
        bond_assets = [bonds[i] for i in bond_issuers]
        duration = np.asarray(table.duration, dtype=float)[np.asarray(bond_assets, dtype=int)]
        blocks = roster.blocks
        retail = slice(*blocks["retail"])
        kinds = np.asarray(roster.kind[slice(*blocks["bank"])])
        return cls(
            ai_equity=tuple(listed),
            crypto=table.index("crypto"),
            treasury=table.index("treasuries"),
            bond_issuers=bond_issuers,
            bond_assets=on_device(bond_assets),
            bond_duration_years=on_device(duration / 52.0, xp.float64),
            families=tuple((f, slice(*blocks[f])) for f in FAMILIES if f in blocks),
            banks=slice(*blocks["bank"]),
            bank_regions=tuple(
                (region, on_device(kinds == region, xp.bool)) for region in ("us", "eu")
            ),
            hedge_funds=on_device(roster.indices("fund", "hedge")),
            stablecoins=slice(*blocks["stablecoin"]),
            stablecoin_names=tuple(roster.names[slice(*blocks["stablecoin"])]),
            retail=retail,
            firms=slice(*blocks["firm"]),
            bond_issuer_rows=tuple(roster.index(i) for i in bond_issuers),
            retail_equity0=model.start_equity[:, retail],
        )


_LAYOUTS: weakref.WeakKeyDictionary[Any, Layout] = weakref.WeakKeyDictionary()


def column_names(model: mesa.Model) -> list[str]:
    """Names of the series columns, in the order :func:`ensemble_columns` returns them."""
    return list(ensemble_columns(model))


def _leverage(assets: Any, equity: Any) -> Any:
    """Total assets / equity, infinite where equity is not positive."""
    xp = array_namespace(assets)
    positive = equity > 0.0
    safe = xp.where(positive, equity, xp.asarray(1.0, dtype=equity.dtype, device=equity.device))
    return xp.where(
        positive, assets / safe, xp.asarray(math.inf, dtype=assets.dtype, device=assets.device)
    )


def _worst_decile_mean(loss_share: Any) -> Any:
    """(E,) mean of the largest tenth (at least one) of each row of ``loss_share`` (E, R)."""
    xp = array_namespace(loss_share)
    r = loss_share.shape[1]
    if r == 0:
        return xp.zeros(loss_share.shape[0], dtype=loss_share.dtype, device=loss_share.device)
    k = max(1, math.ceil(r / 10))
    return xp.mean(xp.sort(loss_share, axis=1)[:, r - k :], axis=1)


def _equal_weight_mean(prices: Any, columns: tuple[int, ...]) -> Any:
    """(E,) mean of a few price columns, added one after another in market order.

    A fixed order of additions gives the same bits on every backend (a reduction's order is
    each library's own choice).
    """
    total = prices[:, columns[0]]
    for column in columns[1:]:
        total = total + prices[:, column]
    return total / len(columns)


def _sum(values: Any) -> Any:
    """(E,) sum over the agents of (E, K) ``values``."""
    return array_namespace(values).sum(values, axis=1)


def _bank_columns(snap: dict[str, Any], lay: Layout, cet1: Any, alive: Any) -> dict[str, Any]:
    """The banks' system capital, its spread, buffer breaches, returns and margins."""
    xp = array_namespace(cet1)
    zero = xp.asarray(0.0, dtype=cet1.dtype, device=cet1.device)
    nan = xp.asarray(math.nan, dtype=cet1.dtype, device=cet1.device)
    rwa = xp.where(alive, snap["risk_weighted_assets"][:, lay.banks], zero)
    total_rwa = _sum(rwa)
    assets = snap["total_assets"][:, lay.banks]
    has_rwa, has_assets = total_rwa > 0.0, assets > 0.0
    system = xp.where(has_rwa, _sum(cet1 * rwa) / xp.where(has_rwa, total_rwa, 1.0), nan)
    regional = {}
    for region, mask in lay.bank_regions:
        region_rwa = xp.where(mask, rwa, zero)
        total = _sum(region_rwa)
        regional[f"bank_cet1_system_{region}"] = xp.where(
            total > 0.0, _sum(cet1 * region_rwa) / xp.where(total > 0.0, total, 1.0), nan
        )
        regional[f"bank_rwa_{region}_usd_bn"] = total
        for key, name in (
            ("loans_outside", "loans"),
            ("write_offs", "write_offs"),
            ("bank_payouts", "payouts"),
        ):
            values = xp.where(mask, snap[key][:, lay.banks], zero)
            regional[f"bank_{name}_{region}_usd_bn"] = _sum(values)
    income = 52.0 * snap["net_interest_income"][:, lay.banks]
    margin = xp.where(has_assets, income / xp.where(has_assets, assets, 1.0), zero)
    below = (cet1 < snap["cet1_buffer"][:, lay.banks]) & alive
    return {
        "bank_cet1_system": system,
        **regional,
        "bank_cet1_p10": masked_percentile(cet1, alive, 10.0),
        "bank_cet1_p90": masked_percentile(cet1, alive, 90.0),
        "banks_below_buffer": _sum(xp.astype(below, xp.int64)),
        "bank_roe_median": masked_median(snap["return_on_equity"][:, lay.banks], alive),
        "bank_nim_median": masked_median(margin, alive),
        "bank_net_income_usd_bn": _sum(snap["net_income"][:, lay.banks]),
        "bank_payouts_usd_bn": _sum(snap["bank_payouts"][:, lay.banks]),
    }


def ensemble_columns(model: mesa.Model) -> dict[str, np.ndarray]:
    """Every series for every world at the current step, as (E,) host arrays.

    The model reduces them on its device and copies them to the host once a step
    (:meth:`abm.model.Powderkeg.take_snapshot`); Mesa's model reporters, the recorder and the app
    all read that copy.
    """
    return model.week_series


def device_series(model: mesa.Model, snap: dict[str, Any]) -> dict[str, Any]:
    """Every series but ``world_stopped``, as (E,) arrays on the device of ``snap``.

    ``snap`` holds what the state and the mechanisms declare for reporting, still on the device
    (:mod:`abm.snapshot`); the model copies the result to the host in one transfer per dtype.
    A world whose numbers broke gives non-finite series without warnings: the model stops it
    and says so (``world_stopped``).
    """
    with np.errstate(invalid="ignore", divide="ignore"):  # a broken world: it is stopped
        return _series(model, snap)


def _series(model: mesa.Model, snap: dict[str, Any]) -> dict[str, Any]:
    lay = Layout.of(model)
    xp = array_namespace(snap["prices"])
    prices = snap["prices"]
    n_worlds = prices.shape[0]
    out: dict[str, Any] = {
        "ai_equity_index": _equal_weight_mean(prices, lay.ai_equity)
        if lay.ai_equity
        else xp.full(n_worlds, math.nan, dtype=prices.dtype, device=prices.device),
        "crypto_price": prices[:, lay.crypto],
        "treasury_price": prices[:, lay.treasury],
    }
    for key in ("ai_sentiment", "crypto_sentiment"):
        if key in snap:
            out[key] = xp.astype(snap[key], xp.float64)

    bond = xp.take(prices, lay.bond_assets, axis=1)
    # prices start at 1.0, so ln(P / P0) = ln(P); + 0.0 turns -0.0 into 0.0
    spread_bp = -xp.log(bond) / lay.bond_duration_years * 1e4 + 0.0
    for k, issuer in enumerate(lay.bond_issuers):
        out[f"bond_price_{issuer}"] = bond[:, k]
    for k, issuer in enumerate(lay.bond_issuers):
        out[f"spread_change_bp_{issuer}"] = spread_bp[:, k]

    defaulted = snap["defaulted"]
    counts = xp.astype(defaulted, xp.int64)
    total = xp.zeros(n_worlds, dtype=xp.int64, device=prices.device)
    for family, block in lay.families:
        out[f"defaults_{family}"] = _sum(counts[:, block])
        total = total + out[f"defaults_{family}"]
    out["defaults_total"] = total

    sold = snap["sale_proceeds"]
    retail_sold = _sum(sold[:, lay.retail])
    out["fire_sale_volume_usd_bn"] = _sum(sold) - retail_sold
    out["retail_sales_usd_bn"] = retail_sold

    assets, equity = snap["total_assets"], snap["equity"]
    alive_banks = ~defaulted[:, lay.banks]
    cet1 = snap["cet1_ratio"][:, lay.banks]
    out["bank_cet1_median"] = masked_median(cet1, alive_banks)
    out["bank_cet1_min"] = masked_min(cet1, alive_banks)
    out["bank_leverage_median"] = masked_median(
        _leverage(assets[:, lay.banks], equity[:, lay.banks]), alive_banks
    )
    hedge = lay.hedge_funds
    # A fund's shares are its investors' stake but count among its liabilities, so its equity
    # is close to zero; leverage is measured against assets minus debt-like liabilities instead.
    capital = assets - snap["debt"]
    out["hedge_fund_leverage_median"] = masked_median(
        _leverage(xp.take(assets, hedge, axis=1), xp.take(capital, hedge, axis=1)),
        ~xp.take(defaulted, hedge, axis=1),
    )

    if "return_on_equity" in snap:  # the banks' earnings and capital (abm.bank_earnings)
        out.update(_bank_columns(snap, lay, cet1, alive_banks))
    if "provisions" in snap:  # the banks' loan books (abm.credit_risk)
        for key, name in (("provisions", "provisions"), ("new_lending", "lending"),
                          ("loans_outside", "loans")):  # fmt: skip
            out[f"bank_{name}_usd_bn"] = _sum(snap[key][:, lay.banks])
    if "loans_by_book" in snap:  # (E, R, K) by region of REGIONS (us, then eu) and book
        for r, (region, _) in enumerate(lay.bank_regions):
            for k, book in enumerate(LOAN_BOOKS):
                out[f"bank_loans_{region}_{book}_usd_bn"] = snap["loans_by_book"][:, r, k]
                out[f"bank_write_offs_{region}_{book}_usd_bn"] = snap["write_offs_by_book"][:, r, k]
    if "gdp_growth" in snap:  # the macro block, one column per region (abm.macro)
        for key in MACRO_SERIES:
            values = xp.astype(snap[key], xp.float64)
            for r, region in enumerate(REGIONS):
                out[f"{key}_{region}"] = values[:, r]

    pegs = snap["peg"][:, lay.stablecoins]
    for k, coin in enumerate(lay.stablecoin_names):
        out[f"peg_{coin}"] = pegs[:, k]
    if "tokens_outstanding" in snap:  # the issuers' supply (abm.stablecoins)
        tokens = snap["tokens_outstanding"][:, lay.stablecoins]
        for k, coin in enumerate(lay.stablecoin_names):
            out[f"tokens_outstanding_{coin}"] = tokens[:, k]
    if "redemption_share" in snap:  # stablecoin runs and the public backstops (abm.backstops)
        shares = snap["redemption_share"][:, lay.stablecoins]
        for k, coin in enumerate(lay.stablecoin_names):
            out[f"redemption_share_{coin}"] = shares[:, k]
        out["lolr_loans_usd_bn"] = _sum(snap["lolr_loans"])
        out["bailouts_total"] = _sum(xp.astype(snap["rescued"], xp.int64))
        out["public_cost_usd_bn"] = xp.astype(snap["public_cost"], xp.float64)
        out["backstop_bought_usd_bn"] = xp.astype(snap["backstop_bought"], xp.float64)
    if "rating_notch" in snap:  # ratings and financing of the tech firms (abm.ratings, financing)
        for issuer, row in zip(lay.bond_issuers, lay.bond_issuer_rows, strict=True):
            out[f"rating_notch_{issuer}"] = snap["rating_notch"][:, row]
        for key in ("fallen_angel_sales", "equity_raised", "vendor_financed", "capex_cut"):
            out[f"{key}_usd_bn"] = _sum(snap[key][:, lay.firms])
    if "warrant_shares_received" in snap:  # AMD's warrants to OpenAI (abm.warrants)
        out["warrant_shares_usd_bn"] = _sum(snap["warrant_shares_received"])

    wealth = equity[:, lay.retail]
    start = lay.retail_equity0 + snap["saved"][:, lay.retail]  # what they would have kept
    total, total0 = _sum(wealth), _sum(start)
    out["retail_wealth_usd_bn"] = total
    out["retail_loss_usd_bn"] = total0 - total
    out["retail_loss_share"] = (total0 - total) / xp.where(total0 != 0.0, total0, 1.0)
    owned = start > 0.0
    cohort_loss = xp.where(owned, (start - wealth) / xp.where(owned, start, 1.0), 0.0)
    out["retail_loss_share_worst_decile"] = _worst_decile_mean(cohort_loss)

    parts = [xp.astype(snap[key], xp.bool) for key in CONVERGED_PARTS]
    for key, converged in zip(CONVERGED_PARTS, parts, strict=True):
        out[key] = converged
    out["clearing_converged"] = parts[0] & parts[1] & parts[2]
    return out


def ensemble_frame(model: mesa.Model) -> pd.DataFrame:
    """One row per world for the current step: ``step``, ``world`` and every series column."""
    columns = ensemble_columns(model)
    n_worlds = model.n_worlds
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
        n_worlds = model.n_worlds
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


def record_weeks(
    model: mesa.Model, weeks: int, after_week: Callable[[], None] | None = None
) -> pd.DataFrame:
    """Step ``model`` ``weeks`` times and return its :class:`Recorder` frame, the start included.

    ``after_week`` is called after each week is recorded (a progress bar, a spy's own record).
    """
    recorder = Recorder()
    recorder.record(model)
    for _ in range(weeks):
        model.step()
        recorder.record(model)
        if after_week is not None:
            after_week()
    return recorder.frame()


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
    "record_weeks",
]
