"""The calibration audit (issue 16, item 3): bounds, the varied calibration, the command.

The bound rules (the bounds file, the leaf's range, ±50% clipped for shares), which estimates are
audited, that a varied calibration changes only the named leaves (and rescales the EU banks with
their scale), that one seed gives the same run twice (so the differences between the audit's runs
are the values' effects), the shipped bounds file, and the command end to end at a tiny size
(seconds), with bad flags as one line and exit status 2.
"""

from __future__ import annotations

import json

import pytest

from abm.calibration import load_calibration
from abm.calibration_schema import Leaf
from experiments import calibration_audit as audit
from experiments.cli import main
from experiments.scenarios import load_preset
from experiments.usage import UsageError


def leaf(value: float, unit: str = "ratio", **kw) -> Leaf:
    return Leaf(
        path="x.y",
        value=value,
        unit=unit,
        period="2025",
        source="test",
        status="estimate",
        basis="test basis",
        **kw,
    )


def test_the_default_rule_is_fifty_percent_either_side_clipped_for_shares():
    b = audit.bound_of(leaf(2.0), {})
    assert (b.low, b.high, b.basis, b.source) == (1.0, 3.0, "rule", "test basis")
    share = audit.bound_of(leaf(0.8, "share"), {})
    assert (share.low, share.high) == (0.4, 1.0)
    negative = audit.bound_of(leaf(-3.0, "USD_bn_per_year"), {})
    assert (negative.low, negative.high) == (-4.5, -1.5)
    assert audit.bound_of(leaf(0.0), {}) is None  # no scale to vary


def test_a_stated_range_and_then_the_bounds_file_take_precedence():
    ranged = leaf(0.02, "share", range=(0.005, 0.05))
    assert (audit.bound_of(ranged, {}).low, audit.bound_of(ranged, {}).basis) == (0.005, "range")
    entry = {"low": 0.01, "high": 0.03, "basis": "source", "source": "a regulator's table"}
    b = audit.bound_of(ranged, {"x.y": entry})
    assert (b.low, b.high, b.basis, b.source) == (0.01, 0.03, "source", "a regulator's table")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[value]]\npath='a.b'\nlow=2\nhigh=1\nbasis='source'\nsource='x'", "low < high"),
        ("[[value]]\npath='a.b'\nlow=1\nhigh=2\nbasis='guess'\nsource='x'", "basis"),
        ("[[value]\n", "cannot read it as TOML"),
    ],
)
def test_a_bad_bounds_file_is_one_clear_usage_error(tmp_path, text, message):
    path = tmp_path / "bounds.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message):
        audit.load_bounds(path)


def test_the_shipped_bounds_name_numeric_estimates_of_the_calibration():
    cal = load_calibration()
    for path, entry in audit.load_bounds().items():
        assert path in cal.leaves and cal.leaves[path].is_numeric, path
        assert entry["low"] < entry["high"]


def test_audited_values_are_read_estimates_less_counts_and_share_groups():
    cal = load_calibration()
    read = tuple(cal.leaves)
    paths = {b.path for b in audit.audited_values(cal, read, {})}
    assert paths and all(cal.leaves[p].status == "estimate" for p in paths)
    assert not any(".allocation." in p or ".reserve_mix." in p for p in paths)
    assert not any(cal.leaves[p].unit == "count" for p in paths)
    only = audit.audited_values(cal, read, {}, ("banks.liquidity",))
    assert only and all(b.path.startswith("banks.liquidity") for b in only)
    assert not audit.audited_values(cal, (), {})  # nothing read, nothing audited


def test_shares_of_a_whole_are_found_under_a_group_and_across_its_children():
    whole = audit.shares_of_a_whole(load_calibration())
    for path in (
        "funds.hedge.allocation.cash",
        "retail.cohorts.top_1.deposits_share",
        "exposures.prime_brokerage.jpmorgan",
        "banks.credit_risk.us.consumer.share",
    ):
        assert path in whole, path
    assert "banks.liquidity.eu_htm_share" not in whole


def test_an_end_where_the_opening_sheets_break_is_cut_toward_the_value():
    cal = load_calibration()
    path = "exposures.prime_broker_max_share"  # at 0.15 the prime brokers have no room left
    (b,) = audit.feasible(
        load_preset("severe_ai_bust"),
        cal,
        [audit.bound_of(cal.leaves[path], {})],
        cohorts=4,
        seed=0,
    )
    value = float(cal.value(path))
    assert value * 0.5 < b.low < value and b.high == value * 1.5
    assert "low end cut" in b.cut and "prime brokers" in b.cut


def test_a_varied_calibration_changes_only_its_leaves_and_rescales_the_eu_banks():
    cal = load_calibration()
    path = "banks.liquidity.eu_htm_share"
    scale = 2 * float(cal.value("banks.eu.asset_scale"))
    varied = audit.calibration_with(cal, {path: 0.3, "banks.eu.asset_scale": scale})
    assert varied.value(path) == 0.3 and cal.value(path) != 0.3
    assert varied.value("fx.eur_usd") == cal.value("fx.eur_usd")
    assert varied.eu_banks[0].total_assets == pytest.approx(2 * cal.eu_banks[0].total_assets)
    assert varied.eu_banks[0].cet1 == cal.eu_banks[0].cet1


def test_one_seed_gives_the_same_run_twice_and_the_reads_are_recorded():
    definition = load_preset("severe_ai_bust")
    cal = load_calibration()
    settings = {"steps": 3, "cohorts": 4, "seed": 0}
    first, read, seconds = audit.nominal_run(definition, cal, **settings)
    again = audit.run_once(definition, cal, **settings)
    assert first.outcomes == again.outcomes and not first.error and seconds > 0
    assert "banks.liquidity.eu_htm_share" in read


def test_a_failed_run_takes_the_median_of_the_others_and_is_counted():
    runs = [audit.Run({"a": 1.0}), audit.Run({}, "ValueError: x"), audit.Run({"a": 3.0})]
    y, failed = audit.outcome_column(runs, "a")
    assert list(y) == [1.0, 2.0, 3.0] and failed == 1


@pytest.fixture(scope="module")
def tiny_audit(tmp_path_factory):
    """The command run once at a tiny size: its Markdown file (the .csv and .json beside it)."""
    out = tmp_path_factory.mktemp("audit") / "audit.md"
    size = ["--steps", "4", "--cohorts", "4", "--trajectories", "1", "--samples", "2", "--top", "3"]
    argv = ["audit", *size, "--values", "banks.liquidity", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    return out


def test_the_command_writes_the_audit_at_a_tiny_size(tiny_audit):
    out = tiny_audit
    text = out.read_text()
    assert "powderkeg audit --steps 4" in text and "git commit" in text and "s per run" in text
    for heading in ("## Sensitivity bands", "## The 3 most influential", "### bank_failures"):
        assert heading in text
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["meta"]["runs"] == {"nominal": 1, "morris": 9, "sobol": 10}
    assert sum(v["sobol"] is not None for v in record["values"]) == 3
    assert out.with_suffix(".csv").read_text().startswith("rank,path,unit,value,low,high")


def test_rerender_rebuilds_the_same_files_and_reads_the_scenario_table_anew(tiny_audit, tmp_path):
    """make docs runs the audit beside the scenario table, then this: no run, only the table."""
    out = tmp_path / "audit.md"
    for suffix in (".md", ".csv", ".json"):
        out.with_suffix(suffix).write_bytes(tiny_audit.with_suffix(suffix).read_bytes())
    before = {suffix: out.with_suffix(suffix).read_text() for suffix in (".md", ".csv", ".json")}
    assert main(["audit", "--rerender", "--out", str(out)]) == 0
    assert {suffix: out.with_suffix(suffix).read_text() for suffix in before} == before

    table = tmp_path / "scenarios.json"
    rows = [{"scenario": "severe_ai_bust", "bank_failures": n} for n in (6, 7, 8)]
    table.write_text(json.dumps({"steps": 260, "worlds": 3, "metrics": {"bank_failures": {}},
                                 "per_world": rows}))  # fmt: skip
    assert main(["audit", "--rerender", "--out", str(out), "--scenarios", str(table)]) == 0
    text = out.read_text()
    assert "(docs/scenarios.md: 3 worlds, 260 weeks)" in text and "| 7 [6.1, 7.9] |" in text
    assert json.loads(out.with_suffix(".json").read_text())["scenario_table"]["worlds"] == 3
    assert text.split("## The 3 most")[1] == before[".md"].split("## The 3 most")[1]


def test_rerender_without_an_audit_record_is_one_line_and_exit_status_2(tmp_path, capsys):
    out = tmp_path / "audit.md"
    assert main(["audit", "--rerender", "--out", str(out)]) == 2
    assert "no audit record" in capsys.readouterr().err
    out.with_suffix(".json").write_text('{"meta": {}}')
    assert main(["audit", "--rerender", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "is not a calibration audit's record" in err and err.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--samples", "3"], "--samples: must be a power of two"),
        (["--outcomes", "gdp"], "--outcomes: unknown gdp"),
        (["--values", "no.such.leaf"], "--values: 0 audited value(s)"),
        (["--preset", "tulips"], "unknown scenario 'tulips'"),
        (["--trajectories", "0"], "--trajectories"),
        (["--out", "/tmp/audit.txt"], "ending in .md"),
    ],
)
def test_bad_flags_are_one_line_and_exit_status_2(argv, message, capsys):
    assert main(["audit", "--steps", "2", "--cohorts", "4", *argv, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
