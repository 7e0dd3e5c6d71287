"""The replications of docs/validation.md at CI size: each stylized fact asserted on the numbers."""

from __future__ import annotations

import json
from itertools import pairwise

import numpy as np
import pytest

from experiments.cli import main
from experiments.replications import REPLICATIONS, load


@pytest.fixture(scope="module")
def outcomes() -> dict:
    """Every replication once at CI size (about 35 s on two cores: the TFG market, the ablation)."""
    return {name: load(name).run(size="ci", seed=0, backend="numpy") for name in REPLICATIONS}


# -- 1. overlapping portfolios (Caccioli et al. 2014) ------------------------------------------


def test_contagion_window_in_diversification(outcomes):
    n = outcomes["overlapping_portfolios"].numbers
    top = np.asarray(n["probability"])[-1]  # highest leverage
    peak = int(top.argmax())
    assert 0 < peak < top.size - 1, "the peak must be interior"
    assert top[peak] > 0.8
    assert top[peak] - max(top[0], top[-1]) > 0.5


def test_critical_leverage_and_widening_window(outcomes):
    n = outcomes["overlapping_portfolios"].numbers
    prob = np.asarray(n["probability"])
    assert prob[0].max() == 0.0, "no contagion at all at the lowest leverage"
    assert prob[1].max() > 0.5 and prob[2].max() > 0.5
    widths = n["window_width"]
    assert widths[0] == 0.0 < widths[1] < widths[2]


def test_robust_yet_fragile(outcomes):
    n = outcomes["overlapping_portfolios"].numbers
    edge = n["fragile_edge"]
    assert edge["probability"] < 0.25
    assert edge["conditional_extent"] > 0.9
    assert n["medium_cascade_share"] < 0.1


def test_branching_radius_is_the_percolation_bound_when_every_bank_is_vulnerable():
    """With every bank vulnerable, T has rank one and its radius is mu_b * mu_a = mu^2."""
    from experiments.replications.contagion_window import offspring_radius

    for mu in (0.5, 1.0, 2.0, 4.0):
        assert offspring_radius(mu, 1e12, 1.0536) == pytest.approx(mu**2, rel=1e-6)
    assert offspring_radius(3.0, 1.0, 1.0536) == 0.0, "unlevered banks cannot fail"


def test_asset_cascade_radius_bounds():
    """Every bank vulnerable: all holders fail, the radius is mu_b * mu_a = mu^2 (up to the
    sampling of assets); unlevered banks cannot fail; the cascade inside an asset only adds
    failures, so near the critical leverage it exceeds the first-order radius."""
    from experiments.replications.contagion_window import asset_cascade_radius, offspring_radius

    for mu in (1.0, 2.0, 4.0):
        assert asset_cascade_radius(mu, 1e12, 1.0536) == pytest.approx(mu**2, rel=0.05)
    assert asset_cascade_radius(3.0, 1.0, 1.0536) == 0.0
    assert asset_cascade_radius(2.0, 8.0, 1.0536) > 1.5 * offspring_radius(2.0, 8.0, 1.0536)


def test_peak_radius_says_how_near_a_leverage_is_to_a_window():
    """At leverage 8, just below the within-asset condition's critical leverage (about 8.2), its
    largest radius is a few percent short of 1; the first-order one is far below; at 25 there is
    a window (radius above 1)."""
    from experiments.replications import contagion_window as cw
    from experiments.replications.overlapping_portfolios import ALPHA, CASCADE_GRID

    cascade, mu = cw.peak_radius(8.0, ALPHA, CASCADE_GRID, cw.asset_cascade_radius)
    assert 0.9 < cascade < 1.0 and 1.0 < mu < 3.0
    assert cw.peak_radius(8.0, ALPHA, CASCADE_GRID)[0] < 0.5 < cascade
    assert cw.peak_radius(25.0, ALPHA, CASCADE_GRID)[0] > 1.0


def test_within_asset_cascade_checks_at_ci_size(outcomes):
    """With the cascade inside each asset the analytic critical leverage falls from about 11 to
    about 8 and passes, with the upper edges at leverages 12 and 25."""
    outcome = outcomes["overlapping_portfolios"]
    checks = {c.quantity: c for c in outcome.checks}
    prefix = "Within-asset cascade: "
    assert checks[prefix + "Window at leverage 4"].passed
    assert checks[prefix + "Upper window edge, mu_b, at leverage 12"].passed
    assert checks[prefix + "Upper window edge, mu_b, at leverage 25"].passed
    assert checks[prefix + "Critical leverage (smallest leverage with a window)"].passed
    n = outcome.numbers
    assert 7.0 < n["cascade_critical_leverage"] < 9.5 < n["analytic_critical_leverage"]


def test_analytic_window_checks_at_ci_size(outcomes):
    """The checks that pass at CI size: no window at leverage 4, the upper edge at 25 and the
    critical leverage; the analytic window lies inside the simulated one wherever both exist."""
    outcome = outcomes["overlapping_portfolios"]
    checks = {c.quantity: c for c in outcome.checks}
    assert checks["Window at leverage 4"].passed
    assert checks["Upper window edge, mu_b, at leverage 25"].passed
    assert checks["Critical leverage (smallest leverage with a window)"].passed
    n = outcome.numbers
    assert 10.0 < n["analytic_critical_leverage"] < 13.0
    for simulated, theory in zip(n["window"], n["analytic_window"], strict=True):
        if theory is not None:
            assert simulated[0] <= theory[0] and theory[1] <= simulated[1] * 1.5


# -- 2. leverage and fat tails (Thurner, Farmer & Geanakoplos 2012) ------------------------------


def test_near_gaussian_without_leverage_fat_tails_with(outcomes):
    n = outcomes["leverage_fat_tails"].numbers
    assert n["caps"] == [1.0, 10.0]
    unlevered, levered = n["kurtosis"]
    assert abs(unlevered - 3.0) < 0.5
    assert levered > 6.0
    assert levered > unlevered + 3.0


def test_leverage_clusters_volatility_without_linear_predictability(outcomes):
    n = outcomes["leverage_fat_tails"].numbers
    assert n["acf_abs_1_50"][0] < 0.03 < 0.05 < n["acf_abs_1_50"][1]
    assert max(abs(a) for a in n["acf_raw_2_10"]) < 0.03


def test_crashes_coincide_with_margin_calls(outcomes):
    n = outcomes["leverage_fat_tails"].numbers
    base, in_crash = n["margin_call_rate"][1], n["margin_call_rate_in_crashes"][1]
    assert in_crash > 3.0 * base
    assert in_crash > 0.05


def test_tfg_unlevered_and_rising_kurtosis_checks_pass_at_ci_size(outcomes):
    outcome = outcomes["leverage_fat_tails"]
    assert [c.passed for c in outcome.checks] == [True, True, True]
    assert outcome.checks[2].quantity.startswith("Kurtosis of r rises with lambda_max")
    n = outcome.numbers
    assert n["tail_exponent"][0] > n["tail_exponent"][1], "leverage fattens the tail"
    assert all(se > 0 for se in n["kurtosis_se"])


def test_kurtosis_falls_are_measured_in_standard_errors():
    """A fall within seed noise passes the rising-kurtosis check, a larger one fails it."""
    from experiments.replications.leverage_fat_tails import compare

    base = {"caps": [1.0, 10.0, 15.0], "acf_raw_2_10": [0.0, 0.0, 0.0]}
    noise = {**base, "kurtosis": [3.0, 10.0, 9.0], "kurtosis_se": [0.1, 0.6, 0.6]}
    reversal = {**base, "kurtosis": [3.0, 10.0, 7.0], "kurtosis_se": [0.1, 0.6, 0.6]}
    assert compare(noise)[2].passed  # 1.0 / hypot(0.6, 0.6) = 1.2 standard errors
    assert not compare(reversal)[2].passed  # 3.5 standard errors


def test_hill_exponent_of_a_pareto_sample():
    from experiments.replications.leverage_fat_tails import hill_exponent

    x = np.random.default_rng(0).pareto(3.0, 200_000) + 1.0  # P(X > x) = x^-3
    assert hill_exponent(x, share=0.05) == pytest.approx(3.0, rel=0.05)


def test_tail_diagnostics_of_a_symmetric_pareto_sample():
    """Both tails x^-3: every cut-off, the losses alone and the pooled seeds give about 3, and a
    failing tail check's note quotes them."""
    from experiments.replications.leverage_fat_tails import compare, tail_diagnostics

    rng = np.random.default_rng(0)
    draws = (rng.pareto(3.0, (4, 200_000)) + 1.0) * rng.choice([-1.0, 1.0], (4, 200_000))
    diag = tail_diagnostics(draws)
    assert diag["pooled_returns"] == 800_000
    assert diag["pooled"] == pytest.approx(3.0, rel=0.05)
    for gamma in diag["abs_r"] + diag["losses"]:
        assert gamma == pytest.approx(3.0, rel=0.1)
    numbers = {
        "caps": [1.0, 7.5],
        "seeds": 4,
        "kurtosis": [3.0, 9.0],
        "kurtosis_se": [0.1, 0.5],
        "acf_raw_2_10": [0.0, 0.0],
        "tail_exponent": [8.0, 5.0],
        "tail_exponent_se": [0.1, 0.1],
        "tail_diagnostics": diag,
    }
    tail = compare(numbers)[3]
    assert not tail.passed
    assert "800,000" in tail.note and "thinner" in tail.note


def test_tfg_clearing_solves_the_market_equation():
    from experiments.replications.leverage_market import MarketParameters, clear
    from kernels.backend import get_namespace

    xp = get_namespace("numpy")
    params = MarketParameters()
    rng = np.random.default_rng(1)
    worlds, funds = 16, len(params.aggression)
    cash = rng.uniform(-20.0, 5.0, (worlds, funds))
    shares = rng.uniform(0.0, 30.0, (worlds, funds))
    active = rng.random((worlds, funds)) < 0.8
    xi = rng.uniform(500.0, 2000.0, worlds)
    cap = np.full((worlds, 1), 10.0)
    beta = np.asarray(params.aggression)[None, :]
    price = clear(xp, xi, cash, shares, active, beta, cap, params)

    def excess(p: np.ndarray) -> np.ndarray:
        q = p[:, None]
        wealth = np.maximum(cash + shares * q, 0.0)
        demand = np.clip(beta * (params.value - q), 0.0, cap) * wealth / q
        return xi / p + np.where(active, demand, 0.0).sum(axis=1) - params.supply

    # the excess demand changes sign across the price: it clears the market
    assert np.all(excess(price * (1 - 1e-7)) > 0.0)
    assert np.all(excess(price * (1 + 1e-7)) < 0.0)
    assert np.all((price > 0.01) & (price < 5.0))


def test_tfg_rejects_a_cap_below_one():
    from experiments.replications.leverage_market import simulate

    with pytest.raises(ValueError, match="leverage_caps"):
        simulate(np.asarray([0.5]), 10, 0)


# -- 3. system-wide fire sales on the EBA 2018 banks --------------------------------------------


def test_eba_balance_sheets_follow_the_peer_construction():
    from experiments.replications.system_fire_sales import load_banks

    banks = load_banks()
    assert len(banks.bank_id) == 48
    assets = banks.cash + banks.holdings.sum(axis=1) + banks.other_assets
    np.testing.assert_allclose(assets - banks.liabilities, banks.equity, rtol=1e-12)
    np.testing.assert_allclose(banks.cash, 0.05 * assets, rtol=1e-12)
    ratio = banks.equity / assets
    below = {b for b, r in zip(banks.bank_id, ratio, strict=True) if r < 0.04}
    assert below == {"DE21", "NL33"}


def test_systemic_event_grows_with_price_impact_and_shock(outcomes):
    n = outcomes["system_fire_sales"].numbers
    by_pi = np.asarray(n["defaults_fixed_point"]["impact_sweep_threshold"]) / 48
    by_shock = np.asarray(n["defaults_fixed_point"]["shock_sweep_threshold"]) / 48
    for curve in (by_pi, by_shock):
        assert curve[-1] - curve[0] > 0.3
        assert -np.diff(curve).min() <= 2 / 48 + 1e-12, "no fall of more than two banks"
    assert by_shock[0] == 0.0, "no defaults without a shock at the peer's PI = 1%"


def test_eba_matches_the_peers_code(outcomes):
    """Experiment 1 and the no-shock counts pass; with repayment at the sale, all curves agree."""
    outcome = outcomes["system_fire_sales"]
    checks = {c.quantity.split(":")[0]: c for c in outcome.checks}
    assert checks["Experiment 1, PI 0–10% at a 20% shock, threshold rule"].passed
    assert checks["Leverage targeting, PI = 5%, no shock"].passed
    assert checks["Threshold rule, PI = 5%, no shock"].passed
    n = outcome.numbers
    # the peer's code changed only in when sale proceeds repay the loan gives our counts exactly
    assert n["defaults_peer_horizon"] == n["peer_defaults_repay_at_sale"]
    # the peer's horizon (6 rounds) and the fixed point give the same defaults on its sweeps
    assert n["defaults_peer_horizon"] == n["defaults_fixed_point"]


def test_no_shock_failures_come_from_banks_below_their_threshold(outcomes):
    """Without a shock nobody fails at the peer's PI = 1% or without impact; at PI = 5% the
    banks that start below the target (17) or the buffer (2) sell enough to start a cascade."""
    n = outcomes["system_fire_sales"].numbers
    ns = n["no_shock_defaults"]
    assert len(n["below_target_at_start"]) == 17
    assert set(n["below_buffer_at_start"]) == {"DE21", "NL33"}
    for rule in ("threshold", "targeting"):
        assert ns[f"{rule}_pi_0"] == 0 and ns[f"{rule}_pi_1"] == 0
        assert ns[f"{rule}_pi_5"] > 10
    assert ns["targeting_pi_5"] >= ns["threshold_pi_5"]


def test_targeting_differs_from_threshold(outcomes):
    n = outcomes["system_fire_sales"].numbers
    thr = np.asarray(n["defaults_fixed_point"]["shock_sweep_threshold"])
    tgt = np.asarray(n["defaults_fixed_point"]["shock_sweep_targeting"])
    sold_thr = np.asarray(n["fire_sale_vs_shock"]["threshold"])
    sold_tgt = np.asarray(n["fire_sale_vs_shock"]["targeting"])
    assert np.any(tgt != thr)
    assert np.all(sold_tgt >= sold_thr - 1e-6)
    assert sold_tgt[0] > 5 * sold_thr[0], "targeting already sells without a shock"


# -- 4. clearing and DebtRank -------------------------------------------------------------------


def test_eisenberg_noe_fixed_point_and_algorithms_agree(outcomes):
    c = outcomes["clearing_debtrank"].numbers["clearing"]
    assert c["converged"]
    assert c["fixed_point_residual"] < 1e-8
    assert c["below_zero"] == 0.0 and c["above_owed"] < 1e-12
    assert c["picard_vs_fictitious_default"] < 1e-8
    assert c["fictitious_default_iterations"] <= 21
    assert c["defaults_per_network"] > 0.5, "the test networks must have defaults to clear"


def test_rogers_veraart_reduces_to_en_and_adds_defaults(outcomes):
    c = outcomes["clearing_debtrank"].numbers["clearing"]
    assert c["rv_at_one_vs_en"] < 1e-12
    assert c["rv_pays_at_most_en"] < 1e-9
    assert c["rv_defaults_contain_en"]
    defaults = c["rv_defaults_per_network"]
    assert all(b <= a for a, b in pairwise(defaults))
    assert defaults[0] > defaults[-1]


def test_debtrank_amplification_on_both_sides_of_radius_one(outcomes):
    d = outcomes["clearing_debtrank"].numbers["debtrank"]
    amp = np.asarray(d["amplification_mean"])  # (radius, shock), shocks from large to small
    rhos = np.asarray(d["spectral_radii"])
    growth = amp[:, -1] / amp[:, 0]
    shrink = d["shocks"][0] / d["shocks"][-1]
    np.testing.assert_allclose(growth[rhos < 1], 1.0, rtol=1e-6)
    assert np.all(growth[rhos > 1] > 0.5 * shrink)
    assert d["linear_error"] < 1e-6


# -- 5. runs -----------------------------------------------------------------------------------


def test_stablecoin_run_matches_the_closed_form(outcomes):
    coin = outcomes["runs"].numbers["stablecoin"]
    assert coin["max_error"] < 1e-12
    assert coin["lolr_value_min"] == pytest.approx(1.0, abs=1e-12)


def test_diamond_dybvig_threshold_and_backstops(outcomes):
    dd = outcomes["runs"].numbers["diamond_dybvig"]
    assert dd["threshold_agree"]
    region = np.asarray(dd["run_region"])
    assert np.all(np.diff(region, axis=1) <= 1e-12), "more haircut, more runs"
    assert np.all(np.diff(region, axis=0) <= 1e-12), "more cash, fewer runs"
    assert region.max() > 0.5
    assert dd["insured_runs"] == 0
    assert dd["lolr_runs"] == 0


# -- 6. channel interaction (Farmer et al. 2020; ECB system-wide amplification) ----------------


def test_channel_interaction_runs_every_configuration(outcomes):
    outcome = outcomes["channel_interaction"]
    n = outcome.numbers
    from abm.channels import Channels

    assert n["channels"] == list(Channels.names())
    assert n["presets"] == ["ai_revenue_disappointment", "crypto_ai_crash"]
    configurations = {(r["preset"], r["configuration"]) for r in outcome.rows}
    for preset in n["presets"]:
        for config in ("none", "all", *n["channels"]):
            assert (preset, config) in configurations
        for channel in n["channels"]:
            assert (preset, f"all_but_{channel}") in configurations


def test_channel_interaction_is_all_minus_the_sum_of_singles(outcomes):
    for result in outcomes["channel_interaction"].numbers["per_preset"].values():
        singles = sum(result["effects_usd_bn"].values())
        assert result["sum_of_singles_usd_bn"] == pytest.approx(singles)
        assert result["interaction_usd_bn"] == pytest.approx(
            result["all_together_usd_bn"] - singles, abs=1e-6
        )
        if singles > 0:
            assert result["amplification"] == pytest.approx(result["all_together_usd_bn"] / singles)
        else:
            assert result["amplification"] is None
        assert result["configurations"]["none"]["effect_usd_bn"] == 0.0


def test_channel_interaction_is_measured_with_its_error_at_ci_size(outcomes):
    # the facts (amplification, super-additivity) no longer hold at CI size since the contracts
    # run at full size (docs/validation.md §6 shows them as not shown); the numbers must be finite
    per = outcomes["channel_interaction"].numbers["per_preset"]
    for preset, result in per.items():
        assert np.isfinite(result["all_together_usd_bn"]), preset
        assert np.isfinite(result["interaction_usd_bn"]), preset
        assert result["interaction_se_usd_bn"] >= 0.0, preset


def test_channel_necessity_is_loss_added_to_the_full_system(outcomes):
    per = outcomes["channel_interaction"].numbers["per_preset"]
    rows = {(r["preset"], r["configuration"]): r for r in outcomes["channel_interaction"].rows}
    for preset, result in per.items():
        added = [r["loss_added_usd_bn"] for r in result["necessity"]]
        assert added == sorted(added, reverse=True)
        full = rows[(preset, "all")]["total_loss_usd_bn"]
        for r in result["necessity"]:
            without = rows[(preset, f"all_but_{r['channel']}")]["total_loss_usd_bn"]
            assert r["loss_added_usd_bn"] == pytest.approx(full - without, abs=1e-6)
            if result["all_together_usd_bn"] > 0:
                assert r["share_of_all"] == pytest.approx(
                    r["loss_added_usd_bn"] / result["all_together_usd_bn"]
                )
            else:  # no share of a loss that is not there
                assert r["share_of_all"] is None


def test_channel_interaction_per_world_identity():
    from experiments.replications.channel_ablation import all_but, interaction

    runs = {
        "none": {"total_loss_usd_bn": np.array([10.0, 20.0])},
        "a": {"total_loss_usd_bn": np.array([11.0, 20.0])},
        "b": {"total_loss_usd_bn": np.array([10.0, 23.0])},
        "all": {"total_loss_usd_bn": np.array([15.0, 22.0])},
    }
    # world 0: 5 - (1 + 0) = 4 (super-additive); world 1: 2 - (0 + 3) = -1 (sub-additive)
    assert interaction(runs, ["a", "b"]).tolist() == [4.0, -1.0]
    off = all_but("fire_sales")
    assert off.fire_sales is False and off.retail_panic is True
    with pytest.raises(TypeError):
        all_but("no_such_channel")


def test_channel_interaction_section_shows_the_record(outcomes):
    from experiments.replications.channel_interaction import section

    record = outcomes["channel_interaction"].record()
    text = section(record, "figures/validation/channel_interaction.png")
    for preset in record["numbers"]["presets"]:
        assert f"`{preset}`" in text
    assert "+29 bp" in text and "super-additive" in text


def test_every_fact_shown_at_ci_size(outcomes):
    for name, outcome in outcomes.items():
        assert outcome.facts, name
        if name == "channel_interaction":  # shown as not holding, at full size too (§6)
            continue
        assert all(f.holds for f in outcome.facts), (name, [f.measure for f in outcome.facts])


# -- the command -------------------------------------------------------------------------------


def test_validate_writes_files_and_document(tmp_path, capsys):
    out = tmp_path / "docs"
    assert main(["validate", "runs", "--size", "ci", "--out", str(out), "--quiet"]) == 0
    record = json.loads((out / "validation" / "runs.json").read_text())
    assert record["size"] == "ci" and record["facts"]
    assert record["made"]["command"].startswith("powderkeg validate runs")
    assert (out / "figures" / "validation" / "runs.png").stat().st_size > 10_000
    assert (out / "validation" / "runs.csv").read_text().startswith("model,haircut")
    text = (out / "validation.md").read_text()
    assert "## 5. runs" in text and "figures/validation/runs.png" in text
    assert "Not generated yet: run `powderkeg validate overlapping_portfolios`" in text
    assert "Not generated yet: run `powderkeg validate channel_interaction`" in text
    # the document's numbers are the record's
    assert f"{record['numbers']['stablecoin']['max_error']:.2g}" in text
    assert "runs" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["validate", "nope"], "unknown replication 'nope'"),
        (["validate", "--size", "huge"], "invalid choice: 'huge'"),
        (["validate", "--seed", "-1"], "must be a non-negative integer"),
    ],
)
def test_validate_bad_input_is_one_line(argv, match, tmp_path, capsys):
    assert main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert match in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert not (tmp_path / "validation.md").exists()
