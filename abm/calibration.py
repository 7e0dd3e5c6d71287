"""Calibration data: load, validate and read the end-2025 starting values of the economy.

The numbers live in ``abm/data/calibration.toml`` (shipped with the package and read through
``importlib.resources``, so an installed copy works) next to the 48 EBA 2018 banks in
``abm/data/eba2018_banks.csv``. A user calibration is any TOML file with the same schema; pass its
path to :func:`load_calibration`.

Schema (``abm/data/README.md`` has the long form):

- every number is a *leaf*, an inline table ``{value, unit, period, source, status}`` with optional
  ``basis``, ``note`` and ``range``; ``status`` is one of :data:`STATUSES` and ``derived`` or
  ``estimate`` leaves must say how they were obtained in ``basis``;
- units come from :data:`UNITS`; ``share`` values lie in [0, 1], counts are non-negative integers,
  text units (``rating``, ``category``) hold strings and ``flag`` holds booleans;
- a few descriptive attributes are plain values (:data:`PLAIN_ATTRIBUTES`), and ``[meta]`` is free;
- groups named ``allocation`` or ``reserve_mix`` hold shares that sum to 1.

Every violation raises :class:`CalibrationError`, whose message names the key path and what is
allowed. Values come back in the file's units (:meth:`Calibration.value`) or in model units
(:meth:`Calibration.model_value`: USD bn, one step = one week, rates and spreads as fractions).
"""

from __future__ import annotations

import csv
import functools
import math
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import Any

__all__ = [
    "DEAL_KINDS",
    "FIRM_KINDS",
    "PLAIN_ATTRIBUTES",
    "STATUSES",
    "UNITS",
    "Calibration",
    "CalibrationError",
    "EUBank",
    "Leaf",
    "load_calibration",
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

ASSET_CLASSES = (
    "sovereign",
    "equity",
    "corporate_bond",
    "loan",
    "abs",
    "crypto",
    "commodity",
    "private_equity",
)
"""Allowed ``asset_class`` of a market."""

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
)
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
)
US_BANK_FIELDS = ("total_assets", "cet1_ratio", "risk_density")
EU_BANK_FIELDS = ("n_agents", "asset_scale", "cet1_scale", "cet1_ratio", "risk_density")
FUND_FIELDS = ("total_assets", "n_agents")
STABLECOIN_FIELDS = ("supply", "reserves")
MARKET_FIELDS = ("outstanding", "price0", "depth", "haircut", "risk_weight", "half_life")
CAPITAL_FIELDS = ("cet1_min", "cet1_buffer", "cet1_target")
EBA_COLUMNS = ("bank_id", "country", "cet1_eur_m", "leverage_ratio_pct", "debt_securities_eur_m")

LEAF_REQUIRED = ("value", "unit", "period", "source", "status")
LEAF_OPTIONAL = ("basis", "note", "range")
SUM_TO_ONE_GROUPS = ("allocation", "reserve_mix")
SUM_TOLERANCE = 0.01

_TEXT_UNITS = frozenset({"rating", "category"})
_FLAG_UNITS = frozenset({"flag"})
_INTEGER_UNITS = frozenset({"count", "year"})
_SIGNED_UNITS = frozenset(
    {"USD_bn", "USD_bn_per_year", "USD_bn_per_week", "EUR_bn", "per_year", "per_week"}
)


class CalibrationError(ValueError):
    """A calibration file that cannot be read or breaks the schema.

    The message names each offending key path and what is allowed there; ``errors`` holds one
    line per problem.

    Attributes:
        errors: The individual problems, each ``"<key path>: <what is wrong and what is allowed>"``.
    """

    def __init__(self, errors: list[str] | tuple[str, ...], *, source: str = "calibration"):
        self.errors = tuple(errors)
        head = f"{source}: {len(self.errors)} problem(s) in the calibration"
        super().__init__(head + "\n  " + "\n  ".join(self.errors))


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
        return self.unit not in _TEXT_UNITS and self.unit not in _FLAG_UNITS


@dataclass(frozen=True, slots=True)
class EUBank:
    """One EBA 2018 bank scaled to the end-2025 EU aggregates, in USD bn.

    Attributes:
        bank_id: EBA/INET identifier, e.g. ``"AT01"``.
        country: ISO country prefix.
        total_assets: CET1 / leverage ratio (2018) times ``banks.eu.asset_scale``, in USD bn.
        cet1: CET1 capital (2018) times ``banks.eu.cet1_scale``, in USD bn.
        debt_securities: Debt securities held (tradable), scaled like assets, in USD bn.
        gov_bonds: Government bonds held (part of the debt securities), scaled, in USD bn.
        leverage_ratio_2018: CET1 / total assets in the 2018 data (fraction).
    """

    bank_id: str
    country: str
    total_assets: float
    cet1: float
    debt_securities: float
    gov_bonds: float
    leverage_ratio_2018: float


@dataclass(frozen=True, eq=False)
class Calibration:
    """A validated, read-only calibration.

    Attributes:
        source: Where it was loaded from (a file path, or ``package:abm/data/calibration.toml``).
        data: Nested read-only mapping; leaves are :class:`Leaf` objects, plain attributes and
            ``[meta]`` entries keep their TOML values.
        leaves: Every leaf by dotted key path.
        eu_banks: The EU bank agents from ``banks.eu.data_file``, scaled to 2025, in USD bn.
    """

    source: str
    data: Mapping[str, Any]
    leaves: Mapping[str, Leaf]
    eu_banks: tuple[EUBank, ...]

    # ------------------------------------------------------------------ lookups
    def node(self, path: str) -> Any:
        """Return the leaf, group or plain attribute at a dotted key path.

        Args:
            path: Dotted key path, e.g. ``"funds.hedge.allocation"``.

        Returns:
            A :class:`Leaf`, a read-only mapping (group) or a plain value.

        Raises:
            KeyError: If the path does not exist; the message names the missing part.
        """
        node: Any = self.data
        walked: list[str] = []
        for part in path.split("."):
            if not isinstance(node, Mapping) or part not in node:
                where = ".".join(walked) or "<top level>"
                have = ", ".join(sorted(node)) if isinstance(node, Mapping) else "nothing"
                raise KeyError(f"{path}: no {part!r} under {where} (has: {have})")
            node = node[part]
            walked.append(part)
        return node

    def leaf(self, path: str) -> Leaf:
        """Return the leaf at ``path``.

        Args:
            path: Dotted key path of a leaf.

        Raises:
            KeyError: If ``path`` is not a leaf.
        """
        try:
            return self.leaves[path]
        except KeyError:
            raise KeyError(f"{path}: not a leaf of the calibration") from None

    def value(self, path: str) -> float | int | bool | str:
        """Return a leaf's value in the file's own unit."""
        return self.leaf(path).value

    def model_value(self, path: str) -> float | bool | str:
        """Return a leaf's value in model units.

        Money becomes USD bn (EUR at ``[fx].eur_usd``), annual flows become per week
        (divided by ``meta.weeks_per_year``), daily flows per week (times
        ``meta.trading_days_per_week``), basis points fractions, yearly rates compound to weekly
        rates, years become weeks, and daily volatilities weekly ones (times the square root of
        trading days). Text and flags come back unchanged.

        Args:
            path: Dotted key path of a leaf.

        Returns:
            The converted value.
        """
        return _to_model_units(self.leaf(path), self)

    def children(self, path: str) -> tuple[str, ...]:
        """Return the keys directly under a group, in file order.

        Args:
            path: Dotted key path of a group (not a leaf).

        Raises:
            KeyError: If ``path`` is missing or not a group.
        """
        node = self.node(path)
        if not isinstance(node, Mapping):
            raise KeyError(f"{path}: not a group")
        return tuple(node)

    def group(self, path: str, *, model_units: bool = False) -> dict[str, Any]:
        """Return the leaves directly under a group as ``{key: value}``.

        Useful for share groups such as ``funds.hedge.allocation`` or
        ``stablecoins.tether.reserve_mix``; sub-groups and plain attributes are skipped.

        Args:
            path: Dotted key path of a group.
            model_units: Convert each value with :meth:`model_value`.

        Returns:
            Values by key, in file order.
        """
        out: dict[str, Any] = {}
        for key in self.children(path):
            sub = f"{path}.{key}"
            if sub in self.leaves:
                out[key] = self.model_value(sub) if model_units else self.value(sub)
        return out

    def leaves_under(self, prefix: str = "") -> Iterator[Leaf]:
        """Iterate over the leaves whose path starts with ``prefix`` (all leaves by default)."""
        dotted = prefix + "." if prefix else ""
        for path, leaf in self.leaves.items():
            if not prefix or path == prefix or path.startswith(dotted):
                yield leaf

    # ------------------------------------------------------------------ conveniences
    @property
    def eur_usd(self) -> float:
        """USD per EUR used to convert euro amounts."""
        return float(self.value("fx.eur_usd"))

    @property
    def weeks_per_year(self) -> int:
        """Weeks per model year (``meta.weeks_per_year``, default 52)."""
        return int(self.data["meta"].get("weeks_per_year", 52))

    @property
    def trading_days_per_week(self) -> int:
        """Trading days per weekly step (``meta.trading_days_per_week``, default 5)."""
        return int(self.data["meta"].get("trading_days_per_week", 5))

    def firms(self, kind: str | None = None) -> tuple[str, ...]:
        """Return firm keys, optionally only those of one ``kind`` (see :data:`FIRM_KINDS`)."""
        firms = self.data["firms"]
        return tuple(k for k, f in firms.items() if kind is None or f["kind"] == kind)

    def markets(self) -> tuple[str, ...]:
        """Return market keys in file order."""
        return tuple(self.data["markets"])


def load_calibration(path: str | PathLike[str] | None = None) -> Calibration:
    """Load and validate a calibration.

    Args:
        path: A TOML file with the calibration schema. ``None`` loads the packaged
            ``abm/data/calibration.toml`` through ``importlib.resources`` (parsed once, then
            shared: the result is read-only). The EU bank table named in ``banks.eu.data_file``
            is looked up next to the file first, then in the package.

    Returns:
        The validated :class:`Calibration`.

    Raises:
        CalibrationError: If the file cannot be read, is not TOML, or breaks the schema; the
            message names every offending key path and what is allowed.
    """
    if path is None:
        return _load_packaged()
    return _load(path)


@functools.lru_cache(maxsize=1)
def _load_packaged() -> Calibration:
    return _load(None)


def _load(path: str | PathLike[str] | None) -> Calibration:
    if path is None:
        source = "package:abm/data/calibration.toml"
        resource = resources.files("abm").joinpath("data", "calibration.toml")
        try:
            raw = resource.read_bytes()
        except OSError as exc:
            raise CalibrationError(
                [f"<file>: cannot read the packaged calibration: {exc}"]
            ) from exc
        base_dir: Path | None = None
    else:
        file = Path(path)
        source = str(file)
        try:
            raw = file.read_bytes()
        except OSError as exc:
            raise CalibrationError(
                [f"<file>: cannot read {file}: {exc.strerror or exc}"], source=source
            ) from exc
        base_dir = file.parent
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CalibrationError([f"<file>: not valid UTF-8 TOML: {exc}"], source=source) from exc

    checker = _Checker()
    tree, leaves = checker.check_document(doc)
    if checker.errors:
        raise CalibrationError(checker.errors, source=source)
    eu_banks = _load_eu_banks(doc, base_dir, checker)
    if checker.errors:
        raise CalibrationError(checker.errors, source=source)
    return Calibration(source=source, data=tree, leaves=leaves, eu_banks=eu_banks)


# ====================================================================== validation
class _Checker:
    """Collects schema problems while building the read-only tree."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.leaves: dict[str, Leaf] = {}

    def fail(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")

    # ---------------------------------------------------------------- generic walk
    def check_document(
        self, doc: Mapping[str, Any]
    ) -> tuple[Mapping[str, Any], Mapping[str, Leaf]]:
        for section in REQUIRED_SECTIONS:
            if section not in doc:
                self.fail(section, f"missing section [{section}]")
        tree: dict[str, Any] = {}
        for key, value in doc.items():
            if key == "meta":
                tree[key] = self._check_meta(value)
            elif isinstance(value, dict):
                tree[key] = self._walk(value, key)
            else:
                self.fail(key, "top-level entries must be sections (tables)")
        if not self.errors:
            self._check_structure(tree)
        return _freeze(tree), MappingProxyType(dict(self.leaves))

    def _check_meta(self, meta: Any) -> Any:
        if not isinstance(meta, dict):
            self.fail("meta", "must be a table")
            return {}
        for key in ("weeks_per_year", "trading_days_per_week"):
            if key in meta and (
                not isinstance(meta[key], int) or isinstance(meta[key], bool) or meta[key] <= 0
            ):
                self.fail(f"meta.{key}", f"must be a positive integer, got {meta[key]!r}")
        return meta

    def _walk(self, node: Mapping[str, Any], path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in node.items():
            sub = f"{path}.{key}"
            if isinstance(value, dict):
                if "value" in value:
                    leaf = self._check_leaf(value, sub)
                    if leaf is not None:
                        self.leaves[sub] = leaf
                        out[key] = leaf
                else:
                    out[key] = self._walk(value, sub)
            elif key in PLAIN_ATTRIBUTES:
                expected = PLAIN_ATTRIBUTES[key]
                if type(value) is not expected:
                    self.fail(
                        sub, f"must be a {expected.__name__}, got {type(value).__name__} {value!r}"
                    )
                out[key] = value
            else:
                self.fail(
                    sub,
                    f"plain value {value!r} not allowed here: numbers must be leaves "
                    f"{{{', '.join(LEAF_REQUIRED)}}}; plain keys allowed: "
                    f"{', '.join(PLAIN_ATTRIBUTES)}",
                )
        if path.rsplit(".", 1)[-1] in SUM_TO_ONE_GROUPS:
            self._check_sums_to_one(out, path)
        return out

    def _check_leaf(self, raw: Mapping[str, Any], path: str) -> Leaf | None:
        problems_before = len(self.errors)
        for key in LEAF_REQUIRED:
            if key not in raw:
                self.fail(f"{path}.{key}", f"missing; every leaf needs {', '.join(LEAF_REQUIRED)}")
        for key in raw:
            if key not in LEAF_REQUIRED and key not in LEAF_OPTIONAL:
                allowed = ", ".join(LEAF_REQUIRED + LEAF_OPTIONAL)
                self.fail(f"{path}.{key}", f"unknown leaf field; allowed: {allowed}")
        for key in ("unit", "period", "source", "status", "basis", "note"):
            if key in raw and (not isinstance(raw[key], str) or not raw[key].strip()):
                self.fail(f"{path}.{key}", f"must be a non-empty string, got {raw[key]!r}")
        if len(self.errors) > problems_before:
            return None
        unit, status, value = raw["unit"], raw["status"], raw["value"]
        if status not in STATUSES:
            self.fail(f"{path}.status", f"{status!r} is not one of {', '.join(STATUSES)}")
        if status in ("derived", "estimate") and "basis" not in raw:
            self.fail(f"{path}.basis", f"missing; a {status} value needs a one-line basis")
        if unit not in UNITS:
            self.fail(f"{path}.unit", f"{unit!r} is not one of {', '.join(UNITS)}")
            return None
        self._check_value(value, unit, f"{path}.value")
        span = self._check_range(raw.get("range"), value, unit, f"{path}.range")
        if len(self.errors) > problems_before:
            return None
        return Leaf(
            path=path,
            value=value,
            unit=unit,
            period=raw["period"],
            source=raw["source"],
            status=status,
            basis=raw.get("basis"),
            note=raw.get("note"),
            range=span,
        )

    def _check_value(self, value: Any, unit: str, path: str) -> None:
        if unit in _TEXT_UNITS:
            if not isinstance(value, str) or not value.strip():
                self.fail(path, f"unit {unit!r} needs a non-empty string, got {value!r}")
            return
        if unit in _FLAG_UNITS:
            if not isinstance(value, bool):
                self.fail(path, f"unit 'flag' needs true or false, got {value!r}")
            return
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(path, f"unit {unit!r} needs a number, got {type(value).__name__} {value!r}")
            return
        if not math.isfinite(value):
            self.fail(path, f"must be a finite number, got {value!r}")
            return
        if unit in _INTEGER_UNITS and not isinstance(value, int):
            self.fail(path, f"unit {unit!r} needs an integer, got {value!r}")
        if unit == "share" and not 0.0 <= value <= 1.0:
            self.fail(path, f"a share must lie in [0, 1], got {value!r}")
        elif unit == "per_year" and value <= -1.0:
            self.fail(path, f"a yearly rate must be above -1, got {value!r}")
        elif unit not in _SIGNED_UNITS and value < 0:
            self.fail(path, f"unit {unit!r} must be non-negative, got {value!r}")

    def _check_range(
        self, span: Any, value: Any, unit: str, path: str
    ) -> tuple[float, float] | None:
        if span is None:
            return None
        ok = (
            isinstance(span, list)
            and len(span) == 2
            and all(isinstance(x, int | float) and not isinstance(x, bool) for x in span)
            and all(math.isfinite(x) for x in span)
            and span[0] <= span[1]
        )
        if not ok:
            self.fail(path, f"must be [low, high] with finite numbers low <= high, got {span!r}")
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not span[0] <= value <= span[1]:
                self.fail(path, f"value {value!r} lies outside its range {span!r}")
        return (float(span[0]), float(span[1]))

    def _check_sums_to_one(self, group: Mapping[str, Any], path: str) -> None:
        shares = [v for v in group.values() if isinstance(v, Leaf)]
        if not shares:
            self.fail(path, "must hold share leaves")
            return
        for leaf in shares:
            if leaf.unit != "share":
                self.fail(
                    leaf.path + ".unit", f"entries of {path} must be shares, got {leaf.unit!r}"
                )
                return
        total = sum(float(leaf.value) for leaf in shares)
        if abs(total - 1.0) > SUM_TOLERANCE:
            self.fail(path, f"shares must sum to 1 (+/- {SUM_TOLERANCE}), got {total:.4f}")

    # ---------------------------------------------------------------- section rules
    def _require(self, node: Any, path: str, fields: tuple[str, ...]) -> None:
        if not isinstance(node, Mapping):
            self.fail(path, "must be a table")
            return
        for name in fields:
            if not isinstance(node.get(name), Leaf):
                self.fail(f"{path}.{name}", f"missing leaf; required here: {', '.join(fields)}")

    def _check_structure(self, tree: Mapping[str, Any]) -> None:
        self._require(tree["fx"], "fx", ("eur_usd",))
        firms = tree["firms"]
        if not firms:
            self.fail("firms", "needs at least one firm")
        for name, firm in firms.items():
            self._check_firm(name, firm, firms)
        for name, deal in tree["circular_deals"].items():
            self._check_deal(name, deal, tree)
        self._check_banks(tree["banks"])
        for name, fund in tree["funds"].items():
            self._require(fund, f"funds.{name}", FUND_FIELDS)
            if isinstance(fund, Mapping) and not isinstance(fund.get("allocation"), Mapping):
                self.fail(f"funds.{name}.allocation", "missing group of allocation shares")
        issuers = [
            k for k, v in tree["stablecoins"].items() if isinstance(v, Mapping) and "supply" in v
        ]
        if not issuers:
            self.fail("stablecoins", "needs at least one issuer with a supply leaf")
        for name in issuers:
            coin = tree["stablecoins"][name]
            self._require(coin, f"stablecoins.{name}", STABLECOIN_FIELDS)
            if not isinstance(coin.get("reserve_mix"), Mapping):
                self.fail(f"stablecoins.{name}.reserve_mix", "missing group of reserve shares")
        self._check_retail(tree["retail"])
        for name, market in tree["markets"].items():
            self._check_market(name, market, firms)
        for region in ("us", "eu"):
            self._check_capital(tree["regulation"].get(region), f"regulation.{region}")

    def _check_firm(self, name: str, firm: Any, firms: Mapping[str, Any]) -> None:
        path = f"firms.{name}"
        if not isinstance(firm, Mapping):
            self.fail(path, "must be a table")
            return
        kind = firm.get("kind")
        if kind not in FIRM_KINDS:
            self.fail(f"{path}.kind", f"{kind!r} is not one of {', '.join(FIRM_KINDS)}")
        if not isinstance(firm.get("listed"), bool):
            self.fail(f"{path}.listed", "missing; must be true or false")
        self._require(firm, path, FIRM_FIELDS)
        if kind == "spv":
            self._require(firm, path, SPV_FIELDS)
            sponsor = firm.get("sponsor")
            if sponsor not in firms or sponsor == name:
                self.fail(f"{path}.sponsor", f"{sponsor!r} must name another firm key")

    def _check_deal(self, name: str, deal: Any, tree: Mapping[str, Any]) -> None:
        path = f"circular_deals.{name}"
        if not isinstance(deal, Mapping):
            self.fail(path, "must be a table")
            return
        if deal.get("kind") not in DEAL_KINDS:
            self.fail(f"{path}.kind", f"{deal.get('kind')!r} is not one of {', '.join(DEAL_KINDS)}")
        if not isinstance(deal.get("size"), Leaf):
            self.fail(f"{path}.size", "missing leaf")
        for end in ("from", "to"):
            target = deal.get(end)
            if not isinstance(target, str):
                self.fail(f"{path}.{end}", "missing; must be a firm key or a dotted table path")
            elif not _resolves(target, tree):
                self.fail(
                    f"{path}.{end}",
                    f"{target!r} is neither a firm key ({', '.join(tree['firms'])}) "
                    "nor a dotted path to a table of this file",
                )

    def _check_banks(self, banks: Mapping[str, Any]) -> None:
        us = banks.get("us")
        if not isinstance(us, Mapping):
            self.fail("banks.us", "missing section")
        else:
            self._require(us.get("totals"), "banks.us.totals", ("total_assets",))
            agents = us.get("agents")
            if not isinstance(agents, Mapping) or not agents:
                self.fail("banks.us.agents", "needs at least one bank agent")
            else:
                for name, bank in agents.items():
                    self._require(bank, f"banks.us.agents.{name}", US_BANK_FIELDS)
        eu = banks.get("eu")
        if not isinstance(eu, Mapping):
            self.fail("banks.eu", "missing section")
            return
        self._require(eu, "banks.eu", EU_BANK_FIELDS)
        if not isinstance(eu.get("data_file"), str):
            self.fail("banks.eu.data_file", "missing; name of the EBA bank CSV file")

    def _check_retail(self, retail: Mapping[str, Any]) -> None:
        self._require(retail, "retail", ("n_cohorts",))
        cohorts = retail.get("cohorts")
        if not isinstance(cohorts, Mapping) or not cohorts:
            self.fail("retail.cohorts", "needs at least one cohort group")
            return
        for name, group in cohorts.items():
            self._require(group, f"retail.cohorts.{name}", ("population_share",))
        groups = [g for g in cohorts.values() if isinstance(g, Mapping)]
        if len(groups) != len(cohorts):
            self.fail("retail.cohorts", "every cohort group must be a table")
            return
        for key in sorted(set.intersection(*(set(g) for g in groups))):
            leaves = [g[key] for g in groups]
            if key.endswith("_share") and all(
                isinstance(x, Leaf) and x.unit == "share" for x in leaves
            ):
                total = sum(float(x.value) for x in leaves)
                if abs(total - 1.0) > SUM_TOLERANCE:
                    self.fail(
                        f"retail.cohorts.*.{key}",
                        f"shares across cohort groups must sum to 1 (+/- {SUM_TOLERANCE}), "
                        f"got {total:.4f}",
                    )

    def _check_market(self, name: str, market: Any, firms: Mapping[str, Any]) -> None:
        path = f"markets.{name}"
        self._require(market, path, MARKET_FIELDS)
        if not isinstance(market, Mapping):
            return
        if market.get("asset_class") not in ASSET_CLASSES:
            self.fail(
                f"{path}.asset_class",
                f"{market.get('asset_class')!r} is not one of {', '.join(ASSET_CLASSES)}",
            )
        issuer = market.get("issuer")
        if issuer is not None and issuer not in firms:
            self.fail(f"{path}.issuer", f"{issuer!r} is not a firm key")
        depth = market.get("depth")
        if isinstance(depth, Leaf) and not float(depth.value) > 0:
            self.fail(f"{path}.depth.value", "market depth must be positive")

    def _check_capital(self, node: Any, path: str) -> None:
        self._require(node, path, CAPITAL_FIELDS)
        if not isinstance(node, Mapping) or not all(
            isinstance(node.get(f), Leaf) for f in CAPITAL_FIELDS
        ):
            return
        low, mid, high = (float(node[f].value) for f in CAPITAL_FIELDS)
        if not low <= mid <= high:
            self.fail(
                path, f"needs cet1_min <= cet1_buffer <= cet1_target, got {low}, {mid}, {high}"
            )


def _resolves(target: str, tree: Mapping[str, Any]) -> bool:
    if "." not in target:
        return target in tree["firms"] or (target in tree and isinstance(tree[target], Mapping))
    node: Any = tree
    for part in target.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return isinstance(node, Mapping)


def _freeze(node: Any) -> Any:
    if isinstance(node, dict):
        return MappingProxyType({k: _freeze(v) for k, v in node.items()})
    if isinstance(node, list):
        return tuple(_freeze(v) for v in node)
    return node


# ====================================================================== units
def _to_model_units(leaf: Leaf, cal: Calibration) -> float | bool | str:
    if not leaf.is_numeric:
        return leaf.value
    value = float(leaf.value)
    unit = leaf.unit
    weeks = cal.weeks_per_year
    days = cal.trading_days_per_week
    if unit == "USD_bn_per_year":
        return value / weeks
    if unit == "USD_bn_per_day":
        return value * days
    if unit == "EUR_bn":
        return value * cal.eur_usd
    if unit == "USD":
        return value * 1e-9
    if unit == "EUR":
        return value * cal.eur_usd * 1e-9
    if unit == "bp":
        return value * 1e-4
    if unit == "per_year":
        return (1.0 + value) ** (1.0 / weeks) - 1.0
    if unit == "years":
        return value * weeks
    if unit == "sd_per_day":
        return value * math.sqrt(days)
    return value


# ====================================================================== EU banks
def _load_eu_banks(
    doc: Mapping[str, Any], base_dir: Path | None, checker: _Checker
) -> tuple[EUBank, ...]:
    path = "banks.eu.data_file"
    eu = doc["banks"]["eu"]
    name = eu["data_file"]
    text = _read_data_file(name, base_dir)
    if text is None:
        where = f"{base_dir} or the package" if base_dir is not None else "the package data"
        checker.fail(path, f"cannot read {name!r} from {where}")
        return ()
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in EBA_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        checker.fail(path, f"{name}: missing columns {', '.join(missing)}")
        return ()
    fx = float(doc["fx"]["eur_usd"]["value"])
    asset_scale = float(eu["asset_scale"]["value"])
    cet1_scale = float(eu["cet1_scale"]["value"])
    banks: list[EUBank] = []
    for row_number, row in enumerate(reader, start=2):
        try:
            cet1 = float(row["cet1_eur_m"])
            lev = float(row["leverage_ratio_pct"]) / 100.0
            debt = float(row["debt_securities_eur_m"])
            gov = float(row.get("gov_bonds_eur_m") or 0.0)
        except (TypeError, ValueError) as exc:
            checker.fail(path, f"{name} line {row_number}: not a number ({exc})")
            continue
        finite = all(math.isfinite(x) for x in (cet1, lev, debt, gov))
        if not (finite and cet1 > 0 and 0 < lev < 1 and debt >= 0 and 0 <= gov <= debt):
            checker.fail(
                path,
                f"{name} line {row_number}: needs cet1 > 0, 0 < leverage < 100%, "
                "0 <= gov bonds <= debt securities",
            )
            continue
        to_usd_bn = fx / 1000.0
        banks.append(
            EUBank(
                bank_id=row["bank_id"],
                country=row["country"],
                total_assets=cet1 / lev * asset_scale * to_usd_bn,
                cet1=cet1 * cet1_scale * to_usd_bn,
                debt_securities=debt * asset_scale * to_usd_bn,
                gov_bonds=gov * asset_scale * to_usd_bn,
                leverage_ratio_2018=lev,
            )
        )
    expected = eu["n_agents"]["value"]
    if len(banks) != expected and not checker.errors:
        checker.fail(path, f"{name} holds {len(banks)} banks but banks.eu.n_agents says {expected}")
    return tuple(banks)


def _read_data_file(name: str, base_dir: Path | None) -> str | None:
    if Path(name).name != name:
        return None
    if base_dir is not None:
        candidate = base_dir / name
        if candidate.is_file():
            try:
                return candidate.read_text(encoding="utf-8")
            except OSError:
                return None
    resource = resources.files("abm").joinpath("data", name)
    try:
        return resource.read_text(encoding="utf-8")
    except (OSError, FileNotFoundError):
        return None
