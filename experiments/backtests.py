"""Historical back-tests: past crises re-run by the model and judged against their data (issue 16).

Each episode is one TOML file under ``experiments/backtests/``. It tells the episode's story,
re-calibrates what differed in that year (``[[recalibrate]]``: rates, unemployment, supplies and
reserve mixes, bank capital, each a leaf of the 2025 calibration with its new value or scaling and
the source), holds the rest of the 2025 calibration (``held`` says what and why), strikes the
episode's shocks (``[[shocks]]``, the schema of the scenario presets, :mod:`abm.shocks`) under its
``[policy]``, and names the target moments (``[[moments]]``): the data value with its source, how
the model's value is read from the run, and a tolerance with its reason, written before any run.
What the model cannot express, or what is not compared for want of data, is listed with why
(``[[cannot_express]]``).

A moment's model value is one reduction over a window of weeks (week 0 is the start, before any
shock) of one weekly quantity per world:

- ``series:<name>[,<name>...]``: a reported series of :mod:`abm.reporting` (``ai_equity_index``,
  ``peg_usdc``, ``unemployment_us``, ``defaults_bank`` ...), or the mean of several (the AI
  issuers' ``spread_change_bp_<issuer>``);
- ``defaults:<family>:<kind>,<kind>``: how many agents of those kinds (:mod:`abm.roster`) have
  failed so far (``state.defaulted``);
- ``charge_off_rate:<kind>,...``: those banks' loans written off over the last 13 weeks (a
  quarter, fewer in the first weeks), a year, over their gross loans to the economy outside the
  model (snapshot ``write_offs`` and ``loans_outside``, :mod:`abm.credit_risk`): the quarterly
  charge-off rate, annualised, of the Fed's charge-off release;
- ``book_loss:<family>:<kind>,...:<asset>,...``: the loss, in USD bn, on the opening holdings of
  those assets by those agents at this week's prices, ``Σ units₀ · (p₀ − p)``: the unrealised
  loss on the book they started with, whether they sold it or not.

The reductions (:data:`REDUCTIONS`) are ``max``, ``min``, ``last``, ``rise`` (the window's highest
less week 0), ``fall`` (week 0 less the window's lowest), ``drawdown`` (the largest fall from a
running peak since week 0, as a share of the peak), ``run_up`` (the largest rise from a running low
since week 0) and ``weeks_below`` (weeks of the window below
``threshold``); ``scale`` multiplies the result (100 for percent). The verdict compares the median
over worlds with ``[low, high]``; a value that is not finite is never a PASS. Each moment has a
``role``: ``out_of_sample`` (nothing in the episode was sized from it), ``input`` (a shock was
sized from the same data, so a PASS only shows that the model carries the shock through) or
``in_sample`` (the 2025 calibration itself was fitted to this episode).

Every problem in an episode file is a one-line :class:`~experiments.usage.UsageError` naming the
file, the entry and what is allowed. Nothing under ``abm/`` is changed: an episode's calibration
is the packaged one with some leaves replaced (:func:`episode_calibration`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from experiments.scenarios import Scenario, check_preset, read_toml
from experiments.usage import UsageError

#: Where the episodes live.
EPISODE_DIR = Path(__file__).resolve().parent / "backtests"
#: Keys of an episode file; ``policy`` and ``shocks`` are checked as a preset's.
EPISODE_KEYS = (
    "name",
    "title",
    "period",
    "story",
    "source",
    "held",
    "steps",
    "policy",
    "shocks",
    "recalibrate",
    "moments",
    "cannot_express",
)
RECALIBRATE_KEYS = ("path", "value", "scale", "period", "source", "note")
MOMENT_KEYS = (
    "name",
    "label",
    "quantity",
    "reduce",
    "weeks",
    "threshold",
    "scale",
    "data",
    "unit",
    "data_source",
    "low",
    "high",
    "tolerance",
    "role",
    "miss",
)
CANNOT_KEYS = ("what", "data", "why")
REDUCTIONS = ("max", "min", "last", "rise", "fall", "drawdown", "run_up", "weeks_below")
ROLES = ("out_of_sample", "input", "in_sample")
QUANTITIES = ("series", "defaults", "charge_off_rate", "book_loss")
#: Weeks of the charge-off rate's window: the data are quarterly.
QUARTER = 13
#: Calibration groups whose leaves are shares that must still sum to 1 after re-calibration.
SHARE_GROUPS = ("allocation", "reserve_mix")
#: EU-bank scalings the loader applies to the EBA 2018 table (abm.calibration.EUBank).
EU_SCALES = {
    "banks.eu.asset_scale": ("total_assets", "debt_securities", "gov_bonds"),
    "banks.eu.cet1_scale": ("cet1",),
}


@dataclass(frozen=True)
class Recalibration:
    """One leaf of the 2025 calibration set to its value in the episode's year."""

    path: str
    value: float | None
    scale: float | None
    period: str
    source: str
    note: str = ""


@dataclass(frozen=True)
class Moment:
    """One target moment: the data, how the model's value is read, and the tolerance."""

    name: str
    label: str
    quantity: str
    reduce: str
    weeks: tuple[int, int]
    threshold: float | None
    scale: float
    data: float
    unit: str
    data_source: str
    low: float
    high: float
    tolerance: str
    role: str
    miss: str = ""


@dataclass(frozen=True)
class Episode:
    """A checked episode file."""

    name: str
    title: str
    period: str
    story: str
    source: str
    held: str
    steps: int
    scenario: Scenario
    recalibrate: tuple[Recalibration, ...]
    moments: tuple[Moment, ...]
    cannot_express: tuple[dict[str, str], ...]
    path: str


# -- reading and checking -------------------------------------------------------------------------


def episode_names() -> tuple[str, ...]:
    """The episodes shipped, in the order of their file names (which start with the year)."""
    return tuple(sorted(p.stem for p in EPISODE_DIR.glob("*.toml")))


def load_episode(path: Path) -> Episode:
    """Read and check an episode file; a one-line UsageError for any problem."""
    path = Path(path)
    return check_episode(read_toml(path), f"episode file {path}", path)


def load_episodes(names: str | None = None) -> tuple[Episode, ...]:
    """The shipped episodes, or those named in a comma-separated list (``--episodes``)."""
    known = episode_names()
    chosen = known if names is None else tuple(n.strip() for n in names.split(",") if n.strip())
    unknown = [n for n in chosen if n not in known]
    if len(set(chosen)) != len(chosen):
        raise UsageError(f"argument --episodes: an episode is named twice in {names!r}")
    if unknown or not chosen:
        raise UsageError(
            f"argument --episodes: unknown episode {unknown[0] if unknown else names!r}; "
            f"choose from {', '.join(known)}"
        )
    return tuple(load_episode(EPISODE_DIR / f"{n}.toml") for n in chosen)


def _text(entry: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
    """A non-empty string field (``""`` when optional and missing)."""
    if key not in entry and not required:
        return ""
    value = entry.get(key)
    if not (isinstance(value, str) and value.strip()):
        raise UsageError(f"{where}: {key} must be a non-empty string; got {value!r}")
    return " ".join(value.split())


def _number(entry: Mapping[str, Any], key: str, where: str) -> float:
    """A finite number field."""
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UsageError(f"{where}: {key} must be a finite number; got {value!r}")
    return float(value)


def _table_list(data: Mapping[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    """An array of tables (``[[key]]``), each checked to be a table."""
    items = data.get(key, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise UsageError(f"{where}: {key} must be an array of tables ([[{key}]])")
    return items


def _unknown(entry: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    """Refuse a key outside ``allowed``."""
    extra = [k for k in entry if k not in allowed]
    if extra:
        raise UsageError(f"{where}: unknown key {extra[0]!r}; allowed: {', '.join(allowed)}")


def check_recalibration(entry: dict[str, Any], where: str) -> Recalibration:
    """One ``[[recalibrate]]`` entry: a numeric leaf of the calibration and its new value."""
    from abm.calibration import load_calibration

    _unknown(entry, RECALIBRATE_KEYS, where)
    path = _text(entry, "path", where)
    leaf = load_calibration().leaves.get(path)
    if leaf is None or not leaf.is_numeric or isinstance(leaf.value, bool):
        raise UsageError(
            f"{where}: path {path!r} is not a numeric leaf of abm/data/calibration.toml"
        )
    if ("value" in entry) == ("scale" in entry):
        raise UsageError(f"{where}: give one of value (in the leaf's unit, {leaf.unit}) or scale")
    value = _number(entry, "value", where) if "value" in entry else None
    scale = _number(entry, "scale", where) if "scale" in entry else None
    new = value if value is not None else float(leaf.value) * float(scale or 0.0)
    if scale is not None and scale <= 0:
        raise UsageError(f"{where}: scale must be > 0; got {scale!r}")
    if leaf.unit == "share" and not 0.0 <= new <= 1.0:
        raise UsageError(f"{where}: {path} is a share; the new value must lie in [0, 1], got {new}")
    return Recalibration(
        path,
        value,
        scale,
        _text(entry, "period", where),
        _text(entry, "source", where),
        _text(entry, "note", where, required=False),
    )


@cache
def series_names() -> frozenset[str]:
    """The series a model reports (:mod:`abm.reporting`), read off a one-world model once."""
    from abm.model import Powderkeg

    return frozenset(Powderkeg(n_worlds=1, seed=0, n_cohorts=4, backend="numpy").week_series)


def _quantity(text: str, where: str) -> str:
    """Check a moment's ``quantity`` string (see the module docstring) and return it."""
    from experiments.shock_entries import _vocabulary

    parts = text.split(":")
    kind = parts[0]
    firms, assets, banks, funds = _vocabulary()
    names = {"firm": firms, "bank": banks, "fund": funds, "stablecoin": ("tether", "usdc")}
    if kind == "series" and len(parts) == 2 and parts[1]:
        missing = [n for n in parts[1].split(",") if n not in series_names()]
        if missing:
            raise UsageError(
                f"{where}: quantity {text!r}: no series {missing[0]!r}; "
                "the names are those of abm/reporting.py"
            )
        return text
    if kind == "charge_off_rate" and len(parts) == 2:
        if not all(k in banks for k in parts[1].split(",")):
            raise UsageError(f"{where}: quantity {text!r}: banks by kind or name of {banks}")
        return text
    if kind in ("defaults", "book_loss") and len(parts) == (3 if kind == "defaults" else 4):
        family, kinds = parts[1], parts[2].split(",")
        if family not in names or not all(k in names[family] for k in kinds):
            raise UsageError(
                f"{where}: quantity {text!r}: {family!r} with kinds {kinds} is not in the roster; "
                f"families {', '.join(names)}, kinds or names as in abm/roster.py"
            )
        if kind == "book_loss" and not all(a in assets for a in parts[3].split(",")):
            raise UsageError(f"{where}: quantity {text!r}: unknown asset; allowed: {assets}")
        return text
    raise UsageError(
        f"{where}: quantity must be series:<names>, defaults:<family>:<kinds>, "
        f"charge_off_rate:<bank kinds> or book_loss:<family>:<kinds>:<assets>; got {text!r}"
    )


def check_moment(entry: dict[str, Any], where: str, steps: int) -> Moment:
    """One ``[[moments]]`` entry, checked against the episode's length ``steps``."""
    _unknown(entry, MOMENT_KEYS, where)
    name = _text(entry, "name", where)
    where = f"{where} ({name})"
    reduce = entry.get("reduce")
    if reduce not in REDUCTIONS:
        raise UsageError(f"{where}: reduce must be one of {', '.join(REDUCTIONS)}; got {reduce!r}")
    role = entry.get("role")
    if role not in ROLES:
        raise UsageError(f"{where}: role must be one of {', '.join(ROLES)}; got {role!r}")
    weeks = entry.get("weeks", [0, steps])
    if (
        not isinstance(weeks, list)
        or len(weeks) != 2
        or not all(isinstance(w, int) and not isinstance(w, bool) for w in weeks)
        or not 0 <= weeks[0] <= weeks[1] <= steps
    ):
        raise UsageError(f"{where}: weeks must be [first, last] with 0 <= first <= last <= {steps}")
    threshold = _number(entry, "threshold", where) if reduce == "weeks_below" else None
    low, high = _number(entry, "low", where), _number(entry, "high", where)
    if low > high:
        raise UsageError(f"{where}: low must not exceed high; got [{low}, {high}]")
    return Moment(
        name=name,
        label=_text(entry, "label", where),
        quantity=_quantity(_text(entry, "quantity", where), where),
        reduce=reduce,
        weeks=(weeks[0], weeks[1]),
        threshold=threshold,
        scale=_number(entry, "scale", where) if "scale" in entry else 1.0,
        data=_number(entry, "data", where),
        unit=_text(entry, "unit", where),
        data_source=_text(entry, "data_source", where),
        low=low,
        high=high,
        tolerance=_text(entry, "tolerance", where),
        role=role,
        miss=_text(entry, "miss", where, required=False),
    )


def check_episode(data: dict[str, Any], where: str, path: Path) -> Episode:
    """A parsed episode file as an :class:`Episode`, or a one-line UsageError."""
    _unknown(data, EPISODE_KEYS, where)
    if data.get("name") != path.stem:
        raise UsageError(f"{where}: name must be the file's stem {path.stem!r}")
    steps = data.get("steps")
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 520:
        raise UsageError(f"{where}: steps must be an integer from 1 to 520 weeks; got {steps!r}")
    preset = {
        k: data[k] for k in ("name", "title", "story", "source", "policy", "shocks") if k in data
    }
    scenario = check_preset(preset, where, stem=path.stem)
    late = [s for s in scenario.shocks if s.week > steps]
    if late:
        raise UsageError(
            f"{where}: a {late[0].kind} shock strikes in week {late[0].week}, "
            f"after the episode's last week {steps}"
        )
    recal = tuple(
        check_recalibration(e, f"{where}: recalibrate[{i}]")
        for i, e in enumerate(_table_list(data, "recalibrate", where))
    )
    moments = tuple(
        check_moment(e, f"{where}: moments[{i}]", steps)
        for i, e in enumerate(_table_list(data, "moments", where))
    )
    if not moments:
        raise UsageError(f"{where}: an episode needs at least one [[moments]] entry")
    names = [m.name for m in moments]
    if len(set(names)) != len(names):
        raise UsageError(f"{where}: moment names must differ; {names}")
    cannot = []
    for i, entry in enumerate(_table_list(data, "cannot_express", where)):
        w = f"{where}: cannot_express[{i}]"
        _unknown(entry, CANNOT_KEYS, w)
        cannot.append({k: _text(entry, k, w) for k in CANNOT_KEYS})
    episode = Episode(
        name=path.stem,
        title=_text(data, "title", where),
        period=_text(data, "period", where),
        story=scenario.story,
        source=scenario.source,
        held=_text(data, "held", where),
        steps=steps,
        scenario=scenario,
        recalibrate=recal,
        moments=moments,
        cannot_express=tuple(cannot),
        path=str(path),
    )
    episode_calibration(episode, where)  # the shares still add up
    return episode


# -- the episode's calibration --------------------------------------------------------------------


def episode_calibration(episode: Episode, where: str = "episode") -> Any:
    """The packaged 2025 calibration with the episode's leaves replaced.

    A replaced leaf keeps its unit; its period and source become the episode's. The EU banks,
    which the loader scales once from the EBA 2018 table, are rescaled when ``banks.eu.asset_scale``
    or ``banks.eu.cet1_scale`` change. Share groups (:data:`SHARE_GROUPS`) must still sum to 1.

    Raises:
        UsageError: a share group no longer sums to 1.
    """
    from abm.calibration import load_calibration

    cal = load_calibration()
    if not episode.recalibrate:
        return cal
    leaves = dict(cal.leaves)
    for r in episode.recalibrate:
        leaf = leaves[r.path]
        new = r.value if r.value is not None else float(leaf.value) * float(r.scale or 1.0)
        leaves[r.path] = dataclasses.replace(
            leaf, value=new, period=r.period, source=f"{episode.name}: {r.source}"
        )
    groups = {p.rsplit(".", 1)[0] for p in (r.path for r in episode.recalibrate)}
    for group in sorted(groups):
        if group.rsplit(".", 1)[-1] in SHARE_GROUPS:
            total = sum(float(leaves[f"{group}.{k}"].value) for k in cal.group(group))
            if abs(total - 1.0) > 1e-6:
                raise UsageError(
                    f"{where}: the shares of {group} sum to {total:.6f}; "
                    "re-calibrate them so they sum to 1"
                )
    eu_banks = cal.eu_banks
    for path, fields in EU_SCALES.items():
        ratio = float(leaves[path].value) / float(cal.leaves[path].value)
        if ratio != 1.0:
            eu_banks = tuple(
                dataclasses.replace(b, **{f: getattr(b, f) * ratio for f in fields})
                for b in eu_banks
            )
    return dataclasses.replace(
        cal,
        source=f"{cal.source} + {episode.name}",
        leaves=MappingProxyType(leaves),
        eu_banks=eu_banks,
    )


# -- running ---------------------------------------------------------------------------------------


def _probe(model: Any, quantity: str) -> Callable[[], np.ndarray]:
    """A function giving this week's (E,) value of ``quantity`` (see the module docstring)."""
    from kernels.backend import to_numpy

    parts = quantity.split(":")
    if parts[0] == "series":
        names = parts[1].split(",")
        return lambda: np.mean([np.asarray(model.week_series[n], dtype=float) for n in names], 0)
    roster = model.roster
    if parts[0] == "charge_off_rate":
        return _charge_off_rate(model, parts[1].split(","))
    family, kinds = parts[1], parts[2].split(",")
    rows = np.array(
        [i for i in roster.indices(family) if roster.kind[i] in kinds or roster.names[i] in kinds],
        dtype=int,
    )
    if parts[0] == "defaults":
        return lambda: np.asarray(to_numpy(model.state.defaulted), dtype=bool)[:, rows].sum(1) * 1.0
    sheets = model.sheets
    cols = np.array([sheets.assets.index(a) for a in parts[3].split(",")], dtype=int)
    units0 = np.asarray(to_numpy(sheets.holdings), dtype=float)[:, rows][:, :, cols]
    prices0 = np.asarray(to_numpy(sheets.prices), dtype=float)[:, cols]

    def book_loss() -> np.ndarray:
        prices = np.asarray(to_numpy(sheets.prices), dtype=float)[:, cols]
        return (units0 * (prices0 - prices)[:, None, :]).sum(axis=(1, 2))

    return book_loss


def _charge_off_rate(model: Any, kinds: list[str]) -> Callable[[], np.ndarray]:
    """(E,) this week's charge-off rate a year of the banks of ``kinds``, over the last quarter.

    Write-offs summed over the last :data:`QUARTER` weeks (fewer at the start), scaled to a year,
    over the banks' gross loans now (fraction a year).
    """
    roster = model.roster
    rows = np.array(
        [i for i in roster.indices("bank") if roster.kind[i] in kinds or roster.names[i] in kinds],
        dtype=int,
    )
    weeks_per_year = model.calibration.weeks_per_year
    recent: list[np.ndarray] = []

    def rate() -> np.ndarray:
        snap = model.snapshot
        recent.append(np.asarray(snap["write_offs"], dtype=float)[:, rows].sum(axis=1))
        del recent[:-QUARTER]
        loans = np.asarray(snap["loans_outside"], dtype=float)[:, rows].sum(axis=1)
        written = np.sum(recent, axis=0) * weeks_per_year / len(recent)
        return written / np.where(loans > 0.0, loans, np.nan)

    return rate


def reduce_path(moment: Moment, path: np.ndarray) -> np.ndarray:
    """(E,) the moment's reduction of a (T + 1, E) weekly path (row t is week t), scaled."""
    first, last = moment.weeks
    window = path[first : last + 1]
    how = moment.reduce
    with np.errstate(invalid="ignore", divide="ignore"):
        if how == "max":
            out = window.max(axis=0)
        elif how == "min":
            out = window.min(axis=0)
        elif how == "last":
            out = window[-1]
        elif how == "rise":
            out = window.max(axis=0) - path[0]
        elif how == "fall":
            out = path[0] - window.min(axis=0)
        elif how == "drawdown":
            peak = np.maximum.accumulate(path[: last + 1], axis=0)[first:]
            out = (1.0 - window / peak).max(axis=0)
        elif how == "run_up":
            low = np.minimum.accumulate(path[: last + 1], axis=0)[first:]
            out = (window - low).max(axis=0)
        else:  # weeks_below
            out = (window < moment.threshold).sum(axis=0).astype(float)
    return moment.scale * out


def run_episode(
    episode: Episode,
    *,
    worlds: int,
    seed: int,
    cohorts: int,
    tick: Callable[[], None] | None = None,
) -> dict[str, np.ndarray]:
    """Run one episode on NumPy; each moment's (E,) model values (NaN in a stopped world).

    ``tick`` is called after every week (the progress bar).
    """
    from experiments.build import build_model

    model = build_model(
        episode.scenario,
        n_worlds=worlds,
        seed=seed,
        backend="numpy",
        n_cohorts=cohorts,
        calibration=episode_calibration(episode, f"episode file {episode.path}"),
        collect_agents=False,
    )
    probes = {m.name: _probe(model, m.quantity) for m in episode.moments}
    paths = {name: [probe()] for name, probe in probes.items()}
    stopped = np.zeros(worlds, dtype=bool)
    for _ in range(episode.steps):
        model.step()
        stopped |= np.asarray(model.week_series["world_stopped"], dtype=bool)
        for name, probe in probes.items():
            paths[name].append(probe())
        if tick is not None:
            tick()
    return {
        m.name: np.where(stopped, np.nan, reduce_path(m, np.stack(paths[m.name])))
        for m in episode.moments
    }


def verdict(moment: Moment, values: np.ndarray) -> dict[str, Any]:
    """Median and 5–95% over worlds; PASS when the median is finite and in [low, high]."""
    values = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        median, p5, p95 = (float(np.percentile(values, q)) for q in (50, 5, 95))
    passed = bool(math.isfinite(median) and moment.low <= median <= moment.high)
    return {"median": median, "p5": p5, "p95": p95, "passed": passed}


__all__ = [
    "EPISODE_DIR",
    "Episode",
    "Moment",
    "Recalibration",
    "check_episode",
    "episode_calibration",
    "episode_names",
    "load_episode",
    "load_episodes",
    "reduce_path",
    "run_episode",
    "verdict",
]
