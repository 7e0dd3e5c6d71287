"""The documents of ``powderkeg evidence``: the scenario table, the ablation table and their data.

:func:`write_evidence` writes

- the Markdown file (default ``docs/scenarios.md``): one row per preset, each cell
  "median [5%, 95%]" over worlds (:func:`cell`), the prime brokers of a preset's spotlight fund
  (:func:`prime_broker_tables`), the policy comparisons, and the ablation table, with the exact
  command, date, seed, worlds, steps, version and git commit under the title;
- beside it, ``<stem>.csv`` (one row per preset and world: the raw numbers) and ``<stem>.json``
  (the same, the run's record and, with ``--ablation``, the ablation per world).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from experiments.evidence import Ablation
from experiments.files import git_commit, json_safe, write_atomically
from experiments.metrics import METRICS
from experiments.usage import UsageError


def comparison_lines(items: Sequence[dict[str, Any]]) -> list[str]:
    """Markdown bullet lines of the policy comparisons, each with its paired difference."""
    labels = {m.key: (m.label, m.fmt) for m in METRICS}
    lines = []
    for c in items:
        label, fmt = labels[c["metric"]]
        mean_fmt = _mean_format(fmt)
        settings = ", ".join(f"{k} = {json.dumps(v)}" for k, v in c["policy"].items())
        lines.append(
            f"- **{c['question']}** {label}: {c['preset']} median {_fmt(fmt, c['median'])} "
            f"(mean {_fmt(mean_fmt, c['mean'])}) against "
            f"{_fmt(fmt, c['median_counterfactual'])} "
            f"(mean {_fmt(mean_fmt, c['mean_counterfactual'])}) with {settings}; {c['better']} is "
            f"better. {difference_text(c, fmt)} {c['preset']} does better in "
            f"{c['share_better']:.0%} of worlds, the same in {c['share_same']:.0%}, worse in "
            f"{c['share_worse']:.0%}."
        )
    return lines


def difference_text(item: dict[str, Any], fmt: str) -> str:
    """The paired difference of one comparison in words, signed, in the metric's format.

    See :func:`experiments.evidence.paired_difference`. "No difference in any world" when every
    pair of worlds gave exactly the same number.
    """
    if item["no_difference"]:
        return f"No difference in any world ({item['worlds']} worlds)."
    mean = item["difference_mean"]
    low, high = item["difference_low"], item["difference_high"]
    signed = "{:+" + _mean_format(fmt)[2:]  # "{:.1f}" -> "{:+.1f}": the difference's sign
    interval = (
        f"95% t-interval [{_fmt(signed, low)}, {_fmt(signed, high)}]"
        if math.isfinite(low) and math.isfinite(high)
        else "no interval with fewer than 2 worlds"
    )
    return (
        f"Paired difference (preset − counterfactual, world by world on the same seeds): mean "
        f"{_fmt(signed, mean) if math.isfinite(mean) else 'n/a'}, {interval} over "
        f"{item['worlds']} worlds."
    )


# -- tables -----------------------------------------------------------------------------------


def _mean_format(fmt: str) -> str:
    """The format of a mean over worlds of a metric in ``fmt``: a count's mean gets two decimals.

    A mean of counts is not a count: 0.41 failures a world, or a paired difference of -0.39
    [-0.55, -0.23], written to whole numbers reads "0" and "[-1, 0]".
    """
    return fmt.replace(".0f}", ".2f}")


def _fmt(fmt: str, x: float) -> str:
    """``fmt.format(x)``, with a negative zero ("-0", "-0.00") written without its sign."""
    text = fmt.format(x)
    return text[1:] if text.startswith("-") and not any(c in "123456789" for c in text) else text


def cell(values: np.ndarray, fmt: str) -> str:
    """``median [5%, 95%]`` over worlds, or ``n/a`` when no value is finite."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return "n/a"
    med, lo, hi = np.percentile(v, [50, 5, 95])
    return f"{_fmt(fmt, med)} [{_fmt(fmt, lo)}, {_fmt(fmt, hi)}]"


def scenario_table(results: dict[str, dict[str, np.ndarray]]) -> str:
    """The Markdown scenario table: one row per preset, one column per :data:`METRICS`."""
    head = "| scenario | " + " | ".join(m.label for m in METRICS) + " |"
    rule = "| --- |" + " ---: |" * len(METRICS)
    rows = [
        f"| {preset} | " + " | ".join(cell(numbers[m.key], m.fmt) for m in METRICS) + " |"
        for preset, numbers in results.items()
    ]
    return "\n".join([head, rule, *rows])


#: the columns of a prime-broker table: (quantity key, header, format)
BROKER_COLUMNS = (
    ("exposure_usd_bn", "lent to the fund at the start (USD bn)", "{:,.1f}"),
    ("loss_usd_bn", "written off on it (USD bn)", "{:,.1f}"),
    ("cet1_start_pct", "CET1 at the start (%)", "{:.2f}"),
    ("cet1_low_pct", "CET1 at its lowest week (%)", "{:.2f}"),
)


def prime_broker_tables(results: dict[str, dict[str, np.ndarray]]) -> list[str]:
    """Markdown lines: for each run with a spotlight fund, its prime brokers beside the others.

    Reads the ``prime_broker.<bank>.<quantity>``, ``other_banks.<quantity>`` and
    ``spotlight_fund.<quantity>`` numbers of :class:`experiments.evidence.PrimeBrokers`: one row
    per prime broker and one for the median other bank, each cell median [5%, 95%] over worlds;
    the last column counts the worlds where the broker failed (for the other banks: how many of
    them failed, median [5%, 95%]). Empty when no run has a spotlight fund.
    """
    lines: list[str] = []
    for name, numbers in results.items():
        brokers = sorted({k.split(".")[1] for k in numbers if k.startswith("prime_broker.")})
        if not brokers:
            continue
        worlds = len(numbers["spotlight_fund.failed"])
        failed = int(np.sum(numbers["spotlight_fund.failed"]))
        week = numbers["spotlight_fund.failure_week"]
        when = f", in week {cell(week, '{:.0f}')}" if failed else ""
        head = "| bank | " + " | ".join(h for _, h, _ in BROKER_COLUMNS) + " | failed |"
        rows = [
            f"| {bank} | "
            + " | ".join(cell(numbers[f"prime_broker.{bank}.{k}"], f) for k, _, f in BROKER_COLUMNS)
            + f" | {int(np.sum(numbers[f'prime_broker.{bank}.failed']))} of {worlds} worlds |"
            for bank in brokers
        ]
        rows.append(
            "| all other banks (median bank) | "
            + " | ".join(cell(numbers[f"other_banks.{k}"], f) for k, _, f in BROKER_COLUMNS)
            + f" | {cell(numbers['other_banks.failed'], '{:.0f}')} banks |"
        )
        lines += [
            "",
            f"### {name}: the spotlight fund's prime brokers",
            "",
            f"The fund failed in {failed} of {worlds} worlds{when}.",
            "",
            head,
            "| --- |" + " ---: |" * (len(BROKER_COLUMNS) + 1),
            *rows,
        ]
    if not lines:
        return []
    return [
        "",
        "## Prime brokers of a failing fund",
        "",
        "For a preset that names a spotlight fund (a hedge fund): what each of its prime brokers "
        "(the banks holding its bank loans) lent it at the start, what the clearing of failures "
        "wrote off those loans (what margin calls repaid before the failure is not a loss), and "
        "its regulatory CET1 ratio at the start and at its lowest week while alive, beside the "
        "median of every other bank. Cells are medians over worlds with the 5% and 95% "
        "quantiles in brackets.",
        *lines,
    ]


def ablation_table(summary: dict[str, Any]) -> str:
    """The Markdown ablation table (means over worlds, USD bn) and its additivity lines."""

    def num(x: float, fmt: str = "{:,.0f}") -> str:
        return _fmt(fmt, x) if x is not None and math.isfinite(x) else "n/a"

    lines = [
        "| channels on | institutions' equity loss | retail loss | total loss | "
        "effect vs none | defaults |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in summary["configurations"].items():
        label = name if name in ("none", "all") else f"only {name}"
        lines.append(
            f"| {label} | {num(row['institution_equity_loss_usd_bn'])} | "
            f"{num(row['retail_loss_usd_bn'])} | {num(row['total_loss_usd_bn'])} | "
            f"{num(row.get('effect_usd_bn', float('nan')))} | {num(row['defaults'], '{:.1f}')} |"
        )
    if "amplification" in summary:
        lines += [
            "",
            f"- Sum of single-channel effects: {num(summary['sum_of_singles_usd_bn'])} USD bn "
            f"({num(summary['sum_of_singles_defaults'], '{:+.1f}')} defaults)",
            f"- All channels together: {num(summary['all_together_usd_bn'])} USD bn "
            f"({num(summary['all_together_defaults'], '{:+.1f}')} defaults)",
            f"- Amplification (all / sum of singles): "
            f"{num(summary['amplification'], '{:.2f}')}"
            + (
                " — super-additive"
                if summary["amplification"] > 1
                else " — not super-additive"
                if math.isfinite(summary["amplification"])
                else ""
            ),
        ]
    return "\n".join(lines)


# -- writing ----------------------------------------------------------------------------------


def provenance(argv: Sequence[str], *, worlds: int, steps: int, seed: int, backend: str) -> dict:
    """The command, date, settings, version and git commit of a generation."""
    import importlib.metadata

    try:
        version = importlib.metadata.version("powderkeg")
    except importlib.metadata.PackageNotFoundError:
        version = None
    return {
        "command": " ".join(["powderkeg", *argv]),
        "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "worlds": worlds,
        "steps": steps,
        "seed": seed,
        "world_seeds": f"seed + world: {seed} to {seed + worlds - 1}",
        "backend": backend,
        "version": version,
        "git": git_commit(),
    }


def render_markdown(
    meta: dict[str, Any],
    results: dict[str, dict[str, np.ndarray]],
    ablation: dict[str, Any] | None,
    data_files: Sequence[str],
    comparisons: Sequence[dict[str, Any]] = (),
    rate_risk: dict[str, dict[str, float]] | None = None,
) -> str:
    """The whole Markdown file (``rate_risk``: the banks' earnings at risk, if measured)."""
    git = meta["git"]
    commit = git.get("commit") or "unknown"
    if git.get("dirty"):
        commit += " (with uncommitted changes)"
    lines = [
        "# Scenario evidence",
        "",
        "Generated by a command; do not edit by hand. Regenerate with:",
        "",
        "```bash",
        meta["command"],
        "```",
        "",
        f"- date (UTC): {meta['created_utc']}",
        f"- worlds: {meta['worlds']} per scenario, {meta['steps']} weeks, seed {meta['seed']} "
        f"(world w uses seed + w), backend {meta['backend']}",
        f"- powderkeg version: {meta['version']}, git commit: {commit}",
        f"- raw per-world numbers: {', '.join(data_files)}",
        "",
        "## Scenarios",
        "",
        "Each cell is the median over worlds with the 5% and 95% quantiles in brackets. Spread "
        "widening is the largest implied change of any listed AI issuer's bond spread at any "
        "week; drawdown is the largest fall of the AI equity index from its running peak; "
        "defaults and bank failures are counted at the end; the lowest bank CET1 is the lowest "
        "ratio of any bank still alive at any week; the peg low is the lowest value per "
        "token of any stablecoin at any week; fire-sale volume is the institutions' forced "
        "sales summed over all weeks (households' panic sales are not counted); retail "
        "losses are what households lost on what they own by the end, as shares of their "
        "starting wealth plus the saving they put in since (median cohort, and the mean of the "
        "tenth of cohorts that lost most). The fall of system CET1 is the aggregate CET1 ratio "
        "of the banks alive at the start minus its lowest week, in points; banks below buffer "
        "is the most banks below their capital buffer in any one week; GDP growth is real growth "
        "over the last quarter, annualised, at its lowest week, and unemployment the rate at "
        "its highest week (n/a where the run does not report the series).",
        "",
        scenario_table(results),
    ]
    lines += anchor_lines(results, rate_risk)
    lines += prime_broker_tables(results)
    if comparisons:
        lines += [
            "",
            "## Policy comparisons",
            "",
            "A preset with a `[compare]` table also runs its shocks under each counterfactual "
            "policy it names (the rows named after them above), on the same worlds and seeds, so "
            "each pair of worlds differs only by the policy. The paired difference is the preset's "
            "number minus the counterfactual's in the same world; its mean comes with a 95% "
            "Student-t interval over the worlds (mean ± t(0.975, n − 1) · sd / √n).",
            "",
            *comparison_lines(comparisons),
        ]
    if ablation is not None:
        lines += [
            "",
            f"## Channel ablation ({ablation['preset']})",
            "",
            "Means over the same worlds, USD bn at the end. Loss = institutions' equity loss "
            "(each firm, bank, fund and stablecoin issuer's fall in equity, at most its starting "
            "equity) + retail wealth loss; effect = loss minus the loss with no channel on; "
            "defaults count firms, funds, stablecoin issuers and banks. Amplification above 1 "
            "means the channels together do more than the sum of each alone.",
            "",
            ablation_table(ablation),
        ]
    return "\n".join(lines) + "\n"


#: the calm baseline against 2025 data: (metric key, what the model shows, the data beside it)
BASELINE_DATA = (
    ("bank_cet1_fall_pt", "fall of system CET1 over five years (pt)",
     "none: CET1 ratios roughly flat 2015–2025 (Fed DFAST; EBA Risk Dashboard)"),
    ("bank_roe_median_pct", "median bank return on equity (%, mean over the weeks)",
     "US 10–12%, EU 8–10% on total equity (FDIC QBP 2025: ROA 1.13–1.27%; EBA Q1 2025: RoE "
     "10.5%); the model's equity is CET1, so its ROE compares with return on tangible equity"),
    ("unemployment_peak_us_pct", "highest US unemployment (%)",
     "4.4% in Dec 2025 (BLS); 3.4–5.0% over 2016–2019"),
    ("unemployment_peak_euro_area_pct", "highest euro-area unemployment (%)",
     "6.3% in Nov 2025 (Eurostat)"),
    ("gdp_growth_low_us_pct", "lowest US quarterly GDP growth (% a year)",
     "−2.1% (2014-Q1) was the weakest quarter of 2010–2019 outside recessions (BEA)"),
    ("policy_rate_low_us_pct", "lowest US policy rate (%)", "3.50–3.75% after 10 Dec 2025 (FOMC)"),
    ("yield_10y_peak_us_pct", "highest US 10-year yield (%)",
     "4.14% on 31 Dec 2025; 3.6–5.0% over 2023–2025 (H.15)"),
    ("bank_failures", "bank failures", "none among large banks in calm years"),
    ("peak_spread_bp", "largest widening of one AI issuer's bond spread (bp)",
     "Oracle +48, Meta +15, Alphabet +10 bp around their autumn-2025 bond issues (calibration "
     "`assumptions.spreads.debt_to_ebitda_sensitivity`); a fallen angel's spread over BBB bonds "
     "rose from 56 bp a year before to 278 bp in its downgrade month (median of 1,188 fallen "
     "angels; QML Solutions, \"Fallen Angels Part 2\", 2025)"),
)  # fmt: skip


#: the regional falls of CET1 beside the Fed's (US) and the EBA's (EU) stress tests
US_FALL, EU_FALL = "bank_cet1_fall_us_pt", "bank_cet1_fall_eu_pt"
#: each region's fall of CET1 capital over its starting RWA, the stress tests' static measure
STATIC_FALL = {region: f"bank_cet1_fall_static_{region}_pt" for region in ("us", "eu")}
#: euro-area unemployment at the start, % (Eurostat, November 2025)
EU_UNEMPLOYMENT_2025 = 6.3


#: the banks' disclosed change of 12-month net interest income for instantaneous parallel shifts,
#: % of a year's net interest income: (region, banks at -100 bp, banks at +100 bp)
RATE_RISK_DATA = {
    "us": (
        "JPMorgan −2.7, Bank of America −5.9 (static deposits; −4.1 with its deposit model), "
        "Citigroup −3.1 (10-Ks for 2024: JPMorgan's earnings-at-risk, Bank of America's Table "
        "44, Citi's interest-rate exposure on a static balance sheet; the shift is from the "
        "forward curve)",
        "+2.5, +5.5 (+2.0), +1.8",
    ),
    "eu": (
        "BBVA −0.5 to −1.5 (euro balance sheet, 20-F 2024), ING about −1.0 (year 1 of a ramped "
        "shift, 20-F 2024), BNP Paribas −0.9 for −50 bp (2018 registration document, Table 83); "
        "the EU banks' net interest income fell nearly 3% in 2024 as the ECB cut its deposit rate "
        "from 4% to 3% between June and December (EBA Risk Assessment Report); −5.6 to −7.8 at "
        "the zero bound (BBVA's European book, Pillar 3 2013–14)",
        "BBVA +0.5 to +1.5, ING about +1.2",
    ),
}
#: each region's banks, as the rows of the stress-test and earnings-at-risk tables name them
BANK_GROUPS = {"us": "the 8 US banks", "eu": "the 48 EU banks"}


def _signed(x: float) -> str:
    """``x`` with one decimal and its sign, the minus as in the data columns (−)."""
    return _fmt("{:+.1f}", x).replace("-", "−")


def rate_risk_lines(rate_risk: dict[str, dict[str, float]]) -> list[str]:
    """The banks' earnings at risk at the start beside their disclosures, and where it misses.

    ``rate_risk`` is :func:`experiments.evidence.earnings_at_risk`'s ``{region: {"-100": %,
    "+100": %}}``.
    """
    rows = [
        f"| {BANK_GROUPS[region]} | {_signed(change['-100'])} | {_signed(change['+100'])} | "
        f"{RATE_RISK_DATA[region][0]} | {RATE_RISK_DATA[region][1]} |"
        for region, change in rate_risk.items()
    ]
    lines = [
        "",
        "## The banks' interest-rate risk against their disclosures",
        "",
        "Net interest income over the next 12 months if every rate (the policy rate and the "
        "10-year yield) moves 100 bp at once and stays there, with the balance sheet held as it "
        "is: the supervisors' earnings measure of interest-rate risk in the banking book (BCBS "
        "368, 2016) and the banks' \"earnings at risk\". The model's is measured at the start "
        "of `baseline` (the same in every world; `abm.bank_earnings.BankEarnings."
        "net_interest_ahead`), as a change in % of the income at unchanged rates, for the "
        "banks of each region together; the data are the banks' own disclosures, in % of "
        "their year's net interest income.",
        "",
        "| | model: rates −100 bp (%) | model: +100 bp (%) | banks' disclosures: −100 bp (%) "
        "| banks' disclosures: +100 bp (%) |",
        "| --- | ---: | ---: | --- | --- |",
        *rows,
        "",
        "The US banks' sensitivity lies within their disclosures without swaps (their "
        "Treasuries keep their coupons); the EU banks' receive-fixed swaps on a share of "
        "their deposits (`banks.earnings.eu.deposit_hedge_share`, set to these disclosures) "
        "bring theirs from several times the disclosed figures to the middle of them "
        '(docs/design.md, "The banks\' interest-rate risk"). Where the model misses: its '
        "change is the same size up and down, where the banks' falls more than it rises "
        "(Bank of America and Citi: deposit rates meet their floor and mortgages prepay), and "
        "it does not grow as rates near the lower bound, where the European banks' did "
        "(BBVA's European book −5.6 to −7.8% in 2013–14).",
    ]
    return lines


def anchor_lines(
    results: dict[str, dict[str, np.ndarray]],
    rate_risk: dict[str, dict[str, float]] | None = None,
) -> list[str]:
    """The calm baseline beside the 2025 data and the severe presets beside the stress tests.

    Written only for the presets present in ``results`` (``baseline``, ``severe_recession``,
    ``severe_ai_bust``); the numbers beside the model's are the data and the stress tests'
    published results, with their sources. ``rate_risk`` (:func:`experiments.evidence.
    earnings_at_risk`) adds the banks' interest-rate risk beside their disclosures.
    """
    from experiments.evidence import paired_difference

    fmt = {m.key: m.fmt for m in METRICS}
    lines: list[str] = []
    base = results.get("baseline")
    if base is not None:
        lines += [
            "",
            "## The calm baseline against the data",
            "",
            "| quantity | model: median [5%, 95%] over worlds | data |",
            "| --- | ---: | --- |",
            *(
                f"| {label} | {cell(base[key], fmt.get(key, '{:.2f}'))} | {data} |"
                for key, label, data in BASELINE_DATA
                if key in base
            ),
        ]
    if rate_risk:
        lines += rate_risk_lines(rate_risk)
    recession, bust = results.get("severe_recession"), results.get("severe_ai_bust")
    if recession is None or bust is None:
        return lines
    key = "bank_cet1_fall_pt"
    added = paired_difference(bust[key], recession[key])
    failures = paired_difference(bust["bank_failures"], recession["bank_failures"])
    lines += [
        "",
        "## The severe presets against the stress tests",
        "",
        "| | fall of CET1 (pt) | fall of CET1 on a static balance sheet (pt) | losses over the "
        "horizon (% of starting RWA) | change of RWA "
        "over the horizon (%) | peak US unemployment (%) | banks failed | banks below buffer "
        "| US policy rate: lowest, first-year mean (%) | US 10-year yield: lowest, highest (%) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        "| Fed DFAST 2025, severely adverse (22 large US banks, nine quarters; federalreserve."
        "gov, 27 Jun 2025, Tables 1 and 4; rates: the scenario's Table 3A, 3-month Treasury and "
        "10-year yield, quarterly) | 1.8 (13.4% to a low of 11.6%, 12.8% at the end) | about "
        "1.8 (RWA held about constant) | 5.3 (all "
        "losses, nearly 550 bn: loans, trading and counterparty, securities) | −0.7 (10,365 to "
        "10,288 bn: balance sheets held about constant) | 10 | 0 (none below its minimum) | – | "
        "0.1 (from 4.4 at the start, by the second quarter), 0.5 | 1.0, 1.4 (4.3 at the start: "
        "it only falls) |",
        "| EU-wide stress test 2025, adverse (EBA, 1 Aug 2025; 64 banks over three years) | 3.7 "
        "(15.8% to 12.1%) | 3.7 (static balance sheet) | 4.4 (credit losses, 437 bp of CET1; "
        "KPMG's reading of the EBA's "
        "results) | 0 (static balance sheet) | – | – | – | – | – |",
        "| ECB BEAST (constant balance sheets; deleveraging then cuts GDP by a further 1.5–2 "
        "points) | about 3.5 | – | – | – | – | – | – | – | – |",
        *(
            line
            for name, run in (("severe_recession", recession), ("severe_ai_bust", bust))
            for line in (
                f"| model: {name}, all banks | {cell(run[key], fmt[key])} | – | – | – | "
                f"{cell(run['unemployment_peak_us_pct'], '{:.1f}')} | "
                f"{cell(run['bank_failures'], '{:.0f}')} | "
                f"{cell(run['banks_below_buffer_max'], '{:.0f}')} | {_rates(run)} |",
                *(
                    f"| model: {name}, {BANK_GROUPS[region]} (beside the {whose}; write-offs "
                    f"over {horizon}) | {cell(run[fall], '{:.1f}')} | "
                    f"{cell(run[STATIC_FALL[region]], '{:.1f}')} | "
                    f"{cell(run[f'bank_loss_rate_stress_{region}_pct'], '{:.1f}')} | "
                    f"{cell(run[f'bank_rwa_change_stress_{region}_pct'], '{:.1f}')} | – | – | "
                    "– | – | – |"
                    for region, fall, whose, horizon in (
                        ("us", US_FALL, "Fed's", "nine quarters"),
                        ("eu", EU_FALL, "EBA's", "three years"),
                    )
                ),
            )
        ),
        "",
        "What the AI bust adds to the recession, world by world on the same seeds: "
        f"{_signed_mean(added)} points of CET1 fall and {_signed_mean(failures)} bank failures. "
        "The banks hold little of the AI debt directly (AI-issuer bonds about 0.02% of their "
        "assets: 2% of each issuer's bonds for the US banks and 2% for the EU banks, as Z.1 "
        "says; loans to the AI complex a few per cent more), and the bust reaches "
        "the rest of their books through AI capex, about 2% of US GDP: a recession of the Fed's "
        "size moves unemployment, and with it the loan losses, far more than the bust does.",
        "",
        f"Where the model misses. The US banks' CET1 falls {_median(bust[US_FALL])} points, "
        f"{_against(bust[US_FALL], 1.8, 'the Fed')}; the EU banks' {_median(bust[EU_FALL])}, "
        f"{_against(bust[EU_FALL], 3.7, 'the EBA')}. Two things set the model's banks apart "
        "from both stress tests, and the table shows them. The losses: over nine quarters the US "
        f"banks write off {_median(bust['bank_loss_rate_stress_us_pct'])}% of their starting "
        "risk-weighted assets against the Fed's 5.3% (which adds trading, counterparty and "
        "securities losses to the loans'), and over three years the EU banks "
        f"{_median(bust['bank_loss_rate_stress_eu_pct'])}% against the EBA's 4.4% of credit "
        "losses alone. Each book's loss rate follows unemployment and property prices, with "
        "sensitivities solved so that on the Fed's 2026 severely adverse path the book loses "
        'what the Fed projects for it over nine quarters (docs/design.md, "Loan losses over '
        'the stress horizon"; the next table compares the books); the '
        "preset follows the EBA's GDP path, which the model's Okun's law turns into a rise of "
        "euro-area unemployment of "
        f"{_median(bust['unemployment_peak_euro_area_pct'] - EU_UNEMPLOYMENT_2025)} points "
        "against the EBA's 6.1; the dealers' trading books lose what the supervisors project "
        "for trading and market risk as equity prices halve (docs/design.md, \"The dealers' "
        "trading books\"), but on the scenario's path over a year, not at once as the "
        "supervisors' market shock does. And the model's banks "
        "shrink: their risk-weighted assets fall by "
        f"{_median(-bust['bank_rwa_change_stress_us_pct'])}% (US, nine quarters) and "
        f"{_median(-bust['bank_rwa_change_stress_eu_pct'])}% (EU, three years) as loan demand "
        "falls with the output gap, write-offs run the books down and the deposits come back "
        'as reserves, which weigh nothing (docs/design.md, "Risk weights by asset class"), '
        "while both stress tests hold balance sheets constant; a bank pays the capital above "
        "its target out only as far as its earnings over the past year go, so after a year of "
        "losses its ratio rises as its book shrinks. "
        "Held at their starting risk-weighted assets, as the stress tests hold them, the US "
        f"banks' capital falls {_median(bust[STATIC_FALL['us']])} points, "
        f"{_against(bust[STATIC_FALL['us']], 1.8, 'the Fed')}, and the EU banks' "
        f"{_median(bust[STATIC_FALL['eu']])}, {_against(bust[STATIC_FALL['eu']], 3.7, 'the EBA')}"
        ". Two differences of method remain in that measure. The model's banks pay out what "
        "their ratio and their past year's earnings allow, "
        f"{_median(bust['bank_payouts_stress_us_pct'])}% of their starting risk-weighted "
        "assets over nine quarters (US) and "
        f"{_median(bust['bank_payouts_stress_eu_pct'])}% over three years (EU), where the "
        "Fed's projections leave common dividends and buybacks out (its stress capital buffer "
        "adds four quarters of planned dividends on top; final rule, 85 FR 15576, March 2020). "
        "And the model has no operational losses, which both stress tests add to the loans' "
        "and the markets' (the EBA: EUR 547 bn of losses in all, 394 bn of them on credit, 98 "
        "on market risk, 55 on operational risk). "
        "The US banks' ratio dips in the first weeks, as bond prices fall, and reaches its low "
        "near the unemployment peak, as loan losses mount (the classroom tour of "
        f"severe_ai_bust shows it week by week). {_failures_with_backstops(bust)} Okun's "
        "coefficient is the one the Fed's path implies (0.57: its GDP is about 10.4% below a "
        "baseline growing at potential when unemployment peaks 5.9 points up), so the model "
        "reaches the Fed's unemployment with about the Fed's fall of GDP (the presets' shocks "
        "say by how much); its worst quarter's US GDP growth is "
        f"{_median(bust['gdp_growth_low_us_pct'])}% a year.",
        *book_loss_lines(recession, bust),
        "",
        "Rates. The Fed's scenario cuts the short rate to 0.1% within a quarter and lets the "
        "10-year yield fall 3.3 points; the model's central bank follows Taylor's rule with "
        "inertia (a 40-week half-life, Clarida, Galí & Gertler 2000), so in severe_ai_bust its "
        f"policy rate averages {_median(bust['policy_rate_first_year_us_pct'])}% over the first "
        f"year (the scenario's 0.5%), with a low of {_median(bust['policy_rate_low_us_pct'])}%, "
        f"and its 10-year yield rises to {_median(bust['yield_10y_peak_us_pct'])}% as the fire "
        "sale dumps Treasuries (the dash-for-cash term premium) before the expected short rates "
        f"bring it down to {_median(bust['yield_10y_low_us_pct'])}% (the scenario's 1.0%): "
        "tighter money than the stress test assumes, which deepens the model's recession "
        '(docs/design.md, "The central bank\'s answer to stress", measures the levers that make '
        "the rule answer stress at once).",
    ]
    return lines


#: each loan book of abm.state.LOAN_BOOKS as the book table names it
BOOKS = {
    "mortgages": "mortgages (first and junior liens)",
    "consumer": "consumer (cards and other)",
    "corporate": "corporate (C&I and other loans)",
    "commercial_real_estate": "commercial real estate",
}


def book_loss_lines(recession: dict[str, np.ndarray], bust: dict[str, np.ndarray]) -> list[str]:
    """Each loan book's losses over the stress horizon beside the supervisors' (% of balances).

    The data are the calibration's ``stress_loss`` of each book: for US banks the Fed's 2026
    results, Table 9, which the satellites are solved to reproduce on the Fed's own path; for EU
    banks an estimate that splits the EBA's 2025 credit losses by book.
    """
    from abm.calibration import load_calibration

    cal = load_calibration()

    def target(region: str, book: str) -> str:
        return f"{100.0 * float(cal.value(f'banks.credit_risk.{region}.{book}.stress_loss')):.1f}"

    def model(run: dict[str, np.ndarray], region: str, book: str) -> str:
        return cell(run[f"bank_loss_rate_stress_{region}_{book}_pct"], "{:.1f}")

    return [
        "",
        "### Loan losses by book",
        "",
        "Write-offs over the stress horizon over the book's average balance (%), medians "
        "[5%, 95%] over worlds. US banks over nine quarters beside the Fed's 2026 severely "
        "adverse results (32 banks, Table 9, projected loan losses by type of loan, % of average "
        "balances); EU banks over three years beside the model's target, an estimate that splits "
        "the EBA's 2025 credit losses (EUR 394 bn on about 11.7 tn of loans, 3.4%) by book.",
        "",
        "| book | Fed 2026 | severe_recession, US | severe_ai_bust, US | EBA 2025 (estimate) "
        "| severe_recession, EU | severe_ai_bust, EU |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(
            f"| {label} | {target('us', book)} | {model(recession, 'us', book)} | "
            f"{model(bust, 'us', book)} | {target('eu', book)} | {model(recession, 'eu', book)} | "
            f"{model(bust, 'eu', book)} |"
            for book, label in BOOKS.items()
        ),
        "",
        "The satellites are solved so that on the supervisor's own path each book loses the "
        "supervisor's number; the presets' paths differ. Their recession follows the Fed's 2025 "
        "scenario where the losses are the 2026 one's: house prices fall 33% by its seventh "
        "quarter, deeper and sooner than the 2026 path's 28.5% by its eighth, so mortgages lose "
        "more than the Fed's number; commercial property falls 30% against 40%, and the model's "
        "property prices move with the output gap, so they recover as the recession eases from "
        "the sixth quarter where the Fed's stay near their trough to the horizon's end: "
        "commercial real estate loses least against the Fed. The EU books follow euro-area "
        "unemployment, which rises less than in the EBA's scenario (above).",
    ]


def _failures_with_backstops(run: dict[str, np.ndarray]) -> str:
    """How many worlds lose a bank with today's backstops, against the stress tests' none."""
    failures = run["bank_failures"][np.isfinite(run["bank_failures"])]
    rows = "(the counterfactual rows above say what happens without the backstops)"
    if failures.size == 0 or not np.any(failures > 0):
        return f"Like the stress tests, the model lets no bank fail with today's backstops {rows}."
    share = float(np.mean(failures > 0))
    return (
        f"With today's backstops no bank fails in {1.0 - share:.0%} of the worlds, as in the "
        f"stress tests; in the other {share:.0%} up to {failures.max():.0f} do {rows}."
    )


def _against(values: np.ndarray, data: float, whose: str) -> str:
    """``about the Fed's 1.8`` (median within 15%), else ``less than`` or ``more than``."""
    median = float(np.nanmedian(values))
    word = (
        "about"
        if abs(median - data) <= 0.15 * data
        else "less than"
        if median < data
        else ("more than")
    )
    return f"{word} {whose}'s {data:g}"


def _rates(run: dict[str, np.ndarray]) -> str:
    """The US policy rate's low and first-year mean, the 10-year yield's low and peak."""
    low, year = run["policy_rate_low_us_pct"], run["policy_rate_first_year_us_pct"]
    return (
        f"{cell(low, '{:.2f}')}, {cell(year, '{:.2f}')} | "
        f"{cell(run['yield_10y_low_us_pct'], '{:.2f}')}, "
        f"{cell(run['yield_10y_peak_us_pct'], '{:.2f}')}"
    )


def _median(values: np.ndarray) -> str:
    """The median over worlds, one decimal."""
    return f"{float(np.nanmedian(values)):.1f}"


def _signed_mean(item: dict[str, Any]) -> str:
    """``+1.23 [+0.50, +1.96]``: a paired mean with its 95% t-interval, or exactly zero."""
    if item["no_difference"]:
        return "exactly 0 (no difference in any world)"
    mean, low, high = item["difference_mean"], item["difference_low"], item["difference_high"]
    if not math.isfinite(low):
        return f"{mean:+.2f}"
    return f"{mean:+.2f} (95% t-interval [{low:+.2f}, {high:+.2f}])"


def _records(results: dict[str, dict[str, np.ndarray]]) -> list[dict[str, Any]]:
    records = []
    for preset, numbers in results.items():
        n = len(next(iter(numbers.values())))
        for w in range(n):
            records.append(
                {"scenario": preset, "world": w, **{k: float(v[w]) for k, v in numbers.items()}}
            )
    return records


def write_evidence(
    out: Path,
    meta: dict[str, Any],
    results: dict[str, dict[str, np.ndarray]],
    ablation: Ablation | None = None,
    comparisons: Sequence[dict[str, Any]] = (),
    rate_risk: dict[str, dict[str, float]] | None = None,
) -> list[Path]:
    """Write ``out`` (Markdown), ``<stem>.csv`` and ``<stem>.json``; each replaced atomically.

    ``rate_risk``: the banks' earnings at risk (:func:`experiments.evidence.earnings_at_risk`),
    written beside the calm baseline and into the JSON.

    Raises:
        UsageError: a file could not be written.
    """
    import pandas as pd

    csv_path, json_path = out.with_suffix(".csv"), out.with_suffix(".json")
    summary = ablation.summary() if ablation is not None else None
    records = _records(results)
    document = {
        "schema": "powderkeg.evidence/1",
        **meta,
        "metrics": {m.key: m.label for m in METRICS},
        "per_world": records,
        "comparisons": list(comparisons),
        **({"earnings_at_risk_pct": rate_risk} if rate_risk else {}),
    }
    if ablation is not None:
        document["ablation"] = {
            "summary": summary,
            "per_world": {name: run for name, run in ablation.runs.items()},
        }
    files = [csv_path.name, json_path.name]
    markdown = render_markdown(meta, results, summary, files, comparisons, rate_risk)
    writers: dict[Path, Callable[[Path], None]] = {
        out: lambda p: p.write_text(markdown),
        csv_path: lambda p: pd.DataFrame.from_records(records).to_csv(p, index=False),
        json_path: lambda p: p.write_text(
            json.dumps(json_safe(document), indent=2, allow_nan=False) + "\n"
        ),
    }
    try:
        write_atomically(writers)
    except OSError as err:
        raise UsageError(f"argument --out: cannot write {out} ({err.strerror or err})") from None
    return list(writers)


__all__ = [
    "BROKER_COLUMNS",
    "ablation_table",
    "cell",
    "comparison_lines",
    "difference_text",
    "prime_broker_tables",
    "provenance",
    "rate_risk_lines",
    "render_markdown",
    "scenario_table",
    "write_evidence",
]
