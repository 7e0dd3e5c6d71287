"""`powderkeg report` from real (tiny) sweeps: heat maps, Morris indices with a tornado plot, the
channel ablation (checked against `powderkeg evidence`'s own ablation), and the SALib wrapper on
a function whose Sobol' indices are known."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.cli import main
from experiments.report import ablation_summaries, point_table
from experiments.sensitivity import analyze, problem, sample
from experiments.sweeps.store import ResultsDir

HEAD = """
scenario = "ai_revenue_disappointment"
seed = 2
"""
SWEEPS = {
    "grid": HEAD
    + """worlds = 2
steps = 4
[fixed]
"model.n_cohorts" = 20
[[parameters]]
name = "policy.haircut_floor"
values = [0.0, 0.2]
[[parameters]]
name = "shocks.ai_hype.size"
values = [-0.2, -0.6]
""",
    "morris": HEAD
    + """worlds = 1
steps = 4
[fixed]
"model.n_cohorts" = 20
[design]
kind = "morris"
samples = 2
[[parameters]]
name = "shocks.ai_hype.size"
low = -0.6
high = -0.1
[[parameters]]
name = "shocks.revenue_shortfall.size"
low = -0.6
high = -0.1
""",
    "ablation": HEAD
    + """worlds = 2
steps = 10
[[parameters]]
name = "channels"
values = ["none", "fire_sales", "margin_calls", "all"]
""",
}


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, scheduler: str) -> dict[str, Path]:
    """Each sweep of SWEEPS run for real, then reported."""
    root = tmp_path_factory.mktemp("sweeps")
    out = {}
    for name, text in SWEEPS.items():
        file = root / f"{name}.toml"
        file.write_text(text)
        out[name] = root / name
        argv = ["sweep", str(file), "--out", str(out[name]), "--no-progress"]
        assert main([*argv, "--scheduler", scheduler]) == 0
        assert main(["report", str(out[name])]) == 0
    return out


def html(results: dict[str, Path], name: str) -> str:
    return (results[name] / "report" / "report.html").read_text()


def test_grid_report_has_fans_heat_map_and_point_table(results: dict[str, Path]) -> None:
    report = results["grid"] / "report"
    assert (report / "fans.png").stat().st_size > 10_000
    heat = report / "heatmap_policy_haircut_floor__shocks_ai_hype_size.png"
    assert heat.stat().st_size > 5_000
    page = html(results, "grid")
    assert "<img src='fans.png'" in page and f"<img src='{heat.name}'" in page
    assert "ai_revenue_disappointment" in page and "4/4 points finished" in page
    points = pd.read_csv(report / "points.csv", index_col="point")
    worlds = ResultsDir(results["grid"]).read_worlds()
    expected = worlds.groupby("point")["total_loss_usd_bn"].mean()
    np.testing.assert_allclose(points["total_loss_usd_bn"], expected.to_numpy())
    assert list(points["worlds"]) == [2, 2, 2, 2]
    if worlds["banking_crisis"].nunique() == 1:  # no bank failed: the page says where to look
        assert "--metric bank_cet1_low" in page
    assert main(["report", str(results["grid"]), "--metric", "bank_cet1_low"]) == 0
    page = html(results, "grid")
    assert (
        "Mean over worlds of Lowest CET1 ratio of any bank (% of risk-weighted assets), by "
        "Repo haircut floor (%) and AI hype shock, size (%)" in page
    )
    # the points table: headers in words with units, shares shown in %
    assert "Worlds with a bank failure (% of worlds)<br><code>banking_crisis</code>" in page
    assert "Total loss, retail and institutions (USD bn)" in page
    assert "<td>-20</td>" in page and "<td>-60</td>" in page  # the AI hype shock's size in %


def test_morris_report_ranks_the_parameters(results: dict[str, Path]) -> None:
    report = results["morris"] / "report"
    assert (report / "tornado.png").stat().st_size > 5_000
    page = html(results, "morris")
    assert "Sensitivity (morris)" in page and "mu_star" in page
    assert "shocks.ai_hype.size" in page and "shocks.revenue_shortfall.size" in page
    manifest = json.loads((results["morris"] / "manifest.json").read_text())
    assert manifest["plan"]["problem"]["num_vars"] == 2
    assert len(manifest["plan"]["points"]) == 2 * (2 + 1)


def test_morris_report_of_unfinished_sweep_says_so(
    results: dict[str, Path], tmp_path: Path
) -> None:
    partial = tmp_path / "partial"
    shutil.copytree(results["morris"], partial, ignore=shutil.ignore_patterns("report"))
    (partial / "worlds" / "point-000005.parquet").unlink()
    assert main(["report", str(partial), "--metric", "total_loss_usd_bn"]) == 0
    page = (partial / "report" / "report.html").read_text()
    assert "Indices need every point" in page and "5 of 6" in page


def test_ablation_matches_powderkeg_evidence(results: dict[str, Path]) -> None:
    """The sweep's channel configurations give the numbers `powderkeg evidence --ablation` gives."""
    from experiments.evidence import run_ablation

    page = html(results, "ablation")
    assert "Ablation of the contagion channels" in page and "amplification" in page.lower()
    worlds = ResultsDir(results["ablation"]).read_worlds()
    [(label, summary)] = ablation_summaries(worlds, ["channels"])
    assert label == "all points"
    direct = run_ablation(
        "ai_revenue_disappointment",
        ["none", "fire_sales", "margin_calls", "all"],
        worlds=2,
        steps=10,
        seed=2,
        backend="numpy",
    ).summary()
    for config, row in direct["configurations"].items():
        for key, value in row.items():
            assert summary["configurations"][config][key] == pytest.approx(value, rel=1e-9)
    assert summary["amplification"] == pytest.approx(direct["amplification"], rel=1e-9, nan_ok=True)
    assert summary["configurations"]["all"]["total_loss_usd_bn"] != pytest.approx(
        summary["configurations"]["none"]["total_loss_usd_bn"]
    )


def test_point_table_means_and_types() -> None:
    worlds = pd.DataFrame(
        {
            "point": [0, 0, 1, 1],
            "world": [0, 1, 0, 1],
            "seed": [0, 1, 0, 1],
            "p": [1.0, 1.0, 2.0, 2.0],
            "banking_crisis": [True, False, True, True],
            "clearing_converged": [True, True, True, False],
        }
    )
    worlds["banking_crisis"] = worlds["banking_crisis"].astype(float)
    table = point_table(worlds, ["p"], ["banking_crisis"])
    assert table["banking_crisis"].tolist() == [0.5, 1.0]
    assert table["clearing_converged"].tolist() == [True, False]


def test_report_errors_are_one_line(
    results: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "has no manifest.json" in capsys.readouterr().err
    assert main(["report", str(results["grid"]), "--metric", "gdp"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown outcome 'gdp'" in err and "banking_crisis" in err


def test_sobol_indices_of_the_ishigami_function() -> None:
    """Ishigami (1990): S1 = (0.314, 0.442, 0), ST = (0.558, 0.442, 0.244) with a=7, b=0.1."""
    spec = problem(["x1", "x2", "x3"], [(-np.pi, np.pi)] * 3)
    x = sample("sobol", spec, 1024, seed=1)
    y = np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])
    indices = analyze("sobol", spec, x, y)
    assert list(indices.index) == ["x1", "x2", "x3"]
    np.testing.assert_allclose(indices["S1"], [0.314, 0.442, 0.0], atol=0.06)
    np.testing.assert_allclose(indices["ST"], [0.558, 0.442, 0.244], atol=0.06)


def test_morris_finds_the_parameter_that_matters() -> None:
    spec = problem(["big", "none"], [(0.0, 1.0), (0.0, 1.0)])
    x = sample("morris", spec, 20, seed=0)
    indices = analyze("morris", spec, x, 5.0 * x[:, 0] + 0.0 * x[:, 1])
    assert indices.loc["big", "mu_star"] == pytest.approx(5.0)
    assert indices.loc["none", "mu_star"] == pytest.approx(0.0)


def test_constant_outcome_has_no_indices() -> None:
    spec = problem(["a"], [(0.0, 1.0)])
    x = sample("sobol", spec, 8, seed=0)
    assert analyze("sobol", spec, x, np.ones(len(x))).isna().all().all()


# -- figures: words and units, lines that stay apart, colour bars that keep to themselves -----


def test_every_series_and_outcome_has_words_and_a_unit() -> None:
    from abm.model import Powderkeg
    from experiments.columns import describe
    from experiments.metrics import EXTRA, METRICS

    model = Powderkeg(n_worlds=1, n_cohorts=4, backend="numpy")
    outcomes = [m.key for m in METRICS] + list(EXTRA) + ["banking_crisis", "bank_cet1_low"]
    for name, table in [(c, "series") for c in model.week_series] + [
        (o, "outcome") for o in outcomes
    ]:
        column = describe(name, table)
        assert column.unit and column.title != name and "_" not in column.title, name
        shown = column.display_unit
        if "usd_bn" in name:  # one convention: money in USD bn, shares in %, time in weeks
            assert shown == "USD bn", name
        if column.unit.startswith("fraction"):
            assert shown.startswith("%") and column.scale == 100.0, name
    assert describe("bank_cet1_min").label == (
        "Bank CET1 ratio, weakest bank (% of risk-weighted assets)"
    )
    assert describe("fire_sale_volume_usd_bn", "outcome").title == "Fire-sale volume, total"
    assert describe("policy.haircut_floor").label == "Repo haircut floor (%)"
    assert describe("shocks.ai_hype.size").label == "AI hype shock, size (%)"


def test_low_variance_heat_map_tells_its_cells_apart(tmp_path: Path) -> None:
    """Cells that differ in the 5th digit: each reads its own number, no colour-bar offset."""
    from experiments.sweeps.plots import heat_map

    values = 0.1 + np.array([[1, 2, 3], [4, 5, 6]]) * 1e-6  # CET1 ratios 10.0001% ... 10.0006%
    table = pd.DataFrame(values, index=[0.0, 0.2], columns=[-0.6, -0.4, -0.2])
    table.index.name, table.columns.name = "policy.haircut_floor", "shocks.ai_hype.size"
    fig = heat_map(
        table,
        "shocks.ai_hype.size",
        "policy.haircut_floor",
        "bank_cet1_low",
        tmp_path / "h.png",
        title="Lowest CET1 ratio of any bank, mean over worlds, averaged over Fire sales channel",
    )
    ax, bar = fig.axes
    cells = [t.get_text() for t in ax.texts]
    assert cells == ["10.0001", "10.0002", "10.0003", "10.0004", "10.0005", "10.0006"]
    assert bar.yaxis.get_offset_text().get_text() == ""  # nothing written above the bar
    fig.canvas.draw()
    title = ax.title.get_window_extent()
    assert title.y1 <= fig.bbox.y1 and title.x0 >= 0 and title.x1 <= fig.bbox.x1  # all of it
    assert not title.overlaps(bar.yaxis.get_offset_text().get_window_extent())
    ticks = [t.get_text() for t in bar.get_yticklabels() if t.get_text()]
    assert len(set(ticks)) == len(ticks) >= 2
    assert all("e" not in t and "+" not in t for t in ticks), ticks
    assert bar.get_ylabel() == "Lowest CET1 ratio of any bank\n(% of risk-weighted assets)"
    assert ax.get_xlabel() == "AI hype shock, size (%)"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["-60", "-40", "-20"]
    assert ax.get_ylabel() == "Repo haircut floor (%)"


def test_flat_heat_map_says_so_and_probabilities_are_percent(tmp_path: Path) -> None:
    from experiments.sweeps.plots import heat_map

    table = pd.DataFrame([[0.0, 0.0], [0.0, 0.0]], index=[2.0, 5.0], columns=[True, False])
    fig = heat_map(
        table,
        "channels.fire_sales",
        "policy.hedge_fund_leverage_cap",
        "banking_crisis",
        tmp_path / "f.png",
        title="Worlds with a bank failure",
        probability=True,
    )
    ax, bar = fig.axes
    assert ax.get_title().replace("\n", " ").endswith("every cell 0% of worlds")
    assert bar.get_ylabel() == "Worlds with a bank failure (% of worlds)"
    norm = ax.images[0].norm
    assert (norm.vmin, norm.vmax) == (0.0, 100.0)


def test_fan_lines_differ_and_coinciding_ones_are_named(tmp_path: Path) -> None:
    from experiments.sweeps.plots import fan_charts

    steps = np.arange(9)
    rows = []
    for point, depth in ((0, 0.02), (1, 0.02), (2, 0.05)):  # points 0 and 1 run alike
        for world in range(2):
            for step in steps:
                cet1 = 0.14 - depth * np.sin(step / 3) - 0.001 * world
                rows.append({"point": point, "world": world, "step": step, "bank_cet1_min": cet1})
    series = pd.DataFrame(rows)
    labels = {0: "point 0", 1: "point 1", 2: "point 2"}
    fig = fan_charts(series, labels, ["bank_cet1_min"], tmp_path / "fans.png", title="t")
    ax = fig.axes[0]
    assert ax.get_title().replace("\n", " ") == (
        "Bank CET1 ratio, weakest bank (% of risk-weighted assets)"
    )
    lines = [line for line in ax.get_lines() if line.get_label() in labels.values()]
    assert len(lines) == 3
    styles = {(ln.get_color(), str(ln.get_linestyle()), ln.get_marker()) for ln in lines}
    assert len(styles) == 3
    assert {str(ln.get_markevery()) for ln in lines} != {str(lines[0].get_markevery())}
    assert max(lines[0].get_ydata()) == pytest.approx(100 * (0.14 - 0.0005))  # in %
    assert [t.get_text() for t in ax.texts] == ["same median: point 1 = 0"]
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == list(labels.values())
