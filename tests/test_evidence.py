"""`powderkeg evidence`: the scenario and ablation tables at tiny sizes, and one-line errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.build import ablation_configs
from experiments.cli import main
from experiments.evidence import run_ablation
from experiments.evidence_docs import ablation_table, cell, scenario_table
from experiments.metrics import METRICS

NUMBER = r"-?[\d,]+(?:\.\d+)?"
CELL = re.compile(rf"^({NUMBER}) \[({NUMBER}), ({NUMBER})\]$")
PRESETS = ("baseline", "crypto_ai_crash")


def parse_cell(text: str) -> tuple[float, float, float]:
    match = CELL.match(text.strip())
    assert match, f"cell {text!r} is not 'median [5%, 95%]'"
    return tuple(float(g.replace(",", "")) for g in match.groups())


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], int]:
    out = tmp_path_factory.mktemp("evidence") / "docs" / "scenarios.md"
    argv = [
        "evidence",
        "--worlds",
        "2",
        "--steps",
        "13",
        "--seed",
        "3",
        "--presets",
        ",".join(PRESETS),
        "--backend",
        "numpy",
        "--no-progress",
        "--out",
        str(out),
    ]
    return out, argv, main(argv)


def table_rows(markdown: str) -> dict[str, list[str]]:
    rows = {}
    for line in markdown.splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def test_writes_markdown_and_data(generated: tuple[Path, list[str], int]) -> None:
    out, argv, status = generated
    assert status == 0
    markdown = out.read_text()
    assert "powderkeg " + " ".join(argv) in markdown  # the exact command is recorded
    assert "seed 3" in markdown and "13 weeks" in markdown and "2 per scenario" in markdown
    assert "git commit:" in markdown and "date (UTC):" in markdown
    rows = table_rows(markdown)
    assert rows["scenario"] == [m.label for m in METRICS]
    for preset in PRESETS:
        assert len(rows[preset]) == len(METRICS)
        for text in rows[preset]:
            med, lo, hi = parse_cell(text)
            assert lo <= med <= hi

    frame = pd.read_csv(out.with_suffix(".csv"))
    assert sorted(frame["scenario"].unique()) == sorted(PRESETS)
    assert len(frame) == 2 * len(PRESETS)
    assert {m.key for m in METRICS} <= set(frame.columns)
    assert (frame["peg_low"] <= 1.0 + 1e-9).all()
    assert (frame["ai_equity_drawdown_pct"].between(0, 100)).all()

    document = json.loads(out.with_suffix(".json").read_text())
    assert document["command"] == "powderkeg " + " ".join(argv)
    assert (document["worlds"], document["steps"], document["seed"]) == (2, 13, 3)
    assert len(document["per_world"]) == len(frame)
    # the median cell agrees with the raw numbers
    spread = frame.loc[frame["scenario"] == "crypto_ai_crash", "peak_spread_bp"]
    assert rows["crypto_ai_crash"][0] == cell(spread.to_numpy(), METRICS[0].fmt)


def test_ablation_two_configurations() -> None:
    ablation = run_ablation(
        "ai_revenue_disappointment",
        ("none", "fire_sales", "all"),
        worlds=2,
        steps=8,
        seed=0,
        backend="numpy",
    )
    summary = ablation.summary()
    assert set(summary["configurations"]) == {"none", "fire_sales", "all"}
    assert summary["configurations"]["none"]["effect_usd_bn"] == 0.0
    single = summary["configurations"]["fire_sales"]["effect_usd_bn"]
    assert summary["sum_of_singles_usd_bn"] == pytest.approx(single)
    if single != 0:
        assert summary["amplification"] == pytest.approx(summary["all_together_usd_bn"] / single)
    table = ablation_table(summary)
    assert "| only fire_sales |" in table and "Amplification" in table
    assert ablation_configs()[0] == "none" and ablation_configs()[-1] == "all"


def test_cell_format() -> None:
    assert cell(np.array([1.0, 2.0, 3.0]), "{:.1f}") == "2.0 [1.1, 2.9]"
    assert cell(np.array([np.nan]), "{:.1f}") == "n/a"
    assert cell(np.array([-0.1, 0.1]), "{:.0f}") == "0 [0, 0]"
    assert scenario_table({}).count("\n") == 1


@pytest.mark.parametrize(
    "flags",
    [
        ["--worlds", "0"],
        ["--steps", "-1"],
        ["--seed", "x"],
        ["--presets", "nope"],
        ["--presets", "baseline,"],
        ["--presets", "baseline,baseline"],
        ["--ablation", "--ablation-preset", "nope"],
        ["--out", "table.txt"],
        ["--bogus"],
    ],
)
def test_bad_input_is_one_line(
    flags: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["evidence", "--worlds", "1", "--steps", "1", *flags]
    if "--out" not in flags:
        argv += ["--out", str(tmp_path / "s.md")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("powderkeg evidence: error:") and "\n" not in err
    assert not (tmp_path / "s.md").exists()


def test_a_preset_with_compare_runs_its_counterfactual_on_the_same_worlds(tmp_path: Path) -> None:
    out = tmp_path / "s.md"
    argv = ["evidence", "--worlds", "2", "--steps", "6", "--presets", "europe_higher_capital",
            "--no-progress", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    rows = table_rows(out.read_text())
    assert set(rows) >= {"europe_higher_capital", "europe_higher_capital: US capital"}
    cet1 = [m.key for m in METRICS].index("bank_cet1_low_pct")
    eu = parse_cell(rows["europe_higher_capital"][cet1])
    us = parse_cell(rows["europe_higher_capital: US capital"][cet1])
    assert eu[0] > us[0]  # the same shocks, more capital
    document = json.loads(out.with_suffix(".json").read_text())
    (item,) = document["comparisons"]
    assert item["metric"] == "bank_failures" and item["policy"] == {"capital_regime": "us"}
    assert item["share_better"] + item["share_same"] + item["share_worse"] == pytest.approx(1.0)
    assert "## Policy comparisons" in out.read_text()


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ('[compare]\nlabel = "x"\n', "[compare] needs 'question'"),
        (
            '[compare]\nlabel = "x"\nquestion = "q"\npolicy = {}\nmetric = "nope"\n'
            'better = "lower"\n',
            "metric must be one of",
        ),
        (
            '[compare]\nlabel = "x"\nquestion = "q"\npolicy = { capital_regime = "mars" }\n'
            'metric = "bank_failures"\nbetter = "lower"\n',
            "capital_regime",
        ),
    ],
)
def test_bad_compare_tables_are_one_line(table: str, needle: str, tmp_path: Path, capsys) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('story = "s"\nsource = "t"\n' + table)
    assert main(["run", "--scenario", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err


def test_prime_broker_table_of_a_spotlight_fund(tmp_path: Path) -> None:
    out = tmp_path / "s.md"
    argv = ["evidence", "--worlds", "2", "--steps", "6", "--presets", "ai_archegos",
            "--backend", "numpy", "--no-progress", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    markdown = out.read_text()
    assert "## Prime brokers of a failing fund" in markdown
    assert "The fund failed in 2 of 2 worlds, in week 5 [5, 5]." in markdown
    rows = table_rows(markdown)
    document = json.loads(out.with_suffix(".json").read_text())
    world = document["per_world"][0]
    brokers = sorted({k.split(".")[1] for k in world if k.startswith("prime_broker.")})
    assert brokers and all(bank in rows for bank in brokers)
    lent, lost, start, low, failed = rows[brokers[0]]
    assert parse_cell(lost)[1] > 0.0 and parse_cell(low)[0] < parse_cell(start)[0]
    assert parse_cell(lost)[2] <= parse_cell(lent)[1] and failed == "0 of 2 worlds"
    others = rows["all other banks (median bank)"]
    assert parse_cell(others[0]) == (0.0, 0.0, 0.0) and parse_cell(others[1]) == (0.0, 0.0, 0.0)
    assert world["spotlight_fund.failed"] == 1.0 and world["other_banks.loss_usd_bn"] == 0.0


def test_prime_broker_tables_only_for_runs_with_a_spotlight_fund() -> None:
    from experiments.evidence_docs import prime_broker_tables

    assert prime_broker_tables({"baseline": {"bank_failures": np.zeros(3)}}) == []
    numbers = {
        f"{who}.{key}": np.array([1.0, 2.0, 3.0])
        for who in ("prime_broker.jpmorgan", "other_banks")
        for key in ("exposure_usd_bn", "loss_usd_bn", "cet1_start_pct", "cet1_low_pct")
    }
    numbers |= {
        "prime_broker.jpmorgan.failed": np.array([0.0, 1.0, 0.0]),
        "other_banks.failed": np.zeros(3),
        "spotlight_fund.failed": np.array([1.0, 1.0, 0.0]),
        "spotlight_fund.failure_week": np.array([5.0, 7.0, np.nan]),
    }
    lines = prime_broker_tables({"mine": numbers})
    assert "The fund failed in 2 of 3 worlds, in week 6 [5, 7]." in lines
    rows = table_rows("\n".join(lines))
    assert rows["jpmorgan"][-1] == "1 of 3 worlds" and rows["jpmorgan"][0] == "2.0 [1.1, 2.9]"
    assert rows["all other banks (median bank)"][-1] == "0 [0, 0] banks"


def test_the_banks_earnings_at_risk_beside_their_disclosures(
    generated: tuple[Path, list[str], int],
) -> None:
    """With ``baseline`` among the presets, the document sets each region's 12-month change of
    net interest income for ±100 bp beside the banks' disclosures, the JSON keeps the numbers,
    and the table's cells are the JSON's, rounded."""
    out, _, _ = generated
    document = json.loads(out.with_suffix(".json").read_text())
    risk = document["earnings_at_risk_pct"]
    assert set(risk) == {"us", "eu"} and all(set(r) == {"-100", "+100"} for r in risk.values())
    rows = table_rows(out.read_text())
    for region, label in (("us", "the 8 US banks"), ("eu", "the 48 EU banks")):
        down, up = rows[label][:2]
        assert float(down.replace("−", "-")) == pytest.approx(risk[region]["-100"], abs=0.05)
        assert float(up.replace("−", "-")) == pytest.approx(risk[region]["+100"], abs=0.05)
    assert "JPMorgan −2.7" in out.read_text()
