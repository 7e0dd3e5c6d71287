"""Calibration data: the packaged file loads, is sourced and consistent; bad files fail clearly."""

from __future__ import annotations

import csv
import math
import re
import tomllib
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from abm.calibration import Calibration, CalibrationError, load_calibration
from abm.calibration_schema import DEAL_KINDS, FIRM_KINDS, STATUSES, UNITS, Leaf
from abm.model import Powderkeg

DATA = resources.files("abm").joinpath("data")
NAMED_FIRMS = (
    "amazon",
    "microsoft",
    "alphabet",
    "meta",
    "oracle",
    "nvidia",
    "amd",
    "coreweave",
    "openai",
    "xai",
    "anthropic",
)


@pytest.fixture(scope="module")
def cal() -> Calibration:
    return load_calibration()


@pytest.fixture
def toml_text() -> str:
    return DATA.joinpath("calibration.toml").read_text(encoding="utf-8")


def write(tmp_path: Path, text: str, name: str = "cal.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


# --------------------------------------------------------------------------- packaged file
def test_packaged_file_is_a_package_resource():
    assert DATA.joinpath("calibration.toml").is_file()
    assert DATA.joinpath("eba2018_banks.csv").is_file()
    assert DATA.joinpath("LICENSE-Apache-2.0.txt").is_file()


def test_loads_and_is_read_only(cal):
    assert cal.source.startswith("package:")
    assert len(cal.leaves) > 300
    with pytest.raises(TypeError):
        cal.data["firms"]["amazon"]["cash"] = 0  # type: ignore[index]
    with pytest.raises(AttributeError):
        cal.leaf("firms.amazon.cash").value = 0  # type: ignore[misc]


def test_every_leaf_has_source_status_and_basis(cal):
    for leaf in cal.leaves.values():
        assert leaf.source.strip(), leaf.path
        assert leaf.period.strip(), leaf.path
        assert leaf.status in STATUSES, leaf.path
        assert leaf.unit in UNITS, leaf.path
        if leaf.status in ("derived", "estimate"):
            assert leaf.basis and leaf.basis.strip(), leaf.path
        if leaf.is_numeric:
            assert math.isfinite(float(leaf.value)), leaf.path
        if leaf.unit == "share":
            assert 0.0 <= leaf.value <= 1.0, leaf.path


def test_every_number_in_the_raw_file_is_a_leaf(toml_text):
    doc = tomllib.loads(toml_text)

    def walk(node, path):
        for key, value in node.items():
            sub = f"{path}.{key}"
            if isinstance(value, dict):
                if "value" in value:
                    for field in ("value", "unit", "period", "source", "status"):
                        assert field in value, f"{sub} lacks {field}"
                else:
                    walk(value, sub)
            else:
                assert not isinstance(value, int | float) or isinstance(value, bool), sub

    walk({k: v for k, v in doc.items() if k != "meta"}, "")


# --------------------------------------------------------------------------- firms and deals
def test_named_firms_and_spvs(cal):
    firms = cal.firms()
    for name in NAMED_FIRMS:
        assert name in firms
    assert set(cal.firms("hyperscaler")) == {"amazon", "microsoft", "alphabet", "meta", "oracle"}
    assert set(cal.firms("chip_vendor")) == {"nvidia", "amd"}
    assert set(cal.firms("ai_lab")) == {"openai", "xai", "anthropic"}
    spvs = cal.firms("spv")
    assert "meta_hyperion" in spvs and len(spvs) >= 3
    for name in firms:
        assert cal.node(f"firms.{name}.kind") in FIRM_KINDS
    for name in spvs:
        assert cal.node(f"firms.{name}.sponsor") in firms


def test_calibration_yaml_values_carried_over(cal):
    assert cal.value("firms.amazon.operating_cash_flow_2025") == 139.5
    assert cal.value("firms.oracle.rating") == "BBB"
    assert cal.value("firms.meta_hyperion.debt_bonds") == 27.0
    assert cal.value("firms.meta_hyperion.bond_spread") == 225.0
    assert cal.value("banks.us.totals.total_assets") == 28576.0
    assert cal.value("banks.eu.cet1_ratio") == 0.163
    assert cal.value("funds.hedge.gross_borrowing") == 6225.0


def test_listed_firms_have_equity_and_bond_markets(cal):
    for name in cal.firms():
        if cal.node(f"firms.{name}.listed"):
            equity = cal.value(f"markets.equity_{name}.outstanding")
            bonds = cal.value(f"markets.bonds_{name}.outstanding")
            assert equity == cal.value(f"firms.{name}.equity_value")
            assert bonds == cal.value(f"firms.{name}.debt_bonds")
            assert cal.node(f"markets.equity_{name}.issuer") == name


def test_circular_deal_endpoints_are_known(cal):
    deals = cal.children("circular_deals")
    assert {f"E{i:02d}" for i in range(1, 24)} <= set(deals)
    firms = set(cal.firms())
    for deal in deals:
        assert cal.node(f"circular_deals.{deal}.kind") in DEAL_KINDS
        assert isinstance(cal.node(f"circular_deals.{deal}.size"), Leaf)
        for end in ("from", "to"):
            target = cal.node(f"circular_deals.{deal}.{end}")
            assert target in firms or isinstance(cal.node(target), type(cal.data)), (deal, target)
    assert cal.node("circular_deals.E03.from") == "openai"
    assert cal.value("circular_deals.E03.size") == 300.0


# --------------------------------------------------------------------------- banks
def test_us_banks_sum_to_fed_total(cal):
    agents = cal.children("banks.us.agents")
    assert 6 <= len(agents) <= 8
    assert cal.value("banks.us.totals.n_agents") == len(agents)
    total = sum(cal.value(f"banks.us.agents.{a}.total_assets") for a in agents)
    assert total == pytest.approx(cal.value("banks.us.totals.total_assets"), rel=0.01)


def test_us_banks_reproduce_aggregate_capital(cal):
    agents = cal.children("banks.us.agents")
    rwa = sum(
        cal.value(f"banks.us.agents.{a}.total_assets")
        * cal.value(f"banks.us.agents.{a}.risk_density")
        for a in agents
    )
    cet1 = sum(
        cal.value(f"banks.us.agents.{a}.total_assets")
        * cal.value(f"banks.us.agents.{a}.risk_density")
        * cal.value(f"banks.us.agents.{a}.cet1_ratio")
        for a in agents
    )
    assert cet1 / rwa == pytest.approx(cal.value("banks.us.totals.cet1_ratio"), rel=1e-9)


def test_eu_banks_count_and_scaling(cal):
    assert len(cal.eu_banks) == 48
    assert cal.value("banks.eu.n_agents") == 48
    with DATA.joinpath("eba2018_banks.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 48
    assert [b.bank_id for b in cal.eu_banks] == [r["bank_id"] for r in rows]
    fx = cal.eur_usd
    assets = sum(b.total_assets for b in cal.eu_banks)
    cet1 = sum(b.cet1 for b in cal.eu_banks)
    assert assets == pytest.approx(cal.value("banks.eu.total_assets_2025") * fx, rel=0.01)
    rwa = cal.value("banks.eu.rwa_2025") * fx
    assert cet1 / rwa == pytest.approx(cal.value("banks.eu.cet1_ratio"), rel=0.01)
    assert cal.model_value("banks.eu.total_assets_2025") == pytest.approx(29100 * fx)
    for bank in cal.eu_banks:
        assert 0 < bank.cet1 < bank.total_assets
        assert 0 <= bank.gov_bonds <= bank.debt_securities < bank.total_assets


def test_regulation_thresholds_ordered(cal):
    for region in ("us", "eu"):
        low, mid, high = (
            cal.value(f"regulation.{region}.{k}")
            for k in ("cet1_min", "cet1_buffer", "cet1_target")
        )
        assert low <= mid <= high
    assert cal.value("regulation.hedge_funds.leverage_cap_enabled") is False


# --------------------------------------------------------------------------- funds, coins, retail
def test_fund_allocations_sum_to_one(cal):
    sectors = cal.children("funds")
    for sector in ("pension", "insurer_life", "insurer_pc", "mutual_bond", "mutual_equity"):
        assert sector in sectors
    assert "hedge" in sectors and "private_credit" in sectors
    for sector in sectors:
        shares = [
            cal.value(f"funds.{sector}.allocation.{k}")
            for k in cal.children(f"funds.{sector}.allocation")
        ]
        assert sum(shares) == pytest.approx(1.0, abs=0.01), sector
        assert cal.value(f"funds.{sector}.n_agents") >= 1


def test_hedge_fund_leverage_is_consistent(cal):
    assets = cal.value("funds.hedge.total_assets")
    nav = assets - cal.value("funds.hedge.gross_borrowing")
    assert assets / nav == pytest.approx(cal.value("funds.hedge.gav_nav"), rel=0.01)


def test_stablecoin_reserves(cal):
    for coin in ("tether", "usdc"):
        mix = [
            cal.value(f"stablecoins.{coin}.reserve_mix.{k}")
            for k in cal.children(f"stablecoins.{coin}.reserve_mix")
        ]
        assert sum(mix) == pytest.approx(1.0, abs=0.005), coin
        assert cal.value(f"stablecoins.{coin}.reserves") >= cal.value(f"stablecoins.{coin}.supply")
    tether = cal.value("stablecoins.tether.reserves") - cal.value("stablecoins.tether.supply")
    assert tether == pytest.approx(cal.value("stablecoins.tether.excess_reserves"), abs=0.01)


def test_retail_cohort_shares(cal):
    groups = cal.children("retail.cohorts")
    assert len(groups) == 4
    for key in ("population_share", "net_worth_share", "total_assets_share", "equities_mf_share"):
        total = sum(cal.value(f"retail.cohorts.{g}.{key}") for g in groups)
        assert total == pytest.approx(1.0, abs=0.01), key
    assert cal.value("retail.n_cohorts") == 1000


def test_markets_have_impact_parameters(cal):
    for market in cal.markets():
        assert cal.value(f"markets.{market}.depth") > 0
        assert cal.value(f"markets.{market}.half_life") > 0
        assert cal.value(f"markets.{market}.price0") == 1.0
    for market in (
        "treasuries",
        "ig_bonds_non_ai",
        "hy_loans",
        "equity_non_ai",
        "private_credit",
        "dc_abs",
        "crypto",
        "gold",
    ):
        assert market in cal.markets()
    assert cal.value("markets.treasuries.depth") > cal.value("markets.crypto.depth")


# --------------------------------------------------------------------------- model units
def test_model_units(cal):
    weekly = cal.model_value("firms.amazon.revenue_2025")
    assert weekly == pytest.approx(cal.value("firms.amazon.revenue_2025") / 52)
    assert cal.model_value("markets.ig_bonds_non_ai.spread") == pytest.approx(0.0077)
    assert cal.model_value("regulation.us.deposit_insurance_limit") == pytest.approx(250e-6)
    assert cal.model_value("firms.xai_colossus2.lease_term") == pytest.approx(5 * 52)
    yearly = cal.value("firms.meta_hyperion.collateral_depreciation")
    weekly_rate = cal.model_value("firms.meta_hyperion.collateral_depreciation")
    assert (1 + weekly_rate) ** 52 == pytest.approx(1 + yearly)
    assert cal.model_value("markets.treasuries.adv") == pytest.approx(5 * 1055.5)
    assert cal.model_value("firms.oracle.rating") == "BBB"


def test_group_helper_and_shared_packaged_copy(cal):
    allocation = cal.group("funds.hedge.allocation")
    assert next(iter(allocation)) == "treasuries"
    assert sum(allocation.values()) == pytest.approx(1.0)
    spreads = cal.group("markets.hy_loans", model_units=True)
    assert spreads["spread"] == pytest.approx(0.0279)
    assert "asset_class" not in spreads
    assert load_calibration() is load_calibration()


def test_lookup_errors_name_the_path(cal):
    with pytest.raises(KeyError, match=r"firms\.nosuch"):
        cal.leaf("firms.nosuch.cash")
    with pytest.raises(KeyError, match="no 'nosuch'"):
        cal.node("firms.nosuch")


# --------------------------------------------------------------------------- user files
def test_user_file_with_same_schema_loads(tmp_path, toml_text):
    path = write(tmp_path, replace_once(toml_text, "value = 123.0, unit", "value = 100.0, unit"))
    user = load_calibration(path)
    assert user.value("firms.amazon.cash") == 100.0
    assert user.source == str(path)
    assert len(user.eu_banks) == 48  # data file found in the package


@pytest.mark.parametrize(
    ("old", "new", "pattern"),
    [
        (  # missing source
            'cash = { value = 123.0, unit = "USD_bn", period = "2025-12-31", '
            'source = "stockmarketnerd.com Amazon Q4 2025 earnings review", ',
            'cash = { value = 123.0, unit = "USD_bn", period = "2025-12-31", ',
            r"firms\.amazon\.cash\.source: missing",
        ),
        (  # share above 1
            "reserve_mix]\ntreasuries_repo_mmf = { value = 0.731,",
            "reserve_mix]\ntreasuries_repo_mmf = { value = 1.731,",
            r"stablecoins\.tether\.reserve_mix\.treasuries_repo_mmf\.value: "
            r"a share must lie in \[0, 1\]",
        ),
        (  # wrong type
            "value = 123.0, unit",
            'value = "a lot", unit',
            r"firms\.amazon\.cash\.value: unit 'USD_bn' needs a number",
        ),
        (  # unknown status
            'source = "monexa.ai 2025-08-27", status = "verified_secondary", note = "PP&E',
            'source = "monexa.ai 2025-08-27", status = "guess", note = "PP&E',
            r"firms\.microsoft\.capex_2025\.status: 'guess' is not one of seed, verified",
        ),
        (  # estimate without basis
            ', status = "estimate", '
            'basis = "Amazon\'s debt is senior notes; no term loans disclosed"',
            ', status = "estimate"',
            r"firms\.amazon\.debt_loans\.basis: missing",
        ),
        (  # non-finite number
            "value = 123.0, unit",
            "value = nan, unit",
            r"firms\.amazon\.cash\.value: must be a finite number",
        ),
        (  # unknown unit
            'value = 123.0, unit = "USD_bn"',
            'value = 123.0, unit = "dollars"',
            r"firms\.amazon\.cash\.unit: 'dollars' is not one of USD_bn",
        ),
        (  # unknown leaf field
            "value = 123.0, unit",
            "value = 123.0, confidence = 0.9, unit",
            r"firms\.amazon\.cash\.confidence: unknown leaf field",
        ),
        (  # plain number instead of a leaf
            'label = "Amazon.com, Inc."',
            'label = "Amazon.com, Inc."\nemployees = 1580000',
            r"firms\.amazon\.employees: plain value 1580000 not allowed here",
        ),
        (  # allocation that does not sum to one
            "allocation]\ntreasuries = { value = 0.073,",
            "allocation]\ntreasuries = { value = 0.273,",
            r"funds\.pension\.allocation: shares must sum to 1",
        ),
        (  # unknown deal endpoint
            'from = "nvidia"\nto = "openai"',
            'from = "nvidia"\nto = "open_ai"',
            r"circular_deals\.E01\.to: 'open_ai' is neither a firm key",
        ),
        (  # unknown firm kind
            'kind = "neocloud"',
            'kind = "cloud"',
            r"firms\.coreweave\.kind: 'cloud' is not one of hyperscaler",
        ),
        (  # missing required firm field
            'bond_spread = { value = 550.0, unit = "bp", period = "2025-Q4", source = "sec.gov',
            'spread_guess = { value = 550.0, unit = "bp", period = "2025-Q4", source = "sec.gov',
            r"firms\.coreweave\.bond_spread: missing leaf",
        ),
        (  # capital thresholds out of order
            "cet1_buffer = { value = 0.085,",
            "cet1_buffer = { value = 0.185,",
            r"regulation\.us: needs cet1_min <= cet1_buffer <= cet1_target",
        ),
        (  # count that is not an integer
            "n_cohorts = { value = 1000,",
            "n_cohorts = { value = 1000.5,",
            r"retail\.n_cohorts\.value: unit 'count' needs an integer",
        ),
    ],
)
def test_bad_files_name_the_key(tmp_path, toml_text, old, new, pattern):
    path = write(tmp_path, replace_once(toml_text, old, new))
    with pytest.raises(CalibrationError, match=pattern) as info:
        load_calibration(path)
    assert str(path) in str(info.value)
    assert any(re.search(pattern, line) for line in info.value.errors)


def test_missing_section(tmp_path, toml_text):
    text = toml_text.replace("[sentiment]", "[mood]")  # optional section renamed: still fine
    load_calibration(write(tmp_path, text))
    start = toml_text.index("[fx]")
    end = toml_text.index("# -----", start)
    with pytest.raises(CalibrationError, match=r"fx: missing section \[fx\]"):
        load_calibration(write(tmp_path, toml_text[:start] + toml_text[end:], "nofx.toml"))


def test_unreadable_files(tmp_path):
    with pytest.raises(CalibrationError, match=r"<file>: cannot read .*nosuch\.toml"):
        load_calibration(tmp_path / "nosuch.toml")
    with pytest.raises(CalibrationError, match=r"<file>: cannot read"):
        load_calibration(tmp_path)  # a directory
    with pytest.raises(CalibrationError, match=r"<file>: not valid UTF-8 TOML"):
        load_calibration(write(tmp_path, "firms = {\n", "broken.toml"))
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'label = "caf\xe9"\n')
    with pytest.raises(CalibrationError, match=r"<file>: not valid UTF-8 TOML"):
        load_calibration(bad)


def test_bad_eu_bank_table(tmp_path, toml_text):
    path = write(
        tmp_path,
        replace_once(toml_text, 'data_file = "eba2018_banks.csv"', 'data_file = "mine.csv"'),
    )
    with pytest.raises(CalibrationError, match=r"banks\.eu\.data_file: cannot read 'mine\.csv'"):
        load_calibration(path)
    rows = DATA.joinpath("eba2018_banks.csv").read_text(encoding="utf-8").splitlines()
    (tmp_path / "mine.csv").write_text("\n".join(rows[:-1]) + "\n", encoding="utf-8")
    with pytest.raises(CalibrationError, match=r"banks\.eu\.data_file: mine\.csv holds 47 banks"):
        load_calibration(path)
    (tmp_path / "mine.csv").write_text(
        "\n".join([rows[0], "AT01,AT,x,6.5,1,0,0,0"]) + "\n", encoding="utf-8"
    )
    with pytest.raises(
        CalibrationError, match=r"banks\.eu\.data_file: mine\.csv line 2: not a number"
    ):
        load_calibration(path)
    (tmp_path / "mine.csv").write_text(
        "\n".join([rows[0], "AT01,AT,inf,6.5,1,0,0,0"]) + "\n", encoding="utf-8"
    )
    with pytest.raises(CalibrationError, match=r"mine\.csv line 2: needs cet1 > 0"):
        load_calibration(path)


def test_eu_banks_open_at_the_calibrated_total_once():
    """The EBA 2018 banks are scaled to 2025 once: their opening assets sum to the EBA total."""
    m = Powderkeg(n_worlds=1, n_cohorts=8, collect_agents=False)
    cal = m.calibration
    eu = m.roster.indices("bank", "eu")
    opening = float(np.asarray(m.sheets.total_assets())[0, eu].sum())
    total = cal.model_value("banks.eu.total_assets_2025")  # EUR 29.1 tn in USD bn
    assert opening == pytest.approx(total, rel=1e-4)  # the scale factor's four digits
    assert opening == pytest.approx(sum(b.total_assets for b in cal.eu_banks), rel=1e-12)
