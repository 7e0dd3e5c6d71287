"""Checking a parsed calibration file against the schema of :mod:`abm.calibration_schema`.

:class:`SchemaChecker` walks the TOML document once: it turns every leaf into a
:class:`~abm.calibration_schema.Leaf` (or records why it cannot), then checks the sections the
model needs, namely the required fields of every firm, SPV, bank, fund, stablecoin issuer, market
and capital regime (the tables of :mod:`abm.calibration_schema`), that deals point at firms or
tables of the file, and that shares sum to 1 where they must (the groups of
``SUM_TO_ONE_GROUPS``; each ``*_share`` across the retail cohort groups). It collects every
problem as ``"<key path>: <what is wrong and what is allowed>"`` instead of stopping at the first;
:func:`abm.calibration.load_calibration` raises them together.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from abm.calibration_schema import (
    CAPITAL_FIELDS,
    DEAL_KINDS,
    EU_BANK_FIELDS,
    FIRM_FIELDS,
    FIRM_KINDS,
    FLAG_UNITS,
    FUND_FIELDS,
    INTEGER_UNITS,
    LEAF_OPTIONAL,
    LEAF_REQUIRED,
    MARKET_FIELDS,
    PLAIN_ATTRIBUTES,
    REQUIRED_SECTIONS,
    SIGNED_UNITS,
    SPV_FIELDS,
    STABLECOIN_FIELDS,
    STATUSES,
    SUM_TO_ONE_GROUPS,
    SUM_TOLERANCE,
    TEXT_UNITS,
    UNITS,
    US_BANK_FIELDS,
    Leaf,
)
from abm.vocabulary import ASSET_CLASSES

__all__ = ["SchemaChecker"]


class SchemaChecker:
    """Collects schema problems while building the read-only tree."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.leaves: dict[str, Leaf] = {}

    def fail(self, path: str, message: str) -> None:
        """Record a problem at ``path``."""
        self.errors.append(f"{path}: {message}")

    # ---------------------------------------------------------------- generic walk
    def check_document(
        self, doc: Mapping[str, Any]
    ) -> tuple[Mapping[str, Any], Mapping[str, Leaf]]:
        """Check a parsed TOML document; return its read-only tree and its leaves by path.

        The structure of the sections is checked only once every leaf is well formed.
        """
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
        if unit in TEXT_UNITS:
            if not isinstance(value, str) or not value.strip():
                self.fail(path, f"unit {unit!r} needs a non-empty string, got {value!r}")
            return
        if unit in FLAG_UNITS:
            if not isinstance(value, bool):
                self.fail(path, f"unit 'flag' needs true or false, got {value!r}")
            return
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(path, f"unit {unit!r} needs a number, got {type(value).__name__} {value!r}")
            return
        if not math.isfinite(value):
            self.fail(path, f"must be a finite number, got {value!r}")
            return
        if unit in INTEGER_UNITS and not isinstance(value, int):
            self.fail(path, f"unit {unit!r} needs an integer, got {value!r}")
        if unit == "share" and not 0.0 <= value <= 1.0:
            self.fail(path, f"a share must lie in [0, 1], got {value!r}")
        elif unit == "per_year" and value <= -1.0:
            self.fail(path, f"a yearly rate must be above -1, got {value!r}")
        elif unit not in SIGNED_UNITS and value < 0:
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
