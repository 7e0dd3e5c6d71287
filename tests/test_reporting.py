"""Model-level series: every reporter agrees with a hand computation from the snapshot."""

from __future__ import annotations

import math

import numpy as np
import pytest

from abm.agents import Bank, Fund, RetailSaver, StablecoinIssuer, TechFirm
from abm.collector import make_datacollector
from abm.model import Powderkeg
from abm.reporting import (
    AGENT_COLUMNS,
    Recorder,
    _worst_decile_mean,
    agents_frame,
    ensemble_columns,
    ensemble_frame,
)
from abm.shocks import Shock, attach

STEPS = 60


@pytest.fixture(scope="module")
def run():
    """Two worlds, 60 weeks, with the recorder and Mesa's collector attached from step 0."""
    model = Powderkeg(n_worlds=2, seed=1, n_cohorts=20)
    # the GPU vehicle's tenant stops paying: a default for the reporters to count
    attach(model, [Shock("lease_income", 2, -1.0, target=("xai_colossus2",), weeks=STEPS)])
    start = {k: np.array(v) for k, v in model.snapshot.items()}
    recorder = Recorder()
    collector = make_datacollector(model)
    recorder.record(model)
    collector.collect(model)
    for _ in range(STEPS):
        model.step()
        recorder.record(model)
        collector.collect(model)
    return model, start, recorder, collector


def by_hand(model: Powderkeg, start: dict[str, np.ndarray], world: int) -> dict[str, float]:
    """The series of one world, computed with plain loops over the roster and the assets."""
    snap, roster, table = model.snapshot, model.roster, model.sheets.assets
    prices = snap["prices"][world]
    listed = [m for m, c in enumerate(table.asset_class) if c == "equity" and table.issuer[m]]
    out = {
        "ai_equity_index": sum(prices[m] for m in listed) / len(listed),
        "crypto_price": prices[table.keys.index("crypto")],
        "treasury_price": prices[table.keys.index("treasuries")],
    }
    for m in listed:
        issuer = table.issuer[m]
        bond = table.keys.index(f"bonds_{issuer}")
        p, years = prices[bond], table.duration[bond] / 52.0
        out[f"bond_price_{issuer}"] = p
        out[f"spread_change_bp_{issuer}"] = -math.log(p / 1.0) / years * 1e4
    for family in ("firm", "bank", "fund", "stablecoin", "retail"):
        out[f"defaults_{family}"] = sum(
            1
            for i in range(roster.size)
            if roster.family[i] == family and snap["defaulted"][world, i]
        )
    retail = [i for i in range(roster.size) if roster.family[i] == "retail"]
    out["fire_sale_volume_usd_bn"] = sum(
        snap["sale_proceeds"][world, i] for i in range(roster.size) if i not in retail
    )
    out["retail_sales_usd_bn"] = sum(snap["sale_proceeds"][world, i] for i in retail)
    banks = [i for i in range(roster.size) if roster.family[i] == "bank"]
    alive = [i for i in banks if not snap["defaulted"][world, i]]
    cet1 = [snap["cet1_ratio"][world, i] for i in alive]
    out["bank_cet1_median"] = float(np.median(cet1))
    out["bank_cet1_min"] = min(cet1)
    lev = [snap["total_assets"][world, i] / snap["equity"][world, i] for i in alive]
    out["bank_leverage_median"] = float(np.median(lev))
    out["peg_tether"] = snap["peg"][world, roster.names.index("tether")]
    out["peg_usdc"] = snap["peg"][world, roster.names.index("usdc")]
    retail = [i for i in range(roster.size) if roster.family[i] == "retail"]
    wealth = sum(snap["equity"][world, i] for i in retail)
    wealth0 = sum(start["equity"][world, i] + snap["saved"][world, i] for i in retail)
    out["retail_wealth_usd_bn"] = wealth
    out["retail_loss_usd_bn"] = wealth0 - wealth
    out["retail_loss_share"] = (wealth0 - wealth) / wealth0
    shares = sorted(
        ((kept - snap["equity"][world, i]) / kept
         for i in retail
         for kept in [start["equity"][world, i] + snap["saved"][world, i]]),
        reverse=True,
    )  # fmt: skip
    worst = shares[: math.ceil(len(shares) / 10)]
    out["retail_loss_share_worst_decile"] = sum(worst) / len(worst)
    parts = ("fire_sale_converged", "failures_converged", "deals_converged")
    for key in parts:
        out[key] = bool(snap[key][world])
    out["clearing_converged"] = all(out[key] for key in parts)
    out["world_stopped"] = bool(snap["world_stopped"][world])
    hedge = [i for i in range(roster.size) if roster.kind[i] == "hedge"]
    out["hedge_fund_leverage_median"] = float(
        np.median(
            [
                snap["total_assets"][world, i]
                / (snap["total_assets"][world, i] - snap["debt"][world, i])
                for i in hedge
                if not snap["defaulted"][world, i]
            ]
        )
    )
    return out


def test_reporters_agree_with_hand_computations(run):
    model, start, _, _ = run
    frame = ensemble_frame(model)
    assert list(frame["world"]) == [0, 1]
    assert set(frame["step"]) == {STEPS}
    for world in (0, 1):
        row = frame.iloc[world]
        for column, expected in by_hand(model, start, world).items():
            atol = 1e-6 if column.endswith("usd_bn") else 1e-12  # sums of ~1e5 USD bn
            assert row[column] == pytest.approx(expected, rel=1e-12, abs=atol), (world, column)


def test_the_run_moved_something_the_reporters_show(run):
    model, _, _, _ = run
    cols = ensemble_columns(model)
    assert (cols["defaults_firm"] >= 1).all()  # the GPU vehicle defaults on its debt service
    assert not np.allclose(cols["ai_equity_index"], 1.0)
    assert np.isfinite(cols["spread_change_bp_oracle"]).all()
    assert (cols["bank_cet1_min"] <= cols["bank_cet1_median"]).all()


def test_recorder_keeps_every_step_and_world(run):
    model, _, recorder, _ = run
    frame = recorder.frame()
    assert len(recorder) == STEPS + 1
    assert len(frame) == (STEPS + 1) * 2
    assert list(frame.columns[:2]) == ["step", "world"]
    assert list(frame.columns[2:]) == list(ensemble_columns(model))
    assert frame["step"].min() == 0 and frame["step"].max() == STEPS
    first = frame[frame["step"] == 0]
    np.testing.assert_allclose(first["retail_loss_usd_bn"], 0.0, atol=1e-6)
    np.testing.assert_allclose(first["ai_equity_index"], 1.0)
    np.testing.assert_array_equal(first["defaults_total"], 0)
    last = frame[frame["step"] == STEPS].reset_index(drop=True)
    current = ensemble_frame(model)
    for column in current.columns:
        np.testing.assert_array_equal(last[column], current[column], err_msg=column)


def test_datacollector_reports_medians_and_families(run):
    model, _, recorder, collector = run
    model_vars = collector.get_model_vars_dataframe()
    assert len(model_vars) == STEPS + 1
    assert "ai_equity_index_median" in model_vars and "clearing_converged_all" in model_vars
    series = recorder.frame()
    median = series.groupby("step")["ai_equity_index"].median().to_numpy()
    np.testing.assert_allclose(model_vars["ai_equity_index_median"].to_numpy(), median)
    banks = collector.get_agenttype_vars_dataframe(Bank)
    assert {"name", "equity", "cash", "total_assets", "defaulted", "cet1_ratio"} <= set(banks)
    assert len(banks) == (STEPS + 1) * len(model.roster.indices("bank"))
    firms = collector.get_agenttype_vars_dataframe(TechFirm)
    assert "revenue" in firms
    colossus = firms[firms["name"] == "xai_colossus2"]
    assert colossus["defaulted"].iloc[-1]  # world 0, as the agents' properties show
    assert "peg" in collector.get_agenttype_vars_dataframe(StablecoinIssuer)
    assert len(collector.get_agenttype_vars_dataframe(Fund)) > 0
    assert RetailSaver not in collector.agenttype_reporters  # off by default: costly


def test_single_world_collector_uses_plain_names_and_optional_retail():
    model = Powderkeg(n_worlds=1, seed=3, n_cohorts=8)
    collector = make_datacollector(model, agents=False, retail_agents=True)
    model.step()
    collector.collect(model)
    model_vars = collector.get_model_vars_dataframe()
    assert "ai_equity_index" in model_vars and "clearing_converged" in model_vars
    assert model_vars["ai_equity_index"].iloc[0] == ensemble_columns(model)["ai_equity_index"][0]
    assert set(collector.agenttype_reporters) == {RetailSaver}
    retail = collector.get_agenttype_vars_dataframe(RetailSaver)
    assert len(retail) == 8 and "wealth" in retail
    np.testing.assert_allclose(retail["wealth"], retail["equity"])


def test_agents_frame_is_the_final_balance_sheet(run):
    model, _, _, _ = run
    frame = agents_frame(model)
    n = model.roster.size
    assert tuple(frame.columns) == AGENT_COLUMNS
    assert len(frame) == 2 * n
    row = frame[(frame["world"] == 1) & (frame["name"] == "xai_colossus2")].iloc[0]
    i = model.roster.index("xai_colossus2")
    assert row["equity"] == model.snapshot["equity"][1, i]
    assert row["family"] == "firm" and row["kind"] == "spv" and row["defaulted"]
    np.testing.assert_allclose(
        frame["total_assets"] - frame["liabilities"], frame["equity"], rtol=1e-9, atol=1e-6
    )


def test_worst_decile_is_the_mean_of_the_largest_tenth():
    losses = np.array([[0.0, 0.1, 0.5, 0.2, 0.9, 0.3, 0.4, 0.6, 0.7, 0.8, 0.05, 0.15]])
    # 12 cohorts: the worst tenth is the two largest losses
    assert _worst_decile_mean(losses)[0] == pytest.approx((0.9 + 0.8) / 2)
    assert _worst_decile_mean(np.array([[0.3, -0.1]]))[0] == pytest.approx(0.3)
