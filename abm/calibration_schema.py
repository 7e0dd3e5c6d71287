"""The calibration schema: what a calibration file may hold, and the checked leaf it yields.

Every number of ``abm/data/calibration.toml`` (``abm/data/README.md`` has the long form) is a
*leaf*, an inline table ``{value, unit, period, source, status}`` with optional ``basis``, ``note``
and ``range``:

- ``status`` is one of :data:`STATUSES`; ``derived`` and ``estimate`` leaves must say how they were
  obtained in ``basis``;
- units come from :data:`UNITS`; ``share`` values lie in [0, 1], counts are non-negative integers,
  text units (``rating``, ``category``) hold strings and ``flag`` holds booleans;
- a few descriptive attributes are plain values (:data:`PLAIN_ATTRIBUTES`), and ``[meta]`` is free;
- firms and circular deals have a ``kind`` from :data:`FIRM_KINDS` and :data:`DEAL_KINDS`;
- every section of :data:`REQUIRED_SECTIONS` is there, and the tables the model reads hold the
  leaves of the ``*_FIELDS`` tuples;
- groups named in :data:`SUM_TO_ONE_GROUPS` (``allocation``, ``reserve_mix``) hold shares that
  sum to 1.

:mod:`abm.calibration_checks` holds a parsed file to these rules and builds a :class:`Leaf` for
every leaf; :mod:`abm.calibration` loads files and reads their values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "CAPITAL_FIELDS",
    "DEAL_KINDS",
    "EU_BANK_FIELDS",
    "FIRM_FIELDS",
    "FIRM_KINDS",
    "FLAG_UNITS",
    "FUND_FIELDS",
    "INTEGER_UNITS",
    "LEAF_OPTIONAL",
    "LEAF_REQUIRED",
    "MARKET_FIELDS",
    "PLAIN_ATTRIBUTES",
    "REQUIRED_SECTIONS",
    "SIGNED_UNITS",
    "SPV_FIELDS",
    "STABLECOIN_FIELDS",
    "STATUSES",
    "SUM_TOLERANCE",
    "SUM_TO_ONE_GROUPS",
    "TEXT_UNITS",
    "UNITS",
    "US_BANK_FIELDS",
    "Leaf",
]

STATUSES = ("seed", "verified", "verified_secondary", "derived", "estimate")
"""Allowed ``status`` of a leaf; ``derived`` and ``estimate`` need a ``basis``."""

UNITS: Mapping[str, str] = MappingProxyType(
    {
        "USD_bn": "money stock, USD bn",
        "USD_bn_per_year": "flow, USD bn per year (model: per week)",
        "USD_bn_per_week": "flow, USD bn per week",
        "USD_bn_per_day": "flow per trading day, USD bn (model: per week of 5 trading days)",
        "EUR_bn": "money stock, EUR bn (model: USD bn at [fx].eur_usd)",
        "USD": "US dollars (model: USD bn)",
        "EUR": "euros (model: USD bn at [fx].eur_usd)",
        "USD_per_EUR": "exchange rate",
        "share": "fraction in [0, 1]",
        "ratio": "non-negative real (multiples, weights, scale factors)",
        "count": "non-negative integer",
        "bp": "basis points (model: fraction)",
        "per_year": "rate per year, fraction (model: compounded to per week)",
        "per_week": "rate per week, fraction",
        "sd_per_day": "daily standard deviation (model: per week, times sqrt of trading days)",
        "weeks": "duration in weeks",
        "years": "duration in years (model: weeks)",
        "year": "calendar year",
        "GW": "gigawatts of data-centre capacity",
        "rating": "credit rating text",
        "category": "category text",
        "flag": "boolean switch",
    }
)
"""Allowed units and what they mean."""

PLAIN_ATTRIBUTES: Mapping[str, type] = MappingProxyType(
    {
        "kind": str,
        "listed": bool,
        "label": str,
        "sponsor": str,
        "from": str,
        "to": str,
        "data_file": str,
        "asset_class": str,
        "issuer": str,
        "bought_by": str,  # a circular deal's purchase made by another modelled firm
    }
)
"""Descriptive attributes that may be plain values instead of leaves, with their types."""

FIRM_KINDS = ("hyperscaler", "chip_vendor", "neocloud", "ai_lab", "spv")
"""Allowed ``kind`` of a firm."""

DEAL_KINDS = (
    "investment",
    "purchase_commitment",
    "purchase",
    "equity_stake",
    "customer",
    "warrant",
    "partnership",
    "loan",
    "equity_stake_and_debt",
    "equity_stake_and_lease",
)
"""Allowed ``kind`` of a circular deal."""

LEAF_REQUIRED = ("value", "unit", "period", "source", "status")
"""Fields every leaf has."""
LEAF_OPTIONAL = ("basis", "note", "range")
"""Fields a leaf may add."""

REQUIRED_SECTIONS = (
    "meta",
    "fx",
    "firms",
    "circular_deals",
    "banks",
    "funds",
    "stablecoins",
    "retail",
    "markets",
    "regulation",
    "bond_holders",
)
"""Sections every calibration has."""

#: Leaves every firm holds; an SPV holds the :data:`SPV_FIELDS` too.
FIRM_FIELDS = (
    "revenue_2025",
    "ai_revenue_share",
    "operating_cash_flow_2025",
    "capex_2025",
    "capex_plan_2026",
    "cash",
    "debt_bonds",
    "debt_loans",
    "equity_value",
    "rating",
    "bond_spread",
)
SPV_FIELDS = (
    "total_cost",
    "sponsor_equity_share",
    "recourse_share",
    "lease_income_full",
    "collateral_depreciation",
    "pipeline_capex",
)
#: Leaves of each US bank agent, the EU banks' table, each fund sector, each stablecoin issuer,
#: each market and each region's capital rules.
US_BANK_FIELDS = ("total_assets", "cet1_ratio", "risk_density")
EU_BANK_FIELDS = ("n_agents", "asset_scale", "cet1_scale", "cet1_ratio", "risk_density")
FUND_FIELDS = ("total_assets", "n_agents")
STABLECOIN_FIELDS = ("supply", "reserves", "reserve_income_distribution_share")
MARKET_FIELDS = ("outstanding", "price0", "depth", "haircut", "risk_weight", "half_life")
CAPITAL_FIELDS = ("cet1_min", "cet1_buffer", "cet1_target")

#: Groups (by name) whose shares sum to 1, within :data:`SUM_TOLERANCE`.
SUM_TO_ONE_GROUPS = ("allocation", "reserve_mix")
SUM_TOLERANCE = 0.01

TEXT_UNITS = frozenset({"rating", "category"})
"""Units whose values are text."""
FLAG_UNITS = frozenset({"flag"})
"""Units whose values are booleans."""
INTEGER_UNITS = frozenset({"count", "year"})
"""Units whose values must be integers."""
SIGNED_UNITS = frozenset(
    {"USD_bn", "USD_bn_per_year", "USD_bn_per_week", "EUR_bn", "per_year", "per_week"}
)
"""Units whose values may be negative (every other numeric unit is non-negative)."""


@dataclass(frozen=True, slots=True)
class Leaf:
    """One sourced value of the calibration.

    Attributes:
        path: Dotted key path, e.g. ``"firms.amazon.cash"``.
        value: The number (int or float), string (text units) or bool (``flag``), in ``unit``.
        unit: One of :data:`UNITS`.
        period: Date or period the value refers to.
        source: Citation: a seed article file name or a public reference.
        status: One of :data:`STATUSES`.
        basis: How a ``derived`` or ``estimate`` value was obtained.
        note: Free remark.
        range: Plausible low and high values, when given.
    """

    path: str
    value: float | int | bool | str
    unit: str
    period: str
    source: str
    status: str
    basis: str | None = None
    note: str | None = None
    range: tuple[float, float] | None = None

    @property
    def is_numeric(self) -> bool:
        """Whether the value is a number (not text and not a flag)."""
        return self.unit not in TEXT_UNITS and self.unit not in FLAG_UNITS
