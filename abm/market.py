"""The market's M assets: what trades, who issued it, how deep it is and how it is valued.

One row per asset of ``calibration.toml`` ``[markets]`` (docs/design.md, "The economy"): Treasuries,
each listed tech firm's equity and bonds, non-AI IG bonds, high yield and leveraged loans, broad
non-AI equity, private AI stakes, private credit, AI SPV debt, data-centre ABS, crypto and gold.
Prices start at 1.0 per unit, so one unit is USD 1 bn of market value at end-2025 and the
outstanding amount is the supply in units.

Market depth is the number of units whose sale moves the price by a factor 1/e
(``kernels.impact``); the calibration derives it from daily volume and volatility as in Cont &
Schaanning (2017). Fire-sale impact decays toward the fundamental value with a half-life
(Obizhaeva & Wang 2013; the calibration's half-lives follow Coval & Stafford 2007).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from abm.calibration import Calibration

#: Asset classes whose holders are restricted to investment grade (fallen angels are sold).
BOND_CLASSES = ("corporate_bond",)


@dataclass(frozen=True)
class AssetTable:
    """Static description of the M assets, as host tuples and lists (the model moves them to xp).

    Attributes:
        keys: asset keys in market order, e.g. ``("treasuries", "equity_amazon", ...)``.
        asset_class: per asset, e.g. ``"equity"``, ``"corporate_bond"``, ``"loan"``.
        issuer: per asset, the issuing firm's key or ``None``.
        outstanding: units in issue at end-2025 (USD bn at price 1).
        depth: market depth in units.
        haircut: repo haircut at the starting price (share).
        risk_weight: Basel risk weight (ratio).
        half_life: weeks for half of a fire-sale price gap to close.
        duration: bond duration in weeks (0 for non-bonds).
        spread: starting credit spread, a fraction per year (0 where none is given).
    """

    keys: tuple[str, ...]
    asset_class: tuple[str, ...]
    issuer: tuple[str | None, ...]
    outstanding: tuple[float, ...]
    depth: tuple[float, ...]
    haircut: tuple[float, ...]
    risk_weight: tuple[float, ...]
    half_life: tuple[float, ...]
    duration: tuple[float, ...]
    spread: tuple[float, ...]

    @classmethod
    def from_calibration(cls, cal: Calibration) -> AssetTable:
        """Read every ``[markets.*]`` entry of the calibration, in file order."""
        rows = {key: cal.node(f"markets.{key}") for key in cal.markets()}
        values = {key: cal.group(f"markets.{key}", model_units=True) for key in rows}

        def column(name: str, default: float = 0.0) -> tuple[float, ...]:
            return tuple(float(values[k].get(name, default)) for k in rows)

        return cls(
            keys=tuple(rows),
            asset_class=tuple(str(rows[k]["asset_class"]) for k in rows),
            issuer=tuple(rows[k].get("issuer") for k in rows),
            outstanding=column("outstanding"),
            depth=column("depth"),
            haircut=column("haircut"),
            risk_weight=column("risk_weight"),
            half_life=column("half_life", float("inf")),
            duration=column("duration"),
            spread=column("spread"),
        )

    @property
    def size(self) -> int:
        """M, the number of assets."""
        return len(self.keys)

    def index(self, key: str) -> int:
        """Position of asset ``key`` on the market axis."""
        return self.keys.index(key)

    def of_class(self, *classes: str) -> list[int]:
        """Positions of the assets of the given classes."""
        return [m for m, c in enumerate(self.asset_class) if c in classes]

    def issued_by(self, firm: str) -> list[int]:
        """Positions of the assets a firm issued (its equity and its bonds)."""
        return [m for m, issuer in enumerate(self.issuer) if issuer == firm]

    def equity_of(self, firm: str) -> int:
        """Position of a firm's listed equity on the market axis, -1 if it is not listed."""
        listed = [m for m in self.issued_by(firm) if self.asset_class[m] == "equity"]
        return listed[0] if listed else -1

    def as_arrays(self, xp: Any, dtype: Any, device: Any = None) -> dict[str, Any]:
        """The numeric columns as (M,) arrays of ``xp``."""
        names = (
            "outstanding",
            "depth",
            "haircut",
            "risk_weight",
            "half_life",
            "duration",
            "spread",
        )
        return {n: xp.asarray(getattr(self, n), dtype=dtype, device=device) for n in names}


def market_depth(sheets: Any, fire_sales: bool = True) -> Any:
    """(M,) depth in units on the device; infinite when the ``fire_sales`` channel is off."""
    depth = np.asarray(sheets.assets.depth) if fire_sales else np.inf
    return sheets.xp.asarray(
        np.broadcast_to(depth, (sheets.assets.size,)),
        dtype=sheets.prices.dtype,
        device=sheets.prices.device,
    )


def pressure_depth(sheets: Any) -> Any:
    """(M,) depth over which forced selling presses on spreads (infinite where none is given)."""
    depth = np.asarray(sheets.assets.depth, dtype=float)
    return sheets.xp.asarray(
        np.where(depth > 0.0, depth, np.inf),
        dtype=sheets.prices.dtype,
        device=sheets.prices.device,
    )
