"""powderkeg systemic: the institutions ranked by DebtRank on each layer and combined (issue 14)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from abm.claims import DEBT_POOLS
from experiments import systemic
from experiments.cli import main


def chain() -> tuple[np.ndarray, np.ndarray]:
    """Three institutions: 0 lends 5 to 1, 1 lends 10 to 2; equity 10, 20, 30 (one world).

    ``A[i, j]`` is what i is owed by j, so ``A[0, 1] = 5`` and ``A[1, 2] = 10``.
    """
    exposures = np.zeros((1, 3, 3))
    exposures[0, 0, 1] = 5.0
    exposures[0, 1, 2] = 10.0
    return exposures, np.array([[10.0, 20.0, 30.0]])


def test_debtrank_of_a_chain_matches_the_hand_computation():
    # W = [[0, .5, 0], [0, 0, .5], [0, 0, 0]], v = (10, 20, 30) / 60.
    # Shock 2: h = (0, 0, 1) -> (0, .5, 1) -> (.25, .5, 1); R_2 = (.25 * 10 + .5 * 20) / 60.
    # Shock 1: h = (0, 1, 0) -> (.5, 1, 0); R_1 = .5 * 10 / 60. Nobody is owed by 0: R_0 = 0.
    exposures, equity = chain()
    ranks = systemic.debtrank_of(exposures, equity)
    assert ranks.shape == (1, 3)
    assert ranks[0] == pytest.approx([0.0, 5.0 / 60.0, 12.5 / 60.0], abs=1e-12)


def test_identical_worlds_are_ranked_alike_and_a_broken_world_is_nan():
    exposures, equity = chain()
    many = np.concatenate([exposures, exposures * 2.0, exposures, exposures])
    equities = np.concatenate([equity, equity, equity, equity])
    many[3, 0, 1] = np.nan
    ranks = systemic.debtrank_of(many, equities)
    assert ranks[0] == pytest.approx([0.0, 5.0 / 60.0, 12.5 / 60.0], abs=1e-12)
    assert np.array_equal(ranks[2], ranks[0])
    assert ranks[1] == pytest.approx([0.0, 10.0 / 60.0, (10.0 + 20.0) / 60.0])  # W = 1: all lost
    assert np.all(np.isnan(ranks[3]))


def test_impact_is_capped_at_the_whole_equity_and_zero_without_equity():
    exposures = np.array([[[0.0, 50.0, 1.0], [4.0, 0.0, 0.0], [7.0, 0.0, 0.0]]])
    impact = systemic.impact_matrix(exposures, np.array([[10.0, 0.0, -3.0]]))
    assert impact[0, 0] == pytest.approx([0.0, 1.0, 0.1])
    assert not impact[0, 1:].any()  # no equity of its own: it passes no distress on


def test_an_institution_nobody_is_exposed_to_ranks_last():
    # DebtRank of j counts what j's creditors lose: institution 3 lends to everyone but borrows
    # from nobody, so its own failure costs the others nothing and it has the lowest rank.
    exposures, _ = chain()
    wider = np.zeros((1, 4, 4))
    wider[:, :3, :3] = exposures
    wider[0, 3, :3] = [2.0, 3.0, 4.0]
    ranks = systemic.debtrank_of(wider, np.array([[10.0, 20.0, 30.0, 40.0]]))
    ranking = systemic.Ranking.of(ranks)
    assert ranks[0, 3] == 0.0 and ranking.order[-1] == 3
    assert ranks[0, 2] > ranks[0, 1] > 0.0


def test_a_fund_without_equity_passes_nothing_on_but_its_lenders_lose():
    # 0 (a bank, equity 10) lends 4 to 1 (a fund, equity 0); 1 is owed 8 by 2.
    exposures = np.zeros((1, 3, 3))
    exposures[0, 0, 1] = 4.0
    exposures[0, 1, 2] = 8.0
    ranks = systemic.debtrank_of(exposures, np.array([[10.0, 0.0, 5.0]]))
    assert ranks[0] == pytest.approx([0.0, 0.4 * 10.0 / 15.0, 0.0])


def test_ranking_uses_the_median_and_leaves_out_worlds_that_did_not_converge():
    ranks = np.array([[0.1, 0.3], [0.2, 0.1], [0.3, 0.2], [np.nan, 0.9]])
    ranking = systemic.Ranking.of(ranks)
    assert ranking.worlds == 3
    assert list(ranking.order) == [0, 1]  # medians 0.2 and 0.2: ties keep the roster's order
    assert ranking.median == pytest.approx([0.2, 0.2])
    assert ranking.p5[0] == pytest.approx(np.percentile([0.1, 0.2, 0.3], 5))


@pytest.fixture(scope="module")
def model():
    """The baseline with 2 worlds and 20 retail cohorts, after 2 weeks."""
    from experiments.build import build_model
    from experiments.scenarios import load_preset

    built = build_model(load_preset("baseline"), n_worlds=2, seed=1, backend="numpy", n_cohorts=20)
    for _ in range(2):
        built.step()
    return built


def test_exposure_layers_sum_to_the_combined_network_within_each_holders_assets(model):
    layers = systemic.exposure_layers(model.sheets)
    k = model.roster.blocks["retail"][0]
    assert list(layers) == list(systemic.layer_names())
    parts = [layers[name] for name in (*DEBT_POOLS, systemic.BONDS)]
    assert np.allclose(sum(parts), layers[systemic.COMBINED])
    combined = layers[systemic.COMBINED]
    assert combined.shape == (2, k, k) and np.all(combined >= 0.0)
    assert not np.any(np.diagonal(combined, axis1=1, axis2=2))
    assets = np.asarray(model.sheets.total_assets())[:, :k]
    assert np.all(combined.sum(axis=2) <= assets * (1 + 1e-9) + 1e-9)
    # the bank-loan layer is the ledger's edges among institutions, summed by pair
    edges = model.sheets.ledger.edges("bank_loans")
    issuer, holder = np.asarray(edges.issuer), np.asarray(edges.holder)
    inside = (issuer < k) & (holder < k)
    assert layers["bank_loans"].sum() == pytest.approx(np.asarray(edges.amount)[:, inside].sum())
    one = systemic.exposure_layers(model.sheets, world=1)
    assert np.array_equal(one[systemic.COMBINED][0], combined[1])


def test_systemic_importance_of_the_model_is_a_share_of_equity(model):
    ranks = systemic.systemic_importance(model.sheets)
    k = model.roster.blocks["retail"][0]
    for layer, values in ranks.items():
        assert values.shape == (2, k), layer
        assert np.all((values >= 0.0) & (values <= 1.0)), layer
    assert np.any(ranks[systemic.COMBINED] > 0.0)
    # the combined network loses at least as much as its largest single layer
    single = np.max([ranks[name] for name in (*DEBT_POOLS, systemic.BONDS)], axis=0)
    assert np.all(ranks[systemic.COMBINED] >= single - 1e-9)


def test_the_network_view_lists_the_top_institutions_of_the_world_shown():
    from app import network
    from app.live import LiveRun

    run = LiveRun(preset="baseline", seed=2, n_worlds=2, n_cohorts=20)
    run.step()
    listed = network.systemic_ranking(run, world=1)
    assert 0 < len(listed) <= network.TOP_DEBTRANK
    values = [value for _, value in listed]
    assert values == sorted(values, reverse=True) and values[-1] > 0.0
    ranks = systemic.systemic_importance(run.sheets, world=1)[systemic.COMBINED][0]
    assert values[0] == pytest.approx(ranks.max())
    assert listed[0][0] == run.roster.names[int(np.argmax(ranks))]


# -- the command ------------------------------------------------------------------------------


def test_the_command_writes_each_preset_and_week(tmp_path, capsys):
    out = tmp_path / "systemic.md"
    argv = ["systemic", "--worlds", "2", "--steps", "2", "--seed", "5", "--cohorts", "20"]
    argv += ["--presets", "baseline", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Systemic importance")
    assert "- command: `powderkeg systemic --worlds 2" in text and "git commit:" in text
    assert "2 worlds, 2 weeks run, ranked at week(s) 0, 2, 20 retail cohorts, seed 5" in text
    assert "## baseline" in text and "### Week 0" in text and "### Week 2" in text
    week0 = text.split("### Week 0", 1)[1].split("### Week 2", 1)[0]
    rows = [line for line in week0.splitlines() if re.match(r"\| \d+ \| `", line)]
    assert len(rows) == systemic.TOP_COMBINED
    medians = [float(row.split("|")[4].split("%")[0]) for row in rows]
    assert medians == sorted(medians, reverse=True)
    layers = [line.split("|")[1].strip() for line in week0.splitlines() if line.startswith("| ")]
    assert set(systemic.layer_names()) - {systemic.COMBINED} <= set(layers)
    assert f"wrote {out}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--steps", "4", "--week", "9"], "argument --week: a week is outside the run"),
        (["--week", "1"], "give comma-separated weeks from 0 to 0"),
        (["--steps", "4", "--week", "2,x"], "argument --week:"),
        (["--presets", "nope"], "argument --presets: unknown preset 'nope'"),
        (["--out", "ranking.txt"], "argument --out: give a Markdown file ending in .md"),
        (["--worlds", "0"], "argument --worlds: must be an integer from 1"),
        (["--seed", "-1"], "argument --seed"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, flags, message):
    flags = [f.replace("ranking.txt", str(tmp_path / "ranking.txt")) for f in flags]
    assert main(["systemic", "--out", str(tmp_path / "s.md"), *flags, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("powderkeg systemic: error:")
    assert message in err
    assert not (tmp_path / "s.md").exists()
