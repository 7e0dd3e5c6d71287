"""``powderkeg seed-targets``: the articles' own numbers as targets for the baseline (issue 17).

The five seed articles state 40 quantitative facts (Q01–Q40, copied with their source file and
sentence into ``experiments/seed_facts.toml``). Some are what the model should *produce* over its
five years: how much the hyperscalers borrow and at what spreads, how much private credit the
build-out draws, how large AI debt and capex grow. This module runs the baseline preset for E
worlds (NumPy), reads each such quantity from the run (the snapshot's ``bonds_issued``,
``credit_drawn``, ``oversubscription`` and ``debt``, the series ``spread_change_bp_<issuer>`` and
``hedge_fund_leverage_median``, ``WeekFlows.ai_capex`` and the circular deals' payments) and
compares the median over worlds with the article's value within a tolerance stated, with its
reason, in the facts file before any run. A value that is not finite, or a horizon longer than
the run, is never a PASS. The facts the model cannot speak to are listed with why.

The run starts at end-2025 (the calibration's date), so week 1–52 is 2026, weeks 1–156 are
2026–28 and weeks 1–260 are 2026–30.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from abm.state import REGIONS
from experiments.files import markdown_cell
from experiments.usage import (
    UsageError,
    add_ensemble_arguments,
    check_world_seeds,
    path_argument,
    writable_directory,
)

FACTS_PATH = Path(__file__).with_name("seed_facts.toml")
DEFAULT_OUT = Path("docs/seed-targets.md")
DEFAULTS = {"worlds": 100, "steps": 260, "seed": 0, "cohorts": 1000}

#: The five US cloud companies of Bank of America's tally (Q05, Q11).
HYPERSCALERS = ("amazon", "microsoft", "alphabet", "meta", "oracle")
#: The US IG issuance of 2025 (Q26), held as the market total that Q28's share is of (USD bn).
US_IG_ISSUANCE_2025 = 1700.0
#: The five hyperscalers' average yearly bond issuance in 2020–24 (Q06), USD bn.
HYPERSCALER_BONDS_2020_24 = 28.0
#: Length in weeks of BofA's spread window, 1 Sep–14 Nov 2025 (Q08–Q10), rounded up.
SPREAD_WINDOW_WEEKS = 11
YEAR, THREE_YEARS, FIVE_YEARS, QUARTER = 52, 156, 260, 13


def load_facts(path: Path = FACTS_PATH) -> dict[str, dict[str, Any]]:
    """The facts Q01–Q40 by id, in order (see the header of ``seed_facts.toml``)."""
    with path.open("rb") as handle:
        return tomllib.load(handle)


# -- measuring -----------------------------------------------------------------------------------


@dataclass
class Tally:
    """Per-world sums and readings the facts need, gathered week by week (all (E,) arrays).

    A reading at a week the run never reaches stays NaN, so its fact cannot pass.
    """

    hyperscalers: np.ndarray  # column indices of the five in the firm block
    spvs: np.ndarray  # column indices of the data-centre SPVs in the firm block
    firms: slice  # the firm block among all agents
    openai: int
    oracle: int
    us_gdp: float  # USD bn a year, the macro block's US nominal GDP
    capex_2025: float  # USD bn, the modelled firms' 2025 capex (calibration `capex_2025`)
    sums: dict[str, np.ndarray]
    readings: dict[str, np.ndarray]

    @classmethod
    def start(cls, model: Any) -> Tally:
        """Empty sums, and the readings of week 0 (the SPVs' debt, hedge-fund leverage)."""
        roster = model.roster
        lo, hi = roster.blocks["firm"]
        names = list(roster.names[lo:hi])
        kinds = np.asarray(roster.kind[lo:hi])
        e = model.n_worlds
        tally = cls(
            hyperscalers=np.array([names.index(n) for n in HYPERSCALERS]),
            spvs=np.flatnonzero(kinds == "spv"),
            firms=slice(lo, hi),
            openai=names.index("openai"),
            oracle=names.index("oracle"),
            us_gdp=float(np.asarray(model.macro.p.nominal_gdp)[REGIONS.index("us")]),
            capex_2025=sum(float(model.calibration.value(f"firms.{n}.capex_2025")) for n in names),
            sums={},
            readings={},
        )
        for key in (
            "hyperscaler_bonds_y1", "hyperscaler_cover_weighted_y1", "ai_bonds_y1",
            "spv_new_debt_y1", "capex_q1", "capex_y1", "credit_3y", "capex_3y", "capex_5y",
            "largest_deal_y1",
        ):  # fmt: skip
            tally.sums[key] = np.zeros(e)
        for key in (
            "spread_oracle", "spread_meta", "spread_alphabet", "hedge_leverage_y1",
            "ai_debt_3y", "openai_oracle_paid", "openai_amd_share",
        ):  # fmt: skip
            tally.readings[key] = np.full(e, np.nan)
        snap = model.snapshot
        tally.readings["spv_debt_start"] = tally._block(snap, "debt")[:, tally.spvs].sum(axis=1)
        tally.readings["hedge_leverage_start"] = _series(model, "hedge_fund_leverage_median")
        return tally

    def _block(self, snap: Mapping[str, Any], key: str) -> np.ndarray:
        """(E, F) the firm block's columns of a snapshot key, on the host."""
        return np.asarray(snap[key])[:, self.firms]

    def observe(self, model: Any, week: int) -> None:
        """Add what week ``week`` (1-based, just stepped) contributes to the sums and readings."""
        snap = model.snapshot
        issued = self._block(snap, "bonds_issued")
        credit = self._block(snap, "credit_drawn")
        capex = np.asarray(model.state.flows.ai_capex, dtype=float)
        s, r = self.sums, self.readings
        if week <= QUARTER:
            s["capex_q1"] += capex
        if week <= YEAR:
            big = issued[:, self.hyperscalers]
            cover = self._block(snap, "oversubscription")[:, self.hyperscalers]
            s["hyperscaler_bonds_y1"] += big.sum(axis=1)
            s["hyperscaler_cover_weighted_y1"] += (cover * big).sum(axis=1)
            s["largest_deal_y1"] = np.maximum(s["largest_deal_y1"], big.max(axis=1))
            s["ai_bonds_y1"] += issued.sum(axis=1)
            s["spv_new_debt_y1"] += (issued + credit)[:, self.spvs].sum(axis=1)
            s["capex_y1"] += capex
        if week <= THREE_YEARS:
            s["credit_3y"] += credit.sum(axis=1)
            s["capex_3y"] += capex
        if week <= FIVE_YEARS:
            s["capex_5y"] += capex
        if week == SPREAD_WINDOW_WEEKS:
            for issuer in ("oracle", "meta", "alphabet"):
                r[f"spread_{issuer}"] = _series(model, f"spread_change_bp_{issuer}")
        if week == YEAR:
            r["hedge_leverage_y1"] = _series(model, "hedge_fund_leverage_median")
        if week == THREE_YEARS:
            r["ai_debt_3y"] = self._block(snap, "debt").sum(axis=1)
        if week == FIVE_YEARS:
            paid = np.asarray(model.deals.paid_to_date)
            r["openai_oracle_paid"] = paid[:, self.openai, self.oracle].astype(float)
            r["openai_amd_share"] = _warrant_share(model, "amd")

    def measures(self, weeks: int) -> dict[str, np.ndarray]:
        """Each fact's ``measure`` per world; NaN where the run is shorter than its horizon."""
        s, r = self.sums, self.readings

        def within(horizon: int, value: np.ndarray) -> np.ndarray:
            return value if weeks >= horizon else np.full_like(value, np.nan)

        bonds = within(YEAR, s["hyperscaler_bonds_y1"])
        with np.errstate(divide="ignore", invalid="ignore"):
            cover = s["hyperscaler_cover_weighted_y1"] / s["hyperscaler_bonds_y1"]
            credit_share = s["credit_3y"] / s["capex_3y"]
            leverage_growth = r["hedge_leverage_y1"] / r["hedge_leverage_start"] - 1.0
        return {
            "largest_hyperscaler_deal_2026": within(YEAR, s["largest_deal_y1"]),
            "hyperscaler_cover_2026": within(YEAR, cover),
            "hyperscaler_bonds_2026": bonds,
            "hyperscaler_bonds_2026_multiple": bonds / HYPERSCALER_BONDS_2020_24,
            "spread_change_bp_oracle_11w": r["spread_oracle"],
            "spread_change_bp_meta_11w": r["spread_meta"],
            "spread_change_bp_alphabet_11w": r["spread_alphabet"],
            "credit_drawn_2026_28": within(THREE_YEARS, s["credit_3y"]),
            "credit_share_of_capex_2026_28": within(THREE_YEARS, credit_share),
            "openai_oracle_paid": r["openai_oracle_paid"],
            "openai_amd_warrant_share_2030": r["openai_amd_share"],
            "hedge_fund_leverage_growth_2026": leverage_growth,
            "ai_capex_share_of_gdp_2026": within(YEAR, s["capex_y1"]) / self.us_gdp,
            "ai_capex_growth_contribution_2026": 100.0
            * (within(YEAR, s["capex_y1"]) - self.capex_2025)
            / self.us_gdp,
            "ai_capex_first_quarter": within(QUARTER, s["capex_q1"]),
            "spv_new_debt_2026": within(YEAR, s["spv_new_debt_y1"]),
            "ai_share_of_ig_issuance_2026": within(YEAR, s["ai_bonds_y1"]) / US_IG_ISSUANCE_2025,
            "ai_debt_2028": r["ai_debt_3y"],
            "ai_capex_2026_30": within(FIVE_YEARS, s["capex_5y"]),
            "spv_debt_start": r["spv_debt_start"],
        }


def _warrant_share(model: Any, issuer: str) -> np.ndarray:
    """(E,) share of ``issuer``'s equity units that vested warrants have issued (abm/warrants.py).

    Units issued over all units now (the 2025 units plus those issued); 0 where no warrant on
    the issuer is modelled.
    """
    warrants = model.warrants
    table = model.sheets.assets
    asset = table.equity_of(issuer)
    on_issuer = np.array([row[2] == asset for row in warrants.rows], dtype=bool)  # (K,)
    vested, units = np.asarray(warrants.vested), np.asarray(warrants.units)
    issued = (vested * units[None, :, :] * on_issuer[None, :, None]).sum(axis=(1, 2))
    return issued / (table.outstanding[asset] + issued)


def _series(model: Any, name: str) -> np.ndarray:
    """(E,) this week's value of a reported series (abm/reporting.py), as floats."""
    return np.asarray(model.week_series[name], dtype=float).copy()


def measure(
    *, worlds: int, steps: int, seed: int, cohorts: int, tick: Callable[[], None] | None = None
) -> dict[str, np.ndarray]:
    """Run the baseline preset on NumPy for ``worlds`` worlds and ``steps`` weeks; each measure.

    ``tick`` is called after every week (the progress bar).
    """
    from experiments.build import build_model
    from experiments.scenarios import load_preset

    model = build_model(
        load_preset("baseline"), n_worlds=worlds, seed=seed, backend="numpy", n_cohorts=cohorts
    )
    tally = Tally.start(model)
    for week in range(1, steps + 1):
        model.step()
        tally.observe(model, week)
        if tick is not None:
            tick()
    return tally.measures(steps)


# -- judging and writing ------------------------------------------------------------------------


def verdict(fact: Mapping[str, Any], values: np.ndarray) -> dict[str, Any]:
    """Median and 5–95% over worlds, and PASS when the median is finite and in [low, high]."""
    values = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        median, p5, p95 = (float(np.percentile(values, q)) for q in (50, 5, 95))
    passed = bool(np.isfinite(median) and fact["low"] <= median <= fact["high"])
    return {"median": median, "p5": p5, "p95": p95, "passed": passed}


def _number(x: float) -> str:
    """A value for the table: three significant figures, 'n/a' when not finite."""
    if not np.isfinite(x):
        return "n/a"
    return f"{x:,.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def _range(fact: Mapping[str, Any]) -> str:
    """The PASS range of a fact, e.g. ``[75, 125]`` or ``≥ 75``."""
    if np.isinf(fact["high"]):
        return f"≥ {_number(fact['low'])}"
    return f"[{_number(fact['low'])}, {_number(fact['high'])}]"


def judge(
    facts: Mapping[str, Mapping[str, Any]], measured: Mapping[str, np.ndarray]
) -> dict[str, dict[str, Any]]:
    """The verdict of every fact that has a ``measure``, by fact id."""
    return {
        qid: verdict(fact, measured[fact["measure"]])
        for qid, fact in facts.items()
        if "measure" in fact
    }


def render(
    meta: Mapping[str, Any],
    facts: Mapping[str, Mapping[str, Any]],
    verdicts: Mapping[str, Mapping[str, Any]],
) -> str:
    """The whole Markdown file: provenance, the targets, the facts not measured, the sources."""
    git = meta["git"]
    commit = git.get("commit") or "unknown"
    if git.get("dirty"):
        commit += " (with uncommitted changes)"
    passed = sum(v["passed"] for v in verdicts.values())
    lines = [
        "# The articles' numbers as targets for the baseline",
        "",
        "Generated by `powderkeg seed-targets`; do not edit by hand.",
        "",
        f"- command: `{meta['command']}`",
        f"- created (UTC): {meta['created_utc']}",
        f"- git commit: {commit}",
        f"- baseline preset, NumPy, {meta['worlds']} worlds, {meta['steps']} weeks, "
        f"{meta['cohorts']} retail cohorts, seed {meta['seed']} (world w uses seed + w)",
        "",
        "The five seed articles state 40 quantitative facts (Q01–Q40; source file and sentence at "
        "the end, from `experiments/seed_facts.toml`). The run starts at end-2025, so weeks 1–52 "
        "are 2026. Each target below compares the baseline's median over worlds with the "
        "article's value; the tolerance and its reason were written before any run. A value "
        "that is not finite, or a horizon longer than the run, is never a PASS. Forecasts need "
        "not be met: the row shows the distance.",
        "",
        f"**{passed} of {len(verdicts)} targets pass; {len(facts) - len(verdicts)} facts are "
        "not measured (listed with why).**",
        "",
        "## Targets",
        "",
        "| fact | article | target | where the model represents it | tolerance (why) | "
        "baseline median [5%, 95%] | result |",
        "|---|---|---|---|---|---|---|",
    ]
    for qid, v in verdicts.items():
        fact = facts[qid]
        article = f"{fact['value']} {fact['unit']} ({fact['period']}): {fact['describes']}"
        target = f"{_number(fact['target'])} {fact['target_unit']}, pass {_range(fact)}"
        value = f"{_number(v['median'])} [{_number(v['p5'])}, {_number(v['p95'])}]"
        result = "PASS" if v["passed"] else "FAIL"
        cells = (qid, article, target, fact["where"], fact["tolerance"], value, result)
        lines.append("| " + " | ".join(markdown_cell(c) for c in cells) + " |")
    lines += misses(facts, verdicts)
    lines += [
        "",
        "## Facts the model cannot speak to",
        "",
        "| fact | article | why not |",
        "|---|---|---|",
    ]
    for qid, fact in facts.items():
        if "measure" not in fact:
            article = f"{fact['value']} {fact['unit']} ({fact['period']}): {fact['describes']}"
            lines.append(f"| {qid} | {markdown_cell(article)} | {markdown_cell(fact['why'])} |")
    lines += ["", "## Sources", "", "| fact | source file | key sentence |", "|---|---|---|"]
    for qid, fact in facts.items():
        lines.append(f"| {qid} | {fact['source']} | {markdown_cell(fact['sentence'])} |")
    return "\n".join(lines) + "\n"


def misses(
    facts: Mapping[str, Mapping[str, Any]], verdicts: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """The section that says, for each target that fails, by how much and why.

    The why is the fact's ``miss`` in ``seed_facts.toml`` (what the model leaves out or does
    differently); a failing target without one says so, rather than staying silent.
    """
    failing = [qid for qid, v in verdicts.items() if not v["passed"]]
    if not failing:
        return []
    lines = ["", "## Where the baseline misses, and why", ""]
    for qid in failing:
        fact, v = facts[qid], verdicts[qid]
        distance = (
            f"{_number(v['median'] / fact['target'])}× the target"
            if np.isfinite(v["median"]) and fact["target"]
            else "no finite value"
        )
        why = fact.get("miss", "not explained yet.")
        lines.append(
            f"- **{qid}** ({fact['describes']}): median {_number(v['median'])} "
            f"{fact['target_unit']} against {_number(fact['target'])}, {distance}. {why}"
        )
    return lines


# -- the command --------------------------------------------------------------------------------


def add_arguments(parser: Any) -> None:
    """The flags of ``powderkeg seed-targets``."""
    add_ensemble_arguments(
        parser,
        DEFAULTS,
        worlds="worlds of the baseline",
        steps="weeks per world (five years: 2026-30)",
        cohorts=True,
    )
    parser.add_argument(
        "--out",
        type=path_argument,
        default=DEFAULT_OUT,
        metavar="FILE.md",
        help="the Markdown file (default: %(default)s)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def check_out(out: Path) -> Path:
    """``out`` as a writable Markdown file path, checked before the run.

    Raises:
        UsageError: not ending in .md, an existing non-file, or a folder that cannot be written.
    """
    out = out.expanduser()
    if out.suffix != ".md":
        raise UsageError(f"argument --out: give a Markdown file ending in .md; got {str(out)!r}")
    if out.exists() and not out.is_file():
        raise UsageError(f"argument --out: {out} exists and is not a file; give a file path")
    writable_directory(out.parent if str(out.parent) else Path("."), "--out")
    return out


def command(args: Any) -> int:
    """``powderkeg seed-targets``: check the input, run the baseline, write the table."""
    from tqdm import tqdm

    from experiments.evidence_docs import provenance
    from experiments.files import write_atomically

    check_world_seeds(args.seed, args.worlds)
    out = check_out(args.out)
    facts = load_facts()
    bar = tqdm(
        total=args.steps,
        desc=f"seed targets ({args.worlds} world{'s' * (args.worlds > 1)})",
        unit="week",
        file=sys.stderr,
        disable=args.no_progress,
        mininterval=0.5,
    )
    with bar:
        measured = measure(
            worlds=args.worlds,
            steps=args.steps,
            seed=args.seed,
            cohorts=args.cohorts,
            tick=lambda: bar.update(1),
        )
    verdicts = judge(facts, measured)
    meta = provenance(
        args.argv, worlds=args.worlds, steps=args.steps, seed=args.seed, backend="numpy"
    )
    meta["cohorts"] = args.cohorts
    text = render(meta, facts, verdicts)
    write_atomically({out: lambda path: path.write_text(text, encoding="utf-8")})
    for qid, v in verdicts.items():
        print(f"{qid} {'PASS' if v['passed'] else 'FAIL'} median {_number(v['median'])}")
    print(f"wrote {out}")
    return 0


__all__ = ["add_arguments", "command", "judge", "load_facts", "measure", "render", "verdict"]
