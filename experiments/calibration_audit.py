"""The calibration audit: which estimated values of the calibration move the main outcomes most.

55% of the calibration's numbers are ``estimate`` leaves (a judgement, not a reading of a
source). This module varies them and ranks them by their influence on a preset's headline
numbers (:mod:`experiments.metrics`), in two stages of global sensitivity analysis with the
project's SALib machinery (:mod:`experiments.sensitivity`):

1. **Screening** by Morris elementary effects (Morris 1991, *Technometrics* 33:161; ``mu*``,
   the mean absolute effect, of Campolongo, Cariboni & Saltelli 2007, *Environ. Model. Softw.*
   22:1509) over every audited value: ``r`` trajectories of ``D + 1`` runs each.
2. **Sobol' indices** (Saltelli 2002; Saltelli et al. 2010, *Comput. Phys. Commun.*
   181:259) of the ``K`` values the screening ranks first: first-order ``S1`` (the share of an
   outcome's variance due to the value alone) and total ``ST`` (with all its interactions), with
   bootstrap confidence intervals; ``N (K + 2)`` runs. The same runs give each outcome's
   *sensitivity band*: its 5–95% range when the K values move together over their bounds.

Which values are audited (:func:`audited_values`): the numeric ``estimate`` leaves that the
preset's model actually reads (found by one run at the nominal calibration through a recording
view of the leaves, :func:`nominal_run`), except counts of agents (``count`` units: they set the
shapes of the model, not a behaviour), shares of a whole (:func:`shares_of_a_whole`: a fund's
``allocation``, an issuer's ``reserve_mix``, the split of household deposits over the cohorts;
they sum to 1, so one cannot move alone) and zeros without a stated range (no scale to vary).
Each value's bound (:func:`bound_of`), in this order: the audit's bounds file
(:data:`BOUNDS_FILE`: a public source found for the value, or a bound argued there); the leaf's own
``range`` in the calibration; else the default rule, the value ±50% (of its magnitude), clipped
to [0, 1] for shares. An end of a bound at which the model's opening balance sheets cannot be
built (its accounting checks raise, e.g. prime brokers without room for the hedge funds'
borrowing) is moved halfway toward the value until they can (:func:`feasible`), at most
:data:`CUTS` times, then to the value itself; the table says where and why.

Every run is one world with the same seed, so the differences between runs are the values'
effects, not the model's noise. A run whose model raised or whose world stopped (non-finite
state) has no outcome; SALib needs one number per design point, so such a run's outcome is the
median of the finite runs, and the count of such runs is reported beside the indices.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from experiments.backtests import EU_SCALES
from experiments.usage import UsageError

if TYPE_CHECKING:
    from abm.calibration import Calibration
    from experiments.scenarios import Scenario

#: The audit's own bounds and sources for the values it found influential (never read from
#: ``abm/data``: the calibration is not changed by the audit).
BOUNDS_FILE = Path(__file__).with_name("audit_bounds.toml")
#: The outcomes ranked (keys of :func:`experiments.metrics.world_metrics`).
OUTCOMES = (
    "bank_failures",
    "bank_cet1_fall_pt",
    "fire_sale_volume_usd_bn",
    "ai_equity_drawdown_pct",
    "retail_loss_median_pct",
)
#: The default rule: the value times (1 - RELATIVE_SPAN, 1 + RELATIVE_SPAN).
RELATIVE_SPAN = 0.5
#: Units whose values are shares, kept in [0, 1].
SHARE_UNITS = ("share",)
#: Units left out: counts of agents set the model's shapes.
STRUCTURAL_UNITS = ("count",)
#: A set of shares is a whole when its sum is 1 within this.
WHOLE_TOLERANCE = 1e-3
#: Halvings of an end of a bound toward the value before it is set to the value (feasible).
CUTS = 3
#: Morris grid levels (even; Saltelli et al. 2008, *Global Sensitivity Analysis: The Primer*,
#: ch. 3, recommend 4 with few trajectories).
MORRIS_LEVELS = 4


@dataclass(frozen=True)
class Bound:
    """One audited value and the range it is varied over, in the calibration file's unit.

    Attributes:
        path: the leaf's dotted key path.
        value: its value in the calibration.
        unit: its unit (``share``, ``weeks``, ``USD_bn`` ...).
        low: lowest value tried.
        high: highest value tried.
        basis: where the bound comes from: ``source``, ``argued`` (both from the bounds file),
            ``range`` (the leaf's own range) or ``rule`` (±50%, clipped for shares).
        source: the public source or the argument (bounds file), the leaf's basis otherwise.
        cut: why an end was moved toward the value (:func:`feasible`); '' when none was.
    """

    path: str
    value: float
    unit: str
    low: float
    high: float
    basis: str
    source: str
    cut: str = ""


@dataclass(frozen=True)
class Run:
    """The outcomes of one run (NaN when it failed) and why it failed ('' when it did not)."""

    outcomes: dict[str, float]
    error: str = ""


# -- which values, over which bounds ----------------------------------------------------------


def load_bounds(path: Path = BOUNDS_FILE) -> dict[str, dict[str, Any]]:
    """The bounds file's entries by leaf path: ``low``, ``high``, ``basis``, ``source``.

    Each ``[[value]]`` table has ``path``, ``low`` < ``high``, ``basis`` (``source``: a public
    number or range was found; ``argued``: none was, the bound is reasoned) and ``source`` (the
    citation or the reasoning).

    Raises:
        UsageError: the file is not TOML or an entry breaks these rules (named by its path).
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise UsageError(f"bounds file {path}: cannot read it as TOML ({err})") from None
    entries: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(data.get("value", [])):
        where = f"bounds file {path}, value {i + 1} ({entry.get('path', 'no path')})"
        low, high = entry.get("low"), entry.get("high")
        numbers = all(isinstance(x, int | float) and not isinstance(x, bool) for x in (low, high))
        if not numbers or not low < high:
            raise UsageError(f"{where}: needs numbers low < high; got low={low!r}, high={high!r}")
        if entry.get("basis") not in ("source", "argued") or not entry.get("source"):
            raise UsageError(f"{where}: needs basis = 'source' or 'argued' and a source text")
        entries[str(entry["path"])] = entry
    return entries


def bound_of(leaf: Any, bounds: Mapping[str, Mapping[str, Any]]) -> Bound | None:
    """The range of one estimate (module docstring), or None when it has no scale to vary."""
    value = float(leaf.value)
    if leaf.path in bounds:
        entry = bounds[leaf.path]
        return Bound(
            leaf.path,
            value,
            leaf.unit,
            float(entry["low"]),
            float(entry["high"]),
            str(entry["basis"]),
            str(entry["source"]),
        )
    basis = leaf.basis or leaf.source
    if leaf.range is not None:
        low, high = (float(x) for x in leaf.range)
        return Bound(leaf.path, value, leaf.unit, low, high, "range", basis)
    if value == 0.0:
        return None
    low, high = sorted((value * (1 - RELATIVE_SPAN), value * (1 + RELATIVE_SPAN)))
    if leaf.unit in SHARE_UNITS:
        low, high = max(low, 0.0), min(high, 1.0)
    return Bound(leaf.path, value, leaf.unit, low, high, "rule", basis)


def shares_of_a_whole(cal: Calibration) -> frozenset[str]:
    """Paths of ``share`` leaves that belong to a set summing to 1 (:data:`WHOLE_TOLERANCE`).

    A set is either the share leaves directly under one group (a fund's ``allocation``, a
    stablecoin's ``reserve_mix``, the banks' prime-brokerage market shares) or the same key
    across the children of one group (each retail cohort's ``deposits_share``, each US loan
    book's ``share``).
    """
    from collections import defaultdict

    sets: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path, leaf in cal.leaves.items():
        if leaf.unit not in SHARE_UNITS:
            continue
        parts = path.split(".")
        sets[("under", ".".join(parts[:-1]))].append(path)
        if len(parts) >= 3:
            sets[("across", ".".join(parts[:-2]) + ".*." + parts[-1])].append(path)
    whole = set()
    for paths in sets.values():
        total = sum(float(cal.leaves[p].value) for p in paths)
        if len(paths) >= 2 and abs(total - 1.0) <= WHOLE_TOLERANCE:
            whole.update(paths)
    return frozenset(whole)


def audited_values(
    cal: Calibration,
    read: Sequence[str],
    bounds: Mapping[str, Mapping[str, Any]],
    prefixes: Sequence[str] = (),
) -> tuple[Bound, ...]:
    """The audited estimates (module docstring), in calibration file order.

    Args:
        cal: the calibration.
        read: the leaf paths the preset's model reads (:func:`nominal_run`).
        bounds: the bounds file's entries (:func:`load_bounds`).
        prefixes: keep only paths starting with one of these (all when empty).
    """
    read_set, whole = set(read), shares_of_a_whole(cal)
    out = []
    for path, leaf in cal.leaves.items():
        if (
            path not in read_set
            or leaf.status != "estimate"
            or not leaf.is_numeric
            or leaf.unit in STRUCTURAL_UNITS
            or path in whole
            or (prefixes and not any(path.startswith(p) for p in prefixes))
        ):
            continue
        bound = bound_of(leaf, bounds)
        if bound is not None and bound.low < bound.high:
            out.append(bound)
    return tuple(out)


def calibration_with(cal: Calibration, values: Mapping[str, float]) -> Calibration:
    """``cal`` with the leaves of ``values`` (path to value, in the file's unit) replaced.

    A replaced leaf keeps its unit, period and status; its source says the audit set it. The EU
    banks, scaled once from the EBA 2018 table by the loader, are rescaled when
    ``banks.eu.asset_scale`` or ``banks.eu.cet1_scale`` change (as
    :func:`experiments.backtests.episode_calibration` does).
    """
    leaves = dict(cal.leaves)
    for path, value in values.items():
        leaves[path] = dataclasses.replace(
            leaves[path], value=float(value), source=f"calibration audit: {value:.6g}"
        )
    eu_banks = cal.eu_banks
    for path, fields in EU_SCALES.items():
        ratio = float(leaves[path].value) / float(cal.leaves[path].value)
        if ratio != 1.0:
            eu_banks = tuple(
                dataclasses.replace(b, **{f: getattr(b, f) * ratio for f in fields})
                for b in eu_banks
            )
    return dataclasses.replace(cal, leaves=MappingProxyType(leaves), eu_banks=eu_banks)


def build_error(
    definition: Scenario, cal: Calibration, values: Mapping[str, float], *, cohorts: int, seed: int
) -> str:
    """Why the model of ``cal`` with ``values`` cannot be built; '' when it can.

    The reason is the first line of what the model raised: its opening balance sheets'
    accounting checks (claims above what the issuers owe, deposits without room at the banks).
    """
    from experiments.build import build_model

    try:
        with np.errstate(all="ignore"):
            build_model(
                definition,
                n_worlds=1,
                seed=seed,
                backend="numpy",
                n_cohorts=cohorts,
                calibration=calibration_with(cal, values),
                collect_agents=False,
            )
    except Exception as err:  # the model's own accounting checks
        return str(err).splitlines()[0][:120]
    return ""


def feasible_trajectories(
    definition: Scenario,
    cal: Calibration,
    bounds: Sequence[Bound],
    x: np.ndarray,
    wanted: int,
    *,
    cohorts: int,
    seed: int,
    tick: Callable[[], None] = lambda: None,
) -> tuple[np.ndarray, int]:
    """The first ``wanted`` Morris trajectories of ``x`` whose every point can be built.

    Values moved together can break the opening sheets' accounting where none does alone (the
    banks' deposit bases too small for the households' deposits when several banks' deposit
    shares are low); a trajectory with such a point is passed over for the next. ``tick`` is
    called per point checked.

    Returns:
        The kept trajectories' rows, and how many trajectories were passed over.

    Raises:
        UsageError: fewer than ``wanted`` trajectories of ``x`` can be built.
    """
    points = len(bounds) + 1
    paths = [b.path for b in bounds]
    kept: list[np.ndarray] = []
    passed = 0
    for start in range(0, x.shape[0], points):
        trajectory = x[start : start + points]
        for row in trajectory:
            tick()
            if build_error(
                definition, cal, dict(zip(paths, row, strict=True)), cohorts=cohorts, seed=seed
            ):
                passed += 1
                break
        else:
            kept.append(trajectory)
            if len(kept) == wanted:
                return np.concatenate(kept), passed
    raise UsageError(
        f"only {len(kept)} of {x.shape[0] // points} Morris trajectories can be built; "
        "give fewer --trajectories or narrower bounds"
    )


def feasible(
    definition: Scenario, cal: Calibration, bounds: Sequence[Bound], *, cohorts: int, seed: int
) -> tuple[Bound, ...]:
    """``bounds`` with each end moved toward the value until the opening sheets can be built.

    One value at a time at each end of its bound, the model is built (not stepped); an end where
    building raises (an accounting check of the opening balance sheets) is moved halfway toward
    the value, at most :data:`CUTS` times, then set to the value. The reason is kept in
    :attr:`Bound.cut`. Values moved together can still break a check: such runs are counted
    as failed (:func:`run_once`).
    """
    out = []
    for b in bounds:
        ends, reasons = [b.low, b.high], []
        for i in (0, 1):
            for cut in range(CUTS + 1):
                reason = build_error(definition, cal, {b.path: ends[i]}, cohorts=cohorts, seed=seed)
                if not reason:
                    break
                ends[i] = (ends[i] + b.value) / 2 if cut < CUTS else b.value
                if cut == 0:
                    reasons.append(f"{'low' if i == 0 else 'high'} end cut: {reason}")
        if reasons:
            b = dataclasses.replace(b, low=ends[0], high=ends[1], cut="; ".join(reasons))
        if b.low < b.high:
            out.append(b)
    return tuple(out)


# -- running ------------------------------------------------------------------------------------


class _ReadLog(Mapping):
    """A read-only view of the calibration's leaves that notes every path the model looks up."""

    def __init__(self, leaves: Mapping[str, Any]):
        self._leaves = leaves
        self.read: set[str] = set()

    def __getitem__(self, path: str) -> Any:
        self.read.add(path)
        return self._leaves[path]

    def __iter__(self) -> Iterator[str]:
        self.read.update(self._leaves)  # a model that walks all leaves reads them all
        return iter(self._leaves)

    def __len__(self) -> int:
        return len(self._leaves)


def run_once(
    definition: Scenario,
    cal: Calibration,
    *,
    steps: int,
    cohorts: int,
    seed: int,
    tick: Callable[[], None] = lambda: None,
) -> Run:
    """One world of ``definition`` on NumPy with calibration ``cal``: its headline numbers.

    A model that raises, or a world that stops (non-finite state), gives NaN outcomes and the
    reason in :attr:`Run.error`. ``tick`` is called once at the end (the progress bar).
    """
    from abm.reporting import record_weeks
    from experiments.build import build_model
    from experiments.metrics import world_metrics

    try:
        with np.errstate(all="ignore"):
            model = build_model(
                definition,
                n_worlds=1,
                seed=seed,
                backend="numpy",
                n_cohorts=cohorts,
                calibration=cal,
                collect_agents=False,
            )
            numbers = world_metrics(record_weeks(model, steps), model)
    except Exception as err:  # any failure of the model is a result to report
        tick()
        return Run({}, f"{type(err).__name__}: {err}".splitlines()[0][:200])
    tick()
    outcomes = {key: float(values[0]) for key, values in numbers.items()}
    stopped = all(math.isnan(x) for x in outcomes.values())
    return Run(outcomes, "world stopped: non-finite state" if stopped else "")


def nominal_run(
    definition: Scenario, cal: Calibration, *, steps: int, cohorts: int, seed: int
) -> tuple[Run, tuple[str, ...], float]:
    """The run at the calibration's own values, the leaf paths its model read, and its seconds.

    Raises:
        UsageError: the nominal run fails (nothing to audit around).
    """
    import time

    log = _ReadLog(cal.leaves)
    start = time.perf_counter()
    run = run_once(
        definition, dataclasses.replace(cal, leaves=log), steps=steps, cohorts=cohorts, seed=seed
    )
    seconds = time.perf_counter() - start
    if run.error:
        raise UsageError(f"the nominal run of {definition.name} failed ({run.error})")
    return run, tuple(p for p in cal.leaves if p in log.read), seconds


def run_design(
    definition: Scenario,
    cal: Calibration,
    bounds: Sequence[Bound],
    x: np.ndarray,
    *,
    steps: int,
    cohorts: int,
    seed: int,
    tick: Callable[[], None] = lambda: None,
) -> list[Run]:
    """One run per row of design ``x`` (one column per bound, in the file's units)."""
    paths = [b.path for b in bounds]
    return [
        run_once(
            definition,
            calibration_with(cal, dict(zip(paths, row, strict=True))),
            steps=steps,
            cohorts=cohorts,
            seed=seed,
            tick=tick,
        )
        for row in x
    ]


def outcome_column(runs: Sequence[Run], outcome: str) -> tuple[np.ndarray, int]:
    """One outcome over the runs, failed runs set to the finite runs' median; and their count."""
    y = np.asarray([r.outcomes.get(outcome, np.nan) for r in runs], dtype=float)
    bad = ~np.isfinite(y)
    if bad.all():
        return np.zeros_like(y), int(bad.sum())
    y[bad] = float(np.median(y[~bad]))
    return y, int(bad.sum())


# -- the two stages -----------------------------------------------------------------------------


def problem_of(bounds: Sequence[Bound]) -> dict[str, Any]:
    """The SALib problem of the audited values."""
    from experiments.sensitivity import problem

    return problem([b.path for b in bounds], [(b.low, b.high) for b in bounds])


def indices(
    kind: str,
    bounds: Sequence[Bound],
    x: np.ndarray,
    runs: Sequence[Run],
    outcomes: Sequence[str],
    seed: int,
) -> tuple[dict[str, Any], dict[str, int]]:
    """Morris or Sobol' indices per outcome (DataFrames by path) and failed runs per outcome."""
    from experiments.sensitivity import analyze

    spec = problem_of(bounds)
    frames, failed = {}, {}
    for outcome in outcomes:
        y, failed[outcome] = outcome_column(runs, outcome)
        with warnings.catch_warnings():  # one Morris trajectory: sigma has no degrees of freedom
            warnings.simplefilter("ignore", RuntimeWarning)
            frames[outcome] = analyze(kind, spec, x, y, levels=MORRIS_LEVELS, seed=seed)
    return frames, failed


def screening_score(frames: Mapping[str, Any], paths: Sequence[str]) -> dict[str, float]:
    """Each value's screening score: its largest relative ``mu*`` over the outcomes.

    An outcome's ``mu*`` is taken relative to the largest of that outcome, so that outcomes in
    different units weigh alike; 0 where an outcome did not move.
    """
    score = dict.fromkeys(paths, 0.0)
    for frame in frames.values():
        mu = frame["mu_star"].to_numpy(float)
        top = np.nanmax(mu) if np.isfinite(mu).any() else 0.0
        if top > 0:
            for path, m in zip(frame.index, mu, strict=True):
                if np.isfinite(m):
                    score[path] = max(score[path], float(m / top))
    return score


def band(runs: Sequence[Run], outcome: str) -> tuple[float, float, float]:
    """(5%, median, 95%) of an outcome over the finite runs (NaN when none)."""
    y = np.asarray([r.outcomes.get(outcome, np.nan) for r in runs], dtype=float)
    y = y[np.isfinite(y)]
    if not y.size:
        return (math.nan,) * 3
    return tuple(float(q) for q in np.quantile(y, (0.05, 0.5, 0.95)))  # type: ignore[return-value]


def scenario_table(path: Path, preset: str) -> dict[str, Any]:
    """The scenario table's numbers of ``preset`` (``docs/scenarios.json``); empty when absent.

    Returns:
        ``steps`` and ``worlds`` of the table, and ``metrics``: per metric its (5%, median, 95%)
        over worlds.
    """
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    rows = [r for r in data.get("per_world", []) if r.get("scenario") == preset]
    if not rows:
        return {}
    table = {}
    for key in data.get("metrics", {}):
        y = np.asarray([r.get(key) for r in rows], dtype=float)
        y = y[np.isfinite(y)]
        if y.size:
            table[key] = tuple(float(q) for q in np.quantile(y, (0.05, 0.5, 0.95)))
    return {"steps": data.get("steps"), "worlds": data.get("worlds"), "metrics": table}


__all__ = [
    "BOUNDS_FILE",
    "OUTCOMES",
    "Bound",
    "Run",
    "audited_values",
    "band",
    "bound_of",
    "build_error",
    "calibration_with",
    "feasible",
    "feasible_trajectories",
    "indices",
    "load_bounds",
    "nominal_run",
    "outcome_column",
    "problem_of",
    "run_design",
    "run_once",
    "scenario_table",
    "screening_score",
    "shares_of_a_whole",
]
