"""A run never reports broken numbers as results (issue: trustworthy results, items 2 and 3)."""

import numpy as np
import pytest

from abm.model import Powderkeg
from abm.reporting import ensemble_columns
from abm.shocks import KINDS, Shock, attach
from experiments.shock_entries import check_shock
from experiments.usage import UsageError


def test_a_world_whose_numbers_break_is_stopped_with_its_week_and_cause():
    model = Powderkeg(n_worlds=3, seed=2, n_cohorts=8)
    for _ in range(3):
        model.step()
    assert not model.state.stopped.any()
    prices = np.array(model.sheets.prices, copy=True)
    prices[1, 0] = np.nan  # world 1 breaks in week 4
    model.sheets.prices = prices
    model.step()
    model.step()
    assert model.state.stopped.tolist() == [False, True, False]
    assert model.state.stopped_week.tolist() == [-1, 4, -1]
    assert model.state.stop_reasons[1].startswith("non-finite ")
    columns = ensemble_columns(model)
    assert columns["world_stopped"].tolist() == [False, True, False]
    assert model.snapshot["world_finite"].tolist() == [True, False, True]


def test_every_series_is_finite_in_a_healthy_run():
    model = Powderkeg(n_worlds=2, seed=4, n_cohorts=8)
    for _ in range(6):
        model.step()
    columns = ensemble_columns(model)
    for name, values in columns.items():
        if values.dtype.kind == "f":
            assert np.all(np.isfinite(values)), name
    # hedge funds are levered a few times over, not infinitely (their shares are not debt)
    assert np.all((columns["hedge_fund_leverage_median"] > 1.0)
                  & (columns["hedge_fund_leverage_median"] < 50.0))  # fmt: skip


def test_convergence_is_reported_for_every_clearing():
    model = Powderkeg(n_worlds=2, seed=4, n_cohorts=8)
    model.step()
    columns = ensemble_columns(model)
    parts = ("fire_sale_converged", "failures_converged", "deals_converged")
    for key in parts:
        assert key in columns
    model.failures.converged = np.array([True, False])  # an Eisenberg–Noe clearing that did not
    model.take_snapshot()
    columns = ensemble_columns(model)
    assert columns["clearing_converged"].tolist() == [True, False]


@pytest.mark.parametrize("kind", ["ai_hype", "crypto_sentiment", "revenue_shortfall"])
def test_shock_sizes_past_the_models_range_are_refused(kind):
    high = KINDS[kind][1]
    assert np.isfinite(high)
    entry = {"kind": kind, "week": 4, "size": high * 5, "source": "test"}
    with pytest.raises(UsageError, match=f"size of a {kind} shock must be"):
        check_shock(entry, "shock")
    check_shock({**entry, "size": high}, "shock")  # the bound itself is allowed


def test_the_largest_allowed_jumps_keep_the_model_finite():
    for kind in ("ai_hype", "crypto_sentiment", "revenue_shortfall"):
        model = Powderkeg(n_worlds=1, seed=1, n_cohorts=8)
        attach(model, [Shock(kind, 2, KINDS[kind][1], weeks=52 if kind != "ai_hype" else 1)])
        for _ in range(40):
            model.step()
        assert not model.state.stopped.any(), kind


def test_overlapping_revenue_shortfalls_of_two_schedules_compose():
    def run(*schedules):
        model = Powderkeg(n_worlds=1, seed=3, n_cohorts=8)
        for shocks in schedules:
            attach(model, shocks)
        for _ in range(6):
            model.step()
        return model.state.firms

    first = [Shock("revenue_shortfall", 2, -0.2, target=("ai_lab",), weeks=10)]
    second = [Shock("revenue_shortfall", 3, -0.5, target=("ai_lab",), weeks=10)]
    both_in_one = run(first + second)
    in_two = run(first, second)  # a preset's shock and an app's button, say
    np.testing.assert_array_equal(in_two.revenue, both_in_one.revenue)
    assert in_two.params.revenue.shape == both_in_one.params.revenue.shape


def test_a_run_with_a_stopped_world_exits_non_zero_with_one_line(tmp_path, monkeypatch, capsys):
    import json

    from abm.sentiment import SentimentFactors
    from experiments.cli import main

    update = SentimentFactors.update

    def breaks_world_1_in_week_2(self, state):
        update(self, state)
        if state.week == 1:  # the second week
            ai = np.array(state.sentiment.ai, copy=True)
            ai[1] = np.nan
            state.sentiment = type(state.sentiment)(ai=ai, crypto=state.sentiment.crypto)

    monkeypatch.setattr(SentimentFactors, "update", breaks_world_1_in_week_2)
    out = tmp_path / "run"
    code = main(["run", "--steps", "4", "--worlds", "2", "--out", str(out), "--no-progress"])
    captured = capsys.readouterr()
    assert code == 1
    errors = [line for line in captured.err.splitlines() if "error" in line]
    assert len(errors) == 1 and "world 1 in week 2" in errors[0], captured.err
    assert "Worlds stopped" in captured.out and "Clearing converged" in captured.out
    verdict = next(x for x in captured.out.splitlines() if x.startswith("Clearing converged"))
    assert "NO (1 world(s) stopped" in verdict
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["clearing"]["all_converged"] is False
    assert manifest["summary_end"]["stopped"][0]["week"] == 2


def test_a_shock_after_the_last_week_is_refused(capsys):
    from experiments.cli import main

    code = main(["run", "--scenario", "ai_revenue_disappointment", "--steps", "3"])
    err = capsys.readouterr().err
    assert code == 2
    assert "hits in week 4" in err and err.count("\n") == 1
