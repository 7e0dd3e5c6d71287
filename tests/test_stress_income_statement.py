"""scripts/stress_income_statement.py: it reads what the banks' rule books, and its lines add up.

The script sums the banks' income over the supervisors' stress horizons (docs/design.md, "What
the banks earn over the stress horizon"). It reads the parts inside the bank-earnings rule; here
those parts are checked week by week against the series the model reports on its own, the rule is
checked to be restored, and the table's lines are checked to add up on a short run.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from abm.bank_earnings import BankEarnings
from abm.reporting import record_weeks
from experiments.run import build_run_model, resolve_config

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location(
    "stress_income_statement", ROOT / "scripts" / "stress_income_statement.py"
)
script = importlib.util.module_from_spec(spec)
sys.modules["stress_income_statement"] = script
spec.loader.exec_module(script)


def test_the_parts_read_are_what_the_model_reports_and_the_rule_is_restored():
    config = resolve_config("severe_recession", steps=117, n_worlds=2, seed=0, backend="numpy")
    rows, original = [], BankEarnings.book
    with script.recorded_income(rows):
        assert BankEarnings.book is not original
        model = build_run_model(config, "numpy")
        frame = record_weeks(model, 30)
    assert BankEarnings.book is original
    assert len(rows) == 30
    for column, part in (
        ("bank_net_income_usd_bn", "net"),
        ("bank_provisions_usd_bn", "provisions"),
        ("bank_payouts_usd_bn", "payouts"),
    ):
        reported = frame.pivot(index="step", columns="world", values=column).to_numpy()[1:]
        read = np.stack([row[part].sum(axis=1) for row in rows])
        np.testing.assert_allclose(read, reported, rtol=1e-9, atol=1e-9, err_msg=column)
    assert all(np.all(row["fees"] > 0.0) and np.all(row["costs"] > 0.0) for row in rows)


def test_the_lines_add_up_and_a_recession_builds_the_allowance():
    table = script.income_statement("severe_recession", worlds=2, seed=0)
    assert set(table) == {"us", "eu"}
    for lines in table.values():
        assert lines["ppnr"] == pytest.approx(lines["nii"] + lines["fees"] + lines["costs"])
        assert lines["provisions"] == pytest.approx(lines["write_offs"] + lines["build"])
        net = lines["ppnr"] + lines["provisions"] + lines["tax"] + lines["payouts"]
        assert lines["capital"] == pytest.approx(net + lines["other"])
        assert lines["write_offs"] < 0.0 and lines["build"] < 0.0 and lines["tax"] <= 0.0


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--worlds", "0"], "--worlds"), (["--preset", "tulips"], "--preset")],
)
def test_bad_flags_are_one_message_and_exit_status_2(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        script.main(argv)
    assert stop.value.code == 2 and message in capsys.readouterr().err
