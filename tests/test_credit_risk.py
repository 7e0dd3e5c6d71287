"""Credit risk on the banks' loan books (abm.credit_risk): satellites, provisions, lending."""

from __future__ import annotations

import math

import numpy as np
import pytest

from abm.balance_sheets import build_balance_sheets
from abm.calibration import load_calibration
from abm.channels import Channels
from abm.constraints import BankCapital
from abm.credit_risk import ALLOWANCE_WEEKS, COLLATERAL, CreditRisk
from abm.ledger import BilateralPool
from abm.model import Powderkeg
from abm.policy import Policy
from abm.roster import build_roster
from abm.rules import Rule
from abm.state import LOAN_BOOKS, REGIONS, BankState, MacroState, WorldState
from abm.stress_losses import load_stress_paths
from tests.reference.risk_weights import reference_rwa

MORTGAGES, CONSUMER, CORPORATE, CRE = range(len(LOAN_BOOKS))


def small_model(worlds: int = 2, seed: int = 5, runs: bool = True) -> Powderkeg:
    return Powderkeg(
        n_worlds=worlds, seed=seed, n_cohorts=20, collect_agents=False,
        channels=Channels(bank_runs=runs),
    )  # fmt: skip


def pin_macro(model: Powderkeg, path) -> None:
    """Replace the macro rule by ``path(state)``, which sets the macro state each week."""
    model.rules = tuple(
        Rule(r.name, r.mechanism, path) if r.name == "macro" else r for r in model.rules
    )


def set_macro(state, du=0.0, house=1.0, cre=1.0, gap=0.0, anchors=None) -> None:
    """Macro state at the anchors plus ``du`` unemployment, price levels and the output gap."""
    m = state.macro
    u0 = anchors if anchors is not None else m.unemployment
    m.unemployment = u0 * 0.0 + u0 + du
    m.house_prices = m.house_prices * 0.0 + house
    m.cre_prices = m.cre_prices * 0.0 + cre
    m.output_gap = m.output_gap * 0.0 + gap


def max_gap(model: Powderkeg) -> float:
    return max(float(np.max(np.abs(v))) for v in model.accounting_gap().values())


# -- the satellite models --------------------------------------------------------------------


def test_loss_rates_rise_with_unemployment_and_falling_prices():
    model = small_model(worlds=1)
    cr = model.credit_risk
    b = len(model.capital.regions)
    u0 = np.asarray(cr.reference_u)[None, :]
    one = np.ones((1, b))
    base = cr.loss_rates(u0, one, one)
    assert np.allclose(base, np.broadcast_to(cr.base_rate, base.shape))
    higher_u = cr.loss_rates(u0 + 0.02, one, one)
    assert np.all(higher_u > base)
    houses_down = cr.loss_rates(u0, one * 0.7, one)
    assert np.all(houses_down[..., MORTGAGES] > base[..., MORTGAGES])
    assert np.allclose(houses_down[..., [CONSUMER, CORPORATE, CRE]],
                       base[..., [CONSUMER, CORPORATE, CRE]])  # fmt: skip
    cre_down = cr.loss_rates(u0, one, one * 0.7)
    assert np.all(cre_down[..., CRE] > base[..., CRE])
    assert np.allclose(cre_down[..., :CRE], base[..., :CRE])
    # rising prices do not lower losses below the 2025 rates (only falls count)
    assert np.allclose(cr.loss_rates(u0, one * 1.3, one * 1.3), base)


def test_stress_point_gives_the_stressed_rates():
    """At the worst quarter of the region's stress path every book is at its stressed rate."""
    model = small_model(worlds=1)
    cr, regions = model.credit_risk, model.capital.regions
    paths = load_stress_paths()
    for r, region in enumerate(REGIONS):
        bank = int(np.nonzero(regions == r)[0][0])
        path = paths[region]
        u = np.asarray(cr.reference_u)[None, :] + path.unemployment_rise
        hp = np.full_like(u, 1.0 - path.price_fall("house_prices"))
        cre = np.full_like(u, 1.0 - path.price_fall("cre_prices"))
        got = cr.loss_rates(u, hp, cre)[0, bank]
        assert got == pytest.approx(cr.stressed_rate[r], rel=1e-9)
    assert COLLATERAL[MORTGAGES] == "house_prices" and COLLATERAL[CRE] == "cre_prices"


def test_each_named_bank_lends_its_own_share_of_its_assets():
    """A named US bank's loans at the start are its filings' share of its assets (Goldman Sachs
    about a ninth, Wells Fargo about half); the two US aggregates' share exceeds their real
    assets, so all of those are loans; the EU banks lend their region's share."""
    model = small_model(worlds=1)
    cal, s, cr = load_calibration(), model.sheets, model.credit_risk
    banks = np.asarray(cr.banks)
    assets = np.asarray(s.total_assets())[0, banks]
    real = np.asarray(s.real_assets)[0, banks]
    net = np.asarray(model.state.banks.loans - model.state.banks.allowance)[0].sum(axis=-1)
    share = np.asarray(cr.loans_share)
    for j, row in enumerate(banks):
        name = s.roster.names[row]
        if model.capital.regions[j] == 0:
            own = float(cal.value(f"banks.us.agents.{name}.loans_share_of_assets"))
            assert share[j] == pytest.approx(own), name
        else:
            assert share[j] == pytest.approx(
                float(cal.value("banks.credit_risk.eu.loans_share_of_assets"))
            )
        assert net[j] == pytest.approx(min(share[j] * assets[j], real[j]), rel=1e-9), name
    names = [s.roster.names[row] for row in banks]
    gs, wfc = names.index("goldman_sachs"), names.index("wells_fargo")
    assert 0.10 < net[gs] / assets[gs] < 0.13 and 0.45 < net[wfc] / assets[wfc] < 0.5
    for aggregate in ("large_regionals", "community_and_credit_unions"):
        k = names.index(aggregate)
        assert share[k] * assets[k] >= 0.99 * real[k] and net[k] >= 0.99 * real[k]


# -- one week against a per-bank reference ---------------------------------------------------


def reference_week(cr: CreditRisk, state, u_lag: np.ndarray) -> dict[str, np.ndarray]:
    """The week's books bank by bank and book by book, in plain Python (module docstring)."""
    s, mac, books = state.sheets, state.macro, state.banks
    banks = np.asarray(cr.banks)
    regions = np.asarray(cr.capital.region)
    assets, liabilities = s.assets_and_liabilities()
    deposits, wholesale = s.ledger.owed("deposits"), s.ledger.owed("wholesale")
    worlds, nb, nk = books.loans.shape
    out = {k: np.zeros((worlds, nb)) for k in ("provisions", "write_offs", "lending")}
    out["loans"] = np.zeros((worlds, nb, nk))
    out["allowance"] = np.zeros((worlds, nb, nk))
    weeks, horizon = cr.weeks, cr.horizon
    for e in range(worlds):
        for j in range(nb):
            i, r = banks[j], regions[j]
            if state.defaulted[e, i]:
                out["loans"][e, j] = books.loans[e, j]
                out["allowance"][e, j] = books.allowance[e, j]
                continue
            u = mac.unemployment[e, r]
            prices = {"house_prices": mac.house_prices[e, r], "cre_prices": mac.cre_prices[e, r]}
            trend = (u - u_lag[e, j]) * cr.trend_share * horizon / 13.0
            u_out = max(u + min(max(trend, -cr.outlook_cap), cr.outlook_cap), 0.0)
            ratio = (assets[e, i] - liabilities[e, i]) / reference_rwa(cr.capital, s, e, i)
            grow, shrink = 1.0, 0.0
            if bool(cr.binding[j]):
                lo, buf, tgt = cr.minimum[j], cr.buffer[j], cr.target[j]
                grow = min(max((ratio - buf) / (tgt - buf), 0.0), 1.0)
                shrink = min(max((buf - ratio) / (buf - lo), 0.0), 1.0)
            g = (cr.potential[j] + mac.inflation[e, r]
                 + cr.gap_elasticity * mac.output_gap[e, r]) / weeks  # fmt: skip
            g = max(g, 0.0) * grow + min(g, 0.0)
            written, repaid, wanted, rate_out = [], [], [], []
            for k in range(nk):
                fall = 0.0 if COLLATERAL[k] is None else max(-math.log(prices[COLLATERAL[k]]), 0)

                def rate(unemp: float, j: int = j, k: int = k, fall: float = fall) -> float:
                    du = unemp - cr.reference_u[j]
                    x = cr.beta_u[j, k] * du + cr.beta_p[j, k] * fall
                    return min(cr.base_rate[j, k] * math.exp(x), cr.max_rate)

                w = books.loans[e, j, k] * rate(u) / weeks
                gross = books.loans[e, j, k] - w
                rp = gross / cr.life[j, k]
                written.append(w)
                repaid.append(rp)
                wanted.append(max((rp + w) * (1.0 - shrink) + gross * g, 0.0))
                quarters = [u + (u_out - u) * (q + 0.5) / 4.0 for q in range(4)]
                rate_out.append(sum(rate(x) for x in quarters) / 4.0)  # the year's mean
            b, d = cr.liquidity_share, cr.deposited
            room = s.ledger.cash[e, i] - b * (deposits[e, i] + wholesale[e, i])
            cap = max(sum(repaid) + room / (1.0 - d + b * d), 0.0)
            scale = min(sum(wanted), cap) / sum(wanted) if sum(wanted) > 0 else 0.0
            for k in range(nk):
                lent = wanted[k] * scale
                gross = books.loans[e, j, k] - written[k] - repaid[k] + lent
                life_years = cr.life[j, k] / weeks
                near, far = min(life_years, horizon / weeks), max(life_years - horizon / weeks, 0)
                lifetime = gross * (rate_out[k] * near + cr.base_rate[j, k] * far)
                before = books.allowance[e, j, k]
                target = before + (lifetime - before) / ALLOWANCE_WEEKS  # a quarter's share
                out["loans"][e, j, k] = gross
                out["allowance"][e, j, k] = target
                out["provisions"][e, j] += written[k] + target - books.allowance[e, j, k]
                out["write_offs"][e, j] += written[k]
                out["lending"][e, j] += lent - repaid[k]
    return out


def test_one_week_matches_the_per_bank_reference():
    model = small_model(worlds=2)
    state, cr, s = model.state, model.credit_risk, model.sheets
    banks = np.asarray(cr.banks)
    model.step()  # a week of the full model first: books and cash away from the start
    set_macro(state, du=np.array([[0.01, 0.02], [0.03, -0.005]]), house=np.array([[0.8, 1.0]]),
              cre=np.array([[0.9, 0.75]]), gap=np.array([[-0.02, 0.01]]))  # fmt: skip
    # an upward trend of unemployment over the last quarter for the outlook
    u_lag = np.take(state.macro.unemployment, np.asarray(cr.capital.region), axis=1) - 0.004
    cr.u_history = np.stack([u_lag] * 13, axis=0)
    # one bank short of capital (below its buffer), one short of cash, one failed
    short, dry, failed = banks[0], banks[3], banks[10]
    s.real_assets[0, short] -= 0.06 * s.total_assets()[0, short]
    s.ledger.cash[1, dry] = 0.01 * s.ledger.cash[1, dry]
    state.defaulted[0, failed] = True
    want = reference_week(cr, state, u_lag)
    cr.step(state)
    got = state.banks
    for key in ("provisions", "write_offs", "lending", "loans", "allowance"):
        assert np.allclose(getattr(got, key), want[key], rtol=1e-9, atol=1e-9), key
    assert got.lending[0, 0] < 0.0  # the bank below its buffer shrinks its book
    assert got.provisions[0, 10] == 0.0 and got.lending[0, 10] == 0.0  # failed: stands still


# -- lending: capital and liquidity ----------------------------------------------------------


def test_capital_shortfall_cuts_lending():
    """Same bank, three worlds: at its target, between buffer and target, below its buffer."""
    model = small_model(worlds=3)
    state, cr, s = model.state, model.credit_risk, model.sheets
    j = 1
    i = int(np.asarray(cr.banks)[j])
    rwa = model.capital.risk_weighted_assets()[:, i]
    drop = np.array([0.0, 0.5, 1.2]) * float(cr.target[j] - cr.buffer[j]) * rwa
    s.real_assets[:, i] -= drop  # equity down by the drop: shortfall grows across worlds
    cr.step(state)
    lending = state.banks.lending[:, j] / np.sum(state.banks.loans[:, j], axis=-1)
    assert lending[0] > lending[1] > 0.0 > lending[2]


def test_liquidity_limits_lending():
    model = small_model(worlds=2)
    state, cr, s = model.state, model.credit_risk, model.sheets
    j = 2
    i = int(np.asarray(cr.banks)[j])
    funding = s.ledger.owed("deposits")[:, i] + s.ledger.owed("wholesale")[:, i]
    s.ledger.cash[1, i] = cr.liquidity_share * funding[1] + 1e-3  # at its liquidity buffer
    cr.step(state)
    assert state.banks.lending[1, j] < state.banks.lending[0, j]
    assert state.banks.lending[1, j] <= 1e-3 / (1.0 - cr.deposited) + 1e-9
    # it still lends a little, out of what was repaid, and keeps its buffer
    after = s.ledger.owed("deposits")[1, i] + s.ledger.owed("wholesale")[1, i]
    assert s.ledger.cash[1, i] >= cr.liquidity_share * after - 1e-9


# -- shocks, releases, accounting ------------------------------------------------------------


def test_charge_off_books_exactly_the_loss():
    model = small_model(worlds=2)
    state, cr, s = model.state, model.credit_risk, model.sheets
    for _ in range(3):
        model.step()
    banks = np.asarray(cr.banks)
    share = np.zeros_like(state.banks.loans)
    share[0, 4, CORPORATE] = 0.1
    share[1, :, CRE] = 0.05
    loss = np.sum(state.banks.loans * share, axis=-1)
    equity0, real0 = s.equity()[:, banks], s.real_assets[:, banks] * 1.0
    loans0 = state.banks.loans * 1.0
    cr.charge_off(state, share)  # a shock before the week's step
    assert np.allclose(s.equity()[:, banks], equity0 - loss)
    assert np.allclose(s.real_assets[:, banks], real0 - loss)
    assert np.allclose(state.banks.loans, loans0 * (1.0 - share))
    assert max_gap(model) < 1e-6
    model.step()
    # this week's write-offs hold the charge-off on top of the weekly ones
    assert np.all(state.banks.write_offs[0, 4] > loss[0, 4])
    assert state.banks.write_offs[0, 5] < 0.5 * loss[1, 5]  # world 0: no shock at bank 5
    assert max_gap(model) < 1e-6


def test_losses_by_book_add_up_to_each_region_with_the_charge_offs():
    """The by-book series sum each region's banks per book and add up to the region's totals."""
    model = small_model(worlds=2)
    state, cr = model.state, model.credit_risk
    for _ in range(3):
        model.step()
    share = np.zeros_like(state.banks.loans)
    share[0, 4, CORPORATE] = 0.1
    share[1, :, CRE] = 0.05
    charged = state.banks.loans * share
    cr.charge_off(state, share)  # before the week's step: carried into it
    model.step()
    by_book = state.banks.write_offs_by_book
    assert np.allclose(by_book.sum(axis=-1), state.banks.write_offs, rtol=1e-12)
    assert by_book[0, 4, CORPORATE] > charged[0, 4, CORPORATE]
    assert np.all(by_book[1, :, CRE] > charged[1, :, CRE])
    assert by_book[0, 5, CRE] < 0.5 * charged[1, 5, CRE]  # world 0: no shock on CRE
    series, region = model.week_series, np.asarray(cr.capital.region)
    for r, name in enumerate(("us", "eu")):
        rows = region == r
        for key, per_bank in (("write_offs", by_book), ("loans", state.banks.loans)):
            books = [series[f"bank_{key}_{name}_{book}_usd_bn"] for book in LOAN_BOOKS]
            for k, values in enumerate(books):
                assert np.allclose(values, per_bank[:, rows, k].sum(axis=1), rtol=1e-12)
            assert np.allclose(sum(books), series[f"bank_{key}_{name}_usd_bn"], rtol=1e-12)
    # the regions' dividends and buybacks add up to the banks' total
    paid = series["bank_payouts_us_usd_bn"] + series["bank_payouts_eu_usd_bn"]
    assert np.allclose(paid, series["bank_payouts_usd_bn"], rtol=1e-12)


def test_provisions_released_when_the_macro_state_improves():
    model = small_model(worlds=1, runs=False)  # bank runs off: the loan books alone
    state = model.state
    anchors = state.macro.unemployment * 1.0
    phase = {"stress": True}

    def path(st):
        if phase["stress"]:
            set_macro(st, du=0.04, house=0.8, cre=0.8, anchors=anchors)
        else:
            set_macro(st, anchors=anchors)

    pin_macro(model, path)
    calm = state.banks.allowance.sum() / state.banks.loans.sum()
    for _ in range(26):
        model.step()
    stressed = state.banks.allowance.sum() / state.banks.loans.sum()
    phase["stress"] = False
    model.step()
    assert np.all(state.banks.provisions < 0.0)  # the allowance is released
    for _ in range(25):
        model.step()
    assert stressed > 1.2 * calm
    assert state.banks.allowance.sum() / state.banks.loans.sum() < calm + 0.25 * (stressed - calm)
    assert max_gap(model) < 1e-6


def cast_sheets(sheets, dtype) -> None:
    """Every array of ``sheets`` in ``dtype`` (the float64 build fits the pools exactly)."""
    for name in ("holdings", "real_assets", "bonds", "prices", "supply", "impairment", "dilution"):
        setattr(sheets, name, getattr(sheets, name).astype(dtype))
    ledger = sheets.ledger
    ledger.cash, ledger.equity_flows = ledger.cash.astype(dtype), ledger.equity_flows.astype(dtype)
    paid = ledger.outsiders.paid_in
    for key in paid:
        paid[key] = paid[key].astype(dtype)
    for pool in ledger.pools.values():
        if isinstance(pool, BilateralPool):
            for name in ("balance", "outside_face", "lend_weight", "outside_weight",
                         "hold_weight"):  # fmt: skip
                setattr(pool, name, getattr(pool, name).astype(dtype))
            continue
        pool.face, pool.claims = pool.face.astype(dtype), pool.claims.astype(dtype)
        pool.outside = pool.outside.astype(dtype)


def test_float32_books_stay_float32():
    cal = load_calibration()
    roster = build_roster(cal, 20)
    results = {}
    for dtype in (np.float32, np.float64):
        sheets, params = build_balance_sheets(cal, roster, 2, np)
        cast_sheets(sheets, dtype)
        capital = BankCapital(cal, sheets, params, Policy())
        cr = CreditRisk(cal, sheets, capital)
        loans, allowance = cr.opening_books()
        z = np.zeros((2, 2), dtype=dtype)
        macro = MacroState(
            output_gap=z - 0.01, gdp_growth=z, unemployment=z + np.array([0.06, 0.08], dtype=dtype),
            inflation=z + 0.02,
            policy_rate=z, yield_10y=z, term_premium=z, house_prices=z + 0.9,
            cre_prices=z + 0.85, credit_growth=z,
        )  # fmt: skip
        banks = BankState.start(capital.regions, loans, allowance, capital.opening_htm_units())
        state = WorldState.start(sheets, None, macro, banks)
        for week in range(5):
            state.week = week
            cr.step(state)
        for key in ("loans", "allowance", "provisions", "write_offs", "lending"):
            value = getattr(state.banks, key)
            assert value.dtype == dtype and np.all(np.isfinite(value)), key
        assert sheets.real_assets.dtype == dtype
        results[dtype] = state.banks.provisions
    assert np.allclose(results[np.float32], results[np.float64], rtol=1e-3, atol=1e-3)


def test_baseline_year_keeps_the_books_balanced():
    model = small_model(worlds=2)
    state, cr, s = model.state, model.credit_risk, model.sheets
    banks = np.asarray(cr.banks)
    loans0, allowance0 = state.banks.loans * 1.0, state.banks.allowance * 1.0
    # the opening books: net loans inside the real assets, allowance the lifetime loss
    assert np.all(loans0 - allowance0 <= s.real_assets[:, banks, None].sum(-1)[..., None])
    us = model.capital.regions == 0
    ratio = allowance0[0, us].sum() / loans0[0, us].sum()
    assert 0.01 < ratio < 0.025  # FDIC: allowance about 1.7% of loans
    for _ in range(52):
        model.step()
        assert max_gap(model) < 1e-6
    growth = state.banks.loans.sum(axis=(1, 2)) / loans0.sum(axis=(1, 2)) - 1.0
    assert np.all((growth > 0.0) & (growth < 0.08))
    snap = model.snapshot
    rate = snap["loan_loss_rate"][:, banks]
    assert np.all((rate > 0.001) & (rate < 0.02))
    assert np.allclose(snap["loans_outside"][:, banks], state.banks.loans.sum(-1))
    assert np.all(snap["provisions"][:, banks] > 0.0)
