"""What a column measures: its title in words and its unit, for files and figures.

The model's tables name their columns for code (``bank_cet1_median``, ``spread_change_bp_meta``,
``shocks.ai_hype.size``); a reader needs words and units. :func:`describe` gives a
:class:`Column` for

- every series of :mod:`abm.reporting` (one row per week and world; ``series.parquet``, the
  app's charts and exports, a sweep's ``series/``);
- every per-world outcome of a sweep's ``worlds/`` table (:data:`experiments.metrics.METRICS`
  and the sweep's own: ``banking_crisis``, ``bank_cet1_low``, the losses, the checks);
- every sweep parameter (``policy.<lever>`` with the lever's own title and unit,
  ``shocks.<kind>.size|week|weeks``, ``shocks[i]...``, ``channels``, ``model.n_cohorts``);
- the event log's and the balance sheets' columns.

Each column has the unit its values are stored in (``unit``) and the one figures and reports show
(``shown``, after multiplying by ``scale``), so reports keep one convention: money in USD bn,
ratios, shares and rates in % (rates and growth in % a year), time in weeks, counts in agents or
banks, prices as indices with 1 at the start, spreads in basis points.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from abm.vocabulary import FAMILY_NAMES

#: the loan books of abm.state.LOAN_BOOKS, in words
BOOK_LABELS = {
    "mortgages": "mortgages",
    "consumer": "consumer loans",
    "corporate": "corporate loans",
    "commercial_real_estate": "commercial real estate",
}
#: A share stored as a fraction, shown in %.
PCT = 100.0


@dataclass(frozen=True)
class Column:
    """A column's title in words, its stored unit, and how figures show it.

    Attributes:
        title: what it measures, in words.
        unit: the unit of the stored values.
        scale: figures show ``value × scale``.
        shown: the unit figures show (after ``scale``); empty: ``unit``.
    """

    title: str
    unit: str
    scale: float = 1.0
    shown: str = ""

    @property
    def display_unit(self) -> str:
        """The unit figures and reports show."""
        return self.shown or self.unit

    @property
    def label(self) -> str:
        """``title (unit shown)``, e.g. ``Median bank CET1 ratio (%)``."""
        return f"{self.title} ({self.display_unit})"


def _share(title: str, unit: str = "fraction", shown: str = "%") -> Column:
    """A share stored as a fraction of something, shown in % of it."""
    if shown == "%" and unit.startswith("fraction of "):
        shown = "% of " + unit.removeprefix("fraction of ")
    return Column(title, unit, PCT, shown)


INDEX = "index, 1 = start"
ON_OFF = "true/false"
#: Short names of the issuers and regions that column names end with (else Title Case).
NAMES = {
    "amd": "AMD",
    "coreweave": "CoreWeave",
    "openai": "OpenAI",
    "xai": "xAI",
    "usdc": "USDC",
    "us": "US",
    "euro_area": "euro area",
}
#: Series with a fixed name (:mod:`abm.reporting`).
SERIES = {
    "step": Column("Week", "weeks"),
    "week": Column("Week", "weeks"),
    "world": Column("World", "number"),
    "point": Column("Sweep point", "number"),
    "seed": Column("Seed of the world", "number"),
    "ai_equity_index": Column("AI equity index", INDEX),
    "crypto_price": Column("Crypto price", INDEX),
    "treasury_price": Column("Treasury bond price", INDEX),
    "ai_sentiment": Column("AI sentiment", "log index"),
    "crypto_sentiment": Column("Crypto sentiment", "log index"),
    "defaults_total": Column("Defaults so far, all families", "agents"),
    "fire_sale_volume_usd_bn": Column("Fire-sale proceeds this week", "USD bn"),
    "retail_sales_usd_bn": Column("Retail panic sales this week", "USD bn"),
    "bank_cet1_median": _share("Bank CET1 ratio, median bank", "fraction of risk-weighted assets"),
    "bank_cet1_min": _share("Bank CET1 ratio, weakest bank", "fraction of risk-weighted assets"),
    "bank_cet1_p10": _share("Bank CET1 ratio, 10th percentile", "fraction of risk-weighted assets"),
    "bank_cet1_p90": _share("Bank CET1 ratio, 90th percentile", "fraction of risk-weighted assets"),
    "bank_cet1_system": _share("Bank CET1 ratio, all banks", "fraction of risk-weighted assets"),
    "bank_cet1_system_us": _share("Bank CET1 ratio, US banks", "fraction of risk-weighted assets"),
    "bank_cet1_system_eu": _share("Bank CET1 ratio, EU banks", "fraction of risk-weighted assets"),
    "banks_below_buffer": Column("Banks below their CET1 buffer", "banks"),
    "bank_leverage_median": Column("Bank leverage, median bank", "assets / equity"),
    "hedge_fund_leverage_median": Column("Hedge-fund leverage, median fund", "assets / equity"),
    "bank_roe_median": _share("Bank return on equity, median bank", "fraction a year", "% a year"),
    "bank_nim_median": _share("Bank net interest margin, median", "fraction a year", "% a year"),
    "bank_net_income_usd_bn": Column("Banks' net income this week", "USD bn"),
    "bank_payouts_usd_bn": Column("Banks' dividends and buybacks this week", "USD bn"),
    "bank_provisions_usd_bn": Column("Banks' loan-loss provisions this week", "USD bn"),
    "bank_lending_usd_bn": Column("Banks' net new lending this week", "USD bn"),
    "bank_loans_usd_bn": Column("Banks' loan books", "USD bn"),
    **{
        f"bank_{name}_{region}_usd_bn": Column(f"{label}, {banks} banks", "USD bn")
        for region, banks in (("us", "US"), ("eu", "EU"))
        for name, label in (
            ("loans", "Loan books"),
            ("write_offs", "Loan write-offs this week"),
            ("payouts", "Dividends and buybacks this week"),
            ("rwa", "Risk-weighted assets"),
        )
    },
    **{
        f"bank_{name}_{region}_{book}_usd_bn": Column(
            f"{label}, {book_label}, {banks} banks", "USD bn"
        )
        for region, banks in (("us", "US"), ("eu", "EU"))
        for book, book_label in BOOK_LABELS.items()
        for name, label in (("loans", "Loan book"), ("write_offs", "Loan write-offs this week"))
    },
    "lolr_loans_usd_bn": Column("Lender-of-last-resort loans outstanding", "USD bn"),
    "bailouts_total": Column("Banks bailed out so far", "banks"),
    "public_cost_usd_bn": Column("Public cost of bailouts so far", "USD bn"),
    "backstop_bought_usd_bn": Column("Backstop purchases so far", "USD bn"),
    "fallen_angel_sales_usd_bn": Column("Forced sales of downgraded bonds this week", "USD bn"),
    "equity_raised_usd_bn": Column("Equity raised by firms this week", "USD bn"),
    "vendor_financed_usd_bn": Column("Vendor financing this week", "USD bn"),
    "capex_cut_usd_bn": Column("Capex cut this week", "USD bn"),
    "warrant_shares_usd_bn": Column("Shares received as warrants vested this week", "USD bn"),
    "retail_wealth_usd_bn": Column("Retail wealth", "USD bn"),
    "retail_loss_usd_bn": Column("Retail loss since the start", "USD bn"),
    "retail_loss_share": _share("Retail loss", "fraction of start wealth plus saving"),
    "retail_loss_share_worst_decile": _share(
        "Retail loss, worst-hit tenth", "fraction of start wealth plus saving"
    ),
    "world_stopped": Column("World stopped (non-finite state)", ON_OFF),
}
#: Macro quantities (``<quantity>_<region>``) of :data:`abm.reporting.MACRO_SERIES`.
MACRO = {
    "gdp_growth": _share("GDP growth", "fraction a year", "% a year"),
    "unemployment": _share("Unemployment rate", "fraction of the labour force"),
    "inflation": _share("Inflation", "fraction a year", "% a year"),
    "policy_rate": _share("Policy rate", "fraction a year", "% a year"),
    "yield_10y": _share("10-year yield", "fraction a year", "% a year"),
    "credit_growth": _share("Bank credit growth", "fraction a year", "% a year"),
    "house_prices": Column("House prices", INDEX),
    "cre_prices": Column("Commercial property prices", INDEX),
}
#: Series named by a prefix and an issuer.
PREFIXED = {
    "bond_price_": Column("AI bond price", INDEX),
    "spread_change_bp_": Column("AI bond spread change since the start", "bp"),
    "rating_notch_": Column("Credit rating", "notches, 0 = AAA, 9 = BBB−"),
    "peg_": Column("Stablecoin value", "USD per token"),
    "tokens_outstanding_": Column("Stablecoin tokens outstanding", "USD bn"),
    "redemption_share_": _share("Stablecoin redemptions", "fraction of supply a week", "% a week"),
}
#: Per-world outcomes of a sweep's worlds table beside :data:`experiments.metrics.METRICS`.
OUTCOMES = {
    "banking_crisis": _share("Worlds with a bank failure", "fraction of worlds", "% of worlds"),
    "bank_cet1_low": _share("Lowest CET1 ratio of any bank", "fraction of risk-weighted assets"),
    "fire_sale_volume_usd_bn": Column("Fire-sale volume, total", "USD bn"),
    "retail_loss_usd_bn": Column("Retail loss at the end", "USD bn"),
    "institution_equity_loss_usd_bn": Column("Institutions' equity loss", "USD bn"),
    "total_loss_usd_bn": Column("Total loss, retail and institutions", "USD bn"),
    "bank_roe_median_pct": Column("Bank return on equity, median bank, mean", "% a year"),
    "bank_provisions_usd_bn": Column("Banks' loan-loss provisions, total", "USD bn"),
    "policy_rate_low_us_pct": Column("Lowest US policy rate", "% a year"),
    "policy_rate_first_year_us_pct": Column("US policy rate, mean over the first year", "% a year"),
    "yield_10y_low_us_pct": Column("Lowest US 10-year yield", "% a year"),
    "yield_10y_peak_us_pct": Column("Highest US 10-year yield", "% a year"),
    "accounting_gap_usd_bn": Column("Largest accounting gap", "USD bn"),
    "banks_below_buffer_max": Column("Banks below their CET1 buffer, most at once", "banks"),
    "bank_cet1_fall_pt": Column("Fall of the banks' CET1 ratio, start to low", "% points"),
    "bank_cet1_fall_us_pt": Column("Fall of the US banks' CET1 ratio, start to low", "% points"),
    "bank_cet1_fall_eu_pt": Column("Fall of the EU banks' CET1 ratio, start to low", "% points"),
    **{
        f"bank_cet1_fall_static_{region}_pt": Column(
            f"Fall of the {banks} banks' CET1 capital over their starting risk-weighted assets "
            f"(a static balance sheet), start to low over {horizon}",
            "% points",
        )
        for region, banks, horizon in (("us", "US", "nine quarters"), ("eu", "EU", "three years"))
    },
    **{
        f"bank_{name}_stress_{region}_pct": Column(f"{label}, {banks} banks, {horizon}", unit)
        for region, banks, horizon in (("us", "US", "nine quarters"), ("eu", "EU", "three years"))
        for name, label, unit in (
            ("loss_rate", "Loan write-offs over starting risk-weighted assets", "%"),
            ("payouts", "Dividends and buybacks over starting risk-weighted assets", "%"),
            ("rwa_change", "Change of risk-weighted assets", "%"),
        )
    },
    **{
        f"bank_loss_rate_stress_{region}_{book}_pct": Column(
            f"Loan write-offs, {label}, {banks} banks, {horizon}, over the average balance", "%"
        )
        for region, banks, horizon in (("us", "US", "nine quarters"), ("eu", "EU", "three years"))
        for book, label in BOOK_LABELS.items()
    },
    "clearing_converged": Column("Every clearing converged", ON_OFF),
}
#: Balance sheets (:func:`abm.reporting.agents_frame`) and the event log (:mod:`abm.events`).
RECORDS = {
    "cash": Column("Cash", "USD bn"),
    "total_assets": Column("Total assets", "USD bn"),
    "liabilities": Column("Liabilities", "USD bn"),
    "equity": Column("Equity", "USD bn"),
    "defaulted": Column("Failed", ON_OFF),
    "amount_usd_bn": Column("Amount", "USD bn"),
}
#: Shock sizes are proportional changes (haircut and rate kinds: points), stored as fractions.
SHOCK_FIELDS = {
    "size": _share("size", "fraction (−0.2 = −20%)"),
    "week": Column("week", "weeks"),
    "weeks": Column("duration", "weeks"),
}


def name_of(key: str) -> str:
    """A short display name of an issuer, fund or region key (``coreweave`` → ``CoreWeave``)."""
    return NAMES.get(key, key.replace("_", " ").title())


#: Words of shock kinds and channel names that are abbreviations.
ABBREVIATIONS = {"ai": "AI", "cre": "commercial property"}


def _words(key: str) -> str:
    return " ".join(ABBREVIATIONS.get(w, w) for w in key.split("_"))


def _sentence(key: str) -> str:
    words = _words(key)
    return words[:1].upper() + words[1:]


@cache
def _metrics() -> dict[str, Column]:
    """The scenario table's outcomes (:data:`experiments.metrics.METRICS`) as columns."""
    from experiments.metrics import METRICS

    columns = {}
    for metric in METRICS:
        match = re.fullmatch(r"(.*) \((.*)\)", metric.label)
        title, unit = (match.group(1), match.group(2)) if match else (metric.label, "")
        if not unit:
            unit = "banks" if "bank" in metric.key else "agents"
        columns[metric.key] = Column(title, {"$": "USD per token"}.get(unit, unit))
    return columns


def _parameter(name: str) -> Column | None:
    """A sweep parameter: ``policy.<lever>``, ``shocks...``, ``channels...``, ``model...``."""
    from abm.policy import Policy

    if name.startswith("policy."):
        lever = Policy.keys().get(name.removeprefix("policy."))
        if lever is None:
            return None
        if lever.unit == "share":
            return _share(lever.title, "fraction")
        return Column(lever.title, lever.unit or ("on/off" if lever.kind == "bool" else "choice"))
    match = re.fullmatch(r"shocks(?:\.(\w+)|\[(\d+)\])\.(size|week|weeks)", name)
    if match:
        kind, index, field = match.groups()
        what = f"{_sentence(kind)} shock" if kind else f"Shock {index}"
        base = SHOCK_FIELDS[field]
        return Column(f"{what}, {base.title}", base.unit, base.scale, base.shown)
    if name == "channels":
        return Column("Contagion channels on", "configuration")
    if name.startswith("channels."):
        return Column(f"{_sentence(name.removeprefix('channels.'))} channel", "on/off")
    if name == "model.n_cohorts":
        return Column("Retail cohorts", "cohorts")
    return None


def describe(name: str, table: str = "series") -> Column:
    """The :class:`Column` of ``name`` in ``table`` (``"series"``, ``"outcome"`` or ``"records"``).

    A name both tables use (``fire_sale_volume_usd_bn``: this week's in the series, the run's
    total among the outcomes) takes the meaning of ``table``. Unknown names get their own name
    as title and the unit their suffix says (``_usd_bn``, ``_pct``, ``_bp``), else none.
    """
    if table == "outcome":
        if name in OUTCOMES:
            return OUTCOMES[name]
        if name in _metrics():
            return _metrics()[name]
    if table == "records" and name in RECORDS:
        return RECORDS[name]
    parameter = _parameter(name)
    if parameter is not None:
        return parameter
    if name in SERIES:
        return SERIES[name]
    if name.startswith("defaults_"):
        family = name.removeprefix("defaults_")
        return Column(f"Defaults so far: {FAMILY_NAMES.get(family, _words(family))}", "agents")
    for prefix, column in PREFIXED.items():
        if name.startswith(prefix):
            issuer = name_of(name.removeprefix(prefix))
            return Column(f"{column.title}: {issuer}", column.unit, column.scale, column.shown)
    for quantity, column in MACRO.items():
        region = name.removeprefix(f"{quantity}_")
        if region != name and region in NAMES:
            return Column(
                f"{column.title}, {NAMES[region]}", column.unit, column.scale, column.shown
            )
    if name.endswith("_converged"):
        return Column(f"{_sentence(name.removesuffix('_converged'))} converged", ON_OFF)
    for suffix, unit in (("_usd_bn", "USD bn"), ("_pct", "%"), ("_bp", "bp")):
        if name.endswith(suffix):
            return Column(_sentence(name.removesuffix(suffix)), unit)
    return Column(name, "")


__all__ = ["PCT", "Column", "describe", "name_of"]
