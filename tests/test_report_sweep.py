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
    assert "Mean of bank_cet1_low over worlds" in html(results, "grid")


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
