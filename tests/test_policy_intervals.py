"""Policy comparisons: paired differences with t-intervals, several counterfactuals per preset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments import run, scenarios
from experiments.cli import main
from experiments.evidence import comparison, paired_difference
from experiments.evidence_docs import comparison_lines, difference_text
from experiments.metrics import EXTRA, MACRO_METRICS, METRICS, _over_weeks, _stress_horizon
from experiments.scenarios import check_compare, load_file
from experiments.usage import UsageError

SPEC = {
    "label": "US capital",
    "question": "Fewer failures?",
    "policy": {"capital_regime": "us"},
    "metric": "bank_failures",
    "better": "lower",
}


def test_paired_difference_by_hand() -> None:
    # d = a − b = [1, 2, 2, 3]: mean 2, sd √(2/3), se = sd / 2, t(0.975, 3) = 3.182446
    found = paired_difference(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.0, 0.0, 1.0, 1.0]))
    half = 3.182446305284263 * np.sqrt(2.0 / 3.0) / 2.0
    assert found["difference_mean"] == pytest.approx(2.0)
    assert found["difference_low"] == pytest.approx(2.0 - half, rel=1e-9)
    assert found["difference_high"] == pytest.approx(2.0 + half, rel=1e-9)
    assert found["worlds"] == 4 and found["no_difference"] is False


def test_paired_difference_skips_stopped_worlds_and_needs_two() -> None:
    found = paired_difference(np.array([1.0, np.nan, 5.0]), np.array([0.0, 2.0, 3.0]))
    assert found["worlds"] == 2 and found["difference_mean"] == pytest.approx(1.5)
    one = paired_difference(np.array([1.0, np.nan]), np.array([0.0, 0.0]))
    assert one["worlds"] == 1 and np.isnan(one["difference_low"])
    assert "fewer than 2 worlds" in difference_text({**one}, "{:.0f}")


def test_identical_worlds_say_no_difference() -> None:
    same = {"bank_failures": np.array([2.0, 0.0, 1.0])}
    item = comparison("p", SPEC, same, same)
    assert item["no_difference"] is True and item["difference_mean"] == 0.0
    assert item["share_same"] == 1.0
    (line,) = comparison_lines([item])
    assert "No difference in any world (3 worlds)." in line and "Paired difference" not in line


def test_comparison_reports_the_paired_difference() -> None:
    actual = {"bank_failures": np.array([0.0, 1.0, 1.0, 2.0])}
    counterfactual = {"bank_failures": np.array([1.0, 1.0, 3.0, 4.0])}
    item = comparison("p", SPEC, actual, counterfactual)
    assert item["difference_mean"] == pytest.approx(-1.25)  # preset − counterfactual
    assert item["difference_low"] < -1.25 < item["difference_high"]
    assert item["share_better"] == 0.75 and item["share_same"] == 0.25
    (line,) = comparison_lines([item])
    # a mean of counts keeps two decimals: -1.25 failures a world is not -1
    assert "mean -1.25, 95% t-interval [-" in line and "over 4 worlds" in line
    assert "median 1 (mean 1.00) against 2 (mean 2.25)" in line
    assert "does better in 75% of worlds" in line


def test_several_named_counterfactuals_parse() -> None:
    other = {**SPEC, "label": "no bailouts", "policy": {"bailouts": False}}
    found = check_compare({"us_capital": SPEC, "no_bailouts": other}, "f")
    assert [c["name"] for c in found] == ["compare.us_capital", "compare.no_bailouts"]
    assert found[1]["policy"] == {"bailouts": False}
    (single,) = check_compare(SPEC, "f")  # the old single-table form
    assert single["label"] == "US capital" and single["name"] == "compare"
    assert check_compare(None, "f") == ()


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ({"a": SPEC, "b": SPEC}, "label 'US capital' is used twice"),
        ({"a": SPEC, "b": 3}, "[compare] 'b' must be a table ([compare.b])"),
        ({"a": {**SPEC, "colour": 1}}, "unknown key [compare.a] 'colour'"),
        ({"a": {**SPEC, "metric": "nope"}}, "[compare.a] metric must be one of"),
        ({"a": {k: v for k, v in SPEC.items() if k != "better"}}, "[compare.a] needs 'better'"),
        ({**SPEC, "a": SPEC}, "unknown key [compare] 'a'"),
    ],
)
def test_bad_compare_tables(table, needle) -> None:
    with pytest.raises(UsageError) as err:
        check_compare(table, "f")
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_named_compare_tables_in_a_file(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        'story = "s"\nsource = "t"\n'
        '[compare.eu]\nlabel = "EU"\nquestion = "q"\npolicy = { capital_regime = "eu" }\n'
        'metric = "bank_failures"\nbetter = "lower"\n'
        '[compare.us]\nlabel = "US"\nquestion = "q"\npolicy = { capital_regime = "us" }\n'
        'metric = "bank_failures"\nbetter = "lower"\n'
    )
    assert [c["label"] for c in load_file(path).compare] == ["EU", "US"]


def test_the_static_fall_holds_the_starting_rwa_where_the_ratio_hides_a_shrink() -> None:
    # world 0 shrinks: its ratio rises 13% -> 14% while its capital falls 13 -> 11.2 (RWA
    # 100 -> 80), 1.8 points of the starting RWA; world 1 keeps its RWA and falls 1 point.
    # Step 200 is past both horizons (the Fed's nine quarters, the EBA's three years).
    frame = pd.DataFrame(
        {
            "world": [0, 0, 0, 1, 1, 1],
            "step": [0, 1, 200, 0, 1, 200],
            "bank_cet1_system_us": [0.13, 0.14, 0.01, 0.13, 0.12, 0.01],
            "bank_rwa_us_usd_bn": [100.0, 80.0, 80.0, 100.0, 100.0, 100.0],
            "bank_write_offs_us_usd_bn": [0.0, 1.0, 1.0, 0.0, 1.0, 1.0],
            "bank_payouts_us_usd_bn": [0.0, 0.5, 9.0, 0.0, 0.0, 9.0],
        }
    )
    out = _stress_horizon(frame, 2)
    np.testing.assert_allclose(out["bank_payouts_stress_us_pct"], [0.5, 0.0], atol=1e-9)
    np.testing.assert_allclose(out["bank_cet1_fall_static_us_pt"], [1.8, 1.0], atol=1e-9)
    np.testing.assert_allclose(out["bank_rwa_change_stress_us_pct"], [-20.0, 0.0], atol=1e-9)
    assert np.isnan(out["bank_cet1_fall_static_eu_pt"]).all()  # the EU banks not reported


def test_macro_metrics_reduce_the_series_over_the_weeks() -> None:
    frame = pd.DataFrame(
        {
            "world": [0, 0, 0, 1, 1, 1],
            "step": [0, 1, 2, 0, 1, 2],
            "bank_cet1_system": [0.134, 0.116, 0.120, 0.134, 0.130, 0.131],
            "unemployment_us": [0.042, 0.08, 0.10, 0.042, 0.05, 0.045],
        }
    )
    np.testing.assert_allclose(
        100 * _over_weeks(frame, "bank_cet1_system", "fall", 2), [1.8, 0.4], atol=1e-9
    )
    np.testing.assert_allclose(_over_weeks(frame, "unemployment_us", "max", 2), [0.10, 0.05])
    assert np.isnan(_over_weeks(frame, "gdp_growth_us", "min", 2)).all()  # not reported yet
    # the first year's mean leaves out the start (step 0) and the weeks after 52
    year = pd.DataFrame(
        {"world": [0] * 55, "step": range(55), "rate": [9.0] + [1.0] * 52 + [5.0] * 2}
    )
    np.testing.assert_allclose(_over_weeks(year, "rate", "first_year", 1), [1.0])
    keys = {m.key for m in METRICS}
    assert {"bank_cet1_fall_pt", "unemployment_peak_euro_area_pct"} <= keys
    assert all(column for _, column, _, _ in MACRO_METRICS)


def test_evidence_runs_and_reports_every_counterfactual(tmp_path: Path, monkeypatch) -> None:
    presets = tmp_path / "presets"
    presets.mkdir()
    (presets / "two_ways.toml").write_text(
        'story = "s"\nsource = "t"\n[policy]\ncapital_regime = "eu"\n'
        '[compare.us]\nlabel = "US capital"\nquestion = "q1"\npolicy = { capital_regime = "us" }\n'
        'metric = "bank_cet1_low_pct"\nbetter = "higher"\n'
        '[compare.same]\nlabel = "EU again"\nquestion = "q2"\npolicy = { capital_regime = "eu" }\n'
        'metric = "bank_failures"\nbetter = "lower"\n'
    )
    monkeypatch.setattr(scenarios, "PRESET_DIR", presets)
    monkeypatch.setattr(run, "SCENARIOS", ("two_ways",))
    out = tmp_path / "s.md"
    argv = ["evidence", "--worlds", "2", "--steps", "3", "--presets", "two_ways",
            "--backend", "numpy", "--no-progress", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    document = json.loads(out.with_suffix(".json").read_text())
    us, same = document["comparisons"]
    assert us["counterfactual"] == "two_ways: US capital" and us["worlds"] == 2
    assert same["no_difference"] is True  # the same policy: every world identical
    markdown = out.read_text()
    assert "two_ways: US capital" in markdown and "two_ways: EU again" in markdown
    assert "No difference in any world (2 worlds)." in markdown
    (line,) = [x for x in markdown.splitlines() if x.startswith("- **q1**")]
    assert ("No difference" in line) == us["no_difference"]
    assert ("95% t-interval" in line) == (not us["no_difference"])


def test_the_stress_test_table_sets_the_rates_beside_the_feds_path() -> None:
    from experiments.evidence_docs import anchor_lines

    worlds = 5
    run = {m.key: np.zeros(worlds) for m in METRICS}
    run |= {key: np.zeros(worlds) for key, _, _, _ in MACRO_METRICS}
    run |= {key: np.zeros(worlds) for key in EXTRA}
    run |= {
        "policy_rate_low_us_pct": np.full(worlds, 0.125),
        "policy_rate_first_year_us_pct": np.full(worlds, 2.5),
        "yield_10y_low_us_pct": np.full(worlds, 3.2),
        "yield_10y_peak_us_pct": np.full(worlds, 4.7),
        "unemployment_peak_euro_area_pct": np.full(worlds, 9.8),
    }
    text = "\n".join(anchor_lines({"severe_recession": run, "severe_ai_bust": run}))
    assert "| 0.1 (from 4.4 at the start, by the second quarter), 0.5 | 1.0, 1.4" in text
    assert "| 0.12 [0.12, 0.12], 2.50 [2.50, 2.50] | 3.20 [3.20, 3.20], 4.70 [4.70, 4.70] |" in text
    assert "averages 2.5% over the first year" in text and "down to 3.2%" in text


def test_the_book_table_sets_each_book_beside_the_supervisors_loss() -> None:
    from abm.calibration import load_calibration
    from abm.state import LOAN_BOOKS
    from experiments.evidence_docs import anchor_lines

    worlds = 5
    run = {m.key: np.zeros(worlds) for m in METRICS}
    run |= {key: np.zeros(worlds) for key, _, _, _ in MACRO_METRICS}
    run |= {key: np.zeros(worlds) for key in EXTRA}
    run |= {f"bank_loss_rate_stress_us_{book}_pct": np.full(worlds, 1.0 + k)
            for k, book in enumerate(LOAN_BOOKS)}  # fmt: skip
    run["bank_cet1_fall_us_pt"] = np.full(worlds, 1.7)  # within 15% of the Fed's 1.8
    run["bank_cet1_fall_eu_pt"] = np.full(worlds, 1.0)
    text = "\n".join(anchor_lines({"severe_recession": run, "severe_ai_bust": run}))
    assert "CET1 falls 1.7 points, about the Fed's 1.8" in text
    assert "the EU banks' 1.0, less than the EBA's 3.7" in text
    assert "the US banks' capital falls 0.0 points, less than the Fed's 1.8" in text
    assert "0.0% of their starting risk-weighted assets over nine quarters (US)" in text
    assert "Like the stress tests, the model lets no bank fail with today's backstops" in text
    run["bank_failures"] = np.array([0.0, 0.0, 0.0, 2.0, 5.0])
    text = "\n".join(anchor_lines({"severe_recession": run, "severe_ai_bust": run}))
    assert "no bank fails in 60% of the worlds, as in the stress tests" in text
    assert "in the other 40%" in text and "up to 5 do" in text
    (row,) = [line for line in text.splitlines() if line.startswith("| consumer (cards")]
    fed = 100.0 * float(load_calibration().value("banks.credit_risk.us.consumer.stress_loss"))
    assert row.startswith(f"| consumer (cards and other) | {fed:.1f} | 2.0 [2.0, 2.0] | 2.0 [")
    assert len([line for line in text.splitlines() if line.startswith("| commercial real")]) == 1
