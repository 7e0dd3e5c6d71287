"""``powderkeg audit``: the calibration audit, into ``docs/calibration-audit.md``.

Checks every flag first, runs the preset once at the calibration's own values (which also finds
the leaves its model reads and times one run), screens every audited estimate by Morris
elementary effects, computes Sobol' indices of the ``--top`` values the screening ranks first
(:mod:`experiments.calibration_audit`), and writes the Markdown file: the sensitivity band of each
headline number beside the scenario table's (``docs/scenarios.json``), the top values with their
bound, its basis and source and their indices per outcome, and the screening of all audited
values. The ranking of every value goes beside it as ``.csv``, everything as ``.json``. The file
records the command, date, sizes, seed, the seconds per run and the git commit.
"""

from __future__ import annotations

import csv
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from experiments.calibration_audit import OUTCOMES, Bound
from experiments.files import markdown_cell
from experiments.usage import UsageError, flag_type, path_argument, positive_int

DEFAULT_OUT = Path("docs/calibration-audit.md")
DEFAULT_SCENARIOS = Path("docs/scenarios.json")
DEFAULTS = {
    "preset": "severe_ai_bust",
    "cohorts": 100,
    "seed": 0,
    "trajectories": 2,
    "samples": 8,
    "top": 20,
}
#: Morris trajectories drawn per one wanted: those with a point that cannot be built are passed.
CANDIDATES = 10
#: Screening rows shown in the Markdown file (all are in the .csv).
SCREENING_ROWS = 50


def add_arguments(parser: Any) -> None:
    """The flags of ``powderkeg audit``."""
    parser.add_argument(
        "--preset",
        default=DEFAULTS["preset"],
        metavar="NAME",
        help="the preset audited (default: %(default)s)",
    )
    parser.add_argument(
        "--steps",
        type=flag_type("steps"),
        default=None,
        metavar="N",
        help="weeks per run (default: the preset's own)",
    )
    parser.add_argument(
        "--cohorts",
        type=flag_type("n_cohorts"),
        default=DEFAULTS["cohorts"],
        metavar="C",
        help="retail cohorts per run (default: %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=flag_type("seed"),
        default=DEFAULTS["seed"],
        metavar="S",
        help="the one world's seed, the same in every run, and the designs' "
        "sampling seed (default: %(default)s)",
    )
    parser.add_argument(
        "--trajectories",
        type=positive_int,
        default=DEFAULTS["trajectories"],
        metavar="R",
        help="Morris trajectories: R (D + 1) runs for D values (default: %(default)s)",
    )
    parser.add_argument(
        "--samples",
        type=positive_int,
        default=DEFAULTS["samples"],
        metavar="N",
        help="Sobol' base sample, a power of two: N (K + 2) runs (default: %(default)s)",
    )
    parser.add_argument(
        "--top",
        type=positive_int,
        default=DEFAULTS["top"],
        metavar="K",
        help="values the screening passes to the Sobol' stage (default: %(default)s)",
    )
    parser.add_argument(
        "--values",
        default=None,
        metavar="P,Q,...",
        help="audit only leaves whose path starts with one of these "
        "(default: every audited estimate)",
    )
    parser.add_argument(
        "--outcomes",
        default=",".join(OUTCOMES),
        metavar="A,B,...",
        help="headline numbers ranked (default: %(default)s)",
    )
    parser.add_argument(
        "--scenarios",
        type=path_argument,
        default=DEFAULT_SCENARIOS,
        metavar="FILE.json",
        help="the scenario table's numbers shown beside the bands (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=path_argument,
        default=DEFAULT_OUT,
        metavar="FILE.md",
        help="the Markdown file; .csv and .json go beside it (default: %(default)s)",
    )
    parser.add_argument(
        "--rerender",
        action="store_true",
        help="no run: write --out again from its .json with the scenario table (--scenarios) "
        "read anew; the other flags are the record's (make docs runs the audit beside the "
        "scenario table and this after both)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def _listed(text: str | None, flag: str) -> tuple[str, ...]:
    items = tuple(p.strip() for p in (text or "").split(",") if p.strip())
    if text is not None and not items:
        raise UsageError(f"argument {flag}: give at least one comma-separated name")
    return items


def check_outcomes(text: str) -> tuple[str, ...]:
    """The ``--outcomes`` names, each a headline number of :mod:`experiments.metrics`.

    Raises:
        UsageError: an unknown name (the message lists the allowed ones).
    """
    from experiments.metrics import EXTRA, METRICS

    allowed = (*(m.key for m in METRICS), *EXTRA)
    names = _listed(text, "--outcomes")
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise UsageError(
            f"argument --outcomes: unknown {', '.join(unknown)}; choose from {', '.join(allowed)}"
        )
    return names


# -- writing ------------------------------------------------------------------------------------


def _fmt(x: float) -> str:
    """Three significant figures (whole numbers from 1,000 up); 'n/a' when not finite."""
    if not isinstance(x, int | float) or not math.isfinite(x):
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def _interval(x: float, conf: float) -> str:
    return f"{_fmt(x)} ± {_fmt(conf)}" if math.isfinite(x) else "n/a"


def _band(q: Sequence[float] | None) -> str:
    return f"{_fmt(q[1])} [{_fmt(q[0])}, {_fmt(q[2])}]" if q else "n/a"


def render(result: Mapping[str, Any], data_files: Sequence[str]) -> str:
    """The whole Markdown file: provenance, method, bands, the top values, the screening."""
    from experiments.metrics import METRICS

    meta = result["meta"]
    git = meta["git"]
    commit = (git.get("commit") or "unknown") + " (with uncommitted changes)" * bool(
        git.get("dirty")
    )
    top: list[Bound] = result["top"]
    outcomes = result["outcomes"]
    runs = meta["runs"]
    lines = [
        "# Calibration audit",
        "",
        "Generated by a command; do not edit by hand. Regenerate with:",
        "",
        "```bash",
        meta["command"],
        "```",
        "",
        f"- date (UTC): {meta['created_utc']}",
        f"- preset {meta['preset']}, {meta['steps']} weeks, one world of {meta['cohorts']} retail "
        f"cohorts per run, world seed {meta['seed']} in every run (differences between runs are "
        f"the values' effects), backend numpy; design sampling seed {meta['seed']}",
        f"- Morris screening: {meta['trajectories']} trajectories over {meta['audited']} values, "
        f"{runs['morris']} runs; Sobol' indices of the top {len(top)}: base sample "
        f"{meta['samples']}, {runs['sobol']} runs; plus the nominal run",
        f"- {meta['seconds_per_run']:.2f} s per run measured (mean over the design's runs); "
        f"{meta['seconds_total']:.0f} s in all",
        f"- powderkeg version: {meta['version']}, git commit: {commit}",
        f"- data: {', '.join(data_files)}",
        "",
        "## What is varied, and how",
        "",
        f"The audited values are the calibration's numeric `estimate` leaves that the "
        f"{meta['preset']} model reads ({meta['read_estimates']} of "
        f"{meta['all_estimates']} numeric estimates are read), less counts of agents, shares "
        "of a whole (a fund's allocation, the split of household deposits over the cohorts: "
        "sets of shares that sum to 1, so one cannot move alone) and zeros without a stated "
        f"range: {meta['audited']} values. Each is varied over a bound, in this order: a "
        "public source or an argued bound in `experiments/audit_bounds.toml` (basis `source` "
        "or `argued`); "
        "the leaf's own `range`; else the default rule, the value ±50% of its magnitude, clipped "
        "to [0, 1] for shares (basis `rule`). The ±50% is a width, not a claim: it is the "
        "audit's stated uncertainty of a value nobody has sourced. "
        f"An end of a bound at which the model's opening balance sheets cannot be built "
        f"(its accounting checks raise) is moved halfway toward the value until they can, at "
        f"most 3 times, then to the value: {meta['cut']} bounds were cut so (their reason is "
        "in the .json). Values moved together can break the accounting where none does "
        "alone (several banks' deposit shares low at once leave no room for the households' "
        f"deposits): {meta['trajectories_passed_over']} Morris trajectories with such a point "
        "were passed over for the next one drawn.",
        "",
        "Screening: Morris elementary effects (Morris 1991; `mu*` of Campolongo et al. 2007), "
        "on a 4-level grid. A value's screening score is its largest `mu*` over the outcomes, "
        "each outcome's `mu*` relative to that outcome's largest (outcomes in different units "
        "weigh alike). The top values by this score get Sobol' first-order `S1` and total "
        "`ST` indices (Saltelli et al. 2010) with 95% bootstrap intervals (±). With a small base "
        "sample the intervals are wide and an index may come out below 0 or above 1: read the "
        "ranking, not the digits. n/a: the outcome did not move in any run of the stage (no "
        "variance to apportion).",
        "",
    ]
    failed = {k: v for k, v in result["failed"].items() if v}
    if failed:
        lines += [
            "Runs without an outcome (the model raised or the world stopped; set to the median "
            "of the others for the indices): "
            + "; ".join(f"{k}: {v}" for k, v in failed.items())
            + ". First errors: "
            + "; ".join(markdown_cell(e) for e in result["errors"][:3]),
            "",
        ]
    table = result["scenario_table"]
    lines += [
        "## Sensitivity bands beside the scenario table",
        "",
        f"Each outcome at the calibration's own values (this seed), and its median and 5–95% "
        f"range over the {runs['sobol']} Sobol' runs (the top {len(top)} values moved together "
        "over their bounds), beside the scenario table's median and 5–95% range over worlds "
        + (
            f"(docs/scenarios.md: {table['worlds']} worlds, {table['steps']} weeks)."
            if table
            else "(not available: no scenario table for this preset)."
        ),
        "The band is the calibration's uncertainty at one seed; the table's range is the "
        "model's noise at the calibration's values."
        + (
            f" The table ran {table['steps']} weeks, the audit {meta['steps']}: outcomes that "
            "build over time (losses, fire sales, defaults) are not comparable one to one."
            if table and table["steps"] != meta["steps"]
            else ""
        ),
        "",
        "| outcome | nominal | audit band: median [5%, 95%] | scenario table: median [5%, 95%] |",
        "| --- | ---: | ---: | ---: |",
    ]
    for m in METRICS:
        nominal = result["nominal"].get(m.key, math.nan)
        lines.append(
            f"| {m.label} | {_fmt(nominal)} | {_band(result['bands'].get(m.key))} | "
            f"{_band(table.get('metrics', {}).get(m.key) if table else None)} |"
        )
    lines += [
        "",
        f"## The {len(top)} most influential estimates",
        "",
        "Bound in the leaf's unit; basis: `source` (a public number, cited), `argued` (no "
        "public number found; the reasoning), `range` (the calibration's), `rule` (±50%; the "
        "leaf's own basis shown).",
        "",
        "| # | value | unit | calibration | bound | basis | source or reasoning | score |",
        "| ---: | --- | --- | ---: | --- | --- | --- | ---: |",
    ]
    score = result["score"]
    for i, b in enumerate(top, 1):
        lines.append(
            f"| {i} | `{b.path}` | {b.unit} | {_fmt(b.value)} | [{_fmt(b.low)}, {_fmt(b.high)}] "
            f"| {b.basis}{' (cut)' * bool(b.cut)} | {markdown_cell(b.source)} | "
            f"{score[b.path]:.2f} |"
        )
    for outcome in outcomes:
        sobol, morris = result["sobol"][outcome], result["morris"][outcome]
        lines += [
            "",
            f"### {outcome}",
            "",
            "| value | mu* | S1 | ST |",
            "| --- | ---: | ---: | ---: |",
        ]
        order = sorted(top, key=lambda b: -np.nan_to_num(sobol.loc[b.path, "ST"], nan=-1.0))
        for b in order:
            s = sobol.loc[b.path]
            lines.append(
                f"| `{b.path}` | {_fmt(morris.loc[b.path, 'mu_star'])} | "
                f"{_interval(s['S1'], s['S1_conf'])} | {_interval(s['ST'], s['ST_conf'])} |"
            )
    ranked = sorted(result["bounds"], key=lambda b: -score[b.path])
    lines += [
        "",
        f"## Screening: the first {min(SCREENING_ROWS, len(ranked))} of {len(ranked)} values",
        "",
        "`mu*` per outcome in the outcome's unit per unit of the value's full bound (SALib "
        f"scales elementary effects by the bound). All {len(ranked)} are in the .csv.",
        "",
        "| # | value | bound | basis | score | " + " | ".join(outcomes) + " |",
        "| ---: | --- | --- | --- | ---: | " + " | ".join("---:" for _ in outcomes) + " |",
    ]
    for i, b in enumerate(ranked[:SCREENING_ROWS], 1):
        mus = " | ".join(_fmt(result["morris"][o].loc[b.path, "mu_star"]) for o in outcomes)
        lines.append(
            f"| {i} | `{b.path}` | [{_fmt(b.low)}, {_fmt(b.high)}] | {b.basis} | "
            f"{score[b.path]:.2f} | {mus} |"
        )
    return "\n".join(lines) + "\n"


def _finite(x: Any) -> Any:
    return float(x) if isinstance(x, int | float | np.floating) and math.isfinite(x) else None


def write_outputs(out: Path, result: Mapping[str, Any]) -> None:
    """The Markdown file, the screening of every value (.csv) and everything (.json)."""
    from experiments.files import write_page_table_record

    csv_path, json_path = out.with_suffix(".csv"), out.with_suffix(".json")
    text = render(result, [csv_path.name, json_path.name])
    outcomes, score = result["outcomes"], result["score"]
    ranked = sorted(result["bounds"], key=lambda b: -score[b.path])
    record = {
        "meta": result["meta"],
        "outcomes": list(outcomes),
        "nominal": {k: _finite(v) for k, v in result["nominal"].items()},
        "bands": {k: [_finite(x) for x in v] for k, v in result["bands"].items()},
        "scenario_table": result["scenario_table"],
        "failed": result["failed"],
        "errors": result["errors"],
        "values": [
            {
                "path": b.path,
                "unit": b.unit,
                "value": b.value,
                "low": b.low,
                "high": b.high,
                "basis": b.basis,
                "source": b.source,
                "cut": b.cut,
                "score": score[b.path],
                "morris": {
                    o: {k: _finite(v) for k, v in result["morris"][o].loc[b.path].items()}
                    for o in outcomes
                },
                "sobol": {
                    o: {k: _finite(v) for k, v in result["sobol"][o].loc[b.path].items()}
                    for o in outcomes
                }
                if b in result["top"]
                else None,
            }
            for b in ranked
        ],
    }

    def write_csv(path: Path) -> None:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                [
                    "rank",
                    "path",
                    "unit",
                    "value",
                    "low",
                    "high",
                    "basis",
                    "score",
                    *(f"mu_star_{o}" for o in outcomes),
                ]
            )
            for i, b in enumerate(ranked, 1):
                mus = [f"{result['morris'][o].loc[b.path, 'mu_star']:.6g}" for o in outcomes]
                writer.writerow(
                    [
                        i,
                        b.path,
                        b.unit,
                        f"{b.value:.6g}",
                        f"{b.low:.6g}",
                        f"{b.high:.6g}",
                        b.basis,
                        f"{score[b.path]:.4f}",
                        *mus,
                    ]
                )

    write_page_table_record(out, text, csv_path, write_csv, json_path, record)


def _number(x: Any) -> float:
    return math.nan if x is None else float(x)


def result_from_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """The result :func:`write_outputs` wrote into its ``.json``, rebuilt for :func:`render`.

    The record keeps every number the Markdown file shows (non-finite ones as ``null``); the
    values are listed by screening score, the Sobol' stage's first, as :func:`command` ranks
    them, so the rebuilt result renders the same file.

    Raises:
        KeyError, TypeError, ValueError: the record is not an audit's.
    """
    import pandas as pd

    from experiments.calibration_audit import Bound

    outcomes = tuple(record["outcomes"])
    values = record["values"]
    bounds = [
        Bound(
            path=v["path"],
            value=float(v["value"]),
            unit=v["unit"],
            low=float(v["low"]),
            high=float(v["high"]),
            basis=v["basis"],
            source=v["source"],
            cut=v["cut"],
        )
        for v in values
    ]
    top = [b for b, v in zip(bounds, values, strict=True) if v["sobol"] is not None]

    def frames(stage: str, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        return {
            o: pd.DataFrame.from_dict(
                {v["path"]: {k: _number(x) for k, x in v[stage][o].items()} for v in rows},
                orient="index",
            )
            for o in outcomes
        }

    return {
        "meta": record["meta"],
        "outcomes": outcomes,
        "bounds": bounds,
        "top": top,
        "score": {v["path"]: float(v["score"]) for v in values},
        "morris": frames("morris", values),
        "sobol": frames("sobol", [v for v in values if v["sobol"] is not None]),
        "nominal": {k: _number(x) for k, x in record["nominal"].items()},
        "bands": {k: tuple(_number(x) for x in q) for k, q in record["bands"].items()},
        "scenario_table": record["scenario_table"],
        "failed": record["failed"],
        "errors": record["errors"],
    }


def rerender(out: Path, scenarios: Path) -> int:
    """``powderkeg audit --rerender``: the audit's files again with the scenario table read anew."""
    import json

    from experiments import calibration_audit as audit

    record_path = out.with_suffix(".json")
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        result = result_from_record(record)
    except OSError:
        raise UsageError(
            f"argument --rerender: no audit record {record_path}; run powderkeg audit first"
        ) from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UsageError(
            f"argument --rerender: {record_path} is not a calibration audit's record"
        ) from None
    result["scenario_table"] = audit.scenario_table(scenarios, result["meta"]["preset"])
    write_outputs(out, result)
    table = result["scenario_table"]
    print(
        f"wrote {out} from {record_path.name} with "
        + (f"the scenario table of {table['worlds']} worlds" if table else "no scenario table")
    )
    return 0


# -- the command --------------------------------------------------------------------------------


def command(args: Any) -> int:
    """``powderkeg audit``: check the input, screen, compute the indices, write the file."""
    import time

    from tqdm import tqdm

    from abm.calibration import load_calibration
    from experiments import calibration_audit as audit
    from experiments.evidence_command import check_out_file
    from experiments.evidence_docs import provenance
    from experiments.scenarios import load_preset
    from experiments.seed_targets import check_out
    from experiments.sensitivity import design_size, sample

    if args.rerender:
        return rerender(check_out(args.out), args.scenarios)
    if args.samples & (args.samples - 1):
        raise UsageError(f"argument --samples: must be a power of two; got {args.samples}")
    outcomes = check_outcomes(args.outcomes)
    prefixes = _listed(args.values, "--values")
    definition = load_preset(args.preset)
    steps = args.steps if args.steps is not None else int(definition.model.get("steps", 260))
    out = check_out(args.out)
    check_out_file(out)
    bounds_file = audit.load_bounds()
    cal = load_calibration()
    unknown = [p for p in bounds_file if p not in cal.leaves]
    if unknown:
        raise UsageError(
            f"bounds file {audit.BOUNDS_FILE}: not leaves of the calibration: {', '.join(unknown)}"
        )

    start = time.perf_counter()
    settings = {"steps": steps, "cohorts": args.cohorts, "seed": args.seed}
    nominal, read, _ = audit.nominal_run(definition, cal, **settings)
    listed = audit.audited_values(cal, read, bounds_file, prefixes)
    if len(listed) < 2:
        raise UsageError(
            f"argument --values: {len(listed)} audited value(s) match {', '.join(prefixes)}; "
            "the audit needs at least 2 (numeric estimates the model reads)"
        )
    if not args.no_progress:
        print(f"checking the ends of {len(listed)} bounds ...", file=sys.stderr)
    bounds = audit.feasible(definition, cal, listed, cohorts=args.cohorts, seed=args.seed)
    k = min(args.top, len(bounds))
    n_morris = design_size("morris", args.trajectories, len(bounds))
    n_sobol = design_size("sobol", args.samples, k)
    bar = tqdm(
        total=n_morris + n_sobol,
        desc=f"audit {args.preset}",
        unit="run",
        file=sys.stderr,
        disable=args.no_progress,
        mininterval=0.5,
    )
    design_start = time.perf_counter()
    with bar:
        bar.set_postfix_str(f"Morris, {len(bounds)} values")
        spec = audit.problem_of(bounds)
        candidates = sample(
            "morris",
            spec,
            CANDIDATES * args.trajectories,
            seed=args.seed,
            levels=audit.MORRIS_LEVELS,
        )
        checked = iter(range(1, candidates.shape[0] + 1))
        x_morris, passed = audit.feasible_trajectories(
            definition,
            cal,
            bounds,
            candidates,
            args.trajectories,
            cohorts=args.cohorts,
            seed=args.seed,
            tick=lambda: bar.set_postfix_str(f"checking trajectories: {next(checked)} points"),
        )
        bar.set_postfix_str(f"Morris, {len(bounds)} values")
        morris_runs = audit.run_design(
            definition, cal, bounds, x_morris, tick=lambda: bar.update(1), **settings
        )
        morris, failed_m = audit.indices(
            "morris", bounds, x_morris, morris_runs, outcomes, args.seed
        )
        score = audit.screening_score(morris, [b.path for b in bounds])
        top = sorted(bounds, key=lambda b: -score[b.path])[:k]
        bar.set_postfix_str(f"Sobol', top {k}")
        x_sobol = sample("sobol", audit.problem_of(top), args.samples, seed=args.seed)
        sobol_runs = audit.run_design(
            definition, cal, top, x_sobol, tick=lambda: bar.update(1), **settings
        )
        sobol, failed_s = audit.indices("sobol", top, x_sobol, sobol_runs, outcomes, args.seed)
    seconds = (time.perf_counter() - design_start) / (len(morris_runs) + len(sobol_runs))
    from experiments.metrics import METRICS

    meta = provenance(args.argv, worlds=1, steps=steps, seed=args.seed, backend="numpy")
    estimates = [
        leaf for leaf in cal.leaves.values() if leaf.status == "estimate" and leaf.is_numeric
    ]
    meta.update(
        preset=args.preset,
        cohorts=args.cohorts,
        trajectories=args.trajectories,
        samples=args.samples,
        top=k,
        audited=len(bounds),
        all_estimates=len(estimates),
        read_estimates=sum(leaf.path in set(read) for leaf in estimates),
        runs={"nominal": 1, "morris": len(morris_runs), "sobol": len(sobol_runs)},
        trajectories_passed_over=passed,
        cut=sum(bool(b.cut) for b in bounds),
        seconds_per_run=seconds,
        seconds_total=time.perf_counter() - start,
    )
    result = {
        "meta": meta,
        "outcomes": outcomes,
        "bounds": bounds,
        "top": top,
        "score": score,
        "morris": morris,
        "sobol": sobol,
        "nominal": nominal.outcomes,
        "bands": {m.key: audit.band(sobol_runs, m.key) for m in METRICS},
        "scenario_table": audit.scenario_table(args.scenarios, args.preset),
        "failed": {o: failed_m[o] + failed_s[o] for o in outcomes},
        "errors": [r.error for r in (*morris_runs, *sobol_runs) if r.error],
    }
    write_outputs(out, result)
    for i, b in enumerate(top, 1):
        print(
            f"{i:2d} {b.path} score {score[b.path]:.2f} "
            f"bound [{b.low:.4g}, {b.high:.4g}] ({b.basis})"
        )
    print(
        f"wrote {out} ({meta['seconds_per_run']:.2f} s per run, "
        f"{meta['seconds_total']:.0f} s in all)"
    )
    return 0


__all__ = [
    "add_arguments",
    "check_outcomes",
    "command",
    "render",
    "rerender",
    "result_from_record",
    "write_outputs",
]
