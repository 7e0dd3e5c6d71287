"""Calibration data: load the end-2025 starting values of the economy and read them.

The numbers live in ``abm/data/calibration.toml`` (shipped with the package and read through
``importlib.resources``, so an installed copy works) next to the 48 EBA 2018 banks in
``abm/data/eba2018_banks.csv``. A user calibration is any TOML file with the same schema; pass its
path to :func:`load_calibration`.

The schema (every number a sourced leaf with a unit and a status; ``abm/data/README.md`` has the
long form) is :mod:`abm.calibration_schema`; :mod:`abm.calibration_checks` holds a file to it.
Groups named ``allocation`` or ``reserve_mix`` hold shares that sum to 1.

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
from typing import Any

from abm.calibration_checks import SchemaChecker
from abm.calibration_schema import Leaf

__all__ = [
    "Calibration",
    "CalibrationError",
    "EUBank",
    "load_calibration",
]

EBA_COLUMNS = ("bank_id", "country", "cet1_eur_m", "leverage_ratio_pct", "debt_securities_eur_m")


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
        """Return firm keys, optionally only those of one ``kind`` (a ``FIRM_KINDS`` entry)."""
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

    checker = SchemaChecker()
    tree, leaves = checker.check_document(doc)
    if checker.errors:
        raise CalibrationError(checker.errors, source=source)
    eu_banks = _load_eu_banks(doc, base_dir, checker)
    if checker.errors:
        raise CalibrationError(checker.errors, source=source)
    return Calibration(source=source, data=tree, leaves=leaves, eu_banks=eu_banks)


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
    doc: Mapping[str, Any], base_dir: Path | None, checker: SchemaChecker
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
