"""Ratings follow debt / EBITDA on S&P's grid; fallen angels force IG-only holders to sell."""

from __future__ import annotations

import array_api_strict as xs
import numpy as np
import pytest

from abm.balance_sheets import build_balance_sheets
from abm.calibration import load_calibration
from abm.channels import Channels
from abm.constraints import BankCapital
from abm.credit_risk import CreditRisk
from abm.economy import Economy
from abm.events import EventLog
from abm.macro import MacroBlock
from abm.market import pressure_depth
from abm.model import Powderkeg
from abm.policy import Policy
from abm.random import WorldStreams
from abm.ratings import (
    ANCHOR,
    BAND_MIDDLES,
    LAST_IG,
    REVIEW_WEEKS,
    SCALE,
    CreditRatings,
    anchor_notch,
    parse_rating,
    rating_text,
)
from abm.roster import build_roster
from abm.state import BankState, Sentiment, WorldState
from abm.valuation import Valuation

RATED = ("amazon", "microsoft", "alphabet", "meta", "oracle", "nvidia", "amd", "coreweave")


def model(channels: Channels | None = None) -> Powderkeg:
    return Powderkeg(n_worlds=1, seed=2, n_cohorts=8, collect_agents=False, channels=channels)


def firm(m: Powderkeg, name: str) -> int:
    return list(m.economy.firm_rows).index(m.roster.index(name))


def gaps(m: Powderkeg) -> float:
    return max(float(np.max(np.abs(np.asarray(g)))) for g in m.accounting_gap().values())


def review(m: Powderkeg, active) -> None:
    """The agency's review this week (``m.state.week``), firms ``active`` when the week began."""
    m.state.begin_week(m.economy.firms)
    m.state.flows.firms_alive = active
    m.ratings.review(m.state)


def test_every_issuer_starts_at_its_calibrated_rating():
    m = model()
    notch = np.asarray(m.ratings.notch)[0]
    for name in RATED:
        assert rating_text(notch[firm(m, name)]) == m.calibration.value(f"firms.{name}.rating")
    for name in ("openai", "xai", "anthropic", "meta_hyperion"):  # unrated or no listed bond
        assert notch[firm(m, name)] == -1.0
    assert m.snapshot["rating_notch"][0, m.roster.index("oracle")] == SCALE.index("BBB")
    assert m.snapshot["rating_notch"][0, m.roster.index("jpmorgan")] == -1.0


def test_anchor_follows_the_sp_matrix_and_extends_a_notch_a_turn():
    x = np.array(BAND_MIDDLES)
    for row in range(len(ANCHOR)):
        rows = np.full(x.size, row)
        np.testing.assert_allclose(anchor_notch(np, x, rows), ANCHOR[row])
        grid = np.linspace(0.0, 12.0, 200)
        steps = np.diff(anchor_notch(np, grid, np.full(grid.size, row)))
        assert (steps >= -1e-12).all()  # more debt never improves a rating
        far = anchor_notch(np, np.array([7.5, 8.5]), np.array([row, row]))
        assert far[1] - far[0] == pytest.approx(1.0)
    assert parse_rating("BBB-") == LAST_IG and parse_rating("NR") == -1
    with pytest.raises(ValueError, match=r"rating must be one of AAA.*got 'Baa2'"):
        parse_rating("Baa2")


def _push_oracle_to(m: Powderkeg, turns: float) -> None:
    """Oracle's smoothed debt / EBITDA at ``turns``; the next review week comes next."""
    o = firm(m, "oracle")
    smoothed = np.asarray(m.ratings.smoothed).copy()
    smoothed[:, o] = turns
    m.ratings.smoothed = m.xp.asarray(smoothed)
    m.state.firms.leverage = m.ratings.smoothed  # the valuation reads the same
    m.state.week = REVIEW_WEEKS - 1


def test_reviews_are_quarterly_and_follow_leverage_both_ways():
    m = model()
    o = firm(m, "oracle")
    active = m.xp.ones((1, len(m.economy.firm_rows)), dtype=bool)
    _push_oracle_to(m, 5.6)
    m.state.week = 0  # not a review week: nothing moves
    review(m, active)
    assert m.ratings.notch[0, o] == SCALE.index("BBB")
    _push_oracle_to(m, 5.6)  # about 0.7 turns more: one notch down, still investment grade
    review(m, active)
    assert m.ratings.notch[0, o] == SCALE.index("BBB-")
    assert float(np.sum(m.ratings.last_forced)) == 0.0
    _push_oracle_to(m, 3.0)  # deleveraged, but OpenAI (unrated) is a major customer: held
    review(m, active)
    assert m.ratings.notch[0, o] == SCALE.index("BBB-")
    m.ratings.dependence = m.ratings.dependence * 0.0  # no major customer: upgraded
    _push_oracle_to(m, 3.0)
    review(m, active)
    assert m.ratings.notch[0, o] < SCALE.index("BBB")


def test_an_unrated_major_customer_caps_upgrades_at_its_credit():
    """CoreWeave, about 40% of whose revenue OpenAI pays, climbs no higher than BB on it."""
    m = model()
    c, oa = firm(m, "coreweave"), firm(m, "openai")
    assert float(m.ratings.dependence[0, oa, c]) > 0.3  # OpenAI's share at the start
    active = m.xp.ones((1, len(m.economy.firm_rows)), dtype=bool)
    smoothed = np.asarray(m.ratings.smoothed).copy()
    smoothed[:, c] = 2.0  # a metric that would make it investment grade
    m.ratings.smoothed = m.xp.asarray(smoothed)
    m.state.firms.leverage = m.ratings.smoothed
    m.state.week = REVIEW_WEEKS - 1
    review(m, active)
    assert rating_text(float(m.ratings.notch[0, c])) == "BB"  # the cap, not the metric
    assert m.calibration.value("assumptions.ratings.unrated_counterparty_rating") == "BB"
    m.ratings.dependence = m.ratings.dependence * 0.0  # the same metric, no major customer
    m.state.week = 2 * REVIEW_WEEKS - 1
    review(m, active)
    assert float(m.ratings.notch[0, c]) <= LAST_IG


def test_a_fallen_angel_forces_ig_only_holders_to_sell_through_the_market():
    m = model()
    s = m.sheets
    log = EventLog(m)
    asset = s.assets.index("bonds_oracle")
    held = s.holdings[0, :, asset].copy()
    cash = s.ledger.cash[0].copy()
    price = float(s.prices[0, asset])
    makers = float(s.ledger.outsiders.paid_in["market_makers"][0])
    active = m.xp.ones((1, len(m.economy.firm_rows)), dtype=bool)
    _push_oracle_to(m, 8.5)
    review(m, active)
    o = firm(m, "oracle")
    assert m.ratings.notch[0, o] > LAST_IG  # BB range now
    weeks = m.ratings.sale_weeks
    share = np.asarray(m.ratings.constrained)
    weekly = 1.0 - (1.0 - share) ** (1.0 / weeks)  # the first week's part of the shares
    sold = held * weekly
    np.testing.assert_allclose(held - s.holdings[0, :, asset], sold, atol=1e-12)
    insurers = m.roster.indices("fund", "insurer_life")
    assert (sold[insurers] > 0.0).all() and sold[m.roster.indices("bank")].sum() == 0.0
    total = sold.sum()
    assert float(s.prices[0, asset]) == pytest.approx(
        price * np.exp(-total / s.assets.depth[asset])
    )
    proceeds = s.ledger.cash[0] - cash
    np.testing.assert_array_less(-1e-12, proceeds)
    assert proceeds.sum() == pytest.approx(float(m.ratings.last_forced[0, o]))
    assert float(s.ledger.outsiders.paid_in["market_makers"][0]) - makers == pytest.approx(
        proceeds.sum()
    )
    assert m.state.firms.selling_pressure[0, asset] > 0.0  # the spread feels the selling
    assert gaps(m) < 1e-9
    m.take_snapshot()
    log.update(m)
    events = log.frame()
    down = events[(events.event == "downgrade") & (events.agent == "oracle")]
    assert len(down) == 1 and down.amount_usd_bn.iloc[0] == pytest.approx(proceeds.sum())
    message = down.message.iloc[0]
    assert "Oracle Corporation downgraded to BB" in message and "must sell $" in message


def test_a_fallen_angel_is_sold_over_the_sale_weeks_and_no_longer():
    m = model()
    s = m.sheets
    asset = s.assets.index("bonds_oracle")
    held = s.holdings[0, :, asset].copy()
    active = m.xp.ones((1, len(m.economy.firm_rows)), dtype=bool)
    _push_oracle_to(m, 8.5)
    weeks = int(m.ratings.sale_weeks)
    for week in range(REVIEW_WEEKS - 1, REVIEW_WEEKS - 1 + weeks + 3):
        m.state.week = week
        review(m, active)
        if week == REVIEW_WEEKS - 1 + weeks - 1:  # the last week of selling
            share = np.asarray(m.ratings.constrained)
            np.testing.assert_allclose(s.holdings[0, :, asset], held * (1.0 - share), atol=1e-9)
    np.testing.assert_allclose(s.holdings[0, :, asset], held * (1.0 - share), atol=1e-9)
    assert float(np.sum(m.ratings.last_forced)) == 0.0
    assert gaps(m) < 1e-9


def test_a_fallen_angel_upgraded_again_is_sold_no_more():
    m = model()
    s = m.sheets
    asset = s.assets.index("bonds_oracle")
    active = m.xp.ones((1, len(m.economy.firm_rows)), dtype=bool)
    _push_oracle_to(m, 8.5)
    review(m, active)  # fallen: the first week's sales
    after_first = s.holdings[0, :, asset].copy()
    m.state.firms.junk = m.xp.zeros_like(m.state.firms.junk)  # investment grade again
    m.state.week = REVIEW_WEEKS
    review(m, active)
    np.testing.assert_array_equal(s.holdings[0, :, asset], after_first)
    assert float(np.sum(m.ratings.selling_left)) == 0.0


def test_without_the_channel_ratings_move_but_nobody_must_sell():
    m = model(Channels(rating_downgrades=False))
    s = m.sheets
    held = s.holdings.copy()
    _push_oracle_to(m, 8.5)
    review(m, m.xp.ones((1, len(m.economy.firm_rows)), dtype=bool))
    assert m.ratings.notch[0, firm(m, "oracle")] > LAST_IG
    np.testing.assert_array_equal(s.holdings, held)
    assert float(np.sum(m.ratings.last_forced)) == 0.0


def test_financing_and_ratings_run_on_array_api_strict_as_on_numpy():
    cal = load_calibration()
    roster = build_roster(cal, 8)
    results = []
    for xp in (xs, None):
        if xp is None:
            import array_api_compat.numpy as xp
        sheets, bank_params = build_balance_sheets(cal, roster, 2, xp)
        eco = Economy(cal, sheets)
        valuation = Valuation(cal, sheets, eco.firm)
        depth = xp.asarray(np.asarray(sheets.assets.depth), dtype=xp.float64)
        ratings = CreditRatings(
            cal, sheets, eco.firm_rows, valuation.leverage0, eco.bond_assets, depth,
            pressure_depth(sheets),
        )  # fmt: skip
        capital = BankCapital(cal, sheets, bank_params, Policy())
        loans, allowance = CreditRisk(cal, sheets, capital).opening_books()
        banks = BankState.start(capital.regions, loans, allowance, capital.opening_htm_units())
        macro = MacroBlock(cal, sheets, WorldStreams(xp, [0, 1]), eco).opening_state()
        state = WorldState.start(sheets, eco.firm, macro, banks)
        active = xp.ones((2, len(eco.firm_rows)), dtype=xp.bool)
        hype = xp.asarray([0.1, -0.2], dtype=xp.float64)
        for _ in range(REVIEW_WEEKS):
            state.begin_week(eco.firms)
            state.flows.firms_alive = active
            state.sentiment = Sentiment(ai=hype, crypto=hype)
            eco.run_firms(state)
            valuation.revalue(state)
            ratings.review(state)
            state.week += 1
        ratings.smoothed = ratings.smoothed * 0.0 + 8.5  # every issuer far too levered
        state.begin_week(eco.firms)
        state.flows.firms_alive = active
        state.week = 2 * REVIEW_WEEKS - 1
        ratings.review(state)
        results.append(
            [
                np.asarray(a)
                for a in (ratings.notch, ratings.last_forced, sheets.prices, sheets.ledger.cash)
            ]
        )
    for strict, plain in zip(*results, strict=True):
        np.testing.assert_allclose(strict, plain, rtol=1e-12, atol=1e-12)
    assert results[0][1].sum() > 0.0  # fallen angels were sold on both
