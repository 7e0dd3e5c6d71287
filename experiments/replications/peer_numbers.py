"""The peers' own numbers that replications 2 and 3 are checked against, each with its source.

Nothing here is computed at run time: these are the values the papers print or the peer's public
code returns, copied once with where they came from, so that ``docs/validation.md`` can show them
beside ours with a tolerance and PASS or FAIL.
"""

from __future__ import annotations

#: Where the EBA fire-sale curves come from: the peer's code run unchanged.
EBA_SOURCE = "the peer's code, `simulation.py` at dd861c6"
#: The full provenance of every EBA number below, for the document.
EBA_PROVENANCE = (
    "`ox-inet-resilience/firesale_stresstest` at commit dd861c6 (`simulation.py`, experiments "
    "1–3, 6 time steps), run unchanged with `ox-inet-resilience/py-economicsl` at commit "
    "e228ace, on 2026-12-04"
)

#: Shocks (share of the government-bond price) of the peer's experiments 2 and 3:
#: ``np.linspace(0, 0.3, 21)``.
EBA_SHOCKS = tuple(round(0.015 * k, 4) for k in range(21))
#: Price impacts PI of the peer's experiment 1: ``np.linspace(0, 0.1, 21)``.
EBA_PRICE_IMPACTS = tuple(round(0.005 * k, 4) for k in range(21))
#: Experiment 1's shock and experiments 2–3's price impact (``Parameters.INITIAL_SHOCK``;
#: ``set_pi(0.01)`` in ``simulation.py``).
EBA_SHOCK_FOR_IMPACT_SWEEP = 0.2
EBA_IMPACT_FOR_SHOCK_SWEEP = 0.01

#: Banks (of 48) that default by the end of the peer's run, per point of each sweep: the sum of
#: ``defaults`` returned by ``Model.run_simulation`` (before the 5% Gai–Kapadia cut of
#: ``get_extent_of_systemic_event``).
EBA_DEFAULTS = {
    "impact_sweep_threshold": (
        7, 9, 18, 25, 32, 36, 38, 43, 43, 43, 44, 44, 45, 45, 45, 45, 45, 45, 45, 45, 45,
    ),
    "shock_sweep_threshold": (
        0, 0, 0, 0, 2, 2, 2, 2, 3, 4, 6, 10, 14, 17, 16, 16, 18, 19, 21, 24, 25,
    ),
    "shock_sweep_targeting": (
        0, 0, 0, 2, 2, 2, 3, 3, 4, 6, 12, 11, 12, 13, 14, 15, 18, 20, 22, 23, 26,
    ),
}  # fmt: skip

#: The same code with no shock (``INITIAL_SHOCK = 0``), by rule (``BANK_LEVERAGE_BUFFER`` 0.04 for
#: the threshold rule, 1 for targeting) and price impact: banks (of 48) that default.
EBA_NO_SHOCK_DEFAULTS = {
    "threshold_pi_1": 0,
    "threshold_pi_5": 33,
    "targeting_pi_1": 0,
    "targeting_pi_5": 38,
}

#: The same three sweeps from the peer's code changed in one place: in ``markets.py``,
#: ``Order.settle`` repays the seller's loan with the proceeds at once (``pay_off_liabilities``)
#: instead of holding them as cash until the bank's next step. This isolates the one difference
#: in timing between the peer and ``kernels.firesale`` (which repays in the round of the sale).
EBA_DEFAULTS_REPAY_AT_SALE = {
    "impact_sweep_threshold": (
        7, 7, 13, 21, 28, 34, 37, 38, 43, 42, 44, 44, 44, 45, 45, 45, 45, 45, 45, 45, 45,
    ),
    "shock_sweep_threshold": (
        0, 0, 0, 0, 2, 2, 2, 2, 3, 3, 4, 4, 9, 13, 14, 15, 14, 15, 18, 22, 22,
    ),
    "shock_sweep_targeting": (
        0, 0, 0, 0, 2, 2, 2, 2, 3, 3, 4, 6, 10, 12, 13, 13, 14, 15, 19, 20, 21,
    ),
}  # fmt: skip
