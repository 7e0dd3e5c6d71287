"""Scenario evidence: presets run over many worlds, the channel ablation and policy comparisons.

For a preset, :func:`simulate` runs E worlds for N weeks (:func:`experiments.run.build_run_model`,
the same model, policy and shocks as ``powderkeg run``) and reduces each world to the headline
numbers of :data:`experiments.metrics.METRICS`: peak AI-bond spread widening, AI equity drawdown,
defaults by family, bank failures, the lowest stablecoin peg, fire-sale volume and retail losses.

The channel ablation (:func:`run_ablation`) runs one preset with no contagion channel, each
channel alone (:meth:`abm.channels.Channels.only`) and all of them. Every configuration runs the
same worlds (the same seeds, so the same shock draws); a channel's *effect* is the loss with it
alone minus the loss with none. The sum of single-channel effects is compared with the effect of
all channels together; their ratio (all / sum of singles) above 1 means the channels are
super-additive (they amplify each other). Loss = the institutions' equity loss (each firm, bank,
fund and stablecoin issuer's fall in equity, at most its starting equity) + retail wealth loss.

A preset that names a ``spotlight_fund`` (a hedge fund) also follows that fund's prime brokers
(:class:`PrimeBrokers`): what each lent the fund at the start, what it lost when the fund failed,
its CET1 ratio at the start and at its lowest week and whether it failed, beside the same numbers
for every other bank. Its per-world numbers join the preset's under keys
``prime_broker.<bank>.<quantity>``, ``other_banks.<quantity>`` and ``spotlight_fund.<quantity>``.

A preset with a ``[compare]`` table is also run under each of its counterfactual policies on the
same worlds (:func:`comparison`): world w of the preset and world w of the counterfactual share
their seed and shocks, so the difference of their outcomes is the policy's alone. The comparison
reports the mean of these paired differences (preset − counterfactual) with a 95% t-interval
(:func:`paired_difference`) besides the shares of worlds where the preset does better, the same
or worse. ``powderkeg evidence`` (:mod:`experiments.evidence_command`) runs all of this;
:mod:`experiments.evidence_docs` writes it up.

:func:`earnings_at_risk` measures the banks' interest-rate risk at the start of ``baseline`` the
way banks disclose it: their net interest income over the next 12 months if every rate moved
±100 bp at once, on the balance sheet as it is (:meth:`abm.bank_earnings.BankEarnings.
net_interest_ahead`), per region.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from experiments.build import channels_of
from experiments.metrics import world_metrics
from experiments.run import build_run_model, resolve_config

# -- running ----------------------------------------------------------------------------------


def simulate(
    preset: str,
    *,
    worlds: int,
    steps: int,
    seed: int,
    backend: str,
    channels: Any = None,
    policy_overrides: dict[str, Any] | None = None,
    tick: Callable[[], None] | None = None,
) -> dict[str, np.ndarray]:
    """Run ``preset`` for ``worlds`` worlds and ``steps`` weeks; per-world numbers.

    ``policy_overrides`` replaces keys of the preset's policy (its ``[compare]``
    counterfactual); ``tick`` is called after every week (the progress bar). A preset with a
    ``spotlight_fund`` adds its prime brokers' numbers (:class:`PrimeBrokers`).
    """
    from abm.reporting import record_weeks

    config = resolve_config(preset, steps=steps, n_worlds=worlds, seed=seed, backend=backend)
    model = build_run_model(config, backend, channels=channels, policy_overrides=policy_overrides)
    fund = config.definition.spotlight_fund if config.definition is not None else None
    brokers = PrimeBrokers(model, fund) if fund else None

    def after_week() -> None:
        if brokers is not None:
            brokers.record()
        if tick is not None:
            tick()

    metrics = world_metrics(record_weeks(model, steps, after_week), model)
    return {**metrics, **brokers.per_world()} if brokers is not None else metrics


#: the parallel shifts of the earnings-at-risk table, fractions a year, by their label in bp
RATE_SHIFTS = {"-100": -0.01, "+100": 0.01}


def earnings_at_risk(seed: int, backend: str) -> dict[str, dict[str, float]]:
    """Each region's change of net interest income over 12 months per shift, % of the base.

    ``{"us": {"-100": ..., "+100": ...}, "eu": {...}}``: the banks of the region summed, at the
    start of ``baseline`` (world 0; every world starts from the same balance sheets), with the
    balance sheet held as it is (BCBS 368's ΔNII; docs/scenarios.md sets it beside the banks'
    own disclosures).
    """
    from abm.bank_earnings import REGION_NODES
    from kernels.backend import to_numpy

    config = resolve_config("baseline", steps=1, n_worlds=1, seed=seed, backend=backend)
    model = build_run_model(config, backend)
    earnings, state = model.bank_earnings, model.state

    def ahead(shift: float) -> np.ndarray:
        income = earnings.net_interest_ahead(state, model.economy, shift)
        return np.asarray(to_numpy(income), dtype=float)[0]

    base = ahead(0.0)
    changes = {label: ahead(shift) - base for label, shift in RATE_SHIFTS.items()}
    return {
        region: {
            label: 100.0 * float(change[mine].sum() / base[mine].sum())
            for label, change in changes.items()
        }
        for r, region in enumerate(node.rsplit(".", 1)[1] for node in REGION_NODES)
        if (mine := earnings.capital.regions == r).any()
    }


# -- a fund's prime brokers -------------------------------------------------------------------

#: the rule before which :class:`PrimeBrokers` reads the fund's loans every week: the clearing
#: of failures, the only rule after it that changes them (:mod:`abm.rules`)
CLEARING_RULE = "failures"


class PrimeBrokers:
    """What one hedge fund's failure costs the banks that lend to it, world by world.

    The fund's prime brokers are the holders of its ``bank_loans`` edges
    (:meth:`abm.ledger.Ledger.edges`; :func:`abm.exposures.prime_brokers` draws them when the
    policy names counterparties, which a preset with a spotlight fund must). A loss is
    what the clearing of failures writes off those edges (:mod:`abm.failures`: a failed
    borrower's lenders lose pro rata to their edges, nobody else), not what margin calls repaid
    earlier: so the observer adds a rule to the model's week just before the clearing
    (:data:`CLEARING_RULE`) that reads the edges, and :meth:`record`, after the week, adds what
    they lost since. The CET1 ratio is the regulatory one
    (:meth:`abm.constraints.BankCapital.cet1_ratios`, held-to-maturity Treasuries at cost); its
    low point is the lowest at the end of any week the bank began alive. Everything stays on the
    model's device until :meth:`per_world`.

    Args:
        model: the model, not yet stepped.
        fund: the hedge fund's name (``hedge_20``).
    """

    def __init__(self, model: Any, fund: str) -> None:
        from abm.rules import Rule
        from kernels.backend import to_numpy

        s = model.sheets
        xp, roster = s.xp, s.roster
        self.model, self.fund = model, fund
        edges = s.ledger.edges("bank_loans")
        banks = roster.indices("bank")
        mine = np.nonzero(to_numpy(edges.issuer) == roster.index(fund))[0]
        position = {int(b): k for k, b in enumerate(banks)}
        lenders = np.array([position[int(h)] for h in to_numpy(edges.holder)[mine]], dtype=int)
        self.brokers = sorted(set(lenders.tolist()))  # positions among the banks
        self.bank_names = [roster.names[int(b)] for b in banks]
        device = s.prices.device
        self._edges = xp.asarray(mine, device=device)
        self._lenders = xp.asarray(lenders, device=device)
        self._banks = xp.asarray(banks, device=device)
        self._fund = roster.index(fund)
        self.exposure = self._per_bank(self._balance())  # (E, B) USD bn at the start
        self.lost = xp.zeros_like(self.exposure)
        self._before = self._balance()
        self.cet1_start = self._cet1()
        self.cet1_low = self.cet1_start
        self._alive = ~xp.take(model.state.defaulted, self._banks, axis=1)
        self.failure_week = xp.zeros(self.exposure.shape[:1], dtype=xp.int32, device=device)
        rules = list(model.rules)
        at = [rule.name for rule in rules].index(CLEARING_RULE)
        rules.insert(at, Rule("prime brokers' loans read", "failures", self._read))
        model.rules = tuple(rules)

    def _balance(self) -> Any:
        """(E, K) what the fund owes on each of its edges now, USD bn."""
        edges = self.model.sheets.ledger.edges("bank_loans")
        return self.model.xp.take(edges.amount, self._edges, axis=1)

    def _per_bank(self, values: Any) -> Any:
        """(E, B) the fund's edge values (E, K) summed by lending bank."""
        from kernels.backend import segment_sum

        return segment_sum(values, self._lenders, self._banks.shape[0])

    def _cet1(self) -> Any:
        """(E, B) the banks' regulatory CET1 ratios now."""
        model = self.model
        assets, liabilities = model.sheets.assets_and_liabilities()
        addback = model.capital.htm_addback(model.state)
        ratios = model.capital.cet1_ratios(assets, liabilities, addback)
        return model.xp.take(ratios, self._banks, axis=1)

    def _read(self, state: Any) -> None:
        """The rule: the fund's edges just before this week's clearing."""
        self._before = self._balance()

    def record(self) -> None:
        """After a week: add what the clearing wrote off, lower the CET1 low points."""
        xp, state = self.model.xp, self.model.state
        self.lost = self.lost + self._per_bank(xp.maximum(self._before - self._balance(), 0.0))
        low = xp.minimum(self.cet1_low, self._cet1())
        self.cet1_low = xp.where(self._alive, low, self.cet1_low)
        self._alive = ~xp.take(state.defaulted, self._banks, axis=1)
        failed = state.defaulted[:, self._fund] & (self.failure_week == 0)
        week = xp.asarray(state.week, dtype=self.failure_week.dtype, device=failed.device)
        self.failure_week = xp.where(failed, week, self.failure_week)

    def per_world(self) -> dict[str, np.ndarray]:
        """Per-world numbers: each broker's, the other banks' (median bank, failures), the fund's.

        ``prime_broker.<bank>.``: ``exposure_usd_bn`` (lent at the start), ``loss_usd_bn``
        (written off), ``cet1_start_pct``, ``cet1_low_pct`` and ``failed`` (0 or 1);
        ``other_banks.``: the same, the median over the other banks, with ``failed`` their count;
        ``spotlight_fund.failed`` (0 or 1) and ``spotlight_fund.failure_week`` (NaN if never).
        """
        from kernels.backend import to_numpy

        failed = ~to_numpy(self._alive)
        columns = {
            "exposure_usd_bn": to_numpy(self.exposure),
            "loss_usd_bn": to_numpy(self.lost),
            "cet1_start_pct": 100.0 * to_numpy(self.cet1_start),
            "cet1_low_pct": 100.0 * to_numpy(self.cet1_low),
        }
        out: dict[str, np.ndarray] = {}
        for b in self.brokers:
            name = f"prime_broker.{self.bank_names[b]}"
            out.update({f"{name}.{key}": values[:, b] for key, values in columns.items()})
            out[f"{name}.failed"] = failed[:, b].astype(float)
        others = [b for b in range(len(self.bank_names)) if b not in self.brokers]
        for key, values in columns.items():
            out[f"other_banks.{key}"] = np.median(values[:, others], axis=1)
        out["other_banks.failed"] = failed[:, others].sum(axis=1).astype(float)
        week = to_numpy(self.failure_week).astype(float)
        out["spotlight_fund.failed"] = (week > 0).astype(float)
        out["spotlight_fund.failure_week"] = np.where(week > 0, week, np.nan)
        return out


# -- ablation ---------------------------------------------------------------------------------


@dataclass
class Ablation:
    """Per-world numbers of one preset under each channel configuration."""

    preset: str
    runs: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Mean losses per configuration, effects against ``none``, additivity and its ratio.

        Effects are means over worlds of per-world differences (every configuration runs the
        same worlds), so the sum of the single-channel means is the mean of their sums.
        """
        rows: dict[str, dict[str, float]] = {}
        none = self.runs.get("none")
        for name, run in self.runs.items():
            row = {
                "institution_equity_loss_usd_bn": float(
                    np.mean(run["institution_equity_loss_usd_bn"])
                ),
                "retail_loss_usd_bn": float(np.mean(run["retail_loss_usd_bn"])),
                "total_loss_usd_bn": float(np.mean(run["total_loss_usd_bn"])),
                "defaults": float(np.mean(_defaults(run))),
            }
            if none is not None:
                row["effect_usd_bn"] = float(
                    np.mean(run["total_loss_usd_bn"] - none["total_loss_usd_bn"])
                )
                row["effect_defaults"] = float(np.mean(_defaults(run) - _defaults(none)))
            rows[name] = row
        singles = [n for n in self.runs if n not in ("none", "all")]
        result: dict[str, Any] = {"preset": self.preset, "configurations": rows}
        if none is not None and "all" in self.runs and singles:
            total = sum(rows[n]["effect_usd_bn"] for n in singles)
            together = rows["all"]["effect_usd_bn"]
            result["sum_of_singles_usd_bn"] = total
            result["all_together_usd_bn"] = together
            result["amplification"] = together / total if total != 0 else float("nan")
            d_total = sum(rows[n]["effect_defaults"] for n in singles)
            result["sum_of_singles_defaults"] = d_total
            result["all_together_defaults"] = rows["all"]["effect_defaults"]
        return result


def _defaults(run: dict[str, np.ndarray]) -> np.ndarray:
    return sum(
        run[k] for k in ("defaults_firm", "defaults_fund", "defaults_stablecoin", "bank_failures")
    )


def run_ablation(
    preset: str,
    configs: Sequence[str],
    *,
    worlds: int,
    steps: int,
    seed: int,
    backend: str,
    tick: Callable[[], None] | None = None,
) -> Ablation:
    """Run ``preset`` once per configuration in ``configs`` (see :func:`ablation_configs`)."""
    ablation = Ablation(preset)
    for config in configs:
        ablation.runs[config] = simulate(
            preset,
            worlds=worlds,
            steps=steps,
            seed=seed,
            backend=backend,
            channels=channels_of(config),
            tick=tick,
        )
    return ablation


# -- policy comparisons -----------------------------------------------------------------------


def counterfactual_name(preset: str, spec: dict[str, Any]) -> str:
    """The scenario-table row of a preset's ``[compare]`` counterfactual."""
    return f"{preset}: {spec['label']}"


def paired_difference(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> dict[str, Any]:
    """Mean of the paired differences ``a − b`` over worlds, with its t-interval.

    The worlds are pairs (same seed, same shocks), so the differences ``d_w = a_w − b_w`` are
    independent draws of the policy's effect; the interval is the Student-t one,
    ``mean(d) ± t_{(1+level)/2, n−1} · sd(d) / √n`` with ``sd`` the sample standard deviation
    (n − 1 in the denominator) over the ``n`` worlds where both are finite (Student 1908; any
    statistics text, e.g. Rice, *Mathematical Statistics and Data Analysis*, 3rd ed., §11.3.1).
    With fewer than two such worlds the interval is NaN.

    Returns:
        ``difference_mean``, ``difference_low``, ``difference_high``, ``worlds`` (n) and
        ``no_difference`` (every finite pair is exactly equal).
    """
    from scipy import stats

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    both = np.isfinite(a) & np.isfinite(b)
    d = a[both] - b[both]
    n = int(d.size)
    mean = float(np.mean(d)) if n else float("nan")
    if n >= 2:
        half = float(stats.t.ppf((1.0 + level) / 2.0, n - 1) * np.std(d, ddof=1) / np.sqrt(n))
        low, high = mean - half, mean + half
    else:
        low = high = float("nan")
    return {
        "difference_mean": mean,
        "difference_low": low,
        "difference_high": high,
        "worlds": n,
        "no_difference": bool(n > 0 and np.all(d == 0.0)),
    }


def comparison(
    preset: str,
    spec: dict[str, Any],
    actual: dict[str, np.ndarray],
    counterfactual: dict[str, np.ndarray],
) -> dict[str, Any]:
    """How a preset's policy does against one counterfactual, world by world (same seeds).

    Returns the question, the metric's medians and means under both, the paired difference
    (preset − counterfactual: its mean and 95% t-interval, :func:`paired_difference`), and the
    shares of worlds in which the preset does better, the same, or worse (the worlds share
    their shocks, so each pair differs only by the policy).
    """
    metric = spec["metric"]
    a, b = np.asarray(actual[metric], float), np.asarray(counterfactual[metric], float)
    gain = (b - a) if spec["better"] == "lower" else (a - b)
    tie = np.isclose(a, b, rtol=1e-9, atol=1e-9)
    return {
        "preset": preset,
        "counterfactual": counterfactual_name(preset, spec),
        "question": spec["question"],
        "policy": spec["policy"],
        "metric": metric,
        "better": spec["better"],
        "median": float(np.median(a)),
        "median_counterfactual": float(np.median(b)),
        "mean": float(np.mean(a)),
        "mean_counterfactual": float(np.mean(b)),
        **paired_difference(a, b),
        "share_better": float(np.mean((gain > 0) & ~tie)),
        "share_same": float(np.mean(tie)),
        "share_worse": float(np.mean((gain < 0) & ~tie)),
    }


__all__ = [
    "CLEARING_RULE",
    "RATE_SHIFTS",
    "Ablation",
    "PrimeBrokers",
    "comparison",
    "counterfactual_name",
    "earnings_at_risk",
    "paired_difference",
    "run_ablation",
    "simulate",
]
