"""The circular-deal network: edges, weekly clearing of commitments, revenue contagion."""

from __future__ import annotations

import numpy as np
import pytest

from abm.deals import PAYMENT_KINDS, contract_weeks
from abm.model import Powderkeg


@pytest.fixture
def model() -> Powderkeg:
    return Powderkeg(n_worlds=2, seed=3, n_cohorts=20, collect_agents=False)


def firm_columns(model: Powderkeg) -> np.ndarray:
    return model.roster.indices("firm")


def settle(model: Powderkeg, active: np.ndarray) -> None:
    """This week's commitments cleared among the firms ``active`` (alive when the week began)."""
    model.state.begin_week(model.economy.firms)
    model.state.flows.firms_alive = active
    model.deals.settle(model.state)


def test_edges_load_between_known_firms(model):
    deals = model.deals
    names = deals.firm_names
    assert len(deals.edges) >= 10
    for e in deals.edges:
        assert e.kind in PAYMENT_KINDS
        assert 0 <= e.payer < len(names) and 0 <= e.supplier < len(names)
        assert e.total > 0 and e.weeks > 0
    keys = {e.key: e for e in deals.edges}
    oracle = keys["E03"]  # OpenAI -> Oracle 300 bn over ~5 years
    assert (names[oracle.payer], names[oracle.supplier]) == ("openai", "oracle")
    assert oracle.total == pytest.approx(300.0) and oracle.weeks == pytest.approx(5 * 52)
    # holdings and edges to non-firms are listed as skipped, not modelled
    assert any(s.startswith("E01") for s in deals.skipped)
    assert any(s.startswith("E23") for s in deals.skipped)
    assert contract_weeks("2025-2026", "USD_bn", 260.0, 52) == 104.0
    assert contract_weeks("FY2026", "USD_bn_per_year", 260.0, 52) == 52.0


def test_payments_equal_commitments_when_everyone_has_cash(model):
    deals, ledger = model.deals, model.sheets.ledger
    before = ledger.cash.copy()
    active = np.ones((2, len(deals.firm_names)), dtype=bool)
    settle(model, active)
    assert deals.last_committed.sum() > 1.0
    np.testing.assert_allclose(deals.last_paid, deals.last_committed, rtol=1e-12)
    np.testing.assert_allclose(deals.last_received, deals.last_due, rtol=1e-12)
    # paid in full, the re-routing leaves every balance where run_firms put it, except the
    # full-size excess of the contracts (abm.contract_schedule), paid on top
    excess = deals.last_excess_received - deals.last_excess_paid
    after = before.copy()
    after[:, firm_columns(model)] += excess
    np.testing.assert_allclose(ledger.cash, after, atol=1e-9)
    assert np.abs(deals.shortfall()).max() < 1e-9


def test_a_payer_without_cash_passes_its_shortfall_to_its_suppliers(model):
    deals, ledger = model.deals, model.sheets.ledger
    names = deals.firm_names
    openai, oracle = names.index("openai"), names.index("oracle")
    row = model.roster.index("openai")
    drain = ledger.cash[:, row] + 50.0  # pay it away to the rest of the economy: no money made
    ledger.pay_outsider(np.array([row]), "rest_of_economy", drain[:, None])
    active = np.ones((2, len(names)), dtype=bool)
    settle(model, active)
    assert deals.last_committed[:, openai].min() > 0.1
    np.testing.assert_allclose(deals.last_paid[:, openai], 0.0, atol=1e-12)
    assert (deals.last_received[:, oracle] < deals.last_due[:, oracle] - 0.05).all()
    assert (deals.shortfall()[:, names.index("nvidia")] > 0.0).all()
    for _ in range(3):
        model.step()
    scale = float(np.max(np.abs(model.snapshot["total_assets"])))
    for name, gap in model.accounting_gap().items():
        assert float(np.max(np.abs(gap))) <= 1e-12 * scale, name


def test_revenue_contagion_is_larger_from_a_hub_than_from_a_leaf(model):
    hub_loss, hub_distress = model.deals.revenue_contagion("openai")
    leaf_loss, _ = model.deals.revenue_contagion("coreweave")
    names = model.deals.firm_names
    assert hub_loss.shape == (2,) and hub_distress.shape == (2, len(names))
    assert (hub_loss > 5.0 * leaf_loss).all()
    assert (hub_distress[:, names.index("oracle")] > 0.0).all()
    assert (hub_distress[:, names.index("openai")] == 1.0).all()
    none, _ = model.deals.revenue_contagion("meta")  # no payment edges: nothing spreads
    np.testing.assert_allclose(none, 0.0, atol=1e-9)
