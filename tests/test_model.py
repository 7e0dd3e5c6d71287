"""The Mesa model: books that balance after every step, reproducible worlds, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from abm.agents import Bank, Fund, RetailSaver, StablecoinIssuer, TechFirm
from abm.claims import debt_owed
from abm.model import Powderkeg
from abm.shocks import Shock, attach
from abm.stablecoins import pegs as stablecoin_pegs
from abm.state import Sentiment


def gaps(model: Powderkeg) -> dict[str, float]:
    return {k: float(np.max(np.abs(v))) for k, v in model.accounting_gap().items()}


def test_books_balance_after_every_step():
    model = Powderkeg(n_worlds=3, seed=2, n_cohorts=40)
    # the GPU vehicle's tenant stops paying rent: a debt-service default to clear along the way
    attach(model, [Shock("lease_income", 2, -1.0, target=("xai_colossus2",), weeks=68)])
    scale = float(np.max(np.abs(model.snapshot["total_assets"])))
    for _ in range(70):
        model.step()
        for name, gap in gaps(model).items():
            assert gap <= 1e-12 * scale, (model.steps, name, gap)
    # the model moved: prices and sentiment are no longer where they started
    assert np.abs(model.snapshot["prices"] - 1.0).max() > 0.01
    assert not np.allclose(model.sheets.ledger.equity_flows, 0.0)
    # the GPU financing vehicle (no sponsor recourse) breached its debt-service covenant; its
    # failure was cleared and the books still balance
    colossus = model.roster.index("xai_colossus2")
    assert model.snapshot["defaulted"][:, colossus].all()
    banks = model.roster.indices("bank")
    assert not model.snapshot["defaulted"][:, banks].any()


def test_a_failed_listed_firm_loses_its_shares_and_its_bonds_fall():
    model = Powderkeg(n_worlds=2, seed=2, n_cohorts=20)
    sheets = model.sheets
    coreweave = model.roster.index("coreweave")
    lost = sheets.real_assets[1, coreweave] * 0.9  # world 1: its data centres are written off
    sheets.real_assets[1, coreweave] -= lost
    change = np.zeros_like(sheets.ledger.cash)
    change[1, coreweave] = -lost
    sheets.ledger.book_equity(change)
    model.step()
    keys = sheets.assets.keys
    prices = model.snapshot["prices"]
    assert (
        model.snapshot["defaulted"][1, coreweave] and not model.snapshot["defaulted"][0, coreweave]
    )
    assert (
        prices[1, keys.index("equity_coreweave")] < 1e-3 < prices[0, keys.index("equity_coreweave")]
    )
    assert (
        prices[1, keys.index("bonds_coreweave")] < 0.99 * prices[0, keys.index("bonds_coreweave")]
    )
    for name, gap in gaps(model).items():
        assert gap < 1e-6, name


def test_same_seed_same_run():
    a, b = Powderkeg(n_worlds=2, seed=7, n_cohorts=20), Powderkeg(n_worlds=2, seed=7, n_cohorts=20)
    for _ in range(15):
        a.step()
        b.step()
    for key in a.snapshot:
        np.testing.assert_array_equal(a.snapshot[key], b.snapshot[key], err_msg=key)
    c = Powderkeg(n_worlds=2, seed=8, n_cohorts=20)
    for _ in range(15):
        c.step()
    assert not np.array_equal(a.snapshot["prices"], c.snapshot["prices"])


def test_worlds_of_a_batch_equal_single_world_runs():
    batch = Powderkeg(n_worlds=3, seed=11, n_cohorts=20)
    singles = [Powderkeg(n_worlds=1, seed=11 + w, n_cohorts=20) for w in range(3)]
    for _ in range(20):
        batch.step()
        for single in singles:
            single.step()
    for w, single in enumerate(singles):
        for key in ("prices", "equity", "cash", "defaulted"):
            np.testing.assert_allclose(
                batch.snapshot[key][w], single.snapshot[key][0], rtol=1e-9, atol=1e-9,
                err_msg=f"world {w}: {key}",
            )  # fmt: skip


def test_one_agent_per_institution_and_cohort():
    model = Powderkeg(n_worlds=1, seed=0, n_cohorts=50)
    counts = {cls: len(model.agents_by_type[cls]) for cls in model.agent_types}
    assert counts[RetailSaver] == 50
    assert counts[TechFirm] == 15 and counts[Bank] == 56 and counts[StablecoinIssuer] == 2
    assert counts[Fund] == len(model.roster.indices("fund"))
    amazon = next(a for a in model.agents_by_type[TechFirm] if a.key == "amazon")
    assert amazon.cash == pytest.approx(model.calibration.model_value("firms.amazon.cash"))
    assert amazon.equity > 0 and amazon.leverage > 1 and not amazon.defaulted
    bank = next(iter(model.agents_by_type[Bank]))
    assert 0.05 < bank.cet1_ratio < 0.25
    model.step()
    assert amazon.revenue > 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"n_worlds": 0}, "n_worlds"), ({"seed": -1}, "seed"), ({"n_cohorts": 2}, "n_cohorts")],
)
def test_bad_parameters_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        Powderkeg(**kwargs)


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="backend must be one of"):
        Powderkeg(backend="tpu")


def test_saving_lands_in_bank_deposits():
    model = Powderkeg(n_worlds=1, seed=3, n_cohorts=20)
    deposits = model.sheets.ledger.pools["deposits"]
    before = float(deposits.claims.sum())
    model.flows.save()
    weekly = model.calibration.model_value("retail.saving_flow")
    assert float(deposits.claims.sum()) - before == pytest.approx(weekly, rel=1e-9)
    assert float(np.max(np.abs(model.accounting_gap()["money"]))) < 1e-9


def test_crypto_crash_makes_stablecoin_holders_redeem():
    model = Powderkeg(n_worlds=2, seed=3, n_cohorts=20)
    crypto = model.sheets.assets.index("crypto")
    model.sheets.prices[1, crypto] *= 0.7  # world 1: crypto falls 30% this week
    pegs = stablecoin_pegs(model.sheets, model.sheets.total_assets())
    model.state.begin_week(model.economy.firms)
    model.state.flows.pegs = pegs  # reserve_stress stays None: no stress at the reserve banks
    model.flows.redemptions(model.state)
    due = model.state.flows.due
    coins = model.roster.indices("stablecoin")
    assert (due[0, coins] == 0).all()  # calm world: base redemptions are zero
    tokens = model.sheets.ledger.pools["tokens"].face[1]
    behaviour = model.calibration.group("stablecoins.behaviour", model_units=True)
    depeg = np.maximum(1.0 - pegs[1, coins], 0.0)
    peer = depeg.sum() - depeg
    # by hand: the share of each coin's assets in gold, bitcoin and real assets (loans, other)
    sheets, keys = model.sheets, model.sheets.assets.keys
    risky_assets = [keys.index("gold"), crypto]
    risky = sheets.holdings[:, coins][:, :, risky_assets] * sheets.prices[:, None, risky_assets]
    risky = risky.sum(-1) + sheets.real_assets[:, coins]
    ineligible = risky / sheets.total_assets()[:, coins]
    tether, usdc = (model.roster.index(k) for k in ("tether", "usdc"))
    assert ineligible[0, list(coins).index(tether)] == pytest.approx(0.2611, abs=1e-4)  # 2025
    assert (ineligible[:, list(coins).index(usdc)] == 0.0).all()  # cash, repo, T-bills, deposits
    ineligible = ineligible[1]  # bitcoin fell: a smaller share of Tether's reserves
    share = (
        behaviour["base_redemption_share_per_week"]
        + behaviour["crypto_drawdown_sensitivity"] * ineligible * 0.3
        + behaviour["depeg_sensitivity"] * depeg
        + behaviour["peer_depeg_sensitivity"] * peer
    )
    np.testing.assert_allclose(due[1, coins], share * tokens, rtol=1e-12)
    assert due[1, tether] > 0 and due[1, usdc] == 0  # holders leave the coin with risky reserves


def test_holders_fleeing_a_crypto_crash_buy_the_safer_coin_next_week():
    model = Powderkeg(n_worlds=2, seed=3, n_cohorts=20)
    sheets, flows, state = model.sheets, model.flows, model.state
    sheets.prices[1, sheets.assets.index("crypto")] *= 0.7  # world 1: crypto falls 30%
    state.begin_week(model.economy.firms)
    state.flows.pegs = stablecoin_pegs(sheets, sheets.total_assets())
    flows.redemptions(state)
    flows.pay_out(state)  # Tether pays what its cash covers; the rest waits for its sales
    tether, usdc = (model.roster.index(k) for k in ("tether", "usdc"))
    asked, paid = flows.asked[1, tether], flows.last_redemptions[1, tether]
    assert 0 < paid <= asked and flows.asked[1, usdc] == 0
    share = model.calibration.model_value("stablecoins.behaviour.flight_to_safety_share")
    # every redemption in this week's crash is the crypto term's: all of it flees
    assert float(flows.flight[1]) == pytest.approx(share * paid, rel=1e-12)
    assert float(flows.flight[0]) == 0.0
    pool = sheets.ledger.pools["tokens"]
    before = pool.face.copy()
    state.flows.pegs = stablecoin_pegs(sheets, sheets.total_assets())
    growth = float(model.calibration.model_value("assumptions.stablecoins.issuance_share_per_week"))
    cap = float(model.calibration.model_value("assumptions.stablecoins.market_cap_limit"))
    room = 1.0 - before.sum(axis=-1) / cap
    organic = growth * before * (np.exp(state.sentiment.crypto) * room)[:, None]
    organic = np.where(np.take(state.flows.pegs, pool.issuers, axis=1) > 0.999, organic, 0.0)
    flows.issue_tokens(state)
    issued = pool.face - before
    coins = list(pool.issuers)
    # the safer coin (USDC, no disallowed reserves) takes the whole flight; Tether none of it
    assert issued[1, coins.index(usdc)] == pytest.approx(
        organic[1, coins.index(usdc)] + share * paid, rel=1e-12
    )
    assert issued[1, coins.index(tether)] == pytest.approx(organic[1, coins.index(tether)])
    np.testing.assert_allclose(issued[0], organic[0], rtol=1e-12)  # calm world: no flight
    assert float(np.max(np.abs(model.accounting_gap()["money"]))) < 1e-9


def test_retail_buys_ai_equity_with_hype_and_sells_in_a_panic():
    model = Powderkeg(n_worlds=2, seed=4, n_cohorts=20)
    xp, sheets = model.xp, model.sheets
    retail = model.roster.indices("retail")
    ai = [
        m
        for m, k in enumerate(sheets.assets.keys)
        if k.startswith("equity_") and k != "equity_non_ai"
    ]
    before = sheets.holdings[:, retail][:, :, ai].sum(axis=(1, 2))
    hype = Sentiment(ai=xp.asarray([0.0, 1.0]), crypto=xp.asarray([0.0, 0.0]))
    model.state.sentiment = hype
    model.retail.act(model.state)
    need = model.state.flows.panic_sales
    after = sheets.holdings[:, retail][:, :, ai].sum(axis=(1, 2))
    assert after[0] == pytest.approx(before[0])  # no hype, no drawdown: nothing to do
    assert after[1] > before[1]  # hype: cohorts buy AI equity with their deposits
    assert (need == 0).all()
    assert float(np.max(np.abs(model.accounting_gap()["equity"]))) < 1e-9
    sheets.prices[1, ai] *= 0.5  # a 50% crash: every cohort's threshold is passed
    model.state.sentiment = Sentiment(ai=xp.asarray([0.0, 0.0]), crypto=xp.asarray([0.0, 0.0]))
    model.retail.act(model.state)
    need = model.state.flows.panic_sales
    assert (need[1, retail] > 0).all() and (need[0, retail] == 0).all()
    assert bool(model.retail.panicking[1].all())


def test_pensions_reach_for_yield_without_creating_money():
    model = Powderkeg(n_worlds=1, seed=5, n_cohorts=20)
    sheets, chase = model.sheets, model.yield_chasing
    keys = sheets.assets.keys
    oracle = keys.index("bonds_oracle")
    sheets.prices[0, oracle] = 0.8  # Oracle's bonds cheapen: their spread widens
    pensions = model.roster.indices("fund", "pension")
    cash, held = sheets.ledger.cash.copy(), sheets.holdings.copy()
    value = (held[0, pensions] * sheets.prices[0]).sum()
    chase.rebalance()
    after = sheets.holdings[0, pensions]
    assert (after[:, oracle] > held[0, pensions][:, oracle]).all()  # they buy the cheap bond
    np.testing.assert_array_equal(sheets.ledger.cash, cash)  # trades finance each other
    assert (after * sheets.prices[0]).sum() == pytest.approx(value, rel=1e-12)
    assert (sheets.outside_units() >= -1e-9).all()


def test_the_order_of_the_banks_changes_nothing(tmp_path):
    # the same 48 EU banks listed in another order: every rule is vectorized over agents and
    # every market round aggregates all orders first, so the economy must come out the same
    import shutil
    from importlib import resources

    from abm.calibration import load_calibration

    data = resources.files("abm").joinpath("data")
    shutil.copy(data.joinpath("calibration.toml"), tmp_path / "calibration.toml")
    lines = data.joinpath("eba2018_banks.csv").read_text().splitlines()
    rows = lines[1:]
    order = np.random.default_rng(0).permutation(len(rows))
    (tmp_path / "eba2018_banks.csv").write_text("\n".join([lines[0], *[rows[k] for k in order]]))
    shuffled = Powderkeg(n_worlds=2, seed=9, n_cohorts=20,
                         calibration=load_calibration(tmp_path / "calibration.toml"))  # fmt: skip
    original = Powderkeg(n_worlds=2, seed=9, n_cohorts=20)
    for _ in range(30):
        original.step()
        shuffled.step()
    # sums over banks in another order differ in the last bits; the banks' lending and payouts
    # have kinks at their capital target (where they sit), which carry those bits up to about
    # 1e-7 over 30 weeks. A flow sent to the wrong bank would move its equity by far more.
    rtol = 1e-6
    np.testing.assert_allclose(shuffled.snapshot["prices"], original.snapshot["prices"], rtol=rtol)
    for family in ("firm", "bank", "fund", "stablecoin", "retail"):
        lo, hi = original.roster.blocks[family]
        np.testing.assert_allclose(
            shuffled.snapshot["equity"][:, lo:hi].sum(axis=-1),
            original.snapshot["equity"][:, lo:hi].sum(axis=-1),
            rtol=rtol, err_msg=family,
        )  # fmt: skip
    banks = original.roster.indices("bank", "eu")
    moved = {original.roster.names[i]: i for i in banks}
    same = [moved[shuffled.roster.names[i]] for i in banks]
    np.testing.assert_allclose(
        shuffled.snapshot["equity"][:, banks], original.snapshot["equity"][:, same], rtol=rtol
    )


def test_mesa_datacollector_records_every_step():
    from abm.agents import Bank

    model = Powderkeg(n_worlds=1, seed=1, n_cohorts=20)
    for _ in range(5):
        model.step()
    series = model.datacollector.get_model_vars_dataframe()
    assert len(series) == 6  # the start and five weeks
    assert series["ai_equity_index"].iloc[0] == pytest.approx(1.0)
    banks = model.datacollector.get_agenttype_vars_dataframe(Bank)
    assert len(banks) == 6 * 56 and (banks["cet1_ratio"] > 0).all()


def test_each_channel_switch_removes_its_link():
    from abm.channels import Channels

    with pytest.raises(ValueError, match="unknown channel"):
        Channels.only("telepathy")
    quiet = Channels.only()  # every channel off
    model = Powderkeg(n_worlds=2, seed=6, n_cohorts=20, channels=quiet)
    for _ in range(30):
        model.step()
    snap = model.snapshot
    assert not model.retail.panicking.any()
    assert snap["run_withdrawals"].sum() == 0.0 and snap["redemptions_paid"].sum() == 0.0
    assert np.isinf(model.fire_sales.depth).all()
    for name, gap in gaps(model).items():
        assert gap < 1e-9, name
    full = Powderkeg(n_worlds=2, seed=6, n_cohorts=20)
    for _ in range(30):
        full.step()
    assert full.retail.panicking.any() or full.snapshot["redemptions_paid"].sum() > 0


def test_policy_levers_act_through_the_rules():
    from abm.policy import Policy

    with pytest.raises(ValueError, match="capital_regime must be one of own, us, eu"):
        Policy(capital_regime="uk")
    with pytest.raises(ValueError, match="hedge_fund_leverage_cap"):
        Policy(hedge_fund_leverage_cap=0.5)
    own = Powderkeg(n_worlds=1, seed=1, n_cohorts=20)
    eu = Powderkeg(n_worlds=1, seed=1, n_cohorts=20, policy=Policy(capital_regime="eu"))
    us_banks = own.roster.indices("bank", "us")
    # EU rules ask more of US banks: a higher buffer (11% vs 8.5% of risk-weighted assets)
    assert (eu.capital.buffer[us_banks] > own.capital.buffer[us_banks]).all()
    insured = Powderkeg(n_worlds=1, seed=1, n_cohorts=20, policy=Policy(deposit_insurance=0.0))
    assert float(insured.bank_runs.uninsured_share.max()) == 0.0
    assert float(insured.bank_runs.uninsured.max()) == 0.0
    capped = Powderkeg(n_worlds=1, seed=1, n_cohorts=20, policy=Policy(hedge_fund_leverage_cap=1.5))
    capped.step()  # hedge funds start at assets/equity of 2: the cap makes them sell
    hedge = capped.roster.indices("fund", "hedge")
    assets = capped.snapshot["total_assets"][0, hedge]
    net_worth = assets - debt_owed(capped.sheets)[0, hedge]  # the shareholders' stake (NAV)
    assert (net_worth / assets >= 1 / 1.5 - 1e-6).all()
    assert capped.snapshot["sale_proceeds"][0, hedge].sum() > 0


def test_market_maker_of_last_resort_lifts_bond_prices_to_its_trigger():
    from abm.policy import Policy

    policy = Policy(market_maker_of_last_resort=True)
    model = Powderkeg(n_worlds=30, seed=2, n_cohorts=20, policy=policy)
    keys = model.sheets.assets.keys
    ig = keys.index("ig_bonds_non_ai")
    model.sheets.prices[:, ig] = 0.7  # a crash far past the trigger (about 0.89)
    before = model.sheets.prices.copy()
    model.market_maker.step(model.state)
    acts = np.asarray(model.market_maker.acts)
    assert acts.any() and not acts.all()  # it acts with probability 0.9 per world (seeded)
    after = model.sheets.prices[:, ig]
    assert (after[acts] > 0.85).all() and (after[~acts] == before[~acts, ig]).all()
    assert (model.state.backstop_bought[acts] <= model.market_maker.capacity + 1e-9).all()
    assert float(np.max(np.abs(model.accounting_gap()["money"]))) < 1e-9
    off = Powderkeg(n_worlds=30, seed=2, n_cohorts=20)
    off.sheets.prices[:, ig] = 0.7
    off.market_maker.step(off.state)
    assert (off.sheets.prices[:, ig] == 0.7).all()


def test_spv_covenants_call_on_sponsors_then_fail():
    model = Powderkeg(n_worlds=2, seed=3, n_cohorts=20)
    spv = model.spv
    names = [model.roster.names[i] for i in spv.rows]
    hyperion = names.index("meta_hyperion")
    model.spv.impair(model.xp.asarray([0.0, 0.6]))  # world 1: GPUs and buildings lose 60%
    model.step()
    cure = np.asarray(spv.last_cure)
    assert (cure[0] == 0).all()  # untouched world: no breach
    assert cure[1, hyperion] > 0  # Meta cures Hyperion's breach up to its recourse
    recourse = float(model.calibration.model_value("firms.meta_hyperion.recourse_share"))
    debt_before = np.asarray(spv.debt())[1, hyperion] + cure[1, hyperion]  # the cure repaid debt
    assert cure[1, hyperion] <= recourse * debt_before + 1e-9
    colossus = names.index("xai_colossus2")  # no recourse: it fails
    assert bool(np.asarray(spv.breached)[1, colossus])
    assert model.snapshot["defaulted"][1, spv.rows[colossus]]
    assert not model.snapshot["defaulted"][0, spv.rows[colossus]]
    for name, gap in gaps(model).items():
        assert gap < 1e-9 * 1e5, name


def test_stablecoin_run_draws_its_bank_deposits_first():
    model = Powderkeg(n_worlds=1, seed=3, n_cohorts=20)
    usdc = model.roster.index("usdc")
    pool = model.sheets.ledger.pools["deposits"]
    holder = list(np.asarray(pool.holders)).index(usdc)
    deposits = float(pool.claims[0, holder])
    banks = model.roster.indices("bank")
    bank_cash = model.sheets.ledger.cash[0, banks].sum()
    due = np.zeros_like(model.sheets.ledger.cash)
    due[0, usdc] = 5.0  # redemptions beyond its small cash balance
    model.state.flows.due = due
    model.flows.draw_deposits(model.state)
    drawn = deposits - float(pool.claims[0, holder])
    assert drawn == pytest.approx(5.0)  # its cash was zero: all of it from deposits
    assert model.sheets.ledger.cash[0, banks].sum() == pytest.approx(bank_cash - drawn)
    assert float(np.max(np.abs(model.accounting_gap()["money"]))) < 1e-9
