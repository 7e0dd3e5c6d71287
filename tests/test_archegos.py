"""The ai_archegos preset: a levered AI-concentrated hedge fund fails on its own prime brokers.

One small run (4 worlds, 13 weeks) of the preset and the same run without the fund's bet (its
``fund_concentration`` shock removed): the fund fails in every world with the bet and in none
without it; the clearing writes off its loans at its prime brokers, the holders of its
``bank_loans`` edges, and at no other bank; its brokers' CET1 ratios fall further than they do
without the bet, while the other banks feel only the fire sale's pull on prices.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from experiments.build import build_model
from experiments.evidence import PrimeBrokers
from experiments.scenarios import load_preset

WORLDS, WEEKS, FUND = 4, 13, "hedge_20"


def _run(with_bet: bool) -> PrimeBrokers:
    preset = load_preset("ai_archegos")
    shocks = tuple(s for s in preset.shocks if with_bet or s.kind != "fund_concentration")
    model = build_model(
        dataclasses.replace(preset, shocks=shocks),
        n_worlds=WORLDS,
        seed=0,
        backend="numpy",
        n_cohorts=8,
        collect_agents=False,
    )
    brokers = PrimeBrokers(model, FUND)
    for _ in range(WEEKS):
        model.step()
        brokers.record()
    for gap in model.accounting_gap().values():
        assert np.max(np.abs(np.asarray(gap))) < 1e-6
    return brokers


@pytest.fixture(scope="module")
def runs() -> tuple[PrimeBrokers, PrimeBrokers]:
    return _run(True), _run(False)


def test_the_preset_names_the_fund_and_its_bet() -> None:
    preset = load_preset("ai_archegos")
    assert preset.spotlight_fund == FUND and preset.policy["named_counterparties"] is True
    bet = next(s for s in preset.shocks if s.kind == "fund_concentration")
    crash = next(s for s in preset.shocks if s.kind == "ai_hype")
    assert bet.target == (FUND,) and bet.week < crash.week and crash.size < 0


def test_the_brokers_are_the_holders_of_the_funds_loans(runs) -> None:
    bet, _ = runs
    model = bet.model
    roster = model.roster
    edges = model.sheets.ledger.edges("bank_loans")
    mine = np.asarray(edges.issuer) == roster.index(FUND)
    holders = {roster.names[int(h)] for h in np.asarray(edges.holder)[mine]}
    assert {bet.bank_names[b] for b in bet.brokers} == holders and len(holders) >= 1


def test_the_fund_fails_only_with_its_bet(runs) -> None:
    bet, without = runs
    assert np.all(bet.per_world()["spotlight_fund.failed"] == 1.0)
    assert np.all(without.per_world()["spotlight_fund.failed"] == 0.0)


def test_the_loss_lands_on_its_prime_brokers_and_no_other_bank(runs) -> None:
    bet, without = runs
    lost = np.asarray(bet.lost)
    others = [b for b in range(len(bet.bank_names)) if b not in bet.brokers]
    assert np.all(lost[:, others] == 0.0)
    assert np.all(lost[:, bet.brokers].sum(axis=1) > 1.0)  # USD bn written off in every world
    assert np.all(lost[:, bet.brokers] <= np.asarray(bet.exposure)[:, bet.brokers])
    assert np.all(np.asarray(without.lost) == 0.0)
    # the write-off is in proportion to what each broker lent (equal seniority, pro rata)
    share = lost[:, bet.brokers] / np.asarray(bet.exposure)[:, bet.brokers]
    np.testing.assert_allclose(share.max(axis=1), share.min(axis=1), rtol=1e-9)


def test_its_brokers_capital_falls_and_the_other_banks_barely_move(runs) -> None:
    bet, without = runs
    fall = 100.0 * (np.asarray(bet.cet1_low) - np.asarray(without.cet1_low))  # points, <= 0
    others = [b for b in range(len(bet.bank_names)) if b not in bet.brokers]
    largest = max(bet.brokers, key=lambda b: float(np.asarray(bet.exposure)[0, b]))
    assert np.all(fall[:, largest] < -0.3)
    # other banks lose only through prices moved by the fund's fire sales: a fraction of the
    # largest broker's fall, in every world
    assert np.all(fall[:, others].min(axis=1) > 0.5 * fall[:, largest])
    assert np.all(np.median(fall[:, others], axis=1) > -0.1)
    numbers = bet.per_world()
    assert np.all(numbers["other_banks.failed"] == 0.0)


def test_the_broker_record_runs_on_strict_arrays_and_agrees_with_numpy(monkeypatch) -> None:
    """:class:`PrimeBrokers` keeps its arrays on the model's device (a GPU's, in a real run)."""
    import array_api_strict as xs

    import abm.model

    def record(device=None) -> dict[str, np.ndarray]:
        model = build_model(load_preset("ai_archegos"), n_worlds=2, seed=0, backend="numpy",
                            n_cohorts=8, collect_agents=False, device=device)  # fmt: skip
        brokers = PrimeBrokers(model, FUND)
        for _ in range(6):
            model.step()
            brokers.record()
        return brokers.per_world()

    expected = record()
    with monkeypatch.context() as patch:
        patch.setattr(abm.model, "get_namespace", lambda name: xs)
        strict = record(device=xs.Device("device1"))
    assert set(strict) == set(expected) and expected["spotlight_fund.failed"].all()
    for key, values in expected.items():
        np.testing.assert_allclose(strict[key], values, rtol=1e-9, atol=1e-12, err_msg=key)
